"""The exchange's real shapes (hyperliquid-api.md §7), as small JSON written from its facts: several
quote tokens, the bridge's `evmContract` objects, HIP-1 namesakes, more contexts than pairs (delisted
coins, `midPx: null`), zero balance rows with `entryNtl`, 20-level books, integral decimals written
with `.0`, `vault`/`subAccount` roles. Every parser takes them without a crash or a wrong answer."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import respx

from dcactl.market.resolve import coin_to_symbol, ctx_by_coin, resolve_markets
from dcactl.models import Market
from dcactl.reports.doctorchecks import agent_check
from dcactl.venues.hyperliquid import HyperliquidClient

URL = "http://hl.test"
EVM = {"address": "0x9fdbda0a5e284c32744d2f17ee5c74b284993463", "evm_extra_wei_decimals": -2}


def _token(
    index: int, name: str, sz: int, wei: int, full: str | None = None, evm: Any = None
) -> dict[str, Any]:
    return {"name": name, "szDecimals": sz, "weiDecimals": wei, "index": index, "tokenId": f"0x{index:032x}",
            "isCanonical": False, "evmContract": evm, "fullName": full, "deployerTradingFeeShare": "0.0"}


META: dict[str, Any] = {
    "tokens": [
        _token(0, "USDC", 8, 8), _token(1, "PUMP", 0, 5, "Pump"),  # an old HIP-1 namesake, listed first
        _token(2, "UBTC", 5, 10, "Unit Bitcoin", EVM), _token(3, "USOL", 3, 8, "Unit Solana", EVM),
        _token(4, "UPUMP", 0, 6, "Unit Pump", EVM), _token(5, "USDT0", 2, 8, "USDT0"),
        _token(6, "USDE", 2, 8, "Ethena USDe"), _token(7, "USDH", 2, 8, "Hyperliquid USD"),
    ],
    "universe": [
        {"name": "@1", "tokens": [1, 0], "index": 1, "isCanonical": False},
        {"name": "@166", "tokens": [2, 5], "index": 166, "isCanonical": False},  # UBTC/USDT0 first
        {"name": "@142", "tokens": [2, 0], "index": 142, "isCanonical": False},
        {"name": "@156", "tokens": [3, 0], "index": 156, "isCanonical": False},
        {"name": "@188", "tokens": [4, 0], "index": 188, "isCanonical": False},
        {"name": "@200", "tokens": [3, 6], "index": 200, "isCanonical": False},
        {"name": "@230", "tokens": [2, 7], "index": 230, "isCanonical": False},
    ],
}
CTXS: list[dict[str, Any]] = [  # more than pairs; not aligned with the universe; a delisted coin
    {"coin": "@142", "prevDayPx": "107000.0", "dayNtlVlm": "12000000.0", "markPx": "107298.0",
     "midPx": "107298.5", "circulatingSupply": "21000000.0", "dayBaseVlm": "112.0"},
    {"coin": "@9", "prevDayPx": "0.1", "dayNtlVlm": "0.0", "markPx": "0.1", "midPx": None},
    {"coin": "@1", "prevDayPx": "0.004", "dayNtlVlm": "31.0", "markPx": "0.0041", "midPx": None},
    {"coin": "@156", "prevDayPx": "185.0", "dayNtlVlm": "900000.0", "markPx": "186.0", "midPx": "186.05"},
]


def test_bridged_tokens_win_and_only_usdc_pairs_are_bought() -> None:
    """BTC is UBTC/USDC @142 (not UBTC/USDT0 @166 listed before it), SOL is USOL @156 (not the USDE
    pair), PUMP the bridge's UPUMP @188 (not the HIP-1 PUMP @1); sync names only USDC pairs."""
    got = resolve_markets([("BTC", "auto", None, None), ("SOL", "auto", None, None),
                           ("PUMP", "auto", None, None)], META | {"ctxs": CTXS})
    assert {k: (m.coin, m.base_token, m.sz_decimals) for k, m in got.items() if isinstance(m, Market)} == {
        "BTC": ("@142", "UBTC", 5), "SOL": ("@156", "USOL", 3), "PUMP": ("@188", "UPUMP", 0),
    }
    names = coin_to_symbol(META)
    assert names["@142"] == "BTC" and names["@156"] == "SOL" and names["@188"] == "PUMP"
    assert "@166" not in names and "@200" not in names and "@230" not in names


def test_contexts_join_on_coin_whatever_their_number_and_order() -> None:
    ctxs = ctx_by_coin([META, CTXS])
    assert ctxs["@142"]["markPx"] == "107298.0" and ctxs["@1"]["midPx"] is None
    assert "@9" in ctxs and "@188" not in ctxs  # a delisted coin's context is kept, a missing one absent


def _read(answer: Any, call: Any) -> Any:
    async def go() -> Any:
        with respx.mock(base_url=URL) as router:
            router.post("/info").respond(200, text=json.dumps(answer))
            async with HyperliquidClient(URL, False, 5.0) as hl:
                return await call(hl)

    return asyncio.run(go())


def test_zero_balance_rows_and_entry_notional_are_read() -> None:
    """spotClearinghouseState keeps zero rows after transfers and carries entryNtl: read as balances."""
    answer = {"balances": [
        {"coin": "USDC", "token": 0, "hold": "0.0", "total": "1520.0", "entryNtl": "0.0"},
        {"coin": "UBTC", "token": 2, "hold": "0.0", "total": "0.0", "entryNtl": "0.0"},
        {"coin": "USOL", "token": 3, "hold": "0.5", "total": "2.0", "entryNtl": "371.2"},
    ]}
    balances = _read(answer, lambda hl: hl.spot_balances("0x" + "1" * 40))
    assert balances["USDC"].total == D(1520) and balances["UBTC"].total == 0
    assert balances["USOL"].available == D("1.5")


def test_a_twenty_level_book_with_integral_prices() -> None:
    """l2Book has 20 levels a side; prices like "107298.0" are exact decimals."""
    asks = [{"px": f"{107300 + i}.0", "sz": "0.5", "n": 1} for i in range(20)]
    bids = [{"px": f"{107290 - i}.0", "sz": "0.5", "n": 2} for i in range(20)]
    book = _read({"coin": "@142", "time": 1, "levels": [bids, asks]}, lambda hl: hl.l2_book("@142"))
    assert book is not None and len(book.asks) == 20 and book.asks[0].px == D(107300)
    assert str(book.asks[0].px) == "107300.0"  # read as written, compared as numbers


def test_vault_and_sub_account_signers_are_refused_clearly() -> None:
    """userRole can answer vault or subAccount: such an address cannot sign for the account."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for role in ({"role": "vault"}, {"role": "subAccount", "data": {"master": "0x" + "2" * 40}}):
        check = agent_check("0x" + "3" * 40, "0x" + "2" * 40, role, [], now)
        assert check.status == "fail" and "nor an approved agent" in check.detail
