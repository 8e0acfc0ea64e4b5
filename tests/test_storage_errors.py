"""The file system in the way: a read-only mount, a full disk, a missing ledger to back up, a killed
backup's leftovers. Each is one clear line naming the real cause, exit 2, and nothing half-written —
never "the ledger is corrupt", which invites deleting a good one. The mounts need root with mount
rights (CI runs as root); elsewhere those tests skip and say why."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

BODY = '[settings]\nnetwork = "devnet"\n[assets.BTC]\namount = 20\nevery = "day"\n'


@contextmanager
def mounted(args: list[str], where: Path) -> Iterator[None]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *args, str(where)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or 'not root'}); the check needs mount rights")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@contextmanager
def read_only_view(src: Path, where: Path) -> Iterator[None]:
    with mounted(["--bind", str(src)], where):
        remount = ["mount", "-o", "remount,bind,ro", str(where)]
        done = subprocess.run(remount, capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip("cannot remount read-only here; the check needs mount rights")
        yield


def _portfolio(tmp_path: Path) -> Path:
    cfg = tmp_path / "p.toml"
    cfg.write_text(BODY)
    return cfg


def test_a_ledger_on_a_read_only_file_system_is_not_called_corrupt(tmp_path: Path, cli: Any) -> None:
    """status reads a ledger behind a read-only mount; run cannot take its lock there: one line, exit 2."""
    from dcactl.ledger import Ledger

    src, view = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    Ledger.open(src / "l.db", network="devnet", account=None).close()
    before = (src / "l.db").read_bytes()
    cfg = _portfolio(tmp_path)
    with read_only_view(src, view):
        status = cli("--config", str(cfg), "--db", str(view / "l.db"), "status")
        run = cli("--config", str(cfg), "--db", str(view / "l.db"), "run")
    assert status.code == 0 and "corrupt" not in status.err, status.err  # read-only: it only looks
    assert run.code == 2 and "cannot create the run lock: Read-only file system" in run.err, run.err
    assert (src / "l.db").read_bytes() == before


def test_a_full_disk_is_named_and_leaves_no_empty_ledger(tmp_path: Path, cli: Any) -> None:
    disk = tmp_path / "disk"
    cfg = _portfolio(tmp_path)
    with mounted(["-t", "tmpfs", "-o", "size=256k", "tmpfs"], disk):
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as f:  # fills the disk
            f.write(b"\0" * (1 << 20))
            f.flush()
        res = cli("--config", str(cfg), "--db", str(disk / "l.db"), "run")
        left = sorted(p.name for p in disk.iterdir())
    assert res.code == 2 and len(res.err.splitlines()) == 1, res.err
    assert "is full" in res.err and "not damaged" in res.err, res.err
    assert "l.db" not in left and "l.db-wal" not in left


def test_backup_of_a_ledger_that_does_not_exist_is_refused_and_creates_nothing(
    tmp_path: Path, cli: Any
) -> None:
    cfg = _portfolio(tmp_path)
    res = cli("--config", str(cfg), "--db", str(tmp_path / "none.db"), "backup", str(tmp_path / "b.db"))
    assert res.code == 2 and "no ledger here to back up" in res.err
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "b.db").exists()


def test_a_killed_backups_half_copy_is_removed_by_the_next_backup(tmp_path: Path, cli: Any) -> None:
    """A backup killed mid-copy leaves .b.db.<pid>.tmp beside the destination (never b.db itself); the
    next backup removes such leftovers of processes that are gone and keeps a live one's."""
    from dcactl.ledger import Ledger

    Ledger.open(tmp_path / "l.db", network="devnet", account=None).close()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp_path / f".b.db.{gone.pid}.tmp"
    stale.write_bytes(b"half a copy")
    mine = tmp_path / f".b.db.{os.getppid()}.tmp"  # a live process's copy in progress
    mine.write_bytes(b"in progress")
    cfg = _portfolio(tmp_path)
    res = cli("--config", str(cfg), "--db", str(tmp_path / "l.db"), "backup", str(tmp_path / "b.db"))
    assert res.code == 0, res.err
    assert not stale.exists() and mine.exists()
    assert (tmp_path / "b.db").read_bytes()[:16] == b"SQLite format 3\0"
