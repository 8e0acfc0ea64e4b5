"""An asset replayed over all its ticks at once (a lane): when no asset's buy depends on another's
and the asset's on no bank, its decision at a tick is a function of where its rules stand (asked of
:func:`~dcactl.run.core.decide_amounts` once per situation) and which ticks buy a function of its
schedule's periods. Strategies whose decisions come out the same share the run. No I/O."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from dcactl.backtest.prices import Bar
from dcactl.backtest.results import BPS, ZERO, Costs, Tick
from dcactl.backtest.tracks import (
    _AssetTrack,
    _Fill,
    _LaneRun,
    _ms,
    history_at,
)
from dcactl.config.schema import AssetConfig, Config
from dcactl.models import BacktestBuy
from dcactl.run.core import Amount, AmountInput, decide_amounts
from dcactl.schedule.periods import Schedule, period_of
from dcactl.strategy.decide import history_days
from dcactl.strategy.indicators import pct_below_at
from dcactl.strategy.rules import deepest_dips, ma_key, rsi_key, rsi_zones
from dcactl.venues.rounding import MIN_NOTIONAL_USDC


def _independent(config: Config) -> bool:
    """No asset's buy depends on another's: no run or day cap, no rebalancing."""
    settings, portfolio = config.settings, config.portfolio
    rebalancing = portfolio is not None and bool(portfolio.targets) and bool(portfolio.budget_per_run)
    return settings.max_usd_per_run is None and settings.max_usd_per_day is None and not rebalancing


def _lane_ready(track: _AssetTrack) -> bool:
    """Whether :func:`_lane` can replay ``track``: daily ticks, every tick with the full history the
    rules read (precomputed), a fixed base amount on a fixed schedule and no bank — so a tick's
    decision is a function of where its indicators stand, and which of its ticks buy a function of
    its schedule's periods."""
    a = track.config
    return (
        track.frame.ticks.interval == "1d" and not track.frame.hour_close.size and bool(track.frame.window)
        and min(track.frame.counts) >= history_days(a) and bool(np.all(track.frame.opens > 0))
        and not _on(a.dynamic_frequency) and a.sizing.kind != "volatility" and not _on(a.banking)
        and not (a.rsi is not None and a.rsi.enabled and a.rsi.interval != "1d")
    )


def _on(rule: Any) -> bool:
    return rule is not None and bool(rule.enabled)


def _situations(track: _AssetTrack) -> np.ndarray[Any, Any]:
    """Per tick, a number for where the rules stand (the RSI's zone, the deepest MA dip's tier):
    ticks with the same number get the same decision from :func:`decide_amounts`."""
    a, frame, series, known = track.config, track.frame, track.shared.series, track.shared.situations
    need = history_days(a)
    code = np.zeros(len(frame.window), dtype=np.int64)
    if a.rsi is not None and a.rsi.enabled:
        key: tuple[Any, ...] = (a.rsi, need)  # the zones of one RSI rule (strategies share them)
        if key not in known:
            known[key] = rsi_zones(a.rsi, series[rsi_key(a.rsi, need)]) + 1
        code = known[key]
    dips = a.ma_dips
    if dips is not None and dips.enabled:
        key = (dips, need)  # and the tiers of one MA-dips rule
        if key not in known:
            averages = np.array([series[ma_key(dips.kind, need, n)] for n in dips.periods])
            deepest = deepest_dips(dips, pct_below_at(frame.opens[None, :], averages))
            known[key] = np.where(deepest.best >= 0, deepest.tier + 1, 0)
        code = code * (len(dips.tier_bounds) + 2) + known[key]
    return code


