"""The smart-DCA tables of portfolio.toml: validation of ``[assets.X.rsi]``, ``[assets.X.ma_dips]``,
``[assets.X.dynamic_frequency]``, ``[assets.X.banking]`` and ``[portfolio]``.

Split from :mod:`dcactl.config.check` along the seam "core keys" / "rule tables"; it uses the same
:class:`~dcactl.config.values.Problems` and value checks, and the same conventions: every problem is one
line naming the key path, unknown keys get a "did you mean", nothing raises. Each checker returns
the keyword arguments of its dataclass in :mod:`dcactl.config.schema` (``None`` when the table is absent:
the rule is off). Defaults and meanings are documented in ``docs/smart-dca.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from dcactl.config.model import (
    BankingRule,
    DynamicFrequencyRule,
    MaDipsRule,
    Portfolio,
    RsiRule,
    default_of,
    table_keys,
)
from dcactl.config.values import (
    MAX_AMOUNT,
    Problems,
    _number,
    _Table,
    boolean,
    choice,
    every,
    integer,
    percent,
    show,
    suggest,
    usdc,
)

__all__ = [
    "BANKING_KEYS",
    "DYNAMIC_FREQUENCY_KEYS",
    "MA_DIPS_KEYS",
    "PORTFOLIO_KEYS",
    "RSI_KEYS",
    "RULE_TABLES",
    "TARGET_SUM_TOLERANCE",
    "check_portfolio",
    "check_rule_tables",
]

RSI_KEYS = table_keys(RsiRule)
MA_DIPS_KEYS = table_keys(MaDipsRule)
DYNAMIC_FREQUENCY_KEYS = table_keys(DynamicFrequencyRule)
BANKING_KEYS = table_keys(BankingRule)
PORTFOLIO_KEYS = table_keys(Portfolio)
RULE_TABLES: dict[str, tuple[str, ...]] = {
    "rsi": RSI_KEYS,
    "ma_dips": MA_DIPS_KEYS,
    "dynamic_frequency": DYNAMIC_FREQUENCY_KEYS,
    "banking": BANKING_KEYS,
}
TARGET_SUM_TOLERANCE = Decimal("0.001")
"""``[portfolio] targets`` must sum to 1 within this."""

MAX_HOURLY_RSI_PERIOD = 200
"""An hourly RSI reads 10 × period closes: 2000 hours (83 days) fit CoinGecko's 90 days of hourly
points and the exchange's last 5000 candles."""

MAX_FACTOR = Decimal(10)
"""A multiplier above 10× is taken for a typo."""

Check = Callable[[Any], tuple[Any, str | None]]


def checked(t: _Table, table: type, checks: Mapping[str, Check]) -> dict[str, Any]:
    """Each key of ``checks`` read from ``t`` through its check; an absent (or bad) key takes its
    default from the dataclass ``table`` (:func:`dcactl.config.model.default_of`)."""
    return {key: t.get(key, check, default_of(table, key)) for key, check in checks.items()}


def number_in(low: Decimal, high: Decimal, what: str, *, low_open: bool = True) -> Check:
    """A number in ``(low, high]`` (``[low, high]`` with ``low_open=False``), as a Decimal."""
    def check(value: Any) -> tuple[Any, str | None]:
        n, _ = _number(value)
        if n is None or isinstance(value, str) or (n <= low if low_open else n < low) or n > high:
            opener = "above" if low_open else "at least"
            return None, f"must be {what}, {opener} {low} and at most {high}, got {show(value)}"
        return n, None
    return check


def rsi_level(value: Any) -> tuple[Any, str | None]:
    n, _ = _number(value)
    if n is None or isinstance(value, str) or not 0 < n < 100:
        return None, f"must be an RSI level between 0 and 100 (exclusive), got {show(value)}"
    return n, None


def ma_kind(value: Any) -> tuple[Any, str | None]:
    """``"SMA"`` or ``"EMA"``, any case (the earlier bot wrote ``ma_type = "SMA"``)."""
    if isinstance(value, str) and value.strip().upper() in ("SMA", "EMA"):
        return value.strip().upper(), None
    return None, f'must be "SMA" or "EMA", got {show(value)}'


