"""HyperliquidClient against respx: request bodies, typed answers, weights, and the /exchange error table."""

from __future__ import annotations

import asyncio
import json
import traceback
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from eth_account import Account

from dcactl.errors import ExchangeUnavailable, InsufficientBalance, OrderRejected, RateLimited
from dcactl.http import MAX_ATTEMPTS, WeightBudget
from dcactl.venues.base import Book, OrderOutcome, OrderOutcomeUnknown, OrderRequest
from dcactl.venues.hyperliquid import HyperliquidClient, info_weight

URL = "http://hl.test"
FIXTURES = Path(__file__).parent / "fixtures" / "hl"
KEY = "0x" + "4c" * 32
USER = "0x" + "AB" * 20
CLOIDS = ["0x" + f"{i:032x}" for i in (1, 2, 3)]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def client(budget: WeightBudget | None = None) -> HyperliquidClient:
    async def no_sleep(_: float) -> None:
        return None

    return HyperliquidClient(URL, False, 5, budget=budget, sleep=no_sleep)


def read(
    answer: Any, call: Any, *, budget: WeightBudget | None = None, **respond: Any
) -> tuple[Any, dict[str, Any]]:
    """Run ``call(client)`` against an /info that answers ``answer``; returns (result, request body)."""

    async def go() -> tuple[Any, dict[str, Any]]:
        with respx.mock(base_url=URL) as router:
            route = router.post("/info").respond(200, text=json.dumps(answer), **respond)
            async with client(budget) as hl:
                result = await call(hl)
            return result, json.loads(route.calls.last.request.content)

    return asyncio.run(go())


# ------------------------------------------------------------------------------------------ reads
def test_spot_meta_is_returned_with_unknown_fields() -> None:
    """spotMeta is sent as {"type":"spotMeta"} and returned as the payload (extra fields kept)."""
    meta, body = read(fixture("spot_meta.json"), lambda hl: hl.spot_meta())
    assert body == {"type": "spotMeta"}
    assert meta["universe"][3]["name"] == "@142" and "aNewTopLevelField" in meta


def test_spot_meta_and_ctxs_splits_the_pair() -> None:
    """spotMetaAndAssetCtxs → (meta, ctxs) without reordering anything."""
    answer = [fixture("spot_meta.json"), fixture("spot_meta_and_ctxs_ctxs.json")]
    (meta, ctxs), body = read(answer, lambda hl: hl.spot_meta_and_ctxs())
    assert body == {"type": "spotMetaAndAssetCtxs"}
    assert meta["tokens"][0]["name"] == "USDC" and ctxs[0]["coin"] == "@151"


def test_all_mids_are_exact_decimals() -> None:
    """allMids strings become Decimals (no float anywhere)."""
    mids, body = read({"@142": "97000.5", "PURR/USDC": "0.20935", "BTC": "97001"}, lambda hl: hl.all_mids())
    assert body == {"type": "allMids", "dex": ""}
    assert mids == {"@142": Decimal("97000.5"), "PURR/USDC": Decimal("0.20935"), "BTC": Decimal("97001")}


def test_l2_book_levels_are_typed_best_first() -> None:
    """l2Book → Book with Decimal levels; bids[0]/asks[0] are the best; mid is their average."""
    book, body = read(fixture("l2_book.json"), lambda hl: hl.l2_book("@142"))
    assert body == {"type": "l2Book", "coin": "@142"}
    assert isinstance(book, Book)
    assert (book.bids[0].px, book.asks[0].px, book.asks[1].sz) == (
        Decimal("96990"), Decimal("97010"), Decimal("0.30001"))
    assert book.mid == Decimal("97000")
    assert book.time == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)


def test_l2_book_of_an_unknown_market_is_none() -> None:
    """A null l2Book answer (no such market) is None, not an error."""
    book, _ = read(None, lambda hl: hl.l2_book("@99999"))
    assert book is None


def test_candles_request_shape_order_and_extra_weight() -> None:
    """candleSnapshot sends req{coin,interval,startTime,endTime}, returns oldest first, charges +1/60."""
    budget = WeightBudget(10_000)
    candles = fixture("candles.json") * 60  # 120 candles → 20 + 2 weight
    result, body = read(candles, lambda hl: hl.candles("@142", "1d", 1, 2), budget=budget)
    assert body == {"type": "candleSnapshot",
                    "req": {"coin": "@142", "interval": "1d", "startTime": 1, "endTime": 2}}
    assert [c["t"] for c in result[:2]] == [1763856000000, 1763856000000]
    assert result[-1]["t"] == 1763942400000
    assert budget.used() == 22


