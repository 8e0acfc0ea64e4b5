"""Signing in a second process, so that making the signer does not hold up a run (issue 17).

Making a signer imports eth_account: about a fifth of a second of CPU, a quarter of a whole live
run, spent by the one interpreter that also starts up, sends the read round and reads its answers.
A machine with two cores can do it beside the run instead. As a ``run`` or ``buy`` process starts
(:func:`dcactl.cli.process.prestart`, before the CLI's imports), :meth:`SigningProcess.spawn` starts
``python -m dcactl.venues.signing_process``, which imports the signing stack at once and signs a
throwaway order with a throwaway key (the first signature of a process is the slow one); the run
reads its portfolio and key as usual and, when it runs live, hands the key over on the child's
standard input (:meth:`SigningProcess.give_key`); else it stops the child. The child makes the signer with
:func:`dcactl.config.keys.signer_from` and answers with its address; then it signs each L1 action
the run asks for with the very function the run would call itself
(:func:`dcactl.venues.hl_signing.sign_action`), over the pipe, until its standard input closes.

What stays exactly as in one process:

- the signature: the child runs the SDK's ``sign_l1_action`` on the same action, vault, nonce and
  expiry; the action goes over the pipe as JSON, which keeps its keys' order, integers and strings
  (the wire holds no floats), so the bytes signed are the same;
- a key that is not a valid secp256k1 key: the child answers with
  :func:`~dcactl.config.keys.signer_from`'s own SecretError message (which names the source, never
  the key), and the run raises that SecretError at the same point;
- a child that cannot start, dies, or does not answer within its deadline: the signer is made in
  this process instead, from the key text it still holds, and signing goes on there. Nothing was
  sent for an action the child did not sign; the write-ahead intent is already committed either way.

The key travels only through the pipe: never argv, a file or a log. The child's environment holds
only what an interpreter needs to start and find its packages (:data:`CHILD_ENV`), so neither an
``env:NAME`` key source's variable nor a notification token's reaches it; that also lets a run start
the child before it has read its portfolio (:func:`dcactl.cli.process.prestart`). The child's
standard error goes nowhere, since a library's error message may quote its input. The child
ignores Ctrl-C (the run handles it); the run stops it when its session closes, and a child whose run
was killed exits, without teardown, as soon as it finds its standard input closed.

Only a process dcactl owns (the console script, ``python -m dcactl``) on a machine with two cores or
more signs apart (:attr:`dcactl.session.Session.signing_process`); a test or script calling
``main(argv)`` keeps signing in its own process.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from dcactl.machine import cores

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from dcactl.venues.hl_types import Signature

CHILD_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "SYSTEMROOT")
CHILD_ENV_PREFIXES = ("PYTHON", "LC_")
"""The only environment variables the child gets: the interpreter's own (``PYTHONPATH``, ...), the
locale, and ``HOME`` (a ``pip install --user`` finds its packages under it)."""
READY_TIMEOUT_S = 10.0
"""How long the run waits for the child's signer (it takes about 0.3 s) before making its own."""
SIGN_TIMEOUT_S = 5.0
"""How long one signature may take in the child (a few ms) before this process signs instead."""
WARM_UP_ACTION = {"type": "order", "orders": [{"a": 10000, "b": True, "p": "1.0", "s": "1.0", "r": False,
                  "t": {"limit": {"tif": "Ioc"}}, "c": "0x" + "0" * 32}], "grouping": "na"}
"""What a child signs once before its first real action (the first signature of a process is slow);
never sent."""


class ChildFailed(Exception):
    """The child did not answer as it should (dead, late, garbled): sign in this process instead."""


