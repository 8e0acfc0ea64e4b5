"""The replay: cron ticks at each candle's start, decided by the code ``run`` uses; fills by formula.

At a tick ``T`` (a candle's open) the assets with a candle opening at ``T`` are considered in config
order, as one ``run``:

1. the due check (:func:`dcactl.schedule.periods.is_due`, under the effective schedule when dynamic
   frequency is on) against the last simulated buy;
2. the strategy's decision (:func:`dcactl.strategy.decide`) on the daily closes *completed before T*
   (and hourly ones for an hourly RSI), the tick's price being the candle's open, with the bank
   carried as the ledger carries it (a rule skip or a buy stands; a capped or too-small buy does not);
3. buy-only rebalancing (:func:`dcactl.strategy.allocate_rebalance`) over the due assets, holdings
   valued at the tick's prices;
4. the caps (:func:`dcactl.run.sizing.apply_caps`) in config order, the day's spend in ``timezone``;
5. the fill: ``P = open × (1 + slippage_bps / 10,000)``, ``size = amount / P`` rounded down to the
   asset's size decimals, ``cost = size × P``; under 10 USDC it is skipped, as live; the fee is
   ``size × fee_bps / 10,000`` in the base token, so units gained are ``size − fee``.

Money is Decimal; the indicators read floats, as live. No I/O.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from dcactl.backtest.figures import _figures
from dcactl.backtest.fills import _fill
from dcactl.backtest.lanes import Decisions, _independent, _lane, _lane_ready
from dcactl.backtest.prices import Series
from dcactl.backtest.results import BPS, ZERO, Costs, StrategyResult, Tick
from dcactl.backtest.tracks import (
    Shared,
    Sweep,
    _AssetTrack,
    _Frame,
    _hourly_schedule,
    _ms,
    history_at,
)
from dcactl.backtest.variants import Strategy
from dcactl.config.schema import Config
from dcactl.models import BacktestBuy
from dcactl.run.core import AmountInput, check_due, decide_amounts
from dcactl.schedule.periods import LastBuy
from dcactl.strategy.decide import precompute

DEFAULT_SZ_DECIMALS = 8
"""Size decimals of an asset the exchange does not list (PRODUCT.md)."""


def replay(
    strategy: Strategy,
    daily: Mapping[str, Series],
    hourly: Mapping[str, Series],
    sz_decimals: Mapping[str, int],
    start: datetime,
    end: datetime,
    costs: Costs,
    plain_invested: Mapping[str, Decimal] | None = None,
    trace: list[Tick] | None = None,
    shared: Sweep | None = None,
    vectorised: bool = True,
    curves: bool = True,
) -> StrategyResult:
    """Replay ``strategy`` over ``[start, end)``; ``lump-sum`` needs ``plain_invested`` per asset.
    ``trace`` (when given) receives every asset's decision at every tick, in order. ``shared`` carries
    what one strategy's replay found to the next over the same window, prices and costs (:class:`Sweep`).
    ``vectorised``: replay each asset whose buys depend on no other (:func:`_lane`) over all its ticks
    at once; False decides every tick one by one (the same decisions: tests compare). ``curves``: the
    result carries its curve (daily marks and buys), else None (figures only)."""
    config = strategy.config
    tracks: list[_AssetTrack] = []
    for a in config.assets:
        day = daily.get(a.symbol)
        hour = hourly.get(a.symbol)
        ticks = hour if hour is not None and hour.bars and _hourly_schedule(a) else day
        if ticks is None:
            continue
        share = Shared() if shared is None else shared.assets.setdefault(a.symbol, Shared())
        frame = share.frames.get(ticks.interval)
        if frame is None:
            frame = share.frames[ticks.interval] = _Frame.of(ticks, day, hour, start, end,
                                                             None if shared is None else shared.ms)
        track = _AssetTrack(a, frame, sz_decimals.get(a.symbol, DEFAULT_SZ_DECIMALS), share)
        tracks.append(track)
        if not frame.hour_close.size:  # the daily indicators of every tick at once (hourly: per tick)
            precompute(a, frame.day_close, frame.counts, share.series)
    buys: list[BacktestBuy] = []
    skips: Counter[str] = Counter()
    slip = 1 + costs.slippage_bps / BPS
    if strategy.kind == "lump-sum":
        for t in tracks:
            amount = (plain_invested or {}).get(t.config.symbol, ZERO)
            first = next((b for b in t.frame.ticks.bars if start <= b.at < end), None)
            if first is None or amount <= 0:
                continue
            bought = _fill(t, first.at, first.open * slip, amount, costs)
            if isinstance(bought, str):
                skips[bought] += 1
            else:
                buys.append(bought)
    elif vectorised and _independent(config):
        lanes = [t for t in tracks if _lane_ready(t)]
        decisions: Decisions = {}  # this strategy's: assets with the same rules share them
        done = [_lane(config, t, costs, slip, buys, skips, trace, decisions) for t in lanes]
        runs = tuple((t.config.symbol, id(run)) for t, run in zip(lanes, done, strict=True))
        rest = [t for t in tracks if t not in lanes]
        if not rest and shared is not None and trace is None:  # every asset's buys as an earlier strategy's
            same = shared.figures.get(runs)
            if same is not None and (same.curve is not None) == curves:
                curve = None if same.curve is None else replace(same.curve, name=strategy.name)
                return replace(same, name=strategy.name, skips=Counter(same.skips), curve=curve)
            result = _figures(strategy.name, tracks, daily, buys, skips, start, end, costs, shared, done,
                              curves)
            shared.figures[runs] = result
            return result
        if not rest and trace is None:
            return _figures(strategy.name, tracks, daily, buys, skips, start, end, costs, shared, done,
                            curves)
        if rest:
            _ticks(config, rest, start, end, costs, slip, buys, skips, trace)
        if trace is not None:  # as one run notes them: by tick, the assets not due first, config order
            place = {t.config.symbol: n for n, t in enumerate(tracks)}
            trace.sort(key=lambda k: (k.at, k.due, place[k.asset]))
    else:
        _ticks(config, tracks, start, end, costs, slip, buys, skips, trace)
    return _figures(strategy.name, tracks, daily, buys, skips, start, end, costs, shared, curves=curves)


def _ticks(
    config: Config,
    tracks: list[_AssetTrack],
    start: datetime,
    end: datetime,
    costs: Costs,
    slip: Decimal,
    buys: list[BacktestBuy],
    skips: Counter[str],
    trace: list[Tick] | None = None,
) -> None:
    """Every tick in time order; at each, the assets with a candle there, as one run."""

    def note(asset: str, due: bool, skip: str | None, amount: Decimal, outcome: str) -> None:
        if trace is not None:
            trace.append(Tick(at, asset, due, skip, amount, outcome))

    events: dict[datetime, list[tuple[int, Any]]] = {}
    for i, t in enumerate(tracks):
        for bar in t.frame.ticks.bars:
            if start <= bar.at < end:
                events.setdefault(bar.at, []).append((i, bar))
    tz = config.settings.timezone
    day_spent: dict[Any, Decimal] = {}
    zone = ZoneInfo(tz)
    for at in sorted(events):
        at_ms = _ms(at)
        due: list[tuple[_AssetTrack, AmountInput, Any]] = []  # (track, what decides its amount, period)
        prices: dict[str, Decimal] = {}
        for i, bar in sorted(events[at], key=lambda e: e[0]):
            track = tracks[i]
            asset = track.config
            prices[asset.symbol] = bar.open
            dynamic = asset.dynamic_frequency is not None and asset.dynamic_frequency.enabled
            if not dynamic and track.not_due_until is not None and at < track.not_due_until:
                # is_due said so for this last buy and schedule: nothing changes before next_due
                note(asset.symbol, False, None, ZERO, "not_due")
                continue
            history = history_at(track, at_ms, bar.open)
            check = check_due(asset, zone, at, track.last_buy, history.closes)
            if not check.due:
                track.not_due_until = None if dynamic else check.next_due
                note(asset.symbol, False, None, ZERO, "not_due")
                continue
            period = check.period
            if track.bank_period != period.id:  # a new period: the last one's bank stands
                track.bank_before = track.bank_current
                track.bank_period = period.id
            due.append((track, AmountInput(asset, True, history.closes, bar.open, track.bank_before,
                                           history.hourly, memo=history.memo), period))
        if not due:
            continue
        day = at.astimezone(zone).date()

        amounts = decide_amounts(config, [i for _, i, _ in due], at, day_committed=day_spent.get(day, ZERO),
                                 held=functools.partial(_held, tracks, prices, at_ms))
        for (track, _, period), amount in zip(due, amounts, strict=True):
            symbol, decision = track.config.symbol, amount.decision
            if amount.skip == "rules":
                track.bank_current = decision.bank_after  # a rule skip stands (it banks)
                skips["rules"] += 1
                note(symbol, True, decision.skip, decision.amount, "rules")
                continue
            if amount.skip is not None:  # a cap, or an amount of nothing
                outcome = "cap" if amount.skip == "cap" else "rules"
                skips[outcome] += 1
                note(symbol, True, None, decision.amount, outcome)
                continue
            bought = _fill(track, at, prices[symbol] * slip, decision.amount, costs)
            if isinstance(bought, str):
                skips[bought] += 1
                note(symbol, True, None, decision.amount, bought)
                continue
            buys.append(bought)
            note(symbol, True, None, decision.amount, "bought")
            day_spent[day] = day_spent.get(day, ZERO) + bought.usd
            track.bank_current = decision.bank_after
            track.last_buy = LastBuy(at=at, period_start=period.start, period_end=period.end)
            track.not_due_until = None


def _held(tracks: Sequence[_AssetTrack], prices: Mapping[str, Decimal], at_ms: int) -> dict[str, Decimal]:
    """Every asset's holding (USDC) at the tick's price, else its last completed close."""
    return {
        t.config.symbol: t.holding.units * prices.get(t.config.symbol, _last_close(t, at_ms)) for t in tracks
    }


def _last_close(track: _AssetTrack, at_ms: int) -> Decimal:
    days = int(np.searchsorted(track.frame.day_open_ms, at_ms - 86_400_000, side="right"))
    return Decimal(repr(float(track.frame.day_close[days - 1]))) if days else ZERO
