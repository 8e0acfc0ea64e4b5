"""Value checks of portfolio.toml (step 2 of loading), shared by every table's checker.

:class:`Problems` collects one-line problems (``<file>: <key path>: <what is wrong>``); ``_Table`` reads
one TOML table's keys under its key path (unknown keys get a "did you mean"); each value check returns
``(converted, None)`` or ``(None, message)`` and never echoes a value that could be a secret. The
document-level checks live in :mod:`dcactl.config.check`, the rule tables in :mod:`dcactl.config.rules`,
``[notify]`` in :mod:`dcactl.config.notifycheck`; all of them build on this module (no import cycle).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_AMOUNT = Decimal(1_000_000)
"""USDC: a per-buy amount (or sizing bound) above this is taken for a typo."""

MAX_REQUEST_TIMEOUT_S = 300
"""The largest ``settings.request_timeout`` (seconds). An order's expiry and the wait before an order
the exchange does not know counts as void depend on it (:mod:`dcactl.run.reconcile`)."""

NETWORK_NAMES = ("mainnet", "testnet", "devnet")
_SYMBOL = re.compile(r"^[A-Z0-9]{1,12}$")
_ACCOUNT = re.compile(r"^0x[0-9a-fA-F]{40}$")
_PAIR = re.compile(r"^(@\d+|[A-Za-z0-9]{1,20}/USDC)$")
_COINGECKO_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()


class Problems:
    """Collects one-line problems for one file, in the order they are found."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: list[str] = []

    def add(self, keypath: str, message: str) -> None:
        """Record ``<file>: <keypath>: <message>``; an overlong key path (a pasted file as a key) is
        shortened like a value, so one problem stays one readable line."""
        if len(keypath) > SHOWN_CHARS:
            keypath = f"{keypath[:40]}… ({len(keypath):,} characters)"
        self.lines.append(f"{self.filename}: {keypath}: {message}")

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


SHOWN_CHARS = 80
"""Longer values are shortened in messages."""


def show(value: Any) -> str:
    """A value as it would be written in TOML (strings quoted), for messages. Never for secrets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) > SHOWN_CHARS:  # a pasted file is not a message: show its start and its length
            return json.dumps(value[:40], ensure_ascii=False)[:-1] + f'…" ({len(value):,} characters)'
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (difflib), or None when nothing is close."""
    if len(word) > SHOWN_CHARS:  # no key is that long, and difflib's time grows with the length
        return None
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


class _Table:
    """One TOML table under check: reads keys, records problems under its key path."""

    def __init__(self, data: Mapping[str, Any], keypath: str, known: tuple[str, ...], problems: Problems):
        self.data = data
        self.keypath = keypath
        self.problems = problems
        self.suggested: set[str] = set()
        self.failed: set[str] = set()
        for key in data:
            if key not in known:
                hint = suggest(key, known)
                if hint is not None:
                    self.suggested.add(hint)
                    tail = f"did you mean `{hint}`?"
                else:
                    tail = "known keys: " + ", ".join(known)
                problems.add(self.path(key), f"unknown key; {tail}")

    def path(self, key: str) -> str:
        return f"{self.keypath}.{key}" if self.keypath else key

    def error(self, key: str, message: str) -> None:
        self.problems.add(self.path(key), message)

    def valid(self, *keys: str) -> bool:
        """True when none of ``keys`` had a bad value (cross-key checks skip bad ones)."""
        return not self.failed.intersection(keys)

    def get(self, key: str, check: Callable[[Any], tuple[Any, str | None]], default: Any = None,
            *, required: bool = False) -> Any:
        """The checked value of ``key``; ``default`` when absent or invalid (the problem is recorded).

        ``check(value)`` returns ``(converted, None)`` or ``(_, message)``.
        """
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required and key not in self.suggested:
                self.error(key, "required key is missing")
            return default
        converted, message = check(value)
        if message is not None:
            self.error(key, message)
            self.failed.add(key)
            return default
        return converted


# ---- value checks: each returns (converted value, None) or (None, message) ----------------------

def _number(value: Any) -> tuple[Decimal | None, str | None]:
    """A TOML int/float (Decimal from parse_float, or a Python float via repr) or numeric string."""
    if isinstance(value, bool):
        return None, f"must be a number, got {show(value)}"
    try:
        if isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))  # repr is the shortest round-trip text: 0.1 → "0.1"
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            return None, f"must be a number, got {show(value)}"
    except InvalidOperation:
        return None, f"must be a number, got {show(value)}"
    if not number.is_finite():
        return None, f"must be a finite number, got {show(value)}"
    return number, None


def usdc(what: str, maximum: Decimal | None = None) -> Callable[[Any], tuple[Any, str | None]]:
    """A positive USDC amount, at most ``maximum``; ``what`` ends "must be a positive number of ...\"."""
    def check(value: Any) -> tuple[Any, str | None]:
        number, message = _number(value)
        if number is None or number <= 0:
            return None, f"must be a positive number of {what}, got {show(value)}"
        if maximum is not None and number > maximum:
            return None, f"must be at most {maximum} USDC per buy (more looks like a typo), got {show(value)}"
        return number, message
    return check


