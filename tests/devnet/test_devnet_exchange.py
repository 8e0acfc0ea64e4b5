"""/exchange and /info edge cases: balances, resting orders, cancels, nonces, bad input, persistence."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.signing import Cloid, get_timestamp_ms, sign_l1_action

from dcactl.devnet.control import DevnetProcess, DevnetThread
from dcactl.devnet.signing import l1_action_hash, l1_digest, recover

IOC = {"limit": {"tif": "Ioc"}}
GTC = {"limit": {"tif": "Gtc"}}


def _status(res: dict) -> dict:
    return res["response"]["data"]["statuses"][0]


def test_insufficient_balance_and_no_match(dn: DevnetThread, exchange: Exchange, info: Info) -> None:
    """§7's order rules: affordability at execution prices (20 000 USDC of UBTC with 10 000 held fills the
    affordable, lot-aligned part), nothing to sell is refused, a limit below the book finds no match
    (the order's asset id at the end), and a refused order gets no order id (orderStatus: unknownOid)."""
    assert _status(exchange.order("@142", False, 0.001, 50000.0, IOC)) == {
        "error": "Order has insufficient spot balance to trade"
    }
    limit = float(round(Decimal(info.all_mids()["@142"]) * Decimal("1.01")))
    big = _status(exchange.order("@142", True, 0.2, limit, IOC))
    assert "filled" in big, big
    filled = big["filled"]
    spent = Decimal(filled["totalSz"]) * Decimal(filled["avgPx"])
    assert Decimal(filled["totalSz"]) < Decimal("0.2") and Decimal("9900") < spent <= Decimal("10000"), big
    assert Decimal(filled["totalSz"]) == Decimal(filled["totalSz"]).quantize(Decimal("0.00001"))
    cloid = Cloid.from_int(5)
    assert _status(exchange.order("@142", True, 0.001, 30000.0, IOC, cloid=cloid)) == {
        "error": "Order could not immediately match against any resting orders. asset=10142"
    }
    assert dn.admin.orders()[-1]["status"] == "iocCancelRejected"
    assert info.query_order_by_cloid(exchange.wallet.address, cloid) == {"status": "unknownOid"}


def test_gtc_rests_holds_and_cancels(
    dn: DevnetThread, exchange: Exchange, info: Info, wallet: LocalAccount
) -> None:
    """A GTC below the ask rests with a hold of px × sz USDC; cancel and cancelByCloid release it."""
    cloid = Cloid.from_int(77)
    r1 = _status(exchange.order("@142", True, 0.001, 50000.0, GTC))
    r2 = _status(exchange.order("@142", True, 0.002, 50000.0, GTC, cloid=cloid))
    assert "resting" in r1 and r2["resting"]["cloid"] == cloid.to_raw()
    usdc = info.spot_user_state(wallet.address)["balances"][0]
    # integral decimals keep one decimal place, as mainnet writes them (§7)
    assert usdc == {"coin": "USDC", "token": 0, "hold": "150.0", "total": "10000.0", "entryNtl": "0.0"}
    assert [o["oid"] for o in info.open_orders(wallet.address)] == [
        r2["resting"]["oid"],
        r1["resting"]["oid"],
    ]
    fo = info.frontend_open_orders(wallet.address)[0]
    assert fo["tif"] == "Gtc" and fo["orderType"] == "Limit" and fo["cloid"] == cloid.to_raw()
    assert exchange.cancel("@142", r1["resting"]["oid"])["response"]["data"]["statuses"] == ["success"]
    assert exchange.cancel_by_cloid("@142", cloid)["response"]["data"]["statuses"] == ["success"]
    assert exchange.cancel("@142", r1["resting"]["oid"])["response"]["data"]["statuses"] == [
        {"error": "Order was never placed, already canceled, or filled. asset=10142"}
    ]
    assert info.spot_user_state(wallet.address)["balances"][0]["hold"] == "0.0"
    assert info.query_order_by_oid(wallet.address, r1["resting"]["oid"])["order"]["status"] == "canceled"


def test_sell_charges_fee_in_usdc(dn: DevnetThread, exchange: Exchange, wallet: LocalAccount) -> None:
    """A sell fills at the bid and pays 0.07 % of the notional in USDC."""
    dn.admin.fund(wallet.address, token="UBTC", amount="0.01")
    dn.admin.set_clock(dn.admin.time())
    dn.admin.set_price("UBTC", "100000", pin=True)
    res = _status(exchange.order("@142", False, 0.001, 99000.0, IOC))
    assert res["filled"]["avgPx"] == "99970.0"  # 100000 × (1 − 0.0003)
    fill = exchange.info.user_fills(wallet.address)[0]
    assert (fill["side"], fill["dir"], fill["feeToken"], fill["fee"]) == ("A", "Sell", "USDC", "0.069979")
    bal = dn.admin.balances(wallet.address)["balances"]
    assert Decimal(bal["USDC"]) == Decimal("10000") + Decimal("99.97") - Decimal("0.069979")


def test_nonce_rules(dn: DevnetThread, exchange: Exchange) -> None:
    """After 20 higher nonces, a fresh lower one is too small; one more than a day off is refused."""
    now = get_timestamp_ms()
    action = {"type": "noop"}

    def send(nonce: int) -> dict:
        sig = sign_l1_action(exchange.wallet, action, None, nonce, None, False)
        return exchange.post(
            "/exchange", {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
        )

    for i in range(20):
        assert send(now + 100 + i)["status"] == "ok"
    assert send(now + 50)["response"] == f"Invalid nonce: nonce too low {now + 50} < {now + 100}"
    assert send(now + 200)["status"] == "ok"  # new and above the smallest kept
    assert send(now + 200)["response"] == f"Invalid nonce: duplicate nonce {now + 200}"
    ahead, behind = now + 2 * 86_400_000, now - 3 * 86_400_000  # the window: (now − 2 days, now + 1 day)
    assert send(ahead)["response"].startswith(f"Invalid nonce: nonce too high {ahead} > ")
    assert send(behind)["response"].startswith(f"Invalid nonce: nonce too low {behind} < ")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/info", b'{"type": "noSuchType"}'),
        ("/info", b'{"type": "spotClearinghouseState", "user": 42}'),
        ("/info", b'{"type": "candleSnapshot", "req": {"coin": "@142", "interval": "7m", "startTime": 0}}'),
        ("/info", b"[1, 2]"),
        (
            "/exchange",
            b'{"action": {"type": "launchRocket"}, "nonce": 1,'
            b' "signature": {"r": "0x1", "s": "0x1", "v": 27}}',
        ),
        (
            "/exchange",
            b'{"action": {"type": "order", "orders": [{"a": "x"}], "grouping": "na"}, "nonce": 1,'
            b' "signature": {"r": "0x1", "s": "0x1", "v": 27}}',
        ),
        (
            "/exchange",
            b'{"action": {"type": "noop"}, "nonce": "soon", "signature": {"r": "0x1", "s": "0x1", "v": 27}}',
        ),
        (  # a ninth decimal in the size: refused before the signature is recovered (§7)
            "/exchange",
            b'{"action": {"type": "order", "orders": [{"a": 10142, "b": true, "p": "100000",'
            b' "s": "0.000100001", "r": false, "t": {"limit": {"tif": "Ioc"}}}], "grouping": "na"},'
            b' "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}}',
        ),
    ],
)
def test_bad_input_gets_422(http: httpx.Client, path: str, body: bytes) -> None:
    """Malformed JSON, unknown types and wrong field types: HTTP 422 with the real text, no traceback."""
    r = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.text.startswith("Failed to deserialize the JSON body into the target type")
    assert "Traceback" not in r.text


