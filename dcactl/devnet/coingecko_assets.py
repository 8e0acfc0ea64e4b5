"""The assets the CoinGecko double knows: id → (symbol, base price USD, annual volatility)."""

from __future__ import annotations

__all__ = ["CG_ASSETS"]

CG_ASSETS: dict[str, tuple[str, float, float]] = {
    "bitcoin": ("btc", 101_000.0, 0.5),
    "ethereum": ("eth", 3_250.0, 0.65),
    "solana": ("sol", 185.0, 0.75),
    "avalanche-2": ("avax", 24.0, 0.8),
    "chainlink": ("link", 16.5, 0.8),
    "polkadot": ("dot", 4.1, 0.8),
    "cardano": ("ada", 0.62, 0.8),
    "dogecoin": ("doge", 0.18, 0.9),
    "ripple": ("xrp", 2.3, 0.8),
    "litecoin": ("ltc", 95.0, 0.7),
    "uniswap": ("uni", 7.8, 0.85),
    "hyperliquid": ("hype", 36.5, 0.8),
    "tether": ("usdt", 1.0, 0.01),
    "usd-coin": ("usdc", 1.0, 0.01),
}
