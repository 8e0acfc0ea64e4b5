"""ccxt's hyperliquid exchange trades against the devnet unchanged (only its URLs pointed at it, in its
testnet mode, since the devnet verifies signatures as testnet): it loads the spot markets, reads a
book, buys, and finds the fill and the balance — through the devnet's untidy wire (§7)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account

from dcactl.devnet.control import DevnetThread

ccxt = pytest.importorskip("ccxt", reason="ccxt is a test dependency (pip install -e '.[dev]')")


def test_ccxt_buys_spot_on_the_devnet(dn: DevnetThread) -> None:
    wallet = Account.create()
    dn.admin.fund(wallet.address, usdc="1000")
    dn.admin.set_price("UBTC", "100000", pin=True)
    exchange = ccxt.hyperliquid({
        "walletAddress": wallet.address, "privateKey": wallet.key.hex(),
        "options": {"fetchMarkets": {"types": ["spot"]}},
    })
    exchange.set_sandbox_mode(True)
    exchange.urls["api"] = {"public": dn.url, "private": dn.url}
    markets = exchange.load_markets()
    assert markets["BTC/USDC"]["id"] == "@142" and markets["BTC/USDC"]["spot"]
    book = exchange.fetch_order_book("BTC/USDC")
    best_ask = Decimal(str(book["asks"][0][0]))
    assert best_ask == Decimal(100030)  # mid 100000 × 1.0003, as docs/devnet.md says
    order = exchange.create_order("BTC/USDC", "market", "buy", 0.0002, float(best_ask))
    assert order["id"]
    orders = dn.admin.orders(user=wallet.address.lower())
    me = wallet.address.lower()
    assert [(o["coin"], o["status"], o["signer"]) for o in orders] == [("@142", "filled", me)]
    (trade,) = exchange.fetch_my_trades("BTC/USDC")
    assert (Decimal(str(trade["price"])), Decimal(str(trade["amount"]))) == (best_ask, Decimal("0.0002"))
    usdc = Decimal(dn.admin.balances(wallet.address)["balances"]["USDC"])
    assert usdc == Decimal(1000) - best_ask * Decimal("0.0002")
