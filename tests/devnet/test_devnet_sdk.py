"""The official SDK against the devnet: reads, signed buys (direct and via an agent), rejections."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.signing import Cloid

from dcactl.devnet.control import DevnetThread


def test_spot_meta_shape_like_mainnet(info: Info) -> None:
    """spotMeta: USDC token 0, PURR/USDC pair 0, ≥ 20 USDC pairs named @N, pair ≠ token indices."""
    meta = info.spot_meta()
    tokens = {t["name"]: t for t in meta["tokens"]}
    assert meta["tokens"][0]["name"] == "USDC"
    assert all(t["index"] == i for i, t in enumerate(meta["tokens"]))
    assert meta["universe"][0]["name"] == "PURR/USDC" and meta["universe"][0]["tokens"] == [
        tokens["PURR"]["index"],
        0,
    ]
    usdc_pairs = [p for p in meta["universe"] if p["tokens"][1] == 0]
    assert len(usdc_pairs) >= 20
    assert all(p["name"] == f"@{p['index']}" for p in meta["universe"][1:])
    assert {"UBTC", "UETH", "USOL", "HYPE"} <= set(tokens) and not {"AVAX", "LINK"} & set(tokens)
    assert (tokens["UBTC"]["szDecimals"], tokens["UETH"]["szDecimals"], tokens["HYPE"]["szDecimals"]) == (
        5,
        4,
        2,
    )
    by_base = {p["tokens"][0]: p for p in usdc_pairs}
    idx = [by_base[tokens[n]["index"]]["index"] for n in ("UBTC", "UETH", "USOL")]
    assert all(
        by_base[tokens[n]["index"]]["index"] != tokens[n]["index"] for n in ("UBTC", "UETH", "USOL", "HYPE")
    )
    assert idx[1] - idx[0] > 1 and idx[2] - idx[1] > 1
    assert info.name_to_asset("UBTC/USDC") == 10_000 + by_base[tokens["UBTC"]["index"]]["index"]
    assert any(p["tokens"][1] != 0 for p in meta["universe"])  # a non-USDC quote exists


def test_ctxs_keyed_by_coin_not_position(info: Info) -> None:
    """spotMetaAndAssetCtxs: ctxs carry `coin`, are not parallel to the universe, include extras."""
    meta, ctxs = info.spot_meta_and_asset_ctxs()
    names = [p["name"] for p in meta["universe"]]
    assert [c["coin"] for c in ctxs[: len(names)]] != names
    assert set(names) < {c["coin"] for c in ctxs}
    mids = info.all_mids()
    by_coin = {c["coin"]: c for c in ctxs}
    assert by_coin["@142"]["midPx"] == mids["@142"]


def test_realistic_levels_and_book(info: Info) -> None:
    """allMids levels are realistic and l2Book has several levels around the mid; unknown coin → null."""
    mids = {k: Decimal(v) for k, v in info.all_mids().items()}
    assert 70_000 < mids["@142"] < 140_000 and 2_000 < mids["@151"] < 5_000 and 90 < mids["@156"] < 300
    book = info.l2_snapshot("@142")
    bids, asks = book["levels"]
    assert len(bids) >= 5 and len(asks) >= 5
    assert Decimal(bids[0]["px"]) < mids["@142"] < Decimal(asks[0]["px"])
    assert [Decimal(a["px"]) for a in asks] == sorted(Decimal(a["px"]) for a in asks)
    assert info.post("/info", {"type": "l2Book", "coin": "@4242"}) is None


def test_candles_via_sdk(info: Info) -> None:
    """candles_snapshot by pair name returns daily candles whose last one is in progress now."""
    now = int(time.time() * 1000)
    candles = info.candles_snapshot("UETH/USDC", "1d", now - 30 * 86_400_000, now)
    assert 30 <= len(candles) <= 31
    assert all(c["s"] == "@151" and c["i"] == "1d" for c in candles)
    assert candles[-1]["t"] <= now <= candles[-1]["T"]
    assert all(Decimal(c["l"]) <= min(Decimal(c["o"]), Decimal(c["c"])) for c in candles)


def _buy(ex: Exchange, info: Info, coin: str, usd: Decimal, cloid: Cloid | None = None) -> dict:
    mid = Decimal(info.all_mids()[info.name_to_coin[coin]])
    px = float(f"{float(mid * Decimal('1.01')):.5g}")
    sz = round(float(usd / mid), info.asset_to_sz_decimals[info.name_to_asset(coin)])
    return ex.order(coin, True, sz, px, {"limit": {"tif": "Ioc"}}, cloid=cloid)


def test_ioc_buy_fill_and_order_status(
    dn: DevnetThread, info: Info, exchange: Exchange, wallet: LocalAccount
) -> None:
    """A signed SDK IOC buy fills; the fill comes back by time and the order by cloid; fee in UETH."""
    cloid = Cloid.from_int(7)
    t0 = int(time.time() * 1000) - 1
    res = _buy(exchange, info, "UETH/USDC", Decimal(100), cloid)
    assert res["status"] == "ok"
    filled = res["response"]["data"]["statuses"][0]["filled"]
    fills = info.user_fills_by_time(wallet.address, t0)
    assert len(fills) == 1 and fills[0]["oid"] == filled["oid"] and fills[0]["cloid"] == cloid.to_raw()
    f = fills[0]
    assert f["feeToken"] == "UETH" and f["dir"] == "Buy" and f["side"] == "B" and f["crossed"] is True
    assert Decimal(f["fee"]) == (Decimal(f["sz"]) * Decimal("0.0007")).quantize(Decimal("1e-9"))
    st = info.query_order_by_cloid(wallet.address, cloid)
    assert (
        st["status"] == "order"
        and st["order"]["status"] == "filled"
        and st["order"]["order"]["oid"] == filled["oid"]
    )
    bal = {b["coin"]: Decimal(b["total"]) for b in info.spot_user_state(wallet.address)["balances"]}
    assert bal["USDC"] == Decimal(10_000) - Decimal(f["px"]) * Decimal(f["sz"])
    assert bal["UETH"] == Decimal(f["sz"]) - Decimal(f["fee"])
    log = dn.admin.orders()
    assert log[-1]["signer"] == wallet.address.lower() and log[-1]["cloid"] == cloid.to_raw()
    assert info.query_order_by_oid(wallet.address, 12345) == {"status": "unknownOid"}


def test_agent_buys_for_master(
    dn: DevnetThread, info: Info, exchange: Exchange, wallet: LocalAccount
) -> None:
    """approve_agent lets an API wallet trade for the master; userRole and the log say so."""
    res, key = exchange.approve_agent("bot")
    assert res["status"] == "ok"
    agent = Account.from_key(key)
    assert info.user_role(agent.address) == {"role": "agent", "data": {"user": wallet.address.lower()}}
    assert info.user_role(wallet.address) == {"role": "user"}
    assert info.user_role(Account.create().address) == {"role": "missing"}
    assert info.extra_agents(wallet.address)[0]["address"] == agent.address.lower()
    ax = Exchange(agent, base_url=dn.url, account_address=wallet.address)
    try:
        res = _buy(ax, info, "HYPE/USDC", Decimal(50))
    finally:
        ax.session.close()
        ax.info.session.close()
    assert "filled" in res["response"]["data"]["statuses"][0]
    assert info.user_fills(wallet.address)[0]["coin"] == "@107"
    assert info.user_fills(agent.address) == []
    entry = dn.admin.orders()[-1]
    assert entry["signer"] == agent.address.lower() and entry["user"] == wallet.address.lower()


def test_agent_approved_until_an_instant_expires(
    dn: DevnetThread, info: Info, exchange: Exchange, wallet: LocalAccount
) -> None:
    """A name "bot valid_until T" approves agent "bot" until T: extraAgents lists it with validUntil
    T, it trades before T, and from T on the exchange no longer knows it."""
    now = dn.admin.time()
    until = now + 3_600_000
    res, key = exchange.approve_agent(f"bot valid_until {until}")
    assert res["status"] == "ok"
    agent = Account.from_key(key)
    assert info.extra_agents(wallet.address) == [
        {"name": "bot", "address": agent.address.lower(), "validUntil": until}
    ]
    ax = Exchange(agent, base_url=dn.url, account_address=wallet.address)
    try:
        assert "filled" in _buy(ax, info, "HYPE/USDC", Decimal(20))["response"]["data"]["statuses"][0]
        dn.admin.set_clock(until)
        late = _buy(ax, info, "HYPE/USDC", Decimal(20))
    finally:
        dn.admin.set_clock(None)
        ax.session.close()
        ax.info.session.close()
    assert late == {"status": "err",
                    "response": f"L1 error: User or API Wallet {agent.address.lower()} does not exist."}


def test_replayed_nonce_rejected(info: Info, exchange: Exchange) -> None:
    """The same signed action sent twice: the second is refused for its nonce."""
    from hyperliquid.utils.signing import (
        get_timestamp_ms,
        order_request_to_order_wire,
        order_wires_to_order_action,
    )

    mid = Decimal(info.all_mids()["@142"])
    wire = order_request_to_order_wire(
        {
            "coin": "@142",
            "is_buy": True,
            "sz": 0.0002,
            "limit_px": float(round(mid * Decimal("1.01"))),
            "order_type": {"limit": {"tif": "Ioc"}},
            "reduce_only": False,
        },
        10142,
    )
    action = order_wires_to_order_action([wire])
    nonce = get_timestamp_ms()
    from hyperliquid.utils.signing import sign_l1_action

    sig = sign_l1_action(exchange.wallet, action, None, nonce, None, False)
    first = exchange.post(
        "/exchange", {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
    )
    second = exchange.post(
        "/exchange", {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
    )
    assert first["status"] == "ok"
    assert second["status"] == "err" and second["response"].startswith("Invalid nonce: duplicate nonce ")


def test_bad_signature_rejected(dn: DevnetThread, info: Info, exchange: Exchange) -> None:
    """A tampered signature recovers some other address, which does not exist."""
    from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

    action = {
        "type": "order",
        "orders": [
            {"a": 10142, "b": True, "p": "200000", "s": "0.001", "r": False, "t": {"limit": {"tif": "Ioc"}}}
        ],
        "grouping": "na",
    }
    nonce = get_timestamp_ms()
    sig = sign_l1_action(exchange.wallet, action, None, nonce, None, False)
    sig["s"] = hex(int(sig["s"], 16) ^ 0xFFFF)
    res = exchange.post(
        "/exchange", {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
    )
    assert res["status"] == "err"
    assert res["response"].startswith("L1 error: User or API Wallet 0x") and res["response"].endswith(
        " does not exist."
    )
    assert exchange.wallet.address.lower() not in res["response"]
    assert dn.admin.orders() == []


def test_mainnet_signature_rejected(exchange: Exchange) -> None:
    """An action signed as mainnet (source "a") does not verify on the devnet (testnet)."""
    from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

    action = {"type": "noop"}
    nonce = get_timestamp_ms()
    sig = sign_l1_action(exchange.wallet, action, None, nonce, None, True)
    res = exchange.post(
        "/exchange", {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None}
    )
    assert res["status"] == "err" and "does not exist" in res["response"]


@pytest.mark.parametrize(
    ("coin", "sz", "px", "error"),
    [
        # measured at the first ask that crosses (~100 000), not the limit: 0.00009 × 1e5 = 9 USDC
        ("@142", 0.00009, 115000.0, "Order must have minimum value of 10 USDC. asset=10142"),
        # a limit below the book: "no crossing liquidity" wins over the minimum
        ("@142", 0.0001, 96000.0,
         "Order could not immediately match against any resting orders. asset=10142"),
        # outside 0.2 × – 5 × the mark
        ("@142", 0.001, 19000.0, "Order price too far from oracle. asset=10142"),
        ("@151", 0.01, 3250.55, "Price must be divisible by tick size. asset=10151"),
        ("@107", 1.0, 36.12345, "Price must be divisible by tick size. asset=10107"),
        ("@142", 0.000001, 96000.0, "Order has invalid size."),
    ],
)
def test_order_rejections_real_texts(exchange: Exchange, coin: str, sz: float, px: float, error: str) -> None:
    """Under-minimum, over-precise price (5 sig figs / decimals) and bad size: the real texts."""
    res = exchange.order(coin, True, sz, px, {"limit": {"tif": "Ioc"}})
    assert res["status"] == "ok"
    assert res["response"]["data"]["statuses"] == [{"error": error}]