def test_spot_balances_total_hold_available() -> None:
    """spotClearinghouseState → token name → Balance; available = total − hold."""
    balances, body = read(fixture("spot_clearinghouse.json"), lambda hl: hl.spot_balances(USER))
    assert body == {"type": "spotClearinghouseState", "user": USER.lower()}
    usdc = balances["USDC"]
    assert (usdc.total, usdc.hold, usdc.available) == (
        Decimal("1014.625485"), Decimal("12.5"), Decimal("1002.125485"))
    assert balances["UBTC"].token == 3


def test_perp_balance_reads_withdrawable() -> None:
    """clearinghouseState's withdrawable is the USDC doctor can suggest moving to spot."""
    value, body = read({"withdrawable": "250.75", "marginSummary": {}}, lambda hl: hl.perp_balance(USER))
    assert body == {"type": "clearinghouseState", "user": USER.lower(), "dex": ""}
    assert value == Decimal("250.75")


def test_order_status_by_cloid_filled() -> None:
    """orderStatus by cloid puts the cloid in "oid" and reads status, oid, sizes and time."""
    cloid = "0x0123456789ABCDEF0123456789ABCDEF"
    status, body = read(fixture("order_status_filled.json"), lambda hl: hl.order_status(USER, cloid))
    assert body == {"type": "orderStatus", "user": USER.lower(), "oid": cloid.lower()}
    assert (status.known, status.status, status.oid, status.finished) == (True, "filled", 4242, True)
    assert (status.orig_sz, status.remaining_sz, status.filled_sz) == (
        Decimal("0.00103"), Decimal("0.0"), Decimal("0.00103"))
    assert status.cloid == cloid.lower() and status.tif == "Ioc"


def test_order_status_unknown_oid() -> None:
    """{"status":"unknownOid"} is known=False (the order never reached the exchange)."""
    status, body = read({"status": "unknownOid"}, lambda hl: hl.order_status(USER, 77))
    assert body["oid"] == 77
    assert (status.known, status.status, status.finished) == (False, None, False)


def test_user_fills_by_time_body_and_extra_weight() -> None:
    """userFillsByTime sends endTime null and aggregateByTime false; 40 fills charge 20 + 2."""
    budget = WeightBudget(10_000)
    fills = fixture("user_fills.json") * 20
    result, body = read(fills, lambda hl: hl.user_fills_by_time(USER, 1764000000000), budget=budget)
    assert body == {"type": "userFillsByTime", "user": USER.lower(), "startTime": 1764000000000,
                    "endTime": None, "aggregateByTime": False}
    assert len(result) == 40 and result[1]["tid"] == 900002
    assert budget.used() == 22


def test_user_role_extra_agents_open_orders() -> None:
    """userRole (weight 60), extraAgents (expiry as UTC datetime) and openOrders read as documented."""
    role, body = read({"role": "agent", "data": {"user": USER.lower()}}, lambda hl: hl.user_role(USER))
    assert body == {"type": "userRole", "user": USER.lower()} and role["role"] == "agent"
    agents, _ = read([{"name": "bot", "address": "0x" + "CD" * 20, "validUntil": 1764000000000}],
                     lambda hl: hl.extra_agents(USER))
    assert agents[0].address == "0x" + "cd" * 20
    assert agents[0].valid_until == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    orders, body = read([{"coin": "@142", "limitPx": "1", "oid": 1, "side": "B", "sz": "1", "timestamp": 1}],
                        lambda hl: hl.open_orders(USER))
    assert body["dex"] == "" and orders[0]["oid"] == 1
    assert info_weight("userRole") == 60 and info_weight("spotMeta") == 20 and info_weight("l2Book") == 2


def test_probe_reports_server_clock() -> None:
    """probe() reads the Date header so doctor can measure clock skew."""
    probe, _ = read({}, lambda hl: hl.probe(), headers={"Date": "Tue, 24 Nov 2026 08:00:00 GMT"})
    assert probe.server_time == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert probe.latency_s >= 0


@pytest.mark.parametrize(
    ("answer", "call"),
    [
        ([1, 2], lambda hl: hl.spot_meta()),
        ({"@1": 1.5}, lambda hl: hl.all_mids()),  # a float-looking mid parsed as Decimal is fine; "x" is not
        ({"@1": "x"}, lambda hl: hl.all_mids()),
        ({"levels": []}, lambda hl: hl.l2_book("@1")),
        ({"status": "weird"}, lambda hl: hl.order_status(USER, 1)),
        ({"fills": []}, lambda hl: hl.user_fills_by_time(USER, 0)),
    ],
)
def test_malformed_answers_become_exchange_unavailable(answer: Any, call: Any) -> None:
    """An answer of the wrong shape raises ExchangeUnavailable naming the request, never a KeyError."""
    if answer == {"@1": 1.5}:
        mids, _ = read(answer, call)
        assert mids == {"@1": Decimal("1.5")}
        return
    with pytest.raises(ExchangeUnavailable, match="Hyperliquid /info"):
        read(answer, call)


