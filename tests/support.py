"""Helpers shared by the integration tests (a plain module: `conftest` names are ambiguous)."""

from __future__ import annotations

from pathlib import Path


def write_portfolio(path: Path, url: str, body: str, *, settings: str = "") -> Path:
    """A portfolio for the devnet at ``url``: its CoinGecko double, a ledger next to the file."""
    path.write_text(
        f'[settings]\nnetwork = "{url}"\ncoingecko_url = "{url}/coingecko/api/v3"\n'
        f'database = "ledger.db"\n{settings}\n{body}'
    )
    return path
