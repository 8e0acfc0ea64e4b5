"""The Typer app: each command parses, makes one call into the core, renders.

This is the only place that turns :class:`~dcactl.errors.DcactlError` into exit codes (see
:func:`main`). Heavy modules are imported inside commands so ``dcactl --help`` stays fast.
"""

from __future__ import annotations

import sys
import traceback
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from dcactl import __version__, output
from dcactl.errors import DcactlError, ExitCode, UsageError

app = typer.Typer(
    name="dcactl",
    help="Recurring buys (DCA) on Hyperliquid spot, with an exact SQLite ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
devnet_app = typer.Typer(
    help="A local Hyperliquid-compatible exchange for trying dcactl safely.", no_args_is_help=True
)
app.add_typer(devnet_app, name="devnet")
import_app = typer.Typer(help="Import history and settings from other tools.", no_args_is_help=True)
app.add_typer(import_app, name="import")
schedule_app = typer.Typer(
    help="Run dcactl on a timer: a crontab line or systemd units.", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")


class AppState:
    """Global options, available to every command as ``ctx.obj``."""

    def __init__(self, config: Path | None, db: Path | None) -> None:
        self.config = config
        self.db = db


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"dcactl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _globals(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="portfolio.toml (else $DCACTL_CONFIG, ./portfolio.toml, user config dir)."
        ),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Ledger file (else $DCACTL_DB, settings.database, the user data dir)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and details.")] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Recurring buys (DCA) on Hyperliquid spot, with an exact SQLite ledger."""
    output.OPTIONS.json = json_
    output.OPTIONS.quiet = quiet
    output.OPTIONS.verbose = verbose
    ctx.obj = AppState(config=config, db=db)


def _parse_fund(items: list[str]) -> dict[str, Decimal]:
    funds: dict[str, Decimal] = {}
    for item in items:
        address, sep, amount = item.partition("=")
        try:
            if not sep:
                raise InvalidOperation
            value = Decimal(amount)
        except InvalidOperation:
            raise UsageError(f"--fund {item!r}: expected ADDRESS=AMOUNT, e.g. 0xabc...=10000") from None
        if not value.is_finite() or value <= 0:
            raise UsageError(f"--fund {item!r}: the amount must be a positive number of USDC")
        funds[address.lower()] = value
    return funds


@devnet_app.command("serve")
def devnet_serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: pick a free one).")] = 3001,
    seed: Annotated[int, typer.Option(help="Seed of the price walk; the same seed, the same market.")] = 0,
    fund: Annotated[
        list[str] | None, typer.Option(help="Credit an account with USDC at start: ADDR=AMOUNT (repeatable).")
    ] = None,
    state: Annotated[Path | None, typer.Option(help="Persist state in this SQLite file.")] = None,
    universe: Annotated[Path | None, typer.Option(help="JSON file replacing the built-in markets.")] = None,
    rate_limit: Annotated[
        bool, typer.Option("--rate-limit/--no-rate-limit", help="Enforce the per-IP weight limit (1200/min).")
    ] = True,
) -> None:
    """Run a local Hyperliquid-compatible exchange (POST /info, POST /exchange, /coingecko/api/v3)."""
    funds = _parse_fund(fund or [])
    from dcactl.devnet.server import serve

    serve(host=host, port=port, seed=seed, fund=funds, state=state, universe=universe, rate_limit=rate_limit)


def _state(ctx: typer.Context) -> AppState:
    state = ctx.obj
    assert isinstance(state, AppState)
    return state


def _finish(code: ExitCode) -> None:
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _run_command(ctx: typer.Context, request: Any) -> None:
    from dcactl.executor import execute, exit_code_for
    from dcactl.render import render_run

    with output.progress(f"dcactl {request.command}: reading markets and placing orders..."):
        result = _with_session(ctx, lambda s: execute(s, request), lock=not request.dry_run)
    code = exit_code_for(result)
    render_run(result, code)
    _finish(code)


@app.command()
def run(
    ctx: typer.Context,
    parallel: Annotated[
        bool | None,
        typer.Option(
            "--parallel/--sequential", help="All due orders at once (one signed action) or one by one."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the exact orders; place none.")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Only this asset (repeatable).")] = None,
) -> None:
    """Buy every enabled asset whose period is due (cron runs this)."""
    from dcactl.executor import RunRequest

    par = parallel
    if par is None:
        from dcactl.session import load

        par = load(_state(ctx).config).settings.parallel
    _run_command(ctx, RunRequest(command="run", parallel=par, dry_run=dry_run, only=tuple(only or ())))


@app.command()
def buy(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="A configured asset, e.g. ETH.")],
    force: Annotated[
        bool, typer.Option("--force", help="Buy even if not due (in a period of its own).")
    ] = False,
    amount: Annotated[
        str | None, typer.Option("--amount", help="USDC to spend instead of the sizing.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the exact order; place none.")] = False,
) -> None:
    """Buy one asset now; without --force only if it is due."""
    from dcactl.executor import RunRequest

    usd = _parse_amount(amount) if amount is not None else None
    _run_command(
        ctx, RunRequest(command="buy", parallel=True, dry_run=dry_run, only=(asset,), force=force, amount=usd)
    )