class SigningProcess:
    """The parent's end: :meth:`spawn`, :meth:`give_key`, :meth:`ready` (the signer's address),
    :meth:`sign_l1`, :meth:`close`. Should the child fail, :meth:`ready` and :meth:`sign_l1` make the
    signer in this process (``give_key``'s ``local``) and sign here. Thread-safe: one request at a
    time over the pipe."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._local_factory: Callable[[], LocalAccount] | None = None
        self._failed = False
        self._local: LocalAccount | None = None
        self._lock = threading.Lock()
        self._buffer = b""
        self.address = ""
        """The signer's lower-case address (set by :meth:`ready`)."""

    @classmethod
    def spawn(cls) -> SigningProcess | None:
        """Start the child, which imports the signing stack at once and then waits for the key; None
        where a second process cannot help or cannot start (one core, no interpreter to run, no
        process to spawn): the caller signs in its own process. The child's environment is
        :data:`CHILD_ENV` only (it gets the key through the pipe)."""
        if cores() < 2 or not sys.executable or getattr(sys, "frozen", False):
            return None
        env = {k: v for k, v in os.environ.items() if k in CHILD_ENV or k.startswith(CHILD_ENV_PREFIXES)}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dcactl.venues.signing_process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            )
        except OSError:
            return None
        return cls(proc)

    def give_key(self, key_text: str, source: str, local: Callable[[], LocalAccount]) -> None:
        """Hand the child the key (checked by :func:`~dcactl.config.keys.read_signing_key`); ``local``
        makes the signer in this process instead, should the child fail. Only the first call hands
        it over (a second key line would read as an action to sign)."""
        if self._local_factory is not None:
            return
        self._local_factory = local
        try:
            self._send({"key": key_text, "source": source})
        except ChildFailed:
            self._failed = True

    def ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        """Wait for the child's signer; its address. Raises the child's SecretError for a key that is
        not a valid key; a child that fails instead leaves the signing to this process."""
        from dcactl.errors import SecretError

        with self._lock:
            if self.address:
                return self.address
            try:
                if self._failed:
                    raise ChildFailed("the key could not be handed over")
                answer = self._receive(timeout)
                if "secret" in answer:
                    self._stop()
                    raise SecretError(str(answer["secret"]))
                self.address = str(answer["address"]).lower()
            except (ChildFailed, KeyError, TypeError):
                self._fall_back()
            return self.address

    def sign_l1(self, action: Any, vault: str | None, nonce: int, expires_after: int | None,
             is_mainnet: bool) -> Signature:
        """The signature of an L1 action, as :func:`dcactl.venues.hl_signing.sign_action` makes it."""
        from dcactl.venues.hl_signing import sign_action

        self.ready()
        with self._lock:
            if self._local is None:
                try:
                    self._send({"action": action, "vault": vault, "nonce": nonce, "expires": expires_after,
                                "mainnet": is_mainnet})
                    answer = self._receive(SIGN_TIMEOUT_S)
                    sig = answer["signature"]
                    return {"r": str(sig["r"]), "s": str(sig["s"]), "v": int(sig["v"])}
                except (ChildFailed, KeyError, TypeError, ValueError):
                    self._fall_back()
            assert self._local is not None
            return sign_action(self._local, action, nonce, vault=vault, is_mainnet=is_mainnet,
                               expires_after=expires_after)

    def close(self) -> None:
        """Stop the child (it holds nothing to save: killing it mid-import costs nothing), reap it and
        close the pipe. Closing again does nothing. A thread still waiting in :meth:`ready` finds the
        pipe at its end (it then makes the signer here), never its descriptor closed under it."""
        proc = self._proc
        if proc.poll() is None:
            with contextlib.suppress(OSError):  # it exited meanwhile
                proc.kill()
            proc.wait()
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # a broken pipe on close
                proc.stdin.close()
        if self._lock.acquire(blocking=False):  # nobody reads from the child: its end can close
            try:
                self._close_reading()
            finally:
                self._lock.release()

    def _close_reading(self) -> None:
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _stop(self) -> None:
        """:meth:`close`, by the thread that holds the lock."""
        self.close()
        self._close_reading()

    def _fall_back(self) -> None:
        """The child failed: stop it and make the signer here (eth_account, in this process). Called
        with the lock held."""
        self._stop()
        assert self._local_factory is not None, "give_key first"
        self._local = self._local_factory()
        self.address = self._local.address.lower()

    def _send(self, message: dict[str, Any]) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message).encode() + b"\n")
            stdin.flush()
        except (OSError, ValueError) as exc:  # a closed pipe: the child is gone
            raise ChildFailed(type(exc).__name__) from None

    def _receive(self, timeout: float) -> dict[str, Any]:
        stdout = self._proc.stdout
        assert stdout is not None
        return _read_line(stdout, timeout, self)


def _read_line(stdout: IO[bytes], timeout: float, child: SigningProcess) -> dict[str, Any]:
    """One JSON line from the child within ``timeout`` seconds (ChildFailed otherwise)."""
    import time

    deadline = time.monotonic() + timeout
    while b"\n" not in child._buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChildFailed("no answer in time")
        try:
            fd = stdout.fileno()
            readable, _, _ = select.select([fd], [], [], left)
            chunk = os.read(fd, 65536) if readable else None
        except (OSError, ValueError):  # the pipe closed
            raise ChildFailed("pipe closed") from None
        if chunk is None:
            continue
        if not chunk:
            raise ChildFailed("the child exited")
        child._buffer += chunk
    line, _, child._buffer = child._buffer.partition(b"\n")
    try:
        answer = json.loads(line)
    except ValueError:
        raise ChildFailed("garbled answer") from None
    if not isinstance(answer, dict):
        raise ChildFailed("garbled answer")
    return answer


def _child() -> None:  # pragma: no cover - runs in the child process; tests drive it through the pipe
    """The child: the key from the first line, then one signature per line until EOF."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer

    def answer(message: dict[str, Any]) -> None:
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    from dcactl.config.keys import signer_from
    from dcactl.errors import SecretError
    from dcactl.venues.hl_signing import sign_action

    # before the key comes: eth_account imported, and a throwaway key's first signature made (the slow
    # one of a process), so that once it comes only the signer is left to make
    throwaway = signer_from("0x" + "11" * 32, "warm-up").account
    sign_action(throwaway, WARM_UP_ACTION, 0, vault=None, is_mainnet=False, expires_after=1)
    del throwaway
    first = sys.stdin.buffer.readline()
    if not first:
        os._exit(0)
    try:
        hello = json.loads(first)
        signer = signer_from(str(hello["key"]), str(hello["source"]))
    except SecretError as exc:
        answer({"secret": str(exc)})
        os._exit(0)
    except Exception as exc:  # never the message: it could quote the key
        answer({"failed": type(exc).__name__})
        os._exit(0)
    del first, hello
    wallet = signer.account
    answer({"address": signer.address})
    for line in sys.stdin.buffer:
        try:
            ask = json.loads(line)
            sig = sign_action(wallet, ask["action"], int(ask["nonce"]), vault=ask["vault"],
                              is_mainnet=bool(ask["mainnet"]), expires_after=ask["expires"])
            answer({"signature": sig})
        except Exception as exc:  # the parent signs this one itself
            answer({"failed": type(exc).__name__})
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover - the child
    _child()
