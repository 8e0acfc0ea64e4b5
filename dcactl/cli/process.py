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
- :func:`finish`, once the command is over, freezes the heap, so the interpreter's teardown does
  not walk every object again (about 0.14 s). Nothing else changes at exit: the command has closed
  the ledger, the lock and the HTTP clients itself, and the standard streams' flush, ``atexit``
  handlers, logging's shutdown and thread joins run as usual (only garbage in reference cycles is
  left to the operating system).
"""

from __future__ import annotations

import gc
import sys

HIDDEN = ("trio", "httpx._main")
"""Optional imports an owned process marks absent (``import`` raises ImportError, as if uninstalled)."""

_owned = False


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


def finish() -> None:
    """The command is over and its output flushed: in an owned process, freeze the heap for exit."""
    if _owned:
        gc.freeze()