def array_of(item: Check, *, example: str, min_len: int = 1, max_len: int = 10) -> Check:
    """A TOML array whose items all pass ``item``; returns a tuple. A comma string such as the earlier
    bot's ``"20,50,200"`` is refused with the array spelling to use instead."""
    def check(value: Any) -> tuple[Any, str | None]:
        if isinstance(value, str):
            return None, f"must be an array such as {example}, not a string ({show(value)})"
        if not isinstance(value, list) or not min_len <= len(value) <= max_len:
            size = f"{min_len} to {max_len} items"
            return None, f"must be an array of {size} such as {example}, got {show(value)}"
        out = []
        for i, v in enumerate(value):
            converted, message = item(v)
            if message is not None:
                return None, f"item {i + 1}: {message}"
            out.append(converted)
        return tuple(out), None
    return check


def _subtable(t: _Table, name: str, known: tuple[str, ...], problems: Problems) -> _Table | None:
    raw = t.data.get(name)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        t.error(name, f"must be a table ([{t.keypath}.{name}])")
        return None
    return _Table(raw, f"{t.keypath}.{name}", known, problems)


def check_rule_tables(t: _Table, problems: Problems) -> dict[str, dict[str, Any] | None]:
    """The four rule tables of one ``[assets.X]`` table ``t``: kwargs per table, None when absent."""
    out: dict[str, dict[str, Any] | None] = {}
    checkers = {"rsi": _rsi, "ma_dips": _ma_dips, "dynamic_frequency": _dynamic, "banking": _banking}
    for name, known in RULE_TABLES.items():
        sub = _subtable(t, name, known, problems)
        out[name] = None if sub is None else checkers[name](sub)
    return out


def _rsi(t: _Table) -> dict[str, Any]:
    r = checked(t, RsiRule, {
        "enabled": boolean,
        "period": integer(2, 365, "candles"),
        "wilder": boolean,
        "overbought": rsi_level,
        "oversold": rsi_level,
        "overbought_action": choice("skip", "trim"),
        "trim_factor": number_in(Decimal(0), Decimal(1), "a factor"),
        "oversold_factor": number_in(Decimal(0), MAX_FACTOR, "a factor"),
        "interval": choice("1d", "1h"),
    })
    if t.valid("period", "interval") and r["interval"] == "1h" and r["period"] > MAX_HOURLY_RSI_PERIOD:
        t.error("period", f"must be at most {MAX_HOURLY_RSI_PERIOD} with interval = \"1h\" (RSI reads "
                f"10 × period hourly closes, and hourly history reaches back 90 days), got {r['period']}")
    if t.valid("overbought", "oversold") and r["oversold"] >= r["overbought"]:
        key = "oversold" if "oversold" in t.data else "overbought"
        t.error(key, f"oversold ({r['oversold']}) must be below overbought ({r['overbought']})")
    return r


def _ma_dips(t: _Table) -> dict[str, Any]:
    period = integer(2, 1000, "days")
    pct = number_in(Decimal(0), Decimal(100), "a percentage", low_open=False)
    bound = number_in(Decimal(0), Decimal(100), "a percentage")
    factor = number_in(Decimal(0), MAX_FACTOR, "a multiplier")
    m = checked(t, MaDipsRule, {
        "enabled": boolean,
        "periods": array_of(period, example="[20, 50, 200]"),
        "kind": ma_kind,
        "thresholds": array_of(pct, example="[2, 5, 10]"),
        "tier_bounds": array_of(bound, example="[2, 5, 10]"),
        "multipliers": array_of(factor, example="[1.2, 1.5, 2.0, 2.5]", max_len=11),
    })
    if t.valid("periods") and len(set(m["periods"])) != len(m["periods"]):
        t.error("periods", f"must not repeat a period, got {list(m['periods'])}")
    if t.valid("periods", "thresholds") and len(m["periods"]) != len(m["thresholds"]):
        default = "" if "thresholds" in t.data else " (the default [2, 5, 10])"
        t.error("thresholds", f"needs one threshold per period: periods has {len(m['periods'])}, "
                              f"thresholds has {len(m['thresholds'])}{default}")
    bounds = m["tier_bounds"]
    if t.valid("tier_bounds") and any(a >= b for a, b in itertools.pairwise(bounds)):
        t.error("tier_bounds", f"must be strictly increasing, got [{', '.join(str(b) for b in bounds)}]")
    if t.valid("tier_bounds", "multipliers") and len(m["multipliers"]) != len(bounds) + 1:
        t.error("multipliers", f"needs one more multiplier than tier_bounds ({len(bounds)} bounds → "
                               f"{len(bounds) + 1} multipliers), got {len(m['multipliers'])}")
    return m


