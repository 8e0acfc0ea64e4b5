"""The command line: Typer apps (``app``), one module per command group, and the one error boundary."""

from dcactl import timing  # noqa: F401 - first: a command's clock starts before the CLI's imports
