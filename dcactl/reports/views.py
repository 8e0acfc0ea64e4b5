"""Read-only reports behind ``markets``, ``status`` and ``history``: gather, compute, return rows.

Each function makes its network reads concurrently and returns plain data (dataclasses or dicts
with Decimal values); ``render.py`` turns them into tables or JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.errors import DcactlError
from dcactl.market.data import load_spot_meta
from dcactl.models import Market, iso_utc, json_value, to_ms, utcnow

if TYPE_CHECKING:
    from dcactl.reports.runlog import RunEntry
    from dcactl.reports.stats import Runway, StatusRow, Totals
    from dcactl.session import Session


@dataclass(frozen=True)
class MarketRow:
    """How one configured asset resolves, and its current mid (USDC) when it can be read."""

    asset: str
    venue: str
    pair: str | None
    asset_id: int | None
    sz_decimals: int | None
    base_token: str | None
    coingecko_id: str | None
    mid: Decimal | None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Stable JSON: decimals as strings."""
        return {
            "asset": self.asset,
            "venue": self.venue,
            "pair": self.pair,
            "asset_id": self.asset_id,
            "sz_decimals": self.sz_decimals,
            "base_token": self.base_token,
            "coingecko_id": self.coingecko_id,
            "mid": None if self.mid is None else str(self.mid),
            "note": self.note,
        }


async def resolved_markets(
    session: Session, symbols: list[str] | None = None
) -> dict[str, Market | DcactlError]:
    """Resolve the configured assets (or ``symbols``) against spot metadata (cached in the ledger)."""
    from dcactl.market.resolve import resolve_markets

    assets = [a for a in session.config.assets if symbols is None or a.symbol in symbols]
    meta, warning = await load_spot_meta(session.hl, session.ledger, utcnow())
    if warning:
        session.warn(warning)
    resolved = resolve_markets(assets, meta)
    return {a.symbol: resolved[a.symbol] for a in assets}


async def current_prices(session: Session, markets: list[Market]) -> dict[str, Decimal | None]:
    """Mid prices in USDC: one ``allMids`` for listed assets, one CoinGecko request for the rest.

    An asset whose price cannot be read maps to None (its value shows as unknown, nothing fails).
    """
    listed = [m for m in markets if m.listed]
    unlisted = [m for m in markets if not m.listed and m.coingecko_id]

    async def mids() -> dict[str, Decimal]:
        if not listed:
            return {}
        try:
            return await session.hl.all_mids()
        except DcactlError as exc:
            session.warn(f"no prices from Hyperliquid ({exc}); those values are not shown")
            return {}

    async def quotes() -> dict[str, Any]:
        if not unlisted:
            return {}
        try:
            return dict(await session.cg.simple_price(sorted({m.coingecko_id or "" for m in unlisted})))
        except DcactlError as exc:
            session.warn(f"no prices from CoinGecko ({exc}); those values are not shown")
            return {}

    all_mids, cg = await asyncio.gather(mids(), quotes())
    out: dict[str, Decimal | None] = {}
    for m in markets:
        if m.listed:
            out[m.symbol] = all_mids.get(m.coin or "")
        else:
            q = cg.get(m.coingecko_id or "")
            out[m.symbol] = q.price if q is not None else None
    return out


async def markets_report(session: Session, asset: str | None = None) -> list[MarketRow]:
    """One row per configured asset (or just ``asset``): pair, asset id, decimals, mid or paper."""
    symbols = None
    if asset is not None:
        symbols = [session.config.asset(asset).symbol]
    resolved = await resolved_markets(session, symbols)
    markets = [m for m in resolved.values() if isinstance(m, Market)]
    prices = await current_prices(session, markets)
    rows = []
    for symbol, m in resolved.items():
        if not isinstance(m, Market):
            rows.append(MarketRow(symbol, "-", None, None, None, None, None, None, note=str(m)))
            continue
        from dcactl.market.resolve import why

        configured = next((a for a in session.config.assets if a.symbol == symbol), None)
        note = why(symbol, m, configured.pair if configured else None)
        if m.venue == "paper" and m.listed:
            note = f"paper (forced; priced from the book); {note}"
        rows.append(
            MarketRow(
                asset=symbol,
                venue=m.venue,
                pair=m.coin,
                asset_id=m.asset_id,
                sz_decimals=m.sz_decimals if m.listed else None,
                base_token=m.base_token,
                coingecko_id=m.coingecko_id,
                mid=prices.get(symbol),
                note=note,
            )
        )
    return rows


