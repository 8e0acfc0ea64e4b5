"""ccxt's hyperliquid exchange trades against the devnet unchanged (only its URLs pointed at it, in its
testnet mode, since the devnet verifies signatures as testnet): it loads the spot markets, reads a
book, buys, and finds the fill — through the devnet's untidy wire (§7).

ccxt runs in a child process: it changes the process's global decimal context while it works, which
would leak into every later test of the same worker."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from eth_account import Account

from dcactl.devnet.control import DevnetThread

CCXT_CLIENT = """
import json, os, ccxt
ex = ccxt.hyperliquid({"walletAddress": os.environ["ADDR"], "privateKey": os.environ["KEY"],
                       "options": {"fetchMarkets": {"types": ["spot"]}}})
ex.set_sandbox_mode(True)
ex.urls["api"] = {"public": os.environ["URL"], "private": os.environ["URL"]}
markets = ex.load_markets()
book = ex.fetch_order_book("BTC/USDC")
order = ex.create_order("BTC/USDC", "market", "buy", 0.0002, book["asks"][0][0])
trades = ex.fetch_my_trades("BTC/USDC")
print(json.dumps({"id": markets["BTC/USDC"]["id"], "spot": markets["BTC/USDC"]["spot"],
                  "ask": str(book["asks"][0][0]), "order": order["id"],
                  "trades": [[str(t["price"]), str(t["amount"])] for t in trades]}))
"""


@pytest.mark.skipif(importlib.util.find_spec("ccxt") is None, reason="ccxt is a test dependency ('.[dev]')")
def test_ccxt_buys_spot_on_the_devnet(dn: DevnetThread) -> None:
    wallet = Account.create()
    dn.admin.fund(wallet.address, usdc="1000")
    dn.admin.set_price("UBTC", "100000", pin=True)
    env = os.environ | {"ADDR": wallet.address, "KEY": wallet.key.hex(), "URL": dn.url}
    done = subprocess.run([sys.executable, "-c", CCXT_CLIENT], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["id"], got["spot"]) == ("@142", True)
    best_ask = Decimal(got["ask"])
    assert best_ask == Decimal(100030)  # mid 100000 × 1.0003, as docs/devnet.md says
    assert got["order"]
    me = wallet.address.lower()
    orders = dn.admin.orders(user=me)
    assert [(o["coin"], o["status"], o["signer"]) for o in orders] == [("@142", "filled", me)]
    assert [(Decimal(p), Decimal(a)) for p, a in got["trades"]] == [(best_ask, Decimal("0.0002"))]
    usdc = Decimal(dn.admin.balances(wallet.address)["balances"]["USDC"])
    assert usdc == Decimal(1000) - best_ask * Decimal("0.0002")
