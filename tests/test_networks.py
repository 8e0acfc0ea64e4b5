"""One exchange, one network id, however it is written: the book, the lock, the default ledger file and
every cloid hang on it, so another spelling of the same exchange never buys a period again."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from live_support import THREE, funded_wallet, key_hex, live_portfolio, orders_per_period, statuses

from dcactl.ledger import Ledger
from dcactl.ledger.migrations import MIGRATIONS
from dcactl.networks import canonical_network, canonical_url

SPELLINGS = [
    ("devnet", "devnet"),
    ("http://127.0.0.1:3001", "devnet"),
    ("http://127.0.0.1:3001/", "devnet"),
    ("http://localhost:3001", "devnet"),
    ("HTTP://LocalHost:3001//", "devnet"),
    ("mainnet", "mainnet"),
    ("https://api.hyperliquid.xyz", "mainnet"),
    ("https://API.Hyperliquid.xyz:443/", "mainnet"),
    ("https://api.hyperliquid-testnet.xyz/", "testnet"),
    ("http://127.0.0.1:3002", "http://127.0.0.1:3002"),
    ("http://localhost:80/", "http://127.0.0.1"),
    ("https://node.example.org:8443/api/", "https://node.example.org:8443/api"),
    ("http://[::1]:3001", "http://[::1]:3001"),
]


@pytest.mark.parametrize(("spelled", "network_id"), SPELLINGS)
def test_every_spelling_of_an_exchange_has_one_id(spelled: str, network_id: str) -> None:
    """Names stay; a URL of a named network is that name; any other URL gets one spelling (scheme and
    host lower-case, localhost → 127.0.0.1, no default port, no trailing slash)."""
    assert canonical_network(spelled) == network_id
    assert canonical_network(network_id) == network_id, "canonical ids are fixed points"


def test_canonical_url_is_idempotent() -> None:
    for spelled, _ in SPELLINGS:
        if "://" in spelled:
            assert canonical_url(canonical_url(spelled)) == canonical_url(spelled)


def _old_ledger(path: Path) -> None:
    """A ledger at migration 0010 holding one account under three spellings of the devnet: two books
    bought the same period (attempt 1 each, the same exchange fill seen by both), one has a cursor."""
    before_0011 = [name for name, _ in MIGRATIONS].index("0011_canonical_networks")
    Ledger.open(path, network="devnet", account="0xabc", _upto=before_0011).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO books (network, account) VALUES ('http://localhost:3001/', '0xabc')")
        conn.execute("INSERT INTO books (network, account) VALUES ('http://127.0.0.1:3001', '0xabc')")
        books = dict(conn.execute("SELECT network, id FROM books").fetchall())
        intent = ("INSERT INTO intents (cloid, book, asset, venue, period, period_start_us, attempt,"
                  " usd_requested, size, limit_px, pair, created_us, updated_us, status) VALUES (?, ?, 'BTC',"
                  " 'hyperliquid', '2026-03-01', 0, ?, '20', '0.0002', '100000', '@142', ?, ?, 'filled')")
        conn.execute(intent, ("0x01", books["devnet"], 1, 10, 10))
        conn.execute(intent, ("0x02", books["http://localhost:3001/"], 1, 20, 20))
        conn.execute(intent, ("0x03", books["http://localhost:3001/"], 2, 30, 30))
        fill = ("INSERT INTO fills (book, tid, asset, pair, side, size, price, fee, fee_token, fee_base,"
                " time_us, source, cloid, units_hi, units_lo, usd_hi, usd_lo, fee_usd_hi, fee_usd_lo)"
                " VALUES (?, ?, 'BTC', '@142', 'B', '0.0002', '100000', '0', 'UBTC', 1, ?, 'dcactl', ?,"
                " 0, 0, 0, 0, 0, 0)")
        conn.execute(fill, (books["devnet"], "7", 10, "0x01"))
        conn.execute(fill, (books["http://localhost:3001/"], "7", 10, "0x01"))
        conn.execute(fill, (books["http://localhost:3001/"], "8", 20, "0x02"))
        conn.execute("INSERT INTO cursors (book, name, value) VALUES (?, 'sync.fills_ms', 500)",
                     (books["devnet"],))
        conn.execute("INSERT INTO cursors (book, name, value) VALUES (?, 'sync.fills_ms', 300)",
                     (books["http://127.0.0.1:3001"],))
    conn.close()


def test_migration_merges_the_books_of_one_exchange(tmp_path: Path) -> None:
    """0011 moves every row to the canonical book: intents renumbered past the ones there (1 → 2, 2 → 3),
    the fill both books saw kept once, the earlier cursor kept, the other books gone."""
    db = tmp_path / "ledger.db"
    _old_ledger(db)
    with Ledger.open(db, network="devnet", account="0xabc") as ledger:
        assert "0011_canonical_networks" in ledger.migrations()
        conn = ledger._conn
        assert conn.execute("SELECT network FROM books").fetchall() == [("devnet",)]
        attempts = conn.execute("SELECT cloid, attempt FROM intents ORDER BY cloid").fetchall()
        assert attempts == [("0x01", 1), ("0x02", 2), ("0x03", 3)]
        assert conn.execute("SELECT tid FROM fills ORDER BY tid").fetchall() == [("7",), ("8",)]
        assert ledger.get_cursor("sync.fills_ms") == 300


def test_another_spelling_of_the_same_exchange_never_buys_again(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The devnet at http://127.0.0.1:PORT, then http://localhost:PORT/ and HTTP://127.0.0.1:PORT on the
    same ledger: one buy per asset and period (the old ids made three books and three buys)."""
    wallet = funded_wallet(devnet, "1000")
    monkeypatch.setenv("DCACTL_KEY", key_hex(wallet))
    port = devnet.url.rsplit(":", 1)[1]
    results = []
    for i, url in enumerate([devnet.url, f"http://localhost:{port}/", f"HTTP://127.0.0.1:{port}"]):
        cfg = live_portfolio(tmp_path / f"p{i}.toml", url, THREE, wallet.address)
        res = cli("--config", str(cfg), "--json", "run")
        assert res.code == 0, res.err
        results.append(set(statuses(res.json()).values()))
    assert results == [{"filled"}, {"not_due"}, {"not_due"}]
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert len(orders) == 3
    assert set(orders_per_period(orders, tmp_path / "p0.toml", devnet.url, wallet.address).values()) == {1}


