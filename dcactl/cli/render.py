"""Turning core results into what the user sees: a Rich table, or the ``--json`` document.

Kept apart from ``output.py`` (the consoles and generic helpers) so each command's rendering sits in
one place and ``cli.py`` stays thin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.cli import output
from dcactl.cli.output import fmt_dec, fmt_fees, fmt_pct, fmt_price, fmt_units, fmt_usd
from dcactl.errors import ExitCode

if TYPE_CHECKING:
    from dcactl.ledger.records import HistoryRow
    from dcactl.models import RunResult
    from dcactl.reports.runlog import RunEntry
    from dcactl.reports.taxlots import LotsOverview
    from dcactl.reports.views import MarketRow, StatusReport
    from dcactl.run.execute import PlanReport

_STATUS_STYLE = {
    "filled": "green",
    "partial": "yellow",
    "paper": "cyan",
    "not_due": "dim",
    "skipped": "yellow",
    "failed": "red",
    "pending": "magenta",
    "planned": "blue",
}


RUN_WIDE = 110
"""Below this terminal width the ``run`` table leaves out the venue column."""


def render_run(result: RunResult, code: ExitCode, command: str = "run", forced: bool = False) -> None:
    """Show a run (``command`` ``run`` or ``buy``; ``forced``: ``buy --force``): JSON document, a table,
    or nothing at all when ``--quiet`` and all went well."""
    from dcactl import timing

    timings = timing.report()
    if output.OPTIONS.json:
        output.print_json(result.to_json() | {"timings": timings})
        return
    if output.OPTIONS.verbose:
        spans = ", ".join(f"{k.removesuffix('_ms')} {v:g}" for k, v in timings.items())
        output.info(f"timings (ms): {spans}")
    if output.OPTIONS.quiet and code == ExitCode.OK:
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"dcactl {result.mode} {command} on {result.network}", title_justify="left")
    narrow = output.out().width < RUN_WIDE  # the venue goes and each reason gets a line of its own
    columns = [("asset", False), *([] if narrow else [("venue", False)]), ("status", False), ("USDC", True),
               ("size", True), ("avg price", True), ("fee", True), *([] if narrow else [("reason", False)])]
    for name, right in columns:
        table.add_column(name, justify="right" if right else "left", overflow="fold",
                         no_wrap=name != "reason")
    for r in result.results:
        usd = r.usd_filled if r.usd_filled is not None else r.usd_requested
        fee = f"{fmt_dec(r.fee)} {r.fee_token}" if r.fee is not None else "-"
        table.add_row(
            Text(r.asset),
            *([] if narrow else [Text(r.venue)]),
            Text(r.status, style=_STATUS_STYLE.get(r.status, "")),
            Text(fmt_usd(usd)),
            Text(fmt_units(r.size)),
            Text(fmt_price(r.avg_price)),
            Text(fee),
            *([] if narrow else [Text(r.reason or "")]),
        )
    if not result.results:
        output.out().print("No assets selected.", markup=False)
        return
    output.out().print(table)
    if narrow:
        for r in result.results:
            if r.reason:
                output.out().print(f"{r.asset} ({r.venue}): {r.reason}", markup=False)
    if command == "buy" and not forced:
        for r in result.results:
            if r.status == "not_due":
                output.note(f"{r.asset} is not due: add --force to buy it now anyway (in a period of its "
                            "own)")


def render_calendar(doc: dict[str, Any]) -> None:
    """``plan --until``: the coming buys (exact, or the range the rules allow), then per day."""
    if output.OPTIONS.json:
        output.print_json(doc)
        return
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(doc["timezone"])

    def usd(low: str, high: str, exact: bool = False) -> str:
        if exact or low == high:
            return fmt_usd(Decimal(low))
        return f"{fmt_usd(Decimal(low))}–{fmt_usd(Decimal(high))}"

    noted = any(b["notes"] for b in doc["buys"])
    rows = [[datetime.fromisoformat(b["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M"), b["asset"],
             usd(b["usd_min"], b["usd_max"], b["exact"]), *(["; ".join(b["notes"])] if noted else [])]
            for b in doc["buys"]]
    if not rows:
        output.info(f"no buy is due before {doc['until']}")
        return
    title = f"Coming buys until {doc['until'][:10]} ({doc['timezone']})"
    ranged = not all(b["exact"] for b in doc["buys"])
    caption = "a range: what the rules allow; the bank counts on each asset's next buy" if ranged else None
    output.print_table(title, ["when", "asset", "USDC", *(["note"] if noted else [])], rows, right=("USDC",),
                       keep=("when", "USDC"), caption=caption)
    per_day = [[d["day"], usd(d["usd_min"], d["usd_max"]) + (" > day cap" if d["over_day_cap"] else ""),
                fmt_usd(Decimal(d["cumulative_max"]))] for d in doc["days"]]
    output.print_table("Per day", ["day", "USDC", "to date (at most)"], per_day,
                       right=("USDC", "to date (at most)"), keep=("day", "USDC", "to date (at most)"))
    if doc["max_usd_per_day"] is not None and any(d["over_day_cap"] for d in doc["days"]):
        output.warn(f"on the days marked, the buys can exceed max_usd_per_day {doc['max_usd_per_day']}: "
                    "the later assets (config order) are skipped those days")
    if doc["balance_usdc"] is not None:
        balance = fmt_usd(Decimal(doc["balance_usdc"]))
        if doc["short_from"] is None:
            output.note(f"The spot balance ({balance} USDC) covers every buy until then.")
        else:
            output.warn(f"the spot balance ({balance} USDC) may run out on {doc['short_from']}: top it up")


def render_markets(rows: list[MarketRow]) -> None:
    """``markets``: how each asset resolves."""
    if output.OPTIONS.json:
        output.print_json({"markets": [r.to_json() for r in rows]})
        return
    output.print_table(
        "Markets",
        ["asset", "venue", "pair", "asset id", "szDecimals", "mid (USDC)", "note"],
        [
            [r.asset, r.venue, r.pair, r.asset_id, r.sz_decimals, fmt_dec(r.mid) if r.mid else None, r.note]
            for r in rows
        ],
        right=("asset id", "szDecimals", "mid (USDC)"),
        keep=("asset", "venue", "pair"),  # short values, never split mid-word: the note folds instead
    )


def render_status(report: StatusReport) -> None:
    """``status``: per asset and source, then totals per source (real and paper apart)."""
    if output.OPTIONS.json:
        output.print_json(report.to_json())
        return
    width = output.out().width
    wide = width >= 180 and any(report.trends.values())
    columns = ["asset", "source", "units", "invested", "avg cost", "fees", "value", "PnL", "PnL %", "buys",
               "last buy", "next due", "missed", *(["30 days"] if wide else [])]
    rows = [
        [
            r.asset,
            r.source,
            fmt_units(r.units),
            fmt_usd(r.invested_usd),
            fmt_price(r.avg_cost),
            fmt_fees(r.fees_usd, r.fees_unknown, r.fees_all_unknown),
            fmt_usd(r.value_usd),
            fmt_usd(r.pnl_usd),
            fmt_pct(r.pnl_pct),
            r.buys,
            _when(r.last_buy),
            _when(r.next_due),
            report.schedule.get(r.asset, (None, 0))[1] if r.source in ("dcactl", "paper") else None,
            *([sparkline(report.trends.get(r.asset, []))] if wide else []),
        ]
        for r in report.rows
    ]
    keep = ["30 days"]
    if width < 150:  # a narrow terminal: the columns that matter, each value whole (times in UTC)
        names = ["asset", "source", "units", "invested", "value", "PnL %", "next due"]
        if any(row[columns.index("missed")] for row in rows):
            names.append("missed")
        chosen = [columns.index(c) for c in names]
        due = columns.index("next due")
        rows = [[(str(row[i])[5:16] if i == due and row[i] else row[i]) for i in chosen] for row in rows]
        columns = [("next due (UTC)" if n == "next due" else n) for n in names]
        keep = columns
    output.print_table(
        f"Portfolio on {report.network} ({report.account}) — values in USDC",
        columns,
        rows,
        right=("units", "invested", "avg cost", "fees", "value", "PnL", "PnL %", "buys", "missed"),
        keep=keep,
    )
    output.print_table(
        "Totals by source",
        ["source", "invested", "fees", "value", "PnL", "PnL %", "buys"],
        [
            [
                name,
                fmt_usd(t.invested_usd),
                fmt_fees(t.fees_usd, t.fees_unknown, t.fees_all_unknown),
                fmt_usd(t.value_usd),
                fmt_usd(t.pnl_usd),
                fmt_pct(t.pnl_pct),
                t.buys,
            ]
            for name, t in report.totals.items()
        ],
        right=("invested", "fees", "value", "PnL", "PnL %", "buys"),
        caption="real = dcactl + external + imported; paper is never mixed in",
    )
    unknown = report.totals["real"].fees_unknown if "real" in report.totals else 0
    if unknown:
        fills = f"{unknown} imported fill{'s' if unknown != 1 else ''}"
        output.note(f"Fees unknown for {fills} (the earlier bot kept none): the fee totals count the known "
                    "fees only.")
    if report.dust:
        each = "; ".join(f"{a} {n}× {fmt_units(units)} for {fmt_usd(usd)} USDC"
                         for a, (n, units, usd) in sorted(report.dust.items()))
        output.note(f"Dust conversions (sold by the exchange, in the external rows): {each}")
    if report.cash is not None and not output.OPTIONS.quiet:
        from dcactl.models import RUNWAY_WARN_PERIODS

        c = report.cash
        style = "red" if c.periods < 1 else "yellow" if c.periods < RUNWAY_WARN_PERIODS else None
        output.out().print(
            f"Cash: {fmt_usd(c.usdc)} USDC in spot; runway {c.periods} period(s) of every asset "
            f"({fmt_usd(c.one_round)} USDC), about {c.days} days at {fmt_usd(c.per_day)} USDC/day",
            markup=False, style=style,
        )
    _render_last_run(report.last_run)


def _render_last_run(entry: RunEntry | None) -> None:
    """The line under ``status`` that says whether cron is doing its job."""
    if output.OPTIONS.quiet:
        return
    if entry is None:
        output.out().print("Last run: none recorded yet (dcactl run, or a timer from dcactl schedule).",
                           markup=False)
        return
    if entry.ended_at is None:
        how, style = "never ended (killed or crashed?)", "red"
    elif entry.failed:
        how, style = f"exit {entry.exit_code}, something failed — see dcactl runs --failed", "red"
    else:
        how, style = f"exit {entry.exit_code}", "green"
    output.out().print(f"Last run: {_when(entry.started_at)} ({entry.command}, {entry.mode}): {how}",
                       markup=False, style=style)


def _when(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def render_history(fills: list[HistoryRow], fmt: str, more: bool = False) -> None:
    """``history``: a table (newest first; ``more``: older fills exist beyond this page), or CSV/JSON
    with the columns of PRODUCT.md."""
    from dcactl.reports.stats import HISTORY_COLUMNS, history_rows

    records: list[dict[str, Any]] = [dict(zip(HISTORY_COLUMNS, r, strict=True)) for r in history_rows(fills)]
    if output.OPTIONS.json or fmt == "json":
        output.print_json({"fills": records})
    elif fmt == "csv":
        import csv
        import sys

        writer = csv.DictWriter(sys.stdout, fieldnames=list(HISTORY_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    elif not records:
        output.info("no fills in the ledger for this selection")
    else:
        columns = ["time (UTC)", "asset", "source", "size", "price", "USDC", "fee", "period", "reason"]
        rows = [
            [
                r["time"][:19].replace("T", " "),
                r["asset"],
                r["source"],
                r["size"],
                r["price"],
                fmt_usd(_d(r["usd"])),
                "unknown" if r["fee"] is None else f"{r['fee']} {r['fee_token']}",
                _period_cell(r["period"]),
                r["reason"],
            ]
            for r in reversed(records)
        ]
        keep = ["time (UTC)", "size", "price", "USDC", "fee", "period"]
        caption = None
        if output.out().width < HISTORY_WIDE:  # narrow: what matters, each value whole
            chosen = [columns.index(c) for c in ("time (UTC)", "asset", "source", "size", "USDC", "fee")]
            rows = [[(row[i][:16] if i == 0 else row[i]) for i in chosen] for row in rows]
            columns = [columns[i] for i in chosen]
            keep = columns
            caption = f"price, period and reason: a terminal of {HISTORY_WIDE}+ columns, or --format csv"
        output.print_table("Ledger (newest first)", columns, rows, right=("size", "price", "USDC"), keep=keep,
                           caption=caption)
        if more:
            output.info(f"the newest {len(records)} fills; older ones exist: --limit N shows more, "
                        "--format csv or json exports them all")


def _period_cell(period: str | None) -> str | None:
    """A period id as a table shows it: its start to the minute (``2026-11-30 00:00``), or ``forced``."""
    if period is None:
        return None
    return "forced" if period.startswith("forced:") else period[:16].replace("T", " ")


HISTORY_WIDE = 150
"""Below this terminal width the ``history`` table drops price, period and reason (each kept value
fits whole)."""


def _d(text: str) -> Decimal:
    return Decimal(text)


LOTS_PAGE = 20
"""Lots (and disposals) the ``lots`` table lists, the newest; the summary covers them all."""
LOTS_WIDE = 120
"""Below this terminal width the ``lots`` listings keep only what matters, each value whole."""


def render_lots_table(overview: LotsOverview, year: int, method: str, tz: str) -> None:
    """``lots`` for a person: a line per asset (lots, units held and their cost basis, the year's
    disposals), the newest lots and disposals, and a note on how to export every lot; never a table
    of all of them (a million lots would take minutes and gigabytes to lay out)."""
    if not overview.assets:
        output.info(f"no lots in {year}: no real buys before its end in this ledger")
        return
    numbers = ("lots", "units held", "cost basis", "disposals", "proceeds")
    output.print_table(
        f"Cost-basis lots {year} ({method}, year in {tz}) — values in USDC, not USD",
        ["asset", *numbers],
        [[a.asset, f"{a.lots:,}", fmt_units(a.units_held), fmt_usd(a.cost_held_usd), f"{a.disposals:,}",
          fmt_usd(a.proceeds_usd)] for a in overview.assets],
        right=numbers,
    )
    narrow = output.out().width < LOTS_WIDE
    shown = overview.newest_lots
    if shown:
        columns = ["asset", "acquired (UTC)", "source", "units", "cost", "unit cost", "remaining",
                   "cost remaining", "proceeds", "in year"]
        _print_listing(
            f"The newest {len(shown)} of {overview.lot_count:,} lots (newest first)", columns,
            [[lot.asset, _minute(lot.acquired), lot.source, fmt_units(lot.units), fmt_usd(lot.cost_usd, 4),
              fmt_price(lot.unit_cost), fmt_units(lot.units_remaining), fmt_usd(lot.cost_remaining_usd, 4),
              fmt_usd(lot.proceeds_usd, 4), "yes" if lot.in_year else "no"] for lot in shown],
            ("asset", "acquired (UTC)", "units", "cost", "remaining") if narrow else columns,
        )
    if overview.newest_disposals:
        columns = ["asset", "when (UTC)", "kind", "source", "units", "proceeds"]
        _print_listing(
            f"Disposals {year}: the newest {len(overview.newest_disposals)} of {overview.disposal_count:,}",
            columns,
            [[d.asset, _minute(d.time), d.kind, d.source, fmt_units(d.units), fmt_usd(d.proceeds_usd, 4)]
             for d in overview.newest_disposals],
            ("asset", "when (UTC)", "kind", "units", "proceeds") if narrow else columns,
        )
    output.info(f"{len(shown)} of {overview.lot_count:,} lots listed; every lot: --format csv"
                " (--format json adds the disposals)")


def _print_listing(title: str, columns: Sequence[str], rows: Sequence[Sequence[str | None]],
                   chosen: Sequence[str]) -> None:
    """A table of ``rows`` with the ``chosen`` columns only (a caption says where the others are);
    times never wrap."""
    picked = [columns.index(c) for c in chosen]
    caption = None
    if len(chosen) < len(columns):
        caption = f"the other columns: a terminal of {LOTS_WIDE}+ columns, or --format csv"
    output.print_table(title, list(chosen), [[row[i] for i in picked] for row in rows],
                       right=("units", "cost", "unit cost", "remaining", "cost remaining", "proceeds"),
                       keep=("acquired (UTC)", "when (UTC)"), caption=caption)


def _minute(t: datetime) -> str:
    """A UTC time to the minute, as the listings show it (``2026-11-30 08:05``)."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def render_document(document: dict[str, Any], lines: list[str], data: Sequence[str] = ()) -> None:
    """A command whose result is a small report: JSON, or the given lines; with ``--quiet`` only
    ``data``, what was asked for without the notes around it (none for a command that acts)."""
    if output.OPTIONS.json:
        output.print_json(document)
        return
    for line in data if output.OPTIONS.quiet else lines:
        output.out().print(line, markup=False)


