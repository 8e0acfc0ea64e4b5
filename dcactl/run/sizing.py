"""After the strategy decided an amount: the global caps, and the order priced and rounded. Pure.

The caps admit amounts in config order; then each order is priced from the book (the price that
fills the whole size plus a small margin, never above mid × (1 + max_slippage_bps)), rounded to the
exchange's rules, and checked against the 10 USDC minimum (docs/smart-dca.md has the whole order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from dcactl.venues.paper import Quote, price_to_fill, quote_price
from dcactl.venues.rounding import MIN_NOTIONAL_USDC, SkippedBuy, plan_buy, round_price

if TYPE_CHECKING:
    from dcactl.models import Market

UNLISTED_PRICE_QUANTUM = Decimal("1e-8")


@dataclass(frozen=True)
class Order:
    """An IOC buy ready to sign: ``size`` base units at ``limit_px`` USDC, both on the exchange's grid."""

    size: Decimal
    limit_px: Decimal


@dataclass(frozen=True)
class NoOrder:
    """Why an amount cannot become a valid order (the user-facing sentence)."""

    reason: str


def _plain(x: Decimal) -> str:
    return format(x.normalize(), "f")


def apply_caps(
    amounts: Sequence[Decimal], per_run: Decimal | None, per_day: Decimal | None, day_committed: Decimal
) -> list[str | None]:
    """Admit amounts in config order, each while it fits in what is left of both caps (PRODUCT.md
    "Caps"): one that does not fit gets a reason starting with "cap" that says what was admitted and
    what was left, and a later, smaller one may still be admitted.

    ``day_committed`` is what the calendar day already holds (fills and open intents, USDC).
    """
    verdicts: list[str | None] = []
    run_total = Decimal(0)
    for amount in amounts:
        run_left = None if per_run is None else per_run - run_total
        day_left = None if per_day is None else per_day - day_committed - run_total
        if run_left is not None and amount > run_left:
            verdicts.append(
                f"cap: {amount} USDC does not fit max_usd_per_run {per_run} USDC ({run_total} USDC admitted "
                f"in this run, {max(run_left, Decimal(0))} left)"
            )
        elif day_left is not None and amount > day_left:
            today = day_committed + run_total
            verdicts.append(
                f"cap: {amount} USDC does not fit max_usd_per_day {per_day} USDC ({today} USDC today, "
                f"{max(day_left, Decimal(0))} left)"
            )
        else:
            run_total += amount
            verdicts.append(None)
    return verdicts


def round_order(
    market: Market, quote: Quote, usd: Decimal, max_slippage_bps: int, margin: Decimal
) -> Order | NoOrder:
    """The IOC buy of ``usd`` (size in base units, limit price in USDC), or why there is none.

    Listed assets: the limit is the ask that fills the whole size plus ``margin``, never above
    mid × (1 + bps); both rounded to the exchange's rules, size floored so size × limit ≤ usd; the
    10 USDC minimum holds at the best ask too (the exchange checks it at the first crossing price).
    Unlisted (paper at a CoinGecko quote): the quote plus half the modelled spread.
    """
    if market.listed:
        szd = market.sz_decimals
        cap = round_price(quote.mid * (1 + Decimal(max_slippage_bps) / 10000), szd)
        first = plan_buy(usd, cap, szd)
        needed = price_to_fill(quote.asks, first.size) if first.size > 0 else None
        limit = cap if needed is None else min(cap, round_price(needed * (1 + margin), szd, up=True))
        order = plan_buy(usd, limit, szd)
        if isinstance(order, SkippedBuy):
            return NoOrder(order.reason)
        crossing = next((level.px for level in quote.asks if level.px <= order.limit_px), None)
        if crossing is not None and order.size * crossing < MIN_NOTIONAL_USDC:
            # the exchange measures the minimum at the first price that crosses, not at our limit
            return NoOrder(
                f"under the {MIN_NOTIONAL_USDC} USDC minimum at the price it would trade at (size "
                f"{_plain(order.size)} × best ask {_plain(crossing)} = {_plain(order.size * crossing)} USDC;"
                " the exchange would refuse it)"
            )
        return Order(order.size, order.limit_px)
    limit = quote_price(quote.mid).quantize(UNLISTED_PRICE_QUANTUM)
    size = (usd / limit).quantize(Decimal(1).scaleb(-market.sz_decimals), rounding=ROUND_DOWN)
    notional = size * limit
    if size <= 0 or notional < MIN_NOTIONAL_USDC:
        return NoOrder(
            f"under the {MIN_NOTIONAL_USDC} USDC minimum after rounding "
            f"(size {size:f} × price {limit:f} = {notional:f} USDC)"
        )
    return Order(size, limit)
