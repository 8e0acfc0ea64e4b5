"""CoinGecko prices for assets Hyperliquid spot does not list (fact sheet §6).

:class:`CoinGeckoClient` wraps :class:`~dcactl.http.JsonHttp` (timeouts, reads retried on 429, 5xx
and timeouts with backoff). CoinGecko answers with JSON *numbers*; they are parsed straight into
Decimal from the raw text, never through float. The API key (demo or pro) travels in a header and
never appears in a message. :data:`COINGECKO_IDS` maps common tickers to CoinGecko ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from dcactl.errors import PriceSourceError

if TYPE_CHECKING:
    import httpx

    from dcactl.http import Sleep, WeightBudget

DEFAULT_BASE_URL = "https://api.coingecko.com/api/v3"
PRO_HOST = "pro-api.coingecko.com"
MAX_IDS_PER_REQUEST = 250
"""simple/price accepts more, but long URLs get refused by proxies; 250 per request is safe."""

COINGECKO_IDS: dict[str, str] = {
    "BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "AVAX": "avalanche-2", "LINK": "chainlink",
    "DOT": "polkadot", "ADA": "cardano", "DOGE": "dogecoin", "XRP": "ripple", "LTC": "litecoin",
    "UNI": "uniswap", "ATOM": "cosmos", "MATIC": "polygon-ecosystem-token",
    "POL": "polygon-ecosystem-token", "NEAR": "near", "ARB": "arbitrum", "OP": "optimism", "TRX": "tron",
    "BCH": "bitcoin-cash", "XLM": "stellar", "AAVE": "aave", "HYPE": "hyperliquid", "PURR": "purr-2",
    "BNB": "binancecoin", "TON": "the-open-network", "SUI": "sui", "APT": "aptos", "FIL": "filecoin",
    "ETC": "ethereum-classic", "INJ": "injective-protocol", "TIA": "celestia", "SEI": "sei-network",
    "PEPE": "pepe", "SHIB": "shiba-inu", "WIF": "dogwifcoin", "BONK": "bonk", "MKR": "maker",
    "LDO": "lido-dao", "CRV": "curve-dao-token", "ALGO": "algorand", "HBAR": "hedera-hashgraph",
    "ICP": "internet-computer", "XMR": "monero", "ENA": "ethena", "FARTCOIN": "fartcoin",
    "USDT": "tether", "USDC": "usd-coin",
}
"""Ticker (upper case) → CoinGecko id, for paper buys of unlisted assets. ``assets.X.coingecko_id``
overrides it; a ticker missing here needs one."""


@dataclass(frozen=True)
class Quote:
    """A CoinGecko USD price (``price``, Decimal) and when CoinGecko last updated it (UTC, or None)."""

    price: Decimal
    last_updated: datetime | None = None


def auth_header(base_url: str, api_key: str | None) -> dict[str, str]:
    """The key header for ``base_url``: ``x-cg-pro-api-key`` on the pro host, else the demo one."""
    if not api_key:
        return {}
    host = urlsplit(base_url).hostname or ""
    name = "x-cg-pro-api-key" if host == PRO_HOST else "x-cg-demo-api-key"
    return {name: api_key}


def default_budget(base_url: str) -> WeightBudget | None:
    """Pacing for the real CoinGecko (demo ~30 calls/min: 25; pro: 400); None for doubles (devnet)."""
    from dcactl.http import WeightBudget

    host = urlsplit(base_url).hostname or ""
    if host == PRO_HOST:
        return WeightBudget(400)
    if host.endswith("coingecko.com"):
        return WeightBudget(25)
    return None


class CoinGeckoClient:
    """Async client of the CoinGecko v3 API (or a compatible double such as the devnet's).

    ``base_url`` like ``https://api.coingecko.com/api/v3``; ``api_key`` a demo or pro key or None;
    ``timeout`` seconds per request. ``transport``/``sleep``/``budget`` are for tests. Every call costs
    weight 1 against ``budget``. Use ``async with`` or :meth:`aclose`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        budget: WeightBudget | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        from dcactl.http import JsonHttp

        self.base_url = base_url.rstrip("/")
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = JsonHttp(
            self.base_url, service="CoinGecko", timeout=timeout, transport=transport,
            budget=budget if budget is not None else default_budget(self.base_url),
            headers={"accept": "application/json", **auth_header(self.base_url, api_key)},
            client_error=PriceSourceError, **extra,
        )

    @property
    def budget(self) -> WeightBudget | None:
        """The request pacing (None: unpaced, e.g. the devnet's double)."""
        return self.http.budget

    def __repr__(self) -> str:  # the key is never shown
        return f"CoinGeckoClient({self.base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> CoinGeckoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def simple_price(self, ids: Sequence[str]) -> dict[str, Quote]:
        """USD prices of CoinGecko ``ids``, batched ≤ 250 ids per request (batches run concurrently).

        An id CoinGecko does not know (or has no USD price for) is absent from the result: the caller
        decides per asset (see :meth:`price` for a single id that must exist). Raises
        ExchangeUnavailable/RateLimited after retries, PriceSourceError on a 4xx or a malformed answer.
        """
        unique = sorted(set(ids))
        batches = [unique[i:i + MAX_IDS_PER_REQUEST] for i in range(0, len(unique), MAX_IDS_PER_REQUEST)]
        answers = await asyncio.gather(*(self._simple_price_batch(b) for b in batches))
        out: dict[str, Quote] = {}
        for answer in answers:
            out.update(answer)
        return out

    async def _simple_price_batch(self, ids: Sequence[str]) -> dict[str, Quote]:
        params = {"ids": ",".join(ids), "vs_currencies": "usd", "include_last_updated_at": "true",
                  "precision": "full"}
        what = f"simple/price ({len(ids)} ids)"
        data = await self.http.get_json("/simple/price", params, weight=1, what=what)
        if not isinstance(data, dict):
            raise PriceSourceError("CoinGecko simple/price: unexpected answer (not an object)")
        out: dict[str, Quote] = {}
        for cg_id in ids:
            entry = data.get(cg_id)
            if not isinstance(entry, dict):
                continue
            price = entry.get("usd")
            if isinstance(price, (int, Decimal)) and not isinstance(price, bool) and price > 0:
                updated = entry.get("last_updated_at")
                when = None
                if isinstance(updated, (int, Decimal)):
                    when = datetime.fromtimestamp(int(updated), UTC)
                out[cg_id] = Quote(price=Decimal(price), last_updated=when)
        return out

    async def price(self, cg_id: str) -> Quote:
        """The USD price of one id. Raises PriceSourceError naming the id when CoinGecko has none."""
        quotes = await self.simple_price([cg_id])
        if cg_id not in quotes:
            raise PriceSourceError(f"CoinGecko has no USD price for id '{cg_id}'")
        return quotes[cg_id]

    async def market_chart(
        self, cg_id: str, days: int, interval: str = "daily"
    ) -> list[tuple[datetime, Decimal]]:
        """USD price points of ``cg_id`` over the last ``days`` days, oldest first, as (UTC time, price).

        With ``interval="daily"`` points sit at 00:00 UTC, except the last which is "now". Keyless and
        demo access reach back 365 days. Raises PriceSourceError naming the id when CoinGecko does not
        know it (or refuses the request), ExchangeUnavailable/RateLimited after retries.
        """
        params = {"vs_currency": "usd", "days": str(int(days)), "precision": "full"}
        if interval:
            params["interval"] = interval
        path = f"/coins/{quote(cg_id, safe='')}/market_chart"
        try:
            data = await self.http.get_json(path, params, weight=1, what=f"market_chart {cg_id}")
        except PriceSourceError as exc:
            raise PriceSourceError(f"CoinGecko has no price history for id '{cg_id}' ({exc})") from exc
        try:
            points = [(datetime.fromtimestamp(int(t) / 1000, UTC), Decimal(p)) for t, p in data["prices"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise PriceSourceError(f"CoinGecko market_chart {cg_id}: unexpected answer") from exc
        return sorted(points)
