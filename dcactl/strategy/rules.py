"""The smart-DCA rules, each a pure function of one rule table and price history. No I/O.

Each rule returns a :class:`RuleEffect`: a Decimal multiplier (1 = neutral), a one-sentence reason,
and the indicator values it used. Short histories never raise and never produce NaN: the rule is
neutral and says "not enough history (have N of M days)". Float statistics are compared with the
configured Decimal thresholds through :func:`~dcactl.strategy.base.exact` (ten decimals).

``closes`` everywhere: completed daily closes, oldest first, float64 (USDC per unit); ``price``: the
latest price (USDC per unit) the MA-dip rule compares with the averages.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dcactl.strategy.indicators import annualised_volatility, last_ema_rows, last_rsi, pct_below

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig, DynamicFrequencyRule, MaDipsRule, RsiRule
    from dcactl.schedule.periods import Schedule

from dcactl.strategy.base import exact

__all__ = [
    "EMA_LOOKBACK",
    "MONTH_DAYS",
    "RSI_LOOKBACK",
    "FrequencyEffect",
    "RuleEffect",
    "averages_at",
    "frequency_effect",
    "ma_dip_effect",
    "ma_key",
    "nominal_days",
    "rsi_effect",
    "rsi_key",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ONE = Decimal(1)
MONTH_DAYS = Decimal("30.4375")
"""Nominal length of a calendar month in days (365.25 / 12), for dynamic-frequency scaling."""
RSI_LOOKBACK = 10
"""Wilder's RSI depends (ever less) on where it starts: decide() reads ``RSI_LOOKBACK × period``
closes, so live runs and backtests with longer histories agree (the seed's weight is < 0.01 %)."""
EMA_LOOKBACK = 3
"""Likewise, an EMA(n) reads ``EMA_LOOKBACK × n`` closes (the seed's weight ≈ e^-4 ≈ 2 %)."""


def _num(x: Decimal) -> str:
    """A configured number without trailing zeros: 2.50 → ``2.5``, 70 → ``70``."""
    return f"{x.normalize():f}"


def _px(x: float) -> str:
    """A price for a reason: six significant figures (``45012.3``, ``0.00123457``)."""
    return f"{x:.6g}"


def _short(have: int, need: int, unit: str = "days") -> str:
    return f"not enough history (have {have} of {need} {unit})"


@dataclass(frozen=True)
class RuleEffect:
    """What one rule does to a buy.

    ``multiplier`` scales the base amount (1 = neutral); ``skip`` is set (one sentence) when the rule
    skips the buy; ``dip`` marks a qualifying dip (banking spends on it); ``cause`` is a short phrase
    for the decision's summary when the rule changed something; ``indicators`` are JSON-safe floats
    or None (never NaN).
    """

    name: str
    multiplier: Decimal
    reason: str
    skip: str | None = None
    dip: bool = False
    overbought: bool = False
    cause: str | None = None
    indicators: dict[str, float | None] = field(default_factory=dict)


Memo = dict[tuple[Any, ...], Any]


def remember(memo: Memo | None, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """``compute()``, or the value ``memo`` already holds under ``key`` (which names everything the
    value depends on besides the closes the memo belongs to)."""
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def rsi_key(rule: RsiRule, size: int) -> tuple[Any, ...]:
    """The memo key of ``rule``'s RSI on a series of ``size`` closes of its interval."""
    return ("rsi", rule.interval, size, rule.period, rule.wilder)


def ma_key(kind: str, size: int, n: int) -> tuple[Any, ...]:
    """The memo key of the ``n``-close ``kind`` average (``SMA``/``EMA``) of ``size`` daily closes."""
    return ("ma", kind, size, n)


def rsi_effect(rule: RsiRule, closes: FloatArray, *, memo: Memo | None = None) -> RuleEffect:
    """``[rsi]``: RSI(period) of the last completed close ≥ ``overbought`` → skip (multiplier 0) or
    trim (× ``trim_factor``); ≤ ``oversold`` → × ``oversold_factor`` and a qualifying dip; else × 1.

    ``closes`` are of the rule's ``interval``: daily, or hourly for ``interval = "1h"`` (then the
    rule is named ``RSI(14, 1h)`` and its indicator ``rsi_14_1h``). ``memo``: see :func:`remember`."""
    hourly = rule.interval == "1h"
    name = f"RSI({rule.period}, 1h)" if hourly else f"RSI({rule.period})"
    key = f"rsi_{rule.period}_1h" if hourly else f"rsi_{rule.period}"
    need = rule.period + 1
    value = remember(memo, rsi_key(rule, closes.size),
                     lambda: last_rsi(closes, rule.period, rule.wilder)) if closes.size >= need else None
    if value is None:
        unit = "hours" if hourly else "days"
        why = _short(closes.size, need, unit) if closes.size < need else "a missing close in the window"
        return RuleEffect("rsi", ONE, f"{name}: {why} → ×1", indicators={key: None})
    shown = f"{value:.1f}"
    ind: dict[str, float | None] = {key: value}
    zone = rsi_zone(rule, value)
    ob, os_ = _num(rule.overbought), _num(rule.oversold)
    if zone == OVERBOUGHT:
        text = f"{name} {shown} ≥ overbought {ob}"
        if rule.overbought_action == "skip":
            return RuleEffect("rsi", Decimal(0), f"{text}: skip", skip=text, overbought=True, cause=text,
                              indicators=ind)
        trim = _num(rule.trim_factor)
        return RuleEffect("rsi", rule.trim_factor, f"{text}: trim ×{trim}", overbought=True,
                          cause=f"{text} (trimmed ×{trim})", indicators=ind)
    if zone == OVERSOLD:
        factor = rule.oversold_factor
        note = " (buy as usual)" if factor == ONE else ""
        return RuleEffect("rsi", factor, f"{name} {shown} ≤ oversold {os_}: ×{_num(factor)}{note}", dip=True,
                          cause=f"{name} {shown} ≤ oversold {os_}", indicators=ind)
    return RuleEffect("rsi", ONE, f"{name} {shown} between oversold {os_} and overbought {ob}: ×1",
                      indicators=ind)


def _tier(rule: MaDipsRule, k: int) -> tuple[Decimal, str]:
    """The multiplier of tier ``k`` (:func:`deepest_dips`) and the tier's text (``≥ 10 %``, ``5–10 %``)."""
    bounds = rule.tier_bounds
    if k == 0:
        text = f"< {_num(bounds[0])} %" if bounds else "any dip"
    elif k == len(bounds):
        text = f"≥ {_num(bounds[-1])} %"
    else:
        text = f"{_num(bounds[k - 1])}–{_num(bounds[k])} %"
    return rule.multipliers[k], text


UNKNOWN, NEUTRAL, OVERSOLD, OVERBOUGHT = -1, 0, 1, 2
"""Where an RSI value stands (:func:`rsi_zones`)."""


def _ten(x: FloatArray) -> FloatArray:
    """Statistics compared with configured thresholds at ten decimals, which drops representation
    noise (9.999999999999998 % compares as 10 %)."""
    rounded: FloatArray = np.round(x, 10)
    return rounded


def _ten_one(x: float) -> float:
    """:func:`_ten` of one float, by numpy's own steps (× 1e10, round half to even, ÷ 1e10) in
    Python floats: numpy calls on one value cost microseconds each (tests hold the two equal)."""
    y = x * 1e10
    if math.isfinite(y):
        whole = float(round(y))
        y = math.copysign(whole, y) if whole == 0 else whole  # rint keeps the sign of a zero
    return y / 1e10


def rsi_zone(rule: RsiRule, value: float) -> int:
    """:func:`rsi_zones` of one value (the same comparisons; a test holds them equal)."""
    if math.isnan(value):
        return UNKNOWN
    v = _ten_one(value)
    return OVERBOUGHT if v >= float(rule.overbought) else OVERSOLD if v <= float(rule.oversold) else NEUTRAL


def rsi_zones(rule: RsiRule, values: FloatArray) -> IntArray:
    """Each RSI value's zone under ``rule``: ``OVERBOUGHT`` (≥ overbought), ``OVERSOLD`` (≤ oversold),
    ``NEUTRAL``, or ``UNKNOWN`` (NaN). The backtest's vectorised replay groups ticks by it;
    :func:`rsi_effect` reads :func:`rsi_zone`, the same comparison on one value (tests hold the two
    equal)."""
    v = _ten(values)
    with np.errstate(invalid="ignore"):
        zone = np.where(v >= float(rule.overbought), OVERBOUGHT, np.where(v <= float(rule.oversold), OVERSOLD,
                                                                          NEUTRAL))
    zones: IntArray = np.where(np.isnan(values), UNKNOWN, zone)
    return zones


@dataclass(frozen=True)
class Dips:
    """:func:`deepest_dips` per tick: which periods' dips reach their threshold (periods × ticks), the
    index of the deepest (-1: none qualifies) and its tier (the number of ``tier_bounds`` it reaches)."""

    qualifies: npt.NDArray[np.bool_]
    best: IntArray
    tier: IntArray


def deepest_dips(rule: MaDipsRule, below: FloatArray) -> Dips:
    """``below[i, t]``: percent the price is below MA(periods[i]) at tick t (NaN: unknown). A dip
    qualifies at its threshold; the deepest qualifying one (the first of equals) picks the tier. The
    backtest's vectorised replay groups ticks by it; :func:`ma_dip_effect` reads :func:`deepest_dip`,
    the same computation at one tick (tests hold the two equal)."""
    depth = _ten(below)
    thresholds = np.array([float(t) for t in rule.thresholds])[:, None]
    with np.errstate(invalid="ignore"):
        qualifies = depth >= thresholds
    masked = np.where(qualifies, depth, -np.inf)
    best = np.argmax(masked, axis=0)
    deepest = masked[best, np.arange(masked.shape[1])]
    bounds = np.array([float(b) for b in rule.tier_bounds])
    tier = (deepest[:, None] >= bounds[None, :]).sum(axis=1)
    return Dips(qualifies, np.where(qualifies.any(axis=0), best, -1), tier)


def deepest_dip(rule: MaDipsRule, below: Sequence[float]) -> tuple[list[bool], int, int]:
    """:func:`deepest_dips` at one tick (``below[i]``: percent under MA(periods[i]), NaN unknown):
    which periods qualify, the deepest qualifying one (-1: none) and its tier; the same comparisons
    in Python floats (a test holds them equal)."""
    depth = [_ten_one(b) for b in below]
    qualifies = [d >= float(t) for d, t in zip(depth, rule.thresholds, strict=True)]
    best, deepest = -1, -math.inf
    for i, (d, ok) in enumerate(zip(depth, qualifies, strict=True)):
        if ok and (best < 0 or d > deepest):  # the first of equals, as argmax
            best, deepest = i, d
    return qualifies, best, sum(1 for b in rule.tier_bounds if deepest >= float(b))


def _average(closes: FloatArray, kind: str, n: int) -> float:
    return float(averages_at(closes[None, :], kind, n)[0])


def averages_at(windows: FloatArray, kind: str, n: int) -> FloatArray:
    """:func:`_average` of each row of ``windows`` (the tails :func:`ma_dip_effect` reads at many
    ticks), computed at once and bit for bit the same."""
    if kind == "SMA":
        means: FloatArray = np.ascontiguousarray(windows[:, -n:]).mean(axis=-1)
        return means
    return last_ema_rows(windows, n)


def ma_dip_effect(
    rule: MaDipsRule, closes: FloatArray, price: float | None, *, memo: Memo | None = None
) -> RuleEffect:
    """``[ma_dips]``: the price is in a dip below MA(n) when at least that period's threshold percent
    below it; the deepest such dip picks the tier multiplier; no dip → × 1 (and no qualifying dip)."""
    kind = rule.kind
    lower = kind.lower()
    ind: dict[str, float | None] = {}
    notes: list[str] = []
    ok_price = price is not None and math.isfinite(price) and price > 0
    averages: list[float] = []
    missing: dict[int, str] = {}  # period index → why it has no average
    for i, n in enumerate(rule.periods):
        key = f"{lower}_{n}"
        ind[key] = ind[f"below_{key}_pct"] = None
        avg = math.nan
        if closes.size < n:
            missing[i] = f"{n}-day {kind}: {_short(closes.size, n)}"
        else:
            avg = remember(memo, ma_key(kind, closes.size, n), functools.partial(_average, closes, kind, n))
            if math.isfinite(avg):
                ind[key] = avg
            else:
                missing[i] = f"{n}-day {kind}: a missing close in the window"
        averages.append(avg)
    at = price if price is not None and ok_price else math.nan
    belows = [math.nan if (b := pct_below(at, a)) is None else b for a in averages]
    qualifies, best, deepest_tier = deepest_dip(rule, belows)
    for i, (n, threshold) in enumerate(zip(rule.periods, rule.thresholds, strict=True)):
        below = belows[i]
        if i in missing:
            notes.append(missing[i])
        elif not math.isnan(below):
            ind[f"below_{lower}_{n}_pct"] = below
            if not qualifies[i]:
                where = f"{below:.1f} % below" if below >= 0 else f"{-below:.1f} % above"
                notes.append(f"{where} the {n}-day {kind} (a dip needs {_num(threshold)} %)")
    if not ok_price:
        notes.insert(0, "no current price")
    if best < 0:
        detail = f" ({'; '.join(notes)})" if notes else ""
        return RuleEffect("ma_dips", ONE, f"no MA dip{detail} → ×1", indicators=ind)
    n, threshold, below = rule.periods[best], rule.thresholds[best], belows[best]
    multiplier, tier = _tier(rule, deepest_tier)
    assert price is not None
    avg_text = _px(ind[f"{lower}_{n}"] or 0.0)
    text = f"price {_px(price)} is {below:.1f} % below its {n}-day {kind} {avg_text}"
    return RuleEffect(
        "ma_dips", multiplier,
        f"{text} (dip threshold {_num(threshold)} %), the deepest dip: ×{_num(multiplier)} (tier {tier})",
        dip=True, cause=text, indicators=ind,
    )


def nominal_days(schedule: Schedule) -> Decimal:
    """A schedule's nominal period length in days: hour 1/24, day 1, week 7, month 30.4375
    (365.25 / 12), a fixed ``<N>h/d/w`` its seconds / 86400. DST and month lengths are ignored on
    purpose: the scaling keeps the *average* monthly budget, not each calendar month's."""
    if schedule.fixed_seconds is not None:
        return Decimal(schedule.fixed_seconds) / 86400
    return {"hour": ONE / 24, "day": ONE, "week": Decimal(7), "month": MONTH_DAYS}[schedule.unit or "day"]


def _days(x: Decimal) -> str:
    """``7``, ``30.4375``, ``0.04167`` (an hour)."""
    text = f"{x.normalize():f}"
    return text if len(text) <= 8 else f"{x:.4g}"


def _every(schedule: Schedule) -> str:
    return f"every {schedule.noun}"


@dataclass(frozen=True)
class FrequencyEffect:
    """The effective schedule, the per-buy scale ``nominal_days(effective) / nominal_days(configured)``
    (1 when unchanged), a reason (None when the rule is off) and the volatility it used."""

    schedule: Schedule
    scale: Decimal
    reason: str | None
    indicators: dict[str, float | None]
    cause: str | None = None


def frequency_effect(asset: AssetConfig, closes: FloatArray) -> FrequencyEffect:
    """``[dynamic_frequency]``: annualised volatility < ``low_vol`` → ``low_every``, > ``high_vol`` →
    ``high_every``, else the asset's ``every`` (also when the volatility is unknown)."""
    rule: DynamicFrequencyRule | None = asset.dynamic_frequency
    configured = asset.schedule
    if rule is None or not rule.enabled:
        return FrequencyEffect(configured, ONE, None, {})
    key = f"vol_{rule.window_days}d"
    vol = annualised_volatility(closes, rule.window_days)
    if vol is None:
        need = rule.window_days + 1
        why = _short(closes.size, need) if closes.size < need else "a zero or missing close in the window"
        return FrequencyEffect(configured, ONE, f"dynamic frequency: volatility unknown, {why} → "
                                                f"{_every(configured)} as configured", {key: None})
    v, low, high = exact(vol), rule.low_vol, rule.high_vol
    shown = f"volatility {vol:.1f} % over {rule.window_days} days"
    if v < low:
        chosen, regime = rule.low_schedule, f"{shown} < low {_num(low)} %"
    elif v > high:
        chosen, regime = rule.high_schedule, f"{shown} > high {_num(high)} %"
    else:
        return FrequencyEffect(configured, ONE, f"dynamic frequency: {shown} between {_num(low)} % and "
                                                f"{_num(high)} % → {_every(configured)} as configured",
                               {key: vol})
    if chosen == configured:
        return FrequencyEffect(configured, ONE, f"dynamic frequency: {regime} → {_every(configured)}, "
                                                "already the configured schedule", {key: vol})
    scale = nominal_days(chosen) / nominal_days(configured)
    ratio = f"{_days(nominal_days(chosen))} / {_days(nominal_days(configured))} days"
    reason = (f"dynamic frequency: {regime} → {_every(chosen)} instead of {_every(configured)}; per-buy "
              f"amounts ×{scale:.4f} ({ratio}) to keep the monthly budget")
    return FrequencyEffect(chosen, scale, reason, {key: vol}, cause=f"{_every(chosen)} while {regime}")
