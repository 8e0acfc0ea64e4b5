"""Price series for the backtest: per asset, candles (open time, open, close) oldest first.

From the ledger's candle cache (the exchange's daily/hourly candles; CoinGecko for paper assets) or
from a ``--prices`` CSV with the columns ``time,asset,open,high,low,close`` (time in ISO-8601 UTC or
Unix milliseconds). A CSV is validated like the config: every problem is one line naming the file,
the row and the column, all reported at once, and nothing is run.
"""

from __future__ import annotations

import csv
import functools
import itertools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from dcactl.errors import ConfigError

COLUMNS = ("time", "asset", "open", "high", "low", "close")
MAX_PROBLEMS = 50
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class Bar(NamedTuple):
    """One candle: ``at`` its open (UTC), ``open`` and ``close`` in USDC per unit."""

    at: datetime
    open: Decimal
    close: Decimal


@dataclass(frozen=True)
class Series:
    """One asset's candles of one ``interval`` (``1d`` or ``1h``), oldest first, no duplicates."""

    asset: str
    interval: str
    bars: tuple[Bar, ...]

    @property
    def first(self) -> datetime | None:
        """The first candle's open."""
        return self.bars[0].at if self.bars else None

    @property
    def last(self) -> datetime | None:
        """The last candle's open."""
        return self.bars[-1].at if self.bars else None


