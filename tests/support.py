"""Helpers shared by the integration tests (a plain module: `conftest` names are ambiguous)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PAPER_TRIO = """
[assets.BTC]
amount = 100
every = "day"
[assets.ETH]
amount = 50
every = "day"
[assets.LINK]
amount = 15
every = "week"
"""
"""Two listed assets bought daily and an unlisted one (LINK, on paper at the CoinGecko double) weekly."""


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


def load_text(text: str) -> Any:
    """Write ``text`` to ./portfolio.toml and load it (messages then name the plain file)."""
    from dcactl.config.schema import load_config

    Path("portfolio.toml").write_text(text, encoding="utf-8")
    return load_config(Path("portfolio.toml"))


def config_problems(text: str) -> list[str]:
    """The one-line problems loading ``text`` reports, all at once (each a ConfigError line, exit 2)."""
    import pytest

    from dcactl.errors import ConfigError, ExitCode

    with pytest.raises(ConfigError) as info:
        load_text(text)
    assert info.value.exit_code == ExitCode.USAGE
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems
