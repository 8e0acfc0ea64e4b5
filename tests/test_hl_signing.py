"""Golden tests: dcactl's order wire, msgpack bytes and signatures equal what the SDK's Exchange sends."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from eth_account import Account

from dcactl.errors import UsageError
from dcactl.venues.base import OrderRequest
from dcactl.venues.hl_signing import (
    NonceCounter,
    action_bytes,
    exchange_weight,
    order_action,
    order_wire,
    signed_request,
)

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
NONCE = 1_764_000_000_123
CLOID = "0x0000000000000000000000000000abcd"
PRICES = ["101850", "0.00001", "0.00000001", "12.50"]
SIZES = {0: "3", 1: "0.5", 2: "12.34", 3: "0.125", 4: "0.0001", 5: "0.00103", 6: "1.000001",
         7: "0.1234567", 8: "0.00000001"}


def sdk_payloads(monkeypatch: pytest.MonkeyPatch, orders: list[dict[str, Any]], sz_decimals: int, *,
                 base_url: str = "http://127.0.0.1:1", vault: str | None = None) -> dict[str, Any]:
    """What the SDK's own Exchange would POST for ``orders`` on pair @142, captured without network."""
    import hyperliquid.exchange as sdk_exchange
    from hyperliquid.utils.types import Cloid

    spot_meta = {
        "tokens": [
            {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "tokenId": "0x0",
             "isCanonical": True, "evmContract": None, "fullName": None},
            {"name": "TKN", "szDecimals": sz_decimals, "weiDecimals": 8, "index": 3, "tokenId": "0x3",
             "isCanonical": False, "evmContract": None, "fullName": None},
        ],
        "universe": [{"name": "@142", "tokens": [3, 0], "index": 142, "isCanonical": False}],
    }
    monkeypatch.setattr(sdk_exchange, "get_timestamp_ms", lambda: NONCE)
    ex = sdk_exchange.Exchange(Account.from_key(KEY), base_url=base_url, meta={"universe": []},
                               spot_meta=spot_meta, vault_address=vault)
    captured: list[dict[str, Any]] = []
    monkeypatch.setattr(ex, "post", lambda path, payload: captured.append({"path": path, **payload}))
    try:
        requests = [{"coin": "@142", "is_buy": o["is_buy"], "sz": float(o["sz"]), "limit_px": float(o["px"]),
                     "order_type": {"limit": {"tif": "Ioc"}}, "reduce_only": False,
                     **({"cloid": Cloid(o["cloid"])} if o.get("cloid") else {})} for o in orders]
        ex.bulk_orders(requests)
    finally:
        ex.session.close()
        ex.info.session.close()
    assert len(captured) == 1 and captured[0].pop("path") == "/exchange"
    return captured[0]


def ours(
    orders: list[dict[str, Any]], *, is_mainnet: bool = False, vault: str | None = None
) -> dict[str, Any]:
    requests = [OrderRequest(asset_id=10142, is_buy=o["is_buy"], price=Decimal(o["px"]),
                             size=Decimal(o["sz"]), cloid=o.get("cloid")) for o in orders]
    action = order_action(requests)
    return dict(signed_request(Account.from_key(KEY), action, NONCE, vault=vault, is_mainnet=is_mainnet))


@pytest.mark.parametrize("px", PRICES)
@pytest.mark.parametrize("sz_decimals", sorted(SIZES))
def test_single_order_matches_the_sdk_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, px: str, sz_decimals: int
) -> None:
    """For awkward prices and a size at every szDecimals, msgpack bytes and signature equal the SDK's."""
    order = {"is_buy": True, "px": px, "sz": SIZES[sz_decimals], "cloid": CLOID}
    sdk = sdk_payloads(monkeypatch, [order], sz_decimals)
    mine = ours([order])
    assert action_bytes(mine["action"]) == msgpack.packb(sdk["action"])
    assert mine == sdk


