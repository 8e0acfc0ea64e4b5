"""dcactl: recurring buys (DCA) on Hyperliquid spot, with an exact SQLite ledger and a local devnet.

The CLI (:mod:`dcactl.cli.app`) is a thin shell over the packages, which follow the data's one-way
flow: ``config`` → ``market`` (resolve) → ``run`` (decide with ``strategy`` and ``schedule``, execute on
``venues``) → ``ledger``; ``ingest`` feeds the ledger from the exchange; ``reports``, ``backtest`` and
``notify`` read it. ``session.open_session`` is the composition root that opens what a command needs.

The public API (each name is imported on first use, so ``import dcactl`` stays light)::

    import asyncio, dcactl

    async def main() -> None:
        async with dcactl.open_session(Path("portfolio.toml"), None, lock=True) as session:
            print((await dcactl.plan(session)).to_json())
            result = await dcactl.execute(session, dcactl.RunRequest(command="run"))
            print(result.to_json(), dcactl.exit_code_for(result))

- :func:`load_config` — a portfolio file → a frozen, validated :class:`Config` (ConfigError lists
  every problem);
- :func:`open_session` — config, ledger, clients (and the run lock with ``lock=True``);
- :func:`plan` — what ``run`` would do now and why (places nothing); :func:`execute` — a run, buy or
  dry run (:class:`RunRequest`) recorded in the ledger; :func:`exit_code_for` — its exit code;
- :func:`decide_run` — the pure decision core over a :class:`Snapshot` (what ``plan`` and ``run`` use).

``__version__`` comes from the installed package's metadata.
"""

from importlib import import_module
from typing import Any

_API = {
    "load_config": "dcactl.config.schema",
    "Config": "dcactl.config.schema",
    "open_session": "dcactl.session",
    "Session": "dcactl.session",
    "RunRequest": "dcactl.run.core",
    "Snapshot": "dcactl.run.core",
    "AssetDecision": "dcactl.run.core",
    "decide_run": "dcactl.run.core",
    "execute": "dcactl.run.execute",
    "plan": "dcactl.run.execute",
    "exit_code_for": "dcactl.run.execute",
    "RunResult": "dcactl.models",
    "AssetResult": "dcactl.models",
}
__all__ = [*sorted(_API), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("dcactl")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'dcactl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, "__version__"])
