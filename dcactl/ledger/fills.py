"""Fills in the ledger: idempotent inserts keyed on (book, tid), queries, exact SQL aggregates, and the
matching of imported (legacy) fills to the exchange fills they turned out to be."""

# ruff: noqa: S608 - SQL text here is assembled only from module constants and placeholder
# lists; every value is a bound parameter.

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dcactl.ledger import codec
from dcactl.ledger.base import LedgerBase
from dcactl.ledger.records import HistoryRow, PositionRow, TradeRow, TradeText
from dcactl.models import QUOTE, Fill

_FILL_COLUMNS = (
    "time_us, asset, pair, side, size, price, fee, fee_token, tid, source, oid, cloid, hash, period, reason,"
    " fee_unknown"
)
FILL_INSERT = (
    "INSERT OR IGNORE INTO fills (book, tid, time_us, asset, pair, side, size, price, fee, fee_token,"
    " fee_base, source, oid, cloid, hash, period, reason, units_hi, units_lo, usd_hi, usd_lo, fee_usd_hi,"
    " fee_usd_lo, approx, fee_unknown) VALUES (" + ", ".join("?" * 25) + ")"
)
MATCH_WINDOW = timedelta(seconds=120)
"""An imported fill matches an exchange fill of the same asset within this time of it."""
PRICE_TOLERANCE = Decimal("0.0001")
"""Relative price difference still counted as "the same price" (one unit in the 5th significant figure)."""
_HISTORY_COLUMNS = (
    "time_us, asset, pair, side, size, price, fee, fee_token, tid, oid, cloid, hash, source, period, reason,"
    " fee_unknown, usd_hi, usd_lo, approx"
)
"""The columns of :class:`~dcactl.ledger.records.HistoryRow`, in its order."""
_TRADE_COLUMNS = "time_us, asset, side, size, price, fee, fee_token, tid, source, reason"
_POSITION_SQL = (
    "SELECT asset, source, side, fee_base, SUM(units_hi), SUM(units_lo), SUM(usd_hi), SUM(usd_lo),"
    " SUM(fee_usd_hi), SUM(fee_usd_lo), COUNT(*), MIN(time_us), MAX(time_us)"
    " FROM fills INDEXED BY fills_positions WHERE book = ? AND superseded_by IS NULL AND approx = 0"
    " GROUP BY asset, source, side, fee_base"
)
_UNKNOWN_FEES_SQL = (
    "SELECT asset, source, COUNT(*) FROM fills INDEXED BY fills_fee_unknown"
    " WHERE book = ? AND superseded_by IS NULL AND fee_unknown = 1 GROUP BY asset, source"
)


def fill_row(book: int, f: Fill) -> tuple[Any, ...]:
    """The INSERT parameters of one fill: exact text plus integer companions (see dcactl.ledger.codec)."""
    fee_base = f.fee_token.upper() != QUOTE
    usd = codec.mul(f.size, f.price)
    fee_usd = codec.mul(f.fee, f.price) if fee_base else f.fee
    units = f.size if f.side == "B" else -f.size
    if fee_base:
        units = codec.add(units, -f.fee)
    u_hi, u_lo, u_ok = codec.split(units)
    d_hi, d_lo, d_ok = codec.split(usd)
    fu_hi, fu_lo, fu_ok = codec.split(fee_usd)
    return (
        book, f.tid, codec.to_us(f.time), f.asset, f.pair, f.side, codec.text(f.size),
        codec.text(f.price), codec.text(f.fee),
        f.fee_token, int(fee_base), f.source, f.oid, f.cloid, f.hash, f.period, f.reason,
        u_hi, u_lo, d_hi, d_lo, fu_hi, fu_lo, int(not (u_ok and d_ok and fu_ok)), int(f.fee_unknown),
    )


def row_fill(row: tuple[Any, ...]) -> Fill:
    """A row selected with ``_FILL_COLUMNS`` → :class:`Fill`."""
    (time_us, asset, pair, side, size, price, fee, fee_token, tid, source, oid, cloid, hash_, period,
     reason, fee_unknown) = row
    return Fill(
        time=codec.from_us(time_us), asset=asset, pair=pair, side=side, size=Decimal(size),
        price=Decimal(price), fee=Decimal(fee), fee_token=fee_token, tid=tid, source=source, oid=oid,
        cloid=cloid, hash=hash_, period=period, reason=reason, fee_unknown=bool(fee_unknown),
    )


