"""Delivering messages: apprise for the notification URLs, httpx for the heartbeat.

Every delivery is bounded by ``timeout`` seconds (apprise runs in a daemon thread that is abandoned
past it), never raises, and reports ``Delivery(target, ok, detail)`` where ``target`` names the config
key (``notify.urls[0] (tgram)``), never the URL: URLs carry tokens, and so may the errors of the
services; every detail is scrubbed of the URL's parts before it is returned.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dcactl.errors import DcactlError
from dcactl.notify.messages import Message

_SOURCES = ("env:", "file:", "keyring:")


@dataclass(frozen=True)
class Target:
    """A resolved destination: ``label`` is safe to show; ``url`` holds the token and is never shown."""

    label: str
    url: str

    def __repr__(self) -> str:
        return f"Target({self.label!r})"


@dataclass(frozen=True)
class Delivery:
    """How one delivery went: ``ok``, and a ``detail`` safe to show (no token)."""

    target: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        """``notify test --json``: target, status ok/failed, detail."""
        return {"target": self.target, "status": "ok" if self.ok else "failed", "detail": self.detail}


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def resolve(value: str, label: str) -> Target:
    """An inline URL, or the URL read from its source (env:/file:/keyring:). Raises DcactlError
    naming ``label`` and the source (never the value)."""
    if value.startswith(_SOURCES):
        from dcactl.config.keys import read_secret_text

        url = read_secret_text(value, label)
        return Target(f"{label} ({_scheme(url)} from {value.split(':', 1)[0]}:)", url)
    return Target(f"{label} ({_scheme(value)})", value)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every part of each secret URL that could be a token replaced by ``***``."""
    parts: set[str] = set()
    for url in secrets:
        parts.add(url)
        parts.update(p for p in re.split(r"[/:@?&=#,;]+", url.split("://", 1)[-1]) if len(p) >= 4)
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, "***")
    return text


def _apprise_logger() -> None:
    """Keep apprise's logger off the console (its lines may name a host or a chat id); the reasons
    come from each result's own log instead."""
    logger = logging.getLogger("apprise")
    logger.propagate = False
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _import_apprise() -> Any:
    """apprise, imported quietly: on Python 3.11/3.12 it pulls in the deprecated ``imghdr`` lazily
    (from a worker thread), so import that here too, under a local warnings filter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        with contextlib.suppress(ImportError):
            import imghdr  # noqa: F401
    _apprise_logger()
    return apprise


def _send_one(target: Target, message: Message, timeout: float, result: list[Delivery]) -> None:
    try:
        apprise = _import_apprise()
        sender = apprise.Apprise()
        if not sender.add(target.url):
            result.append(Delivery(target.label, False, "not a URL apprise understands"))
            return
        outcome = sender.notify(title=message.title, body=message.body, timeout=timeout)
        if outcome:
            result.append(Delivery(target.label, True, "sent"))
            return
        reasons = [e.message for e in outcome.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
        why = reasons[-1] if reasons else "the service did not accept the message"
        result.append(Delivery(target.label, False, scrub(why, [target.url])))
    except Exception as exc:  # a notification must never take the run down
        result.append(Delivery(target.label, False, scrub(f"{type(exc).__name__}: {exc}", [target.url])))


def send(targets: Sequence[Target], message: Message, timeout: float) -> list[Delivery]:
    """Send ``message`` to every target at once; each that has not answered within ``timeout`` seconds
    is reported as timed out and abandoned (a daemon thread: it cannot keep the process alive)."""
    _import_apprise()  # here, in the caller's thread, before the workers start
    runs: list[tuple[Target, threading.Thread, list[Delivery]]] = []
    for target in targets:
        box: list[Delivery] = []
        thread = threading.Thread(target=_send_one, args=(target, message, timeout, box), daemon=True,
                                  name="dcactl-notify")
        thread.start()
        runs.append((target, thread, box))
    deadline = time.monotonic() + timeout
    out = []
    for target, thread, box in runs:
        thread.join(max(0.0, deadline - time.monotonic()))
        out.append(box[0] if box else Delivery(target.label, False, f"no answer within {timeout:g} s"))
    return out


def ping(target: Target, suffix: str, body: str, timeout: float) -> Delivery:
    """A heartbeat ping (healthchecks.io protocol): POST ``<url>/<suffix>`` (``start``, an exit code,
    or ``""`` for a plain success ping) with ``body``. Never raises."""
    import httpx

    url = target.url.rstrip("/") + (f"/{suffix}" if suffix else "")
    try:
        response = httpx.post(url, content=body.encode()[:10_000], timeout=timeout,
                              headers={"User-Agent": "dcactl"})
    except httpx.HTTPError as exc:
        return Delivery(target.label, False, scrub(f"{type(exc).__name__}: {exc}", [target.url]))
    if response.status_code >= 400:
        return Delivery(target.label, False, f"HTTP {response.status_code}")
    return Delivery(target.label, True, f"ping /{suffix}" if suffix else "ping")


def safe_targets(values: Sequence[str], key: str) -> tuple[list[Target], list[Delivery]]:
    """Resolve each configured value; a source that cannot be read becomes a failed Delivery."""
    targets: list[Target] = []
    failures: list[Delivery] = []
    for i, value in enumerate(values):
        label = f"{key}[{i}]" if key == "notify.urls" else key
        try:
            targets.append(resolve(value, label))
        except DcactlError as exc:
            failures.append(Delivery(label, False, str(exc)))
    return targets, failures


def parse_problems(targets: Sequence[Target]) -> list[str]:
    """Which resolved URLs apprise cannot parse (by label; nothing is sent)."""
    apprise = _import_apprise()
    return [t.label for t in targets if not apprise.Apprise().add(t.url)]