@pytest.mark.parametrize("path", ["/info", "/exchange"])
def test_no_json_or_no_json_content_type_gets_the_real_codes(http: httpx.Client, path: str) -> None:
    """§7: a body that is not JSON → 400 "Failed to parse the request body as JSON"; a missing or other
    Content-Type → 415. (JSON of the wrong shape is 422, above.)"""
    bad = http.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.text.startswith("Failed to parse the request body as JSON")
    typed = http.post(path, content=b'{"type": "allMids"}', headers={"Content-Type": "text/plain"})
    assert typed.status_code == 415 and "Content-Type: application/json" in typed.text


def test_garbage_signature_is_err_not_500(http: httpx.Client) -> None:
    """A signature that cannot be recovered is a {"status":"err"} answer, never a 500."""
    body = {"action": {"type": "noop"}, "nonce": 1, "signature": {"r": "0x0", "s": "0x0", "v": 27}}
    r = http.post("/exchange", json=body)
    assert r.status_code == 200 and r.json()["status"] == "err"
    assert "does not exist" in r.json()["response"]


def test_signing_matches_sdk_with_vault_and_expiry() -> None:
    """Our own L1 hash/digest recovers SDK signatures with a vault address and expiresAfter."""
    w = Account.create()
    action = {
        "type": "order",
        "orders": [
            {
                "a": 10000,
                "b": True,
                "p": "0.00001",
                "s": "12.5",
                "r": False,
                "t": {"limit": {"tif": "Ioc"}},
                "c": "0x" + "00" * 15 + "07",
            }
        ],
        "grouping": "na",
    }
    vault = "0x" + "ab" * 20
    sig = sign_l1_action(w, action, vault, 1_700_000_000_123, 1_700_000_100_000, False)
    digest = l1_digest(l1_action_hash(action, 1_700_000_000_123, vault, 1_700_000_100_000))
    assert recover(digest, sig) == w.address.lower()


