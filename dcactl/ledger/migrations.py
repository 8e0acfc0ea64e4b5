"""The ledger's schema: append-only named migrations, and the checks made before anything is written.

Rules (simonw/llm ``migrations.py`` style): each migration has a unique name, is applied in one
transaction together with its row in ``migrations``, and is **never edited once shipped** — a schema
change is a new migration at the end of :data:`MIGRATIONS`. A ledger whose ``migrations`` table names
a migration this version does not know was written by a newer dcactl and is refused.

Every ledger row belongs to one *book* — a (network, account) pair in the ``books`` table — through
its ``book`` column (an integer, so a million-fill table does not repeat a 42-character address per
row); every query filters on the book the :class:`~dcactl.ledger.Ledger` was opened with.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dcactl.errors import LedgerError

APPLICATION_ID = 0x44434131  # "DCA1", written into the SQLite header of every ledger
SQLITE_MAGIC = b"SQLite format 3\x00"

Step = Callable[[sqlite3.Connection], None]


def _sql(*statements: str) -> Step:
    def run(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return run


_M0001_CORE = _sql(
    """CREATE TABLE books (
        id INTEGER PRIMARY KEY,
        network TEXT NOT NULL,
        account TEXT NOT NULL,
        UNIQUE (network, account))""",
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        book INTEGER NOT NULL REFERENCES books(id),
        started_us INTEGER NOT NULL,
        finished_us INTEGER,
        mode TEXT NOT NULL,
        command TEXT NOT NULL,
        summary TEXT)""",
    # usd_requested/size/limit_px: exact decimal text (USDC, base units, USDC per unit).
    # period_start_us is parsed from the period id (its ISO start instant); NULL for forced periods.
    """CREATE TABLE intents (
        cloid TEXT PRIMARY KEY,
        book INTEGER NOT NULL REFERENCES books(id),
        asset TEXT NOT NULL,
        venue TEXT NOT NULL,
        period TEXT NOT NULL,
        period_start_us INTEGER,
        period_end_us INTEGER,
        attempt INTEGER NOT NULL,
        usd_requested TEXT NOT NULL,
        size TEXT NOT NULL,
        limit_px TEXT NOT NULL,
        pair TEXT NOT NULL,
        asset_id INTEGER,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL,
        status TEXT NOT NULL,
        oid INTEGER,
        reason TEXT,
        UNIQUE (book, asset, period, attempt))""",
    "CREATE INDEX intents_by_status ON intents (book, status)",
    "CREATE INDEX intents_by_oid ON intents (book, oid)",
    # size/price/fee: exact text. *_hi/*_lo: integer companions (dcactl.ledger.codec) of
    # units (signed change of units held: +size for buys, -size for sells, minus fees paid in the
    # base token), usd (size × price, USDC) and fee_usd (fee in USDC, or fee × price when paid in
    # the base token). approx = 1 when a companion is inexact (more than 18 decimals).
    """CREATE TABLE fills (
        id INTEGER PRIMARY KEY,
        book INTEGER NOT NULL REFERENCES books(id),
        tid TEXT NOT NULL,
        time_us INTEGER NOT NULL,
        asset TEXT NOT NULL,
        pair TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('B', 'A')),
        size TEXT NOT NULL,
        price TEXT NOT NULL,
        fee TEXT NOT NULL,
        fee_token TEXT NOT NULL,
        fee_base INTEGER NOT NULL,
        source TEXT NOT NULL,
        oid INTEGER,
        cloid TEXT,
        hash TEXT,
        period TEXT,
        reason TEXT,
        units_hi INTEGER NOT NULL, units_lo INTEGER NOT NULL,
        usd_hi INTEGER NOT NULL, usd_lo INTEGER NOT NULL,
        fee_usd_hi INTEGER NOT NULL, fee_usd_lo INTEGER NOT NULL,
        approx INTEGER NOT NULL DEFAULT 0,
        UNIQUE (book, tid))""",
    "CREATE INDEX fills_by_time ON fills (book, time_us)",
    "CREATE INDEX fills_by_asset_time ON fills (book, asset, time_us)",
    "CREATE INDEX fills_by_cloid ON fills (book, cloid) WHERE cloid IS NOT NULL",
    "CREATE INDEX fills_by_oid ON fills (book, oid) WHERE oid IS NOT NULL",
    # Market metadata (spotMeta JSON, ...) per network; the caller decides the TTL from fetched_us.
    """CREATE TABLE cache (
        network TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        fetched_us INTEGER NOT NULL,
        PRIMARY KEY (network, key))""",
    """CREATE TABLE cursors (
        book INTEGER NOT NULL REFERENCES books(id),
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (book, name))""",
)

