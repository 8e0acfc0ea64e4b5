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
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from dcactl.backtest.prices import Series
from dcactl.backtest.variants import Strategy
from dcactl.config.schema import AssetConfig, Config
from dcactl.models import BacktestBuy, CurvePoint, StrategyCurve, iso_utc
from dcactl.run.core import AmountInput, check_due, decide_amounts
from dcactl.schedule.periods import LastBuy
from dcactl.strategy import PriceHistory
from dcactl.strategy.decide import precompute
from dcactl.strategy.rules import Memo
from dcactl.venues.rounding import MIN_NOTIONAL_USDC

ZERO = Decimal(0)
CENT = Decimal("0.01")
BPS = Decimal(10_000)
DAY = timedelta(days=1)
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
class _AssetTrack:
    """What the replay keeps per asset: its candles (ticks), completed daily and hourly closes."""

    config: AssetConfig
    ticks: Series
    day_open_ms: np.ndarray[Any, Any]
    day_close: np.ndarray[Any, Any]
    hour_open_ms: np.ndarray[Any, Any]
    hour_close: np.ndarray[Any, Any]
    sz_decimals: int
    memo: dict[tuple[int, int], Memo] = field(default_factory=dict)
    """Indicator values per (daily closes, hourly closes) completed: shared by every strategy of a
    backtest (the same prices at the same tick give the same RSI and averages)."""
    last_buy: LastBuy | None = None
    not_due_until: datetime | None = None
    """After a not-due check: the ``next_due`` it named (the same last buy, a fixed schedule)."""
    bank_period: str | None = None
    bank_current: Decimal = ZERO
    bank_before: Decimal = ZERO
    holding: _Holding = field(default_factory=_Holding)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


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
    days = int(np.searchsorted(track.day_open_ms, at_ms - 86_400_000, side="right"))
    hours = int(np.searchsorted(track.hour_open_ms, at_ms - 3_600_000, side="right"))
    memo = track.memo.setdefault((days, hours), {})
    return PriceHistory(track.day_close[:days], float(price), track.hour_close[:hours], memo)


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
    memo: dict[str, dict[tuple[int, int], Memo]] | None = None,
) -> StrategyResult:
    """Replay ``strategy`` over ``[start, end)``; ``lump-sum`` needs ``plain_invested`` per asset.
    ``trace`` (when given) receives every asset's decision at every tick, in order. ``memo`` (per
    asset) carries indicator values from one strategy's replay to the next over the same prices."""
    config = strategy.config
    tracks: list[_AssetTrack] = []
    for a in config.assets:
        day = daily.get(a.symbol)
        hour = hourly.get(a.symbol)
        ticks = hour if hour is not None and hour.bars and _hourly_schedule(a) else day
        if ticks is None:
            continue
        d_open, d_close = _closes(day)
        h_open, h_close = _closes(hour)
        tracks.append(
            _AssetTrack(
                a, ticks, d_open, d_close, h_open, h_close, sz_decimals.get(a.symbol, DEFAULT_SZ_DECIMALS),
                {} if memo is None else memo.setdefault(a.symbol, {}),
            )
        )
    for t in tracks:
        if not t.hour_close.size:  # the daily indicators of every tick at once (hourly: per tick)
            at = np.array([_ms(b.at) for b in t.ticks.bars if start <= b.at < end], dtype=np.int64)
            counts = np.searchsorted(t.day_open_ms, at - 86_400_000, side="right").tolist()
            precompute(t.config, t.day_close, counts, [t.memo.setdefault((d, 0), {}) for d in counts])
    buys: list[BacktestBuy] = []
    skips: Counter[str] = Counter()
    slip = 1 + costs.slippage_bps / BPS
    if strategy.kind == "lump-sum":
        for t in tracks:
            amount = (plain_invested or {}).get(t.config.symbol, ZERO)
            first = next((b for b in t.ticks.bars if start <= b.at < end), None)
            if first is None or amount <= 0:
                continue
            bought = _fill(t, first.at, first.open * slip, amount, costs)
            if isinstance(bought, str):
                skips[bought] += 1
            else:
                buys.append(bought)
    else:
        _ticks(config, tracks, start, end, costs, slip, buys, skips, trace)
    return _figures(strategy.name, tracks, daily, buys, skips, start, end, costs)


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
        for bar in t.ticks.bars:
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
    days = int(np.searchsorted(track.day_open_ms, at_ms - 86_400_000, side="right"))
    return Decimal(repr(float(track.day_close[days - 1]))) if days else ZERO


