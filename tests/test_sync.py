"""sync_fills against a fake userFillsByTime that honours startTime/endTime, the 2000-per-call cap
and the 10,000-fill history limit: paging, tid dedup, intents, external fills, perp fills, imports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dcactl.ingest.sync import CURSOR, HISTORY_CAP, LOOKBACK_MS, PAGE_CAP, sync_fills
from dcactl.ledger import Ledger
from dcactl.models import OrderIntent

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = datetime(2027, 1, 1, tzinfo=UTC)
COINS = {"@142": "BTC", "@151": "ETH", "@156": "SOL"}


class FakeExchange:
    """userFillsByTime over a recorded list: the earliest (or with ``newest`` the most recent) ≤ 2000
    fills with start ≤ time ≤ end, of the newest ``keep`` fills only, ascending (or with
    ``descending`` newest first), with a log of the requests it served."""

    def __init__(self, keep: int = HISTORY_CAP, *, newest: bool = False, descending: bool = False) -> None:
        self.fills: list[dict[str, Any]] = []
        self.keep = keep
        self.newest = newest  # a full window answers its most recent 2000 (§7's other reading)
        self.descending = descending  # answers newest first (the SDK's 2023 recording)
        self.requests: list[tuple[int, int | None]] = []
        self._tid = 1000

    def add(self, time_ms: int, coin: str = "@142", *, sz: str = "0.001", px: str = "100000",
            oid: int | None = None, cloid: str | None = None, fee: str = "0.0000007",
            fee_token: str = "UBTC", side: str = "B", hash_: str | None = None) -> dict[str, Any]:
        self._tid += 1
        raw: dict[str, Any] = {
            "coin": coin, "px": px, "sz": sz, "side": side, "time": time_ms, "startPosition": "0",
            "dir": "Buy" if side == "B" else "Sell", "closedPnl": "0.0",
            "hash": hash_ or f"0x{self._tid:064x}",
            "oid": oid if oid is not None else self._tid * 10, "crossed": True, "fee": fee,
            "tid": self._tid, "feeToken": fee_token,
        }
        if cloid is not None:
            raw["cloid"] = cloid
        self.fills.append(raw)
        return raw

    async def fetch_page(self, start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
        self.requests.append((start_ms, end_ms))
        kept = sorted(self.fills, key=lambda f: (f["time"], f["tid"]))[-self.keep:]
        hits = [f for f in kept if f["time"] >= start_ms and (end_ms is None or f["time"] <= end_ms)]
        page = hits[-PAGE_CAP:] if self.newest else hits[:PAGE_CAP]
        return [dict(f) for f in (page[::-1] if self.descending else page)]


def sync(ledger: Ledger, ex: FakeExchange, **kw: Any) -> Any:
    return asyncio.run(sync_fills(ledger, ex.fetch_page, COINS, now=NOW, **kw))


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "l.db", network="devnet", account="0xabc")
    yield led  # type: ignore[misc]
    led.close()


def test_25000_fills_synced_in_rounds_are_all_kept_exactly_once(ledger: Ledger) -> None:
    """25,000 fills made in 5 rounds (history capped at 10,000) and synced between rounds: all kept once.

    Fills come in batches sharing one millisecond (so page boundaries cut through them), orders
    fill in several partial fills, and perp fills are interleaved and never stored.
    """
    ex = FakeExchange()
    t = T0_MS
    spot_tids: set[str] = set()
    perps = 0
    for _ in range(5):
        for batch in range(500):  # 500 batched actions × 10 fills = 5,000 spot fills per round
            t += 1000
            for k in range(10):
                coin = list(COINS)[k % 3]
                raw = ex.add(t, coin, oid=t * 10 + k // 2)  # two partial fills per order
                spot_tids.add(str(raw["tid"]))
            if batch % 50 == 0:
                ex.add(t, "BTC")  # a perp fill in the same millisecond
                perps += 1
        report = sync(ledger, ex)
        assert report.inserted == 5000
    assert len(spot_tids) == 25_000
    stored = ledger.fills()
    assert len(stored) == 25_000 and {f.tid for f in stored} == spot_tids
    assert {f.pair for f in stored} == set(COINS)
    assert sum(p.buys for p in ledger.positions()) == 25_000
    again = sync(ledger, ex)
    cursor = ledger.get_cursor(CURSOR)
    assert cursor is not None
    held = ex.fills[-HISTORY_CAP:]
    in_lookback = sum(1 for f in held if f["time"] >= cursor - LOOKBACK_MS and f["coin"] != "BTC")
    assert (again.inserted, again.duplicates) == (0, in_lookback)


def test_fills_sharing_a_timestamp_across_a_page_boundary_are_kept_once(ledger: Ledger) -> None:
    """40 fills in one ms straddling fill #2000 are all stored once: the full first answer is split at its
    median time (fill #1001, T0 + 1000) and both halves are read whole."""
    ex = FakeExchange()
    for i in range(1980):
        ex.add(T0_MS + i)
    for _ in range(40):
        ex.add(T0_MS + 5000)  # fills #1981..#2020 share one millisecond
    for i in range(100):
        ex.add(T0_MS + 6000 + i)
    report = sync(ledger, ex)
    end = ex.requests[0][1]
    assert ex.requests == [(0, end), (0, T0_MS + 1000), (T0_MS + 1001, end)]
    assert (report.inserted, report.spot, ledger.fill_count()) == (2120, 2120, 2120)
    assert report.seen == 2000 + 1001 + 1119  # the full answer, then the two halves
    assert ledger.get_cursor(CURSOR) == T0_MS + 6099


def test_partial_fills_of_one_order_are_all_kept(ledger: Ledger) -> None:
    """Three fills of one oid (same time, same price) are three ledger rows: dedup is by tid, not oid."""
    ex = FakeExchange()
    for sz in ("0.0004", "0.0004", "0.0002"):
        ex.add(T0_MS, oid=777, sz=sz)
    sync(ledger, ex)
    parts = ledger.fills_for_order(oid=777)
    assert [f.size for f in parts] == [Decimal("0.0004"), Decimal("0.0004"), Decimal("0.0002")]
    (pos,) = ledger.positions()
    assert pos.units == Decimal("0.0009979")  # 0.001 − 3 × 0.0000007 fee in UBTC


def test_resync_full_and_since_rescans_add_nothing(ledger: Ledger) -> None:
    """After a sync, a plain re-sync, --full and --since re-read history but insert nothing."""
    ex = FakeExchange()
    for i in range(2500):
        ex.add(T0_MS + i * 10)
    assert sync(ledger, ex).inserted == 2500
    plain = sync(ledger, ex)  # from the lookback before the cursor: the 25 s of fills again
    assert (plain.inserted, plain.duplicates, plain.start_ms) == (0, 2500, T0_MS + 24_990 - LOOKBACK_MS)
    full = sync(ledger, ex, full=True)
    assert (full.inserted, full.duplicates, full.start_ms) == (0, 2500, 0)
    since = sync(ledger, ex, since=datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC))
    assert (since.inserted, since.duplicates) == (0, 500)
    ex.add(T0_MS + 30_000)
    assert sync(ledger, ex).inserted == 1