def _time(text: str) -> datetime:
    text = text.strip()
    if text.lstrip("-").isdigit():
        ms = int(text)
        if not 0 <= ms < 10**14:
            raise ValueError("Unix milliseconds out of range")
        return datetime.fromtimestamp(ms / 1000, UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


MAX_PRICE = Decimal("1e12")
ZERO = Decimal(0)


def _price(text: str) -> Decimal:
    value = Decimal(text)  # surrounding whitespace is allowed
    if not value.is_finite() or value <= ZERO or value > MAX_PRICE:
        raise InvalidOperation
    return value


def load_csv(path: Path) -> dict[str, Series]:
    """``--prices`` CSV → one series per asset (upper-cased), interval inferred (1h or 1d) from the
    smallest spacing of its candles. Raises ConfigError with one line per problem (its row is the
    line of the file)."""
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (--prices)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the prices file ({exc})") from None
    lines = text.splitlines()
    fast = _clean_rows(lines)
    if fast is not None:
        return {asset: _series(asset, bars) for asset, bars in fast.items()}
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ConfigError(
            f"{path}: row 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (expected {','.join(COLUMNS)})"
        )
    where = {name: i for i, name in enumerate(header)}  # a repeated name: its last column
    columns = [where[c] for c in COLUMNS]
    width = max(columns) + 1
    pick = operator.itemgetter(*columns)
    times: dict[str, datetime] = {}  # the same instants recur for every asset
    symbols: dict[str, str] = {}  # and the same symbols on every row
    rows: dict[str, dict[datetime, Bar]] = {}
    for raw in reader:
        if not raw:
            continue
        n = reader.line_num
        if len(raw) < width:
            raw = raw + [""] * (width - len(raw))
        time_text, asset_text, *price_texts = pick(raw)
        asset = symbols.get(asset_text)
        if asset is None:
            asset = asset_text.strip().upper()
            if not asset or not asset.isalnum() or len(asset) > 12:
                problems.append(
                    f"{path}: row {n}, column asset: expected a symbol such as BTC, got {asset_text!r}"
                )
                continue
            symbols[asset_text] = asset
        at = times.get(time_text)
        if at is None:
            try:
                at = times[time_text] = _time(time_text)
            except (ValueError, OverflowError, OSError):
                problems.append(
                    f"{path}: row {n}, column time: expected ISO-8601 UTC or Unix ms, got {time_text[:40]!r}"
                )
                continue
        try:  # all four in (0, 1e12], finite, low and high around open and close: one chain
            open_, high, low, close = map(Decimal, price_texts)
            ok = ZERO < low <= open_ <= high <= MAX_PRICE and low <= close <= high
        except (InvalidOperation, ValueError):
            ok = False
        if not ok:
            bad = False
            for column, value in zip(COLUMNS[2:], price_texts, strict=True):
                try:
                    _price(value)
                except (InvalidOperation, ValueError):
                    bad = True
                    problems.append(
                        f"{path}: row {n}, column {column}: expected a positive price, got {value[:40]!r}"
                    )
            if not bad:
                problems.append(f"{path}: row {n}, column low/high: low {low} and high {high} "
                                "do not contain open and close")
            continue
        bars = rows.get(asset)
        if bars is None:
            bars = rows[asset] = {}
        if at in bars:
            problems.append(f"{path}: row {n}, column time: a second candle for {asset} at {at.isoformat()}")
            continue
        bars[at] = Bar(at, open_, close)
        if len(problems) >= MAX_PROBLEMS:
            break
    if not rows and not problems:
        problems.append(
            f"{path}: no price rows (expected a header {','.join(COLUMNS)} and one row per candle)"
        )
    if problems:
        raise ConfigError(problems[:MAX_PROBLEMS])
    return {asset: _series(asset, bars) for asset, bars in rows.items()}


def _clean_rows(lines: list[str]) -> dict[str, dict[datetime, Bar]] | None:
    """The candles of a file with the header ``time,asset,open,high,low,close`` and nothing wrong in it,
    read as :func:`load_csv` reads them but without the csv module (no field can be quoted: there is
    no quote) and without a Decimal for a high or low written as its open or close; None at the
    first thing the general reader must look at (a quote, a NUL, another header, a row it would
    report), which then reads the whole file."""
    if not lines or [h.strip().lower() for h in lines[0].split(",")] != list(COLUMNS):
        return None
    if any('"' in line or "\0" in line for line in lines):
        return None
    times: dict[str, datetime] = {}
    rows: dict[str, dict[datetime, Bar]] = {}
    decimal = Decimal
    bar = functools.partial(tuple.__new__, Bar)  # Bar(at, open, close) without NamedTuple's Python __new__
    named, bars = None, {}  # the last row's asset text and its candles (rows of an asset usually follow)
    close_text_before: str | None = None  # and its close (a Decimal in close)
    close = ZERO
    for line in itertools.islice(lines, 1, None):
        if not line:
            continue
        try:
            time_text, asset_text, open_text, high_text, low_text, close_text = line.split(",")
        except ValueError:  # not 6 fields
            return None
        if asset_text != named:
            asset = asset_text.strip().upper()
            if not asset or not asset.isalnum() or len(asset) > 12:
                return None
            named, bars = asset_text, rows.setdefault(asset, {})
        at = times.get(time_text)
        if at is None:
            try:
                at = times[time_text] = _time(time_text)
            except (ValueError, OverflowError, OSError):
                return None
        try:
            # a candle usually opens at the last one's close: that Decimal is taken, not made again
            open_ = close if open_text == close_text_before else decimal(open_text)
            close_text_before, close = close_text, decimal(close_text)
            high = (open_ if high_text == open_text else close if high_text == close_text
                    else decimal(high_text))
            low = open_ if low_text == open_text else close if low_text == close_text else decimal(low_text)
            if not ZERO < low <= open_ <= high <= MAX_PRICE or not low <= close <= high:
                return None
        except (InvalidOperation, ValueError):
            return None
        candle = bar((at, open_, close))
        if bars.setdefault(at, candle) is not candle:  # a second candle at this time
            return None
    return rows or None


def _series(asset: str, bars: Mapping[datetime, Bar]) -> Series:
    times = sorted(bars)
    ordered = tuple(bars[t] for t in times)
    # the smallest gap between candles (the smallest timedelta, then in ms: the conversion keeps order)
    gap = min(map(operator.sub, times[1:], times[:-1]), default=None)
    interval = "1h" if gap is not None and int(gap.total_seconds() * 1000) <= HOUR_MS else "1d"
    return Series(asset, interval, ordered)


def from_candles(asset: str, interval: str, candles: Sequence[tuple[int, Decimal, Decimal]]) -> Series:
    """From the ledger's cached candles: (open ms, open, close) oldest first."""
    return Series(
        asset, interval, tuple(Bar(datetime.fromtimestamp(ms / 1000, UTC), o, c) for ms, o, c in candles)
    )


def coverage_problem(
    series: Mapping[str, Series], assets: Sequence[str], start: datetime, end: datetime
) -> str | None:
    """Why the data does not cover ``[start, end)`` for ``assets``, naming what is available; None
    when every asset has candles from ``start`` (within a day) to the end."""
    lines = []
    for asset in assets:
        s = series.get(asset)
        if s is None or not s.bars:
            lines.append(f"{asset}: no prices")
            continue
        assert s.first is not None and s.last is not None
        step = DAY_MS if s.interval == "1d" else HOUR_MS
        if (s.first - start).total_seconds() * 1000 > step or (
            end - s.last
        ).total_seconds() * 1000 > 2 * step:
            lines.append(f"{asset}: {s.first:%Y-%m-%d} to {s.last:%Y-%m-%d}")
    if not lines:
        return None
    return (
        f"the prices do not cover {start:%Y-%m-%d} to {end:%Y-%m-%d}; available: "
        + "; ".join(lines)
        + " (choose --from/--to inside it)"
    )
