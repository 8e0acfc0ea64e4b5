"""What the replay reads and keeps per asset: its prices as the replay reads them (:class:`_Frame`,
the daily closes and marks of the figures), its state in one strategy (:class:`_AssetTrack`), what the
strategies of one backtest share (:class:`Shared`, :class:`Sweep`, a lane's run), and the closes a
tick reads (:func:`history_at`). No I/O."""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from dcactl.backtest.prices import Bar, Series
from dcactl.backtest.results import ZERO, StrategyResult
from dcactl.config.schema import AssetConfig
from dcactl.models import BacktestBuy
from dcactl.schedule.periods import LastBuy
from dcactl.strategy import PriceHistory
from dcactl.strategy.decide import memo_entry
from dcactl.strategy.rules import Memo

DAY_MS = 86_400_000


@dataclass
class _Holding:
    units: Decimal = ZERO
    invested: Decimal = ZERO
    fees_usd: Decimal = ZERO
    buys: int = 0


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
        cls, ticks: Series, day: Series | None, hour: Series | None, start: datetime, end: datetime,
        ms_of: dict[datetime, int] | None = None,
    ) -> _Frame:
        """The frame of ``ticks`` (daily or hourly candles) over ``[start, end)``; ``ms_of``: the
        candles' times in ms already known (:attr:`Sweep.ms`)."""
        first, last = _inside(ticks, start, end)
        window = list(ticks.bars[first:last])
        d_open, d_close = _closes(day, ms_of)
        # the daily ticks' times are the daily closes' opens, already in ms
        window_ms = d_open[first:last] if ticks is day else np.array([_ms(b.at) for b in window],
                                                                     dtype=np.int64)
        h_open, h_close = _closes(hour, ms_of)
        counts = [] if h_close.size else np.searchsorted(d_open, window_ms - DAY_MS, side="right").tolist()
        return cls(ticks, window, window_ms, counts, d_open, d_close, h_open, h_close,
                   {c: i for i, c in enumerate(counts)},
                   _opens(ticks.bars, first, last, d_close if ticks is day else None),
                   tuple(map(_AT, window)))


def _opens(bars: Sequence[Bar], first: int, last: int, closes: np.ndarray[Any, Any] | None
           ) -> np.ndarray[Any, Any]:
    """The opens of ``bars[first:last]`` as floats; ``closes``: the floats of every bar's close (daily
    ticks), taken for an open that is the bar before's close (the very Decimal: a ``--prices`` file
    that opens each day at the last close, :func:`~dcactl.backtest.prices.load_csv`) instead of
    converting it again."""
    window = bars[first:last]
    opens = list(map(_OPEN, window))
    out = np.empty(len(opens), dtype=np.float64)
    if closes is None or first == 0 or not opens:
        out[:] = [float(o) for o in opens]
        return out
    same = np.fromiter(map(operator.is_, opens, map(_CLOSE, bars[first - 1:last - 1])), dtype=bool,
                       count=len(opens))
    out[same] = closes[first - 1:last - 1][same]
    out[~same] = [float(o) for o in itertools.compress(opens, (~same).tolist())]
    return out


_AT, _OPEN, _CLOSE = (operator.attrgetter(name) for name in ("at", "open", "close"))


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
        return cls(buys, skipped, outcomes, sum(map(_UNITS, buys), ZERO),
                   sum(map(_USD, map(_BUY, buys)), ZERO), sum(map(_FEE, buys), ZERO),
                   list(outcomes.values()).count("minimum"),
                   np.array(list(map(_FLOATS, buys)), dtype=np.float64).reshape(-1, 3).T)


_BUY, _UNITS, _FEE, _FLOATS = (operator.itemgetter(n) for n in (0, 1, 2, slice(3, 6)))
_USD = operator.attrgetter("usd")
"""A lane fill's parts (:data:`_Fill`), picked without a Python frame per fill."""


@dataclass
class Shared:
    """Per asset, what the strategies of one backtest (one window, one set of prices and costs) share:
    indicator values per (daily closes, hourly closes) completed (the same prices at the same tick
    give the same RSI and averages) and their series over the window, the prices as the replay reads
    them, the fills by (tick, USDC amount) and whole lanes (:func:`_lane`)."""

    memo: dict[tuple[int, int], Memo] = field(default_factory=dict)
    series: dict[tuple[Any, ...], np.ndarray[Any, Any]] = field(default_factory=dict)
    """The daily indicator values of every tick of the window, by memo key (:func:`precompute`)."""
    frames: dict[str, _Frame] = field(default_factory=dict)
    closes: _DailyCloses | None = None
    """Its daily closes inside the window (the marks)."""
    fills: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    """By (USDC amount, costs, slippage factor), the fill at each tick of the window (:func:`_lane_fill`;
    :func:`~dcactl.backtest.lanes._known_fills`)."""
    lanes: dict[tuple[Any, ...], _LaneRun] = field(default_factory=dict)
    """:func:`_lane`'s results by the decisions they come from."""
    situations: dict[tuple[Any, ...], np.ndarray[Any, Any]] = field(default_factory=dict)
    """:func:`_situations`' parts by rule: the RSI's zones, the MA dips' tiers, per tick."""


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
    ms: dict[datetime, int] = field(default_factory=dict)
    """Candle times in POSIX ms (:func:`_ms`) by instant: the assets of a ``--prices`` file share
    their candles' datetimes, so each is converted once, not once per asset."""


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


def _closes(series: Series | None, ms_of: dict[datetime, int] | None = None
            ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The open times (ms; through ``ms_of`` when given) and closes (floats) of ``series``' candles."""
    if series is None or not series.bars:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if ms_of is None:
        times = [_ms(b.at) for b in series.bars]
    else:
        known = ms_of.get
        times = []
        for b in series.bars:
            ms = known(b.at)
            if ms is None:
                ms = ms_of[b.at] = _ms(b.at)
            times.append(ms)
    return (
        np.array(times, dtype=np.int64),
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
