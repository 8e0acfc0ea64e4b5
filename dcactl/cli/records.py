"""The ledger, import and schedule commands (registered on :data:`dcactl.cli.app.app` on import).

Same rules as ``cli.py``: each command parses, makes one call into the core, renders.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dcactl.cli import output
from dcactl.cli.apps import app, import_app, schedule_app
from dcactl.cli.context import Format, Method, Source, state_of, with_session
from dcactl.cli.context import parse_when as _parse_when
from dcactl.errors import UsageError


@app.command(short_help="Holdings, invested, value and PnL; the last run.")
def status(ctx: typer.Context) -> None:
    """Per asset and in total: units, invested, average cost, fees, value, PnL, last buy, next due."""
    from dcactl.cli.render import render_status
    from dcactl.reports.views import status_report

    render_status(with_session(ctx, status_report, create=False))


@app.command(short_help="The run log: each run, its exit code, what happened.")
def runs(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100_000, help="At most N runs (the newest).")
    ] = 20,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only runs that ended badly (exit code not 0, an asset failed).")
    ] = False,
) -> None:
    """The run log: each run's start and end, command, mode, exit code, and per asset what happened."""
    from dcactl.cli.render import render_runs
    from dcactl.reports.runlog import run_log

    async def work(session: Any) -> Any:
        return run_log(session.ledger, limit, failed=failed)

    render_runs(with_session(ctx, work, create=False), failed=failed)


@app.command(short_help="The ledger's fills (table, CSV or JSON).")
def history(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Option("--asset", help="Only this asset.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this date (portfolio timezone).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N fills (the newest).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="A table, or every fill as CSV or JSON.")] = (
        Format.table
    ),
    source: Annotated[
        Source | None,
        typer.Option("--source", help="Only these fills: real (dcactl+external+imported), paper, dcactl, "
                                      "external or imported."),
    ] = None,
) -> None:
    """The ledger: every fill (real and paper, marked), with the columns tax tools need."""
    from dcactl.cli.exports import stream_history
    from dcactl.cli.render import render_history

    sources = SOURCES[source.value] if source is not None else None

    async def work(session: Any) -> None:
        start = _parse_when(since, session.config.settings.timezone, "--since") if since else None
        wanted = asset.upper() if asset else None
        export = "json" if output.OPTIONS.json else fmt.value
        if export != "table" and limit is None:  # an export: stream every fill, constant memory
            stream_history(session.ledger.iter_history(asset=wanted, since=start, source=sources), export)
            return
        page = limit or TABLE_PAGE
        newest = list(session.ledger.iter_history(asset=wanted, since=start, source=sources, limit=page + 1,
                                                  newest_first=True))
        more = len(newest) > page and limit is None
        render_history(list(reversed(newest[:page])), fmt, more=more)

    with_session(ctx, work, create=False)


SOURCES: dict[str, tuple[str, ...]] = {
    "real": ("dcactl", "external", "imported"), "paper": ("paper",), "dcactl": ("dcactl",),
    "external": ("external",), "imported": ("imported",),
}
"""``history --source``: the ledger sources each choice means (real = what status counts as real)."""
TABLE_PAGE = 50
"""Fills the ``history`` table shows without ``--limit`` (the newest); exports have no such page."""


@app.command(short_help="Cost-basis lots of real buys for a tax year.")
def lots(
    ctx: typer.Context,
    year: Annotated[int, typer.Option("--year", min=2009, max=2200, help="Tax year (in settings.timezone).")],
    method: Annotated[Method, typer.Option("--method", help="FIFO lots or average cost.")] = Method.fifo,
    fmt: Annotated[Format, typer.Option("--format", help="A summary table, or every lot as CSV or JSON.")] = (
        Format.table
    ),
) -> None:
    """Cost-basis lots of all real buys (dcactl, external, imported) for a tax year, in USDC: a summary
    per asset and the newest lots, or every lot (--format csv/json, streamed)."""
    from dcactl.cli.exports import stream_lots
    from dcactl.cli.render import LOTS_PAGE, render_lots_table
    from dcactl.reports.taxlots import lots_overview, year_lot_rows, year_lots

    export = "json" if output.OPTIONS.json else fmt.value

    async def work(session: Any) -> None:
        tz = session.config.settings.timezone
        if export == "table":
            with year_lots(session.ledger, year, tz, method.value) as (found, sold):
                render_lots_table(lots_overview(found, sold, LOTS_PAGE), year, method.value, tz)
        else:
            with year_lot_rows(session.ledger, year, tz, method.value) as (rows, sold):
                stream_lots(rows, sold, export, year, method.value, tz)

    with_session(ctx, work, create=False)


