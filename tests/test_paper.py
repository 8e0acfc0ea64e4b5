"""The paper venue fills like an IOC taker would (dcactl.venues.paper)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from dcactl.models import Market
from dcactl.venues.paper import Level, fee_for, fill_from_book, fill_from_quote, price_to_fill, walk_asks

ASKS = (Level(D("100010"), D("0.0005")), Level(D("100020"), D("0.001")), Level(D("100050"), D("0.01")))
UBTC = Market(symbol="BTC", venue="paper", coin="@142", asset_id=10142, base_token="UBTC", sz_decimals=5)
T = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_walk_takes_levels_in_order() -> None:
    """0.00099 at limit 100121: 0.0005 @ 100010 + 0.00049 @ 100020 = 99.0148 USDC."""
    result = walk_asks(ASKS, D("0.00099"), D("100121"))
    assert result is not None
    assert result.size == D("0.00099")
    assert result.avg_px * result.size == D("99.0148")


def test_walk_stops_at_the_limit() -> None:
    """A limit of 100015 only reaches the first level: a partial fill of 0.0005."""
    result = walk_asks(ASKS, D("0.002"), D("100015"))
    assert result is not None and result.size == D("0.0005") and result.avg_px == D("100010")


def test_limit_below_best_ask_fills_nothing() -> None:
    """Like an IOC that cannot match, a limit under the best ask gives no fill."""
    assert walk_asks(ASKS, D("0.001"), D("100000")) is None


def test_price_to_fill() -> None:
    """The worst price touched to fill a size, or None when the book is too thin."""
    assert price_to_fill(ASKS, D("0.0005")) == D("100010")
    assert price_to_fill(ASKS, D("0.0006")) == D("100020")
    assert price_to_fill(ASKS, D("1")) is None


def test_paper_fill_from_book_charges_fee_in_base() -> None:
    """The paper fill's price is the walked average and its fee 0.07 % of the size, in UBTC."""
    fill = fill_from_book(UBTC, ASKS, D("0.00099"), D("100121"), time=T, cloid="0x" + "1" * 32, period="p")
    assert fill is not None
    assert fill.source == "paper" and fill.tid == "paper:0x" + "1" * 32
    assert fill.price == D("100014.9494949495")  # 99.0148 / 0.00099, to 10 decimals
    assert fill.fee == D("0.000000693") and fill.fee_token == "UBTC"


def test_fee_precision() -> None:
    """Fees are floored four decimals below the lot size: 2.5 PURR × 0.0007 = 0.00175 → 0.0017."""
    assert fee_for(D("2.5"), 0) == D("0.0017")


def test_paper_fill_from_quote() -> None:
    """An unlisted asset fills its whole size at the given price; the fee is in the asset."""
    avax = Market(symbol="AVAX", venue="paper", coingecko_id="avalanche-2")
    fill = fill_from_quote(avax, D("2.5"), D("20.01"), time=T, cloid="0x" + "2" * 32, period="p")
    assert fill.usd == D("50.025") and fill.fee == D("0.00175") and fill.fee_token == "AVAX"