def test_default_ledger_file_of_an_old_spelling_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no database set, ``network = "http://127.0.0.1:3001"`` used to get a file of its own: it stays
    in use (its history would otherwise be lost to a fresh ledger-devnet.db); with no such file, the
    canonical name is used, and spellings of one exchange share it."""
    from dcactl.config.files import resolve_db_path, safe_network_id
    from dcactl.config.schema import parse_config_text, validate_document

    monkeypatch.setenv("DCACTL_HOME", str(tmp_path))
    monkeypatch.delenv("DCACTL_DB", raising=False)

    def path_for(network: str) -> Path:
        text = f'[settings]\nnetwork = "{network}"\n[assets.BTC]\namount = 20\nevery = "day"\n'
        cfg = validate_document(parse_config_text(text, tmp_path / "p.toml"), tmp_path / "p.toml")
        return resolve_db_path(None, cfg)

    data = tmp_path / "data"
    assert path_for("http://localhost:3001/") == data / "ledger-devnet.db"
    old = data / f"ledger-{safe_network_id('http://127.0.0.1:3001')}.db"
    data.mkdir()
    old.write_bytes(b"")
    assert path_for("http://127.0.0.1:3001") == old
    assert path_for("devnet") == data / "ledger-devnet.db"


def test_a_renamed_entry_keeps_its_periods_and_two_entries_on_one_market_are_refused(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Periods, intents and cloids are keyed by the market: [assets.BTC] bought today, renamed
    [assets.UBTC] or [assets.MINE] with pair = "@142" is not due again; BTC and UBTC side by side both
    fail naming each other (exit 1) and nothing more is placed."""
    wallet = funded_wallet(devnet, "1000")
    monkeypatch.setenv("DCACTL_KEY", key_hex(wallet))
    cfg = tmp_path / "p.toml"

    def run(body: str) -> Any:
        live_portfolio(cfg, devnet.url, body, wallet.address)
        return cli("--config", str(cfg), "--json", "run")

    first = run('[assets.BTC]\namount = 20\nevery = "day"\n')
    assert first.code == 0 and statuses(first.json()) == {"BTC": "filled"}, first.err
    renamed = run('[assets.UBTC]\namount = 20\nevery = "day"\n')
    assert statuses(renamed.json()) == {"UBTC": "not_due"}
    status = cli("--config", str(cfg), "--json", "status").json()
    (row,) = [r for r in status["assets"] if r["asset"] == "UBTC"]
    assert row["next_due"] > status["as_of"] and row["missed_periods"] == 0, row  # its history, by market
    by_pair = run('[assets.MINE]\namount = 20\nevery = "day"\npair = "@142"\n')
    assert statuses(by_pair.json()) == {"MINE": "not_due"}
    both = run('[assets.BTC]\namount = 20\nevery = "day"\n[assets.UBTC]\namount = 20\nevery = "day"\n')
    assert both.code == 1
    assert statuses(both.json()) == {"BTC": "failed", "UBTC": "failed"}
    assert all("assets.BTC and assets.UBTC resolve to the same market @142" in r["reason"]
               for r in both.json()["results"])
    assert [o["coin"] for o in devnet.admin.orders(user=wallet.address.lower())] == ["@142"]
