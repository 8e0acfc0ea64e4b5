"""The devnet's markets: spot tokens and pairs shaped like mainnet's `spotMeta`.

Token indices are positions in `tokens` (as on mainnet, `tokens[i].index == i`); pair indices are
explicit, non-consecutive and differ from token indices, so a client that confuses the two breaks.
A universe file (JSON, see docs/devnet.md) replaces the built-in default.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

__all__ = ["Pair", "Token", "Universe", "default_universe", "load_universe"]


@dataclass(frozen=True)
class Token:
    """A spot token. `sz_decimals` is its lot precision, `wei_decimals` its balance precision."""

    index: int
    name: str
    sz_decimals: int
    wei_decimals: int
    full_name: str | None = None

    @property
    def token_id(self) -> str:
        """A stable 16-byte hex id derived from the name (mainnet's are hashes too)."""
        return "0x" + hashlib.sha256(self.name.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Pair:
    """A spot pair. `price` is the walk's base level in quote units; `vol` the annualised volatility.

    `depth_usd` is the quote value of the best book level; deeper levels hold more.
    """

    index: int
    base: int
    quote: int
    price: float
    vol: float = 0.6
    depth_usd: float = 20_000.0

    @property
    def name(self) -> str:
        """`PURR/USDC` for pair 0, `@{index}` otherwise (mainnet's convention)."""
        return "PURR/USDC" if self.index == 0 else f"@{self.index}"

    @property
    def asset(self) -> int:
        """The order asset id: 10000 + pair index."""
        return 10_000 + self.index


@dataclass
class Universe:
    """Tokens and pairs, with lookups by name, asset id and token name."""

    tokens: list[Token]
    pairs: list[Pair]
    by_name: dict[str, Pair] = field(init=False)
    by_asset: dict[int, Pair] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.pairs}
        self.by_asset = {p.asset: p for p in self.pairs}

    def token(self, index: int) -> Token:
        """The token at `index` (raises IndexError)."""
        return self.tokens[index]

    def resolve(self, coin_or_symbol: str) -> Pair | None:
        """A pair from its coin (`@142`, `PURR/USDC`) or a base token name quoted in USDC (`UBTC`,
        `HYPE`; `BTC` also finds `UBTC`)."""
        if coin_or_symbol in self.by_name:
            return self.by_name[coin_or_symbol]
        sym = coin_or_symbol.upper().removesuffix("/USDC")
        for name in (sym, "U" + sym):
            for p in self.pairs:
                if p.quote == 0 and self.tokens[p.base].name.upper() == name:
                    return p
        return None

    def spot_meta(self) -> dict[str, Any]:
        """The `spotMeta` response body."""
        return {
            "universe": [
                {"tokens": [p.base, p.quote], "name": p.name, "index": p.index, "isCanonical": p.index == 0}
                for p in self.pairs
            ],
            "tokens": [
                {
                    "name": t.name,
                    "szDecimals": t.sz_decimals,
                    "weiDecimals": t.wei_decimals,
                    "index": t.index,
                    "tokenId": t.token_id,
                    "isCanonical": t.index < 2,
                    "evmContract": _evm_contract(t),
                    "fullName": t.full_name,
                    "deployerTradingFeeShare": "0.0" if t.index < 2 else "1.0",
                }
                for t in self.tokens
            ],
        }


# name, szDecimals, weiDecimals, fullName
_TOKENS: list[tuple[str, int, int, str | None]] = [
    ("USDC", 8, 8, None),
    ("PURR", 0, 5, None),
    ("HFUN", 2, 8, None),
    ("JEFF", 0, 5, None),
    ("PIP", 1, 6, None),
    ("SCHIZO", 0, 5, None),
    ("HYPE", 2, 8, "Hyperliquid"),
    ("CATBAL", 0, 5, None),
    ("USDH", 2, 8, "Hyperliquid USD"),
    ("UBTC", 5, 10, "Unit Bitcoin"),
    ("UETH", 4, 9, "Unit Ethereum"),
    ("USOL", 3, 8, "Unit Solana"),
    ("UFART", 1, 6, "Unit Fartcoin"),
    ("UPUMP", 0, 6, "Unit Pump"),
    ("FEUSD", 2, 8, None),
    ("UXPL", 1, 6, "Unit Plasma"),
    ("UENA", 1, 6, "Unit Ethena"),
    ("UWLD", 1, 6, "Unit Worldcoin"),
    ("USUI", 1, 6, "Unit Sui"),
    ("UBONK", 0, 6, "Unit Bonk"),
    ("KNTQ", 1, 8, None),
    ("UMON", 0, 6, "Unit Monad"),
    ("LIQD", 1, 8, None),
    ("BUDDY", 0, 6, None),
    ("UTRX", 0, 6, "Unit Tron"),
    ("UAAVE", 3, 8, "Unit Aave"),
    # old HIP-1 tokens named like bridged assets (mainnet has several): illiquid namesakes a plain-name
    # match would buy instead of the bridge's token (§7)
    ("PUMP", 0, 5, "Pump"),
    ("SOL", 2, 7, None),
]

# pair index, base token name, quote token name, base price, annual vol, best-level depth (USD)
_PAIRS: list[tuple[int, str, str, float, float, float]] = [
    (0, "PURR", "USDC", 0.21, 0.9, 5_000),
    (1, "HFUN", "USDC", 3.4, 1.0, 3_000),
    (4, "JEFF", "USDC", 0.053, 1.1, 2_000),
    (9, "PIP", "USDC", 11.0, 1.0, 2_000),
    (21, "SCHIZO", "USDC", 0.0042, 1.2, 1_000),
    (53, "CATBAL", "USDC", 0.033, 1.2, 1_000),
    (107, "HYPE", "USDC", 36.5, 0.8, 40_000),
    (142, "UBTC", "USDC", 101_000.0, 0.5, 60_000),
    (151, "UETH", "USDC", 3_250.0, 0.65, 40_000),
    (156, "USOL", "USDC", 185.0, 0.75, 25_000),
    (162, "UFART", "USDC", 0.92, 1.3, 5_000),
    (166, "USDH", "USDC", 1.0, 0.01, 50_000),
    (171, "UPUMP", "USDC", 0.0056, 1.3, 5_000),
    (178, "FEUSD", "USDC", 0.999, 0.02, 10_000),
    (183, "UXPL", "USDC", 0.88, 1.0, 5_000),
    (187, "UENA", "USDC", 0.61, 1.0, 5_000),
    (188, "UWLD", "USDC", 1.35, 1.0, 5_000),
    (194, "USUI", "USDC", 3.3, 0.9, 8_000),
    (201, "UBONK", "USDC", 0.000021, 1.1, 3_000),
    (207, "KNTQ", "USDC", 0.12, 1.2, 2_000),
    (213, "UMON", "USDC", 0.045, 1.2, 3_000),
    (219, "LIQD", "USDC", 0.75, 1.2, 2_000),
    (226, "BUDDY", "USDC", 0.0081, 1.3, 1_000),
    (230, "UTRX", "USDC", 0.29, 0.6, 5_000),
    (236, "UAAVE", "USDC", 265.0, 0.85, 8_000),
    (241, "UBTC", "USDH", 101_000.0, 0.5, 10_000),
    (247, "PUMP", "USDC", 0.0009, 1.6, 150),
    (252, "SOL", "USDC", 0.37, 1.5, 120),
]


def _evm_contract(token: Token) -> dict[str, Any] | None:
    """The bridge's tokens (full name "Unit …") carry an EVM contract object, as on mainnet."""
    if not (token.full_name or "").startswith("Unit "):
        return None
    return {"address": f"0x{keccak(token.name.encode()).hex()[:40]}", "evm_extra_wei_decimals": 0}


def default_universe() -> Universe:
    """The built-in universe: 27 USDC pairs (two of them namesakes of bridged tokens) plus UBTC/USDH
    (a non-USDC quote keeps clients honest)."""
    names = {n: i for i, (n, *_rest) in enumerate(_TOKENS)}
    tokens = [Token(i, n, sd, wd, fn) for i, (n, sd, wd, fn) in enumerate(_TOKENS)]
    pairs = [Pair(ix, names[b], names[q], px, vol, depth) for ix, b, q, px, vol, depth in _PAIRS]
    return Universe(tokens, pairs)


def load_universe(path: Path) -> Universe:
    """Read a universe file (format in docs/devnet.md); raises ValueError naming the problem."""
    try:
        raw = json.loads(path.read_text())
        tokens = [
            Token(i, str(t["name"]), int(t["szDecimals"]), int(t["weiDecimals"]), t.get("fullName"))
            for i, t in enumerate(raw["tokens"])
        ]
        names = {t.name: t.index for t in tokens}
        pairs = [
            Pair(
                int(p["index"]),
                names[p["base"]],
                names[p.get("quote", "USDC")],
                float(p["price"]),
                float(p.get("vol", 0.6)),
                float(p.get("depthUsd", 20_000)),
            )
            for p in raw["pairs"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: bad universe file: {exc!r}") from exc
    if not tokens or tokens[0].name != "USDC":
        raise ValueError(f"{path}: token 0 must be USDC")
    if len({p.index for p in pairs}) != len(pairs):
        raise ValueError(f"{path}: duplicate pair index")
    return Universe(tokens, pairs)


def quote_decimal(x: Decimal) -> str:
    """A Decimal as mainnet writes it: no exponent, no trailing zeros, but an integral value keeps one
    decimal place ("12.0", "0.0", "0.00001", "107298.0"; §7 "Number text")."""
    s = format(x, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s in ("", "-0"):
        s = "0"
    return s + ".0" if "." not in s else s


def amount_str(x: Decimal) -> str:
    """A balance or position as the API shows it (like :func:`quote_decimal`; zero is "0.0")."""
    return quote_decimal(x)
