"""The command line: Typer apps (``app``), one module per command group, and the one error boundary."""
