"""The console entry point (the ``dcactl`` script, ``python -m dcactl``): a process dcactl owns.

Kept apart from :mod:`dcactl.cli.app`, and light: before the CLI's own imports (Typer and the
commands, tens of milliseconds), the owned process is set up (:func:`dcactl.cli.process.own`) and a
live ``run`` or ``buy`` has its signing process started (:func:`dcactl.cli.process.prestart`).
"""

from __future__ import annotations

import sys

from dcactl.cli import process


def main() -> None:
    """Own the process, start what the command can start early, then run the CLI (exits)."""
    process.own()
    process.prestart(sys.argv[1:])
    from dcactl.cli.app import main as run_cli

    run_cli()
