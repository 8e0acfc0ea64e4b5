"""Symbol → market: a Hyperliquid spot pair (``@N``, asset id, szDecimals) or a paper price source.

Pure functions of the ``spotMeta`` payload (no I/O, no hard-coded indices; unknown fields ignored).
Rules (fact sheet §1, §2):

1. The bridge's token first: ``U`` + ticker (or an alias such as FARTCOIN→UFART) whose full name is
   ``Unit …`` wins over a plain-name namesake (old HIP-1 tokens share well-known tickers); then the
   plain symbol. When the metadata cannot settle it (a plain-name token beside a ``U`` + ticker one
   that is not the bridge's), the asset fails naming every candidate — never a guess.
2. The market is the universe entry with ``tokens == [base.index, 0]`` — quoted in USDC (token 0);
   pairs quoted in USDH, USDT0 or anything else are ignored. Its ``name`` is the coin for /info
   (``@142`` or ``PURR/USDC``), ``10000 + entry["index"]`` (the index *field*, not the position) the
   order asset id, and the base token's ``szDecimals`` the size precision.
3. ``pair`` in the config overrides step 2 (validated against the universe). ``venue = "paper"``
   forces paper but keeps coin and decimals when listed (paper fills walk the real book);
   ``venue = "hyperliquid"`` on an unlisted symbol is an error; ``auto`` falls back to paper priced
   from CoinGecko (``coingecko_id``, else :data:`~dcactl.market.coingecko.COINGECKO_IDS`, else an error).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from dcactl.errors import ResolveError
from dcactl.models import Market, Venue

USDC_TOKEN = 0
"""Token index of USDC, the only quote dcactl buys with."""
SPOT_ASSET_OFFSET = 10_000
"""Spot order asset ids are 10000 + the pair's index."""

ALIASES: dict[str, tuple[str, ...]] = {
    "BTC": ("UBTC",),
    "ETH": ("UETH",),
    "SOL": ("USOL",),
    "FARTCOIN": ("UFART",),
    "PUMP": ("UPUMP",),
}
"""Ticker → HyperCore token names tried before the ticker itself (Unit-bridged assets)."""

VENUES = ("auto", "hyperliquid", "paper")


class AssetSpec(NamedTuple):
    """What resolution needs from ``[assets.X]``; a plain ``(symbol, venue, pair, coingecko_id)`` tuple
    or any object with those attributes (``config.AssetConfig``) works too."""

    symbol: str
    venue: str = "auto"
    pair: str | None = None
    coingecko_id: str | None = None


def _spec(item: Any) -> AssetSpec:
    if isinstance(item, AssetSpec):
        return item
    if isinstance(item, tuple):
        return AssetSpec(*item)
    return AssetSpec(item.symbol, getattr(item, "venue", "auto"), getattr(item, "pair", None),
                     getattr(item, "coingecko_id", None))


