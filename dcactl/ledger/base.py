"""Opening a ledger file safely: header check, read-only inspection, WAL, migrations, the book row."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import urllib.parse
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

    ``read_only`` is None for a ledger open for writing, else why it could only be opened for reading
    (``"/x is on a read-only file system"``): then every read works, cached market data is not
    kept, and any other write raises LedgerError naming that cause.
    """

    path: Path
    network: str
    account: str
    read_only: str | None
    _conn: sqlite3.Connection
    _book: int

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        network: str,
        account: str,
        book: int,
        read_only: str | None = None,
    ) -> None:
        self.path = path
        self.network = network
        self.account = account
        self.read_only = read_only
        self._conn = conn
        self._book = book
        self._batched = False

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """A sqlite-utils Database on the same connection, for ad-hoc queries and inspection.

        Created on first use: importing sqlite-utils costs ~0.1 s (it pulls in numpy's neighbours),
        which a cron run or a no-op sync should not pay.
        """
        import sqlite_utils

        return sqlite_utils.Database(self._conn, recursive_triggers=False, execute_plugins=False)

    @classmethod
    def _connect(cls, path: Path, *, upto: int | None = None) -> tuple[sqlite3.Connection, str | None]:
        """Open, check and migrate ``path``; raises LedgerError (the file is left untouched on error).

        Returns the connection and None, or — when the file system lets an existing, up-to-date
        ledger be read but not written (a read-only mount, no write permission) — a read-only
        connection and that cause, so that looking at a ledger (status, history, ...) still works.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = storage_problem(path)
            why = problem or exc.strerror or str(exc)
            raise LedgerError(f"{path}: cannot create the ledger's directory: {why}") from exc
        new = not path.exists()
        try:
            return cls._open_checked(path, upto), None
        except (sqlite3.Error, LedgerError) as exc:
            if new:  # nothing half-written: an empty ledger this call began to create goes again
                _remove_if_empty(path)
            found = _storage(path, exc)
            if found is None:
                raise
            kind, problem = found
            if kind != "full" and not new and upto is None:
                return _open_read_only(path, problem), problem
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
    def _book_id(
        conn: sqlite3.Connection, path: Path, network: str, account: str, *, read_only: bool = False
    ) -> int:
        """The book's id, created when missing; a read-only ledger without the book gets an id no row
        carries (its book is empty)."""
        try:
            if not read_only:
                add = "INSERT OR IGNORE INTO books (network, account) VALUES (?, ?)"
                conn.execute(add, (network, account))
            row = conn.execute(
                "SELECT id FROM books WHERE network = ? AND account = ?", (network, account)
            ).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"{path}: cannot write to the ledger: {exc}") from exc
        return -1 if row is None else int(row[0])

    def close(self) -> None:
        """Close the connection (idempotent). A WAL checkpoint happens when the last user closes."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: takes the write lock up front, so a concurrent
        writer waits on ``busy_timeout`` instead of failing mid-way). Rolls back on any error.

        Raises TemporaryError when another process held the write lock past the busy timeout,
        LedgerError when SQLite cannot write (disk full, read-only file, I/O error: the cause named,
        as in ``open``) or the ledger was opened read-only; constraint violations
        (sqlite3.IntegrityError) propagate for the caller to translate.
        """
        if self.read_only is not None:
            raise LedgerError(
                f"{self.path}: cannot write to the ledger: {self.read_only}"
                " (it could only be opened for reading; the ledger itself is not damaged)"
            )
        if self._batched:  # inside batch(): a savepoint of its transaction, as atomic on its own
            self._conn.execute("SAVEPOINT write")
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK TO write")
                    self._conn.execute("RELEASE write")
                raise
            self._conn.execute("RELEASE write")
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk does): ROLLBACK then would raise
                # "no transaction is active" and hide the real error
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise TemporaryError(
                    f"{self.path}: the ledger stayed locked by another process for"
                    f" {BUSY_TIMEOUT_MS // 1000} s; try again"
                ) from exc
            found = _storage(self.path, exc)
            if found is not None:
                raise LedgerError(
                    f"{self.path}: cannot write to the ledger: {found[1]} (the ledger itself is not damaged)"
                ) from exc
            raise LedgerError(f"{self.path}: cannot write to the ledger: {exc}") from exc

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes inside made durable together, by one commit (``synchronous = FULL``: one sync of
        the log instead of one per write, about a third of a millisecond each here); each write stays
        atomic on its own (a savepoint), and on an error the whole batch is rolled back. For writes
        whose order against the outside world does not matter (recording what the exchange answered:
        the write-ahead intent is never batched with what follows it). Raises like each write."""
        if self._batched:
            yield
            return
        with self._tx():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the ledger (one read transaction; WAL lets other processes
        commit meanwhile without being seen or blocked), so several queries and cursors agree. For
        reads only: a write inside cannot begin its own transaction and fails."""
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("COMMIT")

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


def storage_problem(path: Path, error: BaseException | None = None) -> str | None:
    """Why the file system keeps ``path`` from being written, when it does: a read-only file system, a
    folder or file without write permission, a full disk; else None. Used to name the real cause of
    an SQLite ``error`` (when given: a "disk full" from SQLite counts whatever the free space now)
    instead of calling a good ledger corrupt."""
    found = _storage(path, error)
    return None if found is None else found[1]


def _storage(path: Path, error: BaseException | None = None) -> tuple[str, str] | None:
    """(kind, text) of :func:`storage_problem`; kind is ``read-only``, ``permission`` or ``full``."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        fs = os.statvfs(folder)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return "read-only", f"{folder} is on a read-only file system"
    if not os.access(folder, os.W_OK):
        return "permission", f"no permission to write in {folder}"
    if path.exists() and not os.access(path, os.W_OK):
        return "permission", f"no permission to write {path}"
    if fs.f_bavail * fs.f_frsize < FREE_BYTES_MIN or _sqlite_code(error) == sqlite3.SQLITE_FULL:
        return "full", f"the disk holding {folder} is full"
    return None