@app.command(short_help="Fetch the account's fills into the ledger.")
def sync(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Re-scan from this date.")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-scan everything the exchange still holds.")
    ] = False,
) -> None:
    """Fetch the account's fills, store new ones (dedup by trade id), match them to our orders."""
    from dcactl.cli.render import render_document
    from dcactl.ingest.sync import sync_account

    async def work(session: Any) -> Any:
        start = _parse_when(since, session.config.settings.timezone, "--since") if since else None
        return await sync_account(session, since=start, full=full)

    report = with_session(ctx, work, lock=True)
    for warning in report.warnings:
        output.warn(warning)
    render_document(
        report.to_json(),
        [
            f"Synced {report.inserted} new fills ({report.external} external, {report.matched} ours, "
            f"{report.duplicates} already known) in {report.pages} page{'s' if report.pages != 1 else ''}."
        ],
    )


@app.command(short_help="A consistent copy of the ledger, safe during a run.")
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the copy (must not exist).")],
) -> None:
    """A consistent copy of the ledger (SQLite online backup), safe while a run is going."""
    from dcactl.cli.render import render_document

    if path.exists():  # the store's own refusal suggests a --force this command does not have
        raise UsageError(f"{path}: already exists; not overwriting it (choose a new path)")

    async def work(session: Any) -> Any:
        if not session.db_path.exists():
            raise UsageError(f"{session.db_path}: no ledger here to back up (check --db or $DCACTL_DB)")
        session.ledger.backup(path)
        return session.db_path

    source = with_session(ctx, work, create=False)
    render_document({"backup": str(path), "ledger": str(source)}, [f"Backed up {source} to {path}"])


@import_app.command("legacy")
def import_legacy(
    ctx: typer.Context,
    history_file: Annotated[Path, typer.Option("--history", help="The earlier bot's dca_history.json.")],
    legacy_config: Annotated[
        Path | None,
        typer.Option("--legacy-config", help="Its multi_asset_config.json or dca_config.json, to convert."),
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--output", help="Write the converted portfolio here (never overwrites).")
    ] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip malformed records (listed).")] = False,
) -> None:
    """Import the earlier Hyperliquid DCA bot's history (and convert its config); idempotent."""
    from dcactl.cli.render import render_document
    from dcactl.ingest.legacy import conversion_toml, convert_config, parse_history
    from dcactl.ingest.legacy import import_legacy as do_import

    state = state_of(ctx)
    lines: list[str] = []
    shown: list[str] = []  # what a quiet import still prints: the converted portfolio it was asked for
    document: dict[str, Any] = {}
    # Refuse a bad history (or a taken --output) before writing anything, portfolio or ledger: a
    # retry with --skip-bad must not then find its --output already written.
    history = parse_history(history_file, skip_bad=skip_bad)
    if out_path is not None and out_path.exists() and legacy_config is not None:
        raise UsageError(f"--output {out_path}: the file exists; not overwriting it")
    if legacy_config is not None:
        conversion = convert_config(legacy_config)
        text = conversion_toml(conversion, legacy_config)
        document["not_converted"] = conversion.not_converted
        if out_path is None:
            document["portfolio"] = text
            lines.append(text)
            shown.append(text)
        else:
            from dcactl.config.schema import write_text_atomic

            write_text_atomic(out_path, text)
            document["portfolio_written"] = str(out_path)
            lines.append(
                f"Wrote the converted portfolio to {out_path} (paper mode: review it, then switch to live)"
            )
            if state.config is None:
                state.config = out_path
        lines += [f"not converted: {note}" for note in conversion.not_converted]

    async def work(session: Any) -> Any:
        return do_import(session.ledger, history, skip_bad=skip_bad)

    report = with_session(ctx, work, lock=True)
    document["import"] = report.to_json()
    lines.append(
        f"Imported {report.inserted} fills ({report.already_present} already present, "
        f"{len(report.skipped)} skipped, {report.matched} matched to synced exchange fills)"
    )
    lines += [f"skipped: {why}" for why in report.skipped]
    render_document(document, lines, data=shown)


