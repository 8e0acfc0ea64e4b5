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

import bisect
import functools
import itertools
import math
import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, Inexact, Rounded, localcontext
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from dcactl.backtest.prices import Bar, Series
from dcactl.backtest.variants import Strategy
from dcactl.config.schema import AssetConfig, Config
from dcactl.models import BacktestBuy, CurvePoint, StrategyCurve, iso_utc
from dcactl.run.core import Amount, AmountInput, check_due, decide_amounts
from dcactl.schedule.periods import LastBuy, Schedule, period_of
from dcactl.strategy import PriceHistory
from dcactl.strategy.decide import history_days, memo_entry, precompute
from dcactl.strategy.indicators import pct_below_at
from dcactl.strategy.rules import Memo, deepest_dips, ma_key, rsi_key, rsi_zones
from dcactl.venues.rounding import MIN_NOTIONAL_USDC

ZERO = Decimal(0)
CENT = Decimal("0.01")
BPS = Decimal(10_000)
DAY = timedelta(days=1)
DAY_MS = 86_400_000
DEFAULT_SZ_DECIMALS = 8
"""Size decimals of an asset the exchange does not list (PRODUCT.md)."""


@dataclass(frozen=True)
class Costs:
    """``fee_bps`` (base-token fee of each buy) and ``slippage_bps`` (above the candle's open)."""

    fee_bps: Decimal = Decimal(7)
    slippage_bps: Decimal = Decimal(5)


@dataclass
class _Holding:
    units: Decimal = ZERO
    invested: Decimal = ZERO
    fees_usd: Decimal = ZERO
    buys: int = 0


@dataclass(frozen=True)
class AssetFigures:
    """One asset of one strategy: base units held (net of fees), USDC invested, average cost, value at
    the last close, buys, and the window's plain average of daily closes (what a buy "cost" on average)."""

    asset: str
    units: Decimal
    invested_usd: Decimal
    avg_cost: Decimal | None
    value_usd: Decimal
    buys: int
    window_avg_price: Decimal | None

    def to_json(self) -> dict[str, Any]:
        """The contract's asset object (decimals as strings)."""
        return {
            "asset": self.asset,
            "units": _s(self.units),
            "invested_usd": _s(self.invested_usd.quantize(CENT)),
            "avg_cost": None if self.avg_cost is None else _s(self.avg_cost.quantize(Decimal("1e-8"))),
            "value_usd": _s(self.value_usd.quantize(CENT)),
            "buys": self.buys,
        }


@dataclass(frozen=True)
class StrategyResult:
    """A strategy's figures over the window, its curve (daily marks and buys) and skips by reason."""

    name: str
    invested_usd: Decimal
    value_usd: Decimal
    fees_usd: Decimal
    xirr_pct: Decimal | None
    max_drawdown_pct: Decimal
    buys: int
    skips: Counter[str]
    assets: list[AssetFigures]
    curve: StrategyCurve

    @property
    def pnl_usd(self) -> Decimal:
        """Value minus invested."""
        return self.value_usd - self.invested_usd

    @property
    def pnl_pct(self) -> Decimal | None:
        """PnL as a percentage of invested (None when nothing was invested)."""
        return None if self.invested_usd <= 0 else (self.pnl_usd / self.invested_usd * 100).quantize(CENT)

    def to_json(self) -> dict[str, Any]:
        """The contract's strategy object (decimals as strings), plus ``skips_by_reason``."""
        return {
            "name": self.name,
            "invested_usd": _s(self.invested_usd.quantize(CENT)),
            "value_usd": _s(self.value_usd.quantize(CENT)),
            "pnl_usd": _s(self.pnl_usd.quantize(CENT)),
            "pnl_pct": None if self.pnl_pct is None else _s(self.pnl_pct),
            "xirr_pct": None if self.xirr_pct is None else _s(self.xirr_pct),
            "max_drawdown_pct": _s(self.max_drawdown_pct),
            "fees_usd": _s(self.fees_usd.quantize(CENT)),
            "buys": self.buys,
            "skips": sum(self.skips.values()),
            "skips_by_reason": dict(sorted(self.skips.items())),
            "assets": [a.to_json() for a in self.assets],
        }


