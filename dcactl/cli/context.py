"""What every command module shares: the global options (``ctx.obj``), opening a session, exit codes.

Kept apart from :mod:`dcactl.cli.app` so command modules can use it without importing the app
(no import cycle): the app imports the command modules, never the other way round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from dcactl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from dcactl.session import Session

T = TypeVar("T")


class Format(StrEnum):
    """``--format``: a table for a person, or every row as CSV or JSON."""

    table = "table"
    csv = "csv"
    json = "json"


class Method(StrEnum):
    """``lots --method``: FIFO lots or one average-cost pool per asset."""

    fifo = "fifo"
    average = "average"


class Source(StrEnum):
    """``history --source``: real (dcactl + external + imported), paper, or one kind of real fill."""

    real = "real"
    paper = "paper"
    dcactl = "dcactl"
    external = "external"
    imported = "imported"


class Baseline(StrEnum):
    """``backtest --baseline``."""

    plain = "plain"
    lump_sum = "lump-sum"


class AppState:
    """Global options, available to every command as ``ctx.obj``."""

    def __init__(self, config: Path | None, db: Path | None) -> None:
        self.config = config
        self.db = db


def state_of(ctx: typer.Context) -> AppState:
    """The global options of this invocation."""
    state = ctx.find_root().obj if not isinstance(ctx.obj, AppState) else ctx.obj
    assert isinstance(state, AppState)
    return state


def given_path(option: str, value: str | None) -> Path | None:
    """A path option's value; an empty one (``--db ""``, an unset variable in a script) is an error."""
    if value is None:
        return None
    if not value.strip():
        raise UsageError(f'{option} "{value}": an empty path; give a file name')
    return Path(value)


def finish(code: ExitCode) -> None:
    """End the command with ``code`` (nothing to do for OK)."""
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def with_session(
    ctx: typer.Context, work: Callable[[Session], Awaitable[T]], *, lock: bool = False, create: bool = True
) -> T:
    """Open the session (config, ledger, clients), run ``work(session)`` in one event loop;
    ``create=False`` for commands that only read the ledger (none is created where none exists)."""
    import asyncio

    from dcactl.cli import output
    from dcactl.session import open_session

    state = state_of(ctx)
    notes: list[list[tuple[str, str]]] = []

    results: list[T] = []

    async def go() -> None:
        async with open_session(state.config, state.db, lock=lock, create=create) as session:
            notes.append(session.notes)  # the list itself: closing the session may still add to it
            results.append(await work(session))
        # The result is not the task's: on 3.11 asyncio.run restores SIGINT's handler through an enum
        # lookup whose error message formats repr(main task), its result included — for a backtest
        # that was every simulated buy, a quarter of a second.

    try:
        asyncio.run(go())
    finally:
        for kind, text in (n for batch in notes for n in batch):
            (output.warn if kind == "warn" else output.info)(text)
    return results[0]


def parse_when(text: str, tz: str, what: str) -> Any:
    """A date or ISO datetime from the command line; naive values are in the portfolio's timezone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected a date (2026-01-31) or an ISO datetime") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(tz))
