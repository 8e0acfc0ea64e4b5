"""The Hyperliquid adapter: async reads of ``/info`` and signed order actions on ``/exchange``.

One :class:`HyperliquidClient` per command wraps one :class:`~dcactl.http.JsonHttp` (one connection
pool, a timeout on every request, reads retried with backoff, a client-side weight budget). Every
vendor failure leaves this module as a :mod:`dcactl.errors` type; payloads are typed
(:mod:`dcactl.venues.hl_types`) and decimals parsed exactly.

Writes are never retried: a timeout, 5xx, 429, dropped connection or unreadable answer on
``/exchange`` raises :class:`OrderOutcomeUnknown`, and the caller resolves each order by its cloid
(``order_status``) before anything is sent again — a new nonce would make a second order.

``user`` arguments must be the **master** account address (an agent address answers, but empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import httpx

from dcactl.crash import send_transport
from dcactl.errors import ExchangeError, ExchangeUnavailable
from dcactl.http import JsonHttp, Sleep, WeightBudget
from dcactl.models import from_ms
from dcactl.timing import mark
from dcactl.venues.base import (
    Agent,
    Balance,
    Book,
    OrderOutcome,
    OrderOutcomeUnknown,
    OrderRequest,
    OrderStatus,
    ServerProbe,
)
from dcactl.venues.hl_parse import (
    dec_field,
    parse_book,
    parse_order_response,
    parse_order_status,
    shape_error,
    statuses_of,
)
from dcactl.venues.hl_signing import (
    NONCES,
    cancel_by_cloid_action,
    exchange_weight,
    order_action,
    sign_action,
    signed_request,
)
from dcactl.venues.hl_types import (
    CandleWire,
    OpenOrderWire,
    SpotAssetCtx,
    SpotMeta,
    UserFillWire,
    UserRoleWire,
)

if TYPE_CHECKING:
    from dcactl.venues.hl_signing import Wallet

__all__ = [
    "HyperliquidClient",
    "OrderOutcome",
    "OrderOutcomeUnknown",
    "OrderRequest",
    "OrderStatus",
    "info_weight",
]

INFO_WEIGHTS: Mapping[str, int] = {
    "l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2,
    "spotClearinghouseState": 2, "exchangeStatus": 2, "userRole": 60,
}
"""Published /info weights (fact sheet §4); every other type weighs :data:`DEFAULT_INFO_WEIGHT`."""
DEFAULT_INFO_WEIGHT = 20
ITEMS_PER_EXTRA_WEIGHT: Mapping[str, int] = {
    "userFills": 20, "userFillsByTime": 20, "historicalOrders": 20, "candleSnapshot": 60,
}
"""Extra weight of 1 per this many items returned, charged after the response."""


def info_weight(request_type: str) -> int:
    """The IP weight of an /info request of ``request_type`` (before per-item extras)."""
    return INFO_WEIGHTS.get(request_type, DEFAULT_INFO_WEIGHT)


class HyperliquidClient:
    """Async client of one Hyperliquid-compatible API (mainnet, testnet, the devnet or any URL).

    ``api_url`` is the REST base (``https://api.hyperliquid.xyz``); ``is_mainnet`` chooses how actions
    are signed (mainnet "a", anything else "b", as the SDK does); ``timeout`` is seconds per request.
    ``transport`` replaces the network in tests, ``budget`` the default 1000/min weight pacing, and
    ``sleep`` the backoff sleep. Use ``async with`` or call :meth:`aclose`.

    The weight budget lives in the client; the CLI passes a :class:`~dcactl.http.SharedWeightBudget`
    so all of the user's dcactl processes pace themselves in one window. The target of 1000/min
    leaves 200 of the exchange's 1200 for what dcactl cannot see (the exchange UI, other tools).
    """

    def __init__(
        self,
        api_url: str,
        is_mainnet: bool,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: WeightBudget | None = None,
        *,
        sleep: Sleep | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.is_mainnet = is_mainnet
        self.budget = budget if budget is not None else WeightBudget()
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        if transport is None:  # None unless a crash test armed DCACTL_CRASH_AT=after_send
            transport = send_transport()
        self.http = JsonHttp(
            self.api_url, service="Hyperliquid", timeout=timeout, transport=transport, budget=self.budget,
            headers={"Content-Type": "application/json"}, **extra,
        )

    def __repr__(self) -> str:
        return f"HyperliquidClient({self.api_url!r}, is_mainnet={self.is_mainnet})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> HyperliquidClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------------------------- reads
    async def info(self, body: Mapping[str, Any], what: str | None = None) -> Any:
        """POST ``body`` to /info (weight from its ``type``; per-item extras charged after).

        Raises ExchangeUnavailable / RateLimited (after retries) or ExchangeError (4xx).
        """
        kind = str(body.get("type"))
        data = await self.http.post_json(
            "/info", dict(body), weight=info_weight(kind), retry=True, what=f"/info {what or kind}"
        )
        per = ITEMS_PER_EXTRA_WEIGHT.get(kind)
        if per and isinstance(data, list):
            self.budget.charge(len(data) // per)
        return data

    async def spot_meta(self) -> SpotMeta:
        """``spotMeta``: tokens and USDC/other pairs (weight 20)."""
        data = await self.info({"type": "spotMeta"})
        if not isinstance(data, dict) or "tokens" not in data or "universe" not in data:
            raise shape_error("/info spotMeta", TypeError("no tokens/universe"))
        return cast(SpotMeta, data)

    async def spot_meta_and_ctxs(self) -> tuple[SpotMeta, list[SpotAssetCtx]]:
        """``spotMetaAndAssetCtxs``: metadata and contexts. The lists are NOT aligned: join on ``coin``
        (``dcactl.market.resolve.ctx_by_coin``)."""
        data = await self.info({"type": "spotMetaAndAssetCtxs"})
        if not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], dict):
            raise shape_error("/info spotMetaAndAssetCtxs", TypeError("not [meta, ctxs]"))
        return cast(SpotMeta, data[0]), cast(list[SpotAssetCtx], data[1])

    async def all_mids(self) -> dict[str, Decimal]:
        """``allMids``: coin (``@142``, ``PURR/USDC``, perp names) → mid price in USDC (weight 2)."""
        data = await self.info({"type": "allMids", "dex": ""})
        try:
            return {str(k): dec_field(v) for k, v in data.items()}
        except (AttributeError, ValueError) as exc:
            raise shape_error("/info allMids", exc) from exc

    async def l2_book(self, coin: str) -> Book | None:
        """``l2Book`` of ``coin`` (``@142``); None when the market does not exist (weight 2)."""
        data = await self.info({"type": "l2Book", "coin": coin}, f"l2Book {coin}")
        if data is None:
            return None
        try:
            return parse_book(data, coin)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise shape_error(f"/info l2Book {coin}", exc) from exc

    async def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[CandleWire]:
        """``candleSnapshot`` of ``coin`` from ``start_ms`` to ``end_ms`` (ms): raw candles, oldest first,
        OHLC as decimal strings. Only the latest 5000 candles exist (weight 20 + 1 per 60 candles)."""
        req = {"coin": coin, "interval": interval, "startTime": int(start_ms), "endTime": int(end_ms)}
        data = await self.info({"type": "candleSnapshot", "req": req}, f"candleSnapshot {coin} {interval}")
        if not isinstance(data, list):
            raise shape_error(f"/info candleSnapshot {coin}", TypeError("not a list"))
        return cast(list[CandleWire], sorted(data, key=lambda c: int(c.get("t", 0))))

    async def spot_balances(self, user: str) -> dict[str, Balance]:
        """``spotClearinghouseState``: token name (``USDC``, ``UBTC``) → Balance(total, hold) (weight 2)."""
        data = await self.info({"type": "spotClearinghouseState", "user": user.lower()})
        try:
            return {
                str(b["coin"]): Balance(dec_field(b["total"]), dec_field(b.get("hold", "0")), b.get("token"))
                for b in data.get("balances", [])
            }
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise shape_error("/info spotClearinghouseState", exc) from exc

    async def perp_balance(self, user: str) -> Decimal:
        """USDC withdrawable from the *perp* account (``clearinghouseState.withdrawable``), for doctor's
        "move USDC from perp to spot" hint (weight 2)."""
        data = await self.info({"type": "clearinghouseState", "user": user.lower(), "dex": ""})
        try:
            return dec_field(data.get("withdrawable", "0"))
        except (AttributeError, ValueError) as exc:
            raise shape_error("/info clearinghouseState", exc) from exc

    async def order_status(self, user: str, oid_or_cloid: int | str) -> OrderStatus:
        """``orderStatus`` by oid (int) or cloid (``0x`` + 32 hex). ``known=False`` for ``unknownOid``."""
        ref = oid_or_cloid.lower() if isinstance(oid_or_cloid, str) else int(oid_or_cloid)
        body = {"type": "orderStatus", "user": user.lower(), "oid": ref}
        data = await self.info(body, f"orderStatus {ref}")
        try:
            return parse_order_status(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise shape_error(f"/info orderStatus {ref}", exc) from exc

    async def user_fills_by_time(
        self, user: str, start_ms: int, end_ms: int | None = None
    ) -> list[UserFillWire]:
        """``userFillsByTime``: the earliest ≤ 2000 fills with start ≤ time ≤ end (ms), raw dicts.

        Page by sending the last time seen as the next start and dedupe on ``tid`` (many fills share
        a ms). Only the 10,000 most recent fills exist (weight 20 + 1 per 20 fills).
        """
        body = {"type": "userFillsByTime", "user": user.lower(), "startTime": int(start_ms),
                "endTime": None if end_ms is None else int(end_ms), "aggregateByTime": False}
        data = await self.info(body)
        if not isinstance(data, list):
            raise shape_error("/info userFillsByTime", TypeError("not a list"))
        return cast(list[UserFillWire], data)

    async def open_orders(self, user: str) -> list[OpenOrderWire]:
        """``openOrders`` of ``user``, raw (weight 20)."""
        data = await self.info({"type": "openOrders", "user": user.lower(), "dex": ""})
        if not isinstance(data, list):
            raise shape_error("/info openOrders", TypeError("not a list"))
        return cast(list[OpenOrderWire], data)

    async def user_role(self, user: str) -> UserRoleWire:
        """``userRole``: ``{"role": "user"|"agent"|"vault"|"subAccount"|"missing", "data": ...}`` (weight 60).
        For an agent, ``data["user"]`` is its master."""
        data = await self.info({"type": "userRole", "user": user.lower()})
        if not isinstance(data, dict) or "role" not in data:
            raise shape_error("/info userRole", TypeError("no role"))
        return cast(UserRoleWire, data)

    async def extra_agents(self, user: str) -> list[Agent]:
        """``extraAgents``: the API wallets approved by ``user``, with expiry (weight 20)."""
        data = await self.info({"type": "extraAgents", "user": user.lower()})
        try:
            return [
                Agent(name=str(a.get("name") or ""), address=str(a["address"]).lower(),
                      valid_until=from_ms(int(a["validUntil"])) if a.get("validUntil") else None)
                for a in data
            ]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise shape_error("/info extraAgents", exc) from exc

    async def probe(self) -> ServerProbe:
        """One cheap read (``allMids``, weight 2, not retried): latency and the server's Date header,
        for doctor's connectivity and clock-skew checks."""
        response = await self.http.request(
            "POST", "/info", json_body={"type": "allMids", "dex": ""}, weight=info_weight("allMids"),
            retry=False, what="/info allMids",
        )
        return ServerProbe(latency_s=response.elapsed_s, server_time=response.server_date,
                           local_time=datetime.now(UTC))

    # ---------------------------------------------------------------------------------- writes
    async def place_orders(
        self,
        signer: Wallet,
        orders: Sequence[OrderRequest],
        *,
        vault: str | None = None,
        expires_after_ms: int | None = None,
    ) -> list[OrderOutcome]:
        """Place ``orders`` in ONE signed ``order`` action (one nonce, one round trip).

        Returns one :class:`OrderOutcome` per order, in order: read every one, since an HTTP 200 can
        carry per-order errors. ``signer`` signs (the master or an approved agent); it is never
        logged. ``vault`` trades for a vault/sub-account. ``expires_after_ms`` (Unix ms) is signed
        into the action: the exchange refuses it when it arrives later ("Action expired"), so an
        order whose answer was lost cannot execute after that instant.

        Only the per-order statuses of a parsed ``"ok"`` answer are a verdict. Raises UsageError for an
        order that cannot be put on the wire (nothing sent), and :class:`OrderOutcomeUnknown` for any
        other answer: lost or unreadable, a 5xx or 429, and also a refusal of the whole action (an HTTP
        4xx, ``{"status": "err"}``; its text in ``refusal``), since a proxy or gateway between us and the
        exchange can answer so after the order went through. A caller that cancels this coroutine
        mid-flight (``asyncio.wait_for``) must treat the orders as unknown too.
        """
        action = order_action(orders)
        nonce = NONCES.next()
        if expires_after_ms is None:
            body: Any = signed_request(signer, action, nonce, vault=vault, is_mainnet=self.is_mainnet)
        else:
            body = _expiring_request(signer, action, nonce, vault, expires_after_ms, self.is_mainnet)
        what = _describe_batch(orders)
        cloids = tuple(o.cloid for o in orders if o.cloid)
        try:
            mark("order_sent")
            data = await self._post_action(body, exchange_weight(len(orders)), what, cloids)
            mark("order_answered")
            return parse_order_response(data, orders, what, cloids)
        except ExchangeError as exc:
            raise OrderOutcomeUnknown(
                f"{exc}; no verdict until the orders are checked by cloid", cloids, refusal=str(exc)
            ) from exc

    async def cancel_by_cloid(
        self, signer: Wallet, cancels: Sequence[tuple[int, str]], *, vault: str | None = None
    ) -> list[str | None]:
        """Cancel orders by (asset id, cloid) in one action. Per cancel: None on success, else the
        exchange's error text. Raises like :meth:`place_orders`."""
        action = cancel_by_cloid_action(cancels)
        body = signed_request(signer, action, NONCES.next(), vault=vault, is_mainnet=self.is_mainnet)
        what = f"/exchange cancelByCloid ({len(cancels)})"
        cloids = tuple(c for _, c in cancels)
        data = await self._post_action(body, exchange_weight(len(cancels)), what, cloids)
        statuses = statuses_of(data, what, len(cancels), cloids)
        return [None if s == "success" else str(s.get("error")) if isinstance(s, dict) else str(s)
                for s in statuses]

    async def _post_action(self, body: Any, weight: int, what: str, cloids: tuple[str, ...]) -> Any:
        try:
            return await self.http.post_json("/exchange", body, weight=weight, retry=False, what=what)
        except ExchangeUnavailable as exc:
            raise OrderOutcomeUnknown(
                f"{exc}; the order outcome is unknown until checked by cloid", cloids
            ) from exc


def _expiring_request(
    signer: Wallet, action: Any, nonce: int, vault: str | None, expires_after_ms: int, is_mainnet: bool
) -> Any:
    """The ``/exchange`` body of ``signed_request`` with ``expiresAfter`` (Unix ms) signed in: the L1
    hash covers it (``‖ 0x00 ‖ expiresAfter u64be``), as the SDK's ``sign_l1_action`` computes it."""
    vault = vault.lower() if vault else None
    return {
        "action": action,
        "nonce": nonce,
        "signature": sign_action(
            signer, action, nonce, vault=vault, is_mainnet=is_mainnet, expires_after=int(expires_after_ms)
        ),
        "vaultAddress": vault,
        "expiresAfter": int(expires_after_ms),
    }


def _describe_batch(orders: Sequence[OrderRequest]) -> str:
    shown = ", ".join(o.describe() for o in orders[:3])
    more = f", +{len(orders) - 3} more" if len(orders) > 3 else ""
    return f"/exchange order [{shown}{more}]"
