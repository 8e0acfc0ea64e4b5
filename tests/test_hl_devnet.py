"""HyperliquidClient against the real devnet: reads, a batched IOC buy read position by position, agents."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from support import approve_agent

from dcactl.devnet.control import DevnetThread
from dcactl.market.resolve import ctx_by_coin, resolve_markets
from dcactl.models import Market, make_cloid, to_ms, utcnow
from dcactl.venues.base import OrderOutcomeUnknown, OrderRequest
from dcactl.venues.hyperliquid import HyperliquidClient
from dcactl.venues.rounding import floor_size, round_price


@pytest.fixture
def dn() -> Iterator[DevnetThread]:
    """A fresh devnet (seed 11, rate limit off) on a free loopback port."""
    with DevnetThread(seed=11) as d:
        yield d


@pytest.fixture
def wallet(dn: DevnetThread) -> LocalAccount:
    """A throwaway master key funded with 1000 USDC."""
    w: LocalAccount = Account.create()
    dn.admin.fund(w.address, usdc="1000")
    return w


def client(dn: DevnetThread) -> HyperliquidClient:
    return HyperliquidClient(dn.url, False, 10)


def markets(meta: Any, *symbols: str) -> dict[str, Market]:
    resolved = resolve_markets([(s, "hyperliquid", None, None) for s in symbols], meta)
    out = {}
    for s, m in resolved.items():
        assert isinstance(m, Market), m
        out[s] = m
    return out


def buy(market: Market, mid: Decimal, usd: Decimal, attempt: int = 0) -> OrderRequest:
    """An IOC buy of ``usd`` USDC at mid + 2 %, rounded by the exchange rules."""
    px = round_price(mid * Decimal("1.02"), market.sz_decimals, up=True)
    size = floor_size(usd / px, market.sz_decimals)
    cloid = make_cloid("devnet", "test", market.symbol, "2026-01-01T00:00:00Z", attempt)
    return OrderRequest(market.asset_id or 0, True, px, size, cloid, label=market.symbol)


def test_reads_meta_mids_book_candles_and_ctxs(dn: DevnetThread) -> None:
    """spotMeta resolves BTC/ETH/SOL; mids, a book with asks above bids, daily candles and ctxs by coin."""

    async def go() -> None:
        async with client(dn) as hl:
            meta = await hl.spot_meta()
            btc = markets(meta, "BTC", "ETH", "SOL")["BTC"]
            assert btc.coin and btc.coin.startswith("@") and btc.asset_id == 10000 + int(btc.coin[1:])
            mids = await hl.all_mids()
            book = await hl.l2_book(btc.coin)
            assert book is not None and book.bids and book.asks
            assert book.bids[0].px < mids[btc.coin] < book.asks[0].px
            now = to_ms(utcnow())
            candles = await hl.candles(btc.coin, "1d", now - 10 * 86_400_000, now)
            assert 9 <= len(candles) <= 11
            assert [c["t"] for c in candles] == sorted(c["t"] for c in candles)
            full_meta, ctxs = await hl.spot_meta_and_ctxs()
            assert ctx_by_coin((full_meta, ctxs))[btc.coin]["coin"] == btc.coin
            assert await hl.l2_book("@999999") is None

    asyncio.run(go())


def test_batched_ioc_buy_outcomes_by_position(dn: DevnetThread, wallet: LocalAccount) -> None:
    """One action of three buys: BTC and ETH fill, SOL under 10 USDC gets its own error; one nonce."""

    async def go() -> None:
        async with client(dn) as hl:
            meta = await hl.spot_meta()
            m = markets(meta, "BTC", "ETH", "SOL")
            mids = await hl.all_mids()
            orders = [buy(m["BTC"], mids[m["BTC"].coin or ""], Decimal(25)),
                      buy(m["ETH"], mids[m["ETH"].coin or ""], Decimal(30)),
                      buy(m["SOL"], mids[m["SOL"].coin or ""], Decimal(5))]
            outcomes = await hl.place_orders(wallet, orders)
            btc, eth, sol = outcomes
            assert btc.kind == eth.kind == "filled", outcomes
            assert btc.total_sz == orders[0].size and eth.total_sz == orders[1].size
            assert btc.avg_px is not None and btc.avg_px <= orders[0].price
            assert (sol.kind, sol.error_kind) == ("error", "min_notional"), sol
            status = await hl.order_status(wallet.address, orders[0].cloid or "")
            assert (status.known, status.status, status.oid) == (True, "filled", btc.oid)
            rejected = await hl.order_status(wallet.address, orders[2].cloid or "")
            assert rejected.known is False  # a refused order gets no order id (§7)
            never_sent = await hl.order_status(wallet.address, "0x" + "0" * 32)
            assert never_sent.known is False
            fills = await hl.user_fills_by_time(wallet.address, to_ms(utcnow()) - 60_000)
            assert {f["oid"] for f in fills} == {btc.oid, eth.oid}
            balances = await hl.spot_balances(wallet.address)
            assert balances["USDC"].total < Decimal(1000 - 50)
            assert balances[m["BTC"].base_token or ""].total > 0

    asyncio.run(go())
    log = dn.admin.orders(user=wallet.address.lower())
    assert [o["cloid"] for o in log] == [make_cloid("devnet", "test", s, "2026-01-01T00:00:00Z", 0)
                                         for s in ("BTC", "ETH", "SOL")]
    assert len({o["nonce"] for o in log}) == 1


def test_agent_signs_for_the_master(dn: DevnetThread, wallet: LocalAccount) -> None:
    """An API wallet approved by the master places dcactl's order; queries use the master address."""
    agent = approve_agent(dn.url, wallet)

    async def go() -> None:
        async with client(dn) as hl:
            role = await hl.user_role(agent.address)
            assert role["role"] == "agent" and role.get("data", {}).get("user") == wallet.address.lower()
            agents = await hl.extra_agents(wallet.address)
            assert [a.address for a in agents] == [agent.address.lower()]
            meta = await hl.spot_meta()
            eth = markets(meta, "ETH")["ETH"]
            mids = await hl.all_mids()
            [outcome] = await hl.place_orders(agent, [buy(eth, mids[eth.coin or ""], Decimal(20))])
            assert outcome.kind == "filled"
            status = await hl.order_status(wallet.address, outcome.oid or 0)
            assert status.status == "filled"

    asyncio.run(go())


