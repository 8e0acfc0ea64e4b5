"""Work done beside this process on a second core: a forked child computes a pure function of what
this process holds and hands its result back through a pipe (pickled).

A backtest's strategies are independent replays of the same prices (:mod:`dcactl.backtest.run`):
on a machine with two cores or more, a child takes about half of them while this process replays
the rest, and the figures are the same as one process's (each replay is a pure function of the
prices, the costs and its strategy; the caches strategies share only memoise). The charts of the
HTML pages (``report``, ``backtest --html``) are drawn the same way, half in a child
(:func:`in_halves`), into the same bytes.

Only where it is safe and cheap: a POSIX ``fork`` (the child starts with this process's memory,
so nothing is imported or parsed again), two cores or more. The child runs nothing but ``work``:
it prints nothing, touches no file, ledger or connection it inherited, and leaves with
``os._exit`` (no ``atexit`` handler, no buffered output flushed twice, no finaliser closing what
the parent still uses). Should it fail in any way (killed, an exception, an answer that does not
unpickle, or no answer by the deadline the caller gives), :meth:`Beside.result` says so with None
and the caller does the work itself: a result is never lost, only computed here instead, and a child
that hangs (a lock another thread of this process held at the fork, say) costs a bounded wait, not
the command. Ctrl-C reaches both processes; the parent stops and reaps its child when it leaves the
``with`` block.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from dcactl.machine import cores

T = TypeVar("T")


class Beside(Generic[T]):
    """A forked child computing ``work()``: :meth:`result` waits for it (None if it failed)."""

    def __init__(self, pid: int, reading: int) -> None:
        self._pid = pid
        self._reading = reading
        self._done = False

    def result(self, timeout: float | None = None) -> T | None:
        """The child's ``work()``, once it has finished; None when it failed or has not answered
        within ``timeout`` seconds (None: no limit), in which case it is killed (do the work here)."""
        if self._done:
            return None
        chunks = self._read(None if timeout is None else time.monotonic() + timeout)
        if chunks is None:
            self.stop()
            return None
        self._done = True
        _, status = os.waitpid(self._pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            value: T = pickle.loads(b"".join(chunks))  # noqa: S301 - our own child wrote it
        except Exception:  # a torn or garbled answer: the caller computes it instead
            return None
        return value

    def _read(self, deadline: float | None) -> list[bytes] | None:
        """The pipe's bytes up to its end (the child wrote all, or died); None at the deadline."""
        chunks: list[bytes] = []
        while True:
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                if not select.select([self._reading], [], [], left)[0]:
                    return None
            try:
                chunk = os.read(self._reading, 1 << 20)
            except InterruptedError:  # pragma: no cover - retried by Python itself since 3.5
                continue
            except OSError:
                chunk = b""
            if not chunk:
                with contextlib.suppress(OSError):
                    os.close(self._reading)
                return chunks
            chunks.append(chunk)

    def stop(self) -> None:
        """Kill and reap the child if :meth:`result` has not (an error or Ctrl-C in the parent)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)
        with contextlib.suppress(OSError):
            os.close(self._reading)


@contextlib.contextmanager
def beside(work: Callable[[], T], *, enabled: bool = True) -> Iterator[Beside[T] | None]:
    """``work()`` started in a forked child, for the ``with`` block; None (the caller does the work
    itself) when not ``enabled``, on one core, without ``fork``, or when the fork fails."""
    if not enabled or cores() < 2 or not hasattr(os, "fork"):
        yield None
        return
    reading, writing = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(reading)
        os.close(writing)
        yield None
        return
    if pid == 0:  # pragma: no cover - the child: coverage does not follow it
        _child(work, reading, writing)
    os.close(writing)
    child: Beside[T] = Beside(pid, reading)
    try:
        yield child
    finally:
        child.stop()


GRACE_S = 30.0
FACTOR = 4.0
"""How long to wait for a child that has about as much to do as this process had: this many seconds
plus this many times what this process's share took. A child still silent then is killed and its
share done here. The shares are alike, not equal, so the margin is wide: a child is only given up
when it is stuck, and a stuck child costs at most that wait."""


def patience(own_s: float) -> float:
    """Seconds to wait for a child whose share is like the one this process did in ``own_s``."""
    return GRACE_S + FACTOR * own_s


def in_halves(jobs: Sequence[Callable[[], T]], *, enabled: bool = True) -> list[T]:
    """``[job() for job in jobs]``, the first half computed by a forked child while this process
    computes the second (one process on one core, for fewer than two jobs, or when not ``enabled``).
    Each job must be a pure function of what this process holds, its result picklable; the results
    are the same either way, and a child that fails leaves its half to this process."""
    if len(jobs) < 2:
        return [job() for job in jobs]
    cut = len(jobs) // 2
    there, here = jobs[:cut], jobs[cut:]

    def work_there() -> list[T]:
        return [job() for job in there]

    with beside(work_there, enabled=enabled) as child:
        started = time.monotonic()
        mine = [job() for job in here]
        got = child.result(timeout=patience(time.monotonic() - started)) if child is not None else None
    return (got if got is not None else work_there()) + mine


def _child(work: Callable[[], Any], reading: int, writing: int) -> None:  # pragma: no cover - the child
    """Compute, write the pickled answer, and leave without running anything of the parent's."""
    code = 1
    try:
        os.close(reading)
        data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(writing, view):]
        code = 0
    except BaseException:  # noqa: S110 - whatever happened, the parent computes it instead
        pass
    finally:
        os._exit(code)
