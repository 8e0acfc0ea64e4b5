"""The rules of portfolio.toml: steps 2 (validate each key) and 3 (consistency) of loading.

:func:`check_document` walks a parsed document, records every problem in a :class:`Problems`
(one line each: ``<file>: <key path>: <what is wrong>``) and returns plain keyword dicts that
:mod:`dcactl.config.schema` turns into its frozen dataclasses. Nothing here raises on bad input; nothing
here echoes a value that could be a secret (``key``, ``coingecko_key``, ``account``).
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

NETWORK_NAMES = ("mainnet", "testnet", "devnet")
SETTINGS_KEYS = (
    "network", "mode", "account", "key", "database", "parallel", "lock_wait", "coingecko_url",
    "coingecko_key", "max_slippage_bps", "max_usd_per_run", "max_usd_per_day", "timezone",
    "request_timeout",
)
ASSET_KEYS = (
    "amount", "every", "enabled", "venue", "pair", "coingecko_id", "sizing",
    "rsi", "ma_dips", "dynamic_frequency", "banking",  # rule tables: dcactl.config.rules
)
SIZING_KEYS = ("kind", "min", "max", "window_days", "low_vol", "high_vol")
TOP_KEYS = ("settings", "assets", "portfolio", "notify")  # [notify]: dcactl.config.notifycheck

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
        """Record ``<file>: <keypath>: <message>``."""
        self.lines.append(f"{self.filename}: {keypath}: {message}")

    def __bool__(self) -> bool:
        return bool(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def show(value: Any) -> str:
    """A value as it would be written in TOML (strings quoted), for messages. Never for secrets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (difflib), or None when nothing is close."""
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
        if sep and rest and (
            (kind == "env" and _ENV_NAME.match(rest)) or kind in ("file", "keyring")
        ):
            return f"{kind}:{rest}", None
    return None, ("must name where the secret is kept — env:VAR, file:PATH or keyring:NAME — never the "
                  "secret itself (the value is not shown here)")


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


# ---- the document -------------------------------------------------------------------------------

def check_document(
    doc: Mapping[str, Any], problems: Problems
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Validate and cross-check ``doc``; return (Settings kwargs, [AssetConfig kwargs with ``sizing``
    and rule-table kwargs dicts], Portfolio kwargs). Every problem goes into ``problems``; the result
    is only meaningful when none was recorded."""
    from dcactl.config.rules import check_portfolio

    _Table(doc, "", TOP_KEYS, problems)
    raw_settings = doc.get("settings", {})
    if not isinstance(raw_settings, Mapping):
        problems.add("settings", "must be a table ([settings])")
        raw_settings = {}
    settings = _check_settings(_Table(raw_settings, "settings", SETTINGS_KEYS, problems))
    assets = _check_assets(doc.get("assets", _MISSING), problems)
    portfolio = check_portfolio(doc.get("portfolio"), [a["symbol"] for a in assets], problems)
    _check_never_fits(settings, assets, problems)
    return settings, assets, portfolio


def _check_never_fits(
    settings: Mapping[str, Any], assets: Iterable[Mapping[str, Any]], problems: Problems
) -> None:
    """An asset whose amount (or sizing max) exceeds ``max_usd_per_run`` could never be bought: say so
    now, naming the key, instead of skipping it with "cap" every run (PRODUCT.md "Caps")."""
    cap = settings.get("max_usd_per_run")
    if cap is None:
        return
    for a in assets:
        sizing = a.get("sizing") or {}
        for key, value in (("amount", a.get("amount")), ("sizing.max", sizing.get("max"))):
            if value is not None and value > cap:
                problems.add(f"assets.{a['symbol']}.{key}", f"{value} USDC can never be bought: it is above "
                             f"settings.max_usd_per_run ({cap} USDC); lower it or raise the cap")
                break