def _s(x: Decimal) -> str:
    """A decimal as JSON text: exact, no exponent, no trailing zeros."""
    return f"{x.normalize():f}"


@dataclass
class Shared:
    """Per asset, what the strategies of one backtest (one window, one set of prices and costs) share:
    indicator values per (daily closes, hourly closes) completed (the same prices at the same tick
    give the same RSI and averages) and their series over the window, the prices as the replay reads
    them, the fills by (tick, USDC amount), decisions by situation and whole lanes (:func:`_lane`)."""

    memo: dict[tuple[int, int], Memo] = field(default_factory=dict)
    series: dict[tuple[Any, ...], np.ndarray[Any, Any]] = field(default_factory=dict)
    """The daily indicator values of every tick of the window, by memo key (:func:`precompute`)."""
    frames: dict[str, _Frame] = field(default_factory=dict)
    closes: _DailyCloses | None = None
    """Its daily closes inside the window (the marks)."""
    fills: dict[tuple[Any, ...], dict[int, _Fill | None]] = field(default_factory=dict)
    """By (USDC amount, costs, slippage factor), the fills by tick (:func:`_lane_fill`)."""
    decisions: dict[tuple[AssetConfig, int], Amount] = field(default_factory=dict)
    """decide_amounts' answer per (asset's config, situation) (:func:`_lane`)."""
    lanes: dict[tuple[Any, ...], _LaneRun] = field(default_factory=dict)
    situations: dict[tuple[Any, ...], np.ndarray[Any, Any]] = field(default_factory=dict)
    """:func:`_situations`' parts by rule: the RSI's zones, the MA dips' tiers, per tick."""
    """:func:`_lane`'s results by the decisions they come from."""


@dataclass(frozen=True)
class _Frame:
    """One asset's prices as the replay reads them: its ticks (candles) and those inside the window
    with their times (ms), the completed daily closes before each tick (``counts``: daily-only
    assets), and the daily and hourly closes with their open times (ms). The same for every
    strategy of a backtest."""

    ticks: Series
    window: list[Bar]
    window_ms: np.ndarray[Any, Any]
    counts: list[int]
    day_open_ms: np.ndarray[Any, Any]
    day_close: np.ndarray[Any, Any]
    hour_open_ms: np.ndarray[Any, Any]
    hour_close: np.ndarray[Any, Any]
    tick_of_count: dict[int, int]
    """The window's tick whose completed daily closes number this many (daily-only assets)."""
    opens: np.ndarray[Any, Any]
    """The window's opens (floats: the price the rules compare)."""
    times: tuple[datetime, ...]
    """The window's ticks' instants."""

    @classmethod
    def of(
        cls, ticks: Series, day: Series | None, hour: Series | None, start: datetime, end: datetime
    ) -> _Frame:
        """The frame of ``ticks`` (daily or hourly candles) over ``[start, end)``."""
        first, last = _inside(ticks, start, end)
        window = list(ticks.bars[first:last])
        d_open, d_close = _closes(day)
        # the daily ticks' times are the daily closes' opens, already in ms
        window_ms = d_open[first:last] if ticks is day else np.array([_ms(b.at) for b in window],
                                                                     dtype=np.int64)
        h_open, h_close = _closes(hour)
        counts = [] if h_close.size else np.searchsorted(d_open, window_ms - DAY_MS, side="right").tolist()
        return cls(ticks, window, window_ms, counts, d_open, d_close, h_open, h_close,
                   {c: i for i, c in enumerate(counts)},
                   np.array([float(b.open) for b in window], dtype=np.float64), tuple(b.at for b in window))