_M0002_CANDLES = _sql(
    # Per network: "hl:@142" is a different pair (and price walk) on devnet and mainnet.
    """CREATE TABLE candles (
        network TEXT NOT NULL,
        source TEXT NOT NULL,
        interval TEXT NOT NULL,
        open_ms INTEGER NOT NULL,
        close_ms INTEGER NOT NULL,
        open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL,
        volume TEXT NOT NULL,
        PRIMARY KEY (network, source, interval, open_ms)) WITHOUT ROWID""",
)

_M0003_IMPORT_MATCHING = _sql(
    # The tid of the exchange fill that an imported (legacy) fill turned out to be; such imported
    # fills are kept for the record but never counted again.
    "ALTER TABLE fills ADD COLUMN superseded_by TEXT",
    "CREATE INDEX fills_by_hash ON fills (book, hash) WHERE hash IS NOT NULL",
    "CREATE INDEX fills_imported ON fills (book, time_us) WHERE source = 'imported'",
    # Covering index of Ledger.positions(): status over a million fills reads this narrow index
    # (in group order, no temp B-tree) instead of the wide rows.
    """CREATE INDEX fills_positions ON fills (book, superseded_by, approx, asset, source, side, fee_base,
        units_hi, units_lo, usd_hi, usd_lo, fee_usd_hi, fee_usd_lo, time_us)""",
)

_M0004_DECISIONS = _sql(
    # One row per (book, asset, period): the strategy's latest decision for that period and how the
    # run ended for it. Re-deciding a period overwrites its row, so a skip banks its amount once.
    # bank_after: exact decimal text (USDC); decision: Decision.to_json() as JSON text.
    """CREATE TABLE decisions (
        book INTEGER NOT NULL REFERENCES books(id),
        asset TEXT NOT NULL,
        period TEXT NOT NULL,
        run_id TEXT NOT NULL,
        decided_us INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        bank_after TEXT NOT NULL,
        decision TEXT NOT NULL,
        PRIMARY KEY (book, asset, period))""",
    "CREATE INDEX decisions_by_time ON decisions (book, asset, decided_us)",
)

_M0005_INTENT_EXPIRY = _sql(
    # The expiresAfter (µs) signed into a live order's action: reconcile waits until it has passed
    # before treating an order the exchange does not know as never placed. NULL for older rows.
    "ALTER TABLE intents ADD COLUMN expires_us INTEGER",
)

_M0008_RUN_EXIT_CODE = _sql(
    # The exit code a run ended with (ExitCode: 0 ok, 1 failed, 2 usage/config/key, 3 temporary);
    # NULL for runs recorded before this migration and for runs that never ended (a crash).
    "ALTER TABLE runs ADD COLUMN exit_code INTEGER",
)

_M0009_NOTICES = _sql(
    # Notifications that must go out once (a missed period): claimed here before sending, so a
    # failed or repeated delivery never becomes a second message for the same event.
    """CREATE TABLE notices (
        book INTEGER NOT NULL REFERENCES books(id),
        key TEXT NOT NULL,
        sent_us INTEGER NOT NULL,
        PRIMARY KEY (book, key))""",
)

_M0010_DUST_CONVERSION_IDS = _sql(
    # Spot dust conversions all carry trade id 0; UNIQUE(book, tid) kept only the first. Their
    # identity is now 0:<oid>:<time ms>:<coin>:<size> (dcactl.ingest.sync.fill_id): rename the one
    # kept so the next sync recognises it and adds the others, never a second copy of it.
    """UPDATE fills SET tid = '0:' || COALESCE(CAST(oid AS TEXT), '') || ':' || (time_us / 1000) || ':'
        || pair || ':' || size WHERE tid = '0'""",
)