def render_plan(report: PlanReport) -> None:
    """``plan``: per asset, due or not, the amount or skip, the order, and every reason."""
    if output.OPTIONS.json:
        output.print_json(report.to_json())
        return
    from rich.text import Text

    con = output.out()
    con.print(Text(f"Plan as of {report.as_of:%Y-%m-%d %H:%M} UTC ({report.mode} on {report.network})",
                   style="bold"))
    for a in report.assets:
        name = f"{a['asset']} [{a['venue']}]"
        if a["amount_usd"] is None:  # nothing could be decided (a price, a balance or a check failed)
            why = f" — {a['skip']}" if a["skip"] else ""
            head = f"{name} {'due' if a['due'] else 'not due'}: cannot decide{why}"
        else:
            what = f"skip — {a['skip']}" if a["skip"] else f"buy {a['amount_usd']} USDC"
            head = f"{name} {'due' if a['due'] else 'not due; when due'}: {what}"
        if a["order"]:
            order = f"IOC {a['order']['size']} at limit {a['order']['limit_px']}"
            head += f" ({order})" if a["due"] else f" (now: {order})"
        con.print(Text(head, style="bold"))
        if a["summary"] and a["summary"] != a["skip"]:
            con.print(Text(f"  {a['summary']}"))
        for reason in a["reasons"]:
            con.print(Text(f"  - {reason}"))
        shown = {k: v for k, v in a["indicators"].items() if v is not None}
        if shown:
            con.print(Text("  indicators: " + ", ".join(f"{k} {_indicator(v)}" for k, v in shown.items())))


