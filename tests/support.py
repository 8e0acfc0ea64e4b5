"""Helpers shared by the integration tests (a plain module: `conftest` names are ambiguous)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_portfolio(path: Path, url: str, body: str, *, settings: str = "") -> Path:
    """A portfolio for the devnet at ``url``: its CoinGecko double, a ledger next to the file."""
    path.write_text(
        f'[settings]\nnetwork = "{url}"\ncoingecko_url = "{url}/coingecko/api/v3"\n'
        f'database = "ledger.db"\n{settings}\n{body}'
    )
    return path


def approve_agent(url: str, master: Any, name: str = "dcactl") -> Any:
    """Approve a fresh API (agent) wallet for ``master`` through the official SDK, as a user does in
    the UI; returns the agent's eth_account LocalAccount (its key via ``.key``)."""
    from eth_account import Account
    from hyperliquid.exchange import Exchange

    ex = Exchange(master, base_url=url)
    try:
        result, agent_key = ex.approve_agent(name)
    finally:
        ex.session.close()
        ex.info.session.close()
    assert result["status"] == "ok", result
    return Account.from_key(agent_key)
