"""Candle intervals, aggregation of minute series into candles, and price formatting."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dcactl.devnet.prices import GENESIS_MIN, Series

__all__ = ["INTERVALS", "MAX_CANDLES", "candle_snapshot", "fmt_px"]

MAX_CANDLES = 5_000
# Fixed intervals in minutes; "1w" is aligned to Monday 00:00 UTC, "1M" to calendar months.
INTERVALS: dict[str, int] = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "8h": 480,
    "12h": 720,
    "1d": 1_440,
    "3d": 4_320,
    "1w": 10_080,
    "1M": 0,
}
_MONDAY_OFFSET = 4 * 1_440  # 1970-01-05 was a Monday


def fmt_px(x: float, sz_decimals: int) -> str:
    """A price as the exchange shows it: 5 significant figures, ≤ 8 − szDecimals decimals, no
    trailing zeros, an integral price with one decimal place ("107298.0", §7 "Number text")."""
    if x <= 0 or not math.isfinite(x):
        return "0.0"
    dec = min(max(4 - math.floor(math.log10(x)), 0), 8 - sz_decimals)
    s = f"{x:.{dec}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if "." in s else s + ".0"


def _month_start(minute: int, delta: int) -> int:
    """The minute at which the month containing `minute`, moved by `delta` months, starts."""
    d = datetime.fromtimestamp(minute * 60, tz=UTC)
    y, mo = divmod(d.year * 12 + d.month - 1 + delta, 12)
    return int(datetime(y, mo + 1, 1, tzinfo=UTC).timestamp()) // 60


def _boundaries(interval: str, first: int, last: int) -> list[int]:
    """Open minutes of the candles from the one containing `first` to the one containing `last`."""
    step = INTERVALS[interval]
    if step == 0:
        out = [_month_start(first, 0)]
        while out[-1] <= last:
            out.append(_month_start(out[-1], 1))
        return out[:-1]
    off = _MONDAY_OFFSET if interval == "1w" else 0
    a = (first - off) // step * step + off
    return list(range(a, last + 1, step))


def _shift(interval: str, minute: int, n: int) -> int:
    """The open minute `n` candles after (n<0: before) the candle opening at `minute`."""
    step = INTERVALS[interval]
    return _month_start(minute, n) if step == 0 else minute + n * step


def candle_snapshot(
    series: Series, coin: str, interval: str, start_ms: int, end_ms: int, now_ms: int, sz_decimals: int
) -> list[dict[str, Any]]:
    """Candles overlapping [start_ms, end_ms] up to now, at most the 5000 most recent ones.

    The candle in progress closes at the current minute's price. Raises KeyError for an unknown
    interval.
    """
    if interval not in INTERVALS:
        raise KeyError(interval)
    now_min = now_ms // 60_000
    cur = _boundaries(interval, now_min, now_min)[0]
    oldest = max(
        _shift(interval, cur, -(MAX_CANDLES - 1)), _boundaries(interval, GENESIS_MIN, GENESIS_MIN)[0]
    )
    first = max(start_ms // 60_000, oldest)
    last = min(end_ms // 60_000, now_min)
    if last < first:
        return []
    opens = _boundaries(interval, first, last)
    opens = [t for t in opens if t >= oldest][-MAX_CANDLES:]
    if not opens:
        return []
    closes = [*opens[1:], _shift(interval, opens[-1], 1)]
    step = INTERVALS[interval]
    if step == 0 or step >= 60:
        o, c, hs, ls, vs, ns = _from_hours(series, opens, closes, now_min)
    else:
        o, c, hs, ls, vs, ns = _from_minutes(series, opens, closes, now_min)
    lot_dec = max(sz_decimals, 0)
    out: list[dict[str, Any]] = []
    for i, t in enumerate(opens):
        out.append(
            {
                "t": t * 60_000,
                "T": closes[i] * 60_000 - 1,
                "s": coin,
                "i": interval,
                "o": fmt_px(float(o[i]), sz_decimals),
                "c": fmt_px(float(c[i]), sz_decimals),
                "h": fmt_px(float(hs[i]), sz_decimals),
                "l": fmt_px(float(ls[i]), sz_decimals),
                "v": f"{int(vs[i]) / 10**lot_dec:.{lot_dec}f}" if lot_dec else str(int(vs[i])),
                "n": int(ns[i]),
            }
        )
    return out


Agg = tuple[Any, Any, Any, Any, Any, Any]


def _reduce(o: Any, c: Any, h: Any, low: Any, v: Any, n: Any, idx: Any, ends: Any) -> Agg:
    return (
        o[idx],
        c[ends],
        np.maximum.reduceat(h, idx),
        np.minimum.reduceat(low, idx),
        np.add.reduceat(v, idx),
        np.add.reduceat(n, idx),
    )


def _from_minutes(series: Series, opens: list[int], closes: list[int], now_min: int) -> Agg:
    """Aggregate sub-hour candles straight from the minute series."""
    m0, m_end = opens[0], min(closes[-1], now_min + 1)
    o, c, h, low, vol = series.minutes(m0, m_end)
    if m_end == now_min + 1:  # the minute in progress shows its open only
        c[-1] = h[-1] = low[-1] = o[-1]
    idx = np.asarray(opens, dtype=np.int64) - m0
    ends = np.minimum(np.asarray(closes, dtype=np.int64), m_end) - m0 - 1
    return _reduce(o, c, h, low, vol, 1 + (vol & 7), idx, ends)


def _from_hours(series: Series, opens: list[int], closes: list[int], now_min: int) -> Agg:
    """Aggregate hour-multiple candles from cached completed hours plus the hour in progress."""
    h0, h_now = opens[0] // 60, now_min // 60
    h_end = min(closes[-1] // 60, h_now + 1)
    done_end = min(h_end, h_now)
    o, c, h, low, v, n = (
        series.hours(h0, done_end, now_min)
        if done_end > h0
        else (*(np.empty(0) for _ in range(4)), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    )
    if h_end > h_now:  # the hour in progress, from its minutes
        po, pc, ph, pl, pv, pn = _from_minutes(series, [h_now * 60], [h_now * 60 + 60], now_min)
        o, c, h, low = (np.concatenate([a, b]) for a, b in ((o, po), (c, pc), (h, ph), (low, pl)))
        v, n = np.concatenate([v, pv]), np.concatenate([n, pn])
    idx = np.asarray(opens, dtype=np.int64) // 60 - h0
    ends = np.minimum(np.asarray(closes, dtype=np.int64) // 60, h_end) - h0 - 1
    return _reduce(o, c, h, low, v, n, idx, ends)
