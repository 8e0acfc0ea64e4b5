"""Bad input of every kind gets one clear line (``dcactl: error: ...``) naming what is wrong and where,
exit 2, nothing imported or half-written — never "internal error", never a 5 MB value echoed back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dcactl.errors import LedgerError
from dcactl.ledger import Ledger

LEGACY = Path(__file__).resolve().parents[2] / "shared" / "legacy-samples"
PORTFOLIO = '[settings]\nnetwork = "devnet"\n[assets.BTC]\namount = 20\nevery = "day"\n'
GOOD = {"timestamp": "2025-03-03T09:00:12", "price": 86012.0, "amount_usd": 100.0, "amount_btc": 0.00116263}
NOTHING = "nothing imported (pass --skip-bad to import the valid records)"


def _cfg(tmp_path: Path, body: str = PORTFOLIO) -> Path:
    cfg = tmp_path / "p.toml"
    cfg.write_text(body)
    return cfg


def _record(**changes: Any) -> str:
    """One history record as JSON text; values are JSON text (``NaN``, ``1e308``) spliced in as is."""
    fields = {k: json.dumps(v) for k, v in GOOD.items()} | changes
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


# --- import legacy ---------------------------------------------------------------------------------

BAD_RECORDS = [
    ({"price": "1e308"}, "price: implausibly large"),
    ({"price": "1e400"}, "price: not a finite number: inf"),
    ({"price": "-Infinity"}, "price: not a finite number: -inf"),
    ({"amount_btc": "NaN"}, "amount_btc: not a finite number: nan"),
    ({"amount_btc": "Infinity"}, "amount_btc: not a finite number: inf"),
    ({"timestamp": '"0001-01-01T00:00:00"'}, "timestamp: '0001-01-01T00:00:00' is before any crypto trade"),
    ({"timestamp": '"2099-01-01T00:00:00"'}, "timestamp: '2099-01-01T00:00:00' is in the future"),
    # past the calendar's ends once moved to UTC (OverflowError before)
    ({"timestamp": '"0001-01-01T00:00:00+05:00"'}, "timestamp: '0001-01-01T00:00:00+05:00' is before any"),
    ({"timestamp": '"9999-12-31T23:59:59-05:00"'}, "timestamp: '9999-12-31T23:59:59-05:00' is in the future"),
    ({"asset": json.dumps("B" * 100_000), "amount_asset": "0.1"}, "asset: expected a symbol (1 to 12"),
]


@pytest.mark.parametrize(("changes", "problem"), BAD_RECORDS, ids=[p for _, p in BAD_RECORDS])
def test_a_bad_legacy_record_is_named_by_file_record_and_field(
    tmp_path: Path, cli: Any, changes: dict[str, str], problem: str
) -> None:
    """Huge, NaN, infinite numbers and impossible dates: exit 2, one line naming file, record and field
    (plus the line saying nothing was imported), no fill stored; --skip-bad counts it as skipped."""
    history = tmp_path / "h.json"
    history.write_text(f"[{_record()}, {_record(**changes)}]")
    cfg, db = _cfg(tmp_path), tmp_path / "l.db"
    res = cli("--config", str(cfg), "--db", str(db), "import", "legacy", "--history", str(history))
    assert res.code == 2 and res.out == "", res.err
    lines = res.err.splitlines()
    assert len(lines) == 2 and lines[1] == f"dcactl: error: h.json: {NOTHING}", res.err
    assert lines[0].startswith(f"dcactl: error: h.json: record 2: {problem}"), lines[0]
    assert len(lines[0]) < 200 and "internal error" not in res.err
    if db.exists():
        with Ledger.open(db, network="devnet", account=None) as ledger:
            assert ledger.fills() == []
    res = cli("--json", "--config", str(cfg), "--db", str(db), "import", "legacy", "--history", str(history),
              "--skip-bad")
    assert res.code == 0, res.err
    report = res.json()["import"]
    assert report["inserted"] == 1 and len(report["skipped"]) == 1
    assert report["skipped"][0].startswith(f"h.json: record 2: {problem}")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "arrays or objects nested too deeply"),
        (f"[{_record(price='9' * 5000)}]", "a number of thousands of digits"),
    ],
    ids=["nested", "huge-integer"],
)
def test_a_legacy_file_python_cannot_parse_is_one_line(
    tmp_path: Path, cli: Any, text: str, problem: str
) -> None:
    """Deeply nested JSON and an integer of 5,000 digits (RecursionError, ValueError before) are one
    line naming the file, exit 2, nothing imported — for the history and the bot's config alike."""
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    cfg, db = _cfg(tmp_path), tmp_path / "l.db"
    res = cli("--config", str(cfg), "--db", str(db), "import", "legacy", "--history", str(bad))
    assert res.code == 2 and res.err == f"dcactl: error: {bad}: not a file of the earlier bot: {problem}\n"
    assert not db.exists()
    out = tmp_path / "converted.toml"
    res = cli("--config", str(cfg), "--db", str(db), "import", "legacy", "--history",
              str(LEGACY / "dca_history.json"), "--legacy-config", str(bad), "--output", str(out))
    assert res.code == 2 and res.err == f"dcactl: error: {bad}: not a file of the earlier bot: {problem}\n"
    assert not out.exists()