@dataclass
class Sweep:
    """What the strategies of one backtest share: per asset (:class:`Shared`), and each strategy's
    figures by the buys its assets came to (:func:`_lane`'s results): a strategy whose every asset
    buys as an earlier one's has its figures, under its own name."""

    assets: dict[str, Shared] = field(default_factory=dict)
    figures: dict[tuple[tuple[str, int], ...], StrategyResult] = field(default_factory=dict)
    marks: dict[tuple[str, ...], _Marks] = field(default_factory=dict)
    """The days strategies over these assets are marked on (:class:`_Marks`)."""
    floats: dict[int, tuple[BacktestBuy, float, float, float]] = field(default_factory=dict)
    """Per buy (by id, the buy kept with it so the id stays its own): its time (POSIX s), USDC and size as
    floats (:func:`_floats`); strategies that share fills share them."""


@dataclass
class _AssetTrack:
    """What the replay keeps per asset: its prices (:class:`_Frame`) and its state in one strategy."""

    config: AssetConfig
    frame: _Frame
    sz_decimals: int
    shared: Shared = field(default_factory=lambda: Shared())
    """What every strategy of a backtest may share for this asset (same prices, same ticks)."""
    last_buy: LastBuy | None = None
    not_due_until: datetime | None = None
    """After a not-due check: the ``next_due`` it named (the same last buy, a fixed schedule)."""
    bank_period: str | None = None
    bank_current: Decimal = ZERO
    bank_before: Decimal = ZERO
    holding: _Holding = field(default_factory=_Holding)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _distinct(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``np.unique(values)`` of a 1-D array (np.unique would import numpy.ma: 8 ms)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered


def _inside(series: Series, start: datetime, end: datetime) -> tuple[int, int]:
    """The bars of ``series`` opening in ``[start, end)``: ``bars[first:last]`` (they are in time order)."""
    first = bisect.bisect_left(series.bars, start, key=operator.attrgetter("at"))
    return first, max(first, bisect.bisect_left(series.bars, end, key=operator.attrgetter("at")))


def _closes(series: Series | None) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    if series is None or not series.bars:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return (
        np.array([_ms(b.at) for b in series.bars], dtype=np.int64),
        np.array([float(b.close) for b in series.bars], dtype=np.float64),
    )


def _hourly_schedule(asset: AssetConfig) -> bool:
    """Scheduled by the hour (``hour`` or ``<N>h``): its ticks are hourly candles when there are any."""
    return asset.schedule.unit == "hour" or asset.schedule.text.endswith("h")


def history_at(track: _AssetTrack, at_ms: int, price: Decimal) -> PriceHistory:
    """The closes completed before ``at_ms`` (a day's close counts once the day has ended), and the
    tick's price: what ``run`` would read at that instant. Never a later candle."""
    days = int(np.searchsorted(track.frame.day_open_ms, at_ms - 86_400_000, side="right"))
    hours = int(np.searchsorted(track.frame.hour_open_ms, at_ms - 3_600_000, side="right"))
    memo = track.shared.memo.setdefault((days, hours), {})
    tick = track.frame.tick_of_count.get(days) if not hours else None
    if tick is not None:  # what precompute() found for this tick (its tails are the ones decide reads)
        for key, series in track.shared.series.items():
            if key not in memo and key[2] <= days:
                memo[key] = memo_entry(key, float(series[tick]))
    return PriceHistory(track.frame.day_close[:days], float(price), track.frame.hour_close[:hours], memo)


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
) -> StrategyResult:
    """Replay ``strategy`` over ``[start, end)``; ``lump-sum`` needs ``plain_invested`` per asset.
    ``trace`` (when given) receives every asset's decision at every tick, in order. ``shared`` carries
    what one strategy's replay found to the next over the same window, prices and costs (:class:`Sweep`).
    ``vectorised``: replay each asset whose buys depend on no other (:func:`_lane`) over all its ticks
    at once; False decides every tick one by one (the same decisions: tests compare)."""
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
            frame = share.frames[ticks.interval] = _Frame.of(ticks, day, hour, start, end)
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
        done = [_lane(config, t, costs, slip, buys, skips, trace) for t in lanes]
        runs = tuple((t.config.symbol, id(run)) for t, run in zip(lanes, done, strict=True))
        rest = [t for t in tracks if t not in lanes]
        if not rest and shared is not None and trace is None:  # every asset's buys as an earlier strategy's
            same = shared.figures.get(runs)
            if same is not None:
                return replace(same, name=strategy.name, skips=Counter(same.skips),
                               curve=replace(same.curve, name=strategy.name))
            result = _figures(strategy.name, tracks, daily, buys, skips, start, end, costs, shared, done)
            shared.figures[runs] = result
            return result
        if not rest and trace is None:
            return _figures(strategy.name, tracks, daily, buys, skips, start, end, costs, shared, done)
        if rest:
            _ticks(config, rest, start, end, costs, slip, buys, skips, trace)
        if trace is not None:  # as one run notes them: by tick, the assets not due first, config order
            place = {t.config.symbol: n for n, t in enumerate(tracks)}
            trace.sort(key=lambda k: (k.at, k.due, place[k.asset]))
    else:
        _ticks(config, tracks, start, end, costs, slip, buys, skips, trace)
    return _figures(strategy.name, tracks, daily, buys, skips, start, end, costs, shared)


