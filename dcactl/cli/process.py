"""What a dcactl process does around its one command, only when dcactl owns the process.

dcactl owns the process when :func:`dcactl.cli.app.main` is called without ``argv`` (the console
script and ``python -m dcactl``); a caller of ``main(argv)`` (tests, scripts) keeps its interpreter
as it was. An owned process is short and runs one command on asyncio, so (issue 17):

- :func:`own` hides two optional imports no dcactl command uses, each costly at start-up: ``trio``,
  which httpcore imports when it is installed (a test tool brings it) although dcactl runs on
  asyncio only, and ``httpx._main``, the ``httpx`` command line (Rich, Pygments, Click) that
  ``import httpx`` loads when those are installed. Each is only marked absent when nothing loaded it
  yet; where it is not installed this changes nothing;
- :func:`short_lived` switches the cyclic garbage collector off for ``run`` and ``buy``: their work
  is bounded (a few hundred objects per asset), while the collector would keep re-walking every
  imported module's objects (about 0.1 s of a run). Reference counting still frees everything;
- :func:`prestart`, called by the console entry point (:mod:`dcactl.cli.entry`) before the CLI's own
  imports, starts the signing process (:mod:`dcactl.venues.signing_process`) of a ``run`` or
  ``buy`` that is not a dry run, so that its ~0.3 s of importing and warming up eth_account runs on
  the second core from the process's first milliseconds. The portfolio is not read yet, so the
  child's environment holds no secret by construction; the command takes the child
  (:func:`take_signer`) once its portfolio says it runs live, else stops it;
- :func:`finish`, once the command is over, freezes the heap, so the interpreter's teardown does
  not walk every object again (about 0.14 s). Nothing else changes at exit: the command has closed
  the ledger, the lock and the HTTP clients itself, and the standard streams' flush, ``atexit``
  handlers, logging's shutdown and thread joins run as usual (only garbage in reference cycles is
  left to the operating system).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcactl.venues.signing_process import SigningProcess

HIDDEN = ("trio", "httpx._main")
"""Optional imports an owned process marks absent (``import`` raises ImportError, as if uninstalled)."""

VALUED = ("--config", "--db")
"""The global options before the command that take a value (the next argument unless ``--x=value``)."""
EAGER = ("--help", "--version")
"""Options answered before any command runs (root help, the version; a command's help)."""
SIGNS = ("run", "buy")
"""The commands that sign orders."""

_owned = False
_signer: SigningProcess | None = None


def own() -> None:
    """This process is dcactl's (the entry point without argv): hide :data:`HIDDEN`."""
    global _owned
    _owned = True
    for name in HIDDEN:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not installed"


def owned() -> bool:
    """Whether :func:`own` was called in this process."""
    return _owned


def short_lived() -> None:
    """A command of bounded work (``run``, ``buy``) is starting: in an owned process, no cyclic GC."""
    if _owned:
        gc.disable()


def command_of(args: list[str]) -> str | None:
    """The command (or group) ``args`` invoke: the first argument that is neither an option nor the
    value of a global option before it; None for none, or when an eager option (``--help``,
    ``--version``) comes first."""
    for i, arg in enumerate(args):
        if arg in EAGER:
            return None
        if arg.startswith("-"):
            continue
        if i and args[i - 1] in VALUED:
            continue
        return arg
    return None


def prestart(args: list[str]) -> None:
    """In an owned process on its way to ``run`` or ``buy`` (not ``--dry-run``, not ``--help``): start
    the signing process now (None where one cannot help: one core, a frozen build)."""
    global _signer
    if not _owned or _signer is not None or command_of(args) not in SIGNS:
        return
    if any(a in EAGER or a == "--dry-run" for a in args):
        return
    from dcactl.venues.signing_process import SigningProcess

    _signer = SigningProcess.spawn()


def take_signer() -> SigningProcess | None:
    """The signing process :func:`prestart` started, now the caller's to use and close (None when
    none was started or it was taken already)."""
    global _signer
    signer, _signer = _signer, None
    return signer


def finish() -> None:
    """The command is over and its output flushed: a signing process no command took is stopped; in
    an owned process, the heap is frozen for exit."""
    signer = take_signer()
    if signer is not None:
        signer.close()
    if _owned:
        gc.freeze()