@dataclass
class _Acc:
    """Exact Python accumulator of one position (used for inexact rows and on SQL integer overflow)."""

    units: Decimal = Decimal(0)
    bought: Decimal = Decimal(0)
    invested: Decimal = Decimal(0)
    buy_fees_usdc: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    proceeds: Decimal = Decimal(0)
    buys: int = 0
    sells: int = 0
    first: int | None = None
    last: int | None = None


class FillStore(LedgerBase):
    """The fill half of :class:`~dcactl.ledger.Ledger`."""

    def add_fills(self, fills: Iterable[Fill]) -> int:
        """Store fills, ignoring any whose ``tid`` this book already holds; one transaction.

        Returns the number of rows inserted (0 for a no-op re-add). Raises ValueError for a naive
        fill time.
        """
        rows = [fill_row(self._book, f) for f in fills]
        if not rows:
            return 0
        with self._tx() as conn:
            cursor = conn.executemany(FILL_INSERT, rows)
        return max(cursor.rowcount, 0)

    def fills(
        self, *, asset: str | None = None, since: datetime | None = None, until: datetime | None = None,
        source: str | Sequence[str] | None = None, limit: int | None = None, newest_first: bool = False,
        include_superseded: bool = False,
    ) -> list[Fill]:
        """Fills of this book with ``since <= time < until``, oldest first (or newest first).

        Imported fills superseded by a synced exchange fill are left out unless
        ``include_superseded``. ``limit`` caps the number returned (after ordering).
        """
        where, params = self._where(asset=asset, since=since, until=until, source=source,
                                    include_superseded=include_superseded)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {_FILL_COLUMNS} FROM fills WHERE {where} ORDER BY time_us {order}, id {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [row_fill(r) for r in self._conn.execute(sql, params)]

    def iter_history(
        self, *, asset: str | None = None, since: datetime | None = None,
        source: str | Sequence[str] | None = None, limit: int | None = None, newest_first: bool = False,
    ) -> Iterator[HistoryRow]:
        """Fills as the ``history`` rows of ``reports.stats.history_rows``, oldest first (or the newest
        ``limit`` newest first), one at a time from the cursor (exports stream: memory stays flat
        however large the ledger); superseded imports left out. Plain tuples straight from SQLite:
        no object per fill. Consume it while the ledger is open."""
        where, params = self._where(asset=asset, since=since, source=source)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {_HISTORY_COLUMNS} FROM fills WHERE {where} ORDER BY time_us {order}, id {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return iter(self._conn.execute(sql, params))

    def iter_trades(
        self, *, until: datetime | None = None, source: str | Sequence[str] | None = None,
    ) -> Iterator[TradeRow]:
        """Fills before ``until`` as light :class:`TradeRow` rows, in the order cost-basis lots are
        computed in: by asset (name order), then time, then trade id; one at a time from the cursor
        (read in the order of the covering index ``fills_lots``: memory stays flat however large the
        ledger). Superseded imports left out. Consume it while the ledger is open, inside
        :meth:`snapshot` when it must agree with other reads (:meth:`sell_counts`)."""
        new = tuple.__new__  # what TradeRow(...) does, without its Python-level __new__ per row
        for time_us, asset, side, size, price, fee, fee_token, tid, source_, reason in self.iter_trade_texts(
                until=until, source=source):
            yield new(TradeRow, (time_us, asset, side, Decimal(size), Decimal(price), Decimal(fee), fee_token,
                                 tid, source_, reason))

    def iter_trade_texts(
        self, *, until: datetime | None = None, source: str | Sequence[str] | None = None,
    ) -> Iterator[TradeText]:
        """The rows of :meth:`iter_trades` in the same order, as the ledger holds them: plain tuples
        straight from the cursor, decimals as their recorded text (``reports.stats.iter_lots`` reads
        them: no object per fill on the way). Consume it while the ledger is open."""
        where, params = self._where(until=until, source=source)
        # the covering index holds them in this order: no sort, no read of the wide rows
        sql = (f"SELECT {_TRADE_COLUMNS} FROM fills INDEXED BY fills_lots WHERE {where}"
               " ORDER BY asset, time_us, tid")
        return iter(self._conn.execute(sql, params))

    def iter_sells(
        self, *, since: datetime | None = None, until: datetime | None = None,
        source: str | Sequence[str] | None = None,
    ) -> Iterator[TradeRow]:
        """Sells with ``since <= time < until`` as :class:`TradeRow` rows, by time then trade id (the
        order of disposals), one at a time from the cursor; superseded imports left out."""
        where, params = self._where(since=since, until=until, source=source)
        # the sells' own small index (0015) finds the (usually few) sells without walking every fill
        sql = (f"SELECT {_TRADE_COLUMNS} FROM fills INDEXED BY fills_sells WHERE {where} AND side = 'A'"
               " ORDER BY time_us, tid")
        for time_us, asset, side, size, price, fee, fee_token, tid, source_, reason in self._conn.execute(
                sql, params):
            yield TradeRow(time_us, asset, side, Decimal(size), Decimal(price), Decimal(fee), fee_token, tid,
                           source_, reason)

    def sell_counts(
        self, *, until: datetime | None = None, source: str | Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Per asset, how many sells before ``until`` this book holds (superseded imports left out);
        assets without sells are absent. Read from the sells' own small index, not the rows."""
        where, params = self._where(until=until, source=source)
        rows = self._conn.execute(
            f"SELECT asset, COUNT(*) FROM fills INDEXED BY fills_sells WHERE {where} AND side = 'A'"
            " GROUP BY asset", params)
        return {asset: int(count) for asset, count in rows}

    def fill_count(self, *, source: str | None = None, include_superseded: bool = True) -> int:
        """Number of fills of this book (of one source when given)."""
        where, params = self._where(source=source, include_superseded=include_superseded)
        return int(self._one(f"SELECT COUNT(*) FROM fills WHERE {where}", tuple(params))[0])

    def dust_conversions(self) -> dict[str, tuple[int, Decimal, Decimal]]:
        """Per asset: (how many, units, USDC) of the exchange's dust conversions kept in this book. They
        are the fills with trade id 0 (ids ``0:…``, found through the trade-id index, not a scan)."""
        out: dict[str, tuple[int, Decimal, Decimal]] = {}
        for asset, size, price in self._conn.execute(
            "SELECT asset, size, price FROM fills WHERE book = ? AND tid >= '0:' AND tid < '0;'"
            " AND superseded_by IS NULL",
            (self._book,),
        ):
            count, units, usd = out.get(asset, (0, Decimal(0), Decimal(0)))
            out[asset] = (count + 1, units + Decimal(size), usd + Decimal(size) * Decimal(price))
        return out

    def fills_for_order(self, *, cloid: str | None = None, oid: int | None = None) -> list[Fill]:
        """Every fill (all partial fills) of one order, by cloid or by oid, oldest first.

        Raises ValueError when neither is given.
        """
        if cloid is None and oid is None:
            raise ValueError("fills_for_order needs a cloid or an oid")
        column, value = ("cloid", cloid) if cloid is not None else ("oid", oid)
        rows = self._conn.execute(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE book = ? AND {column} = ? ORDER BY time_us, id",
            (self._book, value),
        )
        return [row_fill(r) for r in rows]

    def known_tids(self, tids: Iterable[str]) -> set[str]:
        """Which of these trade ids this book already holds."""
        wanted = list(dict.fromkeys(tids))
        found: set[str] = set()
        for i in range(0, len(wanted), 900):  # under SQLite's host-parameter limit
            chunk = wanted[i:i + 900]
            rows = self._conn.execute(
                f"SELECT tid FROM fills WHERE book = ? AND tid IN ({', '.join('?' * len(chunk))})",
                (self._book, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    def superseded(self) -> dict[str, str]:
        """Imported fills matched to exchange fills: imported tid → the exchange fill's tid."""
        rows = self._conn.execute(
            "SELECT tid, superseded_by FROM fills WHERE book = ? AND superseded_by IS NOT NULL", (self._book,)
        )
        return {r[0]: r[1] for r in rows}

    def _where(
        self, *, asset: str | None = None, since: datetime | None = None, until: datetime | None = None,
        source: str | Sequence[str] | None = None, include_superseded: bool = False,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = ["book = ?"]
        params: list[Any] = [self._book]
        if asset is not None:
            clauses.append("asset = ?")
            params.append(asset)
        if since is not None:
            clauses.append("time_us >= ?")
            params.append(codec.to_us(since))
        if until is not None:
            clauses.append("time_us < ?")
            params.append(codec.to_us(until))
        if isinstance(source, str):
            clauses.append("source = ?")
            params.append(source)
        elif source is not None:  # any of several sources
            clauses.append(f"source IN ({', '.join('?' * len(source))})")
            params.extend(source)
        if not include_superseded:
            clauses.append("superseded_by IS NULL")
        return " AND ".join(clauses), params

    # -- statistics ---------------------------------------------------------------------------

    def last_price(self, asset: str) -> Decimal | None:
        """The price of ``asset``'s newest fill (any source), or None without fills."""
        last = self.fills(asset=asset, limit=1, newest_first=True)
        return last[0].price if last else None

    def positions(self) -> list[PositionRow]:
        """Per (asset, source), aggregated in SQL over the non-superseded fills; see PositionRow.

        Exact: integer companions are summed by SQLite; rows whose companions are inexact (more than
        18 decimals) and any SQLite integer overflow fall back to exact Decimal sums in Python.
        Sorted by asset, then source. ``unknown_fees`` counts the fills whose fee is unknown (they
        add no fee to the sums).
        """
        accs: dict[tuple[str, str], _Acc] = {}
        try:
            rows = self._conn.execute(_POSITION_SQL, (self._book,)).fetchall()
            exact_in_sql = True
        except sqlite3.OperationalError as exc:  # "integer overflow": sum everything in Python
            if "overflow" not in str(exc):
                raise
            rows, exact_in_sql = [], False
        for asset, source, side, fee_base, *sums, count, first, last in rows:
            units, usd, fee_usd = (codec.join(sums[i] or 0, sums[i + 1] or 0) for i in (0, 2, 4))
            _merge(accs.setdefault((asset, source), _Acc()), side, bool(fee_base), units, usd, fee_usd, count,
                   first, last)
        python_rows = self._conn.execute(
            "SELECT asset, source, side, size, price, fee, fee_base, time_us FROM fills"
            " WHERE book = ? AND superseded_by IS NULL" + (" AND approx = 1" if exact_in_sql else ""),
            (self._book,),
        )
        for asset, source, side, size, price, fee, fee_base, time_us in python_rows:
            _accumulate(accs.setdefault((asset, source), _Acc()), side, Decimal(size), Decimal(price),
                        Decimal(fee), bool(fee_base), time_us)
        unknown = {(a, s): n for a, s, n in self._conn.execute(_UNKNOWN_FEES_SQL, (self._book,))}
        return [
            PositionRow(
                asset=asset, source=source, units=codec.plain(a.units), bought_units=codec.plain(a.bought),
                invested_usd=codec.plain(a.invested), buy_fees_usdc=codec.plain(a.buy_fees_usdc),
                fees_usd=codec.plain(a.fees), sold_units=codec.plain(codec.add(a.bought, -a.units)),
                proceeds_usd=codec.plain(a.proceeds), buys=a.buys, sells=a.sells,
                first_buy=None if a.first is None else codec.from_us(a.first),
                last_buy=None if a.last is None else codec.from_us(a.last),
                unknown_fees=unknown.get((asset, source), 0),
            )
            for (asset, source), a in sorted(accs.items())
        ]

    # -- imported fills found again on the exchange ---------------------------------------------

    def match_imports(self) -> int:
        """Mark imported fills that are really exchange fills this ledger also holds; one transaction.

        An imported fill matches an order's exchange fills (source dcactl or external, same asset,
        buys, grouped by oid so partial fills count as one order) when they share the tx hash, or
        when the order's first fill is within :data:`MATCH_WINDOW` of it and both the total size and
        the average price agree "within rounding": sizes differ by at most one unit in the last
        place of the exchange value (the bot may have recorded the size before the exchange floored
        it to szDecimals), prices by at most :data:`PRICE_TOLERANCE` relative. Each order supersedes
        at most one imported fill; the imported row gets ``superseded_by`` = the order's first tid
        and is no longer counted or listed. Returns the number newly matched.
        """
        imports = self._conn.execute(
            "SELECT id, asset, time_us, size, price, hash FROM fills"
            " INDEXED BY fills_imported WHERE book = ? AND source = 'imported' AND superseded_by IS NULL"
            " ORDER BY time_us, id",
            (self._book,),
        ).fetchall()
        if not imports:
            return 0
        used = {r[0] for r in self._conn.execute(
            "SELECT superseded_by FROM fills WHERE book = ? AND superseded_by IS NOT NULL", (self._book,))}
        window = int(MATCH_WINDOW.total_seconds() * 1_000_000)
        matches: list[tuple[str, int]] = []
        near = (
            "SELECT id, tid, oid, time_us, size, price, hash FROM fills INDEXED BY fills_by_asset_time"
            " WHERE book = ? AND asset = ? AND time_us BETWEEN ? AND ? AND side = 'B'"
            " AND source IN ('dcactl', 'external')"
        )
        same_hash = (
            "SELECT id, tid, oid, time_us, size, price, hash FROM fills INDEXED BY fills_by_hash"
            " WHERE book = ? AND hash = ? AND hash IS NOT NULL AND side = 'B'"
            " AND source IN ('dcactl', 'external')"
        )
        for row_id, asset, time_us, size, price, hash_ in imports:
            # two indexed lookups (an OR of both would scan the book once per import)
            found = {r[0]: r for r in self._conn.execute(near, (self._book, asset, time_us - window,
                                                                time_us + window))}
            if hash_ is not None:
                found.update((r[0], r) for r in self._conn.execute(same_hash, (self._book, hash_)))
            rows = [r[1:] for r in sorted(found.values(), key=lambda r: (r[3], r[0]))]
            best = _best_order(rows, time_us, Decimal(size), Decimal(price), hash_, used)
            if best is not None:
                used.add(best)
                matches.append((best, row_id))
        if matches:
            with self._tx() as conn:
                conn.executemany("UPDATE fills SET superseded_by = ? WHERE id = ?", matches)
        return len(matches)


def _best_order(
    rows: list[tuple[Any, ...]], time_us: int, size: Decimal, price: Decimal, hash_: str | None,
    used: set[str],
) -> str | None:
    """The first tid of the exchange order that best matches an imported fill, or None."""
    orders: dict[Any, list[tuple[Any, ...]]] = {}
    for r in rows:
        orders.setdefault(r[1] if r[1] is not None else ("tid", r[0]), []).append(r)
    best: tuple[int, int, str] | None = None
    for fills in orders.values():
        first_tid = fills[0][0]
        if first_tid in used:
            continue
        total = sum((Decimal(f[3]) for f in fills), Decimal(0))
        cost = sum((codec.mul(Decimal(f[3]), Decimal(f[4])) for f in fills), Decimal(0))
        same_hash = hash_ is not None and any(f[5] == hash_ for f in fills)
        ulp = max(Decimal(1).scaleb(Decimal(f[3]).as_tuple().exponent) for f in fills)  # type: ignore[arg-type]
        avg = cost / total if total else Decimal(0)
        same_trade = (
            abs(fills[0][2] - time_us) <= MATCH_WINDOW.total_seconds() * 1_000_000
            and abs(total - size) <= ulp
            and abs(avg - price) <= PRICE_TOLERANCE * max(avg, price)
        )
        if not (same_hash or same_trade):
            continue
        rank = (0 if same_hash else 1, abs(fills[0][2] - time_us), first_tid)
        if best is None or rank < best:
            best = rank
    return None if best is None else best[2]


def _accumulate(
    acc: _Acc, side: str, size: Decimal, price: Decimal, fee: Decimal, fee_base: bool, time_us: int
) -> None:
    """Add one fill to a Python accumulator, exactly (same definitions as the SQL companions)."""
    fee_usd = codec.mul(fee, price) if fee_base else fee
    units = size if side == "B" else -size
    if fee_base:
        units = codec.add(units, -fee)
    _merge(acc, side, fee_base, units, codec.mul(size, price), fee_usd, 1, time_us, time_us)


def _merge(
    acc: _Acc, side: str, fee_base: bool, units: Decimal, usd: Decimal, fee_usd: Decimal, count: int,
    first: int, last: int,
) -> None:
    """Add the sums of ``count`` fills of one side and fee kind to a position accumulator."""
    acc.units = codec.add(acc.units, units)
    acc.fees = codec.add(acc.fees, fee_usd)
    if side == "B":
        acc.bought = codec.add(acc.bought, units)
        acc.invested = codec.add(acc.invested, usd)
        if not fee_base:
            acc.buy_fees_usdc = codec.add(acc.buy_fees_usdc, fee_usd)
        acc.buys += count
        acc.first = first if acc.first is None else min(acc.first, first)
        acc.last = last if acc.last is None else max(acc.last, last)
    else:
        acc.proceeds = codec.add(acc.proceeds, usd)
        acc.sells += count
