"""Named crash points for the crash tests: ``DCACTL_CRASH_AT=<name>`` kills the process right there.

A real user never sets the variable; the tests use it to SIGKILL a ``dcactl run`` at each step of a
buy and prove that a rerun never buys twice and never loses a fill:

- ``after_intent``: the intents are in the ledger, nothing is signed yet;
- ``after_send``: the signed ``/exchange`` request has been written to the socket, no byte of the
  answer has been read (see :func:`send_transport`);
- ``after_response``: the answer is parsed, nothing about it is in the ledger yet;
- ``before_fills_recorded``: the fills were read from the exchange, not yet written;
- ``mid_backup``: ``backup`` has copied one page of the ledger into its temporary file (armed, the
  copy goes page by page so that there is a "middle").
"""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx

ENV = "DCACTL_CRASH_AT"
POINTS = ("after_intent", "after_send", "after_response", "before_fills_recorded")
"""The steps of a buy."""
MID_BACKUP = "mid_backup"


def is_armed(name: str) -> bool:
    """True when ``$DCACTL_CRASH_AT`` names this point."""
    return os.environ.get(ENV) == name


def crash_point(name: str) -> None:
    """SIGKILL this process if ``$DCACTL_CRASH_AT`` names this point (no cleanup, like a power cut)."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def send_transport() -> httpx.AsyncBaseTransport | None:
    """A transport that dies at ``after_send`` when that point is armed, else None (the default one).

    httpcore reports each step of an HTTP/1.1 exchange to a request's ``trace`` extension; the kill
    comes on ``http11.send_request_body.complete`` of a ``/exchange`` request: every byte of the
    signed action is in the socket, and the answer has not been awaited. The kernel still delivers
    the written bytes after the process is gone, so the exchange receives (and, unless it is
    rejected or expired, executes) an order whose sender never learns its fate.
    """
    if os.environ.get(ENV) != "after_send":
        return None
    return _KillAfterSend()


class _KillAfterSend(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/exchange"):
            request.extensions = {**request.extensions, "trace": _trace}
        return await super().handle_async_request(request)


async def _trace(event: str, info: dict[str, Any]) -> None:
    if event == "http11.send_request_body.complete":
        crash_point("after_send")
