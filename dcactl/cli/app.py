"""The Typer app: each command parses, makes one call into the core, renders.

This is the only place that turns :class:`~dcactl.errors.DcactlError` into exit codes (see
:func:`main`). Heavy modules are imported inside commands so ``dcactl --help`` stays fast.
"""

from __future__ import annotations

import copy
import re
import sys
import traceback
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer

from dcactl import timing
from dcactl.cli import output, process
from dcactl.cli.apps import app, devnet_app
from dcactl.cli.context import finish, state_of, with_session
from dcactl.errors import DcactlError, ExitCode, UsageError


def _version(value: bool) -> None:
    if value:
        from dcactl import __version__

        sys.stdout.write(f"dcactl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _globals(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """Recurring buys (DCA) on Hyperliquid spot, with an exact SQLite ledger."""
    # the global options (--config, --db, --json, -q, -v) are declared once in dcactl.cli.apps


ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")


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
        if not ADDRESS_RE.fullmatch(address):
            raise UsageError(f"--fund {item!r}: {address!r} is not an address (0x and 40 hex digits)")
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
    from dcactl.devnet.server import DevnetAddressInUse, serve

    try:
        serve(host=host, port=port, seed=seed, fund=funds, state=state, universe=universe,
              rate_limit=rate_limit)
    except DevnetAddressInUse as exc:
        raise UsageError(str(exc)) from None


@devnet_app.command("keygen")
def devnet_keygen(
    out: Annotated[
        Path, typer.Option("--out", help="Write the key here (mode 600; never overwrites).")
    ] = Path("devnet-key.txt"),
) -> None:
    """A throwaway key for the devnet: written to a mode-600 file, its address printed (never the key)."""
    import os

    from eth_account import Account

    from dcactl.cli.render import render_document

    wallet = Account.create()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{out}: already exists; not overwriting a key (pass --out NEW_FILE)") from None
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the key: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w") as f:
        f.write(wallet.key.hex() + "\n")
    address = wallet.address
    render_document({"address": address, "key_file": str(out)}, [
        f"Wrote a throwaway devnet key to {out} (mode 600). Its address: {address}",
        f"  devnet:    dcactl devnet serve --fund {address}=10000",
        f"  portfolio: account = \"{address}\", key = \"file:{out.resolve()}\", mode = \"live\"",
        "Never use it, or any key written to a plain file, for real money.",
    ], data=[address])


def _run_command(ctx: typer.Context, request: Any) -> None:
    """run/buy: the heartbeat and notifications ([notify]) around the run; a dry run sends nothing."""
    process.short_lived()
    signing = None if request.dry_run else _signing_process(state_of(ctx).config)
    try:
        _run_with(ctx, request, signing)
    finally:
        if signing is not None:
            signing.close()


def _signing_process(config_path: Path | None) -> Any:
    """For a live run in a process dcactl owns: a second process, started as the process began
    (:func:`dcactl.cli.process.prestart`) or else now, that makes the signer while this one starts up
    and reads the exchange (:mod:`dcactl.venues.signing_process`); else None, and a started one is
    stopped (the portfolio does not load, paper mode, one core: the run says so itself or signs
    here)."""
    from dcactl.session import load

    early = process.take_signer()
    if not process.owned():
        return None
    try:
        settings = load(config_path).settings
    except DcactlError:
        settings = None
    if settings is None or settings.mode != "live":
        if early is not None:
            early.close()
        return None
    if early is not None:
        return early
    from dcactl.venues.signing_process import SigningProcess

    return SigningProcess.spawn()


def _run_with(ctx: typer.Context, request: Any, signing: Any) -> None:
    from dcactl.cli.render import render_run
    from dcactl.run.execute import execute, exit_code_for

    hooks = None if request.dry_run else _notifier(state_of(ctx).config, request.command)
    if hooks is not None:
        _warn_undelivered(hooks.started())
    messages: list[Any] = []

    async def work(session: Any) -> Any:
        session.signing_process = signing
        result = await execute(session, request)
        if hooks is not None:  # the results are committed: build the messages (missed: claimed once)
            messages.extend(await _messages(session, result))
        return result

    try:
        with output.progress(f"dcactl {request.command}: reading markets and placing orders..."):
            result = with_session(ctx, work, lock=not request.dry_run)
    except DcactlError as exc:
        if hooks is not None:
            _warn_undelivered(hooks.stopped(str(exc), int(exc.exit_code)))
        raise
    code = exit_code_for(result, request)
    render_run(result, code, request.command, request.force)
    if hooks is not None:
        _warn_undelivered(hooks.finished(result.to_json(), int(code), messages))
    finish(code)


def _notifier(config_path: Path | None, command: str) -> Any:
    """The run's notifier, or None without [notify]. A portfolio that does not load still gets its
    heartbeat pinged when that one value can be read (the load error itself is raised by the run)."""
    from dcactl.errors import ConfigError
    from dcactl.session import load

    try:
        config = load(config_path)
    except ConfigError:
        from dcactl.config.schema import find_config_path
        from dcactl.notify.hooks import heartbeat_of_broken_config

        try:
            return heartbeat_of_broken_config(find_config_path(config_path))
        except DcactlError:
            return None
    if not config.notify.enabled:  # nothing is ever sent: the notify package stays unloaded
        return None
    from dcactl.notify.hooks import RunNotifier

    return RunNotifier.for_config(config, command)


async def _messages(session: Any, result: Any) -> list[Any]:
    from dcactl.models import utcnow
    from dcactl.notify.hooks import collect, digest

    try:
        now = utcnow()
        messages = collect(session, result.to_json(), now)
        summary = await digest(session, now)
        return messages + ([summary] if summary is not None else [])
    except Exception as exc:  # a notification never changes a run's outcome
        output.warn(f"notifications: could not prepare the messages ({type(exc).__name__}: {exc})")
        return []


def _warn_undelivered(deliveries: list[Any]) -> None:
    for d in deliveries:
        if not d.ok:
            output.warn(f"notification to {d.target} failed: {d.detail}")


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
    from dcactl.run.core import RunRequest

    par = parallel
    if par is None:
        from dcactl.errors import ConfigError
        from dcactl.session import load

        try:
            par = load(state_of(ctx).config).settings.parallel
        except ConfigError:  # the run reports it (and pings the heartbeat when it can be read)
            par = True
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
    from dcactl.run.core import RunRequest

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


@app.command(short_help="Write a starter portfolio.toml (never overwrites).")
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter portfolio.toml (paper mode); never overwrites without --force."""
    from dcactl.config.schema import write_starter

    path = write_starter(state_of(ctx).config or Path("portfolio.toml"), force)
    if output.OPTIONS.json:
        output.print_json({"written": str(path)})
    elif not output.OPTIONS.quiet:
        output.out().print(f"Wrote {path}. Next: dcactl markets, then dcactl run --dry-run", markup=False)


@app.command(short_help="How each asset resolves: pair, asset id, decimals, mid.")
def markets(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Argument(help="One configured asset (default: all).")] = None,
) -> None:
    """How each asset resolves: pair (@N), order asset id, size decimals, mid price, or paper."""
    from dcactl.cli.render import render_markets
    from dcactl.reports.views import markets_report

    render_markets(with_session(ctx, lambda s: markets_report(s, asset)))


