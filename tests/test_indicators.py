"""Indicators against hand-computed values and straightforward pure-Python loops."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcactl.strategy.indicators import (
    annualised_volatility,
    daily_returns,
    drawdown_from_high,
    ema,
    history_needed,
    last_rsi,
    pct_below,
    rsi,
    sma,
)

# --- reference loops, written the obvious way ----------------------------------------------------


def loop_sma(x: list[float], n: int) -> list[float]:
    return [math.nan if i < n - 1 else sum(x[i - n + 1:i + 1]) / n for i in range(len(x))]


def loop_ema(x: list[float], n: int) -> list[float]:
    out = [math.nan] * len(x)
    if len(x) < n:
        return out
    alpha = 2 / (n + 1)
    out[n - 1] = sum(x[:n]) / n
    for i in range(n, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def loop_rsi(c: list[float], p: int, wilder: bool) -> list[float]:
    out = [math.nan] * len(c)
    if len(c) < p + 1:
        return out
    gains = [max(c[i] - c[i - 1], 0.0) for i in range(1, len(c))]
    losses = [max(c[i - 1] - c[i], 0.0) for i in range(1, len(c))]

    def value(g: float, loss: float) -> float:
        if abs(loss) < 1e-9:
            return 50.0 if abs(g) < 1e-9 else 100.0
        return 100 - 100 / (1 + g / loss)

    ag, al = sum(gains[:p]) / p, sum(losses[:p]) / p
    out[p] = value(ag, al)
    for i in range(p + 1, len(c)):
        if wilder:
            ag = (ag * (p - 1) + gains[i - 1]) / p
            al = (al * (p - 1) + losses[i - 1]) / p
        else:
            ag = sum(gains[i - p:i]) / p
            al = sum(losses[i - p:i]) / p
        out[i] = value(ag, al)
    return out


def same(a: np.ndarray, b: list[float], rel: float = 1e-9) -> bool:
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=rel, abs_tol=1e-9)
        for x, y in zip(a.tolist(), b, strict=True)
    )


# --- hand-computed values -------------------------------------------------------------------------

# 15 closes → 14 changes: +1 −0.5 +1 +0.5 −1 +0.5 +1 +0.5 −1 +0.5 +1 −0.5 +1 +0.5
# gains sum 7.5, losses sum 3 → avg gain 7.5/14, avg loss 3/14, RS 2.5, RSI = 100 − 100/3.5 = 500/7.
# A 16th close of 13.5 (change −1), Wilder: gain (7.5/14·13 + 0)/14 = 97.5/196,
# loss (3/14·13 + 1)/14 = 53/196 → RSI = 100·97.5/150.5 = 64.78405315614618.
# Simple (Cutler) over the last 14 changes: gains 6.5, losses 4 → RSI = 100·6.5/10.5 = 61.904761904761905.
CLOSES_15 = [10, 11, 10.5, 11.5, 12, 11, 11.5, 12.5, 13, 12, 12.5, 13.5, 13, 14, 14.5]


def test_rsi_first_value_by_hand() -> None:
    """RSI(14) of the 15-point series is 500/7, with NaN in the 14 warm-up positions."""
    values = rsi(CLOSES_15)
    assert np.isnan(values[:14]).all()
    assert values[14] == pytest.approx(500 / 7, rel=1e-12)
    assert last_rsi(CLOSES_15) == pytest.approx(71.42857142857143, rel=1e-12)


def test_rsi_second_value_wilder_and_simple_by_hand() -> None:
    """The 16th value follows Wilder's smoothing (64.784…) or the simple mean (61.904…)."""
    closes = [*CLOSES_15, 13.5]
    assert rsi(closes)[15] == pytest.approx(100 * 97.5 / 150.5, rel=1e-12)
    assert rsi(closes, wilder=False)[15] == pytest.approx(100 * 6.5 / 10.5, rel=1e-12)
    assert rsi(closes, wilder=False)[14] == pytest.approx(500 / 7, rel=1e-12)  # same first value


@pytest.mark.parametrize("wilder", [True, False])
def test_rsi_conventions_flat_up_down(wilder: bool) -> None:
    """All-up reads 100, all-down 0, flat 50 (no NaN, no division warnings)."""
    up = [float(i) for i in range(1, 40)]
    assert np.all(rsi(up, wilder=wilder)[14:] == 100.0)
    assert np.all(rsi(up[::-1], wilder=wilder)[14:] == 0.0)
    assert np.all(rsi([42.0] * 40, wilder=wilder)[14:] == 50.0)
    assert np.all(rsi([0.1] * 40, wilder=wilder)[14:] == 50.0)


def test_rsi_up_then_flat_stays_100() -> None:
    """Gains followed by a flat stretch keep RSI at 100 (no losses ever), not 50."""
    closes = [float(i) for i in range(20)] + [19.0] * 30
    assert np.all(rsi(closes)[14:] == 100.0)


