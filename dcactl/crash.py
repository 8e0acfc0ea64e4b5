"""Named crash points for the crash tests: ``DCACTL_CRASH_AT=<name>`` kills the process right there.

A real user never sets the variable; the tests use it to SIGKILL a ``dcactl run`` at each step of a
buy (after the intent is written, after the response, before the fills are recorded) and prove that
a rerun never buys twice and never loses a fill.
"""

from __future__ import annotations

import os
import signal

ENV = "DCACTL_CRASH_AT"
POINTS = ("after_intent", "after_send", "after_response", "before_fills_recorded")


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$DCACTL_CRASH_AT`` names this point (no cleanup, like a power cut)."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
