"""A strategy's figures from its buys: the daily marks (floats: a curve to draw), the exact max
drawdown on the worst day they show, the XIRR, and per asset units, invested, average cost and value.
No I/O."""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, Inexact, Rounded, localcontext
from typing import Any

import numpy as np

from dcactl.backtest.prices import Series
from dcactl.backtest.results import BPS, CENT, ZERO, AssetFigures, Costs, StrategyResult
from dcactl.backtest.tracks import (
    DAY_MS,
    Sweep,
    _AssetTrack,
    _DailyCloses,
    _LaneRun,
    _Marks,
)
from dcactl.models import BacktestBuy, CurvePoint, StrategyCurve

DAY = timedelta(days=1)


def _figures(
    name: str,
    tracks: Sequence[_AssetTrack],
    daily: Mapping[str, Series],
    buys: list[BacktestBuy],
    skips: Counter[str],
    start: datetime,
    end: datetime,
    costs: Costs,
    sweep: Sweep | None = None,
    lanes: Sequence[_LaneRun] | None = None,
    curves: bool = True,
) -> StrategyResult:
    """Daily marks (value at each day's close against invested), XIRR, drawdown, per-asset figures.
    ``lanes``: when every track is a lane, their runs in track order (``buys`` is their buys, in that
    order): their floats are read instead of converting each buy. ``curves``: keep the daily marks
    and buys as the result's curve (what ``--html`` draws); without, the curve is None and its
    points are never made.

    The marks are computed for all days at once in floats (a curve to draw); the drawdown is then
    computed exactly (Decimal, as the figures) on the days whose float drawdown is within a hair of
    the worst, so it is the exact worst day's."""
    place = {t.config.symbol: a for a, t in enumerate(tracks)}
    ordered_floats = _lane_order(buys, lanes)
    if ordered_floats is None:
        buys.sort(key=lambda b: (b.time, place[b.asset]))  # as one run buys: by tick, then config order
        stamps, usd, size = _floats(buys, sweep)
        where = np.array([place[b.asset] for b in buys], dtype=np.int64)
    else:
        stamps, usd, size, where = ordered_floats
    symbols = tuple(place)
    frame = sweep.marks.get(symbols) if sweep is not None else None
    if frame is None:
        frame = _Marks.of(tracks, daily, start, end)
        if sweep is not None:
            sweep.marks[symbols] = frame
    marks, days_ms, ordered, last_close, closes = (frame.closes, frame.days_ms, frame.days, frame.last_close,
                                                   frame.matrix)
    keep = 1 - costs.fee_bps / BPS  # units gained per unit bought (the fee is paid in the base token)
    # a buy counts from the first day whose close comes after it (day + 1 day > its time)
    buy_ms = (stamps * 1000).astype(np.int64)
    day_of = np.searchsorted(days_ms, buy_ms - DAY_MS, side="right")
    on_day = day_of.tolist()
    units = np.zeros((days_ms.size + 1, len(tracks)))
    sizes = size * float(keep)  # a curve to draw: floats
    np.add.at(units, (day_of, where), sizes)
    units = np.cumsum(units[:-1], axis=0)
    values = (units * closes).sum(axis=1).tolist()
    # invested by each day: the buys counted by then (on_day never decreases), added in order from 0
    spent = list(itertools.accumulate((b.usd for b in buys), initial=ZERO))
    invested = [spent[n] for n in np.searchsorted(day_of, np.arange(days_ms.size), side="right").tolist()]
    points = [
        CurvePoint(ordered[k], Decimal(f"{values[k]:.2f}"), invested[k])
        for k in range(days_ms.size) if invested[k] > 0
    ] if curves else []
    worst = _worst_days(values, invested)
    bought: dict[str, list[Decimal]] = {t.config.symbol: [] for t in tracks}  # each asset's, in buy order
    at_: dict[str, list[int]] = {t.config.symbol: [] for t in tracks}  # and their places among the buys
    if worst:
        for symbol, a in place.items():
            mine = np.flatnonzero(where == a).tolist()
            bought[symbol] = [buys[n].size for n in mine]
            at_[symbol] = mine
    exact = [_exact_mark(k, tracks, marks, last_close, bought, at_, bisect.bisect_right(on_day, k), keep,
                         invested[k], ordered[k]) for k in worst]
    figures = []
    total_value = total_invested = total_fees = ZERO
    for t in tracks:
        s = t.config.symbol
        h = t.holding
        own = t.shared.closes
        close = own.exact[-1] if own is not None and own.exact else None
        value = h.units * close if close is not None else ZERO
        figures.append(
            AssetFigures(
                s, h.units, h.invested, (h.invested / h.units) if h.units > 0 else None, value, h.buys,
                None if own is None else own.average,
            )
        )
        total_value += value
        total_invested += h.invested
        total_fees += h.fees_usd
    curve = StrategyCurve(name, tuple(points), tuple(buys)) if curves else None
    # the day after the last mark with money in (invested never falls: the last day, if any is)
    at = ordered[-1] + DAY if ordered and invested[-1] > 0 else end
    return StrategyResult(
        name,
        total_invested,
        total_value,
        total_fees,
        xirr_pct(buys, total_value, at, -usd),
        max_drawdown_pct(exact),
        len(buys),
        skips,
        figures,
        curve,
    )