def test_coingecko_double(http: httpx.Client) -> None:
    """simple/price answers known ids as numbers (unknown ones absent); market_chart has real shapes."""
    r = http.get(
        "/coingecko/api/v3/simple/price",
        params={
            "ids": "avalanche-2,chainlink,nope",
            "vs_currencies": "usd",
            "include_last_updated_at": "true",
        },
    )
    body = r.json()
    assert set(body) == {"avalanche-2", "chainlink"}
    assert isinstance(body["chainlink"]["usd"], float) and isinstance(
        body["chainlink"]["last_updated_at"], int
    )
    chart = http.get(
        "/coingecko/api/v3/coins/polkadot/market_chart",
        params={"vs_currency": "usd", "days": "30", "interval": "daily"},
    ).json()
    assert set(chart) == {"prices", "market_caps", "total_volumes"}
    days = chart["prices"]
    assert 30 <= len(days) <= 32 and all(t % 86_400_000 == 0 for t, _p in days[:-1])
    assert days[-1][0] % 86_400_000 != 0 or len(days) == 31  # the last point is "now"
    hourly = http.get(
        "/coingecko/api/v3/coins/dogecoin/market_chart", params={"vs_currency": "usd", "days": "2"}
    )
    assert 48 <= len(hourly.json()["prices"]) <= 50
    missing = http.get(
        "/coingecko/api/v3/coins/nope/market_chart", params={"vs_currency": "usd", "days": "2"}
    )
    assert missing.status_code == 404 and missing.json() == {"error": "coin not found"}


def test_request_log_records_info_and_coingecko(dn: DevnetThread, http: httpx.Client) -> None:
    """The request log shows each /info body and CoinGecko query, filterable by type."""
    http.post(
        "/info", json={"type": "candleSnapshot", "req": {"coin": "@142", "interval": "1d", "startTime": 5}}
    )
    http.get("/coingecko/api/v3/simple/price", params={"ids": "ripple", "vs_currencies": "usd"})
    log = dn.admin.requests(type="candleSnapshot")
    assert log[-1]["body"]["req"]["startTime"] == 5
    assert dn.admin.requests(path="/coingecko")[-1]["query"]["ids"] == "ripple"
    dn.admin.clear_requests()
    assert dn.admin.requests() == []


def test_state_survives_restart(tmp_path: Path) -> None:
    """With --state, a SIGTERM-ed and restarted devnet keeps balances (perp USDC too), fills, nonces
    and agents."""
    state = tmp_path / "devnet.sqlite"
    w = Account.create()
    with DevnetProcess(seed=3, state=state, fund={w.address: Decimal(500)}) as p1:
        ex = Exchange(w, base_url=p1.url)
        _resp, agent_key = ex.approve_agent()
        mid = Decimal(ex.info.all_mids()["@107"])
        nonce = get_timestamp_ms()
        action = {
            "type": "order",
            "orders": [
                {
                    "a": 10107,
                    "b": True,
                    "p": f"{float(mid * Decimal('1.02')):.5g}",
                    "s": "1",
                    "r": False,
                    "t": IOC,
                }
            ],
            "grouping": "na",
        }
        sig = sign_l1_action(w, action, None, nonce, None, False)
        envelope = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
        assert "filled" in ex.post("/exchange", envelope)["response"]["data"]["statuses"][0]
        before = ex.info.spot_user_state(w.address)
        p1.admin.fund(w.address, perp_usdc="250.5")
        assert ex.info.user_state(w.address)["withdrawable"] == "250.5"
        ex.session.close()
        ex.info.session.close()
    with DevnetProcess(seed=3, state=state) as p2:
        info = Info(base_url=p2.url, skip_ws=True)
        try:
            assert info.spot_user_state(w.address) == before
            perp = info.user_state(w.address)
            assert perp["withdrawable"] == perp["marginSummary"]["accountValue"] == "250.5"
            assert len(info.user_fills(w.address)) == 1
            assert info.user_role(Account.from_key(agent_key).address)["role"] == "agent"
            replay = info.post("/exchange", envelope)
            assert replay["status"] == "err"
            assert replay["response"].startswith("Invalid nonce: duplicate nonce ")
        finally:
            info.session.close()


def test_process_prints_url_and_stops() -> None:
    """`python -m dcactl.devnet --port 0` prints its URL line and exits 0 on SIGTERM."""
    p = DevnetProcess()
    p.start()
    assert p.url.startswith("http://127.0.0.1:")
    with httpx.Client() as c:
        assert c.get(p.url + "/devnet/health").json()["chain"] == "Testnet"
    assert p.stop() == 0