@dataclass(frozen=True)
class Tick:
    """One asset at one tick, as ``run`` would have decided it: due or not, the rules' skip, the
    amount (USDC, after rebalancing), and the outcome (``bought``, ``rules``, ``cap``, ``minimum``,
    ``not_due``)."""

    at: datetime
    asset: str
    due: bool
    skip: str | None
    amount: Decimal
    outcome: str


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


_Fill = tuple[BacktestBuy, Decimal, Decimal, float, float, float]
"""A lane's fill (:func:`_lane_fill`)."""


@dataclass(frozen=True)
class _LaneRun:
    """What :func:`_lane` found for one asset: its buys, each with the units it added (net of the
    fee) and the fee's value; the ticks skipped by the rules; each tick's outcome where one bought
    or missed the minimum."""

    buys: list[_Fill]
    skipped: int
    outcomes: dict[int, str]
    units: Decimal = ZERO
    """The holding it leaves: units (net of fees), USDC invested and fees (USDC), summed in buy order."""
    invested: Decimal = ZERO
    fees: Decimal = ZERO
    missed: int = 0
    """Ticks whose fill missed the minimum."""
    floats: np.ndarray[Any, Any] = field(default_factory=lambda: np.empty((3, 0)))
    """Its buys' times (POSIX s), USDC and sizes as floats, a row each."""

    @classmethod
    def of(cls, buys: list[_Fill], skipped: int, outcomes: dict[int, str]) -> _LaneRun:
        """With its holding, misses and floats gathered once (every strategy with this lane reads them)."""
        return cls(buys, skipped, outcomes, sum((f[1] for f in buys), ZERO),
                   sum((f[0].usd for f in buys), ZERO), sum((f[2] for f in buys), ZERO),
                   sum(1 for o in outcomes.values() if o == "minimum"),
                   np.array([f[3:] for f in buys], dtype=np.float64).reshape(-1, 3).T)


def _lane(
    config: Config,
    track: _AssetTrack,
    costs: Costs,
    slip: Decimal,
    buys: list[BacktestBuy],
    skips: Counter[str],
    trace: list[Tick] | None,
) -> _LaneRun:
    """One asset over all its ticks at once (:func:`_lane_ready`; no cap and no rebalancing, so no
    other asset matters). Its decisions come from :func:`decide_amounts` itself, once per situation
    (:func:`_situations`) at the first tick in it; then per schedule period the first tick whose
    decision buys and whose fill reaches the minimum buys, as the due rule and ``run`` would: every
    tick of the period before it was due and skipped, every tick after it is not due. Strategies
    whose decisions for the asset come out the same share the result."""
    zone = ZoneInfo(config.settings.timezone)
    codes = _situations(track)
    decided: dict[int, Amount] = {}
    for code, first in _firsts(codes):
        key = (track.config, code)
        if key not in track.shared.decisions:
            track.shared.decisions[key] = _decide_at(config, track, first, zone)
        decided[code] = track.shared.decisions[key]
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