@app.command(short_help="What run would do now and why; places nothing.")
def plan(
    ctx: typer.Context,
    asset: Annotated[str | None, typer.Argument(help="One configured asset (default: all enabled).")] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="The calendar of coming buys up to this date (portfolio timezone) "
                                     "and what they spend per day, against the caps and the balance."),
    ] = None,
) -> None:
    """What `run` would do now and why: amount, indicators, each rule's effect; places nothing."""
    from dcactl.cli.render import render_calendar, render_plan
    from dcactl.run.execute import plan as make_plan

    if until is not None:
        render_calendar(with_session(ctx, lambda s: _calendar(s, until, asset), create=False))
        return
    render_plan(with_session(ctx, lambda s: make_plan(s, (asset,) if asset else ())))


async def _calendar(session: Any, until_text: str, asset: str | None) -> dict[str, Any]:
    """``plan --until``: the coming buys, the spend per day, the caps and (live) the balance."""
    from dcactl.cli.context import parse_when
    from dcactl.reports.outlook import calendar_report

    until = parse_when(until_text, session.config.settings.timezone, "--until")
    return await calendar_report(session, until, asset, what=f"--until {until_text!r}")


@app.command(short_help="Preflight: config, key, balance, markets, clock.")
def doctor(ctx: typer.Context) -> None:
    """Preflight: config, key and account, balance and runway, minimum orders, clock, connectivity."""
    from dcactl.reports.doctor import render_doctor, run_doctor

    report = with_session(ctx, run_doctor)
    render_doctor(report)
    finish(report.exit_code)