def test_fills_are_matched_to_intents_by_cloid_then_oid_else_external(ledger: Ledger) -> None:
    """A fill with our cloid, or our order's oid, is dcactl with the period; the rest external."""
    for cloid, period, oid in (("0x" + "a" * 32, "2026-01-01T00:00:00Z", None),
                               ("0x" + "b" * 32, "2026-01-08T00:00:00Z", 555)):
        ledger.record_intent(OrderIntent(
            cloid=cloid, asset="BTC", venue="hyperliquid", period=period, attempt=0,
            usd_requested=Decimal(100),
            size=Decimal("0.001"), limit_px=Decimal(101000), created_at=datetime(2026, 1, 1, tzinfo=UTC),
            pair="@142", oid=oid, status="sent"))
    ex = FakeExchange()
    ex.add(T0_MS, cloid="0x" + "A" * 32)
    ex.add(T0_MS + 1, oid=555)
    ex.add(T0_MS + 2, cloid="0x" + "c" * 32)  # someone else's cloid
    ex.add(T0_MS + 3, "@999")  # a spot pair not in the mapping: kept under its pair name
    report = sync(ledger, ex)
    got = ledger.fills()
    assert [(f.source, f.period) for f in got] == [
        ("dcactl", "2026-01-01T00:00:00Z"), ("dcactl", "2026-01-08T00:00:00Z"), ("external", None),
        ("external", None)]
    assert got[0].cloid == "0x" + "a" * 32 and got[2].cloid == "0x" + "c" * 32
    assert got[3].asset == "@999"
    assert (report.matched, report.external) == (2, 2)