def test_reads_retry_then_raise_rate_limited() -> None:
    """Three 429s on a read: RateLimited after MAX_ATTEMPTS requests."""

    async def go() -> int:
        with respx.mock(base_url=URL) as router:
            route = router.post("/info").respond(429)
            async with client() as hl:
                with pytest.raises(RateLimited, match="l2Book @142"):
                    await hl.l2_book("@142")
            return route.call_count

    assert asyncio.run(go()) == MAX_ATTEMPTS


# ----------------------------------------------------------------------------------------- orders
def orders(n: int = 3) -> list[OrderRequest]:
    specs = [("101850", "0.0001", 10142, "BTC"), ("3600", "0.0031", 10151, "ETH"),
             ("0.21977", "50", 10000, "PURR")]
    return [OrderRequest(asset_id=a, is_buy=True, price=Decimal(px), size=Decimal(sz), cloid=CLOIDS[i],
                         label=lb) for i, (px, sz, a, lb) in enumerate(specs[:n])]


def place(effect: Any, n: int = 3) -> tuple[list[OrderOutcome] | BaseException, int, dict[str, Any] | None]:
    """place_orders against an /exchange that answers ``effect`` (JSON, Response or exception)."""

    async def go() -> tuple[Any, int, Any]:
        with respx.mock(base_url=URL) as router:
            route = router.post("/exchange")
            if isinstance(effect, httpx.Response):
                route.mock(return_value=effect)
            elif isinstance(effect, type) and issubclass(effect, Exception):
                route.mock(side_effect=effect)
            else:
                route.mock(return_value=httpx.Response(200, json=effect))
            async with client() as hl:
                try:
                    result: Any = await hl.place_orders(Account.from_key(KEY), orders(n))
                except Exception as exc:
                    result = exc
            body = json.loads(route.calls.last.request.content) if route.calls else None
            return result, route.call_count, body

    return asyncio.run(go())


def ok(*statuses: Any) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": list(statuses)}}}


def test_batch_is_one_signed_action_with_outcomes_read_by_position() -> None:
    """Three orders → one POST (one nonce); filled, resting and error outcomes land on their orders."""
    answer = ok({"filled": {"totalSz": "0.0001", "avgPx": "97010", "oid": 11, "cloid": CLOIDS[0]}},
                {"resting": {"oid": 12}},
                {"error": "Order must have minimum value of 10 USDC. asset=10000"})
    outcomes, calls, body = place(answer)
    assert calls == 1 and body is not None
    assert [o["c"] for o in body["action"]["orders"]] == CLOIDS
    assert body["action"]["grouping"] == "na" and isinstance(body["nonce"], int)
    assert body["vaultAddress"] is None and body["expiresAfter"] is None
    assert isinstance(outcomes, list)
    filled, resting, error = outcomes
    assert (filled.kind, filled.oid, filled.total_sz, filled.avg_px) == ("filled", 11, Decimal("0.0001"),
                                                                         Decimal("97010"))
    assert (resting.kind, resting.oid, resting.cloid) == ("resting", 12, CLOIDS[1])
    assert (error.kind, error.error_kind, error.oid) == ("error", "min_notional", None)
    assert isinstance(error.exception(orders()[2]), OrderRejected)
    assert "PURR buy 50 @ 0.21977" in str(error.exception(orders()[2]))


def test_signature_recovers_to_the_signer_as_testnet() -> None:
    """The posted action verifies (phantom agent "b") to the signer's address."""
    from hyperliquid.utils.signing import recover_agent_or_user_from_l1_action

    _, _, body = place(ok({"resting": {"oid": 1}}), n=1)
    assert body is not None
    signer = recover_agent_or_user_from_l1_action(
        body["action"], body["signature"], None, body["nonce"], None, False)
    assert signer.lower() == Account.from_key(KEY).address.lower()


