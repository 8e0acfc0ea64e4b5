"""Market data for a run: spot metadata (cached in the ledger), books, CoinGecko quotes.

Candles (daily and hourly closes for the strategy rules) are :mod:`dcactl.market.candles`.

Every read here is concurrent across assets: a run pays one round trip for all books and quotes.
Metadata is cached in the ledger (``META_TTL``) so a warm run skips it, and a metadata outage falls
back to the cached copy, however old, with a warning.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dcactl.errors import DcactlError, PriceSourceError
from dcactl.models import Market
from dcactl.venues.paper import Level, Quote

META_TTL = timedelta(hours=1)
"""How long cached spotMeta is used without asking the exchange again."""
META_MAX_AGE = timedelta(days=7)
"""A cached spotMeta older than this is refreshed before a run uses it (not in the background)."""
META_CACHE_KEY = "hl:spotMeta"


async def load_spot_meta(
    hl: Any, ledger: Any, now: datetime, *, background: list[asyncio.Task[str | None]] | None = None
) -> tuple[dict[str, Any], str | None]:
    """spotMeta from the ledger cache when fresh, else from the exchange (refreshing the cache).

    With ``background`` (a run's task list), a cached copy younger than :data:`META_MAX_AGE` is used
    at once and refreshed by a task added to the list (stale-while-revalidate: pair indices do not
    move, so a run never waits a round for them); the task returns a warning if the refresh fails.
    Returns the metadata and a warning (None when all is well). Raises ExchangeUnavailable only when
    the exchange fails *and* nothing is cached.
    """
    cached = ledger.cache_get(META_CACHE_KEY)
    if cached is not None and now - cached[1] < META_TTL:
        return json.loads(cached[0]), None
    if cached is not None and background is not None and now - cached[1] < META_MAX_AGE:
        background.append(asyncio.create_task(_refresh_meta(hl, ledger, now, cached[1])))
        return json.loads(cached[0]), None
    try:
        meta = await fetch_meta(hl)
    except DcactlError as exc:
        if cached is None:
            raise
        return json.loads(cached[0]), _stale_warning(exc, now, cached[1])
    ledger.cache_put(META_CACHE_KEY, json.dumps(meta, default=str), now)
    return meta, None


def _stale_warning(exc: DcactlError, now: datetime, fetched_at: datetime) -> str:
    hours = int((now - fetched_at).total_seconds() // 3600)
    return f"spot metadata unavailable ({exc}); using the copy cached {hours} h ago"


async def fetch_meta(hl: Any) -> dict[str, Any]:
    """spotMeta with the pairs' contexts under ``"ctxs"`` (``spotMetaAndAssetCtxs``, one request of the
    same weight): resolution can then name each candidate's 24 h volume."""
    meta, ctxs = await hl.spot_meta_and_ctxs()
    return {**meta, "ctxs": list(ctxs)}


async def _refresh_meta(hl: Any, ledger: Any, now: datetime, fetched_at: datetime) -> str | None:
    """Refresh the cached spotMeta; a failure is a warning (the next run tries again), never an error."""
    try:
        meta = await fetch_meta(hl)
    except DcactlError as exc:
        return _stale_warning(exc, now, fetched_at)
    ledger.cache_put(META_CACHE_KEY, json.dumps(meta, default=str), now)
    return None


def _levels(raw: Iterable[Any]) -> tuple[Level, ...]:
    out = []
    for level in raw:
        px = level.px if hasattr(level, "px") else Decimal(str(level["px"]))
        sz = level.sz if hasattr(level, "sz") else Decimal(str(level["sz"]))
        out.append(Level(px=Decimal(px), sz=Decimal(sz)))
    return tuple(out)


async def book_quote(hl: Any, market: Market) -> Quote:
    """The ask side of ``market``'s l2Book and its mid. Raises PriceSourceError on an empty book."""
    book = await hl.l2_book(market.coin)
    if book is None:
        raise PriceSourceError(f"{market.symbol}: the exchange has no book for {market.coin}")
    bids = _levels(book.bids if hasattr(book, "bids") else book["levels"][0])
    asks = _levels(book.asks if hasattr(book, "asks") else book["levels"][1])
    if not asks:
        raise PriceSourceError(f"{market.symbol}: no asks in the {market.coin} book")
    mid = (bids[0].px + asks[0].px) / 2 if bids else asks[0].px
    return Quote(mid=mid, asks=asks, source="book")


async def coingecko_quotes(cg: Any, markets: Sequence[Market]) -> dict[str, Quote | DcactlError]:
    """CoinGecko prices for unlisted assets, one batched request; a missing id fails that asset only."""
    ids = sorted({m.coingecko_id for m in markets if m.coingecko_id})
    if not ids:
        return {}
    try:
        prices = await cg.simple_price(ids)
    except DcactlError as exc:
        return {m.symbol: exc for m in markets}
    return quotes_from_prices(markets, prices)


def quotes_from_prices(
    markets: Sequence[Market], prices: Mapping[str, Any]
) -> dict[str, Quote | DcactlError]:
    """CoinGecko ``simple_price`` answers (id → Quote with ``.price``) → a Quote per asset, or a
    PriceSourceError naming the id CoinGecko did not price."""
    out: dict[str, Quote | DcactlError] = {}
    for m in markets:
        q = prices.get(m.coingecko_id or "")
        if q is None:
            out[m.symbol] = PriceSourceError(f"{m.symbol}: CoinGecko has no price for id '{m.coingecko_id}'")
        else:
            out[m.symbol] = Quote(mid=q.price, source="coingecko")
    return out


async def quotes_for(hl: Any, cg: Any, markets: Sequence[Market]) -> dict[str, Quote | DcactlError]:
    """Quotes for every market at once: books of listed ones and CoinGecko for the rest."""
    listed = [m for m in markets if m.listed]
    unlisted = [m for m in markets if not m.listed]

    async def one(m: Market) -> Quote | DcactlError:
        try:
            return await book_quote(hl, m)
        except DcactlError as exc:
            return exc

    books, cg_quotes = await asyncio.gather(
        asyncio.gather(*(one(m) for m in listed)), coingecko_quotes(cg, unlisted)
    )
    result: dict[str, Quote | DcactlError] = dict(zip((m.symbol for m in listed), books, strict=True))
    result.update(cg_quotes)
    return result


__all__ = [
    "Quote",
    "book_quote",
    "coingecko_quotes",
    "load_spot_meta",
    "quotes_for",
    "quotes_from_prices",
]