def _lane_run(
    track: _AssetTrack,
    zone: ZoneInfo,
    codes: np.ndarray[Any, Any],
    spend: Sequence[Decimal | None],
    costs: Costs,
    slip: Decimal,
) -> _LaneRun:
    """The buys of one asset whose ticks spend ``spend[codes[i]]`` (None: the decision buys nothing)."""
    window = track.frame.window
    m = len(window)
    buying = np.array([spend[c] is not None for c in range(len(spend))], dtype=bool)[codes]
    # following[i]: the first tick ≥ i whose decision buys (m: none)
    index = np.where(buying, np.arange(m), m)
    following = np.minimum.accumulate(index[::-1])[::-1].tolist() if m else []
    ends = _period_ends(track, zone)
    fills = [None if a is None else track.shared.fills.setdefault((a, costs, slip), {}) for a in spend]
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
        if j in known:
            fill = known[j]
        else:
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
    """The fill of ``amount`` at ``bar``'s open (:func:`_quote`), as :func:`_record` books it: the buy,
    the units it adds (net of the fee in the base token) and the fee's value, and as floats its time
    (POSIX s), USDC and size (:func:`_figures` reads them); None under the minimum."""
    price = bar.open * slip
    quote = _quote(track.sz_decimals, price, amount)
    if quote is None:
        return None
    size, cost = quote
    units, fee = _net(size, price, costs)
    buy = BacktestBuy(time=bar.at, asset=track.config.symbol, usd=cost, size=size, price=price)
    return buy, units, fee, bar.at.timestamp(), float(cost), float(size)


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


def _held(tracks: Sequence[_AssetTrack], prices: Mapping[str, Decimal], at_ms: int) -> dict[str, Decimal]:
    """Every asset's holding (USDC) at the tick's price, else its last completed close."""
    return {
        t.config.symbol: t.holding.units * prices.get(t.config.symbol, _last_close(t, at_ms)) for t in tracks
    }


def _last_close(track: _AssetTrack, at_ms: int) -> Decimal:
    days = int(np.searchsorted(track.frame.day_open_ms, at_ms - 86_400_000, side="right"))
    return Decimal(repr(float(track.frame.day_close[days - 1]))) if days else ZERO


def _fill(
    track: _AssetTrack, at: datetime, price: Decimal, amount: Decimal, costs: Costs
) -> BacktestBuy | str:
    """The contract's fill of ``amount`` USDC at ``price`` (open with slippage); a reason when skipped."""
    quote = _quote(track.sz_decimals, price, amount)
    if quote is None:
        return "minimum"
    return _record(track, at, price, *quote, costs)


def _quote(sz_decimals: int, price: Decimal, amount: Decimal) -> tuple[Decimal, Decimal] | None:
    """``(size, cost)`` of ``amount`` USDC at ``price``: size rounded down to the size decimals; None
    when that is nothing or under the exchange's minimum (as live)."""
    size = (amount / price).quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_DOWN)
    cost = size * price
    return None if size <= 0 or cost < MIN_NOTIONAL_USDC else (size, cost)


def _record(
    track: _AssetTrack, at: datetime, price: Decimal, size: Decimal, cost: Decimal, costs: Costs
) -> BacktestBuy:
    """A fill of ``size`` for ``cost`` USDC into the holding; the fee is taken in the base token."""
    units, fee_usd = _net(size, price, costs)
    h = track.holding
    h.units += units
    h.invested += cost
    h.fees_usd += fee_usd
    h.buys += 1
    return BacktestBuy(time=at, asset=track.config.symbol, usd=cost, size=size, price=price)


def _net(size: Decimal, price: Decimal, costs: Costs) -> tuple[Decimal, Decimal]:
    """The units a fill of ``size`` at ``price`` adds (the fee is paid in the base token) and the
    fee's value in USDC."""
    fee = size * costs.fee_bps / BPS
    return size - fee, fee * price