def percent(value: Any) -> tuple[Any, str | None]:
    number, _ = _number(value)
    if number is None or number <= 0 or number > 1000:
        return None, f"must be an annualised volatility in percent, >0 and <=1000, got {show(value)}"
    return number, None


def integer(low: int, high: int, unit: str) -> Callable[[Any], tuple[Any, str | None]]:
    def check(value: Any) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return None, f"must be a whole number of {unit} from {low} to {high}, got {show(value)}"
        return value, None
    return check


def seconds(minimum_exclusive: bool, maximum: int) -> Callable[[Any], tuple[Any, str | None]]:
    def check(value: Any) -> tuple[Any, str | None]:
        number, _ = _number(value)
        bad = number is None or isinstance(value, str) or number < 0 or (minimum_exclusive and number == 0)
        if bad or number is None or number > maximum:
            least = "above 0" if minimum_exclusive else "at least 0"
            return None, f"must be a number of seconds, {least} and at most {maximum}, got {show(value)}"
        return float(number), None
    return check


def boolean(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, bool):
        return None, f"must be true or false, got {show(value)}"
    return value, None


def choice(*options: str) -> Callable[[Any], tuple[Any, str | None]]:
    def check(value: Any) -> tuple[Any, str | None]:
        if isinstance(value, str) and value in options:
            return value, None
        listed = " or ".join(f'"{o}"' for o in options)
        hint = suggest(value, options) if isinstance(value, str) else None
        tail = f"; did you mean \"{hint}\"?" if hint else ""
        return None, f"must be {listed}, got {show(value)}{tail}"
    return check


def http_url(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if parts.scheme in ("http", "https") and parts.netloc and not parts.query and not parts.fragment:
            return value.strip().rstrip("/"), None
    return None, f"must be an http(s) URL, got {show(value)}"


def network(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        if value.strip().lower() in NETWORK_NAMES:
            return value.strip().lower(), None
        url, _ = http_url(value)
        if url is not None:
            return url, None
    hint = suggest(value.lower(), NETWORK_NAMES) if isinstance(value, str) else None
    tail = f"; did you mean \"{hint}\"?" if hint else ""
    return None, f"must be mainnet, testnet, devnet or an http(s) URL, got {show(value)}{tail}"


def secret_source(value: Any) -> tuple[Any, str | None]:
    """``env:VAR``, ``file:PATH`` or ``keyring:NAME``. The message never contains the value."""
    if isinstance(value, str):
        kind, sep, rest = value.strip().partition(":")
        rest = rest.strip()
        if sep and KEY_SHAPED.search(rest):  # env:0xabc…: a key pasted where its source's name goes
            return None, (f"after {kind}: comes the name of where the secret is kept, and this looks like "
                          "the key itself (the value is not shown); move the key to a mode-600 file and "
                          'write "file:/path/to/it"')
        if sep and rest and (
            (kind == "env" and _ENV_NAME.match(rest)) or kind in ("file", "keyring")
        ):
            return f"{kind}:{rest}", None
    return None, ("must name where the secret is kept — env:VAR, file:PATH or keyring:NAME — never the "
                  "secret itself (the value is not shown here)")


KEY_SHAPED = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
"""Text shaped like a private key (32 bytes of hex, with or without 0x): never echoed anywhere."""


def redact(text: str) -> str:
    """``text`` with anything shaped like a private key replaced by ``<redacted key>`` (the error
    boundary's second line of defence: no message may ever carry a key)."""
    return KEY_SHAPED.sub("<redacted key>", text)


def account(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and _ACCOUNT.match(value.strip()):
        return value.strip().lower(), None
    if isinstance(value, str) and re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", value.strip()):
        return None, ("looks like a private key, not an address (the value is not shown); put the "
                      "address here and the key's source in settings.key, e.g. key = \"env:DCACTL_KEY\"")
    got = f"{len(value)} characters" if isinstance(value, str) else f"a value of type {type(value).__name__}"
    return None, f"must be an address: 0x followed by 40 hex digits (got {got}; the value is not shown)"


def timezone(value: Any) -> tuple[Any, str | None]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    if isinstance(value, str) and value.strip():
        try:
            ZoneInfo(value.strip())
            return value.strip(), None
        except (ZoneInfoNotFoundError, ValueError):
            hint = suggest(value.strip(), available_timezones())
            tail = f"; did you mean \"{hint}\"?" if hint else ""
            return None, f"unknown time zone {show(value)}{tail}"
    return None, f"must be an IANA time zone name such as \"UTC\" or \"Europe/Berlin\", got {show(value)}"


def path(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and value.strip():
        return Path(value.strip()).expanduser(), None
    return None, f"must be a file path, got {show(value)}"


def pair(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and _PAIR.match(value.strip()):
        return value.strip(), None
    return None, f"must be a spot pair like \"@142\" or \"PURR/USDC\", got {show(value)}"


def coingecko_id(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and _COINGECKO_ID.match(value.strip()):
        return value.strip(), None
    return None, f"must be a CoinGecko coin id such as \"avalanche-2\", got {show(value)}"


def every(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, f"must be a schedule string such as \"week\" or \"3d\", got {show(value)}"
    from dcactl.schedule.periods import parse_every

    try:
        return (value, parse_every(value)), None
    except ValueError as exc:
        return None, str(exc) or f"not a schedule: {show(value)}"
