"""The SQLite ledger: migrations, refusal of foreign/corrupt/newer files, exact fills, intents, caches,
positions and backups."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dcactl.errors import LedgerError, UsageError
from dcactl.ledger import Candle, DuplicateIntent, Ledger, codec
from dcactl.ledger.migrations import MIGRATIONS
from dcactl.models import Fill, OrderIntent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCOUNT = "0xAbCdEf0000000000000000000000000000000001"


def fill(tid: str, *, asset: str = "BTC", size: str = "0.001", price: str = "100000", fee: str = "0",
         fee_token: str = "UBTC", source: str = "dcactl", side: str = "B", t: datetime = T0,
         **kw: object) -> Fill:
    return Fill(time=t, asset=asset, pair="@142", side=side, size=Decimal(size),  # type: ignore[arg-type]
                price=Decimal(price), fee=Decimal(fee), fee_token=fee_token, tid=tid,
                source=source, **kw)  # type: ignore[arg-type]


def intent(asset: str = "BTC", period: str = "2026-03-02T00:00:00Z", attempt: int = 0, *,
           cloid: str | None = None, status: str = "new", venue: str = "hyperliquid", usd: str = "100",
           created: datetime = T0) -> OrderIntent:
    return OrderIntent(
        cloid=cloid or f"0x{abs(hash((asset, period, attempt))):032x}"[:34], asset=asset, venue=venue,  # type: ignore[arg-type]
        period=period, attempt=attempt, usd_requested=Decimal(usd), size=Decimal("0.00099"),
        limit_px=Decimal("101000"), created_at=created, pair="@142", asset_id=10142,
        period_end=datetime(2026, 3, 3, tzinfo=UTC), status=status,  # type: ignore[arg-type]
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "ledger.db", network="devnet", account=ACCOUNT)
    yield led  # type: ignore[misc]
    led.close()


# -- opening, migrations, refusals ---------------------------------------------------------------


def test_open_creates_parent_dir_and_applies_every_migration(tmp_path: Path) -> None:
    """A new ledger is created with its directory, all migrations, WAL, and a lower-case account."""
    path = tmp_path / "deep" / "dir" / "l.db"
    with Ledger.open(path, network="devnet", account=ACCOUNT) as led:
        assert led.migrations() == [name for name, _ in MIGRATIONS]
        assert led.account == ACCOUNT.lower()
        assert led.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Ledger.open(path, network="devnet", account=None) as led:
        assert led.account == "paper"


def test_ledger_made_by_migration_1_only_upgrades(tmp_path: Path) -> None:
    """A ledger created by the first migration alone opens with today's code, upgrades, keeps its data."""
    path = tmp_path / "old.db"
    with Ledger.open(path, network="devnet", account=ACCOUNT, _upto=1) as old:
        assert old.migrations() == ["0001_core"]
        old.db.execute(
            "INSERT INTO fills (book, tid, time_us, asset, pair, side, size, price, fee, fee_token, fee_base,"
            " source, units_hi, units_lo, usd_hi, usd_lo, fee_usd_hi, fee_usd_lo)"
            " VALUES (?, '7', ?, 'BTC', '@142', 'B', '0.001', '100000', '0.0000007', 'UBTC', 1, 'dcactl',"
            " 99930, 0, 10000000000, 0, 7000000, 0)", [old._book, codec.to_us(T0)])
    with Ledger.open(path, network="devnet", account=ACCOUNT) as new:
        assert new.migrations() == [name for name, _ in MIGRATIONS]
        (pos,) = new.positions()
        assert (pos.units, pos.invested_usd, pos.fees_usd) == (
            Decimal("0.0009993"), Decimal(100), Decimal("0.07"))
        assert new.add_fills([fill("7")]) == 0  # the old row's tid is still the key
        new.upsert_candles("hl:@142", "1d", [Candle(0, 1, *(Decimal(1),) * 5)])  # migration 2's table