@dataclass(frozen=True)
class _DailyCloses:
    """One asset's daily closes inside the window: their days (ms and datetimes), exact and float."""

    ms: np.ndarray[Any, Any]
    at: list[datetime]
    exact: list[Decimal]
    close: np.ndarray[Any, Any]
    average: Decimal | None
    """The window's plain average of the daily closes (4 decimals)."""

    @classmethod
    def of(cls, series: Series | None, start: datetime, end: datetime, frame: _Frame | None = None
           ) -> _DailyCloses:
        """The closes of ``series`` (daily candles; None: none) over ``[start, end)``; ``frame``: one
        whose daily closes are this series' (their ms and floats are taken from it)."""
        if series is None:
            return cls(np.empty(0, dtype=np.int64), [], [], np.empty(0, dtype=np.float64), None)
        first, last = _inside(series, start, end)
        bars = series.bars[first:last]
        if frame is not None:
            ms, close = frame.day_open_ms[first:last], frame.day_close[first:last]
        else:
            ms = np.array([_ms(b.at) for b in bars], dtype=np.int64)
            close = np.array([float(b.close) for b in bars], dtype=np.float64)
        average = Decimal(repr(sum(close.tolist()) / len(bars))).quantize(Decimal("0.0001")) if bars else None
        return cls(ms, [b.at for b in bars], [b.close for b in bars], close, average)


@dataclass(frozen=True)
class _Marks:
    """The days a strategy over these assets is marked on (their daily closes in the window, ms and
    datetimes), per asset the index of its last close on each day (-1: none yet) and the matrix of
    those closes (floats; 0 before an asset's first): the same for every strategy of a backtest."""

    closes: list[_DailyCloses]
    days_ms: np.ndarray[Any, Any]
    days: list[datetime]
    last_close: list[list[int]]
    matrix: np.ndarray[Any, Any]

    @classmethod
    def of(cls, tracks: Sequence[_AssetTrack], daily: Mapping[str, Series], start: datetime,
           end: datetime) -> _Marks:
        """The marks of ``tracks`` over ``[start, end)``."""
        for t in tracks:
            if t.shared.closes is None:
                day = daily.get(t.config.symbol)
                t.shared.closes = _DailyCloses.of(day, start, end, t.frame if t.frame.ticks is day else None)
        marks = [t.shared.closes for t in tracks if t.shared.closes is not None]
        days_ms = _distinct(np.concatenate([m.ms for m in marks])) if marks else np.empty(0, dtype=np.int64)
        days: dict[int, datetime] = {}
        last_close: list[list[int]] = []
        matrix = np.zeros((days_ms.size, len(marks)))
        for a, m in enumerate(marks):
            days.update(zip(m.ms.tolist(), m.at, strict=True))
            seen = np.full(days_ms.size, -1, dtype=np.int64)
            seen[np.searchsorted(days_ms, m.ms)] = np.arange(m.ms.size)
            idx = np.maximum.accumulate(seen) if seen.size else seen
            last_close.append(idx.tolist())
            if idx.size:
                matrix[:, a] = np.where(idx >= 0, m.close[np.maximum(idx, 0)] if m.close.size else 0.0, 0.0)
        return cls(marks, days_ms, [days[ms] for ms in days_ms.tolist()], last_close, matrix)


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
) -> StrategyResult:
    """Daily marks (value at each day's close against invested), XIRR, drawdown, per-asset figures.
    ``lanes``: when every track is a lane, their runs in track order (``buys`` is their buys, in that
    order): their floats are read instead of converting each buy.

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
    ]
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
    curve = StrategyCurve(name, tuple(points), tuple(buys))
    at = points[-1].time + DAY if points else end
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


def document(
    results: Sequence[StrategyResult], start: datetime, end: datetime, costs: Costs
) -> dict[str, Any]:
    """The ``backtest --json`` document (PRODUCT.md)."""
    return {
        "from": iso_utc(start),
        "to": iso_utc(end),
        "fee_bps": _s(costs.fee_bps),
        "slippage_bps": _s(costs.slippage_bps),
        "strategies": [r.to_json() for r in results],
    }


def utc_day(text: str) -> datetime:
    """``2026-01-31`` (or an ISO instant) → an aware UTC datetime. Raises ValueError."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