def _fill(
    track: _AssetTrack, at: datetime, price: Decimal, amount: Decimal, costs: Costs
) -> BacktestBuy | str:
    """The contract's fill of ``amount`` USDC at ``price`` (open with slippage); a reason when skipped."""
    quantum = Decimal(1).scaleb(-track.sz_decimals)
    size = (amount / price).quantize(quantum, rounding=ROUND_DOWN)
    cost = size * price
    if size <= 0 or cost < MIN_NOTIONAL_USDC:
        return "minimum"
    fee = size * costs.fee_bps / BPS
    h = track.holding
    h.units += size - fee
    h.invested += cost
    h.fees_usd += fee * price
    h.buys += 1
    return BacktestBuy(time=at, asset=track.config.symbol, usd=cost, size=size, price=price)


def _figures(
    name: str,
    tracks: Sequence[_AssetTrack],
    daily: Mapping[str, Series],
    buys: list[BacktestBuy],
    skips: Counter[str],
    start: datetime,
    end: datetime,
    costs: Costs,
) -> StrategyResult:
    """Daily marks (value at each day's close against invested), XIRR, drawdown, per-asset figures."""
    buys.sort(key=lambda b: b.time)
    symbols = [t.config.symbol for t in tracks]
    closes = {s: {b.at: b.close for b in daily[s].bars} if s in daily else {} for s in symbols}
    days = sorted({d for s in symbols for d in closes[s] if start <= d < end})
    units: dict[str, Decimal] = dict.fromkeys(symbols, ZERO)
    last: dict[str, Decimal] = {}
    invested = ZERO
    keep = 1 - costs.fee_bps / BPS  # units gained per unit bought (the fee is paid in the base token)
    points: list[CurvePoint] = []
    i = 0
    for d in days:
        until = d + DAY
        while i < len(buys) and buys[i].time < until:
            units[buys[i].asset] += buys[i].size * keep
            invested += buys[i].usd
            i += 1
        for s in symbols:
            c = closes[s].get(d)
            if c is not None:
                last[s] = c
        if invested > 0:
            points.append(
                CurvePoint(d, sum((units[s] * last[s] for s in symbols if s in last), ZERO), invested)
            )
    figures = []
    total_value = total_invested = total_fees = ZERO
    for t in tracks:
        s = t.config.symbol
        h = t.holding
        close = last.get(s)
        value = h.units * close if close is not None else ZERO
        window = [float(c) for d, c in closes[s].items() if start <= d < end]
        avg = Decimal(repr(sum(window) / len(window))).quantize(Decimal("0.0001")) if window else None
        figures.append(
            AssetFigures(
                s, h.units, h.invested, (h.invested / h.units) if h.units > 0 else None, value, h.buys, avg
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
        xirr_pct(buys, total_value, at),
        max_drawdown_pct(points),
        len(buys),
        skips,
        figures,
        curve,
    )


def xirr_pct(buys: Sequence[BacktestBuy], final_value: Decimal, at: datetime) -> Decimal | None:
    """The money-weighted annual return (percent, 2 decimals): the rate at which the buys (outflows at
    their times) and the final value (an inflow at ``at``) discount to zero. None without buys."""
    if not buys or final_value <= 0:
        return None if not buys else Decimal(-100)
    cash = np.array([-float(b.usd) for b in buys])
    years = np.array([(at - b.time).total_seconds() / (365 * 86_400) for b in buys])
    value = float(final_value)

    def npv(rate: float) -> float:  # value at ``at`` of every flow compounded at ``rate``, plus the inflow
        return value + float(np.dot(cash, np.exp(years * math.log1p(rate))))

    lo, hi = -0.9999, 1.0  # npv falls as the rate rises (the buys grow, the final value does not)
    while npv(hi) > 0 and hi < 1e6:
        hi *= 2
    if npv(lo) < 0 or npv(hi) > 0:
        return None
    for _ in range(100):  # bisection: 2^-100 of the bracket, far below the cent of a percent shown
        mid = (lo + hi) / 2
        if npv(mid) > 0:
            lo = mid
        else:
            hi = mid
    return Decimal(repr((lo + hi) / 2 * 100)).quantize(CENT)


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
