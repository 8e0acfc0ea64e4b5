"""`dcactl sync` against the devnet (issue 5): 25,000 fills in rounds the 10,000-fill history can hold,
shared milliseconds across 2000-fill pages, partial fills, other accounts, perp fills, and the
warning when the exchange no longer holds the start the user asks for."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import write_portfolio

from dcactl.ingest.sync import HISTORY_CAP, PAGE_CAP, sync_fills
from dcactl.ledger import Ledger
from dcactl.models import from_ms, iso_utc

ME = "0x" + "a1" * 20
OTHER = "0x" + "b2" * 20
ASSETS = '[assets.BTC]\namount = 10\nevery = "day"\n[assets.ETH]\namount = 10\nevery = "day"\n' \
         '[assets.SOL]\namount = 15\nevery = "day"\n'
COINS = {  # devnet coin: (dcactl asset, size, price) of every injected fill (10–20 USDC each)
    "UBTC": ("BTC", "0.0001", "100000"),
    "UETH": ("ETH", "0.003", "3500"),
    "USOL": ("SOL", "0.1", "150"),
    "HYPE": ("HYPE", "0.5", "40"),  # not configured: stored under its ticker
}


@dataclass
class Block:
    """``count`` fills of one coin; ``step`` ms apart (0: all in one millisecond); ``per_order``
    fills per order (partial fills of one order share its oid)."""

    coin: str
    count: int
    step: int
    per_order: int


def _round_plan(total: int, offset: int) -> list[Block]:
    """Blocks summing to ``total``: coins in turn, big same-millisecond blocks (so 2000-fill page
    boundaries cut through them) and stepped blocks of multi-fill orders."""
    shapes = [(700, 0, 1), (300, 1, 3), (1000, 0, 5), (500, 1, 1), (250, 0, 2)]
    coins = list(COINS)
    blocks: list[Block] = []
    left, i = total, offset
    while left:
        count, step, per = shapes[i % len(shapes)]
        count = min(count, left)
        count -= count % per
        if count == 0:
            per, count = 1, left
        blocks.append(Block(coins[i % len(coins)], count, step, per))
        left -= count
        i += 1
    return blocks


def _inject(devnet: Any, blocks: list[Block], t: int) -> int:
    """Record the blocks for ME (and a few fills for OTHER at the same instants); returns the next
    free millisecond."""
    for b in blocks:
        _, sz, px = COINS[b.coin]
        last = devnet.admin.inject_fills(ME, b.coin, b.count, sz, px, start_ms=t, step_ms=b.step,
                                         per_order=b.per_order)["lastTime"]
        devnet.admin.inject_fills(OTHER, b.coin, 7, sz, px, start_ms=t, step_ms=b.step)
        t = last if b.step == 0 and b.count % 2 else last + 1  # sometimes the next block shares the ms
    return t


@pytest.fixture
def portfolio(tmp_path: Path, devnet: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A paper portfolio whose `account` is ME (sync needs only the address). Request pacing is off:
    the devnet's rate limit is off, and these tests sync tens of thousands of fills back to back,
    which the shared 1000/min window would stretch over minutes (pacing has tests of its own)."""
    monkeypatch.setattr("dcactl.session.HL_WEIGHT_PER_MINUTE", None)
    return write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS, settings=f'account = "{ME}"')


def _ledger(tmp_path: Path, devnet: Any) -> Ledger:
    return Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=ME)


def _sync(cli: Any, cfg: Path, *args: str) -> Any:
    res = cli("--config", str(cfg), "--json", "sync", *args)
    assert res.code == 0, res.err
    return res


