"""The streamed exports: ``history --format csv/json`` and ``lots --format csv/json``, each row written
as it is read (constant memory, a million rows in seconds).

Each row is spelled out as one line of text, equal to what ``csv.writer`` or ``json.dumps`` writes for
it (property-tested against them): a CSV row is its fields joined by commas unless a value needs
quoting, when csv.writer writes it; JSON text is escaped by json's own function. The lines go out a
chunk at a time.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from json.encoder import encode_basestring_ascii as _js
from typing import TYPE_CHECKING, Any

from dcactl.reports.stats import HISTORY_COLUMNS, LOT_COLUMNS, history_rows

if TYPE_CHECKING:
    from dcactl.ledger.records import HistoryRow
    from dcactl.reports.stats import Disposal

CHUNK = 200
"""Lines written to stdout per ``write``: a write per line costs more than the line, and a chunk of
~100 KB (a JSON row is ~400 characters) keeps its text, and the bytes it is encoded to, under glibc's
128 KiB threshold above which each would be fresh mmap'ed pages (2048 lines measured ~0.5 s slower
over a million rows than 128–256)."""


def stream_history(rows: Iterable[HistoryRow], fmt: str) -> None:
    """``history --format csv/json``: each fill written as it is read (constant memory), the same
    columns and document as ``render.render_history``."""
    out = sys.stdout
    if fmt == "csv":
        out.write(csv_text(HISTORY_COLUMNS) + "\n")
        _write_lines(out, map(history_csv, history_rows(rows)), "", "\n", "\n")
    else:
        out.write('{\n  "fills": [')
        _write_lines(out, map(history_json, history_rows(rows)), "\n    ", ",\n    ", "")
        out.write("\n  ]\n}\n")
    out.flush()


def stream_lots(rows: Iterable[tuple[Any, ...]], sold: Iterable[Disposal], fmt: str, year: int, method: str,
                tz: str) -> None:
    """``lots --format csv/json``: each lot written as it is computed (constant memory), from its row
    (``stats.lot_rows``, as ``stats.iter_lot_rows`` makes them). CSV: the lots, one a row
    (LOT_COLUMNS); JSON: one document ``{"year", "method", "timezone", "currency", "lots",
    "disposals"}`` written piece by piece (``sold`` is read only for it)."""
    out = sys.stdout
    if fmt == "csv":
        out.write(csv_text(LOT_COLUMNS) + "\n")
        _write_lines(out, map(lot_csv, rows), "", "\n", "\n")
    else:
        head = {"year": year, "method": method, "timezone": tz, "currency": "USDC"}
        out.write("{\n" + "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items()))
        out.write('  "lots": [')
        _write_lines(out, map(lot_json, rows), "\n    ", ",\n    ", "")
        out.write('\n  ],\n  "disposals": [')
        for i, d in enumerate(sold):
            out.write(("," if i else "") + "\n    " + json.dumps(d.to_json()))
        out.write("\n  ]\n}\n")
    out.flush()


def _write_lines(out: Any, lines: Iterator[str], lead: str, between: str, end: str) -> None:
    """Write ``lines`` to ``out`` as ``lead + line + between + line ... + end`` (nothing for no
    lines; a CSV's ``end`` ends its last line), :data:`CHUNK` lines per write."""
    written = False
    while chunk := list(islice(lines, CHUNK)):
        out.write((between if written else lead) + between.join(chunk))
        written = True
    if written:
        out.write(end)


def csv_text(fields: Iterable[str | int | None]) -> str:
    """One CSV row as ``csv.writer(..., lineterminator="\\n")`` writes it, without the line end."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()[:-1]


def history_csv(row: tuple[Any, ...]) -> str:
    """One ``history`` row (``stats.history_rows``) as its CSV line, what :func:`csv_text` writes:
    the fields joined by commas (None empty, the oid in decimal), unless the line holds a quote, CR or
    LF or more than its 15 separating commas (a value csv's dialect would quote) — then csv_text."""
    (time, asset, pair, side, size, price, usd, fee, fee_token, tid, oid, cloid, hash_, source, period,
     reason) = row
    line = ",".join((time, asset, pair, side, size, price, usd, fee or "", fee_token or "", tid,
                     "" if oid is None else str(oid), cloid or "", hash_ or "", source, period or "",
                     reason or ""))
    if line.count(",") != 15 or '"' in line or "\r" in line or "\n" in line:
        return csv_text(row)
    return line


def history_json(row: tuple[Any, ...]) -> str:
    """One ``history`` row as ``json.dumps`` writes its record (the keys of HISTORY_COLUMNS in order,
    ``", "`` and ``": "``, ASCII only), spelled out: an export writes a million. Text is escaped by the
    function ``json.dumps`` itself uses; the time and the decimals (digits, ``.``, ``-``, letters of
    the ISO time) need no escaping; oid is an int or None."""
    (time, asset, pair, side, size, price, usd, fee, fee_token, tid, oid, cloid, hash_, source, period,
     reason) = row
    fee_text = "null" if fee is None else f'"{fee}"'
    return (f'{{"time": "{time}", "asset": {_js(asset)}, "pair": {_js(pair)}, "side": {_js(side)}, '
            f'"size": "{size}", "price": "{price}", "usd": "{usd}", '
            f'"fee": {fee_text}, '
            f'"fee_token": {"null" if fee_token is None else _js(fee_token)}, "tid": {_js(tid)}, '
            f'"oid": {"null" if oid is None else int(oid)}, '
            f'"cloid": {"null" if cloid is None else _js(cloid)}, '
            f'"hash": {"null" if hash_ is None else _js(hash_)}, "source": {_js(source)}, '
            f'"period": {"null" if period is None else _js(period)}, '
            f'"reason": {"null" if reason is None else _js(reason)}}}')


def lot_csv(row: tuple[Any, ...]) -> str:
    """One lot's row (``stats.lot_rows``) as its CSV line (LOT_COLUMNS; ``fills`` is JSON's only), what
    :func:`csv_text` writes: the fields joined by commas (None empty, ``in_year`` True/False), unless
    a value needs quoting (a quote, CR, LF or more than the 10 separating commas) — then csv_text."""
    (asset, acquired, source, tid, units, cost, unit_cost, remaining, cost_remaining, proceeds, in_year,
     _fills) = row
    line = ",".join((asset, acquired, source, tid or "", units, cost, unit_cost or "", remaining,
                     cost_remaining, proceeds, str(in_year)))
    if line.count(",") != 10 or '"' in line or "\r" in line or "\n" in line:
        return csv_text(row[:-1])
    return line


def lot_json(row: tuple[Any, ...]) -> str:
    """One lot's row as ``json.dumps(lot.to_json())`` writes it (its keys in order, ``", "`` and
    ``": "``, ASCII only), spelled out: an export writes a million. Text is escaped by the function
    ``json.dumps`` itself uses; the time and the decimals (digits, ``.``, ``-``) need no escaping;
    ``in_year`` is a bool and ``fills`` an int."""
    (asset, acquired, source, tid, units, cost, unit_cost, remaining, cost_remaining, proceeds, in_year,
     fills) = row
    unit_cost = "null" if unit_cost is None else f'"{unit_cost}"'
    return (f'{{"asset": {_js(asset)}, "acquired": "{acquired}", "source": {_js(source)}, '
            f'"tid": {"null" if tid is None else _js(tid)}, "units": "{units}", "cost_usd": "{cost}", '
            f'"units_remaining": "{remaining}", "cost_remaining_usd": "{cost_remaining}", '
            f'"proceeds_usd": "{proceeds}", "in_year": {"true" if in_year else "false"}, '
            f'"fills": {int(fills)}, "unit_cost": {unit_cost}}}')