def _m0011_canonical_networks(conn: sqlite3.Connection) -> None:
    """One book per exchange however its network was spelled (``http://localhost:3001/`` and
    ``devnet``; ``https://api.hyperliquid.xyz`` and ``mainnet``): rows of a book whose spelling is
    not canonical move to the canonical book (created, or merged into when it exists). Nothing is
    lost: an intent whose (asset, period, attempt) is taken gets the next free attempt number; a
    fill the canonical book already holds (same trade id) is the same exchange fill and is dropped;
    of two sync cursors the earlier stays (the next sync rescans the rest). Caches keyed by network
    move the same way."""
    from dcactl.networks import canonical_network

    for book, network, account in conn.execute("SELECT id, network, account FROM books").fetchall():
        canonical = canonical_network(network)
        if canonical == network:
            continue
        row = conn.execute(
            "SELECT id FROM books WHERE network = ? AND account = ?", (canonical, account)
        ).fetchone()
        if row is None:
            conn.execute("UPDATE books SET network = ? WHERE id = ?", (canonical, book))
            continue
        target = row[0]
        for table in ("runs", "decisions", "notices"):  # constant names, never input
            conn.execute(f"UPDATE OR IGNORE {table} SET book = ? WHERE book = ?", (target, book))  # noqa: S608
            conn.execute(f"DELETE FROM {table} WHERE book = ?", (book,))  # noqa: S608
        for cloid, asset, period in conn.execute(
            "SELECT cloid, asset, period FROM intents WHERE book = ? ORDER BY created_us, attempt", (book,)
        ).fetchall():
            top = conn.execute(
                "SELECT MAX(attempt) FROM intents WHERE book = ? AND asset = ? AND period = ?",
                (target, asset, period),
            ).fetchone()[0]
            conn.execute(
                "UPDATE intents SET book = ?, attempt = CASE WHEN ? IS NULL THEN attempt"
                " ELSE MAX(attempt, ? + 1) END WHERE cloid = ?",
                (target, top, top, cloid),
            )
        conn.execute("UPDATE OR IGNORE fills SET book = ? WHERE book = ?", (target, book))
        conn.execute("DELETE FROM fills WHERE book = ?", (book,))
        for name, value in conn.execute("SELECT name, value FROM cursors WHERE book = ?", (book,)).fetchall():
            conn.execute(
                "INSERT INTO cursors (book, name, value) VALUES (?, ?, ?) ON CONFLICT (book, name)"
                " DO UPDATE SET value = MIN(value, excluded.value)",
                (target, name, value),
            )
        conn.execute("DELETE FROM cursors WHERE book = ?", (book,))
        conn.execute("DELETE FROM books WHERE id = ?", (book,))
    for table in ("cache", "candles"):  # constant names, never input
        for (network,) in conn.execute(f"SELECT DISTINCT network FROM {table}").fetchall():  # noqa: S608
            canonical = canonical_network(network)
            if canonical != network:
                move = f"UPDATE OR IGNORE {table} SET network = ? WHERE network = ?"  # noqa: S608
                conn.execute(move, (canonical, network))
                conn.execute(f"DELETE FROM {table} WHERE network = ?", (network,))  # noqa: S608


_M0012_DUST_REASON = _sql(
    # Dust conversions (the only fills with trade id 0, renamed 0:<oid>:... by 0010) are a kind of their
    # own: sync now stores them with this reason; give it to those already kept.
    "UPDATE fills SET reason = 'dust conversion' WHERE tid LIKE '0:%' AND reason IS NULL",
)

_M0013_UNKNOWN_FEES = _sql(
    # A fill whose fee its source never gave (the earlier bot's history: `import legacy`) was stored
    # with fee 0, which reads as "free". Mark those, so history says "unknown" and status says the
    # fee totals leave them out. Every imported fill so far came from that bot, which kept no fees.
    "ALTER TABLE fills ADD COLUMN fee_unknown INTEGER NOT NULL DEFAULT 0",
    "UPDATE fills SET fee_unknown = 1 WHERE source = 'imported' AND fee = '0'",
    # status counts them per (asset, source) through this small index, not by reading every row
    """CREATE INDEX fills_fee_unknown ON fills (book, superseded_by, asset, source)
        WHERE fee_unknown = 1""",
)

