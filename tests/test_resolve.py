"""Symbol → market resolution from hand-made spotMeta fixtures (pure; no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dcactl.errors import ResolveError
from dcactl.ledger import Ledger
from dcactl.market.resolve import AssetSpec, coin_to_symbol, ctx_by_coin, resolve_markets
from dcactl.models import Market

FIXTURES = Path(__file__).parent / "fixtures" / "hl"
META: dict[str, Any] = json.loads((FIXTURES / "spot_meta.json").read_text())
CTXS: list[Any] = json.loads((FIXTURES / "spot_meta_and_ctxs_ctxs.json").read_text())


def one(spec: Any, meta: dict[str, Any] = META) -> Market | ResolveError:
    return next(iter(resolve_markets([spec], meta).values()))


def test_btc_resolves_through_the_ubtc_alias_to_its_usdc_pair() -> None:
    """BTC → token UBTC (index 3) → pair @142 (index field 142, position 3) → asset 10142, szDecimals 5.

    The UBTC/USDH pair @140 comes first in the universe and is ignored (quote token 5, not 0).
    """
    market = one(("BTC", "auto", None, None))
    assert market == Market(symbol="BTC", venue="hyperliquid", coin="@142", asset_id=10142, base_token="UBTC",
                            sz_decimals=5, coingecko_id="bitcoin")


@pytest.mark.parametrize(
    ("symbol", "coin", "asset_id", "sz_decimals", "base"),
    [
        ("ETH", "@151", 10151, 4, "UETH"),
        ("SOL", "@9", 10009, 3, "USOL"),  # pair index 9 sits at position 5, token index 6
        ("HYPE", "@7", 10007, 2, "HYPE"),  # pair index 7 at position 1, token index 2
        ("PURR", "PURR/USDC", 10000, 0, "PURR"),
        ("ubtc", "@142", 10142, 5, "UBTC"),  # the token name itself works, any case
    ],
)
def test_pair_index_field_not_position_and_not_token_index(
    symbol: str, coin: str, asset_id: int, sz_decimals: int, base: str
) -> None:
    """coin, asset id (10000 + the pair's index field) and the base token's szDecimals."""
    market = one(AssetSpec(symbol))
    assert isinstance(market, Market)
    assert (market.coin, market.asset_id, market.sz_decimals, market.base_token, market.venue) == (
        coin, asset_id, sz_decimals, base, "hyperliquid")


def test_unlisted_known_symbol_goes_to_paper_with_its_coingecko_id() -> None:
    """AVAX is not listed: auto → paper priced from CoinGecko avalanche-2; no coin, not listed."""
    market = one(AssetSpec("AVAX"))
    assert market == Market(symbol="AVAX", venue="paper", coingecko_id="avalanche-2")
    assert isinstance(market, Market) and not market.listed and market.pair == "coingecko:avalanche-2"


def test_configured_coingecko_id_wins_over_the_table() -> None:
    """assets.X.coingecko_id overrides COINGECKO_IDS."""
    assert one(AssetSpec("LINK", coingecko_id="chainlink-wrapped")) == Market(
        symbol="LINK", venue="paper", coingecko_id="chainlink-wrapped")


def test_unknown_symbol_error_tells_the_fix() -> None:
    """A symbol neither listed nor in the id table is a ResolveError naming the key to set."""
    err = one(AssetSpec("ZZZ"))
    assert isinstance(err, ResolveError)
    assert str(err) == ("unknown symbol ZZZ: not listed on Hyperliquid spot and no CoinGecko id; "
                        "set assets.ZZZ.coingecko_id")


def test_token_without_a_usdc_pair_is_unlisted() -> None:
    """JUNK exists as a token but has no USDC pair: venue hyperliquid is an error naming the venue fix."""
    err = one(AssetSpec("JUNK", "hyperliquid"))
    assert isinstance(err, ResolveError)
    assert "JUNK: not listed on Hyperliquid spot" in str(err) and 'venue = "auto"' in str(err)


def test_forced_paper_keeps_the_listed_market_so_paper_walks_the_real_book() -> None:
    """venue = "paper" on a listed asset: paper, but coin/asset id/decimals kept (listed stays True)."""
    market = one(AssetSpec("BTC", "paper"))
    assert isinstance(market, Market)
    assert (market.venue, market.coin, market.asset_id, market.sz_decimals, market.listed) == (
        "paper", "@142", 10142, 5, True)


def test_pair_override_is_honoured_and_validated() -> None:
    """pair = "@151" is used as given; an unknown pair or a non-USDC pair is an error."""
    market = one(AssetSpec("ETH", pair="@151"))
    assert isinstance(market, Market) and market.asset_id == 10151
    missing = one(AssetSpec("BTC", pair="@4242"))
    assert isinstance(missing, ResolveError) and "'@4242' is not a Hyperliquid spot pair" in str(missing)
    usdh = one(AssetSpec("BTC", pair="@140"))
    assert isinstance(usdh, ResolveError) and "quoted in USDH" in str(usdh)


def test_unknown_venue_is_an_error() -> None:
    """A venue other than auto/hyperliquid/paper is refused."""
    assert isinstance(one(AssetSpec("BTC", "binance")), ResolveError)


def test_objects_with_attributes_are_accepted_and_errors_do_not_hide_others() -> None:
    """Config objects work like tuples; one failing asset leaves the others resolved."""

    class Cfg:
        def __init__(self, symbol: str) -> None:
            self.symbol, self.venue, self.pair, self.coingecko_id = symbol, "auto", None, None

    result = resolve_markets([Cfg("ETH"), Cfg("ZZZ"), ("AVAX", "auto", None, None)], META)
    assert list(result) == ["ETH", "ZZZ", "AVAX"]
    assert isinstance(result["ETH"], Market) and isinstance(result["ZZZ"], ResolveError)


def test_tolerates_malformed_and_empty_metadata() -> None:
    """Garbage universe entries are skipped; an empty spotMeta sends everything known to paper."""
    meta = {"tokens": META["tokens"] + [{"oops": 1}], "universe": [*META["universe"], {"name": "@1"}, 7]}
    assert isinstance(one(AssetSpec("BTC"), meta), Market)
    assert one(AssetSpec("BTC"), {}) == Market(symbol="BTC", venue="paper", coingecko_id="bitcoin")


def test_coin_to_symbol_names_every_usdc_pair_with_reverse_aliases() -> None:
    """@142 → BTC, @151 → ETH, @9 → SOL, @7 → HYPE, PURR/USDC → PURR, @200 → USDH; USDH pairs skipped."""
    assert coin_to_symbol(META) == {"PURR/USDC": "PURR", "@7": "HYPE", "@142": "BTC", "@151": "ETH",
                                    "@9": "SOL", "@200": "USDH"}


def test_ctx_by_coin_joins_on_coin_never_by_position() -> None:
    """Ctxs in a different order (and with extra coins) are matched to pairs by their coin field."""
    ctxs = ctx_by_coin([META, CTXS])
    assert ctxs["@142"]["markPx"] == "97000"
    assert ctxs["PURR/USDC"]["midPx"] == "0.20935"
    assert ctxs["@7"]["midPx"] is None
    assert "@9" not in ctxs  # no ctx for USOL in this answer: absent, not someone else's
    assert ctx_by_coin((META, [])) == {}


def _meta(tokens: list[tuple[str, str | None]]) -> dict[str, Any]:
    """spotMeta with USDC (token 0) and one USDC pair per token (pair index 100 + token index)."""
    toks = [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0, "fullName": None}]
    toks += [{"name": n, "szDecimals": 2, "weiDecimals": 8, "index": i, "fullName": f}
             for i, (n, f) in enumerate(tokens, start=1)]
    pairs = [{"name": f"@{100 + t['index']}", "tokens": [t["index"], 0], "index": 100 + t["index"]}
             for t in toks[1:]]
    return {"tokens": toks, "universe": pairs}


def test_the_bridged_token_wins_over_a_namesake() -> None:
    """A HIP-1 PUMP (listed first, no full name) beside the bridge's UPUMP ("Unit Pump"): PUMP buys
    UPUMP; XPL (no alias) finds the bridge's UXPL instead of falling back to paper; sync names the
    bridged pairs by the ticker users write."""
    meta = _meta([("PUMP", None), ("UPUMP", "Unit Pump"), ("UXPL", "Unit Plasma"), ("HYPE", "Hyperliquid")])
    pump = one(("PUMP", "auto", None, None), meta)
    assert isinstance(pump, Market) and pump.base_token == "UPUMP" and pump.coin == "@102"
    xpl = one(("XPL", "auto", None, None), meta)
    assert isinstance(xpl, Market) and xpl.base_token == "UXPL" and xpl.venue == "hyperliquid"
    hype = one(("HYPE", "auto", None, None), meta)
    assert isinstance(hype, Market) and hype.base_token == "HYPE"
    assert coin_to_symbol(meta)["@103"] == "XPL"
    assert coin_to_symbol(meta)["@102"] == "PUMP"


def test_an_unsettled_namesake_is_an_error_naming_each_candidate() -> None:
    """ABC beside a UABC that is not the bridge's: the asset fails, naming both pairs, tokens and full
    names and asking for `pair`; with `pair` set it resolves to that one."""
    meta = _meta([("ABC", "Abc Token"), ("UABC", "Ultra ABC")])
    err = one(("ABC", "auto", None, None), meta)
    assert isinstance(err, ResolveError)
    assert str(err) == ("ABC: more than one listed pair could be meant: @101 (ABC, 'Abc Token'); "
                        "@102 (UABC, 'Ultra ABC'); set assets.ABC.pair to the one you mean")
    chosen = one(("ABC", "auto", "@102", None), meta)
    assert isinstance(chosen, Market) and chosen.base_token == "UABC"
    # with the pairs' contexts cached beside the meta, each candidate shows its 24 h volume
    meta["ctxs"] = [{"coin": "@102", "dayNtlVlm": "98765.4"}, {"coin": "@101", "dayNtlVlm": "1234.5"}]
    err = one(("ABC", "auto", None, None), meta)
    assert str(err) == ("ABC: more than one listed pair could be meant: @101 (ABC, 'Abc Token', 24 h volume "
                        "1,234 USDC); @102 (UABC, 'Ultra ABC', 24 h volume 98,765 USDC); set assets.ABC.pair "
                        "to the one you mean")


def test_markets_says_why_each_asset_resolved(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """`markets --json` on the devnet: BTC through the bridge's UBTC, HYPE its own token, XPL the
    bridge's UXPL (no alias needed), LINK on paper at CoinGecko, a `pair` override named as such."""
    from support import write_portfolio

    body = "".join(f'[assets.{a}]\namount = 20\nevery = "day"\n' for a in ("BTC", "HYPE", "XPL", "LINK"))
    body += '[assets.PURR]\namount = 20\nevery = "day"\npair = "PURR/USDC"\n'
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    res = cli("--config", str(cfg), "--json", "markets")
    assert res.code == 0, res.err
    notes = {m["asset"]: m["note"] for m in res.json()["markets"]}
    assert notes == {
        "BTC": "the bridged token UBTC (the bridge's name for BTC)",
        "HYPE": "its own token HYPE (no bridged UHYPE listed)",
        "XPL": "the bridge's token UXPL (\"Unit …\"), not a namesake",
        "LINK": "not listed on Hyperliquid spot: paper at CoinGecko (chainlink)",
        "PURR": "pair PURR/USDC set in the config",
    }


def test_bridged_assets_beside_namesakes_buy_the_bridged_pair(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """The devnet lists HIP-1 namesakes (PUMP @247, SOL @252: little depth, no "Unit" name) beside the
    bridge's UPUMP @171 and USOL @156, as mainnet does: SOL and PUMP resolve to the bridged pairs, markets
    says why, and a paper run walks the bridged books, never the namesakes'."""
    from support import write_portfolio

    body = "".join(f'[assets.{a}]\namount = 20\nevery = "day"\n' for a in ("SOL", "PUMP"))
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    res = cli("--config", str(cfg), "--json", "markets")
    assert res.code == 0, res.err
    got = {m["asset"]: (m["pair"], m["note"]) for m in res.json()["markets"]}
    assert got["SOL"][0] == "@156" and got["PUMP"][0] == "@171", got
    assert "namesake" in got["PUMP"][1] or "bridge" in got["PUMP"][1], got
    run = cli("--config", str(cfg), "--json", "run")
    assert run.code == 0, run.err
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None) as ledger:
        assert sorted(f.pair for f in ledger.fills()) == ["@156", "@171"]


def test_an_unsettled_namesake_on_the_devnet_fails_the_asset_and_buys_nothing(
    tmp_path: Path, cli: Any
) -> None:
    """A devnet universe with ABC and a UABC that is not the bridge's ("Ultra ABC"): a paper run of
    [assets.ABC] fails that asset naming both pairs with their 24 h volume, buys nothing, and
    the other asset is bought; `pair = "@4"` settles it."""
    import json as json_mod

    from support import write_portfolio

    from dcactl.devnet.control import DevnetThread

    universe = tmp_path / "universe.json"
    universe.write_text(json_mod.dumps({
        "tokens": [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8},
                   {"name": "ABC", "szDecimals": 1, "weiDecimals": 6, "fullName": "Abc"},
                   {"name": "UABC", "szDecimals": 1, "weiDecimals": 6, "fullName": "Ultra ABC"},
                   {"name": "UBTC", "szDecimals": 5, "weiDecimals": 10, "fullName": "Unit Bitcoin"}],
        "pairs": [{"index": 3, "base": "ABC", "price": 2.5}, {"index": 4, "base": "UABC", "price": 7.0},
                  {"index": 5, "base": "UBTC", "price": 100000}],
    }))
    with DevnetThread(seed=2, universe=universe) as dn:
        body = '[assets.ABC]\namount = 20\nevery = "day"\n[assets.BTC]\namount = 20\nevery = "day"\n'
        cfg = write_portfolio(tmp_path / "p.toml", dn.url, body)
        res = cli("--config", str(cfg), "--json", "run")
        results = {r["asset"]: r for r in res.json()["results"]}
        assert res.code == 1 and results["BTC"]["status"] == "paper"
        assert results["ABC"]["status"] == "failed"
        reason = results["ABC"]["reason"]
        assert "@3 (ABC, 'Abc', 24 h volume" in reason and "@4 (UABC, 'Ultra ABC', 24 h volume" in reason
        assert "set assets.ABC.pair" in reason
        with Ledger.open(tmp_path / "ledger.db", network=dn.url, account=None) as ledger:
            assert [f.pair for f in ledger.fills()] == ["@5"]
        settled = write_portfolio(tmp_path / "p.toml", dn.url, body.replace(
            '[assets.BTC]', 'pair = "@4"\n[assets.BTC]'))
        again = cli("--config", str(settled), "--json", "run")
        statuses = {r["asset"]: r["status"] for r in again.json()["results"]}
        assert statuses == {"ABC": "paper", "BTC": "not_due"}
