"""Amounts, caps and order rounding (dcactl.run.sizing), against hand-computed values."""

from __future__ import annotations

from decimal import Decimal as D

from dcactl.market.data import Quote
from dcactl.models import Market
from dcactl.run.sizing import NoOrder, Order, apply_caps, round_order
from dcactl.venues.paper import Level

UBTC = Market(
    symbol="BTC", venue="hyperliquid", coin="@142", asset_id=10142, base_token="UBTC", sz_decimals=5
)
ASKS = (Level(D("100010"), D("0.0005")), Level(D("100020"), D("0.001")), Level(D("100050"), D("0.01")))


def test_limit_is_fill_price_plus_margin() -> None:
    """100 USDC of UBTC: the ask filling 0.00099 is 100020; +0.1 % → 100120.02 → 100121 (up)."""
    order = round_order(UBTC, Quote(mid=D("100000"), asks=ASKS), D("100"), 50, D("0.001"))
    assert order == Order(D("0.00099"), D("100121"))


def test_limit_never_above_slippage_cap() -> None:
    """When the book is too thin to fill, the limit is mid × 1.005 = 100500 and the size fits it."""
    thin = (Level(D("100010"), D("0.0005")),)
    order = round_order(UBTC, Quote(mid=D("100000"), asks=thin), D("100"), 50, D("0.001"))
    assert order == Order(D("0.00099"), D("100500"))  # 100/100500 = 0.000995.. floored to 0.00099


def test_fill_price_above_cap_is_capped() -> None:
    """Asks far above the mid: the limit stays at the cap (100 bps → 101000)."""
    far = (Level(D("105000"), D("1")),)
    order = round_order(UBTC, Quote(mid=D("100000"), asks=far), D("200"), 100, D("0.001"))
    assert order == Order(D("0.00198"), D("101000"))


def test_under_minimum_after_rounding_is_skipped() -> None:
    """10 USDC → 0.00009 UBTC × 100111 = 9.00999 USDC, under the minimum: a reason, not an order."""
    reason = round_order(UBTC, Quote(mid=D("100000"), asks=ASKS), D("10"), 50, D("0.001"))
    assert reason == NoOrder(
        "under the 10 USDC minimum after rounding (size 0.00009 × price 100111 = 9.00999 USDC)")


def test_unlisted_quote_price() -> None:
    """AVAX at 20 on CoinGecko: price 20 × (1 + 10 bps / 2) = 20.01, size floor(50 / 20.01, 8)."""
    avax = Market(symbol="AVAX", venue="paper", coingecko_id="avalanche-2", sz_decimals=8)
    assert round_order(avax, Quote(mid=D("20"), source="coingecko"), D("50"), 50, D("0.001")) == Order(
        D("2.49875062"),
        D("20.01"),
    )


def test_caps_admit_what_fits_in_config_order() -> None:
    """Per-run cap 140: 100 fits (40 left), 50 does not, and the later 30 still does (10 left)."""
    verdicts = apply_caps([D(100), D(50), D(30)], D(140), None, D(0))
    assert verdicts == [
        None,
        "cap: 50 USDC does not fit max_usd_per_run 140 USDC (100 USDC admitted in this run, 40 left)",
        None,
    ]


def test_caps_admitted_sets_by_hand() -> None:
    """Several orders of amounts against a run cap of 120 and a day cap of 200 with 50 committed."""
    for amounts, admitted in (
        ([D(200), D(65), D(40)], [False, True, True]),  # the case: BTC 200 no longer blocks ETH
        ([D(65), D(40), D(30)], [True, True, False]),  # 105 admitted, 15 left: 30 does not fit
        ([D(30), D(65), D(40)], [True, True, False]),
        ([D(120), D(1)], [True, False]),
        ([D(151)], [False]),  # fits the run cap? no: 151 > 120
    ):
        verdicts = apply_caps(amounts, D(120), D(200), D(50))
        assert [v is None for v in verdicts] == admitted, amounts
    day = apply_caps([D(100), D(60), D(50)], None, D(200), D(50))
    assert day == [None, "cap: 60 USDC does not fit max_usd_per_day 200 USDC (150 USDC today, 50 left)", None]


def test_day_cap_counts_what_the_day_already_holds() -> None:
    """Day cap 200 with 150 already committed today: a 60 buy is cut, a 50 buy is not."""
    assert (
        apply_caps([D(60)], None, D(200), D(150))[0]
        == "cap: 60 USDC does not fit max_usd_per_day 200 USDC (150 USDC today, 50 left)"
    )
    assert apply_caps([D(50)], None, D(200), D(150)) == [None]


def test_no_caps_admit_everything() -> None:
    """Without caps every amount is admitted."""
    assert apply_caps([D(1000), D(5000)], None, None, D(10**6)) == [None, None]


def test_minimum_is_met_at_the_price_that_crosses_not_only_at_the_limit() -> None:
    """10.50 USDC, asks 99000 × 0.00005 then 103000: 0.0001 fills at 103000; +0.1 % → limit 103103, and
    0.0001 × 103103 = 10.3103 passes at the limit. The exchange measures the minimum at the first ask
    that crosses: 0.0001 × 99000 = 9.9 USDC, refused; so it is skipped here, never sent."""
    asks = (Level(D("99000"), D("0.00005")), Level(D("103000"), D("1")))
    reason = round_order(UBTC, Quote(mid=D("99500"), asks=asks), D("10.50"), 500, D("0.001"))
    assert reason == NoOrder("under the 10 USDC minimum at the price it would trade at (size 0.0001 × best"
                             " ask 99000 = 9.9 USDC; the exchange would refuse it)")
    # 12 USDC: 0.00011 at limit 103103 (11.34 USDC), and 0.00011 × 99000 = 10.89 at the best ask: sent
    assert round_order(UBTC, Quote(mid=D("99500"), asks=asks), D("12"), 500, D("0.001")) == Order(
        D("0.00011"), D("103103"),
    )