def test_perp_fills_never_enter(ledger: Ledger) -> None:
    """Perp coins (bare names like BTC, ETH) are counted as ignored and never stored."""
    ex = FakeExchange()
    ex.add(T0_MS, "BTC")
    ex.add(T0_MS, "ETH")
    ex.add(T0_MS, "PURR/USDC")
    report = sync(ledger, ex)
    assert (report.perp_ignored, report.inserted) == (2, 1)
    assert [f.pair for f in ledger.fills()] == ["PURR/USDC"]


def test_page_of_2000_fills_in_one_millisecond_warns_instead_of_looping(ledger: Ledger) -> None:
    """2,100 fills in one ms: the sync stores the 2,000 it can get, warns, and terminates."""
    ex = FakeExchange()
    for _ in range(2100):
        ex.add(T0_MS)
    ex.add(T0_MS + 1)
    report = sync(ledger, ex)
    assert report.inserted == 2001
    assert any("share the instant" in w for w in report.warnings)
    # [0, now] full → split at T0: [0, T0] full → [0, T0 − 1] empty and [T0, T0] (one instant: warn,
    # keep what it gives); then [T0 + 1, now]
    end = ex.requests[0][1]
    assert ex.requests == [(0, end), (0, T0_MS), (0, T0_MS - 1), (T0_MS, T0_MS), (T0_MS + 1, end)]


def test_warns_when_the_exchange_no_longer_holds_the_requested_start(ledger: Ledger) -> None:
    """With ≥ 10,000 fills and history starting after the requested start, the report warns."""
    ex = FakeExchange(keep=HISTORY_CAP)
    for i in range(HISTORY_CAP + 500):
        ex.add(T0_MS + i)
    report = sync(ledger, ex, since=datetime(2025, 12, 1, tzinfo=UTC))
    assert report.inserted == HISTORY_CAP
    assert any("keeps only the 10,000 most recent fills" in w for w in report.warnings)
    small = FakeExchange()
    small.add(T0_MS)
    assert sync(ledger, small, full=True).warnings == []


def test_synced_exchange_fill_supersedes_the_imported_record(ledger: Ledger) -> None:
    """An imported legacy buy that sync finds on the exchange (by tx hash) is counted once."""
    from dcactl.models import Fill

    ledger.add_fills([Fill(
        time=datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC), asset="BTC", pair="BTC/USDC", side="B",
        size=Decimal("0.00116263"), price=Decimal("86012.0"), fee=Decimal(0), fee_token="USDC",
        tid="imported:x", source="imported", hash="0xabc")])
    ex = FakeExchange()
    ex.add(T0_MS, sz="0.00116", px="86012", hash_="0xabc")
    report = sync(ledger, ex)
    assert report.matched_imports == 1
    (pos,) = ledger.positions()
    assert (pos.source, pos.buys, pos.invested_usd) == ("external", 1, Decimal("99.77392"))