def _firsts(codes: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    """Each distinct value of ``codes`` (ascending) with the index of its first tick (np.unique would
    import numpy.ma: 8 ms)."""
    if not codes.size:
        return []
    order = np.argsort(codes, kind="stable")  # equal codes keep their ticks' order: the first leads
    ranked = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    return list(zip(ranked[starts].tolist(), order[starts].tolist(), strict=True))


def _period_ends(track: _AssetTrack, zone: ZoneInfo) -> list[int]:
    """Per tick, the index of the first tick at or after the end of its schedule period."""
    return _period_ends_of(track.config.schedule, zone.key, track.frame.times)


@functools.lru_cache(maxsize=64)
def _period_ends_of(schedule: Schedule, zone: str, times: tuple[datetime, ...]) -> list[int]:
    """:func:`_period_ends` for ticks at these instants (the same for every asset with daily candles
    over the window, and every strategy with this schedule and zone)."""
    ends: list[int] = []
    i, m = 0, len(times)
    ms = np.array([_ms(t) for t in times], dtype=np.int64)
    while i < m:
        period = period_of(schedule, times[i], zone)
        j = max(i + 1, int(np.searchsorted(ms, _ms(period.end), side="left")))
        ends += [j] * (j - i)
        i = j
    return ends


def _lane(
    config: Config,
    track: _AssetTrack,
    costs: Costs,
    slip: Decimal,
    buys: list[BacktestBuy],
    skips: Counter[str],
    trace: list[Tick] | None,
    decisions: Decisions,
) -> _LaneRun:
    """One asset over all its ticks at once (:func:`_lane_ready`; no cap and no rebalancing, so no
    other asset matters). Its decisions come from :func:`decide_amounts` itself, once per situation
    (:func:`_situations`) at the first tick in it; then per schedule period the first tick whose
    decision buys and whose fill reaches the minimum buys, as the due rule and ``run`` would: every
    tick of the period before it was due and skipped, every tick after it is not due. Strategies
    whose decisions for the asset come out the same share the result; the strategy's assets with the
    same rules share their decisions (``decisions``: :func:`_decisions_of`)."""
    zone = ZoneInfo(config.settings.timezone)
    codes = _situations(track)
    decided: dict[int, Amount] = {}
    known = _decisions_of(decisions, track.config)
    for code, first in _firsts(codes):
        if code not in known:
            known[code] = _decide_at(config, track, first, zone)
        decided[code] = known[code]
    # what each tick spends (None: nothing): the distinct amounts, and per tick the index of its own
    spent = {code: (a.usd if a.skip is None else None) for code, a in decided.items()}
    amounts = sorted(set(spent.values()), key=lambda x: (x is None, x or ZERO))
    lookup = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    for code, value in spent.items():
        lookup[code] = amounts.index(value)
    spends = lookup[codes]
    lane_key = (track.config.schedule, zone.key, costs, slip, tuple(amounts), spends.tobytes())
    run = track.shared.lanes.get(lane_key)
    if run is None:
        run = track.shared.lanes[lane_key] = _lane_run(track, zone, spends, amounts, costs, slip)
    h = track.holding
    h.units, h.invested, h.fees_usd, h.buys = run.units, run.invested, run.fees, len(run.buys)
    buys += [f[0] for f in run.buys]
    if run.skipped:
        skips["rules"] += run.skipped
    if run.missed:
        skips["minimum"] += run.missed
    if trace is not None:
        _lane_trace(config, track, zone, decided, codes.tolist(), _period_ends(track, zone), run.outcomes,
                    trace)
    return run


Decisions = dict[AssetConfig, dict[int, Amount]]
"""One strategy's :func:`decide_amounts` answers for its lanes: by rules (:func:`_decisions_of`), then
by situation (:func:`_situations`)."""


def _decisions_of(decisions: Decisions, asset: AssetConfig) -> dict[int, Amount]:
    """The answers known for a lane of ``asset`` (filled in as they are asked), by situation. A lane's
    decision (no bank, no cap, no rebalancing, a fixed base on a fixed schedule: :func:`_lane_ready`)
    is a function of its rules and where they stand, as the lanes rely on; the symbol, venue and pair
    only name it (a skip's sentence, which names the indicator's value, is asked at its own tick by
    :func:`_lane_trace`). So the assets of one strategy whose configs differ only in those share the
    answers."""
    return decisions.setdefault(replace(asset, symbol="", venue="auto", pair=None, coingecko_id=None), {})


def _lane_run(
    track: _AssetTrack,
    zone: ZoneInfo,
    codes: np.ndarray[Any, Any],
    spend: Sequence[Decimal | None],
    costs: Costs,
    slip: Decimal,
) -> _LaneRun:
    """The buys of one asset whose ticks spend ``spend[codes[i]]`` (None: the decision buys nothing).

    Per schedule period the first tick whose decision buys is found for all periods at once; when
    each of those fills, those are the buys (every tick of a period before its buy was skipped by
    the rules). A fill under the minimum leaves its period open to its next buying tick: then the
    periods are walked one by one (:func:`_lane_walk`)."""
    m = len(track.frame.window)
    buying = np.array([a is not None for a in spend], dtype=bool)[codes]
    # following[i]: the first tick ≥ i whose decision buys (m: none)
    index = np.where(buying, np.arange(m), m)
    following = np.minimum.accumulate(index[::-1])[::-1] if m else index
    starts, stops = _periods(track, zone)
    firsts = following[starts]
    hit = firsts < stops
    at = firsts[hit]
    fills = _lane_fills(track, at.tolist(), codes[at].tolist(), spend, costs, slip)
    if None in fills:  # a fill under the minimum: its period goes on
        return _lane_walk(track, zone, codes, following.tolist(), spend, costs, slip)
    skipped = int((np.where(hit, firsts, stops) - starts).sum())
    return _LaneRun.of(fills, skipped, dict.fromkeys(at.tolist(), "bought"))  # type: ignore[arg-type]


def _periods(track: _AssetTrack, zone: ZoneInfo) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The schedule periods of ``track``'s ticks: per period, the index of its first tick and of the
    first tick at or after its end (:func:`_period_ends`)."""
    return _periods_of(track.config.schedule, zone.key, track.frame.times)


@functools.lru_cache(maxsize=64)
def _periods_of(schedule: Schedule, zone: str, times: tuple[datetime, ...]
                ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """:func:`_periods` for ticks at these instants (read-only arrays: they are shared)."""
    ends = np.array(_period_ends_of(schedule, zone, times), dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ends[1:] != ends[:-1]))) if ends.size else ends
    stops = ends[starts]
    starts.setflags(write=False)
    stops.setflags(write=False)
    return starts, stops


def _lane_fills(
    track: _AssetTrack,
    ticks: Sequence[int],
    codes: Sequence[int],
    spend: Sequence[Decimal | None],
    costs: Costs,
    slip: Decimal,
) -> list[_Fill | None]:
    """The fills (:func:`_lane_fill`) of ``spend[codes[n]]`` at the window's tick ``ticks[n]``, each
    computed once per amount, costs and slippage (:func:`_known_fills`); gathered without a Python
    step per tick when all are known."""
    known: list[Any] = [None if a is None else _known_fills(track, a, costs, slip) for a in spend]
    rows: list[list[Any]] = list(map(known.__getitem__, codes))
    out: list[Any] = list(map(list.__getitem__, rows, ticks))
    if _UNKNOWN in out:
        window = track.frame.window
        for n, fill in enumerate(out):
            if fill is _UNKNOWN:
                j, amount = ticks[n], spend[codes[n]]
                assert amount is not None
                out[n] = rows[n][j] = _lane_fill(track, window[j], amount, costs, slip)
    return out


_UNKNOWN: Any = object()
"""A fill not computed yet (:func:`_known_fills`)."""


def _known_fills(track: _AssetTrack, amount: Decimal, costs: Costs, slip: Decimal) -> list[Any]:
    """The fills of ``amount`` USDC at each tick of ``track``'s window (:attr:`Shared.fills`: the same
    for every strategy), :data:`_UNKNOWN` where not computed yet."""
    key = (amount, costs, slip)
    fills = track.shared.fills.get(key)
    if fills is None:
        fills = track.shared.fills[key] = [_UNKNOWN] * len(track.frame.window)
    return fills


def _lane_walk(
    track: _AssetTrack,
    zone: ZoneInfo,
    codes: np.ndarray[Any, Any],
    following: Sequence[int],
    spend: Sequence[Decimal | None],
    costs: Costs,
    slip: Decimal,
) -> _LaneRun:
    """:func:`_lane_run` period by period, tick after tick where a fill misses the minimum (``following[i]``:
    the first tick ≥ i whose decision buys)."""
    window = track.frame.window
    m = len(window)
    ends = _period_ends(track, zone)
    fills = [None if a is None else _known_fills(track, a, costs, slip) for a in spend]
    code_of = codes.tolist()
    bought: list[_Fill] = []
    outcomes: dict[int, str] = {}
    skipped = i = 0
    while i < m:
        end, j = ends[i], following[i]
        if j >= end:  # no tick of this period buys: each was due and skipped by the rules
            skipped += end - i
            i = end
            continue
        skipped += j - i
        code = code_of[j]
        known = fills[code]
        assert known is not None
        fill = known[j]
        if fill is _UNKNOWN:
            amount = spend[code]
            assert amount is not None
            fill = known[j] = _lane_fill(track, window[j], amount, costs, slip)
        if fill is None:
            outcomes[j] = "minimum"
            i = j + 1
            continue
        bought.append(fill)
        outcomes[j] = "bought"
        i = end
    return _LaneRun.of(bought, skipped, outcomes)


def _lane_fill(track: _AssetTrack, bar: Bar, amount: Decimal, costs: Costs, slip: Decimal) -> _Fill | None:
    """The fill of ``amount`` at ``bar``'s open, as :func:`~dcactl.backtest.fills._fill` makes it and
    books it (the expressions of its ``_quote`` and ``_net``, inline: lanes make thousands): the
    buy, the units it adds (net of the fee in the base token) and the fee's value, and as floats its
    time (POSIX s), USDC and size (:func:`_figures` reads them); None under the minimum."""
    price = bar.open * slip
    size = (amount / price).quantize(_quantum(track.sz_decimals), rounding=ROUND_DOWN)
    cost = size * price
    if size <= 0 or cost < MIN_NOTIONAL_USDC:
        return None
    fee = size * costs.fee_bps / BPS
    at = bar.at
    return (BacktestBuy(at, track.config.symbol, cost, size, price), size - fee, fee * price, at.timestamp(),
            float(cost), float(size))


@functools.lru_cache(maxsize=32)
def _quantum(sz_decimals: int) -> Decimal:
    """The size step of an asset with these size decimals (as ``fills._quote`` rounds)."""
    return Decimal(1).scaleb(-sz_decimals)


def _decide_at(config: Config, track: _AssetTrack, i: int, zone: ZoneInfo) -> Amount:
    """:func:`decide_amounts` for ``track`` alone at its ``i``-th tick, due, with an empty bank."""
    bar = track.frame.window[i]
    history = history_at(track, int(track.frame.window_ms[i]), bar.open)
    asset = AmountInput(track.config, True, history.closes, bar.open, ZERO, history.hourly, memo=history.memo)
    (amount,) = decide_amounts(config, [asset], bar.at, day_committed=ZERO, held=dict)
    return amount


def _lane_trace(
    config: Config,
    track: _AssetTrack,
    zone: ZoneInfo,
    decided: Mapping[int, Amount],
    code_of: Sequence[int],
    ends: Sequence[int],
    outcomes: Mapping[int, str],
    trace: list[Tick],
) -> None:
    """What :func:`_ticks` would have noted for the lane's ticks (a rule's skip sentence is the
    decision at that very tick: it names the indicator's value)."""
    symbol, due_from = track.config.symbol, 0
    for i, bar in enumerate(track.frame.window):
        if i < due_from:
            trace.append(Tick(bar.at, symbol, False, None, ZERO, "not_due"))
            continue
        decision = decided[code_of[i]]
        outcome = outcomes.get(i, "rules")
        skip = _decide_at(config, track, i, zone).decision.skip if decision.skip == "rules" else None
        trace.append(Tick(bar.at, symbol, True, skip, decision.decision.amount, outcome))
        if outcome == "bought":
            due_from = ends[i]
