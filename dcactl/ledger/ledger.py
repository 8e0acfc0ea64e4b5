"""The :class:`Ledger`: runs, write-ahead order intents, caches, cursors, backups (fills in ``fills.py``)."""

# ruff: noqa: S608 - SQL text here is assembled only from module constants and placeholder
# lists; every value is a bound parameter.

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self, get_args

from dcactl.errors import LedgerError, UsageError
from dcactl.ledger import codec
from dcactl.ledger.base import storage_problem
from dcactl.ledger.fills import FILL_INSERT, FillStore, fill_row
from dcactl.ledger.records import Candle, DuplicateIntent, LastBuyRecord
from dcactl.models import FINISHED_INTENT_STATES, Fill, IntentStatus, OrderIntent, utcnow

_INTENT_COLUMNS = (
    "cloid, asset, venue, period, attempt, usd_requested, size, limit_px, created_us, pair, asset_id,"
    " period_end_us, status, oid, reason, expires_us"
)
_DONE_BUY = ("filled", "partial", "paper")
_FINISHED = tuple(sorted(FINISHED_INTENT_STATES))
_STATUSES = frozenset(get_args(IntentStatus))


def _period_start_us(period: str) -> int | None:
    """The start of a period from its id (its ISO-8601 UTC start); None for ``forced:`` ids."""
    if period.startswith("forced:"):
        return None
    try:
        start = datetime.fromisoformat(period)
    except ValueError:
        return None
    return codec.to_us(start) if start.tzinfo is not None else None


def _row_intent(row: tuple[Any, ...]) -> OrderIntent:
    (
        cloid,
        asset,
        venue,
        period,
        attempt,
        usd,
        size,
        limit_px,
        created_us,
        pair,
        asset_id,
        end_us,
        status,
        oid,
        reason,
        expires_us,
    ) = row
    return OrderIntent(
        cloid=cloid,
        asset=asset,
        venue=venue,
        period=period,
        attempt=attempt,
        usd_requested=Decimal(usd),
        size=Decimal(size),
        limit_px=Decimal(limit_px),
        created_at=codec.from_us(created_us),
        pair=pair,
        asset_id=asset_id,
        period_end=None if end_us is None else codec.from_us(end_us),
        status=status,
        oid=oid,
        reason=reason,
        expires_at=None if expires_us is None else codec.from_us(expires_us),
    )


INTENT_INSERT = (
    "INSERT INTO intents (cloid, book, asset, venue, period, period_start_us, period_end_us, attempt,"
    " usd_requested, size, limit_px, pair, asset_id, created_us, updated_us, status, oid, reason,"
    " expires_us) VALUES (" + ", ".join("?" * 19) + ")"
)


