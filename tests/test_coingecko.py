"""CoinGeckoClient against respx: exact prices, batching, key headers, market_chart, retries, errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from dcactl.errors import ExchangeUnavailable, PriceSourceError, RateLimited
from dcactl.http import MAX_ATTEMPTS
from dcactl.market.coingecko import COINGECKO_IDS, CoinGeckoClient, Quote, auth_header, default_budget

URL = "http://cg.test/api/v3"
KEY = "CG-secret-demo-key-123"


def cg(key: str | None = KEY, base: str = URL) -> CoinGeckoClient:
    async def no_sleep(_: float) -> None:
        return None

    return CoinGeckoClient(base, key, 5, sleep=no_sleep)


def query(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


def test_simple_price_is_exact_and_keeps_last_updated() -> None:
    """JSON numbers become exact Decimals; last_updated_at (s) becomes a UTC datetime; key header sent."""
    body = ('{"avalanche-2": {"usd": 35.123456789012345678, "last_updated_at": 1764000000},'
            ' "chainlink": {"usd": 14}}')

    async def go() -> tuple[dict[str, Quote], httpx.Request]:
        with respx.mock(base_url=URL) as router:
            route = router.get("/simple/price").respond(200, text=body)
            async with cg() as client:
                quotes = await client.simple_price(["chainlink", "avalanche-2"])
            return quotes, route.calls.last.request

    quotes, request = asyncio.run(go())
    when = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert quotes["avalanche-2"] == Quote(Decimal("35.123456789012345678"), when)
    assert quotes["chainlink"] == Quote(Decimal(14), None)
    assert query(request) == {"ids": "avalanche-2,chainlink", "vs_currencies": "usd",
                              "include_last_updated_at": "true", "precision": "full"}
    assert request.headers["x-cg-demo-api-key"] == KEY


def test_simple_price_batches_250_ids_per_request() -> None:
    """600 distinct ids → three requests of 250, 250 and 100 ids; all prices merged."""
    ids = [f"coin-{i:03d}" for i in range(600)]

    def answer(request: httpx.Request) -> httpx.Response:
        asked = query(request)["ids"].split(",")
        return httpx.Response(200, json={i: {"usd": 1} for i in asked})

    async def go() -> tuple[dict[str, Quote], list[int]]:
        with respx.mock(base_url=URL) as router:
            route = router.get("/simple/price").mock(side_effect=answer)
            async with cg() as client:
                quotes = await client.simple_price(ids + ids[:10])
            return quotes, sorted(len(query(c.request)["ids"].split(",")) for c in route.calls)

    quotes, sizes = asyncio.run(go())
    assert sizes == [100, 250, 250]
    assert len(quotes) == 600


def test_missing_or_null_ids_are_absent_and_price_names_the_id() -> None:
    """An id CoinGecko omits (or answers {}) is absent; price(id) raises PriceSourceError naming it."""

    async def go() -> tuple[dict[str, Quote], str]:
        with respx.mock(base_url=URL) as router:
            router.get("/simple/price").respond(200, json={"bitcoin": {"usd": 97000}, "weird": {}})
            async with cg() as client:
                quotes = await client.simple_price(["bitcoin", "weird", "nope"])
                with pytest.raises(PriceSourceError) as info:
                    await client.price("nope")
            return quotes, str(info.value)

    quotes, message = asyncio.run(go())
    assert list(quotes) == ["bitcoin"]
    assert message == "CoinGecko has no USD price for id 'nope'"


def test_market_chart_points_are_sorted_decimals() -> None:
    """market_chart → [(UTC datetime, Decimal)], oldest first; asks interval=daily and days."""
    body = '{"prices": [[1711929600000, 71246.95], [1711843200000, 69702.3087473573]], "market_caps": []}'

    async def go() -> tuple[list[tuple[datetime, Decimal]], httpx.Request]:
        with respx.mock(base_url=URL) as router:
            route = router.get("/coins/avalanche-2/market_chart").respond(200, text=body)
            async with cg() as client:
                points = await client.market_chart("avalanche-2", 30)
            return points, route.calls.last.request

    points, request = asyncio.run(go())
    assert points == [(datetime(2024, 3, 31, tzinfo=UTC), Decimal("69702.3087473573")),
                      (datetime(2024, 4, 1, tzinfo=UTC), Decimal("71246.95"))]
    assert query(request) == {"vs_currency": "usd", "days": "30", "precision": "full", "interval": "daily"}


def test_market_chart_unknown_id_is_a_price_source_error_naming_it() -> None:
    """A 404 "coin not found" becomes PriceSourceError with the id, not retried."""

    async def go() -> tuple[str, int]:
        with respx.mock(base_url=URL) as router:
            route = router.get("/coins/nope/market_chart").respond(404, json={"error": "coin not found"})
            async with cg() as client:
                with pytest.raises(PriceSourceError) as info:
                    await client.market_chart("nope", 30)
            return str(info.value), route.call_count

    message, calls = asyncio.run(go())
    assert "'nope'" in message and calls == 1


@pytest.mark.parametrize(
    ("responses", "expected", "calls"),
    [
        ([httpx.Response(429), httpx.Response(200, json={"bitcoin": {"usd": 1}})], None, 2),
        ([httpx.Response(429)] * MAX_ATTEMPTS, RateLimited, MAX_ATTEMPTS),
        ([httpx.Response(503)] * MAX_ATTEMPTS, ExchangeUnavailable, MAX_ATTEMPTS),
        ([httpx.ReadTimeout("slow")] * MAX_ATTEMPTS, ExchangeUnavailable, MAX_ATTEMPTS),
        ([httpx.Response(401, json={"status": {"error_code": 10002}})], PriceSourceError, 1),
    ],
)
def test_reads_retry_on_429_5xx_and_timeouts(responses: list[Any], expected: type[Exception] | None,
                                             calls: int) -> None:
    """429/5xx/timeouts are retried up to MAX_ATTEMPTS; 4xx is not; the key never shows in the error."""

    async def go() -> tuple[Any, int]:
        with respx.mock(base_url=URL) as router:
            route = router.get("/simple/price").mock(side_effect=responses)
            async with cg() as client:
                try:
                    result: Any = await client.simple_price(["bitcoin"])
                except Exception as exc:
                    result = exc
            return result, route.call_count

    result, made = asyncio.run(go())
    assert made == calls
    if expected is None:
        assert result == {"bitcoin": Quote(Decimal(1))}
    else:
        assert type(result) is expected
        assert KEY not in str(result) and KEY not in repr(result.__cause__)


def test_key_headers_for_demo_pro_and_none() -> None:
    """Demo key header by default, pro header on pro-api.coingecko.com, nothing without a key."""
    assert auth_header(URL, "k") == {"x-cg-demo-api-key": "k"}
    assert auth_header("https://pro-api.coingecko.com/api/v3", "k") == {"x-cg-pro-api-key": "k"}
    assert auth_header(URL, None) == {}
    assert KEY not in repr(cg())


def test_real_coingecko_is_paced_and_doubles_are_not() -> None:
    """The public API gets a 25/min budget, pro 400/min, the devnet's double none."""
    public, pro = default_budget("https://api.coingecko.com/api/v3"), default_budget(
        "https://pro-api.coingecko.com/api/v3")
    assert public is not None and public.per_minute == 25
    assert pro is not None and pro.per_minute == 400
    assert default_budget("http://127.0.0.1:3001/coingecko/api/v3") is None


