"""``lots``: a tax year's cost-basis lots and disposals read from the ledger as streams (one snapshot,
memory flat however large the ledger), and the per-asset summary a person reads instead of every lot.

The lot arithmetic itself is :func:`dcactl.reports.stats.iter_lots`; this module only feeds it from the
ledger and folds its output. Values in USDC, units in base-token units.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from dcactl.reports.stats import (
    REAL_SOURCES,
    Disposal,
    Lot,
    iter_disposals,
    iter_lot_rows,
    iter_lots,
    year_bounds,
)

if TYPE_CHECKING:
    from dcactl.ledger import Ledger
    from dcactl.ledger.records import TradeText

_EXACT = Context(prec=60)
"""Sums of exact ledger decimals stay exact (as everywhere in stats)."""
T = TypeVar("T")


@contextlib.contextmanager
def year_lots(
    ledger: Ledger, year: int, tz: str, method: Literal["fifo", "average"] = "fifo",
) -> Iterator[tuple[Iterator[Lot], Iterator[Disposal]]]:
    """The lots and the disposals of tax ``year`` (boundaries in ``tz``), each an iterator that reads
    the ledger as it is consumed, both from one snapshot (a sync committing meanwhile changes
    neither). Use them inside the ``with``; in any order. Memory: the open FIFO queue of one asset
    with sells still to come (see ``iter_lots``), whatever the number of fills."""
    with _year_reads(ledger, year, tz) as (trades, sells, sold):
        yield iter_lots(trades, year, tz, method, sells=sells), sold


@contextlib.contextmanager
def year_lot_rows(
    ledger: Ledger, year: int, tz: str, method: Literal["fifo", "average"] = "fifo",
) -> Iterator[tuple[Iterator[tuple[Any, ...]], Iterator[Disposal]]]:
    """:func:`year_lots` with each lot as its export row (``stats.lot_rows``; made by
    ``stats.iter_lot_rows``, without a Lot object for most lots): what ``lots --format`` writes."""
    with _year_reads(ledger, year, tz) as (trades, sells, sold):
        yield iter_lot_rows(trades, year, tz, method, sells=sells), sold


@contextlib.contextmanager
def _year_reads(
    ledger: Ledger, year: int, tz: str,
) -> Iterator[tuple[Iterator[TradeText], dict[str, int], Iterator[Disposal]]]:
    """In one snapshot: the fills lots are computed from (texts, in lot order), the real sells per
    asset before the year's end, and the year's disposals."""
    start, end = year_bounds(year, tz)
    with ledger.snapshot():
        sells = ledger.sell_counts(until=end, source=REAL_SOURCES)
        trades = ledger.iter_trade_texts(until=end, source=REAL_SOURCES)
        sold = iter_disposals(ledger.iter_sells(since=start, until=end, source=REAL_SOURCES))
        yield trades, sells, sold


@dataclass
class AssetLots:
    """One asset's line of the ``lots`` table (USDC values, base units).

    ``lots``: how many; ``units_held`` and ``cost_held_usd``: what they still hold at the year's end
    and its cost basis (Σ ``units_remaining`` and ``cost_remaining_usd``); ``disposals`` and
    ``proceeds_usd``: the year's sells (dust conversions included) and what they brought in.
    """

    asset: str
    lots: int = 0
    units_held: Decimal = Decimal(0)
    cost_held_usd: Decimal = Decimal(0)
    disposals: int = 0
    proceeds_usd: Decimal = Decimal(0)


@dataclass
class LotsOverview:
    """What the ``lots`` table shows: a line per asset (by name), the newest lots and disposals (newest
    first, at most a page of each) and how many there are in all."""

    assets: list[AssetLots] = field(default_factory=list)
    newest_lots: list[Lot] = field(default_factory=list)
    lot_count: int = 0
    newest_disposals: list[Disposal] = field(default_factory=list)
    disposal_count: int = 0


def lots_overview(found: Iterable[Lot], sold: Iterable[Disposal], page: int) -> LotsOverview:
    """Fold lots and disposals (any number, read once) into a :class:`LotsOverview` keeping the newest
    ``page`` (≥ 1) of each: memory is a line per asset and two pages. Newest = latest acquisition (sale)
    time; a tie goes to the later one in the stream."""
    per_asset: dict[str, AssetLots] = {}
    newest: list[tuple[int, int, Lot]] = []
    overview = LotsOverview()
    for i, lot in enumerate(found):
        line = _line(per_asset, lot.asset)
        line.lots += 1
        line.units_held = _EXACT.add(line.units_held, lot.units_remaining)
        line.cost_held_usd = _EXACT.add(line.cost_held_usd, lot.cost_remaining_usd)
        _keep(newest, (lot.acquired_us, i, lot), page)
        overview.lot_count += 1
    recent: list[tuple[datetime, int, Disposal]] = []
    for i, d in enumerate(sold):
        line = _line(per_asset, d.asset)
        line.disposals += 1
        line.proceeds_usd = _EXACT.add(line.proceeds_usd, d.proceeds_usd)
        _keep(recent, (d.time, i, d), page)
        overview.disposal_count += 1
    overview.assets = [per_asset[a] for a in sorted(per_asset)]
    overview.newest_lots = [lot for *_, lot in sorted(newest, key=lambda e: e[:2], reverse=True)]
    overview.newest_disposals = [d for *_, d in sorted(recent, key=lambda e: e[:2], reverse=True)]
    return overview


def _line(per_asset: dict[str, AssetLots], asset: str) -> AssetLots:
    line = per_asset.get(asset)
    if line is None:
        line = per_asset[asset] = AssetLots(asset)
    return line


def _keep(heap: list[tuple[Any, int, T]], entry: tuple[Any, int, T], size: int) -> None:
    """Keep the ``size`` largest entries (by time, then stream position) in the min-heap ``heap``."""
    if len(heap) < size:
        heapq.heappush(heap, entry)
    elif entry[:2] > heap[0][:2]:
        heapq.heapreplace(heap, entry)
