"""What the machine offers one dcactl process beyond its own interpreter: the CPUs it may run on (a
live run signs in a second process, a backtest replays strategies in a forked child, each only with
a second core to do it on)."""

from __future__ import annotations

import os


def cores() -> int:
    """The CPUs this process may run on (its affinity, where the system says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