def test_migration_0014_indexes_an_existing_ledger_for_lots(tmp_path: Path) -> None:
    """A ledger from before 0014, with fills, upgraded: the lots' covering index exists and iter_trades
    reads it in its order (no sort, no wide rows), giving the rows it gave before the upgrade."""
    path = tmp_path / "old.db"
    upto = [name for name, _ in MIGRATIONS].index("0014_lots_index")
    later = T0 + timedelta(hours=1)
    fills = [fill("9", asset="ETH", t=later), fill("10", asset="ETH", t=later), fill("3", t=later, side="A"),
             fill("2"), fill("p", source="paper")]
    with Ledger.open(path, network="devnet", account=ACCOUNT, _upto=upto) as old:
        old.add_fills(fills)
        sql = ("SELECT time_us, asset, side, size, price, fee, fee_token, tid, source, reason FROM fills"
               " WHERE book = ? AND source != 'paper' AND superseded_by IS NULL ORDER BY asset, time_us, tid")
        before = old.db.execute(sql, [old._book]).fetchall()
    with Ledger.open(path, network="devnet", account=ACCOUNT) as new:
        assert new.migrations() == [name for name, _ in MIGRATIONS]
        statements: list[str] = []
        new._conn.set_trace_callback(statements.append)
        real = ("dcactl", "external", "imported")
        trades = list(new.iter_trades(until=T0 + timedelta(days=1), source=real))
        new._conn.set_trace_callback(None)
        assert [tuple(t) for t in trades] == [(t, a, s, Decimal(z), Decimal(p), Decimal(f), ft, tid, src, r)
                                              for t, a, s, z, p, f, ft, tid, src, r in before]
        assert [t.tid for t in trades] == ["2", "3", "10", "9"]
        (read,) = statements
        plan = new._conn.execute("EXPLAIN QUERY PLAN " + read).fetchall()
        assert [row[-1] for row in plan] == ["SEARCH fills USING COVERING INDEX fills_lots (book=?)"]


def test_migration_0015_indexes_the_sells_of_an_existing_ledger(tmp_path: Path) -> None:
    """A ledger from before 0015, with buys and sells, upgraded: sell_counts and iter_sells count and
    list its real sells (by time, then trade id), read from the sells' own partial index, which holds
    the sells only."""
    path = tmp_path / "old.db"
    upto = [name for name, _ in MIGRATIONS].index("0015_sells_index")
    later = T0 + timedelta(hours=1)
    fills = [fill("1"), fill("2", side="A", t=later), fill("3", asset="ETH", t=later, side="A"),
             fill("4", asset="ETH", side="A"), fill("5", side="A", source="paper"), fill("6", t=later)]
    real = ("dcactl", "external", "imported")
    end = T0 + timedelta(days=1)
    with Ledger.open(path, network="devnet", account=ACCOUNT, _upto=upto) as old:
        old.add_fills(fills)
    with Ledger.open(path, network="devnet", account=ACCOUNT) as new:
        assert new.migrations() == [name for name, _ in MIGRATIONS]
        statements: list[str] = []
        new._conn.set_trace_callback(statements.append)
        assert new.sell_counts(until=end, source=real) == {"BTC": 1, "ETH": 2}
        sells = list(new.iter_sells(since=T0, until=end, source=real))
        new._conn.set_trace_callback(None)
        assert [(t.tid, t.asset, t.time) for t in sells] == [("4", "ETH", T0), ("2", "BTC", later),
                                                             ("3", "ETH", later)]
        assert [t.size for t in sells] == [f.size for f in (fills[3], fills[1], fills[2])]
        for read in statements:
            plan = new._conn.execute("EXPLAIN QUERY PLAN " + read).fetchall()
            assert any("USING INDEX fills_sells" in row[-1] for row in plan), plan
        (held,) = new._conn.execute("SELECT COUNT(*) FROM fills INDEXED BY fills_sells WHERE side = 'A'"
                                    " AND book = ?", [new._book]).fetchone()
        assert held == 4  # every sell of the book (the paper one too), no buy


