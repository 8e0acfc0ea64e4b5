"""Turning core results into what the user sees: a Rich table, or the ``--json`` document.

Kept apart from ``output.py`` (the consoles and generic helpers) so each command's rendering sits in
one place and ``cli.py`` stays thin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcactl import output
from dcactl.errors import ExitCode
from dcactl.output import fmt_dec, fmt_usd

if TYPE_CHECKING:
    from dcactl.models import RunResult
    from dcactl.reports import MarketRow

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


def render_run(result: RunResult, code: ExitCode) -> None:
    """Show a run: JSON document, a table, or nothing at all when ``--quiet`` and all went well."""
    if output.OPTIONS.json:
        output.print_json(result.to_json())
        return
    if output.OPTIONS.quiet and code == ExitCode.OK:
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"dcactl {result.mode} run on {result.network}", title_justify="left")
    for name, right in (
        ("asset", False),
        ("venue", False),
        ("status", False),
        ("USDC", True),
        ("size", True),
        ("avg price", True),
        ("fee", True),
        ("reason", False),
    ):
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for r in result.results:
        usd = r.usd_filled if r.usd_filled is not None else r.usd_requested
        fee = f"{fmt_dec(r.fee)} {r.fee_token}" if r.fee is not None else "-"
        table.add_row(
            Text(r.asset),
            Text(r.venue),
            Text(r.status, style=_STATUS_STYLE.get(r.status, "")),
            Text(fmt_usd(usd)),
            Text(fmt_dec(r.size)),
            Text(fmt_dec(r.avg_price)),
            Text(fee),
            Text(r.reason or ""),
        )
    if not result.results:
        output.out().print("No assets selected.", markup=False)
        return
    output.out().print(table)


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
    )