def _parse_amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--amount {text!r}: not a number of USDC") from None
    if not value.is_finite() or value <= 0 or value > 1_000_000:
        raise UsageError(f"--amount {text!r}: must be a positive number of USDC (at most 1,000,000)")
    return value


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter portfolio.toml (paper mode); never overwrites without --force."""
    from dcactl.config import write_starter

    path = write_starter(_state(ctx).config or Path("portfolio.toml"), force)
    if output.OPTIONS.json:
        output.print_json({"written": str(path)})
    elif not output.OPTIONS.quiet:
        output.out().print(f"Wrote {path}. Next: dcactl markets, then dcactl run --dry-run", markup=False)


def _with_session(ctx: typer.Context, work: Any, *, lock: bool = False) -> Any:
    """Open the session (config, ledger, clients), run ``work(session)`` in one event loop."""
    import asyncio

    from dcactl.session import open_session

    state = _state(ctx)

    async def go() -> Any:
        async with open_session(state.config, state.db, lock=lock) as session:
            return await work(session)

    return asyncio.run(go())


@app.command()
def markets(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Argument(help="One configured asset (default: all).")] = None,
) -> None:
    """How each asset resolves: pair (@N), order asset id, size decimals, mid price, or paper."""
    from dcactl.render import render_markets
    from dcactl.reports import markets_report

    render_markets(_with_session(ctx, lambda s: markets_report(s, asset)))


def _parse_when(text: str, tz: str, what: str) -> Any:
    """A date or ISO datetime from the command line; naive values are in the portfolio's timezone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected a date (2026-01-31) or an ISO datetime") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(tz))


@app.command()
def plan(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Argument(help="One configured asset (default: all enabled).")] = None,
) -> None:
    """What `run` would do now and why: amount, indicators, each rule's effect; places nothing."""
    from dcactl.executor import plan as make_plan
    from dcactl.render import render_plan

    render_plan(_with_session(ctx, lambda s: make_plan(s, (asset,) if asset else ())))


@app.command()
def status(ctx: typer.Context) -> None:
    """Per asset and in total: units, invested, average cost, fees, value, PnL, last buy, next due."""
    from dcactl.render import render_status
    from dcactl.reports import status_report

    render_status(_with_session(ctx, status_report))


