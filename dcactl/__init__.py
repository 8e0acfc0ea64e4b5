"""dcactl: recurring buys (DCA) on Hyperliquid spot, with an exact SQLite ledger and a local devnet.

The CLI (:mod:`dcactl.cli.app`) is a thin shell over the packages, which follow the data's one-way
flow: ``config`` → ``market`` (resolve) → ``run`` (decide with ``strategy`` and ``schedule``, execute on
``venues``) → ``ledger``; ``ingest`` feeds the ledger from the exchange; ``reports``, ``backtest`` and
``notify`` read it. ``session.open_session`` is the composition root that opens what a command needs.

``__version__`` comes from the installed package's metadata (read on first use: every command
imports this package, few ask for the version).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("dcactl")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'dcactl' has no attribute {name!r}")