def test_migration_0013_marks_the_fees_the_earlier_bot_never_kept(tmp_path: Path) -> None:
    """A ledger from before 0013 stored the legacy bot's fills with fee "0": upgraded, those imported
    fills have an unknown fee; a dcactl fill whose fee really was 0 and an external one keep theirs;
    positions count the unknown ones, and new fills store the mark both ways."""
    path = tmp_path / "old.db"
    upto = [name for name, _ in MIGRATIONS].index("0013_unknown_fees")
    with Ledger.open(path, network="devnet", account=ACCOUNT, _upto=upto) as old:
        insert = ("INSERT INTO fills (book, tid, time_us, asset, pair, side, size, price, fee, fee_token,"
                  " fee_base, source, units_hi, units_lo, usd_hi, usd_lo, fee_usd_hi, fee_usd_lo)"
                  " VALUES (?, ?, ?, 'BTC', '@142', 'B', '0.001', '100000', ?, ?, ?, ?, 100000, 0,"
                  " 10000000000, 0, ?, 0)")
        for tid, fee, token, base, source, fee_hi in (
            ("imported:a", "0", "USDC", 0, "imported", 0), ("1", "0", "UBTC", 1, "dcactl", 0),
            ("2", "0.35", "USDC", 0, "external", 35000000),
        ):
            old.db.execute(insert, [old._book, tid, codec.to_us(T0), fee, token, base, source, fee_hi])
    with Ledger.open(path, network="devnet", account=ACCOUNT) as new:
        assert new.migrations() == [name for name, _ in MIGRATIONS]
        assert {f.tid: (f.fee, f.fee_unknown) for f in new.fills()} == {
            "imported:a": (Decimal(0), True), "1": (Decimal(0), False), "2": (Decimal("0.35"), False)}
        assert {(p.source, p.unknown_fees, p.fees_usd) for p in new.positions()} == {
            ("imported", 1, Decimal(0)), ("dcactl", 0, Decimal(0)), ("external", 0, Decimal("0.35"))}
        new.add_fills([fill("imported:b", source="imported", fee_token="USDC", fee_unknown=True),
                       fill("3", fee="0.0000007")])
        got = {f.tid: f.fee_unknown for f in new.fills()}
        assert (got["imported:b"], got["3"]) == (True, False)
        assert next(p for p in new.positions() if p.source == "imported").unknown_fees == 2


def test_newer_ledger_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    """A ledger naming a migration this version does not know → LedgerError "newer", file untouched."""
    path = tmp_path / "new.db"
    with Ledger.open(path, network="devnet", account=ACCOUNT) as led:
        led.db.execute("INSERT INTO migrations (name, applied_at) VALUES ('9999_from_the_future', 'x')")
        led.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="written by a newer dcactl") as err:
        Ledger.open(path, network="devnet", account=ACCOUNT)
    assert str(path) in str(err.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [
    b"this is my shopping list, not a ledger\n" * 10,
    b"\x00\xff" * 3000,
    b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 2000,
    b"SQLite",
])
def test_corrupt_or_foreign_file_is_refused_and_unchanged(tmp_path: Path, content: bytes) -> None:
    """Non-SQLite or corrupt bytes → LedgerError naming the path; same bytes after, no -wal/-shm made."""
    path = tmp_path / "ledger.db"
    path.write_bytes(content)
    with pytest.raises(LedgerError) as err:
        Ledger.open(path, network="devnet", account=ACCOUNT)
    assert str(path) in str(err.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "ledger.db"]


def test_another_programs_sqlite_database_is_refused(tmp_path: Path) -> None:
    """An SQLite file of another program is not taken over: LedgerError, bytes unchanged, no WAL files."""
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="not a dcactl ledger"):
        Ledger.open(path, network="devnet", account=ACCOUNT)
    assert path.read_bytes() == before
    assert not (tmp_path / "other.db-wal").exists()


def test_directory_as_ledger_path_is_refused(tmp_path: Path) -> None:
    """A directory given as the ledger path is a LedgerError naming it."""
    with pytest.raises(LedgerError, match="is a directory"):
        Ledger.open(tmp_path, network="devnet", account=ACCOUNT)


# -- fills -----------------------------------------------------------------------------------------


def test_fills_round_trip_exactly_and_dedup_by_tid(ledger: Ledger) -> None:
    """Decimals, microsecond times and every field come back as stored; re-adding a tid adds nothing."""
    f = fill("1", size="0.0011626284704459842", price="86012.0", fee="0.0000007", oid=5, cloid="0xaa",
             hash="0xh", period="p", reason="r", t=T0 + timedelta(microseconds=418233))
    assert ledger.add_fills([f, fill("2", side="A", fee_token="USDC", fee="0.035")]) == 2
    assert ledger.add_fills([f]) == 0
    got = {g.tid: g for g in ledger.fills()}
    assert got["1"] == f
    stored = ledger.db.execute("SELECT fee FROM fills WHERE tid = '1'").fetchone()[0]
    assert stored == "0.0000007"  # plain notation in the file, never 7E-7
    assert ledger.fill_count() == 2