def test_unfunded_signer_is_refused_for_the_whole_action(dn: DevnetThread) -> None:
    """A key the exchange does not know gets {"status":"err"}: no verdict by itself (a proxy could answer
    so too), OrderOutcomeUnknown with the exchange's text as the refusal; the cloid is unknown."""
    stranger = Account.create()

    async def go() -> None:
        async with client(dn) as hl:
            meta = await hl.spot_meta()
            eth = markets(meta, "ETH")["ETH"]
            mids = await hl.all_mids()
            order = buy(eth, mids[eth.coin or ""], Decimal(20))
            with pytest.raises(OrderOutcomeUnknown) as info:
                await hl.place_orders(stranger, [order])
            assert info.value.refusal is not None and "does not exist" in info.value.refusal
            assert not (await hl.order_status(stranger.address, order.cloid or "")).known

    asyncio.run(go())


def test_dropped_response_is_unknown_and_resolved_by_cloid(dn: DevnetThread, wallet: LocalAccount) -> None:
    """The devnet accepts the order then drops the reply: OrderOutcomeUnknown; orderStatus finds it."""

    async def go() -> None:
        async with client(dn) as hl:
            meta = await hl.spot_meta()
            eth = markets(meta, "ETH")["ETH"]
            mids = await hl.all_mids()
            order = buy(eth, mids[eth.coin or ""], Decimal(20))
            dn.admin.faults(kind="drop", path="/exchange", count=1)
            with pytest.raises(OrderOutcomeUnknown) as info:
                await hl.place_orders(wallet, [order])
            assert info.value.cloids == (order.cloid,)
            status = await hl.order_status(wallet.address, order.cloid or "")
            assert (status.known, status.status) == (True, "filled")

    asyncio.run(go())
    assert len(dn.admin.orders(user=wallet.address.lower())) == 1