def _dynamic(t: _Table) -> dict[str, Any]:
    low_every = t.get("low_every", every, None)
    high_every = t.get("high_every", every, None)
    d = checked(t, DynamicFrequencyRule, {
        "enabled": boolean, "low_vol": percent, "high_vol": percent, "window_days": integer(2, 365, "days"),
    })
    for key, parsed in (("low_every", low_every), ("high_every", high_every)):
        d[key] = parsed[1].text if parsed else default_of(DynamicFrequencyRule, key)
    if t.valid("low_vol", "high_vol") and d["low_vol"] >= d["high_vol"]:
        key = "high_vol" if "high_vol" in t.data else "low_vol"
        t.error(key, f"low_vol ({d['low_vol']}) must be below high_vol ({d['high_vol']})")
    return d


def _banking(t: _Table) -> dict[str, Any]:
    return checked(t, BankingRule, {
        "enabled": boolean,
        "max_bank_usd": usdc("USDC", MAX_AMOUNT * 100),
        "max_spend_multiple": number_in(Decimal(0), MAX_FACTOR, "a multiple of the base amount"),
    })


def check_portfolio(raw: Any, symbols: list[str], problems: Problems) -> dict[str, Any]:
    """``[portfolio]``: ``targets`` (weights of configured assets summing to 1 ± 0.001) and
    ``budget_per_run`` (USDC), each requiring the other. Returns Portfolio kwargs."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add("portfolio", "must be a table ([portfolio])")
        return {}
    t = _Table(raw, "portfolio", PORTFOLIO_KEYS, problems)
    budget = t.get("budget_per_run", usdc("USDC", MAX_AMOUNT))
    targets: dict[str, Decimal] = {}
    raw_targets = raw.get("targets")
    if raw_targets is not None and not isinstance(raw_targets, Mapping):
        t.error("targets", "must be a table of weights such as {BTC = 0.5, ETH = 0.3, SOL = 0.2}")
        t.failed.add("targets")
    elif raw_targets is not None:
        weight = number_in(Decimal(0), Decimal(1), "a weight")
        known = {s.upper(): s for s in symbols}
        bad = False
        for name, value in raw_targets.items():
            symbol = str(name).strip().upper()
            if symbol not in known:
                hint = suggest(symbol, list(known))
                tail = f"; did you mean `{hint}`?" if hint else f"; configured: {', '.join(symbols)}"
                problems.add(f"portfolio.targets.{name}", f"not a configured asset{tail}")
                bad = True
                continue
            w, message = weight(value)
            if message is not None:
                problems.add(f"portfolio.targets.{name}", message)
                bad = True
                continue
            if symbol in targets:
                problems.add(f"portfolio.targets.{name}", "names an asset twice (case-insensitive)")
                bad = True
                continue
            targets[symbol] = w
        if not raw_targets:
            t.error("targets", "must name at least one asset")
        elif not bad and abs(sum(targets.values(), Decimal(0)) - 1) > TARGET_SUM_TOLERANCE:
            total = sum(targets.values(), Decimal(0))
            t.error("targets", f"weights must sum to 1 (± {TARGET_SUM_TOLERANCE}), got {total}")
    if raw_targets is not None and "budget_per_run" not in raw:
        t.error("budget_per_run", "required with targets: USDC per run steered toward the targets")
    if raw_targets is None and "budget_per_run" in raw:
        t.error("targets", "required with budget_per_run, e.g. targets = {BTC = 0.6, ETH = 0.4}")
    return {"targets": targets, "budget_per_run": budget}