def _lane_order(buys: list[BacktestBuy], lanes: Sequence[_LaneRun] | None
                ) -> tuple[np.ndarray[Any, Any], ...] | None:
    """With every track a lane (``lanes``, in track order; ``buys`` their buys in that order): put
    ``buys`` in the order one run buys them (by time, then track) and return their times (POSIX s),
    USDC and sizes as floats and their tracks, in that order. By float time: it orders instants as
    their datetimes do while distinct microseconds stay distinct floats (under 2^32 s, year 2106);
    None (sort the buys themselves) past it or without lanes."""
    if lanes is None:
        return None
    floats = np.concatenate([run.floats for run in lanes], axis=1) if lanes else np.empty((3, 0))
    if floats.shape[1] != len(buys) or (floats.size and float(np.abs(floats[0]).max()) >= 2.0**32):
        return None
    track = np.repeat(np.arange(len(lanes), dtype=np.int64), [len(run.buys) for run in lanes])
    order = np.lexsort((track, floats[0]))  # by time, then track (the last key is the first)
    buys[:] = [buys[i] for i in order.tolist()]
    stamps, usd, size = floats[:, order]
    return stamps, usd, size, track[order]


def _floats(buys: Sequence[BacktestBuy], sweep: Sweep | None) -> tuple[np.ndarray[Any, Any], ...]:
    """The buys' times (POSIX seconds), USDC and sizes as float arrays, through ``sweep``'s cache."""
    known = sweep.floats if sweep is not None else {}
    rows = []
    for b in buys:
        row = known.get(id(b))
        if row is None or row[0] is not b:
            row = known[id(b)] = (b, b.time.timestamp(), float(b.usd), float(b.size))
        rows.append(row)
    if not rows:
        return np.empty(0), np.empty(0), np.empty(0)
    _, stamps, usd, size = zip(*rows, strict=True)
    return np.array(stamps), np.array(usd), np.array(size)


def _worst_days(values: Sequence[float], invested: Sequence[Decimal]) -> list[int]:
    """The days (indices) whose (value − invested) / invested, in floats, is within 1e-9 of the
    lowest (float error here is below 1e-12): the exact worst is among them."""
    spent = np.array([float(i) for i in invested])
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(spent > 0, (np.array(values) - spent) / spent, np.inf)
    if not dd.size or not np.isfinite(dd).any():
        return []
    return np.flatnonzero(dd <= dd.min() + 1e-9).tolist()


