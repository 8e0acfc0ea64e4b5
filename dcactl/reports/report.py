"""What ``dcactl report`` shows, gathered into plain values: the status table, per asset the daily
closes (the ledger's candle cache, refreshed like ``plan`` refreshes it) and its buys, and the last
runs. :mod:`dcactl.reports.html` turns a :class:`ReportData` into the page; nothing here draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from dcactl.models import Market, utcnow

if TYPE_CHECKING:
    from dcactl.models import Fill
    from dcactl.reports.runlog import RunEntry
    from dcactl.reports.views import StatusReport
    from dcactl.session import Session

MAX_YEARS = 5
"""The report draws at most this many years of daily prices."""
RUNS_SHOWN = 20
MIN_DAYS = 90


@dataclass(frozen=True)
class AssetSeries:
    """One asset: daily closes (UTC day open, close in USDC), its fills (real and paper), and whether
    a price series was available."""

    asset: str
    closes: list[tuple[datetime, Decimal]]
    fills: list[Fill]


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows; ``since`` limits the charts (the status table is all-time)."""

    as_of: datetime
    network: str
    account: str
    since: datetime
    status: StatusReport
    assets: list[AssetSeries]
    runs: list[RunEntry]


def chart_start(fills: Sequence[Fill], since: datetime | None, now: datetime) -> datetime:
    """Where the charts start: ``since``, else a month before the first fill and at least
    :data:`MIN_DAYS` back (so a new plan's buys have some price around them); never more than
    :data:`MAX_YEARS` back."""
    if since is None:
        first = min((f.time for f in fills), default=now)
        since = min(first - timedelta(days=30), now - timedelta(days=MIN_DAYS))
    return max(since, now - timedelta(days=365 * MAX_YEARS + 2))


async def gather(
    session: Session, since: datetime | None, on_fetch: Callable[[str], None] | None = None
) -> ReportData:
    """Read the ledger, refresh the candle cache for the charts' window, value the status table.

    A price source that fails leaves that asset's chart without a price line (its buys still show);
    the report never fails for a missing price."""
    from dcactl.errors import DcactlError
    from dcactl.market.candles import history
    from dcactl.reports.runlog import run_log
    from dcactl.reports.views import resolved_markets, status_report

    now = utcnow()
    status = await status_report(session)
    fills = session.ledger.fills()
    start = chart_start(fills, since, now)
    configured = [a.symbol for a in session.config.assets]
    symbols = list(dict.fromkeys(configured + sorted({f.asset for f in fills})))
    closes: dict[str, list[tuple[datetime, Decimal]]] = {}
    try:
        markets = await resolved_markets(session)
    except DcactlError:
        markets = {}
    for symbol, market in markets.items():
        if not isinstance(market, Market):
            continue
        try:
            series = await history(
                session.hl, session.cg, session.ledger, [market], "1d", start, now, on_fetch
            )
        except DcactlError:
            continue
        closes[symbol] = [(_at(c.open_ms), c.close) for c in series.get(symbol, [])]
    for row in status.rows:  # the price now ends each line, so today's buys have a price beside them
        line = closes.get(row.asset)
        if row.mid is not None and line is not None and (not line or line[-1][0] < now):
            line.append((now, row.mid))
    assets = [
        AssetSeries(s, closes.get(s, []), [f for f in fills if f.asset == s and f.time >= start])
        for s in symbols
        if closes.get(s) or any(f.asset == s for f in fills)
    ]
    return ReportData(now, session.network, session.account, start, status, assets,
                      run_log(session.ledger, RUNS_SHOWN))


def _at(ms: int) -> datetime:
    from dcactl.models import from_ms

    return from_ms(ms)
