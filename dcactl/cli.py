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
devnet_app = typer.Typer(help="A local Hyperliquid-compatible exchange for trying dcactl safely.",
                         no_args_is_help=True)
app.add_typer(devnet_app, name="devnet")


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
    config: Annotated[Path | None, typer.Option(
        "--config", help="portfolio.toml (else $DCACTL_CONFIG, ./portfolio.toml, user config dir).")] = None,
    db: Annotated[Path | None, typer.Option(
        "--db", help="Ledger file (else $DCACTL_DB, settings.database, the user data dir).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and details.")] = False,
    version: Annotated[bool | None, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
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
    fund: Annotated[list[str] | None, typer.Option(
        help="Credit an account with USDC at start: ADDR=AMOUNT (repeatable).")] = None,
    state: Annotated[Path | None, typer.Option(help="Persist state in this SQLite file.")] = None,
    universe: Annotated[Path | None, typer.Option(help="JSON file replacing the built-in markets.")] = None,
    rate_limit: Annotated[bool, typer.Option(
        "--rate-limit/--no-rate-limit", help="Enforce the per-IP weight limit (1200/min).")] = True,
) -> None:
    """Run a local Hyperliquid-compatible exchange (POST /info, POST /exchange, /coingecko/api/v3)."""
    from dcactl.devnet.server import serve

    serve(host=host, port=port, seed=seed, fund=_parse_fund(fund or []), state=state,
          universe=universe, rate_limit=rate_limit)


def _normalise_argv(argv: list[str]) -> list[str]:
    """Accept ``--json`` after the command too (``dcactl run --json``) by moving it to the front."""
    if "--json" not in argv:
        return argv
    stop = argv.index("--") if "--" in argv else len(argv)
    head = [a for a in argv[:stop] if a != "--json"]
    return ["--json", *head, *argv[stop:]]


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