@pytest.mark.parametrize("n", [0, 1, 5, 14])
def test_rsi_short_history(n: int) -> None:
    """With ≤ period closes RSI is all NaN and last_rsi is None — never an exception."""
    closes = [float(i % 3 + 1) for i in range(n)]
    assert np.isnan(rsi(closes)).all() and len(rsi(closes)) == n
    assert last_rsi(closes) is None
    assert history_needed("rsi", 14) == 15


def test_volatility_by_hand() -> None:
    """Returns +10 %, −10 %, +10 %: sample sd 0.2/√3, so vol = 20·√(365/3) ≈ 220.6 %."""
    closes = [100.0, 110.0, 99.0, 108.9]
    assert annualised_volatility(closes, 3) == pytest.approx(20 * math.sqrt(365 / 3), rel=1e-9)
    assert annualised_volatility([50.0, *closes], 3) == pytest.approx(20 * math.sqrt(365 / 3), rel=1e-9)


def test_volatility_uses_last_window_and_matches_statistics() -> None:
    """Only the last window_days returns count; equals statistics.stdev × √365 × 100."""
    rng = np.random.default_rng(3)
    closes = (100 * np.cumprod(1 + rng.normal(0, 0.03, 200))).tolist()
    window = 30
    last = closes[-(window + 1):]
    returns = [last[i] / last[i - 1] - 1 for i in range(1, len(last))]
    expected = statistics.stdev(returns) * math.sqrt(365) * 100
    assert annualised_volatility(closes, window) == pytest.approx(expected, rel=1e-12)


def test_volatility_not_enough_history() -> None:
    """window_days returns need window_days + 1 closes; fewer, or a degenerate window, give None."""
    assert annualised_volatility([1.0] * 30, 30) is None
    assert annualised_volatility([1.0] * 31, 30) == 0.0
    assert annualised_volatility([], 30) is None
    assert annualised_volatility([1.0, 2.0], 1) is None
    assert annualised_volatility([1.0, 0.0, 1.0], 2) is None  # a zero close: not a finite answer
    assert history_needed("volatility", 30) == 31


def test_daily_returns() -> None:
    """Simple returns as fractions, one fewer than the closes; empty for short input."""
    assert daily_returns([100.0, 110.0, 99.0]).tolist() == pytest.approx([0.1, -0.1])
    assert daily_returns([5.0]).size == 0
    assert daily_returns([]).size == 0


def test_sma_and_ema_by_hand() -> None:
    """SMA(3) and EMA(3) of 1..6: EMA seeded with SMA 2, alpha ½ → 3, 4, 5."""
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert same(sma(x, 3), [math.nan, math.nan, 2.0, 3.0, 4.0, 5.0])
    assert same(ema(x, 3), [math.nan, math.nan, 2.0, 3.0, 4.0, 5.0])
    # EMA(2) of 2, 4, 8, 16: seed 3, alpha ⅔ → 8·⅔ + 3·⅓ = 19/3, then 16·⅔ + 19/9 = 115/9.
    assert same(ema([2.0, 4.0, 8.0, 16.0], 2), [math.nan, 3.0, 19 / 3, 115 / 9])


def test_moving_averages_short_history() -> None:
    """Shorter than the window: all NaN, same length, no exception."""
    assert np.isnan(sma([1.0, 2.0], 3)).all() and len(sma([1.0, 2.0], 3)) == 2
    assert np.isnan(ema([1.0, 2.0], 3)).all()
    assert sma([], 5).size == 0 and ema([], 5).size == 0


def test_pct_below_and_drawdown() -> None:
    """pct_below is positive below the average; drawdown measures from the (lookback) high."""
    assert pct_below(90.0, 100.0) == pytest.approx(10.0)
    assert pct_below(110.0, 100.0) == pytest.approx(-10.0)
    assert pct_below(90.0, math.nan) is None
    assert pct_below(90.0, 0.0) is None
    closes = [100.0, 120.0, 80.0, 90.0]
    assert drawdown_from_high(closes) == pytest.approx(25.0)  # (120 − 90) / 120
    assert drawdown_from_high(closes, lookback=2) == pytest.approx(0.0 + 100 * (90 - 90) / 90)
    assert drawdown_from_high(closes, lookback=3) == pytest.approx(25.0)
    assert drawdown_from_high([]) is None
    assert drawdown_from_high(closes, lookback=0) is None
    assert drawdown_from_high([5.0, 4.0, 6.0]) == 0.0


# --- properties against the loops ----------------------------------------------------------------

series = st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=0, max_size=120)


@settings(max_examples=150)
@given(closes=series, n=st.integers(min_value=1, max_value=30))
def test_moving_averages_match_loops(closes: list[float], n: int) -> None:
    """SMA and EMA equal the obvious loops on arbitrary positive series."""
    assert same(sma(closes, n), loop_sma(closes, n))
    assert same(ema(closes, n), loop_ema(closes, n))