class _Index:
    """Lookups over one spotMeta: tokens by index and name, USDC pairs by base token and by name."""

    def __init__(self, spot_meta: Mapping[str, Any]) -> None:
        self.tokens: dict[int, Mapping[str, Any]] = {}
        self.token_by_name: dict[str, Mapping[str, Any]] = {}
        for token in spot_meta.get("tokens") or []:
            try:
                index, name = int(token["index"]), str(token["name"])
            except (KeyError, TypeError, ValueError):
                continue
            self.tokens[index] = token
            self.token_by_name.setdefault(name.upper(), token)
        self.pair_by_name: dict[str, Mapping[str, Any]] = {}
        self.usdc_pair_by_base: dict[int, Mapping[str, Any]] = {}
        pairs = [p for p in spot_meta.get("universe") or [] if _pair_ok(p)]
        for pair in sorted(pairs, key=lambda p: int(p["index"])):  # lowest pair index wins on duplicates
            self.pair_by_name.setdefault(str(pair["name"]), pair)
            base, quote = int(pair["tokens"][0]), int(pair["tokens"][1])
            if quote == USDC_TOKEN:
                self.usdc_pair_by_base.setdefault(base, pair)
        ctxs = spot_meta.get("ctxs")  # the pairs' contexts when the meta came with them (fetch_meta)
        self.ctx: dict[str, Mapping[str, Any]] = {}
        if isinstance(ctxs, list):
            self.ctx = ctx_by_coin((spot_meta, ctxs))

    def market(self, symbol: str, pair: Mapping[str, Any], coingecko_id: str | None, venue: Venue) -> Market:
        base = self.tokens.get(int(pair["tokens"][0]), {})
        return Market(
            symbol=symbol, venue=venue,
            coin=str(pair["name"]), asset_id=SPOT_ASSET_OFFSET + int(pair["index"]),
            base_token=str(base.get("name", "")) or None, sz_decimals=int(base.get("szDecimals", 0)),
            coingecko_id=coingecko_id,
        )

    def _listed(self, name: str) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
        """(token, its USDC pair) for a token name, or None."""
        token = self.token_by_name.get(name)
        if token is None:
            return None
        pair = self.usdc_pair_by_base.get(int(token["index"]))
        return None if pair is None else (token, pair)

    def usdc_pair_for(self, symbol: str) -> Mapping[str, Any] | ResolveError | None:
        """The one USDC pair ``symbol`` means, None when none is listed, or a ResolveError naming
        every candidate when more than one could be meant.

        The bridge's token wins: ``U`` + ticker (or a known alias) whose full name is ``Unit …``
        (:func:`is_bridged`), over an unrelated plain-name namesake (an old HIP-1 ``PUMP`` beside the
        bridged ``UPUMP``). Without a bridged token, the plain name; a ``U`` + ticker token that is not
        the bridge's beside a plain-name one cannot be settled from the metadata: an error."""
        names = list(dict.fromkeys((*ALIASES.get(symbol, ()), "U" + symbol)))
        found = [(n, hit) for n in names if (hit := self._listed(n)) is not None]
        bridged = [hit for n, hit in found if is_bridged(hit[0]) or n in ALIASES.get(symbol, ())]
        plain = self._listed(symbol)
        if bridged:
            return bridged[0][1]
        others = [hit for _, hit in found]
        if plain is not None and others:
            listed = "; ".join(_describe(t, p, self.ctx.get(str(p["name"]))) for t, p in [plain, *others])
            return ResolveError(f"{symbol}: more than one listed pair could be meant: {listed}; set "
                                f"assets.{symbol}.pair to the one you mean")
        if plain is not None:
            return plain[1]
        return others[0][1] if others else None


def is_bridged(token: Mapping[str, Any]) -> bool:
    """A token of the Unit bridge: its full name is ``Unit <name>`` (``UBTC`` = "Unit Bitcoin")."""
    full = token.get("fullName")
    return isinstance(full, str) and full.startswith("Unit ")


def _describe(token: Mapping[str, Any], pair: Mapping[str, Any], ctx: Mapping[str, Any] | None = None) -> str:
    """``@101 (ABC, 'Abc Token', 24 h volume 1,234 USDC)``: a candidate as the user can tell it apart."""
    full = token.get("fullName")
    volume = ""
    if ctx is not None:
        try:
            volume = f", 24 h volume {Decimal(str(ctx['dayNtlVlm'])):,.0f} USDC"
        except (KeyError, ArithmeticError, ValueError):
            volume = ""
    return f"{pair['name']} ({token.get('name')}{', ' + repr(full) if full else ', no full name'}{volume})"


def _pair_ok(pair: Any) -> bool:
    try:
        return (isinstance(pair, Mapping) and isinstance(pair["name"], str) and len(pair["tokens"]) == 2
                and int(pair["index"]) >= 0)
    except (KeyError, TypeError, ValueError):
        return False


def _resolve_one(spec: AssetSpec, index: _Index) -> Market | ResolveError:
    from dcactl.market.coingecko import COINGECKO_IDS

    symbol = spec.symbol.upper()
    venue = spec.venue or "auto"
    if venue not in VENUES:
        return ResolveError(f"{symbol}: unknown venue '{venue}' (use auto, hyperliquid or paper)")
    cg_id = spec.coingecko_id or COINGECKO_IDS.get(symbol)
    if spec.pair:
        pair = index.pair_by_name.get(spec.pair)
        if pair is None:
            return ResolveError(f"{symbol}: pair '{spec.pair}' is not a Hyperliquid spot pair")
        if int(pair["tokens"][1]) != USDC_TOKEN:
            quote = index.tokens.get(int(pair["tokens"][1]), {}).get("name", "?")
            return ResolveError(f"{symbol}: pair '{spec.pair}' is quoted in {quote}; dcactl buys with USDC")
    else:
        found = index.usdc_pair_for(symbol)
        if isinstance(found, ResolveError):
            return found
        pair = found
    if pair is not None:
        return index.market(symbol, pair, cg_id, "paper" if venue == "paper" else "hyperliquid")
    if venue == "hyperliquid":
        names = " or ".join((*ALIASES.get(symbol, ()), symbol))
        return ResolveError(f"{symbol}: not listed on Hyperliquid spot (no USDC pair for {names}); "
                            f"set assets.{symbol}.venue = \"auto\" or \"paper\" to buy it on paper")
    if cg_id is None:
        return ResolveError(f"unknown symbol {symbol}: not listed on Hyperliquid spot and no CoinGecko id; "
                            f"set assets.{symbol}.coingecko_id")
    return Market(symbol=symbol, venue="paper", coingecko_id=cg_id)


