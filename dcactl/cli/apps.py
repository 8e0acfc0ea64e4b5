"""The Typer apps, created once: the root ``dcactl`` and its groups (``devnet``, ``import``,
``schedule``). Command modules register on them; :mod:`dcactl.cli.app` imports those modules and is
the entry point. Kept apart so no command module imports the entry point (no import cycle).

The global options (:func:`global_options`) are declared once, here: the root takes them before the
command, and :class:`Group` adds them to every command it runs, so they are accepted after it too
(``dcactl run --json -q``) and listed in each command's ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption


def _flag(name: str) -> Callable[[Any, Any, bool], None]:
    def apply(ctx: Any, param: Any, value: bool) -> None:
        if value:
            from dcactl.cli import output

            setattr(output.OPTIONS, name, True)

    return apply


def _path(name: str) -> Callable[[Any, Any, str | None], None]:
    def apply(ctx: Any, param: Any, value: str | None) -> None:
        if value is not None:
            from dcactl.cli.context import given_path, state_of

            setattr(state_of(ctx), name, given_path(param.opts[0], value))

    return apply


def global_options() -> list[TyperOption]:
    """``--config``, ``--db``, ``--json``, ``-q`` and ``-v``: each sets the invocation's state when given
    (before or after the command; the last path given wins)."""
    return [
        TyperOption(param_decls=["--config"], metavar="PATH", callback=_path("config"), expose_value=False,
                    help="portfolio.toml (else $DCACTL_CONFIG, ./portfolio.toml, user config dir)."),
        TyperOption(param_decls=["--db"], metavar="PATH", callback=_path("db"), expose_value=False,
                    help="Ledger file (else $DCACTL_DB, settings.database, the user data dir)."),
        TyperOption(param_decls=["--json"], is_flag=True, callback=_flag("json"), expose_value=False,
                    help="One JSON document on stdout."),
        TyperOption(param_decls=["--quiet", "-q"], is_flag=True, callback=_flag("quiet"), expose_value=False,
                    help="Acting commands print nothing on success; others only data."),
        TyperOption(param_decls=["--verbose", "-v"], is_flag=True, callback=_flag("verbose"),
                    expose_value=False, help="Show tracebacks and details."),
    ]


class Group(TyperGroup):
    """A command group whose commands accept the global options after the command too."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not hasattr(command, "commands") and command not in _EXTENDED:
            command.params.extend(global_options())
            _EXTENDED.add(command)
        return command


_EXTENDED: set[Any] = set()
"""Commands that already carry the global options (a command is built once per process)."""


class RootGroup(Group):
    """``dcactl``: the global options before the command, and a fresh state for every invocation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params[:0] = global_options()

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from dcactl.cli import output
        from dcactl.cli.context import AppState

        output.OPTIONS.json = output.OPTIONS.quiet = output.OPTIONS.verbose = False
        ctx.obj = AppState(config=None, db=None)
        result: list[str] = super().parse_args(ctx, args)
        return result


app = typer.Typer(
    cls=RootGroup,
    name="dcactl",
    help="Recurring buys (DCA) on Hyperliquid spot, with an exact SQLite ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
devnet_app = typer.Typer(
    cls=Group,
    help="A local Hyperliquid-compatible exchange for trying dcactl safely.",
    short_help="A local Hyperliquid exchange to try dcactl safely.",
    no_args_is_help=True,
)
app.add_typer(devnet_app, name="devnet")
import_app = typer.Typer(
    cls=Group, help="Import history and settings from other tools.", no_args_is_help=True
)
app.add_typer(import_app, name="import")
schedule_app = typer.Typer(
    cls=Group,
    help="Run dcactl on a timer: a crontab line or systemd units.", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")