@settings(max_examples=150)
@given(closes=series, period=st.integers(min_value=2, max_value=21), wilder=st.booleans())
def test_rsi_matches_loop(closes: list[float], period: int, wilder: bool) -> None:
    """RSI equals the obvious loop and stays within 0..100."""
    got = rsi(closes, period, wilder)
    assert same(got, loop_rsi(closes, period, wilder), rel=1e-6)
    finite = got[~np.isnan(got)]
    assert np.all((finite >= 0) & (finite <= 100))


def test_long_series_stay_accurate() -> None:
    """5,000-point series (the benchmark size) still match the loops: the block evaluation is stable."""
    rng = np.random.default_rng(11)
    closes = (30000 * np.cumprod(1 + rng.normal(0, 0.02, 5000))).tolist()
    assert same(ema(closes, 200), loop_ema(closes, 200), rel=1e-9)
    assert same(ema(closes, 2), loop_ema(closes, 2), rel=1e-9)
    assert same(rsi(closes, 14), loop_rsi(closes, 14, True), rel=1e-7)
    assert same(rsi(closes, 2), loop_rsi(closes, 2, True), rel=1e-7)


def _walk(rng: np.random.Generator, shortest: int, longest: int, *, missing: bool,
          flat: tuple[int, int] | None) -> np.ndarray:
    """A random walk of closes (length in [shortest, longest)); ``missing``: one close NaN; ``flat``
    (a, b): the stretch from size // a to size // b held at its first close."""
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.05, int(rng.integers(shortest, longest)))))
    if missing:
        c[rng.integers(0, c.size)] = np.nan
    if flat is not None:
        c[c.size // flat[0]: c.size // flat[1]] = c[c.size // flat[0]]
    return c


def test_last_values_alone_are_the_series_last_bit_for_bit() -> None:
    """last_rsi (what the rule reads) and the EMA's last value equal the whole series' last element
    exactly, and so do the same values computed for a stack of many windows at once (the backtest's
    ticks: a running sum a column at a time): Wilder and Cutler, several recursion blocks, flat
    stretches, a missing close."""
    from dcactl.strategy.indicators import FEW_ROWS, last_ema_rows, last_rsi_rows

    rng = np.random.default_rng(3)
    for trial in range(300):
        c = _walk(rng, 1, 700, missing=trial % 7 == 0, flat=(2, 1) if trial % 11 == 0 else None)
        for p in (2, 5, 14, 30):
            for wilder in (True, False):
                full = rsi(c, p, wilder)
                expected = float(full[-1]) if full.size and math.isfinite(full[-1]) else None
                assert last_rsi(c, p, wilder) == expected
            whole = float(ema(c, p)[-1]) if c.size else math.nan
            alone = float(last_ema_rows(c[None, :], p)[0]) if c.size else math.nan
            assert alone == whole or (math.isnan(alone) and math.isnan(whole))
            windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([c] * 3), c.size)
            stack = windows[: FEW_ROWS + 5]
            if stack.shape[0] >= FEW_ROWS:
                for wilder in (True, False):
                    many = last_rsi_rows(stack, p, wilder).tolist()
                    alone_ones = [last_rsi(row, p, wilder) for row in stack]
                    assert [None if math.isnan(v) else v for v in many] == alone_ones
                many = last_ema_rows(stack, p).tolist()
                ones = [float(last_ema_rows(row[None, :], p)[0]) for row in stack]
                assert all(a == b or (math.isnan(a) and math.isnan(b))
                           for a, b in zip(many, ones, strict=True))


def test_rsi_of_many_tails_is_each_tails_own_bit_for_bit() -> None:
    """last_rsi_tails (the backtest's RSI at every tick, gathered from the series' own changes) equals
    last_rsi on each tail alone, bit for bit: Wilder and Cutler, short and long periods, few and many
    tails, one per close or in any order, a missing close and a flat stretch."""
    from dcactl.strategy.indicators import last_rsi_tails

    rng = np.random.default_rng(5)
    for trial in range(60):
        c = _walk(rng, 40, 400, missing=trial % 5 == 0, flat=(3, 2) if trial % 7 == 0 else None)
        for p in (2, 5, 14):
            size = int(rng.integers(p + 1, min(c.size, 10 * p + 2)))
            rows = int(rng.integers(1, 120))
            ends = (rng.integers(size, c.size + 1, rows) if trial % 2 else  # a tail per close, or any
                    np.arange(size, c.size + 1)[-rows:])
            for wilder in (True, False):
                many = last_rsi_tails(c, ends, size, p, wilder).tolist()
                alone = [last_rsi(c[e - size:e], p, wilder) for e in ends.tolist()]
                assert [None if math.isnan(v) else v for v in many] == alone, (trial, p, wilder)
