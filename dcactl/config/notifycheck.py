"""Validation of the ``[notify]`` table (step 2 and 3 of loading, like :mod:`dcactl.config.check`).

Notification URLs carry tokens (a Telegram bot token, a mail password), so no message here ever
echoes one: a bad URL is named by its key path and index only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dcactl.config.model import Notify, default_of, table_keys
from dcactl.config.rules import checked
from dcactl.config.values import Problems, _Table, choice, seconds, secret_source, show

NOTIFY_KEYS = table_keys(Notify)
EVENTS = ("failed", "missed", "skipped", "filled")
DEFAULT_EVENTS: tuple[str, ...] = default_of(Notify, "events")
SUMMARIES = ("day", "week", "month")
MAX_URLS = 20

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,31}://\S+$", re.IGNORECASE)
_SOURCE_PREFIXES = ("env:", "file:", "keyring:")


def _url_or_source(what: str) -> Any:
    """An inline URL (``scheme://...``) or the source of one (env:VAR, file:PATH, keyring:NAME)."""

    def check(value: Any) -> tuple[Any, str | None]:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith(_SOURCE_PREFIXES):
                return secret_source(text)
            if _SCHEME.match(text):
                return text, None
        return None, (f"must be {what} (scheme://...) or where it is kept — env:VAR, file:PATH or "
                      "keyring:NAME (the value is not shown: it may carry a token)")

    return check


def _http_or_source(value: Any) -> tuple[Any, str | None]:
    converted, message = _url_or_source("an http(s) URL")(value)
    if message is None and not converted.startswith(_SOURCE_PREFIXES) and not re.match(
        r"^https?://", converted, re.IGNORECASE
    ):
        return None, ("must be an http(s) URL (a healthchecks-style ping URL) or where it is kept — "
                      "env:VAR, file:PATH or keyring:NAME (the value is not shown)")
    return converted, message


def check_notify(raw: Any, problems: Problems) -> dict[str, Any]:
    """``[notify]`` → Notify kwargs (empty when the table is absent). Problems go into ``problems``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add("notify", "must be a table ([notify])")
        return {}
    t = _Table(raw, "notify", NOTIFY_KEYS, problems)
    urls: list[str] = []
    raw_urls = t.data.get("urls", [])
    if isinstance(raw_urls, str):
        raw_urls = [raw_urls]
    if not isinstance(raw_urls, list):
        t.error("urls", "must be an array of apprise URLs, e.g. urls = [\"env:DCACTL_NOTIFY_URL\"]")
    elif len(raw_urls) > MAX_URLS:
        t.error("urls", f"at most {MAX_URLS} URLs, got {len(raw_urls)}")
    else:
        check = _url_or_source("an apprise URL such as tgram://, mailto://, ntfy://, json://")
        for i, item in enumerate(raw_urls):
            value, message = check(item)
            if message is not None:
                problems.add(f"notify.urls[{i}]", message)
            else:
                urls.append(value)
    events: list[str] = []
    raw_events = t.data.get("events", list(DEFAULT_EVENTS))
    if not isinstance(raw_events, list):
        t.error("events", f"must be an array of events: {', '.join(EVENTS)}")
    else:
        for i, item in enumerate(raw_events):
            value, message = choice(*EVENTS)(item)
            if message is not None:
                problems.add(f"notify.events[{i}]", message)
            elif value not in events:
                events.append(value)
    n: dict[str, Any] = {
        "urls": tuple(urls),
        "events": tuple(events),
        **checked(t, Notify, {
            "heartbeat": _http_or_source, "summary": choice(*SUMMARIES), "timeout": seconds(True, 60),
        }),
    }
    # step 3: consistency
    if not urls and n["heartbeat"] is None and not problems:
        problems.add("notify", "has neither urls nor heartbeat; add urls = [\"env:DCACTL_NOTIFY_URL\"] "
                               f"or remove the table (got keys: {', '.join(map(show, raw)) or 'none'})")
    if n["summary"] is not None and not urls and "summary" in t.data:
        t.error("summary", "a digest needs somewhere to go: add notify.urls")
    return n