@app.command()
def history(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Option("--asset", help="Only this asset.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this date (portfolio timezone).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N fills (the newest).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """The ledger: every fill (real and paper, marked), with the columns tax tools need."""
    from dcactl.render import render_history

    if fmt not in ("table", "csv", "json"):
        raise UsageError(f"--format {fmt!r}: expected table, csv or json")

    async def work(session: Any) -> Any:
        start = _parse_when(since, session.config.settings.timezone, "--since") if since else None
        newest = session.ledger.fills(
            asset=asset.upper() if asset else None, since=start, limit=limit, newest_first=True
        )
        return list(reversed(newest))

    render_history(_with_session(ctx, work), fmt)


@app.command()
def lots(
    ctx: typer.Context,
    year: Annotated[int, typer.Option("--year", min=2009, max=2200, help="Tax year (in settings.timezone).")],
    method: Annotated[str, typer.Option("--method", help="fifo or average.")] = "fifo",
) -> None:
    """Cost-basis lots of all real buys (dcactl, external, imported) for a tax year, in USDC."""
    from dcactl.render import render_lots
    from dcactl.stats import lots as compute_lots

    if method not in ("fifo", "average"):
        raise UsageError(f"--method {method!r}: expected fifo or average")

    async def work(session: Any) -> Any:
        tz = session.config.settings.timezone
        real = [f for f in session.ledger.fills() if f.source != "paper"]
        return compute_lots(real, year, tz, method), tz  # type: ignore[arg-type]

    result, tz = _with_session(ctx, work)
    render_lots(result, year, method, tz)


@app.command()
def sync(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Re-scan from this date.")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-scan everything the exchange still holds.")
    ] = False,
) -> None:
    """Fetch the account's fills, store new ones (dedup by trade id), match them to our orders."""
    from dcactl.render import render_document
    from dcactl.sync import sync_account

    async def work(session: Any) -> Any:
        start = _parse_when(since, session.config.settings.timezone, "--since") if since else None
        return await sync_account(session, since=start, full=full)

    report = _with_session(ctx, work, lock=True)
    for warning in report.warnings:
        output.warn(warning)
    render_document(
        report.to_json(),
        [
            f"Synced {report.inserted} new fills ({report.external} external, {report.matched} ours, "
            f"{report.duplicates} already known) in {report.pages} page{'s' if report.pages != 1 else ''}."
        ],
    )


@app.command()
def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Where to write the copy (must not exist).")],
) -> None:
    """A consistent copy of the ledger (SQLite online backup), safe while a run is going."""
    from dcactl.render import render_document

    if path.exists():  # the store's own refusal suggests a --force this command does not have
        raise UsageError(f"{path}: already exists; not overwriting it (choose a new path)")

    async def work(session: Any) -> Any:
        session.ledger.backup(path)
        return session.db_path

    source = _with_session(ctx, work)
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
    from dcactl.legacy import conversion_toml, convert_config, parse_history
    from dcactl.legacy import import_legacy as do_import
    from dcactl.render import render_document

    state = _state(ctx)
    lines: list[str] = []
    document: dict[str, Any] = {}
    # Refuse a bad history before writing anything (the portfolio, the ledger): a retry with
    # --skip-bad must not then find its --output already written.
    parse_history(history_file, skip_bad=skip_bad)
    if out_path is not None and out_path.exists() and legacy_config is not None:
        raise UsageError(f"--output {out_path}: the file exists; not overwriting it")
    if legacy_config is not None:
        conversion = convert_config(legacy_config)
        text = conversion_toml(conversion, legacy_config)
        document["not_converted"] = conversion.not_converted
        if out_path is None:
            document["portfolio"] = text
            lines.append(text)
        else:
            from dcactl.config import write_text_atomic

            if out_path.exists():
                raise UsageError(f"--output {out_path}: the file exists; not overwriting it")
            write_text_atomic(out_path, text)
            document["portfolio_written"] = str(out_path)
            lines.append(
                f"Wrote the converted portfolio to {out_path} (paper mode: review it, then switch to live)"
            )
            if state.config is None:
                state.config = out_path
        lines += [f"not converted: {note}" for note in conversion.not_converted]

    async def work(session: Any) -> Any:
        return do_import(session.ledger, history_file, skip_bad=skip_bad)

    report = _with_session(ctx, work, lock=True)
    document["import"] = report.to_json()
    lines.append(
        f"Imported {report.inserted} fills ({report.already_present} already present, "
        f"{len(report.skipped)} skipped, {report.matched} matched to synced exchange fills)"
    )
    lines += [f"skipped: {why}" for why in report.skipped]
    render_document(document, lines)


def _schedule_paths(ctx: typer.Context) -> tuple[str, Path, Path]:
    import shutil

    from dcactl.config import find_config_path, resolve_db_path
    from dcactl.session import load

    state = _state(ctx)
    config_path = find_config_path(state.config).resolve()
    db = resolve_db_path(state.db, load(config_path)).resolve()
    return _dcactl_executable(shutil.which("dcactl")), config_path, db


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
    from dcactl.render import render_document
    from dcactl.timers import cron_line, install_cron

    exe, config_path, db = _schedule_paths(ctx)
    line = cron_line(exe, config_path, db, every)
    if install:
        note = install_cron(line)
        render_document({"cron": line, "installed": True}, [note])
    else:
        render_document({"cron": line, "installed": False}, [line])


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
    from dcactl.render import render_document
    from dcactl.timers import install_systemd, systemd_units

    exe, config_path, db = _schedule_paths(ctx)
    units = systemd_units(exe, config_path, db, on_calendar)
    if install:
        notes = install_systemd(units)
        render_document({"units": units, "installed": True}, notes)
    else:
        lines = []
        for name, text in units.items():
            lines += [f"# {name}", text]
        render_document({"units": units, "installed": False}, lines)


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Preflight: config, key and account, balance and runway, minimum orders, clock, connectivity."""
    from dcactl.doctor import render_doctor, run_doctor

    report = _with_session(ctx, run_doctor)
    render_doctor(report)
    _finish(report.exit_code)


_MOVABLE = ("--json", "-q", "--quiet", "-v", "--verbose")


def _normalise_argv(argv: list[str]) -> list[str]:
    """Accept the value-less global flags after the command too (``dcactl run --json -q``) by moving
    them to the front, where the app's callback reads them."""
    stop = argv.index("--") if "--" in argv else len(argv)
    moved = [a for a in argv[:stop] if a in _MOVABLE]
    if not moved:
        return argv
    head = [a for a in argv[:stop] if a not in _MOVABLE]
    return [*moved, *head, *argv[stop:]]


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the app, map errors to one stderr line and an exit code."""
    args = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    verbose = "-v" in args or "--verbose" in args
    try:
        app(args=args, prog_name="dcactl")
    except DcactlError as exc:
        if verbose:
            traceback.print_exc()
        output.error(str(exc))
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug: still one line (and no locals that could hold a key)
        if verbose:
            traceback.print_exc()
        output.error(f"internal error: {type(exc).__name__}: {exc} (rerun with -v for the traceback)")
        sys.exit(int(ExitCode.FAILED))