def _sqlite_code(error: BaseException | None) -> int | None:
    """The primary SQLite result code of ``error`` or of the first SQLite error among its causes."""
    while error is not None:
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF
        error = error.__cause__
    return None


def _open_read_only(path: Path, problem: str) -> sqlite3.Connection:
    """A read-only connection to the existing ledger ``path`` (which the file system will not let be
    written, because of ``problem``), checked like any other; it must need no migration.

    A ledger in WAL mode needs its ``-shm`` file, which a read-only folder cannot get: then it is
    opened ``immutable`` (nobody can change a file there), unless a ``-wal`` holds data only a
    writable folder can bring in. Raises LedgerError naming ``problem``.
    """
    damaged = f"{path}: cannot use the ledger: {problem}"
    uri = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro"
    wal = path.with_name(path.name + "-wal")
    conn: sqlite3.Connection | None = None
    for tail in ("", "&immutable=1"):
        if tail and wal.exists() and wal.stat().st_size > 0:
            raise LedgerError(f"{damaged}, and its write-ahead log {wal} needs writing to be read")
        try:
            conn = sqlite3.connect(uri + tail, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            break
        except sqlite3.OperationalError:
            if conn is not None:
                conn.close()
            conn = None
    if conn is None:
        raise LedgerError(f"{damaged} (and it cannot be opened for reading either)")
    try:
        conn.execute("PRAGMA query_only = ON")
        applied = migrations.inspect(conn, path)
    except BaseException:
        conn.close()
        raise
    pending = [name for name, _ in migrations.MIGRATIONS if name not in applied]
    if pending:
        conn.close()
        raise LedgerError(
            f"{damaged}, and this dcactl must first upgrade it ({len(pending)} migrations), which writes"
            " it (the ledger itself is not damaged)"
        )
    return conn