def _check_settings(t: _Table) -> dict[str, Any]:
    s: dict[str, Any] = {
        "network": t.get("network", network, "mainnet"),
        "mode": t.get("mode", choice("paper", "live"), "paper"),
        "account": t.get("account", account),
        "key": t.get("key", secret_source),
        "database": t.get("database", path),
        "parallel": t.get("parallel", boolean, True),
        "lock_wait": t.get("lock_wait", seconds(False, 86_400), 30.0),
        "coingecko_url": t.get("coingecko_url", http_url),
        "coingecko_key": t.get("coingecko_key", secret_source),
        "max_slippage_bps": t.get("max_slippage_bps", integer(1, 1000, "basis points"), 50),
        "max_usd_per_run": t.get("max_usd_per_run", usdc("USDC")),
        "max_usd_per_day": t.get("max_usd_per_day", usdc("USDC")),
        "timezone": t.get("timezone", timezone, "UTC"),
        "request_timeout": t.get("request_timeout", seconds(True, 300), 10.0),
    }
    # step 3: consistency
    if s["mode"] == "live":
        if "account" not in t.data:
            t.error("account", 'live mode needs the master account address (0x + 40 hex digits)')
        if "key" not in t.data:
            t.error("key", 'live mode needs the signing key\'s source, e.g. key = "env:DCACTL_KEY"')
    return s


def _check_assets(raw: Any, problems: Problems) -> list[dict[str, Any]]:
    if raw is _MISSING or (isinstance(raw, Mapping) and not raw):
        problems.add("assets", "the portfolio has no assets; add a table such as "
                               '[assets.BTC] with amount = 50 and every = "week"')
        return []
    if not isinstance(raw, Mapping):
        problems.add("assets", "must be a table of assets ([assets.BTC], [assets.ETH], ...)")
        return []
    seen: dict[str, str] = {}
    assets: list[dict[str, Any]] = []
    for name, body in raw.items():
        keypath = f"assets.{name}"
        symbol = name.strip().upper()
        if not _SYMBOL.match(symbol):
            problems.add(keypath, "an asset symbol must be 1 to 12 letters or digits")
        elif symbol in seen:
            problems.add(keypath, f"duplicates assets.{seen[symbol]} (symbols are case-insensitive)")
        else:
            seen[symbol] = name
        if not isinstance(body, Mapping):
            problems.add(keypath, f"must be a table ([{keypath}]) with amount and every")
            continue
        assets.append(_check_asset(_Table(body, keypath, ASSET_KEYS, problems), symbol, problems))
    return assets


def _check_asset(t: _Table, symbol: str, problems: Problems) -> dict[str, Any]:
    amount = t.get("amount", usdc("USDC", MAX_AMOUNT), required=True)
    parsed = t.get("every", every, required=True)
    a: dict[str, Any] = {
        "symbol": symbol,
        "amount": amount,
        "every": parsed[0] if parsed else None,
        "schedule": parsed[1] if parsed else None,
        "enabled": t.get("enabled", boolean, True),
        "venue": t.get("venue", choice("auto", "hyperliquid", "paper"), "auto"),
        "pair": t.get("pair", pair),
        "coingecko_id": t.get("coingecko_id", coingecko_id),
        "sizing": {},
    }
    raw_sizing = t.data.get("sizing", {})
    if not isinstance(raw_sizing, Mapping):
        t.error("sizing", f"must be a table ([{t.keypath}.sizing])")
    else:
        a["sizing"] = _check_sizing(_Table(raw_sizing, f"{t.keypath}.sizing", SIZING_KEYS, problems))
    from dcactl.config.rules import check_rule_tables  # here: configrules imports this module

    a.update(check_rule_tables(t, problems))
    return a


def _check_sizing(t: _Table) -> dict[str, Any]:
    s: dict[str, Any] = {
        "kind": t.get("kind", choice("fixed", "volatility"), "fixed"),
        "min": t.get("min", usdc("USDC", MAX_AMOUNT)),
        "max": t.get("max", usdc("USDC", MAX_AMOUNT)),
        "window_days": t.get("window_days", integer(2, 365, "days"), 30),
        "low_vol": t.get("low_vol", percent, Decimal(35)),
        "high_vol": t.get("high_vol", percent, Decimal(85)),
    }
    # step 3: consistency
    if s["kind"] == "volatility":
        for key in ("min", "max"):
            if key not in t.data:
                t.error(key, f'volatility sizing needs {key} (USDC per buy when volatility is '
                             f'{"high" if key == "min" else "low"})')
    if t.valid("min", "max") and s["min"] is not None and s["max"] is not None and s["min"] > s["max"]:
        t.error("max", f"must be at least min ({s['min']}), got {s['max']}")
    if t.valid("low_vol", "high_vol") and s["low_vol"] >= s["high_vol"]:
        if "high_vol" in t.data:
            t.error("high_vol", f"must be above low_vol ({s['low_vol']}), got {s['high_vol']}")
        else:
            t.error("low_vol", f"must be below high_vol ({s['high_vol']} by default), got {s['low_vol']}")
    return s
