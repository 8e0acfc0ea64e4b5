"""Prices: a reproducible walk per (seed, key, minute), admin overrides, and CSV candle replay.

The walk is a sum of hash-seeded value-noise octaves (periods from 1 minute to 6 months) in log
space, evaluated vectorised with numpy: any minute in any year costs O(1), so candles of every
interval aggregate from the same minute series and agree with each other exactly.

Minute m (Unix minutes) has open W(m) and close W(m + 1); its high/low are their max/min.
An interval candle's open is its first minute's open, its close its last minute's close, its
high/low the max/min over its minutes, its volume the sum of integer per-minute lot volumes.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["GENESIS_MIN", "Replay", "Series", "load_replay_csv"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_MASK = (1 << 64) - 1
# Octave periods in minutes (multiples of 60); amplitude = 0.8 * vol * sqrt(period/year), capped.
_OCTAVES: tuple[int, ...] = (60, 360, 1_440, 10_080, 43_200, 259_200)
_YEAR_MIN = 525_600.0
_CHUNK = 1_024  # hours per cached chunk
GENESIS_MIN = 1_325_376_000 // 60  # 2012-01-01T00:00Z: no candles before it
_CAP = 0.12


def _mix(x: int) -> int:
    """splitmix64 on a Python int (a salt for one octave)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _mix_arr(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 over a uint64 array (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _unit(h: npt.NDArray[np.uint64]) -> F64:
    """Hashes → uniform floats in [-1, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) * (2.0 / 9007199254740992.0) - 1.0


@dataclass
class Replay:
    """Candles replayed over the walk: per-minute open/close/high/low and volume (in lots)."""

    start_min: int
    o: F64
    c: F64
    h: F64
    low: F64
    vol: I64

    @property
    def end_min(self) -> int:
        """First minute after the replay."""
        return self.start_min + len(self.o)


@dataclass
class Series:
    """The price series of one market: walk × continuity factors × admin events.

    `events` holds (from_minute, kind, value) with kind "mul" (a shock/set: multiply from then on)
    or "pin" (the price is exactly `value` from then on, until a later event).
    """

    seed: int
    key: int
    base: float
    vol: float
    lot: float  # volume unit in base tokens (10**-szDecimals)
    events: list[tuple[int, str, float]] = field(default_factory=list)
    replay: Replay | None = None
    version: int = 0
    cache: dict[tuple[int, int], tuple[F64, F64, F64, F64, I64, I64]] = field(default_factory=dict)
    px_cache: dict[tuple[int, int], float] = field(default_factory=dict)

    def add_event(self, minute: int, kind: str, value: float) -> None:
        """Apply an admin override from `minute` on ("mul" multiplies, "pin" fixes the price)."""
        self.events.append((minute, kind, value))
        self.version += 1
        self.cache.clear()

    def set_replay(self, replay: Replay | None) -> None:
        """Replace the replayed candles (None: back to the pure walk)."""
        self.replay = replay
        self.version += 1
        self.cache.clear()

    def hours(self, h0: int, h1: int, now_min: int) -> tuple[F64, F64, F64, F64, I64, I64]:
        """Hourly (open, close, high, low, volume lots, trade count) for hours h0 ≤ h < h1, all of
        which must have ended by `now_min`; computed in cached chunks of 1024 hours."""
        parts: list[tuple[F64, F64, F64, F64, I64, I64]] = []
        c0 = h0 // _CHUNK
        for chunk in range(c0, (h1 - 1) // _CHUNK + 1):
            a, b = chunk * _CHUNK, (chunk + 1) * _CHUNK
            if b * 60 <= now_min:
                got = self.cache.get((self.version, chunk))
                if got is None:
                    got = self._hours_raw(a, b)
                    self.cache[(self.version, chunk)] = got
            else:
                got = self._hours_raw(a, b)
            lo, hi = max(h0, a) - a, min(h1, b) - a
            parts.append(tuple(x[lo:hi] for x in got))  # type: ignore[arg-type]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(6))  # type: ignore[return-value]

    def _hours_raw(self, a: int, b: int) -> tuple[F64, F64, F64, F64, I64, I64]:
        o, c, h, low, vol = self.minutes(a * 60, b * 60)
        idx = np.arange(0, (b - a) * 60, 60)
        return (
            o[idx],
            c[idx + 59],
            np.maximum.reduceat(h, idx),
            np.minimum.reduceat(low, idx),
            np.add.reduceat(vol, idx),
            np.add.reduceat(1 + (vol & 7), idx),
        )

    def _salt(self, k: int) -> int:
        return _mix((self.seed * 1_000_003 + self.key) * 131 + k)

    def walk(self, m0: int, m1: int) -> F64:
        """The raw walk at the integer Unix minutes m0..m1 inclusive (quote units per base unit).

        Octaves of period ≥ 60 are piecewise linear between whole hours, so their sum is computed
        at hour knots only and interpolated once; the 1-minute octave is a direct hash.
        """
        m = np.arange(m0, m1 + 1, dtype=np.int64)
        k0, k1 = m0 // 60, m1 // 60 + 1
        knots = np.arange(k0, k1 + 1, dtype=np.int64) * 60
        kf = knots.astype(np.float64)
        coarse = np.full(kf.shape, math.log(self.base))
        for k, period in enumerate(_OCTAVES):
            amp = min(_CAP, 0.8 * self.vol * math.sqrt(period / _YEAR_MIN))
            j0, j1 = int(knots[0]) // period, int(knots[-1]) // period + 2
            lattice = np.arange(j0, j1, dtype=np.int64)
            vals = _unit(_mix_arr(lattice.astype(np.uint64) ^ np.uint64(self._salt(k))))
            coarse += amp * np.interp(kf, lattice.astype(np.float64) * period, vals)
        fine_amp = max(0.0004, 0.8 * self.vol * math.sqrt(1 / _YEAR_MIN))
        logp = np.interp(m.astype(np.float64), kf, coarse)
        logp += fine_amp * _unit(_mix_arr(m.astype(np.uint64) ^ np.uint64(self._salt(97))))
        out: F64 = np.exp(logp)
        return out

    def minutes(self, m0: int, m1: int) -> tuple[F64, F64, F64, F64, I64]:
        """Per-minute (open, close, high, low, volume in lots) for minutes m0 ≤ m < m1.

        A minute's close is the next minute's open (on the walk).
        """
        m = np.arange(m0, m1, dtype=np.int64)
        w = self.walk(m0, m1)
        o, c = w[:-1].copy(), w[1:].copy()
        h, low = np.maximum(o, c), np.minimum(o, c)
        r = self.replay
        if r is not None and m0 < r.end_min + 1 and m1 > r.start_min - 1:
            before = m < r.start_min
            after = m >= r.end_min
            inside = ~(before | after)
            f0 = float(r.o[0]) / self._walk1(r.start_min)
            f1 = float(r.c[-1]) / self._walk1(r.end_min)
            for arr in (o, c, h, low):
                arr[before] *= f0
                arr[after] *= f1
            idx = m[inside] - r.start_min
            o[inside], c[inside], h[inside], low[inside] = r.o[idx], r.c[idx], r.h[idx], r.low[idx]
        elif r is not None:
            f = (
                float(r.o[0]) / self._walk1(r.start_min)
                if m1 <= r.start_min
                else (float(r.c[-1]) / self._walk1(r.end_min))
            )
            for arr in (o, c, h, low):
                arr *= f
        for start, kind, value in self.events:
            if start >= m1:
                continue
            sel = m >= start
            for arr in (o, c, h, low):
                if kind == "pin":
                    arr[sel] = value
                else:
                    arr[sel] *= value
        vol = self._volume(m, o)
        if r is not None:
            inside = (m >= r.start_min) & (m < r.end_min)
            vol[inside] = r.vol[m[inside] - r.start_min]
        return o, c, h, low, vol

    def _walk1(self, minute: int) -> float:
        return float(self.walk(minute, minute)[0])

    def _volume(self, m: I64, px: F64) -> I64:
        """Per-minute volume in lots: $1000-$3000 per minute of cheap deterministic noise."""
        salt = self._salt(99) & 0xFFFF
        usd = 1_000 + (((m * 2_654_435_761 + salt) >> 7) & 2_047)
        lots: I64 = (usd / (px * self.lot)).astype(np.int64)
        return lots

    def price_at(self, minute: int) -> float:
        """The open of minute `minute`: the current mid when `minute` is the current minute."""
        key = (self.version, minute)
        got = self.px_cache.get(key)
        if got is None:
            if len(self.px_cache) > 4_096:
                self.px_cache.clear()
            got = self.px_cache[key] = float(self.minutes(minute, minute + 1)[0][0])
        return got

    def factor_now(self, minute: int) -> float:
        """Effective price at `minute` divided by the raw walk there (for admin 'set')."""
        return self.price_at(minute) / self._walk1(minute)


def load_replay_csv(path: Path, now_min: int, anchor: str = "end", lot: float = 1e-8) -> Replay:
    """Read candles `t,o,h,l,c[,v]` (t open time in ms, equal intervals) into a per-minute Replay.

    With anchor "end" the candles are shifted so the last one ends at `now_min`; with "absolute"
    they keep their times. Inside a candle of L minutes the price goes o → (l then h, or h then l)
    → c, piecewise linear, so every aggregate of the replay reproduces the CSV's candles. Raises
    ValueError on a malformed file.
    """
    rows: list[tuple[int, float, float, float, float, float]] = []
    with path.open(newline="") as fh:
        for rec in csv.reader(fh):
            if not rec or rec[0].strip().lower() in ("t", "time", "timestamp") or rec[0].startswith("#"):
                continue
            try:
                t, o, h, lo, c = int(rec[0]), *(float(x) for x in rec[1:5])
                v = float(rec[5]) if len(rec) > 5 and rec[5] else 0.0
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}: bad row {rec!r}") from exc
            if not (lo <= min(o, c) and max(o, c) <= h and lo > 0):
                raise ValueError(f"{path}: row {rec!r} has low > open/close or high < open/close")
            rows.append((t, o, h, lo, c, v))
    return replay_from_rows(rows, now_min, anchor, lot)


def replay_from_rows(
    rows: list[tuple[int, float, float, float, float, float]],
    now_min: int,
    anchor: str = "end",
    lot: float = 1e-8,
) -> Replay:
    """Build a Replay from (t_ms, o, h, l, c, v) rows; see load_replay_csv. Volume `v` (base units)
    is spread over the candle's minutes in whole lots of `lot`, the remainder on its last minute."""
    if len(rows) < 1:
        raise ValueError("replay needs at least one candle")
    rows.sort()
    step = (rows[1][0] - rows[0][0]) // 60_000 if len(rows) > 1 else 1
    if step < 1 or any((b[0] - a[0]) // 60_000 != step for a, b in itertools.pairwise(rows)):
        raise ValueError("replay candles must have one interval of whole minutes, without gaps")
    n = len(rows) * step
    start = rows[0][0] // 60_000 if anchor == "absolute" else now_min - n
    o, c, h, lo = (np.empty(n) for _ in range(4))
    vol = np.zeros(n, dtype=np.int64)
    frac = np.arange(step + 1, dtype=np.float64) / step
    for i, (_t, ro, rh, rl, rc, rv) in enumerate(rows):
        first, second = (rh, rl) if rc < ro else (rl, rh)
        k1, k2 = max(1, step // 3), max(1, (2 * step) // 3)
        pts = np.interp(frac, [0.0, k1 / step, max(k2, k1) / step, 1.0], [ro, first, second, rc])
        s = slice(i * step, (i + 1) * step)
        o[s], c[s] = pts[:-1], pts[1:]
        h[s], lo[s] = np.maximum(pts[:-1], pts[1:]), np.minimum(pts[:-1], pts[1:])
        h[i * step + min(k1 if first == rh else k2, step) - 1 if step > 1 else i * step] = rh
        lo[i * step + min(k1 if first == rl else k2, step) - 1 if step > 1 else i * step] = rl
        lots = round(rv / lot)
        vol[s] = lots // step
        vol[(i + 1) * step - 1] += lots - (lots // step) * step
    return Replay(start, o, c, h, lo, vol)
