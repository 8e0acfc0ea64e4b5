"""Fill history limits: userFills (2000 newest), userFillsByTime (the newest or, switched, the earliest
2000 of a window, ascending or newest first), 10 000 kept."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from dcactl.devnet.control import DevnetThread

T0 = 1_700_000_000_000


def test_user_fills_newest_2000(dn: DevnetThread, info: Info, wallet: LocalAccount) -> None:
    """With 12 000 fills, userFills gives the 2000 newest, newest first."""
    dn.admin.inject_fills(wallet.address, "@142", 12_000, "0.0001", "100000", start_ms=T0, step_ms=1_000)
    fills = info.user_fills(wallet.address)
    assert len(fills) == 2_000
    assert fills[0]["time"] == T0 + 11_999_000 and fills[-1]["time"] == T0 + 10_000_000
    assert len({f["tid"] for f in fills}) == 2_000


def test_fills_by_time_keeps_10000_and_answers_a_full_window_with_its_newest(
    dn: DevnetThread, info: Info, wallet: LocalAccount
) -> None:
    """Only the 10 000 newest of 12 000 fills exist; a window holding more than 2000 answers its *most
    recent* 2000, ascending (§7's harder reading): paging forward from the last time seen then finds
    nothing older, so a client must narrow the window; five 2000-fill windows give all 10 000."""
    dn.admin.inject_fills(wallet.address, "@142", 12_000, "0.0001", "100000", start_ms=T0, step_ms=1_000)
    first = info.user_fills_by_time(wallet.address, 0)
    assert len(first) == 2_000
    assert (first[0]["time"], first[-1]["time"]) == (T0 + 10_000_000, T0 + 11_999_000)
    assert [f["time"] for f in first] == sorted(f["time"] for f in first)
    forward = info.user_fills_by_time(wallet.address, first[-1]["time"])
    assert [f["tid"] for f in forward] == [first[-1]["tid"]], "paging forward never reaches the older fills"
    seen: dict[int, dict] = {}
    for k in range(5):  # fills 0..1999 were dropped: the kept ones start at T0 + 2 000 000
        lo = T0 + 2_000_000 + k * 2_000_000
        page = info.user_fills_by_time(wallet.address, lo, lo + 1_999_000)
        assert len(page) == 2_000
        seen.update((f["tid"], f) for f in page)
    assert len(seen) == 10_000
    window = info.user_fills_by_time(wallet.address, T0 + 5_000_000, T0 + 5_009_000)
    assert [f["time"] for f in window] == [T0 + 5_000_000 + 1_000 * i for i in range(10)]


def test_back_dated_fills_are_answered_in_time_order(
    dn: DevnetThread, info: Info, wallet: LocalAccount
) -> None:
    """Fills injected with earlier times than those already there take their place in time order."""
    dn.admin.inject_fills(wallet.address, "@142", 3, "0.0001", "100000", start_ms=T0 + 10_000, step_ms=1_000)
    dn.admin.inject_fills(wallet.address, "@142", 2, "0.0001", "100000", start_ms=T0, step_ms=1_000)
    times = [f["time"] for f in info.user_fills_by_time(wallet.address, 0)]
    assert times == [T0, T0 + 1_000, T0 + 10_000, T0 + 11_000, T0 + 12_000]


def test_fill_paging_switch_answers_a_full_window_either_way(
    dn: DevnetThread, info: Info, wallet: LocalAccount
) -> None:
    """/devnet/fill-paging: a full window answers its newest or its earliest `cap` fills, oldest or
    newest first; /devnet/fills is the account's whole kept history; reset restores the defaults."""
    dn.admin.inject_fills(wallet.address, "@142", 12, "0.0001", "100000", start_ms=T0, step_ms=10)

    def times(start: int = 0, end: int | None = None) -> list[int]:
        return [f["time"] - T0 for f in info.user_fills_by_time(wallet.address, start, end)]

    assert dn.admin.fill_paging() == {"keep": "newest", "order": "asc", "cap": 2_000}
    assert times() == list(range(0, 120, 10))
    assert dn.admin.fill_paging(cap=5) == {"keep": "newest", "order": "asc", "cap": 5}
    assert times() == [70, 80, 90, 100, 110]
    assert times(T0, T0 + 60) == [20, 30, 40, 50, 60]
    assert times(T0, T0 + 30) == [0, 10, 20, 30]  # not full: the whole window
    dn.admin.fill_paging(keep="earliest")
    assert times() == [0, 10, 20, 30, 40]
    assert times(T0 + 45) == [50, 60, 70, 80, 90]
    dn.admin.fill_paging(order="desc")
    assert times() == [40, 30, 20, 10, 0]
    dn.admin.fill_paging(keep="newest")
    assert times() == [110, 100, 90, 80, 70]
    held = dn.admin.fills(wallet.address)
    assert [f["time"] - T0 for f in held] == list(range(0, 120, 10))
    assert held == info.user_fills(wallet.address)[::-1]
    with pytest.raises(httpx.HTTPStatusError):
        dn.admin.fill_paging(keep="middle")
    with pytest.raises(httpx.HTTPStatusError):
        dn.admin.fill_paging(cap=0)
    dn.admin.reset()
    assert dn.admin.fill_paging() == {"keep": "newest", "order": "asc", "cap": 2_000}


def test_same_ms_fills_across_page_boundary(dn: DevnetThread, info: Info, wallet: LocalAccount) -> None:
    """2500 fills in one ms: a page stops at 2000 of them, as the real cap does; tids stay distinct."""
    dn.admin.inject_fills(wallet.address, "@151", 2_500, "0.01", "3000", start_ms=T0, step_ms=0, per_order=5)
    page = info.user_fills_by_time(wallet.address, T0, T0)
    assert len(page) == 2_000
    assert len({f["oid"] for f in page}) == 400  # five fills per order


def test_batched_orders_fill_each(
    dn: DevnetThread, http: httpx.Client, exchange: Exchange, wallet: LocalAccount
) -> None:
    """A batch of 40 IOC orders is one action with 40 positional statuses and 40 fills."""
    dn.admin.fund(wallet.address, usdc="100000")
    mid = Decimal(exchange.info.all_mids()["@156"])
    px = float(f"{float(mid * Decimal('1.02')):.5g}")
    reqs = [
        {
            "coin": "@156",
            "is_buy": True,
            "sz": 0.1,
            "limit_px": px,
            "order_type": {"limit": {"tif": "Ioc"}},
            "reduce_only": False,
        }
        for _ in range(40)
    ]
    reqs[5]["sz"] = 0.0001  # invalid size for USOL (3 decimals): only this one fails
    res = exchange.bulk_orders(reqs)
    statuses = res["response"]["data"]["statuses"]
    assert len(statuses) == 40 and statuses[5] == {"error": "Order has invalid size."}
    assert sum("filled" in s for s in statuses) == 39
    assert len(exchange.info.user_fills(wallet.address)) >= 39
    assert len(dn.admin.actions()) == 1 and len(dn.admin.orders()) == 40


def test_fund_credits_accounts_a_state_file_does_not_hold_yet(tmp_path: Path) -> None:
    """`serve --state S --fund A=100`, restarted with `--fund A=100 --fund B=50`: A keeps its 100 (a
    restart never mints it again), B, new to the state, gets its 50."""
    a, b = "0x" + "a" * 40, "0x" + "b" * 40
    state = tmp_path / "devnet.sqlite"
    with DevnetThread(seed=3, fund={a: Decimal(100)}, state=state) as first:
        assert first.admin.balances(a)["balances"]["USDC"] == "100.0"
    with DevnetThread(seed=3, fund={a: Decimal(100), b: Decimal(50)}, state=state) as again:
        assert again.admin.balances(a)["balances"]["USDC"] == "100.0"
        assert again.admin.balances(b)["balances"]["USDC"] == "50.0"