def _indicator(v: float) -> str:
    """An indicator for ``plan``: six significant figures (``89500``, ``57.4458``, ``0.00123457``), no
    exponent for large values (``.4g`` printed a BTC price of 89500 as ``8.95e+04``)."""
    return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.0f}"


def render_runs(entries: list[RunEntry], *, failed: bool) -> None:
    """``runs``: newest first, one row per run; assets that were not due are counted, not listed."""
    from dcactl.reports.runlog import describe

    if output.OPTIONS.json:
        output.print_json({"runs": [e.to_json() for e in entries]})
        return
    if not entries:
        output.note("No failed runs recorded." if failed else "No runs recorded yet.")
        return
    rows = []
    for e in entries:
        shown = [describe(r) for r in e.results if r.get("status") != "not_due"]
        idle = sum(1 for r in e.results if r.get("status") == "not_due")
        if idle:
            shown.append(f"{idle} not due")
        if e.error:
            shown.insert(0, f"stopped: {e.error}")
        ended = "-" if e.ended_at is None else f"{(e.ended_at - e.started_at).total_seconds():.1f}s"
        code = "never ended" if e.ended_at is None else ("-" if e.exit_code is None else str(e.exit_code))
        rows.append([_when(e.started_at), e.command, e.mode, code, ended, "\n".join(shown) or "no assets"])
    output.print_table(
        "Runs (newest first)", ["started", "command", "mode", "exit", "took", "what happened"], rows,
        right=("exit", "took"),
    )


