"""Import from the earlier Hyperliquid DCA bot: its trade history and its config.

History (``dca_history.json``): a JSON list of trade records. Old BTC-only records have no ``asset``
and carry the size in ``amount_btc``; multi-asset records add ``asset`` and ``amount_asset``. Each
valid record becomes an *imported* buy fill: naive timestamps are taken as UTC, floats are converted
exactly from their shortest text (``Decimal(repr(x))``), the fee is unknown (the bot kept none: stored
as 0 USDC marked ``fee_unknown``, shown as "unknown", never summed as a fee of 0), and
the trade id is synthetic and deterministic — ``imported:`` + the first 24 hex digits of the
SHA-256 of the canonical record (sorted keys, compact JSON) — so importing twice adds nothing.
Records are numbered from 1 in problems (``dca_history.json: record 3: price: missing``).

Config (``multi_asset_config.json`` or the older single-asset ``dca_config.json``) becomes a
``portfolio.toml`` document; settings dcactl has no home for are listed, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcactl.errors import ConfigError, UsageError
from dcactl.models import QUOTE, Fill

if TYPE_CHECKING:
    from dcactl.ledger import Ledger

FREQUENCIES = {"daily": "day", "weekly": "week", "monthly": "month"}
"""The bot's ``frequency`` → dcactl's ``every`` (the bot waited 1, 7 or 30 days since its last trade;
dcactl buys once per calendar day/ISO week/month)."""


@dataclass
class LegacyHistory:
    """Parsed history: the fills of valid records, and one line per problem (file, record, field)."""

    fills: list[Fill] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    records: int = 0


@dataclass
class ImportReport:
    """What ``import legacy`` did: fills ``inserted``, ``already_present`` (imported before),
    ``skipped`` malformed records (with reasons; only with ``skip_bad``), and ``matched`` imported
    fills that are exchange fills already synced (superseded, not counted twice)."""

    inserted: int = 0
    already_present: int = 0
    skipped: list[str] = field(default_factory=list)
    matched: int = 0

    def to_json(self) -> dict[str, Any]:
        """The ``import legacy --json`` document."""
        return dict(self.__dict__)


@dataclass
class LegacyConversion:
    """A ``portfolio.toml`` document (a dict for tomli-w) and the settings it could not carry over."""

    doc: dict[str, Any]
    not_converted: list[str] = field(default_factory=list)


MAX_NUMBER = Decimal("1e15")
"""Larger prices, amounts or sizes are no real trade of the earlier bot (and would not fit the ledger's
exact integer columns): a record holding one is refused."""
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)
"""No trade of any crypto asset is older than this (Bitcoin's first block)."""
_SYMBOL_CHARS = 12
"""The longest asset symbol (as in portfolio.toml): longer text in ``asset`` is no symbol."""


def _short(value: Any) -> str:
    """``repr(value)`` for a message, shortened when long: a pasted blob is not echoed whole."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text):,} characters)"


def _number(
    record: dict[str, Any], key: str, *, positive: bool = True, required: bool = True
) -> Decimal | str:
    """A JSON number → exact Decimal (never negative; positive when ``positive``), or a problem text."""
    if key not in record or record[key] is None:
        return "missing" if required else Decimal(0)
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {type(value).__name__} {_short(value)}"
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return f"not a number: {value!r}"
    if not number.is_finite():
        return f"not a finite number: {value!r}"
    if positive and number <= 0:
        return f"must be positive, got {value!r}"
    if number < 0:
        return f"must not be negative, got {value!r}"
    if number > MAX_NUMBER:
        return f"implausibly large ({value!r}; over {MAX_NUMBER:,.0f})"
    return number


def _timestamp(value: Any) -> datetime | str:
    if not isinstance(value, str):
        return "missing" if value is None else f"expected an ISO-8601 string, got {_short(value)}"
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return f"not an ISO-8601 time: {_short(value)}"
    try:
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 or 9999-12-31T23:59-05:00: past the calendar's ends
        t = datetime.min.replace(tzinfo=UTC) if t.year < EARLIEST.year else datetime.max.replace(tzinfo=UTC)
    if t < EARLIEST:
        return f"{value!r} is before any crypto trade (2009-01-03)"
    if t > datetime.now(UTC) + timedelta(days=1):
        return f"{value!r} is in the future"
    return t


def synthetic_tid(record: dict[str, Any]) -> str:
    """``imported:<sha256 of the canonical record>[:24]`` (sorted keys, compact separators)."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "imported:" + hashlib.sha256(canonical.encode()).hexdigest()[:24]


def parse_record(record: Any) -> tuple[Fill | None, list[str]]:
    """One history record → (the fill, []) or (None, problems as ``field: problem``)."""
    if not isinstance(record, dict):
        return None, [f"expected an object, got {type(record).__name__}"]
    problems: list[str] = []
    time = _timestamp(record.get("timestamp"))
    if isinstance(time, str):
        problems.append(f"timestamp: {time}")
    price = _number(record, "price")
    if isinstance(price, str):
        problems.append(f"price: {price}")
    usd = _number(record, "amount_usd", required=False, positive=False)
    if isinstance(usd, str):
        problems.append(f"amount_usd: {usd}")
    asset = record.get("asset")
    if asset is None:
        asset, size_key = "BTC", "amount_btc"  # the BTC-only records of older versions
    elif isinstance(asset, str) and asset.strip().isalnum() and len(asset.strip()) <= _SYMBOL_CHARS:
        asset = asset.strip().upper()
        size_key = "amount_asset" if "amount_asset" in record or asset != "BTC" else "amount_btc"
    else:
        problems.append(
            f"asset: expected a symbol (1 to {_SYMBOL_CHARS} letters or digits), got {_short(asset)}"
        )
        asset, size_key = "?", ""
    size = _number(record, size_key) if size_key else "unknown asset"
    if isinstance(size, str) and size_key:
        problems.append(f"{size_key}: {size}")
    volatility = _number(record, "volatility", required=False, positive=False)
    if isinstance(volatility, str):
        problems.append(f"volatility: {volatility}")
    tx_hash = record.get("tx_hash")
    if tx_hash is not None and not isinstance(tx_hash, str):
        problems.append(f"tx_hash: expected a string or null, got {_short(tx_hash)}")
    if problems:
        return None, problems
    assert isinstance(time, datetime) and isinstance(price, Decimal) and isinstance(size, Decimal)
    reason = "legacy bot" + (f", volatility {record['volatility']}%" if record.get("volatility") is not None
                             else "")
    return Fill(
        time=time, asset=asset, pair=f"{asset}/USDC", side="B", size=size, price=price, fee=Decimal(0),
        fee_token=QUOTE, tid=synthetic_tid(record), source="imported", hash=tx_hash or None, reason=reason,
        fee_unknown=True,
    ), []


_NOT_THE_BOTS = "not a file of the earlier bot"


def _load_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except ValueError as exc:  # an integer of thousands of digits (Python's int-from-text limit)
        raise ConfigError(f"{path}: {_NOT_THE_BOTS}: a number of thousands of digits") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: {_NOT_THE_BOTS}: arrays or objects nested too deeply") from exc


def parse_history(path: Path, *, skip_bad: bool) -> LegacyHistory:
    """Read a ``dca_history.json``. Problems name the file, the record (from 1) and the field.

    Without ``skip_bad`` any problem raises ConfigError listing them all (nothing is imported);
    with it, bad records are left out and listed in ``problems``. Raises UsageError when the file
    is missing or unreadable, ConfigError when it is not a JSON list.
    """
    data = _load_json(path)
    name = Path(path).name
    if not isinstance(data, list):
        raise ConfigError(f"{name}: expected a JSON list of trade records, got {type(data).__name__}")
    history = LegacyHistory(records=len(data))
    for position, record in enumerate(data, start=1):
        fill, problems = parse_record(record)
        history.problems.extend(f"{name}: record {position}: {p}" for p in problems)
        if fill is not None:
            history.fills.append(fill)
    if history.problems and not skip_bad:
        raise ConfigError(
            [*history.problems, f"{name}: nothing imported (pass --skip-bad to import the valid records)"]
        )
    return history


def import_legacy(ledger: Ledger, history: Path | LegacyHistory, *, skip_bad: bool) -> ImportReport:
    """Store the history's fills as ``imported`` (idempotent), then match them to any synced
    exchange fills. ``history`` is a path (parsed here; raises like :func:`parse_history`) or an
    already parsed :class:`LegacyHistory`."""
    if not isinstance(history, LegacyHistory):
        history = parse_history(history, skip_bad=skip_bad)
    inserted = ledger.add_fills(history.fills)
    unique = len({f.tid for f in history.fills})
    return ImportReport(inserted=inserted, already_present=unique - inserted, skipped=history.problems,
                        matched=ledger.match_imports())


# -- config --------------------------------------------------------------------------------------

_SIZING_KEYS = ("min_amount", "max_amount", "volatility_window", "low_vol_threshold", "high_vol_threshold")
_CONVERTED = {"symbol", "base_amount", "frequency", "enabled", *_SIZING_KEYS}
_RULE_KEYS = {
    "rsi": ("use_rsi", "rsi_period", "rsi_oversold_threshold", "rsi_overbought_threshold", "rsi_use_wilder"),
    "ma_dips": ("use_ma_dips", "ma_periods", "ma_type", "ma_dip_thresholds"),
    "dynamic_frequency": ("use_dynamic_frequency", "dynamic_low_vol_threshold", "dynamic_high_vol_threshold"),
}
"""The bot's smart-DCA settings per dcactl rule table (docs/smart-dca.md maps them key by key)."""
_RULE_TARGETS = {
    "use_rsi": "enabled", "rsi_period": "period", "rsi_oversold_threshold": "oversold",
    "rsi_overbought_threshold": "overbought", "rsi_use_wilder": "wilder",
    "use_ma_dips": "enabled", "ma_periods": "periods", "ma_type": "kind", "ma_dip_thresholds": "thresholds",
    "use_dynamic_frequency": "enabled", "dynamic_low_vol_threshold": "low_vol",
    "dynamic_high_vol_threshold": "high_vol",
}


def _number_list(text: Any, integers: bool) -> list[Any] | None:
    """``"20,50,200"`` → ``[20, 50, 200]`` (the bot wrote lists as comma strings); None if unreadable."""
    if isinstance(text, list):
        items: list[Any] = text
    elif isinstance(text, str):
        items = [part.strip() for part in text.split(",") if part.strip()]
    else:
        return None
    try:
        return [int(str(x)) if integers else _toml_number(float(str(x))) for x in items]
    except ValueError:
        return None


def _convert_rules(where: str, plan: dict[str, Any], out: dict[str, Any], notes: list[str]) -> set[str]:
    """The bot's RSI, MA-dip and dynamic-frequency settings → ``[assets.X.rsi|ma_dips|dynamic_frequency]``.

    A table is written whenever the bot had any of its keys, ``enabled`` copied from its ``use_*``
    switch (off when absent), so nothing is silently dropped. Returns the keys consumed.
    """
    used: set[str] = set()
    for table, keys in _RULE_KEYS.items():
        present = [k for k in keys if k in plan]
        if not present:
            continue
        rule: dict[str, Any] = {"enabled": bool(plan.get(keys[0], False))}
        for key in present[1:] if present[0] == keys[0] else present:
            value = plan[key]
            if key in ("ma_periods", "ma_dip_thresholds"):
                value = _number_list(value, integers=key == "ma_periods")
                if value is None:
                    notes.append(f"{where}: {key}={_show(plan[key])} (not a list of numbers; not converted)")
                    continue
            elif key == "ma_type":
                value = str(value).upper()
            elif isinstance(value, bool) or key == "rsi_period":
                value = value if isinstance(value, bool) else int(value)
            else:
                value = _toml_number(value)
            rule[_RULE_TARGETS[key]] = value
        out[table] = rule
        used.update(present)
    return used


_SIZING_DEFAULTS = {"volatility_window": 30, "low_vol_threshold": 35, "high_vol_threshold": 85}
"""PRODUCT.md's example values, used when a sizing key is missing (the bot filled defaults)."""


def _toml_number(value: Any) -> int | float | Any:
    """JSON numbers for tomli-w: integral floats as ints (100.0 → 100), others unchanged (their
    shortest repr is what the bot wrote, and what dcactl's config reads back exactly)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _show(value: Any) -> str:
    return json.dumps(value)


def _convert_asset(symbol: str, plan: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    where = f"assets.{symbol}"
    if not isinstance(plan, dict):
        notes.append(f"{where}: not an object ({_show(plan)}); not converted")
        return None
    out: dict[str, Any] = {}
    if "base_amount" in plan:
        out["amount"] = _toml_number(plan["base_amount"])
    else:
        notes.append(f"{where}: no base_amount; set `amount` by hand")
    frequency = plan.get("frequency")
    if frequency in FREQUENCIES:
        out["every"] = FREQUENCIES[frequency]
    else:
        notes.append(f"{where}: frequency={_show(frequency)} (not daily/weekly/monthly); set `every` by hand")
    out["enabled"] = bool(plan.get("enabled", True))
    if "min_amount" in plan and "max_amount" in plan:
        sizing: dict[str, Any] = {"kind": "volatility", "min": _toml_number(plan["min_amount"]),
                                  "max": _toml_number(plan["max_amount"])}
        for key, target in (("volatility_window", "window_days"), ("low_vol_threshold", "low_vol"),
                            ("high_vol_threshold", "high_vol")):
            if key in plan:
                sizing[target] = _toml_number(plan[key])
            else:
                sizing[target] = _SIZING_DEFAULTS[key]
                notes.append(f"{where}: {key} missing; used {_SIZING_DEFAULTS[key]} ({target})")
        out["sizing"] = sizing
    elif any(k in plan for k in _SIZING_KEYS):
        given = ", ".join(f"{k}={_show(plan[k])}" for k in _SIZING_KEYS if k in plan)
        notes.append(f"{where}: {given} (volatility sizing needs both min_amount and max_amount)")
    if "symbol" in plan and str(plan["symbol"]).upper() != symbol:
        notes.append(f"{where}: symbol={_show(plan['symbol'])} differs from its key; the key was used")
    grouped = _convert_rules(where, plan, out, notes)
    for key in plan:
        if key not in _CONVERTED and key not in grouped:
            notes.append(f"{where}: {key}={_show(plan[key])} (unknown to dcactl; not converted)")
    return out


def convert_config(path: Path) -> LegacyConversion:
    """``multi_asset_config.json`` or ``dca_config.json`` → a portfolio document.

    ``[settings]``: ``mode = "paper"`` always (review, then switch to live yourself), ``network =
    "mainnet"`` (where the bot traded), ``account`` = ``wallet_address``. ``[assets.X]``: ``amount``
    = base_amount, ``every`` from frequency, ``enabled``, and ``[assets.X.sizing]`` kind volatility
    (min/max/window_days/low_vol/high_vol) when min and max amounts are given. Raises UsageError
    (missing file) or ConfigError (not JSON, not an object).
    """
    data = _load_json(path)
    name = Path(path).name
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a JSON object, got {type(data).__name__}")
    notes: list[str] = []
    settings: dict[str, Any] = {"network": "mainnet", "mode": "paper"}
    wallet = data.get("wallet_address")
    if isinstance(wallet, str) and wallet:
        settings["account"] = wallet
    notes.append('settings.mode: set to "paper"; review the file, then set mode = "live" and `key` yourself')
    assets: dict[str, Any] = {}
    if isinstance(data.get("assets"), dict):  # multi-asset format
        for symbol, plan in data["assets"].items():
            converted = _convert_asset(str(symbol).upper(), plan, notes)
            if converted is not None:
                assets[str(symbol).upper()] = converted
        top = {k: v for k, v in data.items() if k not in ("assets", "wallet_address")}
    else:  # the older single-asset (BTC) format
        plan = {k: v for k, v in data.items() if k != "wallet_address"}
        converted = _convert_asset("BTC", plan, notes)
        if converted is not None:
            assets["BTC"] = converted
        top = {}
    if top.get("enabled") is False:  # the bot was switched off as a whole: keep every plan off
        for plan_doc in assets.values():
            plan_doc["enabled"] = False
        notes.append("enabled=false (the bot was switched off: every asset set enabled = false)")
        del top["enabled"]
    for key, value in top.items():
        why = ("global switch; dcactl has per-asset `enabled` only" if key == "enabled"
               else "use [notify] instead: README, Knowing it works" if key.startswith("notification")
               else "unknown to dcactl")
        notes.append(f"{key}={_show(value)} ({why}; not converted)")
    return LegacyConversion(doc={"settings": settings, "assets": assets}, not_converted=notes)


def conversion_toml(conversion: LegacyConversion, source: Path) -> str:
    """The portfolio file text: a header naming the source and every setting not converted, then the
    document (tomli-w)."""
    import tomli_w

    lines = [f"# Converted by `dcactl import legacy` from {Path(source).name}.", "#"]
    lines += ["# Not converted (no home in this dcactl yet, or needing your decision):"]
    lines += [f"#   {note}" for note in conversion.not_converted] or ["#   nothing"]
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(conversion.doc)