def test_malformed_fill_is_skipped_with_a_warning(ledger: Ledger) -> None:
    """A fill missing its price is skipped and reported; the others are stored."""
    ex = FakeExchange()
    ex.add(T0_MS)
    del ex.add(T0_MS + 1)["px"]
    report = sync(ledger, ex)
    assert (report.inserted, report.malformed) == (1, 1)
    assert "malformed" in report.warnings[0]


def test_report_json_shape() -> None:
    """SyncReport.to_json has ISO times and every count."""
    from dcactl.ingest.sync import SyncReport

    doc = SyncReport(pages=1, start_ms=T0_MS, cursor_ms=T0_MS + 1000).to_json()
    assert doc["start"] == "2026-01-01T00:00:00Z" and doc["cursor"] == "2026-01-01T00:00:01Z"
    assert doc["pages"] == 1 and doc["warnings"] == []


@pytest.mark.parametrize(
    ("newest", "descending"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_every_fill_is_kept_whichever_2000_a_full_window_returns(
    ledger: Ledger, newest: bool, descending: bool
) -> None:
    """6,500 fills (1,000 of them in one millisecond) against an exchange that answers a full window
    with its earliest or its most recent 2000, oldest or newest first: every fill is stored once, the
    cursor is the newest, and a second sync adds nothing."""
    ex = FakeExchange(newest=newest, descending=descending)
    for i in range(5_500):
        ex.add(T0_MS + i * 7)
    for _ in range(1_000):
        ex.add(T0_MS + 20_000)
    report = sync(ledger, ex)
    assert (report.inserted, ledger.fill_count()) == (6_500, 6_500)
    assert {f.tid for f in ledger.fills()} == {str(f["tid"]) for f in ex.fills}
    assert ledger.get_cursor(CURSOR) == T0_MS + 5_499 * 7
    assert report.warnings == []
    assert sync(ledger, ex).inserted == 0


def test_a_fill_that_shows_up_after_a_newer_one_is_synced(ledger: Ledger) -> None:
    """A fill the exchange shows only after a newer one was synced (it is older than the cursor) is
    found by the next plain sync's lookback; one older than the lookback needs --since."""
    ex = FakeExchange()
    ex.add(T0_MS + 600_000)
    assert sync(ledger, ex).inserted == 1
    late = ex.add(T0_MS + 590_000)  # 10 s before the fill already synced
    report = sync(ledger, ex)
    assert (report.inserted, report.duplicates) == (1, 1)
    assert str(late["tid"]) in {f.tid for f in ledger.fills()}
    assert ledger.get_cursor(CURSOR) == T0_MS + 600_000
    ancient = ex.add(T0_MS + 600_000 - LOOKBACK_MS - 1)
    assert sync(ledger, ex).inserted == 0
    assert sync(ledger, ex, since=datetime(2025, 12, 31, tzinfo=UTC)).inserted == 1
    assert str(ancient["tid"]) in {f.tid for f in ledger.fills()}


def test_a_maker_fill_with_a_rebate_is_kept_and_summed(ledger: Ledger) -> None:
    """A maker buy (crossed false) with a negative USDC fee (a rebate) beside a taker buy paying its fee
    in UBTC: both stored as they came; units 0.002 − 0.0000004 = 0.0019996; USDC fees −0.05; all fees in
    USD −0.05 + 0.0000004 × 100000 = −0.01."""
    ex = FakeExchange()
    maker = ex.add(T0_MS, sz="0.001", px="100000", fee="-0.05", fee_token="USDC")
    maker["crossed"] = False
    ex.add(T0_MS + 1, sz="0.001", px="100000", fee="0.0000004", fee_token="UBTC")
    assert sync(ledger, ex).inserted == 2
    fees = [(f.fee, f.fee_token) for f in ledger.fills()]
    assert fees == [(Decimal("-0.05"), "USDC"), (Decimal("4E-7"), "UBTC")]
    (pos,) = ledger.positions()
    assert (pos.units, pos.invested_usd, pos.buy_fees_usdc, pos.fees_usd) == (
        Decimal("0.0019996"), Decimal(200), Decimal("-0.05"), Decimal("-0.01")
    )