@pytest.mark.parametrize("clock", ["2026-03-02T00:30:00+00:00", "2026-03-02T23:59:50+00:00",
                                   "2026-03-02T00:00:00+00:00"])
def test_coingecko_daily_chart_at_any_time_of_day(dn: DevnetThread, http: httpx.Client, clock: str) -> None:
    """The daily market_chart answers at 00:30 and 23:59:50 UTC alike (it once failed every day between
    00:00 and 00:59): one point per day at 00:00 UTC, then "now"."""
    from datetime import datetime

    now = int(datetime.fromisoformat(clock).timestamp() * 1000)
    dn.admin.set_clock(now)
    try:
        r = http.get("/coingecko/api/v3/coins/chainlink/market_chart",
                     params={"vs_currency": "usd", "days": "30", "interval": "daily"})
    finally:
        dn.admin.set_clock(None)
    assert r.status_code == 200, r.text
    prices = r.json()["prices"]
    assert prices[-1][0] == now
    days = [t for t, _ in prices[:-1]]
    assert all(t % 86_400_000 == 0 for t in days) and days[-1] <= now
    assert len(days) in (30, 31) and all(p > 0 for _, p in prices)


def test_signatures_are_checked_over_the_canonical_action(
    dn: DevnetThread, http: httpx.Client, wallet: LocalAccount
) -> None:
    """§7: the exchange re-encodes the action before hashing. Signed over the canonical form, an order
    sent with its keys in another order, a zero-padded price and an upper-case cloid is still the
    wallet's; signed over a non-canonical form ("p": "200000.0"), it recovers another address."""
    mid = Decimal(dn.admin.set_price("UBTC", "100000", pin=True))
    px = f"{mid * Decimal('1.01'):.0f}"
    canonical = {"type": "order", "orders": [
        {"a": 10142, "b": True, "p": px, "s": "0.001", "r": False, "t": {"limit": {"tif": "Ioc"}},
         "c": "0x" + "ab" * 16}], "grouping": "na"}
    nonce = get_timestamp_ms()
    signature = sign_l1_action(wallet, canonical, None, nonce, None, False)
    sent = {"grouping": "na", "type": "order", "orders": [
        {"t": {"limit": {"tif": "Ioc"}}, "s": "0.00100", "r": False, "p": f"{px}.0", "b": True, "a": 10142,
         "c": "0x" + "AB" * 16}]}
    ok = http.post("/exchange", json={"action": sent, "nonce": nonce, "signature": signature}).json()
    assert ok["status"] == "ok" and "filled" in ok["response"]["data"]["statuses"][0], ok
    assert dn.admin.orders()[-1]["signer"] == wallet.address.lower()
    padded = {"type": "order", "orders": [
        {"a": 10142, "b": True, "p": f"{px}.0", "s": "0.001", "r": False, "t": {"limit": {"tif": "Ioc"}}}],
        "grouping": "na"}
    wrong = sign_l1_action(wallet, padded, None, nonce + 1, None, False)
    refused = http.post("/exchange", json={"action": padded, "nonce": nonce + 1, "signature": wrong}).json()
    assert refused["status"] == "err" and "does not exist" in refused["response"]
    assert wallet.address.lower() not in refused["response"].lower()


def test_resting_orders_the_price_walks_through_fill_as_maker(
    dn: DevnetThread, exchange: Exchange, info: Info, wallet: LocalAccount
) -> None:
    """A GTC buy resting at 99 000 fills whole, at its limit, once the market falls through it: a maker
    fill (crossed false) with the maker fee 0.04 % in UBTC; with a rebate rate set, the fee is negative."""
    dn.admin.set_price("UBTC", "100000", pin=True)
    rested = _status(exchange.order("@142", True, 0.001, 99000.0, GTC))
    assert "resting" in rested
    dn.admin.set_price("UBTC", "98000", pin=True)  # the asks now start at 98 029.4, below the bid
    (fill,) = info.user_fills(wallet.address)
    assert (fill["px"], fill["sz"], fill["crossed"], fill["fee"], fill["feeToken"]) == (
        "99000.0", "0.001", False, "0.0000004", "UBTC"  # 0.001 × 0.0004
    )
    assert info.open_orders(wallet.address) == []
    assert info.spot_user_state(wallet.address)["balances"][0]["hold"] == "0.0"
    dn.admin.maker_rate(wallet.address, "-0.0001")
    _status(exchange.order("@142", True, 0.001, 97000.0, GTC))
    dn.admin.set_price("UBTC", "96000", pin=True)
    newest = info.user_fills(wallet.address)[0]
    assert (newest["px"], newest["crossed"], newest["fee"]) == ("97000.0", False, "-0.0000001")
