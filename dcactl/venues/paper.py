"""The paper venue: simulated buys at the price an IOC taker would really get. Never sees a key.

A listed asset is filled by walking the ask side of its live ``l2Book`` up to the (rounded) limit
price, exactly as the exchange would match an IOC; an unlisted asset is filled at its CoinGecko price
plus half a modelled spread. Either way the taker fee is charged in the base token received, as
Hyperliquid spot does, so paper units are net of fees like real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from dcactl.models import Fill, Market

TAKER_FEE_RATE = Decimal("0.0007")
"""Hyperliquid's base-tier spot taker fee, 0.070 % of the base size received."""

PAPER_SPREAD_BPS = Decimal(10)
"""Modelled bid-ask spread for assets priced from CoinGecko (no book): a buy pays half of it."""

UNLISTED_SZ_DECIMALS = 8
"""Size precision for paper assets that have no Hyperliquid market."""


@dataclass(frozen=True)
class Level:
    """One price level of a book side: price in USDC, size in base units."""

    px: Decimal
    sz: Decimal


@dataclass(frozen=True)
class Quote:
    """What a buy is priced from: the book's asks (listed) or a CoinGecko price (unlisted), in USDC."""

    mid: Decimal
    asks: tuple[Level, ...] = ()
    source: str = "book"


@dataclass(frozen=True)
class BookFill:
    """What walking a book side gave: base size filled and its average price (USDC)."""

    size: Decimal
    avg_px: Decimal


def walk_asks(asks: Sequence[Level], size: Decimal, limit_px: Decimal) -> BookFill | None:
    """Fill up to ``size`` base units from ``asks`` (best first) at prices ≤ ``limit_px``.

    Returns None when nothing can fill (the best ask is above the limit), like an IOC that fails to
    match; a partial fill when the levels within the limit hold less than ``size``.
    """
    remaining = size
    cost = Decimal(0)
    for level in asks:
        if level.px > limit_px or remaining <= 0:
            break
        take = min(level.sz, remaining)
        cost += take * level.px
        remaining -= take
    filled = size - remaining
    if filled <= 0:
        return None
    return BookFill(size=filled, avg_px=cost / filled)


def price_to_fill(asks: Sequence[Level], size: Decimal) -> Decimal | None:
    """The worst ask price needed to fill ``size`` base units, or None if the book is too thin."""
    remaining = size
    for level in asks:
        remaining -= level.sz
        if remaining <= 0:
            return level.px
    return None


def fee_for(size: Decimal, sz_decimals: int) -> Decimal:
    """The taker fee in base units for a buy of ``size``, at a precision finer than the lot size."""
    quantum = Decimal(1).scaleb(-(sz_decimals + 4))
    return (size * TAKER_FEE_RATE).quantize(quantum, rounding=ROUND_DOWN).normalize()


def paper_tid(cloid: str) -> str:
    """The synthetic trade id of the paper fill of one intent (one fill per paper order)."""
    return f"paper:{cloid}"


def fill_from_book(
    market: Market,
    asks: Sequence[Level],
    size: Decimal,
    limit_px: Decimal,
    *,
    time: datetime,
    cloid: str,
    period: str,
    reason: str | None = None,
) -> Fill | None:
    """The paper fill of an IOC buy of ``size`` at ``limit_px`` against ``asks``; None if no match."""
    result = walk_asks(asks, size, limit_px)
    if result is None:
        return None
    return paper_fill(market, result.size, _avg_price(result.avg_px), time=time, cloid=cloid, period=period,
                      reason=reason)


def quote_price(mid: Decimal) -> Decimal:
    """The modelled taker price for an asset with no book: the quote plus half the spread."""
    return mid * (1 + PAPER_SPREAD_BPS / Decimal(20000))


def fill_from_quote(
    market: Market,
    size: Decimal,
    price: Decimal,
    *,
    time: datetime,
    cloid: str,
    period: str,
    reason: str | None = None,
) -> Fill:
    """The paper fill of ``size`` base units of an unlisted asset at ``price`` (from :func:`quote_price`)."""
    return paper_fill(market, size, price, time=time, cloid=cloid, period=period, reason=reason)


def paper_fill(market: Market, size: Decimal, price: Decimal, *, time: datetime, cloid: str, period: str,
               reason: str | None) -> Fill:
    """A simulated buy of ``size`` at ``price`` (USDC), its taker fee taken in the base token."""
    return Fill(
        time=time, asset=market.symbol, pair=market.pair, side="B", size=size, price=price,
        fee=fee_for(size, market.sz_decimals), fee_token=market.base_token or market.symbol,
        tid=paper_tid(cloid), source="paper", cloid=cloid, period=period, reason=reason,
    )


def _avg_price(px: Decimal) -> Decimal:
    """Average prices are kept to 10 decimals (USDC), enough for any ledger display."""
    return px.quantize(Decimal("1e-10")).normalize()