def _schedule_paths(ctx: typer.Context) -> tuple[str, Path, Path, list[tuple[str, str]]]:
    """The dcactl executable, config and ledger paths for a timer, and the secret sources
    (config key, source) the scheduled job will have to read."""
    import shutil

    from dcactl.config.schema import find_config_path, resolve_db_path
    from dcactl.session import load

    state = state_of(ctx)
    config_path = find_config_path(state.config).resolve()
    config = load(config_path)
    db = resolve_db_path(state.db, config).resolve()
    s = config.settings
    sources = [("settings.key", s.key)] if s.key and s.mode == "live" else []
    sources += [("settings.coingecko_key", s.coingecko_key)] if s.coingecko_key else []
    sources += [(f"notify.urls[{i}]", u) for i, u in enumerate(config.notify.urls)]
    sources += [("notify.heartbeat", config.notify.heartbeat)] if config.notify.heartbeat else []
    return _dcactl_executable(shutil.which("dcactl")), config_path, db, sources


def _dcactl_executable(on_path: str | None) -> str:
    """The absolute path of the running dcactl's console script, for timers: the script that
    started us, else the one installed next to this interpreter (``python -m dcactl`` from a venv
    that is not on PATH; ``__main__.py`` itself is not executable), else the one on PATH."""
    started = Path(sys.argv[0])
    if started.name == "dcactl" and started.is_file():
        return str(started.resolve())
    beside = Path(sys.executable).parent / "dcactl"  # not resolved: a venv's python is a symlink
    if beside.is_file():
        return str(beside.absolute())
    return str(Path(on_path or sys.argv[0]).resolve())


@schedule_app.command("cron")
def schedule_cron(
    ctx: typer.Context,
    every: Annotated[int, typer.Option("--every", min=1, max=60, help="Minutes between runs.")] = 15,
    install: Annotated[bool, typer.Option("--install", help="Add it to your crontab (once).")] = False,
) -> None:
    """Print (or install) a crontab line that runs `dcactl run` every few minutes."""
    from dcactl.cli.render import render_document
    from dcactl.schedule.timers import cron_key_advice, cron_line, install_cron

    exe, config_path, db, sources = _schedule_paths(ctx)
    line = cron_line(exe, config_path, db, every)
    warnings = cron_key_advice(sources)
    for w in warnings:
        output.warn(w)
    if install:
        note = install_cron(line)
        render_document({"cron": line, "installed": True, "warnings": warnings}, [note])
    else:
        render_document({"cron": line, "installed": False, "warnings": warnings}, [line], data=[line])


@schedule_app.command("systemd")
def schedule_systemd(
    ctx: typer.Context,
    on_calendar: Annotated[str, typer.Option("--on-calendar", help="systemd OnCalendar= value.")] = "*:0/15",
    install: Annotated[
        bool,
        typer.Option("--install", help="Write the units to ~/.config/systemd/user and enable the timer."),
    ] = False,
) -> None:
    """Print (or install) a systemd service + timer pair that runs `dcactl run`."""
    from dcactl.cli.render import render_document
    from dcactl.schedule.timers import (
        env_sources,
        install_systemd,
        systemd_env_file,
        systemd_key_advice,
        systemd_units,
        write_env_file,
    )

    exe, config_path, db, sources = _schedule_paths(ctx)
    names = [var for _, var in env_sources(sources)]
    env_file = systemd_env_file() if names else None
    units = systemd_units(exe, config_path, db, on_calendar, env_file)
    if install:
        if env_file is not None:
            write_env_file(env_file, names)
        notes = install_systemd(units) + systemd_key_advice(sources, systemd_env_file(), installed=True)
        render_document({"units": units, "installed": True}, notes)
    else:
        for w in systemd_key_advice(sources, systemd_env_file(), installed=False):
            output.warn(w)
        lines = []
        for name, text in units.items():
            lines += [f"# {name}", text]
        render_document({"units": units, "installed": False}, lines, data=lines)
