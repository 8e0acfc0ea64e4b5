"""``lots``: a tax year's cost-basis lots and disposals read from the ledger as streams (one snapshot,
memory flat however large the ledger).

The lot arithmetic itself is :func:`dcactl.reports.stats.iter_lots`; this module only feeds it from the
ledger. Values in USDC, units in base-token units.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from dcactl.reports.stats import REAL_SOURCES, Disposal, Lot, iter_disposals, iter_lots, year_bounds

if TYPE_CHECKING:
    from dcactl.ledger import Ledger


@contextlib.contextmanager
def year_lots(
    ledger: Ledger, year: int, tz: str, method: Literal["fifo", "average"] = "fifo",
) -> Iterator[tuple[Iterator[Lot], Iterator[Disposal]]]:
    """The lots and the disposals of tax ``year`` (boundaries in ``tz``), each an iterator that reads
    the ledger as it is consumed, both from one snapshot (a sync committing meanwhile changes
    neither). Use them inside the ``with``; in any order. Memory: the open FIFO queue of one asset
    with sells still to come (see ``iter_lots``), whatever the number of fills."""
    start, end = year_bounds(year, tz)
    with ledger.snapshot():
        sells = ledger.sell_counts(until=end, source=REAL_SOURCES)
        found = iter_lots(ledger.iter_trades(until=end, source=REAL_SOURCES), year, tz, method, sells=sells)
        sold = iter_disposals(ledger.iter_sells(since=start, until=end, source=REAL_SOURCES))
        yield found, sold