def resolve_markets(assets: Iterable[Any], spot_meta: Mapping[str, Any]) -> dict[str, Market | ResolveError]:
    """Resolve each asset (an :class:`AssetSpec`, a 4-tuple or an object with ``symbol``, ``venue``,
    ``pair``, ``coingecko_id``) against ``spot_meta``. Keys are the upper-cased symbols; a value is
    the Market or the ResolveError explaining why there is none (returned, not raised, so one bad
    asset never hides the others).
    """
    index = _Index(spot_meta)
    out: dict[str, Market | ResolveError] = {}
    for item in assets:
        spec = _spec(item)
        out[spec.symbol.upper()] = _resolve_one(spec, index)
    return _one_entry_per_market(out)


def _one_entry_per_market(resolved: dict[str, Market | ResolveError]) -> dict[str, Market | ResolveError]:
    """Two entries on one market would buy it twice a period: each of them becomes an error naming
    both (periods and cloids are keyed by the market, so a renamed entry keeps its history)."""
    by_pair: dict[tuple[str, str], list[str]] = {}
    for symbol, market in resolved.items():
        if isinstance(market, Market):
            by_pair.setdefault((market.venue, market.pair), []).append(symbol)
    out = dict(resolved)
    for (_, pair), symbols in by_pair.items():
        if len(symbols) > 1:
            names = " and ".join(f"assets.{s}" for s in symbols)
            error = ResolveError(
                f"config: {names} resolve to the same market {pair}; keep one entry (renaming an entry"
                " keeps its history)"
            )
            for symbol in symbols:
                out[symbol] = error
    return out


def coin_to_symbol(spot_meta: Mapping[str, Any]) -> dict[str, str]:
    """Every USDC spot pair's coin → the ticker users write: ``"@142"`` → ``"BTC"`` (aliases reversed),
    ``"PURR/USDC"`` → ``"PURR"``, ``"@107"`` → ``"HYPE"``. Sync uses it to name fills."""
    index = _Index(spot_meta)
    reverse = {alias: ticker for ticker, names in ALIASES.items() for alias in names}
    out: dict[str, str] = {}
    for base, pair in index.usdc_pair_by_base.items():
        token = index.tokens.get(base)
        if token is None:
            continue
        name = str(token["name"]).upper()
        if name in reverse:
            name = reverse[name]
        elif is_bridged(token) and name.startswith("U") and len(name) > 1:
            name = name[1:]  # the bridge's UXPL is the XPL users write
        out[str(pair["name"])] = name
    return out


def ctx_by_coin(spot_meta_and_ctxs: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    """``spotMetaAndAssetCtxs`` → coin → its ctx, joined on ``ctx["coin"]`` (never by position: the two
    arrays are not aligned). Accepts the raw ``[meta, ctxs]`` answer or a ``(meta, ctxs)`` tuple."""
    ctxs = spot_meta_and_ctxs[1] if len(spot_meta_and_ctxs) == 2 else []
    return {str(c["coin"]): c for c in ctxs if isinstance(c, Mapping) and "coin" in c}


def why(symbol: str, market: Market, pair_override: str | None = None) -> str:
    """Why ``symbol`` resolved to ``market``, in a few words (``markets`` shows it)."""
    symbol = symbol.upper()
    if not market.listed:
        return f"not listed on Hyperliquid spot: paper at CoinGecko ({market.coingecko_id})"
    if pair_override:
        return f"pair {pair_override} set in the config"
    base = (market.base_token or "").upper()
    if base == symbol:
        return f"its own token {base} (no bridged U{symbol} listed)"
    if base in ALIASES.get(symbol, ()):
        return f"the bridged token {base} (the bridge's name for {symbol})"
    if base == "U" + symbol:
        return f"the bridge's token {base} (\"Unit …\"), not a namesake"
    return f"token {base}"