_M0014_LOTS_INDEX = _sql(
    # Covering index of Ledger.iter_trades(): lots read a year's fills by asset, time and trade id from
    # this index, in its order (no sort of every fill in a temporary B-tree, no read of the wide rows).
    """CREATE INDEX fills_lots ON fills (book, asset, time_us, tid, superseded_by, source, side, size, price,
        fee, fee_token, reason)""",
)

_M0015_SELLS_INDEX = _sql(
    # The sells of a book (few in a DCA ledger), for lots: how many per asset (Ledger.sell_counts) and
    # the year's disposals (Ledger.iter_sells) from this small partial index, instead of walking the
    # positions index entry by entry (a million fills: ~0.16 s and ~0.19 s).
    "CREATE INDEX fills_sells ON fills (book, superseded_by, asset, source, time_us, tid) WHERE side = 'A'",
)


MIGRATIONS: list[tuple[str, Step]] = [
    ("0001_core", _M0001_CORE),
    ("0002_candles", _M0002_CANDLES),
    ("0003_import_matching", _M0003_IMPORT_MATCHING),
    ("0004_decisions", _M0004_DECISIONS),
    ("0005_intent_expiry", _M0005_INTENT_EXPIRY),
    ("0008_run_exit_code", _M0008_RUN_EXIT_CODE),
    ("0009_notices", _M0009_NOTICES),
    ("0010_dust_conversion_ids", _M0010_DUST_CONVERSION_IDS),
    ("0011_canonical_networks", _m0011_canonical_networks),
    ("0012_dust_reason", _M0012_DUST_REASON),
    ("0013_unknown_fees", _M0013_UNKNOWN_FEES),
    ("0014_lots_index", _M0014_LOTS_INDEX),
    ("0015_sells_index", _M0015_SELLS_INDEX),
]
"""Append-only. Never edit, reorder or remove an entry once released."""


def check_header(path: Path) -> bool:
    """True when ``path`` exists and holds data (a ledger to open), False when a new one will be made.

    Raises LedgerError, naming the path, when it is a directory or not an SQLite file — before
    SQLite touches it, so a wrong ``--db`` never gets a ``-wal`` file or a rewritten header.
    """
    if path.is_dir():
        raise LedgerError(f"{path}: is a directory, not a ledger file")
    if path.exists() and not path.is_file():  # /dev/null, a FIFO: SQLite would write beside it
        raise LedgerError(f"{path}: not a regular file; give the ledger a file path (--db or database)")
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise LedgerError(f"{path}: cannot read the ledger: {exc.strerror or exc}") from exc
    if not header:
        return False
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise LedgerError(f"{path}: not a dcactl ledger (not an SQLite database)")
    return True


def inspect(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Read-only checks of an existing database; returns the names of applied migrations.

    Raises LedgerError when the file is corrupt, belongs to another application, or was written
    by a newer dcactl (it names a migration this version does not know).
    """
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = (
            [row[0] for row in conn.execute("SELECT name FROM migrations ORDER BY rowid")]
            if "migrations" in tables
            else []
        )
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: the ledger is corrupt or unreadable ({exc})") from exc
    if tables and (app_id != APPLICATION_ID or "migrations" not in tables):
        raise LedgerError(f"{path}: not a dcactl ledger (an SQLite database of another program)")
    known = {name for name, _ in MIGRATIONS}
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise LedgerError(
            f"{path}: written by a newer dcactl (unknown migrations: {', '.join(unknown)}); upgrade dcactl"
        )
    return applied


def migrate(conn: sqlite3.Connection, path: Path, *, upto: int | None = None) -> list[str]:
    """Apply the pending migrations (the first ``upto`` only, for tests), each in its own transaction.

    Safe when two processes open a new ledger at once: each migration re-checks, under the write
    lock (``BEGIN IMMEDIATE``), whether the other process applied it first. Returns the names applied
    now. Raises LedgerError when a migration fails (its transaction is rolled back).
    """
    done: list[str] = []
    for name, step in MIGRATIONS[:upto]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
                if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    conn.execute("COMMIT")
                    continue
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                step(conn)
                conn.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    (name, datetime.now(UTC).isoformat(timespec="seconds")),
                )
                conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on some errors (a full disk): a second ROLLBACK would
                # fail with "cannot rollback - no transaction is active" and hide the real error
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise LedgerError(f"{path}: migration {name} failed: {exc}") from exc
        done.append(name)
    return done
