"""``dcactl report``: one self-contained, offline HTML page of the ledger with charts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dcactl.cli import output
from dcactl.cli.context import parse_when, with_session
from dcactl.errors import UsageError

DEFAULT_OUTPUT = Path("dcactl-report.html")


def report(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the HTML file (replaced if it exists).")
    ] = DEFAULT_OUTPUT,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Charts from this date (portfolio timezone); default: the first buy."),
    ] = None,
) -> None:
    """Write one self-contained, offline HTML report of the ledger with charts."""
    from dcactl.beside import in_halves
    from dcactl.config.files import write_text_atomic
    from dcactl.reports.html import report_page
    from dcactl.reports.report import gather

    if out.is_dir():
        raise UsageError(f"--output {out}: is a folder; give a file name such as {out / DEFAULT_OUTPUT}")

    async def work(session: Any) -> Any:
        start = parse_when(since, session.config.settings.timezone, "--since") if since else None
        return await gather(session, start, lambda s: output.info(f"fetching the price history of {s}..."))

    with output.progress("dcactl report: reading the ledger and prices..."):
        data = with_session(ctx, work, create=False)
        page = report_page(data, in_halves)  # the session is closed: half the charts in a child
    try:
        write_text_atomic(out, page)
    except OSError as exc:
        raise UsageError(f"--output {out}: cannot write ({exc.strerror})") from None
    size = len(page.encode())
    if output.OPTIONS.json:
        output.print_json({"written": str(out), "bytes": size, "assets": [a.asset for a in data.assets]})
    elif not output.OPTIONS.quiet:
        output.out().print(
            f"Wrote {out} ({size / 1024:,.0f} KB, {len(data.assets)} assets); open it in a browser.",
            markup=False,
        )
