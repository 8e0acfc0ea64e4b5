"""Market indicators over price history. Pure numpy, vectorised, no I/O.

Inputs are 1-D sequences of closes (USDC per unit, oldest first, one per *completed* period — the
caller drops the still-open candle). They are converted to float64: these are statistics, not money.

**Not enough history** never raises: scalar functions return ``None``, array functions return NaN in
the warm-up positions (all-NaN when the series is shorter than the warm-up). Empty input is fine.
Callers turn ``None`` into a "not enough history" reason (:func:`history_needed` says how many closes
a given indicator needs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "DAYS_PER_YEAR",
    "annualised_volatility",
    "daily_returns",
    "drawdown_from_high",
    "ema",
    "history_needed",
    "last_ema_rows",
    "last_rsi",
    "last_rsi_rows",
    "last_rsi_tails",
    "pct_below",
    "pct_below_at",
    "rsi",
    "sma",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ArrayLike = Sequence[float] | FloatArray

DAYS_PER_YEAR = 365
"""Crypto trades every day: annualise daily volatility with √365 (the earlier bot's formula)."""
FEW_ROWS = 32
"""Below this many rows :func:`_recursive_last` runs the whole recursion (numpy's per-call cost
dominates a column-at-a-time loop over one row); from it, column by column."""


def _arr(x: ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"expected a 1-D series, got shape {a.shape}")
    return a


def history_needed(indicator: str, n: int) -> int:
    """Closes needed for one defined value: ``"volatility"`` n+1, ``"rsi"`` n+1, ``"sma"``/``"ema"`` n."""
    if indicator in ("volatility", "rsi"):
        return n + 1
    if indicator in ("sma", "ema"):
        return n
    raise ValueError(f"unknown indicator {indicator!r}")


def daily_returns(closes: ArrayLike) -> FloatArray:
    """Simple returns ``c[i] / c[i-1] − 1`` (a fraction, not percent); length ``len(closes) − 1``."""
    c = _arr(closes)
    if c.size < 2:
        return np.empty(0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero close gives inf/NaN, not a warning
        return c[1:] / c[:-1] - 1.0


def annualised_volatility(closes: ArrayLike, window_days: int) -> float | None:
    """Annualised realised volatility in **percent**.

    The sample standard deviation (ddof = 1) of the simple daily returns of the last ``window_days``
    completed days, × √365 × 100 — the earlier bot's formula. ``window_days`` returns need
    ``window_days + 1`` closes; with fewer (or ``window_days < 2``, where ddof = 1 is undefined) the
    answer is None ("not enough history"). Non-finite results (a zero or NaN close) are None too.
    """
    if window_days < 2:
        return None
    c = _arr(closes)
    if c.size < window_days + 1:
        return None
    returns = daily_returns(c[-(window_days + 1):])
    if not np.all(np.isfinite(returns)):
        return None
    vol = float(np.std(returns, ddof=1)) * math.sqrt(DAYS_PER_YEAR) * 100.0
    return vol if math.isfinite(vol) else None


def sma(x: ArrayLike, n: int) -> FloatArray:
    """Simple moving average over ``n`` points; NaN for the first ``n − 1`` positions."""
    row: FloatArray = _sma_rows(_arr(x)[None, :], n)[0]
    return row


def _recursive(values: FloatArray, seed: float | FloatArray, keep: float, gain: float) -> FloatArray:
    """``y[0] = seed``, ``y[i] = keep·y[i−1] + gain·values[i−1]`` for i ≥ 1, vectorised along the last
    axis (``values`` may be a stack of rows, one ``seed`` per row: the backtest's windows).

    Closed form: ``y[i] = keep^i·seed + gain·Σ_j keep^(i−1−j)·values[j]``. To stay finite on long
    series it is evaluated in blocks short enough that ``keep^-block`` stays below ~1e100.
    """
    size = values.shape[-1]
    out = np.empty((*values.shape[:-1], size + 1))
    prev = np.asarray(seed, dtype=np.float64)
    out[..., 0] = prev
    block = 4096 if keep <= 0 else max(16, min(4096, int(230.0 / -math.log(keep))))
    for start in range(0, size, block):
        chunk = values[..., start:start + block]
        k = np.arange(1, chunk.shape[-1] + 1, dtype=np.float64)
        powers = keep ** k  # keep^1 .. keep^m
        # y[m] = keep^m·prev + gain·Σ_{j<m} keep^(m−1−j)·chunk[j]
        #      = keep^m·(prev + gain·Σ_{j<m} chunk[j] / keep^(j+1))
        if keep > 0:
            scaled = np.cumsum(chunk / powers, axis=-1)
            ys = powers * (prev[..., None] + gain * scaled)
        else:
            ys = gain * chunk
        out[..., start + 1:start + 1 + chunk.shape[-1]] = ys
        prev = ys[..., -1]
    return out


def ema(x: ArrayLike, n: int) -> FloatArray:
    """Exponential moving average with ``alpha = 2 / (n + 1)``.

    Seeded with the SMA of the first ``n`` points at position ``n − 1`` (NaN before), then
    ``ema[i] = alpha·x[i] + (1 − alpha)·ema[i−1]``.
    """
    row: FloatArray = _ema_rows(_arr(x)[None, :], n)[0]
    return row


def _ema_rows(a: FloatArray, n: int) -> FloatArray:
    """:func:`ema` of each row of ``a`` (rows of equal length), one computation for all of them."""
    out = np.full(a.shape, np.nan)
    if n < 1 or a.shape[-1] < n:
        return out
    alpha = 2.0 / (n + 1)
    seed = np.ascontiguousarray(a[:, :n]).mean(axis=-1)
    out[:, n - 1:] = _recursive(a[:, n:], seed, 1.0 - alpha, alpha)
    return out


def last_ema_rows(windows: FloatArray, n: int) -> FloatArray:
    """The last :func:`ema` value of each row of ``windows``, computed at once by the same operations
    (see :func:`last_rsi_rows`)."""
    a = np.asarray(windows, dtype=np.float64)
    if a.shape[0] == 0:
        return np.empty(0)
    if n < 1 or a.shape[-1] < n:
        return np.full(a.shape[0], np.nan)
    alpha = 2.0 / (n + 1)
    seed = np.ascontiguousarray(a[:, :n]).mean(axis=-1)
    return _recursive_last(a[:, n:], seed, 1.0 - alpha, alpha)


def rsi(closes: ArrayLike, period: int = 14, wilder: bool = True) -> FloatArray:
    """Relative Strength Index (0..100) per position; NaN for the first ``period`` positions.

    Gains and losses are the positive and negative parts of the close-to-close changes. With
    ``wilder=True`` the first average gain/loss is the simple mean of the first ``period`` changes and
    later ones are ``(prev·(period − 1) + x) / period`` (Wilder's smoothing). With ``wilder=False``
    each value uses the simple mean of the last ``period`` changes (Cutler's RSI).

    ``RSI = 100 − 100 / (1 + avg_gain / avg_loss)``, with these conventions for the edge cases: no
    losses and some gains → 100; no gains and some losses → 0; neither (a flat stretch) → 50.
    """
    row: FloatArray = _rsi_rows(_arr(closes)[None, :], period, wilder)[0]
    return row


def _rsi_rows(c: FloatArray, period: int, wilder: bool, last: bool = False) -> FloatArray:
    """:func:`rsi` of each row of ``c`` (rows of equal length), one computation for all of them;
    ``last``: only each row's last value (a column), by the same operations on it."""
    out = np.full((c.shape[0], 1) if last else c.shape, np.nan)
    if period < 1 or c.shape[-1] < period + 1:
        return out
    delta = np.diff(c, axis=-1)
    gains = np.maximum(0.0, delta)  # np.clip(x, 0, None) to the bit (+0.0 for zeros, NaN kept), faster
    losses = np.maximum(0.0, -delta)
    if wilder:
        keep, gain = (period - 1) / period, 1.0 / period
        first_gain = np.ascontiguousarray(gains[:, :period]).mean(axis=-1)
        first_loss = np.ascontiguousarray(losses[:, :period]).mean(axis=-1)
        if last:
            avg_gain = _recursive_last(gains[:, period:], first_gain, keep, gain)[:, None]
            avg_loss = _recursive_last(losses[:, period:], first_loss, keep, gain)[:, None]
        else:
            avg_gain = _recursive(gains[:, period:], first_gain, keep, gain)
            avg_loss = _recursive(losses[:, period:], first_loss, keep, gain)
    else:
        avg_gain = _sma_rows(gains, period)[:, -1:] if last else _sma_rows(gains, period)[:, period - 1:]
        avg_loss = _sma_rows(losses, period)[:, -1:] if last else _sma_rows(losses, period)[:, period - 1:]
    with np.errstate(invalid="ignore"):
        scale = np.fmax(1.0, np.fmax.reduce(np.abs(c), axis=-1))
    value = _rsi_of(avg_gain, avg_loss, scale)
    if last:
        return value
    out[:, period:] = value
    return out


def _rsi_of(avg_gain: FloatArray, avg_loss: FloatArray, scale: FloatArray) -> FloatArray:
    """The RSI of rows' average gains and losses (each row a column of them), ``scale`` each row's
    largest absolute close (NaN ignored), at least 1."""
    # Float noise can leave a tiny positive average after an exact cancellation; treat values far
    # below the price scale as zero so a flat series reads 50, not an arbitrary number.
    eps = (1e-12 * scale)[:, None]
    avg_gain = np.where(avg_gain <= eps, 0.0, avg_gain)
    avg_loss = np.where(avg_loss <= eps, 0.0, avg_loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    rsi: FloatArray = np.where(avg_loss == 0.0, np.where(avg_gain == 0.0, 50.0, 100.0), value)
    return rsi


def _recursive_last(values: FloatArray, seed: FloatArray, keep: float, gain: float) -> FloatArray:
    """The last element of :func:`_recursive` per row, by the same operations in the same order: for
    a few rows (a live decision) :func:`_recursive` itself, for many (a backtest's ticks) its running
    sum a column at a time instead of ``cumsum``'s whole rows, in O(rows) memory. ``cumsum`` adds in
    order, so both give the same bits (tests/test_indicators.py holds them to it)."""
    if values.ndim < 2 or values.shape[0] < FEW_ROWS:
        last: FloatArray = _recursive(values, seed, keep, gain)[..., -1]
        return last
    columns = np.ascontiguousarray(np.moveaxis(values, -1, 0))  # a column per step, contiguous
    return _running_last(columns.__getitem__, columns.shape[0], seed, keep, gain)


def _running_last(
    column: Callable[[int], FloatArray], size: int, seed: FloatArray, keep: float, gain: float
) -> FloatArray:
    """:func:`_recursive_last` of the rows whose ``size`` steps are ``column(j)`` (step ``j`` of every
    row): the running sum one column at a time, in :func:`_recursive`'s blocks."""
    prev = np.asarray(seed, dtype=np.float64)
    block = 4096 if keep <= 0 else max(16, min(4096, int(230.0 / -math.log(keep))))
    for start in range(0, size, block):
        m = min(block, size - start)
        powers = keep ** np.arange(1, m + 1, dtype=np.float64)
        if keep > 0:
            total = column(start) / powers[0]
            for j in range(1, m):
                total = total + column(start + j) / powers[j]
            prev = powers[-1] * (prev + gain * total)
        else:
            prev = gain * column(start + m - 1)
    return prev


def _sma_rows(a: FloatArray, n: int) -> FloatArray:
    out = np.full(a.shape, np.nan)
    if n < 1 or a.shape[-1] < n:
        return out
    csum = np.cumsum(np.concatenate((np.zeros((a.shape[0], 1)), a), axis=-1), axis=-1)
    out[:, n - 1:] = (csum[:, n:] - csum[:, :-n]) / n
    return out


def last_rsi(closes: ArrayLike, period: int = 14, wilder: bool = True) -> float | None:
    """The RSI of the last close, or None with fewer than ``period + 1`` closes."""
    value = float(last_rsi_rows(_arr(closes)[None, :], period, wilder)[0])
    return value if math.isfinite(value) else None


def last_rsi_rows(windows: FloatArray, period: int = 14, wilder: bool = True) -> FloatArray:
    """:func:`last_rsi` of each row of ``windows`` (NaN where it is None), computed at once: the
    backtest's RSI at every tick, by the code the rule runs at that tick alone."""
    if windows.shape[0] == 0:
        return np.empty(0)
    column: FloatArray = _rsi_rows(np.asarray(windows, dtype=np.float64), period, wilder, last=True)[:, 0]
    return column


def last_rsi_tails(closes: FloatArray, ends: IntArray, size: int, period: int = 14,
                   wilder: bool = True) -> FloatArray:
    """:func:`last_rsi_rows` of the tails ``closes[e - size:e]`` for each ``e`` in ``ends`` (each
    ``≥ size``), bit for bit, without stacking the tails: a Wilder RSI's changes, gains and losses are
    those of ``closes`` itself, gathered per step for every tail at once (the backtest's ticks)."""
    c = np.asarray(closes, dtype=np.float64)
    starts = np.asarray(ends, dtype=np.int64) - size
    rows = starts.size
    if rows == 0:
        return np.empty(0)
    steps = size - 1 - period  # the recursion's steps after the first average
    if not wilder or period < 1 or steps < 0 or rows < FEW_ROWS:
        windows = np.lib.stride_tricks.sliding_window_view(c, size)[starts]
        return last_rsi_rows(windows, period, wilder)
    delta = np.diff(c)
    both = np.stack([np.maximum(0.0, delta), np.maximum(0.0, -delta)])  # gains, losses
    first = np.lib.stride_tricks.sliding_window_view(both, period, axis=-1)[:, starts].mean(axis=-1)
    keep, gain = (period - 1) / period, 1.0 / period
    s0 = int(starts[0]) + period
    consecutive = bool(np.array_equal(starts, np.arange(starts[0], starts[0] + rows)))
    if consecutive:  # one tail per close: slices
        def column(j: int) -> FloatArray:
            return both[:, s0 + j:s0 + j + rows]
    else:
        steps_of = starts + period

        def column(j: int) -> FloatArray:
            return both[:, steps_of + j]
    averages = _running_last(column, steps, first, keep, gain)
    # each tail's largest |close| (a maximum: any order), over a view of |closes| when the tails follow
    # one another, else over the gathered tails
    tails = np.lib.stride_tricks.sliding_window_view(np.abs(c), size)
    with np.errstate(invalid="ignore"):
        top = np.fmax.reduce(tails[starts[0]:starts[0] + rows] if consecutive else tails[starts], axis=-1)
        scale = np.fmax(1.0, top)
    value: FloatArray = _rsi_of(averages[0][:, None], averages[1][:, None], scale)[:, 0]
    return value


def pct_below(price: float, average: float) -> float | None:
    """How far ``price`` is below ``average``, in percent of the average (positive when below).

    ``(average − price) / average × 100``; None when the average is NaN or not positive.
    """
    if not (math.isfinite(average) and average > 0 and math.isfinite(price)):
        return None
    return (average - price) / average * 100.0  # pct_below_at's very float operations, in this order


def pct_below_at(price: FloatArray, average: FloatArray) -> FloatArray:
    """:func:`pct_below` elementwise (NaN where it is None)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(average) & (average > 0) & np.isfinite(price)
        below: FloatArray = np.where(ok, (average - price) / average * 100.0, np.nan)
    return below


def drawdown_from_high(closes: ArrayLike, lookback: int | None = None) -> float | None:
    """Percent the last close sits below the highest close of the last ``lookback`` closes (all when
    None), as a non-negative number (0 at a new high). None for empty input or a non-positive high."""
    c = _arr(closes)
    if lookback is not None:
        if lookback < 1:
            return None
        c = c[-lookback:]
    if c.size == 0:
        return None
    high = float(np.max(c))
    if not (math.isfinite(high) and high > 0):
        return None
    return (high - float(c[-1])) / high * 100.0