def test_25000_fills_in_rounds_are_all_kept_exactly_once(
    tmp_path: Path, devnet: Any, cli: Any, portfolio: Path
) -> None:
    """Three rounds (9,000 + 9,000 + 7,000 fills over four coins, the exchange keeping only the
    newest 10,000) synced in between: the ledger ends with all 25,000, each tid once, each order's
    partial fills all kept, none of another account's; a re-sync adds nothing."""
    t = devnet.admin.time() - 3_600_000
    plan: list[Block] = []
    for n, total in enumerate((9_000, 9_000, 7_000)):
        blocks = _round_plan(total, offset=n)
        t = _inject(devnet, blocks, t)
        plan += blocks
        report = _sync(cli, portfolio).json()
        assert report["inserted"] == total, report
        assert report["pages"] >= total // PAGE_CAP + 1 and report["warnings"] == []
    with _ledger(tmp_path, devnet) as ledger:
        fills = ledger.fills()
        positions = {p.asset: p for p in ledger.positions()}
    assert len(fills) == 25_000 == len({f.tid for f in fills})
    assert {f.source for f in fills} == {"external"}
    for coin, (asset, sz, px) in COINS.items():
        n = sum(b.count for b in plan if b.coin == coin)
        assert positions[asset].buys == n
        assert positions[asset].invested_usd == n * Decimal(sz) * Decimal(px)
    orders = Counter(f.oid for f in fills)
    expected = Counter(b.per_order for b in plan for _ in range(b.count // b.per_order))
    assert Counter(orders.values()) == expected, "every partial fill of every order is kept"
    balances = devnet.admin.balances(ME)["balances"]
    for coin, (asset, _, _) in COINS.items():
        assert Decimal(balances[coin]) == positions[asset].units, "units net of the fees the exchange took"

    again = _sync(cli, portfolio).json()
    assert (again["inserted"], again["warnings"]) == (0, [])
    full = _sync(cli, portfolio, "--full")
    assert full.json()["inserted"] == 0 and full.json()["duplicates"] == HISTORY_CAP
    with _ledger(tmp_path, devnet) as ledger:
        assert ledger.fill_count() == 25_000


def test_shared_millisecond_across_a_page_boundary(
    tmp_path: Path, devnet: Any, cli: Any, portfolio: Path
) -> None:
    """1,500 stepped fills then 1,000 in one millisecond: the first answer is full (2000), so its window
    is split at the answer's median time; both halves come back whole and all 2,500 are kept once."""
    t = devnet.admin.time() - 60_000
    devnet.admin.inject_fills(ME, "UBTC", 1_500, "0.0001", "100000", start_ms=t, step_ms=1)
    devnet.admin.inject_fills(ME, "UETH", 1_000, "0.003", "3500", start_ms=t + 1_500, step_ms=0)
    report = _sync(cli, portfolio).json()
    # [lo, now] answers its newest 2000 (1000 stepped, the 1000 of one ms at t + 1500): split at their
    # median, t + 1500: [lo, t + 1500] is full again, split before that instant: [lo, t + 1499] (1500)
    # and [t + 1500, t + 1500] (1000) come back whole, then (t + 1500, now] is empty: 5 requests
    assert (report["pages"], report["inserted"]) == (5, 2_500)
    with _ledger(tmp_path, devnet) as ledger:
        fills = ledger.fills()
    assert len(fills) == len({f.tid for f in fills}) == 2_500
    assert Counter(f.asset for f in fills) == {"BTC": 1_500, "ETH": 1_000}


def test_overlapping_pages_under_the_cap_do_not_warn(
    tmp_path: Path, devnet: Any, cli: Any, portfolio: Path
) -> None:
    """9,600 fills in blocks of 1,600 per millisecond: pages overlap so much that over 10,000 fills are
    *returned*, but the exchange holds all of them, so a first sync stores 9,600 and does not warn."""
    t = devnet.admin.time() - 60_000
    for k in range(6):
        devnet.admin.inject_fills(ME, "USOL", 1_600, "0.1", "150", start_ms=t + k, step_ms=0)
    report = _sync(cli, portfolio).json()
    assert report["inserted"] == 9_600 and report["seen"] > HISTORY_CAP
    assert report["warnings"] == []


def test_history_no_longer_held_warns(tmp_path: Path, devnet: Any, cli: Any, portfolio: Path) -> None:
    """Asking (--full, or --since a date before it) for history the exchange has dropped warns on
    stderr, once, and still stores what it holds; a sync from the cursor does not warn."""
    t = devnet.admin.time() - 600_000
    devnet.admin.inject_fills(ME, "UBTC", 12_000, "0.0001", "100000", start_ms=t, step_ms=1)
    res = _sync(cli, portfolio, "--full")
    assert res.json()["inserted"] == HISTORY_CAP
    (warning,) = res.json()["warnings"]
    assert "keeps only the 10,000 most recent fills" in warning
    assert f"history starts at {iso_utc(from_ms(t + 2_000))}, after the requested start" in warning
    text = cli("--config", str(portfolio), "sync", "--since", "2020-01-01")
    assert text.code == 0 and text.out.startswith("Synced 0 new fills")
    shown = " ".join(x.strip() for x in text.err.splitlines())  # the console may wrap a long line
    assert shown.startswith("warning: the exchange's history starts at") and shown.count("warning:") == 1
    assert "after the requested start 2020-01-01T00:00:00Z" in shown
    assert _sync(cli, portfolio).json()["warnings"] == []


def test_perp_and_other_account_fills_never_enter(tmp_path: Path, devnet: Any) -> None:
    """Fills of another account (same coins, same instants) and perp fills (the devnet has no perps,
    so some of its spot fills are relabelled with a perp coin name in flight) are never stored."""
    from dcactl.venues.hyperliquid import HyperliquidClient

    t = devnet.admin.time() - 60_000
    for start in (t, t + 10):  # 1,500 fills in one ms, twice: the first page ends inside the second
        devnet.admin.inject_fills(ME, "UBTC", 1_500, "0.0001", "100000", start_ms=start, step_ms=0,
                                  per_order=3)
        devnet.admin.inject_fills(OTHER, "UBTC", 1_500, "0.0001", "100000", start_ms=start, step_ms=0)
    perps: set[str] = set()

    async def go() -> Any:
        async with HyperliquidClient(devnet.url, is_mainnet=False, timeout=10) as hl:
            async def fetch(start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
                page = [dict(f) for f in await hl.user_fills_by_time(ME, start_ms, end_ms)]
                for f in page:
                    if int(f["tid"]) % 5 == 0:
                        f["coin"] = "BTC"  # a perp name: no "@", no "/"
                        perps.add(str(f["tid"]))
                return page

            with Ledger.open(tmp_path / "l.db", network="devnet", account=ME) as ledger:
                report = await sync_fills(ledger, fetch, {"@142": "BTC"}, now=datetime.now(UTC))
                return report, ledger.fills()

    report, fills = asyncio.run(go())
    assert len(perps) == 600 and report.perp_ignored >= 600
    assert report.inserted == len(fills) == 3_000 - 600
    assert not perps & {f.tid for f in fills}
    assert {f.pair for f in fills} == {"@142"}


def test_dust_conversions_with_trade_id_0_are_all_kept(
    tmp_path: Path, devnet: Any, cli: Any, portfolio: Path
) -> None:
    """Three spot dust conversions (trade id 0, as mainnet records them) beside ordinary fills: sync
    keeps all three once each, told apart by oid, time, coin and size; a full re-sync adds nothing."""
    t = devnet.admin.time() - 60_000
    devnet.admin.inject_fills(ME, "UBTC", 3, "0.0001", "100000", start_ms=t, step_ms=10)
    dust = [devnet.admin.dust(ME, coin, sz, px, time_ms=t + 100 + i)
            for i, (coin, sz, px) in enumerate([("UBTC", "0.00000042", "98765.4321"),
                                                ("UETH", "0.0000131", "3456.789"),
                                                ("UBTC", "0.00000042", "98765.4321")])]
    first = _sync(cli, portfolio).json()
    assert first["inserted"] == 6
    with _ledger(tmp_path, devnet) as ledger:
        zero = [f for f in ledger.fills() if f.tid.startswith("0:")]
    assert sorted((f.oid, f.pair, f"{f.size:f}", f.side) for f in zero) == sorted(
        (d["oid"], "@142" if i != 1 else "@151", "0.00000042" if i != 1 else "0.0000131", "A")
        for i, d in enumerate(dust))
    assert {f.reason for f in zero} == {"dust conversion"}, "their own kind in history and lots"
    status = cli("--config", str(portfolio), "--json", "status").json()
    btc_usd = (2 * Decimal("0.00000042") * Decimal("98765.4321")).quantize(Decimal("0.01"))
    eth_usd = (Decimal("0.0000131") * Decimal("3456.789")).quantize(Decimal("0.01"))
    assert status["dust_conversions"] == [
        {"asset": "BTC", "count": 2, "units": "0.00000084", "usd": str(btc_usd)},
        {"asset": "ETH", "count": 1, "units": "0.0000131", "usd": str(eth_usd)},
    ]
    year = datetime.now(UTC).year
    lots = cli("--config", str(portfolio), "--json", "lots", "--year", str(year)).json()
    kinds = sorted((d["asset"], d["kind"], d["units"]) for d in lots["disposals"])
    assert kinds == [("BTC", "dust conversion", "0.00000042")] * 2 + [("ETH", "dust conversion", "0.0000131")]
    assert {f.reason for f in ledger_fills(tmp_path, devnet) if not f.tid.startswith("0:")} == {None}
    again = _sync(cli, portfolio, "--full").json()
    assert again["inserted"] == 0 and again["duplicates"] == 6


def ledger_fills(tmp_path: Path, devnet: Any) -> list[Any]:
    with _ledger(tmp_path, devnet) as ledger:
        return ledger.fills()


def test_the_one_dust_conversion_an_old_ledger_kept_is_not_doubled(tmp_path: Path) -> None:
    """A ledger from before migration 0010 holds one fill with trade id 0: the migration gives it the
    new identity, so the next sync recognises it instead of storing it again."""
    from dcactl.ingest.sync import fill_id
    from dcactl.ledger.migrations import MIGRATIONS
    from dcactl.models import Fill

    raw = {"tid": 0, "oid": 77, "time": 1_790_000_000_123, "coin": "@142", "sz": "0.00000042",
           "px": "98765.4321", "side": "A"}
    path = tmp_path / "old.db"
    with Ledger.open(path, network="devnet", account=ME) as ledger:
        ledger.add_fills([Fill(time=from_ms(raw["time"]), asset="BTC", pair="@142", side="A",
                               size=Decimal("0.00000042"), price=Decimal("98765.4321"), fee=Decimal(0),
                               fee_token="USDC", tid="0", source="external", oid=77)])
        conn = ledger.db
        conn.execute("DELETE FROM migrations WHERE name = '0010_dust_conversion_ids'")
        conn.execute("UPDATE fills SET tid = '0'")
        conn.commit()
    with Ledger.open(path, network="devnet", account=ME) as ledger:
        assert sorted(ledger.migrations()) == sorted(name for name, _ in MIGRATIONS)
        (kept,) = ledger.fills()
        assert kept.tid == fill_id(raw) == "0:77:1790000000123:@142:0.00000042"
        assert ledger.known_tids([fill_id(raw)]) == {fill_id(raw)}


def test_dust_conversions_kept_before_they_had_a_kind_get_it(tmp_path: Path) -> None:
    """Migration 0012: a ledger that kept dust conversions (ids 0:…) before sync named them gets their
    reason; other fills keep theirs."""
    from dcactl.ledger.migrations import MIGRATIONS
    from dcactl.models import Fill

    path = tmp_path / "old.db"
    with Ledger.open(path, network="devnet", account=ME) as ledger:
        common = {"asset": "BTC", "pair": "@142", "side": "A", "size": Decimal("0.00000042"),
                  "price": Decimal("98765.4321"), "fee": Decimal(0), "fee_token": "USDC",
                  "source": "external"}
        ledger.add_fills([
            Fill(time=from_ms(1_790_000_000_123), tid="0:77:1790000000123:@142:0.00000042", oid=77, **common),
            Fill(time=from_ms(1_790_000_000_124), tid="555", oid=78, reason="by hand", **common),
        ])
        ledger.db.execute("DELETE FROM migrations WHERE name = '0012_dust_reason'")  # as if written before it
    with Ledger.open(path, network="devnet", account=ME) as ledger:
        assert sorted(ledger.migrations()) == sorted(name for name, _ in MIGRATIONS)
        assert [f.reason for f in ledger.fills()] == ["dust conversion", "by hand"]


def test_dust_maker_rebates_and_a_full_window_sync_exactly(tmp_path: Path, devnet: Any, cli: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """One account with 2,100 fills in the last minute (a full window, answered with its newest 2000),
    two resting buys filled as maker (one at the 0.04 % fee, one with a 0.01 % rebate) and two dust
    conversions of UBTC: sync stores every fill once, and the UBTC held is exact by hand and equal to
    the devnet's own balance."""
    from eth_account import Account
    from hyperliquid.exchange import Exchange

    monkeypatch.setattr("dcactl.session.HL_WEIGHT_PER_MINUTE", None)
    wallet = Account.create()
    me = wallet.address.lower()
    devnet.admin.fund(me, usdc="30000")  # the injected fills spend 21,000
    t = devnet.admin.time() - 60_000
    devnet.admin.inject_fills(me, "UBTC", 2_100, "0.0001", "100000", start_ms=t, step_ms=1)
    devnet.admin.set_price("UBTC", "100000", pin=True)
    ex = Exchange(wallet, base_url=devnet.url)
    try:
        for rate, px in (("0.0004", 99000.0), ("-0.0001", 98000.0)):
            devnet.admin.maker_rate(me, rate)
            res = ex.order("@142", True, 0.001, px, {"limit": {"tif": "Gtc"}})
            assert "resting" in res["response"]["data"]["statuses"][0], res
            devnet.admin.set_price("UBTC", str(px - 1000), pin=True)  # the market falls through the bid
            devnet.admin.balances(me)  # any request lets the devnet match
            ex.info.user_fills(me)
    finally:
        ex.session.close()
        ex.info.session.close()
    for i in range(2):
        devnet.admin.dust(me, "UBTC", "0.00000042", "98765.4321", time_ms=devnet.admin.time() + i)
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS, settings=f'account = "{me}"')
    report = _sync(cli, cfg).json()
    assert report["inserted"] == 2_100 + 2 + 2, report
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=me) as ledger:
        fills = ledger.fills()
        (btc,) = [p for p in ledger.positions() if p.asset == "BTC"]
    assert len({f.tid for f in fills}) == len(fills) == 2_104
    makers = sorted((f.price, f.fee) for f in fills if f.oid is not None and f.price in (99000, 98000))
    assert makers == [(Decimal(98000), Decimal("-1E-7")), (Decimal(99000), Decimal("4E-7"))]
    # 2,100 × (0.0001 − 0.00000007 taker fee) + (0.001 − 0.0000004) + (0.001 + 0.0000001) − 2 × 0.00000042
    by_hand = (2_100 * (Decimal("0.0001") - Decimal("0.00000007")) + Decimal("0.0019997")
               - Decimal("0.00000084"))
    assert btc.units == by_hand
    assert Decimal(devnet.admin.balances(me)["balances"]["UBTC"]) == by_hand