class Ledger(FillStore):
    """One dcactl ledger file, seen through one book: (``network``, ``account``).

    Every read and write is scoped to that book; one file may hold several. Decimals go in and out as
    :class:`~decimal.Decimal` (stored exactly, see ``dcactl.ledger.codec``); times are UTC-aware
    datetimes. Methods raise ``sqlite3`` errors only for bugs; ``open`` raises LedgerError.
    """

    @classmethod
    def open(cls, path: Path, *, network: str, account: str | None, _upto: int | None = None) -> Ledger:
        """Open (creating it and its parent directory if needed) and migrate the ledger at ``path``.

        ``account`` is the master address (stored lower-case) or None for ``"paper"``. Raises
        LedgerError naming the path when the file is not an SQLite database, is corrupt, belongs to
        another program or was written by a newer dcactl — in each case without writing to it — and
        naming the real cause when the file system does not let it be created or written (a full
        disk, a read-only mount, no permission). An existing, up-to-date ledger that can be read but
        not written is opened read-only (``read_only`` says why): reads work, writes raise LedgerError.
        ``_upto`` (tests only) applies just the first N migrations.
        """
        path = Path(path)
        conn, read_only = cls._connect(path, upto=_upto)
        account_id = (account or "paper").lower()
        try:
            book = cls._book_id(conn, path, network, account_id, read_only=read_only is not None)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, network, account_id, book, read_only)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def migrations(self) -> list[str]:
        """Names of the migrations applied to this file, in order."""
        return [r[0] for r in self._conn.execute("SELECT name FROM migrations ORDER BY rowid")]

    # -- runs ----------------------------------------------------------------------------------

    def begin_run(self, run_id: str, started_at: datetime, mode: str, command: str) -> None:
        """Record the start of a run (``mode`` paper/live, ``command`` run/buy). Idempotent per run_id."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, book, started_us, mode, command) VALUES (?, ?, ?, ?, ?)",
                (run_id, self._book, codec.to_us(started_at), mode, command),
            )

    def end_run(
        self, run_id: str, finished_at: datetime, summary: dict[str, Any], exit_code: int | None = None
    ) -> None:
        """Record the end of a run: its summary (``RunResult.to_json()``, stored as JSON text) and the
        process exit code it ends with (``ExitCode``)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE runs SET finished_us = ?, summary = ?, exit_code = ? WHERE run_id = ? AND book = ?",
                (
                    codec.to_us(finished_at),
                    json.dumps(summary, default=str),
                    exit_code,
                    run_id,
                    self._book,
                ),
            )

    def runs(self, limit: int = 20, *, failed: bool = False) -> list[dict[str, Any]]:
        """The newest runs (newest first): run_id, started_at, finished_at (None: never ended), mode,
        command, exit_code (None: never ended, or recorded before exit codes were), summary.

        ``failed``: only runs that ended with a non-zero exit code, never ended, or had an asset fail.
        """
        where = "book = ?"
        if failed:
            where += (
                " AND (exit_code IS NULL OR exit_code != 0 OR finished_us IS NULL"
                " OR summary LIKE '%\"status\": \"failed\"%')"
            )
        rows = self._conn.execute(
            f"SELECT run_id, started_us, finished_us, mode, command, exit_code, summary FROM runs"
            f" WHERE {where} ORDER BY started_us DESC, rowid DESC LIMIT ?",
            (self._book, limit),
        )
        return [
            {
                "run_id": r[0],
                "started_at": codec.from_us(r[1]),
                "finished_at": None if r[2] is None else codec.from_us(r[2]),
                "mode": r[3],
                "command": r[4],
                "exit_code": r[5],
                "summary": None if r[6] is None else json.loads(r[6]),
            }
            for r in rows
        ]

    def claim_notice(self, key: str, at: datetime) -> bool:
        """Claim the once-only notice ``key`` (e.g. a missed period): True the first time, then False."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO notices (book, key, sent_us) VALUES (?, ?, ?)",
                (self._book, key, codec.to_us(at)),
            )
            return cur.rowcount == 1

    # -- order intents (write-ahead) -------------------------------------------------------------

    def record_intent(self, intent: OrderIntent, fills: Iterable[Fill] = ()) -> None:
        """Write an intent before its order is signed (durably: synchronous=FULL).

        ``fills`` are stored in the same transaction: a paper buy's intent and its fill land together
        or not at all, so a crash can neither lose the fill nor leave the period bought without one.

        Raises DuplicateIntent when its cloid, or its (asset, period, attempt) in this book, exists.
        """
        self.record_intents([intent], fills)

    def record_intents(self, intents: Sequence[OrderIntent], fills: Iterable[Fill] = ()) -> None:
        """Write several intents (and ``fills``) in ONE durable transaction: the orders of one signed
        action are written ahead together, with one sync of the disk instead of one each, and a crash
        keeps all of them or none. Raises DuplicateIntent naming the first that exists."""
        fill_rows = [fill_row(self._book, f) for f in fills]
        current = intents[0] if intents else None
        try:
            with self._tx() as conn:
                for current in intents:
                    conn.execute(INTENT_INSERT, self._intent_row(current))
                if fill_rows:
                    conn.executemany(FILL_INSERT, fill_rows)
        except sqlite3.IntegrityError as exc:
            assert current is not None
            raise DuplicateIntent(
                f"an order intent for {current.asset} in period {current.period} attempt {current.attempt}"
                f" (cloid {current.cloid}) is already in the ledger"
            ) from exc

    def _intent_row(self, intent: OrderIntent) -> tuple[Any, ...]:
        return (
            intent.cloid,
            self._book,
            intent.asset,
            intent.venue,
            intent.period,
            _period_start_us(intent.period),
            None if intent.period_end is None else codec.to_us(intent.period_end),
            intent.attempt,
            codec.text(intent.usd_requested),
            codec.text(intent.size),
            codec.text(intent.limit_px),
            intent.pair,
            intent.asset_id,
            codec.to_us(intent.created_at),
            codec.to_us(intent.created_at),
            intent.status,
            intent.oid,
            intent.reason,
            None if intent.expires_at is None else codec.to_us(intent.expires_at),
        )

    def update_intent(
        self,
        cloid: str,
        *,
        status: IntentStatus,
        oid: int | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Set an intent's status; ``oid``/``reason`` replace the stored ones only when given.

        ``at`` (default now) is stored as its update time. Raises LedgerError for an unknown cloid,
        ValueError for a status that is not an IntentStatus.
        """
        from dcactl.models import utcnow

        if status not in _STATUSES:
            raise ValueError(f"unknown intent status {status!r}")
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE intents SET status = ?, oid = COALESCE(?, oid), reason = COALESCE(?, reason),"
                " updated_us = ? WHERE cloid = ? AND book = ?",
                (status, oid, reason, codec.to_us(at or utcnow()), cloid, self._book),
            )
            if cursor.rowcount == 0:
                raise LedgerError(f"{self.path}: no order intent with cloid {cloid}")

    def open_intents(self) -> list[OrderIntent]:
        """Intents whose outcome is not known yet (status not in FINISHED_INTENT_STATES), oldest first."""
        marks = ", ".join("?" * len(_FINISHED))
        rows = self._conn.execute(
            f"SELECT {_INTENT_COLUMNS} FROM intents WHERE book = ? AND status NOT IN ({marks})"
            " ORDER BY created_us, attempt",
            (self._book, *_FINISHED),
        )
        return [_row_intent(r) for r in rows]

    def intents_for(self, asset: str, period: str, *, pair: str | None = None) -> list[OrderIntent]:
        """Every attempt for ``asset`` in ``period`` (oldest first); with ``pair``, every attempt on that
        market whatever the entry was called (a renamed entry keeps its periods)."""
        column, key = ("pair", pair) if pair is not None else ("asset", asset)
        rows = self._conn.execute(
            f"SELECT {_INTENT_COLUMNS} FROM intents WHERE book = ? AND {column} = ? AND period = ?"
            " ORDER BY created_us, attempt",
            (self._book, key, period),
        )
        return [_row_intent(r) for r in rows]

    def intent(self, cloid: str) -> OrderIntent | None:
        """The intent with this cloid in this book, or None."""
        row = self._one(
            f"SELECT {_INTENT_COLUMNS} FROM intents WHERE book = ? AND cloid = ?", (self._book, cloid)
        )
        return None if row is None else _row_intent(row)

    def intent_by_oid(self, oid: int) -> OrderIntent | None:
        """The intent whose order got exchange order id ``oid``, or None."""
        row = self._one(
            f"SELECT {_INTENT_COLUMNS} FROM intents WHERE book = ? AND oid = ?", (self._book, oid)
        )
        return None if row is None else _row_intent(row)

    def intent_keys(self) -> list[tuple[str, str, int | None]]:
        """(cloid, period, oid) of every intent of this book — what sync matches fills against."""
        return [
            (r[0], r[1], r[2])
            for r in self._conn.execute(
                "SELECT cloid, period, oid FROM intents WHERE book = ?", (self._book,)
            )
        ]

    def last_buy(
        self, asset: str, venue: str | None = None, *, pair: str | None = None
    ) -> LastBuyRecord | None:
        """The newest completed (filled/partial/paper) non-forced intent of ``asset``, or None;
        ``venue`` (``hyperliquid``/``paper``) keeps to that venue's buys (paper never uses up a live
        period, PRODUCT.md); ``pair`` looks the market up instead of the entry's name (a renamed
        entry keeps its last buy)."""
        marks = ", ".join("?" * len(_DONE_BUY))
        venues = ("hyperliquid", "paper") if venue is None else (venue,)
        column, key = ("pair", pair) if pair is not None else ("asset", asset)
        row = self._one(
            "SELECT cloid, created_us, period, period_start_us, period_end_us, status FROM intents"
            f" WHERE book = ? AND {column} = ? AND status IN ({marks}) AND period NOT LIKE 'forced:%'"
            f" AND venue IN ({', '.join('?' * len(venues))})"
            " ORDER BY created_us DESC, attempt DESC LIMIT 1",
            (self._book, key, *_DONE_BUY, *venues),
        )
        if row is None:
            return None
        cloid, created_us, period, start_us, end_us, status = row
        return LastBuyRecord(
            asset=asset,
            at=codec.from_us(created_us),
            period=period,
            period_start=None if start_us is None else codec.from_us(start_us),
            period_end=None if end_us is None else codec.from_us(end_us),
            cloid=cloid,
            status=status,
        )

    def usd_committed(self, start: datetime, end: datetime, *, real_only: bool = True) -> Decimal:
        """USDC committed in ``[start, end)``, for ``max_usd_per_day`` (exact).

        = Σ size × price of dcactl's buy fills in the window (plus paper fills unless ``real_only``)
        + ``usd_requested`` of unfinished intents created in the window (hyperliquid venue only when
        ``real_only``). Fills of an unfinished intent are not added again (its request counts).
        External and imported fills are not dcactl's spending and do not count.
        """
        s_us, e_us = codec.to_us(start), codec.to_us(end)
        marks = ", ".join("?" * len(_FINISHED))
        venue = " AND venue = 'hyperliquid'" if real_only else ""
        open_rows = self._conn.execute(
            f"SELECT cloid, usd_requested FROM intents WHERE book = ? AND status NOT IN ({marks}){venue}"
            " AND created_us >= ? AND created_us < ?",
            (self._book, *_FINISHED, s_us, e_us),
        ).fetchall()
        open_cloids = {r[0] for r in open_rows}
        sources = ("dcactl",) if real_only else ("dcactl", "paper")
        fill_rows = self._conn.execute(
            f"SELECT cloid, size, price FROM fills WHERE book = ? AND side = 'B'"
            f" AND source IN ({', '.join('?' * len(sources))}) AND time_us >= ? AND time_us < ?",
            (self._book, *sources, s_us, e_us),
        )
        total = Decimal(0)
        for _, usd in open_rows:
            total = codec.add(total, Decimal(usd))
        for cloid, size, price in fill_rows:
            if cloid not in open_cloids:
                total = codec.add(total, codec.mul(Decimal(size), Decimal(price)))
        return codec.plain(total)

    # -- strategy decisions and the budget bank ------------------------------------------------

    BANKING_OUTCOMES = ("rule_skip", "filled", "partial", "paper")
    """Outcomes after which a decision's ``bank_after`` stands (a failed or capped buy moves nothing)."""

    def record_decision(
        self,
        asset: str,
        period: str,
        run_id: str,
        decision: dict[str, Any],
        bank_after: Decimal,
        outcome: str,
    ) -> None:
        """Store (or overwrite) the decision of ``asset`` for ``period`` and how the run ended for it."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO decisions (book, asset, period, run_id, decided_us, outcome, bank_after,"
                " decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (book, asset, period) DO UPDATE SET"
                " run_id = excluded.run_id, decided_us = excluded.decided_us, outcome = excluded.outcome,"
                " bank_after = excluded.bank_after, decision = excluded.decision",
                (
                    self._book,
                    asset,
                    period,
                    run_id,
                    codec.to_us(utcnow()),
                    outcome,
                    codec.text(bank_after),
                    json.dumps(decision),
                ),
            )

    def bank(self, asset: str, *, before_period: str | None = None) -> Decimal:
        """The asset's banked USDC: ``bank_after`` of its newest decision that stood (a rule skip or a
        buy), leaving out ``before_period``'s own row so re-deciding a period never banks twice.
        A ``pending`` decision (the order's outcome unknown when its run ended) stands once an intent
        of its period is known to have bought (reconciliation settles intents, not decisions)."""
        outcomes = ", ".join("?" * len(self.BANKING_OUTCOMES))
        done = ", ".join("?" * len(_DONE_BUY))
        row = self._conn.execute(
            "SELECT bank_after FROM decisions d WHERE book = ? AND asset = ? AND period IS NOT ?"
            f" AND (outcome IN ({outcomes}) OR (outcome = 'pending' AND EXISTS (SELECT 1 FROM intents i"
            " WHERE i.book = d.book AND i.asset = d.asset AND i.period = d.period"
            f" AND i.status IN ({done}))))"
            " ORDER BY decided_us DESC LIMIT 1",
            (self._book, asset, before_period, *self.BANKING_OUTCOMES, *_DONE_BUY),
        ).fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    def decisions(self, asset: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest stored decisions (dicts with asset, period, outcome, bank_after, decision)."""
        sql = (
            "SELECT asset, period, run_id, decided_us, outcome, bank_after, decision FROM decisions"
            " WHERE book = ?"
        )
        params: list[Any] = [self._book]
        if asset is not None:
            sql += " AND asset = ?"
            params.append(asset)
        rows = self._conn.execute(sql + " ORDER BY decided_us DESC LIMIT ?", (*params, limit)).fetchall()
        return [
            {
                "asset": r[0],
                "period": r[1],
                "run_id": r[2],
                "decided_at": codec.from_us(r[3]),
                "outcome": r[4],
                "bank_after": Decimal(r[5]),
                "decision": json.loads(r[6]),
            }
            for r in rows
        ]

    # -- caches and cursors ----------------------------------------------------------------------

    def cache_get(self, key: str) -> tuple[str, datetime] | None:
        """Cached text (market metadata JSON) for ``key`` on this network and when it was fetched."""
        row = self._one(
            "SELECT value, fetched_us FROM cache WHERE network = ? AND key = ?", (self.network, key)
        )
        return None if row is None else (row[0], codec.from_us(row[1]))

    def cache_put(self, key: str, value: str, fetched_at: datetime) -> None:
        """Store (replace) cached text for ``key`` on this network with its fetch time (not kept by a
        ledger opened read-only: a cache is only a shortcut)."""
        if self.read_only is not None:
            return
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cache (network, key, value, fetched_us) VALUES (?, ?, ?, ?)",
                (self.network, key, value, codec.to_us(fetched_at)),
            )

    def upsert_candles(self, source: str, interval: str, candles: Iterable[Candle]) -> int:
        """Insert or replace candles of ``source`` (``hl:@142``, ``cg:avalanche-2``) and ``interval``
        (``1d``, ``1h``) on this network, keyed by open time (ms); returns the number written."""
        rows = [
            (
                self.network,
                source,
                interval,
                c.open_ms,
                c.close_ms,
                codec.text(c.open),
                codec.text(c.high),
                codec.text(c.low),
                codec.text(c.close),
                codec.text(c.volume),
            )
            for c in candles
        ]
        if rows and self.read_only is None:  # a read-only ledger keeps no cache
            with self._tx() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO candles (network, source, interval, open_ms, close_ms, open,"
                    " high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def candles(self, source: str, interval: str, *, since_ms: int | None = None) -> list[Candle]:
        """Cached candles with ``open_ms >= since_ms`` (all when None), oldest first."""
        rows = self._conn.execute(
            "SELECT open_ms, close_ms, open, high, low, close, volume FROM candles WHERE network = ?"
            " AND source = ? AND interval = ? AND open_ms >= ? ORDER BY open_ms",
            (self.network, source, interval, since_ms if since_ms is not None else -(2**62)),
        )
        return [
            Candle(r[0], r[1], Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), Decimal(r[5]), Decimal(r[6]))
            for r in rows
        ]

    def last_candle_ms(self, source: str, interval: str) -> int | None:
        """Open time (ms) of the newest cached candle of the series, or None."""
        return self._candle_edge("MAX", source, interval)

    def first_candle_ms(self, source: str, interval: str) -> int | None:
        """Open time (ms) of the oldest cached candle of the series, or None."""
        return self._candle_edge("MIN", source, interval)

    def _candle_edge(self, func: str, source: str, interval: str) -> int | None:
        row = self._one(
            f"SELECT {func}(open_ms) FROM candles WHERE network = ? AND source = ? AND interval = ?",
            (self.network, source, interval),
        )
        return None if row[0] is None else int(row[0])

    def get_cursor(self, name: str) -> int | None:
        """A named integer cursor of this book (e.g. the sync cursor in ms), or None."""
        row = self._one("SELECT value FROM cursors WHERE book = ? AND name = ?", (self._book, name))
        return None if row is None else int(row[0])

    def set_cursor(self, name: str, value: int) -> None:
        """Store a named integer cursor of this book."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cursors (book, name, value) VALUES (?, ?, ?)",
                (self._book, name, value),
            )

    # -- backup ----------------------------------------------------------------------------------

    def backup(self, dest: Path, *, overwrite: bool = False) -> None:
        """A consistent copy of the whole ledger file (every book) at ``dest``.

        Uses SQLite's online backup API in one step, i.e. one read snapshot: safe while other
        processes write (WAL readers never block writers). The copy is written beside ``dest`` (as
        ``.<name>.<pid>.tmp``), flushed to disk and only then put in place, so ``dest`` is never a
        half-written file, even after a kill or a power cut; the next backup to ``dest`` removes what
        a killed one left (the copy and its ``-journal``). The result is a self-contained
        rollback-journal database. Raises UsageError when ``dest`` exists and not ``overwrite``, or
        is the ledger itself; LedgerError when the copy fails.
        """
        from dcactl.crash import MID_BACKUP, crash_point, is_armed

        dest = Path(dest)
        if dest.exists() and dest.resolve() == self.path.resolve():
            raise UsageError(f"{dest}: is the ledger itself; choose another backup path")
        if dest.exists() and not overwrite:
            raise UsageError(f"{dest}: already exists (pass --force to overwrite it)")
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        _remove_stale_copies(dest)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            target = sqlite3.connect(tmp)
            try:
                # one step (one read snapshot); page by page only for the crash test of a killed copy
                pages = 1 if is_armed(MID_BACKUP) else -1
                self._conn.backup(target, pages=pages, progress=lambda *_: crash_point(MID_BACKUP))
                target.execute("PRAGMA journal_mode = DELETE")
            finally:
                target.close()
            _fsync(tmp)
            if overwrite:
                os.replace(tmp, dest)
            else:  # a link cannot replace a file that appeared at dest meanwhile
                try:
                    os.link(tmp, dest)
                    tmp.unlink()
                except FileExistsError:
                    _remove_copy(tmp)
                    raise UsageError(f"{dest}: already exists (pass --force to overwrite it)") from None
                except OSError:  # a file system without hard links (FAT): checked, then renamed
                    if dest.exists():
                        _remove_copy(tmp)
                        raise UsageError(f"{dest}: already exists (pass --force to overwrite it)") from None
                    os.replace(tmp, dest)
            _fsync(dest.parent)
        except (OSError, sqlite3.Error) as exc:
            _remove_copy(tmp)
            problem = storage_problem(dest, exc)
            raise LedgerError(f"{dest}: backup failed: {problem or exc}") from exc


_COPY_LEFTOVERS = ("", "-journal", "-wal", "-shm")
"""What a copy in progress may have beside it: SQLite's journal of the copy's own transaction."""


def _remove_copy(tmp: Path) -> None:
    for tail in _COPY_LEFTOVERS:
        with contextlib.suppress(OSError):
            tmp.with_name(tmp.name + tail).unlink()


def _remove_stale_copies(dest: Path) -> None:
    """Remove the half-written copies (``.<name>.<pid>.tmp`` and their ``-journal``) that backups
    killed mid-copy left beside ``dest``: their process is gone."""
    for stale in dest.parent.glob(f".{dest.name}.*.tmp*"):
        pid, dot, tail = stale.name[len(dest.name) + 2 :].partition(".tmp")
        if not dot or tail not in _COPY_LEFTOVERS or not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            stale.unlink()


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder after a rename in it) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