def test_fill_queries_filter_and_order(ledger: Ledger) -> None:
    """fills() filters by asset, [since, until), source, orders, limits; fills_for_order finds partials."""
    ledger.add_fills([
        fill("1", t=T0, oid=9), fill("2", t=T0 + timedelta(hours=1), oid=9),
        fill("3", asset="ETH", t=T0 + timedelta(hours=2), source="external"),
        fill("4", t=T0 + timedelta(hours=3), cloid="0xc1", oid=10),
    ])
    assert [f.tid for f in ledger.fills(asset="BTC")] == ["1", "2", "4"]
    window = ledger.fills(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [f.tid for f in window] == ["2", "3"]
    assert [f.tid for f in ledger.fills(source="external")] == ["3"]
    assert [f.tid for f in ledger.fills(newest_first=True, limit=2)] == ["4", "3"]
    assert [f.tid for f in ledger.fills_for_order(oid=9)] == ["1", "2"]
    assert [f.tid for f in ledger.fills_for_order(cloid="0xc1")] == ["4"]
    with pytest.raises(ValueError):
        ledger.fills_for_order()


def test_trades_come_by_asset_then_time_then_tid_and_sells_are_counted(ledger: Ledger) -> None:
    """iter_trades: light rows by asset, time, trade id (a tie at one time in tid order, "10" before
    "9"), before ``until``, of the given sources, superseded imports left out; iter_sells and
    sell_counts see the same sells."""
    later = T0 + timedelta(hours=1)
    ledger.add_fills([
        fill("9", asset="ETH", t=later), fill("10", asset="ETH", t=later, side="A", reason="dust conversion"),
        fill("3", t=later, side="A", fee="0.5", fee_token="USDC"), fill("2", t=T0, size="0.0011"),
        fill("7", t=T0 + timedelta(days=1), side="A"), fill("p", t=T0, source="paper"),
        fill("imported:x", t=T0, source="imported", size="0.00116", price="86012", hash="0xh"),
        fill("50", t=T0 + timedelta(seconds=30), source="external", size="0.00116", price="86012", hash="0xh",
             oid=4),
    ])
    assert ledger.match_imports() == 1
    real = ("dcactl", "external", "imported")
    trades = list(ledger.iter_trades(until=T0 + timedelta(days=1), source=real))
    assert [(t.asset, t.tid) for t in trades] == [("BTC", "2"), ("BTC", "50"), ("BTC", "3"), ("ETH", "10"),
                                                  ("ETH", "9")]
    three = trades[2]
    assert (three.time, three.side, three.size, three.price, three.fee, three.fee_token, three.source) == (
        later, "A", Decimal("0.001"), Decimal(100000), Decimal("0.5"), "USDC", "dcactl")
    assert trades[3].reason == "dust conversion" and trades[0].reason is None
    texts = list(ledger.iter_trade_texts(until=T0 + timedelta(days=1), source=real))
    assert [(*t[:3], Decimal(t[3]), Decimal(t[4]), Decimal(t[5]), *t[6:]) for t in texts] == [
        tuple(t) for t in trades]
    assert (texts[0][3], texts[2][4]) == ("0.0011", "100000")  # the recorded text
    assert [t.tid for t in ledger.iter_sells(since=T0, until=T0 + timedelta(days=2), source=real)] == [
        "10", "3", "7"]
    assert [t.tid for t in ledger.iter_sells(since=later + timedelta(seconds=1))] == ["7"]
    assert ledger.sell_counts(until=T0 + timedelta(days=1), source=real) == {"BTC": 1, "ETH": 1}
    assert ledger.sell_counts(source="paper") == {}


def test_a_snapshot_does_not_see_what_another_process_commits_meanwhile(tmp_path: Path) -> None:
    """Inside snapshot() a count and a cursor agree even when another connection adds sells between
    them; after it the new fills are seen."""
    path = tmp_path / "l.db"
    with Ledger.open(path, network="devnet", account=ACCOUNT) as reader, \
            Ledger.open(path, network="devnet", account=ACCOUNT) as writer:
        writer.add_fills([fill("1"), fill("2", side="A", t=T0 + timedelta(hours=1))])
        with reader.snapshot():
            counted = reader.sell_counts()
            writer.add_fills([fill("3", side="A", t=T0 + timedelta(hours=2))])
            assert [t.tid for t in reader.iter_trades()] == ["1", "2"]
            assert counted == reader.sell_counts() == {"BTC": 1}
        assert reader.sell_counts() == {"BTC": 2}


def test_a_batch_commits_its_writes_together_each_atomic_on_its_own(tmp_path: Path) -> None:
    """Inside batch() another connection sees none of the writes until the batch ends, then all; a
    write that fails inside (a duplicate intent) leaves nothing of its own but keeps the others; an
    error out of the batch rolls every write of it back."""
    path = tmp_path / "l.db"
    with Ledger.open(path, network="devnet", account=ACCOUNT) as led, \
            Ledger.open(path, network="devnet", account=ACCOUNT) as other:
        with led.batch():
            led.add_fills([fill("1")])
            led.record_intent(intent(cloid="0x01"))
            with pytest.raises(DuplicateIntent):
                led.record_intents([intent("ETH", cloid="0x02"), intent(cloid="0x03")])  # 0x03: same slot
            with led.batch():  # nested: part of the same one
                led.update_intent("0x01", status="sent", oid=7)
            assert other.fill_count() == 0 and other.intent("0x01") is None
        assert other.fill_count() == 1 and other.intent("0x02") is None
        assert (found := other.intent("0x01")) is not None and (found.status, found.oid) == ("sent", 7)
        with pytest.raises(RuntimeError), led.batch():
            led.add_fills([fill("2")])
            raise RuntimeError("stop")
        assert other.fill_count() == 1
        led.add_fills([fill("3")])  # outside a batch again: its own commit
        assert other.fill_count() == 2


def test_books_in_one_file_never_mix(tmp_path: Path) -> None:
    """Two (network, account) books in one file see only their own fills, intents and cursors."""
    path = tmp_path / "l.db"
    with Ledger.open(path, network="devnet", account="0xa") as a, \
            Ledger.open(path, network="mainnet", account="0xa") as b:
        a.add_fills([fill("1")])
        b.add_fills([fill("1"), fill("2")])  # same tid on another network is another trade
        a.record_intent(intent())
        a.set_cursor("c", 5)
        assert (len(a.fills()), len(b.fills())) == (1, 2)
        assert b.open_intents() == [] and b.get_cursor("c") is None
        assert [p.buys for p in b.positions()] == [2]


def test_positions_hand_computed_with_fees_in_base_and_usdc(ledger: Ledger) -> None:
    """positions(): units net of base fees, invested = Σ size×price, fees valued in USDC, by source."""
    ledger.add_fills([
        fill("1", size="0.001", price="100000", fee="0.0000007", t=T0),  # 100 USDC, fee 0.07 USDC
        fill("2", size="0.002", price="50000", fee="0.0000014", t=T0 + timedelta(days=7)),  # 100, 0.07
        fill("3", asset="ETH", size="0.5", price="2000", fee="0.35", fee_token="USDC", source="external"),
        fill("4", asset="BTC", size="0.0001", price="90000", fee="0", source="paper"),
    ])
    btc, btc_paper, eth = ledger.positions()
    assert (btc.asset, btc.source, btc_paper.source, eth.asset) == ("BTC", "dcactl", "paper", "ETH")
    assert btc.units == Decimal("0.0029979")  # 0.003 − 0.0000021
    assert btc.bought_units == Decimal("0.0029979")
    assert btc.invested_usd == Decimal(200)
    assert btc.fees_usd == Decimal("0.14")  # 0.0000007×100000 + 0.0000014×50000
    assert btc.buy_fees_usdc == Decimal(0)
    assert (btc.buys, btc.first_buy, btc.last_buy) == (2, T0, T0 + timedelta(days=7))
    assert (eth.units, eth.invested_usd, eth.fees_usd, eth.buy_fees_usdc) == (
        Decimal("0.5"), Decimal(1000), Decimal("0.35"), Decimal("0.35"))
    assert (btc_paper.units, btc_paper.invested_usd) == (Decimal("0.0001"), Decimal(9))


def test_positions_stay_exact_for_values_beyond_18_decimals_and_huge_sums(ledger: Ledger) -> None:
    """Inexact companions (legacy floats) and SQLite integer overflow fall back to exact Python sums."""
    ledger.add_fills([
        fill("1", size="0.0011626284704459842", price="86012.0", fee="0", fee_token="USDC",
             source="imported"),
        fill("2", size="0.5", price="3", fee="0", fee_token="USDC", source="imported"),
    ])
    (pos,) = ledger.positions()
    assert pos.units == Decimal("0.5011626284704459842")
    assert pos.invested_usd == Decimal("1.5") + Decimal("0.0011626284704459842") * Decimal("86012.0")
    ledger.add_fills([fill(str(10 + i), asset="PEPE", size="90000000000", price="0.00001", fee="0",
                           fee_token="USDC", source="external") for i in range(2)])
    pepe = next(p for p in ledger.positions() if p.asset == "PEPE")
    assert pepe.units == Decimal(180_000_000_000)  # 1.8e19 in 10^-8 units: overflows int64
    assert pepe.invested_usd == Decimal(1_800_000)


def test_sells_reduce_units(ledger: Ledger) -> None:
    """A sell removes its size from units and shows in sold_units/proceeds_usd."""
    ledger.add_fills([fill("1", size="2", price="100", fee="0", fee_token="USDC"),
                      fill("2", side="A", size="0.5", price="300", fee="0.1", fee_token="USDC",
                           source="dcactl")])
    (pos,) = ledger.positions()
    assert (pos.units, pos.bought_units, pos.sold_units) == (Decimal("1.5"), Decimal(2), Decimal("0.5"))
    assert (pos.proceeds_usd, pos.sells, pos.buys, pos.fees_usd) == (Decimal(150), 1, 1, Decimal("0.1"))


def test_imported_fill_matching_an_exchange_fill_is_superseded_not_counted_twice(ledger: Ledger) -> None:
    """An imported buy found on the exchange (partial fills of one order) is superseded, counted once."""
    legacy = fill("imported:abc", size="0.00116263", price="86012", fee="0", fee_token="USDC",
                  source="imported", t=T0)
    ledger.add_fills([legacy])
    ledger.add_fills([  # one order in two partial fills, 40 s later, floored to 5 decimals
        fill("100", size="0.0006", price="86012", oid=77, source="external", t=T0 + timedelta(seconds=40)),
        fill("101", size="0.00056", price="86012", oid=77, source="external", t=T0 + timedelta(seconds=40)),
        fill("102", size="0.00116", price="86012", oid=78, source="external", t=T0 + timedelta(days=3)),
    ])
    assert ledger.match_imports() == 1
    assert ledger.superseded() == {"imported:abc": "100"}
    assert ledger.match_imports() == 0
    assert [p.source for p in ledger.positions()] == ["external"]
    assert len(ledger.fills()) == 3 and len(ledger.fills(include_superseded=True)) == 4


def test_imported_fill_matches_by_tx_hash_and_not_on_price_mismatch(ledger: Ledger) -> None:
    """Same tx hash matches whatever the size; a different price without hash does not match."""
    ledger.add_fills([
        fill("imported:1", size="1", price="100", fee_token="USDC", source="imported", hash="0xfeed"),
        fill("imported:2", size="1", price="100", fee_token="USDC", source="imported",
             t=T0 + timedelta(hours=1)),
        fill("500", size="0.9", price="101", source="dcactl", hash="0xfeed", t=T0 + timedelta(minutes=10)),
        fill("501", size="1", price="101", source="dcactl", t=T0 + timedelta(hours=1, seconds=5)),
    ])
    assert ledger.match_imports() == 1
    assert ledger.superseded() == {"imported:1": "500"}


# -- intents, runs, caps -------------------------------------------------------------------------


def test_a_batch_of_intents_is_written_whole_or_not_at_all(ledger: Ledger) -> None:
    """record_intents: the orders of one action in one transaction; a duplicate among them (the
    third repeats the first's cloid) refuses the batch, naming it, and leaves none of it behind."""
    a, b = intent("BTC", cloid="0x0a"), intent("ETH", cloid="0x0b")
    with pytest.raises(DuplicateIntent, match=r"for SOL .*\(cloid 0x0a\)"):
        ledger.record_intents([a, b, intent("SOL", cloid="0x0a")])
    assert ledger.open_intents() == []
    ledger.record_intents([a, b])
    assert ledger.open_intents() == [a, b]


def test_intents_lifecycle_and_uniqueness(ledger: Ledger) -> None:
    """record → duplicate refused (cloid, or asset/period/attempt) → update → open_intents/intents_for."""
    first = intent(cloid="0x01")
    ledger.record_intent(first)
    with pytest.raises(DuplicateIntent):
        ledger.record_intent(first)
    with pytest.raises(DuplicateIntent):
        ledger.record_intent(intent(cloid="0x02"))  # same asset, period, attempt
    assert ledger.intent("0x01") == first
    assert ledger.open_intents() == [first]
    ledger.update_intent("0x01", status="sent", oid=4242)
    ledger.update_intent("0x01", status="unfilled", reason="IOC found no match")
    got = ledger.intent("0x01")
    assert got is not None and (got.status, got.oid, got.reason) == ("unfilled", 4242, "IOC found no match")
    assert ledger.intent_by_oid(4242) == got
    ledger.record_intent(intent(attempt=1, cloid="0x03"))
    assert [i.attempt for i in ledger.intents_for("BTC", "2026-03-02T00:00:00Z")] == [0, 1]
    assert [i.cloid for i in ledger.open_intents()] == ["0x03"]
    with pytest.raises(LedgerError, match="no order intent"):
        ledger.update_intent("0xnope", status="filled")


def test_intent_keeps_its_signed_expiry(ledger: Ledger) -> None:
    """The expiresAfter signed into an order is stored with its intent and read back exactly."""
    from dataclasses import replace

    signed = replace(intent(cloid="0x0e"), expires_at=T0 + timedelta(seconds=12, microseconds=345))
    ledger.record_intent(signed)
    assert ledger.intent("0x0e") == signed


def test_unknown_order_waits_for_its_stored_expiry_whatever_the_config_says() -> None:
    """Lowering request_timeout after a lost response never shortens the wait: the stored expiry
    rules, and an intent from before expiries were stored waits for the longest allowed timeout."""
    from dataclasses import replace
    from types import SimpleNamespace

    from dcactl.run.reconcile import CLOCK_MARGIN_S, MAX_REQUEST_TIMEOUT_S, SEND_SLACK_S, void_at

    session: Any = SimpleNamespace(config=SimpleNamespace(settings=SimpleNamespace(request_timeout=1.0)))
    stored = replace(intent(), expires_at=T0 + timedelta(seconds=12))
    assert void_at(session, stored) == T0 + timedelta(seconds=12 + CLOCK_MARGIN_S)
    legacy = intent()
    assert void_at(session, legacy) == legacy.created_at + timedelta(
        seconds=MAX_REQUEST_TIMEOUT_S + SEND_SLACK_S + CLOCK_MARGIN_S
    )


def test_last_buy_ignores_forced_unfinished_and_failed(ledger: Ledger) -> None:
    """last_buy is the newest filled/partial/paper non-forced intent, with its period bounds."""
    assert ledger.last_buy("BTC") is None
    ledger.record_intent(intent(period="2026-03-01T00:00:00Z", cloid="0x1", status="filled",
                                created=T0 - timedelta(days=1)))
    ledger.record_intent(intent(period="forced:2026-03-02T10:00:00Z", cloid="0x2", status="filled",
                                created=T0 + timedelta(hours=1)))
    ledger.record_intent(intent(period="2026-03-02T00:00:00Z", cloid="0x3", status="new"))
    last = ledger.last_buy("BTC")
    assert last is not None
    assert (last.cloid, last.period, last.period_start, last.period_end) == (
        "0x1", "2026-03-01T00:00:00Z", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    ledger.update_intent("0x3", status="partial")
    last = ledger.last_buy("BTC")
    assert last is not None and last.cloid == "0x3"


def test_usd_committed_counts_real_fills_and_open_intents_once(ledger: Ledger) -> None:
    """Day total = dcactl buy fills in [start, end) + open intents' requests (not their fills again)."""
    day = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    ledger.record_intent(intent(cloid="0xopen", usd="40", status="sent"))
    ledger.record_intent(intent(asset="SOL", cloid="0xpaper", usd="25", venue="paper", status="sent"))
    ledger.add_fills([
        fill("1", size="0.001", price="100000", cloid="0xdone"),  # 100
        fill("2", size="0.0001", price="100000", cloid="0xopen"),  # 10, inside the open intent's 40
        fill("3", size="1", price="5", source="external"),  # not dcactl's spending
        fill("4", size="1", price="7", source="paper"),
        fill("5", size="1", price="1000", t=day[1]),  # next day
    ])
    assert ledger.usd_committed(*day) == Decimal(140)
    assert ledger.usd_committed(*day, real_only=False) == Decimal(172)  # + paper fill 7 + paper intent 25


def test_runs_are_recorded(ledger: Ledger) -> None:
    """begin_run/end_run store the run and its JSON summary."""
    ledger.begin_run("r1", T0, "paper", "run")
    ledger.end_run("r1", T0 + timedelta(seconds=2), {"run_id": "r1", "results": []})
    (run,) = ledger.runs()
    assert (run["run_id"], run["finished_at"], run["summary"]) == ("r1", T0 + timedelta(seconds=2),
                                                                   {"run_id": "r1", "results": []})


def test_cache_candles_and_cursors(ledger: Ledger) -> None:
    """Metadata cache with fetch time, candle upsert by open time, per-book cursors."""
    assert ledger.cache_get("spotMeta") is None
    ledger.cache_put("spotMeta", '{"tokens": []}', T0)
    assert ledger.cache_get("spotMeta") == ('{"tokens": []}', T0)
    c = [Candle(i * 86_400_000, (i + 1) * 86_400_000 - 1, Decimal("1.5"), Decimal(2), Decimal(1),
                Decimal(f"1.{i}"), Decimal("10.25")) for i in range(3)]
    assert ledger.upsert_candles("hl:@142", "1d", c) == 3
    nines = Candle(c[2].open_ms, c[2].close_ms, *(Decimal(9),) * 5)
    assert ledger.upsert_candles("hl:@142", "1d", [nines]) == 1
    assert ledger.last_candle_ms("hl:@142", "1d") == 2 * 86_400_000
    got = ledger.candles("hl:@142", "1d", since_ms=86_400_000)
    assert got == [c[1], nines]
    assert ledger.last_candle_ms("hl:@142", "1h") is None
    assert ledger.get_cursor("sync") is None
    ledger.set_cursor("sync", 1_700_000_000_000)
    assert ledger.get_cursor("sync") == 1_700_000_000_000


# -- backup ----------------------------------------------------------------------------------------


def test_backup_is_consistent_while_another_connection_writes(tmp_path: Path) -> None:
    """A backup taken while another connection commits 50-fill batches holds whole batches only."""
    path = tmp_path / "l.db"
    stop = threading.Event()
    batches = [0]

    def writer() -> None:
        with Ledger.open(path, network="devnet", account=ACCOUNT) as w:
            while not stop.is_set() and batches[0] < 400:
                n = batches[0]
                w.add_fills([fill(f"{n}-{i}", t=T0 + timedelta(seconds=n)) for i in range(50)])
                batches[0] += 1

    with Ledger.open(path, network="devnet", account=ACCOUNT) as led:
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            while batches[0] < 5:
                time.sleep(0.01)  # not Event.wait(timeout): its deadline breaks under libfaketime
            led.backup(tmp_path / "copy.db")
        finally:
            stop.set()
            thread.join()
        with pytest.raises(UsageError, match="already exists"):
            led.backup(tmp_path / "copy.db")
        with pytest.raises(UsageError, match="the ledger itself"):
            led.backup(path, overwrite=True)
    with Ledger.open(tmp_path / "copy.db", network="devnet", account=ACCOUNT) as copy:
        count = copy.fill_count()
        assert count >= 250 and count % 50 == 0
        assert copy.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Ledger.open(path, network="devnet", account=ACCOUNT) as led:
        led.backup(tmp_path / "copy.db", overwrite=True)
    with Ledger.open(tmp_path / "copy.db", network="devnet", account=ACCOUNT) as copy:
        assert copy.fill_count() == batches[0] * 50


def test_write_lock_held_too_long_is_a_temporary_error(ledger: Ledger) -> None:
    """Another process holding the write lock past the busy timeout → TemporaryError (exit 3), not a crash."""
    from dcactl.errors import TemporaryError

    ledger.db.execute("PRAGMA busy_timeout = 20")
    other = sqlite3.connect(ledger.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(TemporaryError, match="locked"):
            ledger.set_cursor("c", 1)
        other.execute("ROLLBACK")
    finally:
        other.close()
    ledger.set_cursor("c", 1)
    assert ledger.get_cursor("c") == 1


def test_a_ledger_path_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    """--db /dev/null: a clear LedgerError, and nothing is written beside it (no -journal file)."""
    from dcactl.errors import LedgerError

    with pytest.raises(LedgerError, match="/dev/null: not a regular file"):
        Ledger.open(Path("/dev/null"), network="devnet", account=ACCOUNT)
    assert not Path("/dev/null-journal").exists() and not Path("/dev/null-wal").exists()