def render_backtest(result: Any) -> None:
    """``backtest``: strategies by PnL % (best first), then the portfolio's assets against the window's
    average price; or the ``--json`` document."""
    from dcactl.backtest.results import document

    req = result.request
    if output.OPTIONS.json:
        output.print_json(document(result.results, req.start, req.end, req.costs))
        return
    ranked = sorted(result.results, key=lambda r: r.pnl_pct if r.pnl_pct is not None else Decimal(-10**9),
                    reverse=True)
    columns = ["strategy", "invested", "value", "PnL", "PnL %", "XIRR %", "max DD %", "fees", "buys", "skips"]
    rows = [
        [r.name, fmt_usd(r.invested_usd), fmt_usd(r.value_usd), fmt_usd(r.pnl_usd),
         None if r.pnl_pct is None else f"{r.pnl_pct:+.2f}",
         None if r.xirr_pct is None else f"{r.xirr_pct:+.2f}",
         f"{r.max_drawdown_pct:.2f}", fmt_usd(r.fees_usd), r.buys,
         ", ".join(f"{n} {k}" for k, n in sorted(r.skips.items())) or "0"]
        for r in ranked
    ]
    if output.out().width < 120:  # a narrow terminal: the columns that decide, whole
        keep = [columns.index(c) for c in ("strategy", "invested", "value", "PnL %", "XIRR %", "max DD %")]
        columns = [columns[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    output.print_table(
        f"Backtest {req.start:%Y-%m-%d} to {req.end:%Y-%m-%d} (fee {req.costs.fee_bps} bps, slippage "
        f"{req.costs.slippage_bps} bps) — USDC",
        columns,
        rows,
        right=("invested", "value", "PnL", "PnL %", "XIRR %", "max DD %", "fees", "buys"),
        caption="XIRR: money-weighted annual return; max DD: lowest (value - invested) / invested",
        keep=columns,
    )
    portfolio = next((r for r in result.results if r.name == "portfolio"), None)
    if portfolio is not None:
        output.print_table(
            "portfolio by asset: average cost against the window's average daily close",
            ["asset", "buys", "invested", "units", "avg cost", "window avg", "better by"],
            [
                [a.asset, a.buys, fmt_usd(a.invested_usd), fmt_units(a.units), fmt_price(a.avg_cost),
                 fmt_price(a.window_avg_price),
                 None if a.avg_cost is None or not a.window_avg_price
                 else f"{(1 - a.avg_cost / a.window_avg_price) * 100:+.2f}%"]
                for a in portfolio.assets
            ],
            right=("buys", "invested", "units", "avg cost", "window avg", "better by"),
        )
    for note in result.notes:
        output.info(note)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[Decimal]) -> str:
    """One character per value, low to high (``▁`` … ``█``); empty without at least two values."""
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo
    top = len(SPARKS) - 1
    return "".join(SPARKS[int((v - lo) / span * top) if span else top // 2] for v in values)