def _exact_mark(
    k: int,
    tracks: Sequence[_AssetTrack],
    marks: Sequence[_DailyCloses],
    last_close: Sequence[Sequence[int]],
    sizes: Mapping[str, Sequence[Decimal]],
    where: Mapping[str, Sequence[int]],
    counted: int,
    keep: Decimal,
    invested: Decimal,
    day: datetime,
) -> CurvePoint:
    """Day ``k``'s mark in exact arithmetic: each asset's units so far (its ``sizes`` among the first
    ``counted`` buys, ``where`` their places) × its last close."""
    value = ZERO
    for t, m, idx in zip(tracks, marks, last_close, strict=True):
        if idx and idx[k] >= 0:
            s = t.config.symbol
            value += _kept(sizes[s][:bisect.bisect_left(where[s], counted)], keep) * m.exact[idx[k]]
    return CurvePoint(day, value, invested)


def _kept(sizes: Sequence[Decimal], keep: Decimal) -> Decimal:
    """The units ``sizes`` leave after the fee: ``size × keep`` added one by one from zero, in the
    current context — computed as ``keep × Σ size`` when that is provably the same Decimal: every
    term positive and every product and running sum exact (their digits fit the precision), so both
    are the exact value with the same exponent."""
    if not sizes:
        return ZERO
    low = min(x.as_tuple().exponent for x in sizes)
    with localcontext() as ctx:
        ctx.clear_flags()
        fast = sum(sizes, ZERO) * keep
        exact = not ctx.flags[Inexact] and not ctx.flags[Rounded]
        precision = ctx.prec
    step = keep.as_tuple().exponent
    if (exact and keep > 0 and isinstance(low, int) and isinstance(step, int) and min(sizes) > 0
            and low <= 0 and step <= 0 and fast.as_tuple().exponent == low + step
            and fast.adjusted() - (low + step) < precision):
        return fast
    units = ZERO
    for size in sizes:
        units += size * keep
    return units


def xirr_pct(buys: Sequence[BacktestBuy], final_value: Decimal, at: datetime,
             cash: np.ndarray[Any, Any] | None = None) -> Decimal | None:
    """The money-weighted annual return (percent, 2 decimals): the rate at which the buys (outflows at
    their times) and the final value (an inflow at ``at``) discount to zero. None without buys.
    ``cash``: the buys' ``-float(usd)`` when already known."""
    if not buys or final_value <= 0:
        return None if not buys else Decimal(-100)
    if cash is None:
        cash = np.array([-float(b.usd) for b in buys])
    year_of: dict[datetime, float] = {}  # buys share their ticks' times
    for b in buys:
        if b.time not in year_of:
            year_of[b.time] = (at - b.time).total_seconds() / (365 * 86_400)
    years = np.array([year_of[b.time] for b in buys])
    value = float(final_value)

    def npv(rate: float) -> float:  # value at ``at`` of every flow compounded at ``rate``, plus the inflow
        return value + float(np.dot(cash, np.exp(years * math.log1p(rate))))

    lo, hi = -0.9999, 1.0  # npv falls as the rate rises (the buys grow, the final value does not)
    while npv(hi) > 0 and hi < 1e6:
        hi *= 2
    if npv(lo) < 0 or npv(hi) > 0:
        return None
    for step in range(100):  # bisection: 2^-100 of the bracket, far below the cent of a percent shown
        mid = (lo + hi) / 2
        if npv(mid) > 0:
            lo = mid
        else:
            hi = mid
        if step >= 16 and _percent(lo) == _percent(hi):
            # the bracket only narrows, and its every point shows the same: so would the 100th step's
            # midpoint (it lies in [lo, hi]; × 100, repr and quantize never reverse an order)
            break
    return _percent((lo + hi) / 2)


def _percent(rate: float) -> Decimal:
    """A rate as the percent shown (2 decimals)."""
    return Decimal(repr(rate * 100)).quantize(CENT)


def max_drawdown_pct(points: Sequence[CurvePoint]) -> Decimal:
    """The lowest (value − invested) / invested over the daily marks, in percent (0 when never under)."""
    worst = ZERO
    for p in points:
        if p.invested_usd > 0:
            worst = min(worst, (p.value_usd - p.invested_usd) / p.invested_usd * 100)
    return worst.quantize(CENT)
