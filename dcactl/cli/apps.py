"""The Typer apps, created once: the root ``dcactl`` and its groups (``devnet``, ``import``,
``schedule``). Command modules register on them; :mod:`dcactl.cli.app` imports those modules and is
the entry point. Kept apart so no command module imports the entry point (no import cycle).
"""

from __future__ import annotations

import typer

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
    help="A local Hyperliquid-compatible exchange for trying dcactl safely.",
    short_help="A local Hyperliquid exchange to try dcactl safely.",
    no_args_is_help=True,
)
app.add_typer(devnet_app, name="devnet")
import_app = typer.Typer(help="Import history and settings from other tools.", no_args_is_help=True)
app.add_typer(import_app, name="import")
schedule_app = typer.Typer(
    help="Run dcactl on a timer: a crontab line or systemd units.", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")