# the ledger, import and schedule commands live in cli/records.py; importing it registers them
from dcactl.cli import records  # noqa: E402, F401
from dcactl.cli.backtest import backtest  # noqa: E402
from dcactl.cli.notify import notify_app  # noqa: E402
from dcactl.cli.report import report  # noqa: E402

app.add_typer(notify_app, name="notify")
app.command("report", short_help="Write an offline HTML report with charts.")(report)
app.command("backtest", short_help="Replay your rules over past prices beside plain DCA.")(backtest)

def _print_traceback() -> None:
    """The current traceback on stderr (``-v``), with anything shaped like a key redacted."""
    from dcactl.config.values import redact

    sys.stderr.write(redact(traceback.format_exc()))


def main(argv: list[str] | None = None) -> Any:
    """Run the app, map errors to one stderr line and an exit code.

    Without ``argv`` (the console script and ``python -m dcactl``, through :mod:`dcactl.cli.entry`)
    dcactl owns the process and tunes it for one short command (:mod:`dcactl.cli.process`); with
    ``argv`` the caller's process is left as it was."""
    timing.reset()
    if argv is None:
        process.own()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _invoke(args)
    finally:
        process.finish()
    sys.exit(code)


def _app_for(args: list[str]) -> typer.Typer:
    """The app holding only the command (or group) ``args`` invoke, when they name one: typer builds a
    click command of every command its app holds on every invocation (~15 ms for dcactl's, on each
    ``run``). No command, root help or ``--version``, or a name that is none of them (its error
    suggests the near ones): the whole app."""
    name = process.command_of(args)
    if name is None:
        return app
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    view = copy.copy(app)
    view.registered_commands, view.registered_groups = commands, groups
    return view


def _command_name(info: Any) -> str:
    """A registered command's name, as typer derives it (``plan_until`` → ``plan-until``)."""
    from typer.main import get_command_name

    return str(info.name or get_command_name(info.callback.__name__))


def _invoke(args: list[str]) -> int:
    """Run the command of ``args``; its exit code (each error already shown on stderr)."""
    verbose = "-v" in args or "--verbose" in args
    try:
        code = _app_for(args)(args=args, prog_name="dcactl", standalone_mode=False)
    except _CLICK_ERROR as exc:  # a usage error: one line and exit 2, like every other error
        usage: Any = exc
        if type(exc).__name__ == "NoArgsIsHelpError":  # `dcactl` or a group alone: its help, as Click does
            usage.show()
        else:
            ctx = getattr(usage, "ctx", None)
            where = ctx.command_path if ctx is not None else "dcactl"
            output.error(f"{usage.format_message()} (see {where} --help)")
        return int(getattr(usage, "exit_code", ExitCode.USAGE))
    except DcactlError as exc:
        if verbose:
            _print_traceback()
        output.error(str(exc))
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        output.error("interrupted")
        return INTERRUPTED
    except Exception as exc:  # a bug: still one line (and no locals that could hold a key)
        if verbose:
            _print_traceback()
        output.error(f"internal error: {type(exc).__name__}: {exc} (rerun with -v for the traceback)")
        return int(ExitCode.FAILED)
    if code == INTERRUPTED:  # Typer turns Ctrl-C into Exit(130) before our handler sees it
        output.error("interrupted")
    return code if isinstance(code, int) else 0


INTERRUPTED = 130
"""The exit code of a run stopped by Ctrl-C (SIGINT), as shells report 128 + 2."""


_CLICK_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
"""The usage-error base (``ClickException``) of the Click that Typer bundles, reached through Typer's
own ``BadParameter`` so dcactl never imports Click itself."""