def test_id_table_has_the_documented_entries() -> None:
    """The ids users rely on (AVAX → avalanche-2, LINK → chainlink, MATIC/POL, HYPE, PURR)."""
    assert (COINGECKO_IDS["AVAX"], COINGECKO_IDS["LINK"], COINGECKO_IDS["MATIC"], COINGECKO_IDS["POL"]) == (
        "avalanche-2", "chainlink", "polygon-ecosystem-token", "polygon-ecosystem-token")
    assert (COINGECKO_IDS["HYPE"], COINGECKO_IDS["PURR"], COINGECKO_IDS["BTC"]) == ("hyperliquid", "purr-2",
                                                                                    "bitcoin")


def test_a_devnet_at_any_address_prices_paper_assets_with_its_own_coingecko(
    tmp_path: Path, devnet: Any, cli: Any
) -> None:
    """network = the devnet's URL (not the name "devnet") and no coingecko_url: dcactl asks the URL's
    /devnet/health, finds a devnet, and prices LINK (unlisted: paper) from the devnet's CoinGecko
    double instead of the real CoinGecko this machine cannot reach."""
    cfg = tmp_path / "p.toml"
    cfg.write_text(f'[settings]\nnetwork = "{devnet.url}"\ndatabase = "ledger.db"\n'
                   '[assets.LINK]\namount = 20\nevery = "day"\n')
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 0, res.err
    (result,) = res.json()["results"]
    assert (result["venue"], result["status"]) == ("paper", "paper"), result
    asked = devnet.admin.requests(path="/coingecko")
    assert asked, "the devnet's CoinGecko double was asked"
