"""``dcactl backtest``: the portfolio's own rules over past prices, beside the baselines."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from dcactl.cli import output
from dcactl.cli.context import Baseline, state_of, with_session
from dcactl.errors import UsageError


def _day(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected a date such as 2025-01-31 (UTC)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bps(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{what} {text!r}: expected basis points, e.g. 7") from None
    if not value.is_finite() or value < 0 or value > 1000:
        raise UsageError(f"{what} {text!r}: must be between 0 and 1000 basis points")
    return value


def backtest(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="First day (UTC); default: a year before --to.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, exclusive (UTC); default: now.")] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this asset (repeatable).")] = None,
    baseline: Annotated[
        list[Baseline] | None, typer.Option("--baseline", help="Repeatable; default: both.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="A variant per value: KEY=V1,V2 (e.g. rsi.oversold=25,30); repeatable."),
    ] = None,
    fee_bps: Annotated[
        str, typer.Option("--fee-bps", help="Fee per buy in basis points, in the base token.")
    ] = "7",
    slippage_bps: Annotated[str, typer.Option("--slippage-bps", help="Paid above each candle's open.")] = "5",
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="CSV with time,asset,open,high,low,close (else the exchange)."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the charts to this HTML file.")
    ] = None,
) -> None:
    """Replay the portfolio's rules over past prices through run's decision code, beside the baselines."""
    from dcactl.backtest.results import Costs
    from dcactl.backtest.run import BASELINES, BacktestRequest, prepare_backtest, run_backtest_csv
    from dcactl.cli.render import render_backtest
    from dcactl.session import load

    to = _day(end, "--to") if end else datetime.now(UTC).replace(microsecond=0)
    frm = _day(start, "--from") if start else to - timedelta(days=365)
    baselines = tuple(b.value for b in baseline) if baseline else BASELINES
    if html is not None and html.is_dir():
        raise UsageError(f"--html {html}: is a folder; give a file name such as {html / 'backtest.html'}")
    request = BacktestRequest(
        start=frm,
        end=to,
        only=tuple(only or ()),
        baselines=baselines,
        sets=tuple(set_ or ()),
        costs=Costs(_bps(fee_bps, "--fee-bps"), _bps(slippage_bps, "--slippage-bps")),
        prices=prices,
        curves=html is not None,  # the table and --json show figures only
    )

    async def work(session: Any) -> Any:
        return await prepare_backtest(
            session, request, lambda s: output.info(f"fetching the price history of {s}...")
        )

    with output.progress("dcactl backtest: reading prices and replaying..."), _no_cycle_collection():
        if prices is not None:  # it reads no ledger and no exchange: no session, no event loop
            result = run_backtest_csv(load(state_of(ctx).config), request)
        else:  # the prices from the ledger (and the exchange), then the replay with the session closed
            result = with_session(ctx, work).replay()
    if html is not None:
        _write_html(html, result)
    render_backtest(result)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off while the backtest runs: it builds hundreds of thousands of
    objects that form no cycle (candles, Decimals, fills) and the collector walked them all, over
    and over (~15 % of the replay); whatever cycles there are go at the next collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_html(path: Path, result: Any) -> None:
    from dcactl.backtest.results import document
    from dcactl.beside import in_halves
    from dcactl.config.files import write_text_atomic
    from dcactl.reports.html import backtest_page

    req = result.request
    curves = [r.curve for r in result.results if r.curve is not None]
    assert len(curves) == len(result.results), "a --html backtest keeps every curve"
    page = backtest_page(document(result.results, req.start, req.end, req.costs), curves, in_halves)
    try:
        write_text_atomic(path, page)
    except OSError as exc:
        raise UsageError(f"--html {path}: cannot write ({exc.strerror})") from None
    output.info(f"Wrote {path} ({len(page.encode()) / 1024:,.0f} KB)")