def test_wire_strings_are_plain_without_trailing_zeros() -> None:
    """12.50 → "12.5", 1E-8 → "0.00000001", 101850 → "101850"; keys in signing order a,b,p,s,r,t,c."""
    wire = order_wire(OrderRequest(10142, True, Decimal("12.50"), Decimal("1E-8"), CLOID))
    assert list(wire) == ["a", "b", "p", "s", "r", "t", "c"]
    assert (wire["p"], wire["s"]) == ("12.5", "0.00000001")
    assert order_wire(OrderRequest(10142, True, Decimal("101850"), Decimal("1"), None))["p"] == "101850"
    assert "c" not in order_wire(OrderRequest(10142, True, Decimal("101850"), Decimal("1"), None))


def test_batch_matches_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three orders in one action (one nonce): the same bytes and signature as the SDK's bulk_orders."""
    orders = [{"is_buy": True, "px": "101850", "sz": "0.00011", "cloid": CLOID},
              {"is_buy": True, "px": "12.5", "sz": "0.5", "cloid": "0x" + "1" * 32},
              {"is_buy": False, "px": "0.00001", "sz": "3", "cloid": None}]
    assert ours(orders) == sdk_payloads(monkeypatch, orders, 5)


def test_mainnet_signing_matches_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """is_mainnet=True signs as source "a", exactly as the SDK does for https://api.hyperliquid.xyz."""
    order = {"is_buy": True, "px": "101850", "sz": "0.00103", "cloid": CLOID}
    sdk = sdk_payloads(monkeypatch, [order], 5, base_url="https://api.hyperliquid.xyz")
    assert ours([order], is_mainnet=True) == sdk
    assert ours([order], is_mainnet=False)["signature"] != sdk["signature"]


def test_vault_orders_match_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trading for a vault hashes and sends vaultAddress like the SDK."""
    vault = "0x" + "ab" * 20
    order = {"is_buy": True, "px": "12.5", "sz": "1", "cloid": CLOID}
    assert ours([order], vault=vault) == sdk_payloads(monkeypatch, [order], 2, vault=vault)


@pytest.mark.parametrize(
    ("price", "size", "cloid", "needle"),
    [
        ("0", "1", CLOID, "positive"),
        ("1", "-1", CLOID, "positive"),
        ("1.000000001", "1", CLOID, "8 decimals"),
        ("1", "1", "0x1234", "cloid"),
        ("1", "1", "0x" + "A" * 32, "cloid"),
    ],
)
def test_unwireable_orders_are_refused_before_signing(price: str, size: str, cloid: str, needle: str) -> None:
    """A price/size that is not positive or needs rounding, or a malformed cloid, raises UsageError."""
    with pytest.raises(UsageError, match=needle):
        order_wire(OrderRequest(10142, True, Decimal(price), Decimal(size), cloid, label="BTC"))


def test_empty_batch_is_refused() -> None:
    """An order action needs at least one order."""
    with pytest.raises(UsageError):
        order_action([])


def test_nonces_are_unique_within_one_millisecond_and_follow_the_clock() -> None:
    """Three nonces in the same ms are consecutive; once the clock moves ahead, nonces follow it."""
    now = [1_000]
    counter = NonceCounter(lambda: now[0])
    assert [counter.next(), counter.next(), counter.next()] == [1_000, 1_001, 1_002]
    now[0] = 5_000
    assert counter.next() == 5_000
    now[0] = 4_000  # the clock stepped back: still increasing
    assert counter.next() == 5_001


def test_exchange_weight_follows_the_published_formula() -> None:
    """/exchange weighs 1 + floor(n/40): 1 for 1..39 orders, 2 for 40, 3 for 80."""
    assert [exchange_weight(n) for n in (1, 39, 40, 79, 80)] == [1, 1, 2, 2, 3]


def test_importing_the_client_does_not_import_eth_account_or_the_sdk() -> None:
    """The signing libraries load only when something is signed (the CLI's --help stays fast)."""
    code = ("import sys, dcactl.venues.hyperliquid, dcactl.market.resolve, dcactl.market.coingecko; "
            "print(sorted(m for m in ('eth_account', 'hyperliquid') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
