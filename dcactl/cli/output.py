"""Rendering: Rich consoles (stdout for data, stderr for diagnostics), tables and ``--json``.

Foreign text (exchange messages, asset names from files) is always printed with ``markup=False`` so
square brackets in it can never be read as Rich markup. Rich is imported lazily so ``--help`` stays
fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class OutputOptions:
    """What the global flags asked for."""

    json: bool = False
    quiet: bool = False
    verbose: bool = False


OPTIONS = OutputOptions()
"""Set once by the CLI's global callback; read by the render helpers."""


PIPE_WIDTH = 160
"""Table width when output is not a terminal (a pipe, cron mail, a file): wide enough not to cut."""


@lru_cache(maxsize=2)
def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS") and not (hasattr(stream, "isatty") and stream.isatty()):
        width = PIPE_WIDTH
    # text lines are never wrapped (a warning stays one line in cron mail); tables still fit `width`
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def out() -> Console:
    """The data console (stdout)."""
    return _console(False)


def err() -> Console:
    """The diagnostics console (stderr)."""
    return _console(True)


def reset_consoles() -> None:
    """Forget cached consoles (tests swap sys.stdout/sys.stderr between invocations)."""
    _console.cache_clear()


def _default(value: Any) -> Any:
    from dcactl.models import json_value

    converted = json_value(value)
    if converted is value:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return converted


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while a slow step runs, only on a terminal and never with --json/--quiet
    (cron mail and pipes get nothing)."""
    if OPTIONS.json or OPTIONS.quiet or not err().is_terminal:  # --json/-q first: no Rich at all
        yield
        return
    with err().status(message, spinner="dots"):
        yield


def print_json(document: Any) -> None:
    """Write one JSON document to stdout (decimals as strings, datetimes as ISO-8601 UTC)."""
    sys.stdout.write(json.dumps(document, default=_default, indent=2) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """One diagnostic line on stderr (``--json`` or not): ``dcactl: error: ...``."""
    from dcactl.config.values import redact

    for line in redact(str(message)).splitlines() or [""]:
        sys.stderr.write(f"dcactl: error: {line}\n")
    sys.stderr.flush()


def warn(message: str) -> None:
    """A warning on stderr, shown unless ``--quiet``."""
    if not OPTIONS.quiet:
        from dcactl.config.values import redact

        err().print(f"warning: {redact(message)}", markup=False, style="yellow")


def note(message: str) -> None:
    """A sentence under the data on stdout (a hint, an explanation, an empty result), left out with
    ``--quiet``: a quiet command that shows something prints only its data."""
    if not OPTIONS.quiet:
        out().print(message, markup=False)


def info(message: str) -> None:
    """A progress/diagnostic note on stderr, shown unless ``--quiet`` or ``--json``."""
    if not OPTIONS.quiet and not OPTIONS.json:
        err().print(message, markup=False)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Iterable[str] = (),
    caption: str | None = None,
    keep: Iterable[str] = (),
) -> None:
    """A Rich table on stdout; every cell is plain text (no markup), ``None`` shows as ``-``.

    The ``keep`` columns never wrap mid-value; the others fold when the terminal is narrow. The
    ``caption`` explains the table: a note, left out with ``--quiet``."""
    from rich.table import Table
    from rich.text import Text

    right_set = set(right)
    whole = set(keep)
    table = Table(title=title, caption=None if OPTIONS.quiet else caption, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in right_set else "left", overflow="fold",
                         no_wrap=column in whole)
    for row in rows:
        table.add_row(*(Text("-" if cell is None else str(cell)) for cell in row))
    out().print(table)


def fmt_usd(value: Decimal | None, places: int = 2) -> str:
    """A USDC amount for humans: thousands separators, ``places`` decimals; ``-`` for None."""
    if value is None:
        return "-"
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q):,f}"


def fmt_fees(value: Decimal, unknown: int, all_unknown: bool) -> str:
    """Fees in USDC for a table: ``unknown`` when no fee of the row is known (imported trades of the
    earlier bot), ``12.34 + unknown`` when some are not, else the amount."""
    if all_unknown:
        return "unknown"
    return f"{fmt_usd(value)} + unknown" if unknown else fmt_usd(value)


def fmt_pct(value: Decimal | None) -> str | None:
    """A percentage with two decimals (``-0.06%``, ``0.00%``, never ``-0%``); None stays None."""
    if value is None:
        return None
    text = f"{value.quantize(Decimal('0.01')):.2f}"
    return ("0.00" if text == "-0.00" else text) + "%"


def fmt_dec(value: Decimal | None) -> str:
    """A decimal as exact plain text without exponent or trailing zeros; ``-`` for None."""
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def fmt_units(value: Decimal | None) -> str:
    """Token units for a table: at most 8 decimals (the ledger and exports keep every digit)."""
    if value is None:
        return "-"
    return fmt_dec(value.quantize(Decimal("1e-8")))


def fmt_price(value: Decimal | None) -> str:
    """A price in USDC for a table: 2 decimals from 100, 4 from 1, else 6 significant figures."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value.quantize(Decimal('0.01')):,f}"
    if abs(value) >= 1:
        return f"{value.quantize(Decimal('0.0001')):f}"
    return fmt_dec(Decimal(f"{value:.6g}"))
