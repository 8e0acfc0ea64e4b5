"""Opening a ledger file safely: header check, read-only inspection, WAL, migrations, the book row."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcactl.errors import LedgerError, TemporaryError
from dcactl.ledger import migrations

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
"""How long a statement waits for another process's write lock before failing (ms)."""


class LedgerBase:
    """Connection, book and transaction helper shared by the ledger's parts. Use ``Ledger.open``.

    Not safe for simultaneous use from several threads (one connection); several *processes* may
    share a ledger file (WAL, busy timeout).
    """

    path: Path
    network: str
    account: str
    _conn: sqlite3.Connection
    _book: int

    def __init__(self, path: Path, conn: sqlite3.Connection, network: str, account: str, book: int) -> None:
        self.path = path
        self.network = network
        self.account = account
        self._conn = conn
        self._book = book

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """A sqlite-utils Database on the same connection, for ad-hoc queries and inspection.

        Created on first use: importing sqlite-utils costs ~0.1 s (it pulls in numpy's neighbours),
        which a cron run or a no-op sync should not pay.
        """
        import sqlite_utils

        return sqlite_utils.Database(self._conn, recursive_triggers=False, execute_plugins=False)

    @classmethod
    def _connect(cls, path: Path, *, upto: int | None = None) -> sqlite3.Connection:
        """Open, check and migrate ``path``; raises LedgerError (the file is left untouched on error)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"{path}: cannot create the ledger's directory: {exc.strerror or exc}") from exc
        new = not path.exists()
        try:
            return cls._open_checked(path, upto)
        except (sqlite3.Error, LedgerError) as exc:
            if new:  # nothing half-written: an empty ledger this call began to create goes again
                _remove_if_empty(path)
            problem = storage_problem(path)
            if problem is None:
                raise
            raise LedgerError(
                f"{path}: cannot use the ledger: {problem} (the ledger itself is not damaged)"
            ) from exc

    @classmethod
    def _open_checked(cls, path: Path, upto: int | None) -> sqlite3.Connection:
        existed = migrations.check_header(path)
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"{path}: cannot open the ledger: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if existed:
                migrations.inspect(conn, path)  # read-only: refuses before anything is written
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                # FULL: an intent is durable before its order is signed, even across a power cut.
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise LedgerError(f"{path}: cannot open the ledger for writing: {exc}") from exc
            migrations.migrate(conn, path, upto=upto)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _book_id(conn: sqlite3.Connection, path: Path, network: str, account: str) -> int:
        try:
            conn.execute("INSERT OR IGNORE INTO books (network, account) VALUES (?, ?)", (network, account))
            row = conn.execute(
                "SELECT id FROM books WHERE network = ? AND account = ?", (network, account)
            ).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"{path}: cannot write to the ledger: {exc}") from exc
        return int(row[0])

    def close(self) -> None:
        """Close the connection (idempotent). A WAL checkpoint happens when the last user closes."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: takes the write lock up front, so a concurrent
        writer waits on ``busy_timeout`` instead of failing mid-way). Rolls back on any error.

        Raises TemporaryError when another process held the write lock past the busy timeout,
        LedgerError when SQLite cannot write (disk full, read-only file, I/O error); constraint
        violations (sqlite3.IntegrityError) propagate for the caller to translate.
        """
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise TemporaryError(
                    f"{self.path}: the ledger stayed locked by another process for"
                    f" {BUSY_TIMEOUT_MS // 1000} s; try again"
                ) from exc
            raise LedgerError(f"{self.path}: cannot write to the ledger: {exc}") from exc

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()


def _remove_if_empty(path: Path) -> None:
    """Remove ``path`` (and its WAL files) when it is an empty file: what a failed first open leaves."""
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_size == 0:
            for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"), path):
                leftover.unlink(missing_ok=True)


FREE_BYTES_MIN = 1 << 20
"""Less free space than this on the ledger's disk is reported as a full disk."""


def storage_problem(path: Path) -> str | None:
    """Why the file system keeps ``path`` from being written, when it does: a read-only file system, a
    folder or file without write permission, a full disk; else None. Used to name the real cause of
    an SQLite error instead of calling a good ledger corrupt."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fs = os.statvfs(folder)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system"
    if not os.access(folder, os.W_OK):
        return f"no permission to write in {folder}"
    if path.exists() and not os.access(path, os.W_OK):
        return f"no permission to write {path}"
    if fs.f_bavail * fs.f_frsize < FREE_BYTES_MIN:
        return f"the disk holding {folder} is full"
    return None