@dataclass(frozen=True)
class StatusReport:
    """``status``: one row per (asset, source), totals per source, and each asset's schedule."""

    as_of: datetime
    network: str
    account: str
    rows: list[StatusRow]
    totals: dict[str, Totals]
    schedule: dict[str, tuple[datetime | None, int]]
    """Configured asset → (next due instant, periods missed since its last scheduled buy)."""
    last_run: RunEntry | None = None
    """The newest recorded run (``runs``), None when nothing ran yet."""
    trends: dict[str, list[Decimal]] = field(default_factory=dict)
    """Asset → its last 30 daily closes from the ledger's candle cache (the table's sparkline; not
    in ``--json``). Empty for an asset whose candles were never cached."""
    cash: Runway | None = None
    """Live: the spot USDC available and how long it lasts at the configured buys (None in paper
    mode, or when the balance cannot be read)."""
    dust: dict[str, tuple[int, Decimal, Decimal]] = field(default_factory=dict)
    """Asset → (count, units, USDC) of the exchange's dust conversions: sells it made itself, counted
    in the ``external`` row and shown apart."""

    def to_json(self) -> dict[str, Any]:
        """The ``status --json`` document of PRODUCT.md (plus ``missed_periods`` per asset row)."""
        assets = []
        for r in self.rows:
            item = r.to_json()
            missed = self.schedule.get(r.asset, (None, 0))[1] if r.source in ("dcactl", "paper") else 0
            item["missed_periods"] = missed
            assets.append(item)
        return {
            "as_of": iso_utc(self.as_of),
            "network": self.network,
            "account": self.account,
            "assets": assets,
            "totals": {k: v.to_json() for k, v in self.totals.items()},
            "cash": None if self.cash is None else self.cash.to_json(),
            "dust_conversions": [
                {"asset": a, "count": n, "units": json_value(units),
                 "usd": json_value(usd.quantize(Decimal("0.01")))}
                for a, (n, units, usd) in sorted(self.dust.items())
            ],
            "last_run": None
            if self.last_run is None
            else {
                "run_id": self.last_run.run_id,
                "started_at": iso_utc(self.last_run.started_at),
                "exit_code": self.last_run.exit_code,
            },
        }


def cached_pairs(session: Session) -> dict[str, str]:
    """Each configured asset's market pair, resolved offline from the ledger's cached spot metadata
    (no request): last buys are found by market, as the run finds them, so a renamed entry keeps its
    history here too. Empty when nothing is cached yet."""
    import json

    from dcactl.market.data import META_CACHE_KEY
    from dcactl.market.resolve import resolve_markets

    cached = session.ledger.cache_get(META_CACHE_KEY)
    meta = json.loads(cached[0]) if cached is not None else {"tokens": [], "universe": []}
    resolved = resolve_markets(session.config.assets, meta)
    return {a.symbol: m.pair for a in session.config.assets
            if isinstance(m := resolved.get(a.symbol), Market)}


def schedule_state(
    session: Session, now: datetime, pairs: Mapping[str, str] | None = None
) -> dict[str, tuple[datetime | None, int]]:
    """For each enabled configured asset: when it is next due and how many periods were missed: ended
    without a buy and without a reason in the run log (a rule's skip, a cap, a failure). ``pairs``:
    each asset's market, when the caller has resolved them (else from the cached metadata)."""
    from dcactl.reports.runlog import explained_periods
    from dcactl.run.core import last_buy_of
    from dcactl.schedule.periods import is_due, passed_periods

    tz = session.config.settings.timezone
    out: dict[str, tuple[datetime | None, int]] = {}
    pairs = cached_pairs(session) if pairs is None else pairs
    lasts = {a.symbol: last_buy_of(session.ledger, a, None, pairs.get(a.symbol))
             for a in session.config.assets if a.enabled}
    oldest = min((b.at for b in lasts.values() if b is not None), default=now)
    explained = explained_periods(session.ledger, oldest) if any(lasts.values()) else set()
    for asset in session.config.assets:
        if not asset.enabled:
            out[asset.symbol] = (None, 0)
            continue
        last = lasts[asset.symbol]
        check = is_due(asset.schedule, tz, now, last)
        passed = passed_periods(asset.schedule, tz, last, now)
        missed = sum(1 for p in passed if (asset.symbol, p.id) not in explained)
        out[asset.symbol] = (check.next_due, missed)
    return out