EXCHANGE_TABLE = [
    # (name, effect, expected type)
    ("read timeout", httpx.ReadTimeout, OrderOutcomeUnknown),
    ("dropped connection", httpx.RemoteProtocolError, OrderOutcomeUnknown),
    ("connect error", httpx.ConnectError, OrderOutcomeUnknown),
    ("429", httpx.Response(429), OrderOutcomeUnknown),
    ("500", httpx.Response(500, text="internal"), OrderOutcomeUnknown),
    ("502", httpx.Response(502, text="bad gateway"), OrderOutcomeUnknown),
    ("non-JSON 200", httpx.Response(200, text="<html>oops</html>"), OrderOutcomeUnknown),
    ("ok with too few statuses", ok({"resting": {"oid": 1}}), OrderOutcomeUnknown),
    ("ok with an unknown status", ok({"resting": {"oid": 1}}, "waitingForFill", {"error": "x"}),
     OrderOutcomeUnknown),
    # a refusal of the whole action is no verdict either (a proxy can answer so after the order went
    # through): unknown, with the refusal's text kept for the verdict once the cloid is checked
    ("422", httpx.Response(422, text="Failed to deserialize the JSON body into the target type"),
     OrderOutcomeUnknown),
    ("403 from a proxy", httpx.Response(403, text="Forbidden"), OrderOutcomeUnknown),
    ("status err", {"status": "err", "response": "L1 error: User or API Wallet 0xabc does not exist."},
     OrderOutcomeUnknown),
    ("status err insufficient", {"status": "err", "response": "Insufficient spot balance"},
     OrderOutcomeUnknown),
]
REFUSALS = {"422": "HTTP 422", "403 from a proxy": "HTTP 403", "status err": "does not exist",
            "status err insufficient": "Insufficient spot balance"}


@pytest.mark.parametrize(("name", "effect", "expected"), EXCHANGE_TABLE, ids=[r[0] for r in EXCHANGE_TABLE])
def test_exchange_error_mapping_table(name: str, effect: Any, expected: type[Exception]) -> None:
    """Each /exchange failure → our type after exactly one request (writes are never retried)."""
    result, calls, _ = place(effect)
    assert type(result) is expected, result
    assert calls == 1
    if isinstance(result, OrderOutcomeUnknown):
        assert result.cloids == tuple(CLOIDS)
        assert isinstance(result, ExchangeUnavailable)  # exit 3 family, resolved by cloid
        assert "by cloid" in str(result)
        if name in REFUSALS:
            assert result.refusal is not None and REFUSALS[name] in result.refusal
        else:
            assert result.refusal is None
    assert "/exchange order [BTC buy 0.0001 @ 101850" in str(result)


def test_insufficient_balance_per_order_error_is_typed() -> None:
    """A per-order insufficient-balance text → kind insufficient_balance → InsufficientBalance."""
    answer = ok({"error": "Order has insufficient spot balance to trade"})
    outcomes, _, _ = place(answer, n=1)
    assert isinstance(outcomes, list)
    assert outcomes[0].error_kind == "insufficient_balance"
    assert isinstance(outcomes[0].exception(orders(1)[0]), InsufficientBalance)


def test_ioc_without_match_is_an_error_outcome_of_kind_no_match() -> None:
    """"could not immediately match" is an error outcome the executor treats as unfilled."""
    text = "Order could not immediately match against any resting orders. asset=10142"
    outcomes, _, _ = place(ok({"error": text}), n=1)
    assert isinstance(outcomes, list) and outcomes[0].error_kind == "no_match"


def test_the_key_never_appears_in_errors_or_reprs() -> None:
    """For every failure of the table, the private key is absent from str, repr, args and traceback."""
    needle = KEY[2:].lower()
    for _, effect, _ in EXCHANGE_TABLE:
        result, _, _ = place(effect)
        assert isinstance(result, BaseException)
        text = "".join(traceback.format_exception(result)) + repr(result) + repr(result.args)
        assert needle not in text.lower()
    assert needle not in repr(client()).lower()


def test_cancel_by_cloid_reports_each_cancel() -> None:
    """cancelByCloid: "success" → None, an error object → its text."""

    async def go() -> tuple[list[str | None], dict[str, Any]]:
        answer = {"status": "ok", "response": {"type": "cancel", "data": {"statuses": [
            "success", {"error": "Order was never placed, already canceled, or filled."}]}}}
        with respx.mock(base_url=URL) as router:
            route = router.post("/exchange").respond(200, json=answer)
            async with client() as hl:
                cancels = [(10142, CLOIDS[0]), (10151, CLOIDS[1])]
                result = await hl.cancel_by_cloid(Account.from_key(KEY), cancels)
            return result, json.loads(route.calls.last.request.content)

    result, body = asyncio.run(go())
    assert result == [None, "Order was never placed, already canceled, or filled."]
    assert body["action"] == {"type": "cancelByCloid", "cancels": [{"asset": 10142, "cloid": CLOIDS[0]},
                                                                   {"asset": 10151, "cloid": CLOIDS[1]}]}


def test_exchange_action_pays_its_weight() -> None:
    """An order action of 3 orders charges 1 against the budget (1 + floor(3/40))."""
    budget = WeightBudget(1000)

    async def go() -> None:
        with respx.mock(base_url=URL) as router:
            router.post("/exchange").respond(200, json=ok({"resting": {"oid": 1}}, {"resting": {"oid": 2}},
                                                          {"resting": {"oid": 3}}))
            async with client(budget) as hl:
                await hl.place_orders(Account.from_key(KEY), orders())

    asyncio.run(go())
    assert budget.used() == 1