# --- config, options, environment ------------------------------------------------------------------

BAD_CONFIGS = [
    ('every = "999999w"', 'assets.BTC.every: schedule \'999999w\' is longer than a year: at most 52w'),
    ('every = "8785h"', "assets.BTC.every: schedule '8785h' is longer than a year: at most 8784h"),
    ("x = " + "[" * 5000 + "]" * 5000, "invalid TOML: arrays or tables nested too deeply"),
    ("x = " + "{a=" * 3000 + "1" + "}" * 3000, "invalid TOML: arrays or tables nested too deeply"),
    ("max = " + "9" * 5000, "invalid TOML: a number of thousands of digits"),
    ('every = "' + "d" * 5_000_000 + '"', "assets.BTC.every: unknown schedule 'dddddddddddddddddddd'…"),
    ("k" * 5_000_000 + " = 1", "assets.BTC." + "k" * 29 + "… (5,000,011 characters): unknown key"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_CONFIGS, ids=[p[:40] for _, p in BAD_CONFIGS])
def test_a_bad_config_value_is_one_short_line(tmp_path: Path, cli: Any, line: str, problem: str) -> None:
    """A 999999-week schedule (an OverflowError in status before), deep nesting, a 5,000-digit number,
    a 5 MB value or key (echoed whole before): one line naming file and key, shortened, exit 2."""
    body = PORTFOLIO.replace('every = "day"\n', "") + line + "\n"
    if "every" not in line:
        body += 'every = "day"\n'
    cfg = _cfg(tmp_path, body)
    for command in (["status"], ["plan"], ["run", "--dry-run"]):
        res = cli("--config", str(cfg), "--db", str(tmp_path / "l.db"), *command)
        assert res.code == 2 and res.out == "", res.err[:300]
        assert len(res.err.splitlines()) == 1 and len(res.err) < 400, res.err[:300]
        assert res.err.startswith(f"dcactl: error: {cfg}: {problem}"), res.err[:300]


@pytest.mark.parametrize("option", ["--db", "--config"])
@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_path_option_is_refused(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, option: str, value: str
) -> None:
    """``--db ""`` (a script's unset variable) was taken as the folder "." ("is a directory") and
    ``--db " "`` made a ledger named " " in the working folder: now one line saying the path is
    empty, exit 2, and no ledger or lock is made anywhere."""
    monkeypatch.chdir(tmp_path)
    cfg = _cfg(tmp_path)
    args = ["--config", str(cfg), "--db", str(tmp_path / "l.db")]
    args[args.index(option) + 1] = value
    res = cli(*args, "run")
    assert res.code == 2
    assert res.err == f'dcactl: error: {option} "{value}": an empty path; give a file name\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "p.toml"]


@pytest.mark.parametrize("under", ["", "sub/deeper"])
def test_a_lock_dir_under_a_regular_file_is_named(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, under: str
) -> None:
    """DCACTL_LOCK_DIR at or under a regular file: one line naming that file ("File exists" before),
    exit 2, nothing bought or written."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DCACTL_LOCK_DIR", str(blocker / under) if under else str(blocker))
    cfg = _cfg(tmp_path)
    res = cli("--config", str(cfg), "--db", str(tmp_path / "l.db"), "run")
    assert res.code == 2 and len(res.err.splitlines()) == 1, res.err
    assert f"cannot create the run lock: {blocker} is a file, not a folder" in res.err
    assert blocker.read_text() == "not a folder"


# --- the ledger's file system ----------------------------------------------------------------------

READERS = [["status"], ["history"], ["runs"], ["lots", "--year", "2025"], ["report", "--output", "r.html"]]


@pytest.mark.parametrize("command", READERS, ids=[c[0] for c in READERS])
def test_a_command_that_only_looks_creates_no_ledger(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """status, history, runs, lots and report with no ledger at the path leave none behind (report
    created an empty ledger before)."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "data" / "l.db"
    res = cli("--config", str(_cfg(tmp_path)), "--db", str(db), *command)
    assert res.code == 0, res.err
    assert not db.exists() and not db.parent.exists()


def _imported_ledger(tmp_path: Path, cli: Any, cfg: Path, db: Path) -> None:
    res = cli("--config", str(cfg), "--db", str(db), "import", "legacy", "--history",
              str(LEGACY / "dca_history.json"))
    assert res.code == 0, res.err


def test_a_ledger_on_a_read_only_file_system_is_read_and_never_written(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a read-only mount, the commands that only look open the ledger read-only and show it
    (exit 2 "read-only file system" before); a write through the library names the read-only file
    system; the file is byte for byte the same and gets no -wal or -shm."""
    from test_storage_errors import read_only_view

    monkeypatch.chdir(tmp_path)

    src, view, cfg = tmp_path / "src", tmp_path / "ro", _cfg(tmp_path)
    _imported_ledger(tmp_path, cli, cfg, src / "l.db")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    with read_only_view(src, view):
        history = cli("--json", "--config", str(cfg), "--db", str(view / "l.db"), "history", "--format",
                      "json")
        shown = {c[0]: cli("--config", str(cfg), "--db", str(view / "l.db"), *c) for c in READERS}
        with Ledger.open(view / "l.db", network="devnet", account=None) as ledger:
            assert ledger.read_only == f"{view} is on a read-only file system"
            kept = ledger.fills()
            with pytest.raises(LedgerError, match=r"cannot write to the ledger: .* read-only file system"):
                ledger.set_cursor("x", 1)
        sync = cli("--config", str(cfg), "--db", str(view / "l.db"), "sync")
    assert history.code == 0 and len(history.json()["fills"]) == len(kept) > 0, history.err
    for name, res in shown.items():
        assert res.code == 0, (name, res.err)
    assert "BTC" in shown["status"].out
    assert sync.code == 2 and len(sync.err.splitlines()) == 1 and "Read-only file system" in sync.err
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_an_old_ledger_on_a_read_only_file_system_is_not_called_corrupt(tmp_path: Path, cli: Any) -> None:
    """A ledger that needs migrating but cannot be written: one line naming the read-only file system
    and the upgrade it needs, exit 2 — never "corrupt"."""
    from test_storage_errors import read_only_view

    src, view = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    Ledger.open(src / "l.db", network="devnet", account=None, _upto=2).close()
    before = (src / "l.db").read_bytes()
    with read_only_view(src, view):
        res = cli("--config", str(_cfg(tmp_path)), "--db", str(view / "l.db"), "status")
    assert res.code == 2 and len(res.err.splitlines()) == 1, res.err
    assert f"{view} is on a read-only file system" in res.err and "must first upgrade it" in res.err
    assert "corrupt" not in res.err and "not damaged" in res.err
    assert (src / "l.db").read_bytes() == before


def _ledger_needing_a_big_migration(path: Path) -> None:
    """A ledger of 2 migrations whose next one (an index over 6,000 fills' hashes) needs ~2 MB."""
    with Ledger.open(path, network="devnet", account=None, _upto=2) as ledger:
        conn = ledger._conn
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO fills (book, tid, time_us, asset, pair, side, size, price, fee, fee_token, fee_base,"
            " source, hash, units_hi, units_lo, usd_hi, usd_lo, fee_usd_hi, fee_usd_lo) VALUES"
            " (1, ?, ?, 'BTC', 'BTC/USDC', 'B', '1', '1', '0', 'USDC', 0, 'imported', ?, 0, 0, 0, 0, 0, 0)",
            [(f"t{i}", i, f"0x{i:064x}" * 8) for i in range(6000)],
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_a_migration_on_a_full_disk_names_the_disk(tmp_path: Path, cli: Any) -> None:
    """A migration that runs out of disk with 1.5 MB still free (SQLite rolls back by itself) said
    "migration failed: cannot rollback - no transaction is active": now one line naming the full
    disk, exit 2, and the ledger keeps its migrations and fills."""
    from test_storage_errors import mounted

    ready, disk = tmp_path / "ready.db", tmp_path / "disk"
    _ledger_needing_a_big_migration(ready)
    with mounted(["-t", "tmpfs", "-o", "size=8m", "tmpfs"], disk):
        (disk / "l.db").write_bytes(ready.read_bytes())
        fs = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (fs.f_bavail * fs.f_frsize - 1536 * 1024))
        res = cli("--config", str(_cfg(tmp_path)), "--db", str(disk / "l.db"), "status")
        with Ledger.open(disk / "l.db", network="devnet", account=None, _upto=2) as ledger:
            kept = (ledger.migrations(), len(ledger._conn.execute("SELECT id FROM fills").fetchall()))
    assert res.code == 2 and len(res.err.splitlines()) == 1, res.err
    assert f"the disk holding {disk} is full" in res.err and "rollback" not in res.err, res.err
    assert kept == (["0001_core", "0002_candles"], 6000)


# --- a killed backup -------------------------------------------------------------------------------


def test_a_backup_killed_mid_copy_leaves_nothing_the_next_backup_keeps(tmp_path: Path, cli: Any) -> None:
    """SIGKILL in the middle of the copy (DCACTL_CRASH_AT=mid_backup, a real kill of a real process):
    nothing at the destination's name; the copy and its -journal are left under the temporary
    name, and the next backup removes both (the -journal stayed forever before) and writes a
    whole copy."""
    import signal
    import subprocess
    import sys

    cfg, db, dest = _cfg(tmp_path), tmp_path / "l.db", tmp_path / "b.db"
    _imported_ledger(tmp_path, cli, cfg, db)
    env = {**os.environ, "DCACTL_CRASH_AT": "mid_backup"}
    killed = subprocess.run(
        [sys.executable, "-m", "dcactl", "--config", str(cfg), "--db", str(db), "backup", str(dest)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".b.db."))
    assert not dest.exists()
    assert [name.split(".tmp")[1] for name in left] == ["", "-journal"], left
    res = cli("--config", str(cfg), "--db", str(db), "backup", str(dest))
    assert res.code == 0, res.err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.db.")]
    with Ledger.open(dest, network="devnet", account=None) as copy, Ledger.open(
        db, network="devnet", account=None
    ) as ledger:
        assert copy.fills() == ledger.fills() != []