async def status_report(session: Session) -> StatusReport:
    """Positions from the ledger, valued at current mids (one request per price source)."""
    from dcactl.market.resolve import resolve_markets
    from dcactl.reports.stats import status_rows, totals

    now = utcnow()
    positions = session.ledger.positions()
    configured = {a.symbol for a in session.config.assets}
    extra = sorted({p.asset for p in positions} - configured)
    prices: dict[str, Decimal | None] = {}
    cash: Runway | None = None
    resolved: dict[str, Market | DcactlError] = {}
    try:
        resolved = await resolved_markets(session)
        if extra:
            meta, _ = await load_spot_meta(session.hl, session.ledger, now)
            resolved.update(resolve_markets([(s, "auto", None, None) for s in extra], meta))
        prices, cash = await asyncio.gather(
            current_prices(session, [m for m in resolved.values() if isinstance(m, Market)]),
            _cash(session, resolved),
        )
    except DcactlError as exc:  # the ledger is the record: show it even when no price can be read
        session.warn(f"no prices ({exc}); values and PnL are not shown")
    rows = status_rows(positions, prices)
    held = {(r.asset, r.source) for r in rows}
    source = "dcactl" if session.live else "paper"
    for asset in session.config.assets:  # a configured asset never bought still shows its schedule
        if not any(a == asset.symbol for a, _ in held):
            rows.append(_empty_row(asset.symbol, source, prices.get(asset.symbol)))
    pairs = {a: m.pair for a, m in resolved.items() if isinstance(m, Market)}
    sched = schedule_state(session, now, pairs if pairs else None)
    rows = [replace(r, next_due=sched.get(r.asset, (None, 0))[0]) for r in rows]
    from dcactl.reports.runlog import last_run

    return StatusReport(
        now, session.network, session.account, rows, totals(rows), sched, last_run(session.ledger),
        cached_trends(session.ledger, resolved, now), cash, session.ledger.dust_conversions(),
    )


async def _cash(session: Session, markets: Mapping[str, Market | DcactlError]) -> Runway | None:
    """Live: the spot USDC available (total − hold) and its runway at the buys of the enabled assets
    bought on Hyperliquid (an unlisted asset is bought on paper and spends none)."""
    from dcactl.reports.stats import runway

    buying = [a for a in session.config.assets if a.enabled and isinstance(m := markets.get(a.symbol), Market)
              and m.venue == "hyperliquid"]
    if not session.live or not buying:
        return None
    try:
        balances = await session.hl.spot_balances(session.account)
    except DcactlError as exc:
        session.warn(f"cannot read the USDC balance ({exc}); cash and runway are not shown")
        return None
    usdc = balances.get("USDC")
    return runway(usdc.available if usdc is not None else Decimal(0), buying)


TREND_DAYS = 30


def cached_trends(ledger: Any, markets: Mapping[str, Any], now: datetime) -> dict[str, list[Decimal]]:
    """The last :data:`TREND_DAYS` cached daily closes of each resolved market (no request is made)."""
    from dcactl.market.candles import candle_source

    since = to_ms(now) - (TREND_DAYS + 1) * 86_400_000
    out = {}
    for symbol, market in markets.items():
        if isinstance(market, Market):
            out[symbol] = [c.close for c in ledger.candles(candle_source(market), "1d", since_ms=since)][
                -TREND_DAYS:
            ]
    return out


def _empty_row(asset: str, source: str, mid: Decimal | None) -> StatusRow:
    from dcactl.reports.stats import StatusRow

    zero = Decimal(0)
    return StatusRow(
        asset=asset,
        source=source,
        units=zero,
        invested_usd=zero,
        cost_usd=zero,
        avg_cost=None,
        fees_usd=zero,
        value_usd=zero if mid is not None else None,
        pnl_usd=None,
        pnl_pct=None,
        buys=0,
        first_buy=None,
        last_buy=None,
        mid=mid,
    )

