"""Properties of decide() and allocate_rebalance() over generated configs, prices and holdings."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dcactl.config.schema import (
    AssetConfig,
    BankingRule,
    DynamicFrequencyRule,
    MaDipsRule,
    RsiRule,
    Sizing,
)
from dcactl.schedule.periods import parse_every
from dcactl.strategy import (
    AssetState,
    PriceHistory,
    add_rebalance,
    allocate_rebalance,
    decide,
    history_days,
    history_hours,
    nominal_days,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EVERY = ("hour", "day", "week", "month", "3d", "12h", "2w")
CENT = D("0.01")


def usd(low: int, high: int) -> st.SearchStrategy[D]:
    """Whole cents between low and high USDC."""
    return st.integers(low * 100, high * 100).map(lambda c: D(c) / 100)


@st.composite
def assets(draw: st.DrawFn) -> AssetConfig:
    """An asset with any mix of sizing, clamp and rule tables (valid as the config would accept)."""
    every = draw(st.sampled_from(EVERY))
    amount = draw(usd(1, 1000))
    kind = draw(st.sampled_from(["fixed", "volatility"]))
    lo = draw(st.none() | usd(1, 500)) if kind == "fixed" else draw(usd(1, 500))
    hi = draw(st.none() | usd(1, 2000)) if kind == "fixed" else draw(usd(1, 2000))
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    sizing = Sizing(kind=kind, min=lo, max=hi, window_days=draw(st.integers(2, 40)))
    rsi = draw(st.none() | st.builds(
        RsiRule, enabled=st.booleans(), period=st.integers(2, 30), wilder=st.booleans(),
        overbought=st.integers(55, 90).map(D), oversold=st.integers(10, 45).map(D),
        overbought_action=st.sampled_from(["skip", "trim"]),
        trim_factor=st.integers(1, 100).map(lambda x: D(x) / 100),
        oversold_factor=st.integers(50, 300).map(lambda x: D(x) / 100),
        interval=st.sampled_from(["1d", "1h"]),
    ))
    periods = draw(st.lists(st.integers(2, 80), min_size=1, max_size=3, unique=True))
    ma = draw(st.none() | st.builds(
        MaDipsRule, enabled=st.booleans(), periods=st.just(tuple(periods)),
        kind=st.sampled_from(["SMA", "EMA"]),
        thresholds=st.tuples(*[st.integers(0, 20).map(D) for _ in periods]),
    ))
    dynamic = draw(st.none() | st.builds(
        DynamicFrequencyRule, low_vol=st.integers(5, 40).map(D), high_vol=st.integers(41, 150).map(D),
        low_every=st.sampled_from(EVERY), high_every=st.sampled_from(EVERY), window_days=st.integers(2, 40),
    ))
    banking = draw(st.none() | st.builds(
        BankingRule, enabled=st.booleans(), max_bank_usd=st.none() | usd(1, 5000),
        max_spend_multiple=st.integers(10, 300).map(lambda x: D(x) / 100),
    ))
    return AssetConfig(symbol="BTC", amount=amount, every=every, schedule=parse_every(every), sizing=sizing,
                       rsi=rsi, ma_dips=ma, dynamic_frequency=dynamic, banking=banking)


@st.composite
def histories(draw: st.DrawFn) -> PriceHistory:
    """Random walks of 0..250 positive daily and 0..400 hourly closes, sometimes with a separate
    latest price."""
    start = draw(st.floats(0.001, 1e6))
    seed = draw(st.integers(0, 2**32 - 1))
    step = draw(st.sampled_from([0.0, 0.01, 0.05, 0.2]))
    rng = np.random.default_rng(seed)
    closes = start * np.cumprod(1 + rng.uniform(-step, step, draw(st.integers(0, 250))))
    hourly = start * np.cumprod(1 + rng.uniform(-step / 5, step / 5, draw(st.integers(0, 400))))
    price = draw(st.none() | st.floats(0.0005, 2e6))
    return PriceHistory.of(closes, price, hourly)


def _scale(asset: AssetConfig, d: Any) -> D:
    return nominal_days(d.schedule) / nominal_days(asset.schedule)


@settings(max_examples=300, deadline=None)
@given(asset=assets(), history=histories(), bank=usd(0, 3000))
def test_amount_is_never_negative_nor_above_the_asset_max(asset: AssetConfig, history: PriceHistory,
                                                          bank: D) -> None:
    """amount ≥ 0, ≤ the (frequency-scaled) max when set, 0 on a skip; the bank stays ≥ 0 and only
    grows up to its cap."""
    d = decide(asset, history, AssetState(bank_usd=bank), NOW)
    assert d.amount >= 0
    assert d.amount == d.amount.quantize(CENT)
    if asset.sizing.max is not None:
        assert d.max_usd == (asset.sizing.max * _scale(asset, d)).quantize(CENT)
        assert d.amount <= d.max_usd
        if _scale(asset, d) <= 1:
            assert d.amount <= asset.sizing.max
    if d.skip is not None:
        assert d.amount == 0
    assert d.bank_after >= 0
    banking = asset.banking
    if banking is None or not banking.enabled:
        assert d.bank_after == d.bank_before
    else:
        cap = banking.max_bank_usd if banking.max_bank_usd is not None else 4 * asset.amount
        assert d.bank_after <= max(d.bank_before, cap.quantize(CENT))


@settings(max_examples=200, deadline=None)
@given(asset=assets(), history=histories(), bank=usd(0, 3000),
       prefix=st.lists(st.floats(0.01, 1e6), min_size=0, max_size=300))
def test_same_inputs_same_decision(asset: AssetConfig, history: PriceHistory, bank: D,
                                   prefix: list[float]) -> None:
    """Deciding twice gives equal decisions, and closes older than history_days() (hourly:
    history_hours()) change nothing."""
    state = AssetState(bank_usd=bank)
    first = decide(asset, history, state, NOW)
    copy = PriceHistory(history.closes.copy(), history.price, history.hourly.copy())
    again = decide(asset, copy, state, NOW)
    assert first == again
    if history.closes.size >= history_days(asset) and history.hourly.size >= history_hours(asset):
        older = np.array(prefix)
        longer = PriceHistory.of(np.concatenate([older, history.closes]), history.price,
                                 np.concatenate([older, history.hourly]))
        assert decide(asset, longer, state, NOW) == first


@settings(max_examples=200, deadline=None)
@given(asset=assets(), history=histories())
def test_decisions_are_nan_free_and_json_safe(asset: AssetConfig, history: PriceHistory) -> None:
    """Every indicator is a finite float or None; to_json dumps without NaN; reasons are sentences."""
    d = decide(asset, history, AssetState(), NOW)
    assert all(v is None or math.isfinite(v) for v in d.indicators.values())
    json.dumps(d.to_json(), allow_nan=False)
    assert d.reasons and all(r and "nan" not in r.lower() for r in d.reasons)
    assert d.summary and "nan" not in d.summary.lower()


@settings(max_examples=100, deadline=None)
@given(asset=assets(), history=histories(), extra=usd(0, 1000))
def test_rebalancing_share_keeps_the_max(asset: AssetConfig, history: PriceHistory, extra: D) -> None:
    """add_rebalance never lowers the amount, never passes the max, never un-skips."""
    d = decide(asset, history, AssetState(), NOW)
    more = add_rebalance(d, extra)
    assert more.amount >= d.amount
    if d.max_usd is not None:
        assert more.amount <= max(d.max_usd, d.amount)
    assert more.skip == d.skip
    if d.skip is not None:
        assert more.amount == 0


# --- rebalancing ---------------------------------------------------------------------------------

SYMBOLS = ["BTC", "ETH", "SOL", "AVAX", "LINK"]


@st.composite
def portfolios(draw: st.DrawFn) -> tuple[dict[str, D], dict[str, D], list[str], D]:
    """Targets summing to exactly 1 (weights ≥ 0.05), holdings, a due subset and a budget."""
    n = draw(st.integers(1, 5))
    symbols = SYMBOLS[:n]
    raw = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    weights = [(D(r) / sum(raw)).quantize(D("0.001")) for r in raw]
    weights[-1] = 1 - sum(weights[:-1])
    targets = dict(zip(symbols, weights, strict=True))
    if min(weights) < D("0.01"):
        targets = {s: D(1) / n for s in symbols}
    holdings = {s: draw(usd(0, 100000)) for s in symbols}
    due = draw(st.lists(st.sampled_from([*symbols, "DOGE"]), min_size=0, max_size=6, unique=True))
    budget = draw(usd(0, 20000))
    return targets, holdings, due, budget


@settings(max_examples=400, deadline=None)
@given(p=portfolios())
def test_rebalancing_never_sells_never_overspends_never_overshoots(
    p: tuple[dict[str, D], dict[str, D], list[str], D],
) -> None:
    """Shares are ≥ 0 whole cents for exactly the due assets, sum to ≤ the budget, never push an asset
    past its target weight of the portfolio after the run, and go to the most underweight first."""
    targets, holdings, due, budget = p
    shares = allocate_rebalance(targets, holdings, due, budget)
    assert set(shares) == set(due)
    assert all(v >= 0 and v == v.quantize(CENT) for v in shares.values())
    assert sum(shares.values(), D(0)) <= budget
    total = sum(holdings.values(), D(0)) + budget
    for s, v in shares.items():
        if s not in targets:
            assert v == 0
        elif v > 0:
            assert holdings[s] + v <= targets[s] * total + CENT
    funded = [s for s in due if shares[s] > 0]
    if funded:
        # no unfunded due asset is more underweight (holding / weight) than a funded one was
        level = min(holdings[s] / targets[s] for s in funded)
        for s in due:
            if s in targets and shares[s] == 0 and holdings[s] < targets[s] * total:
                assert holdings[s] / targets[s] >= level - CENT / targets[s]


@settings(max_examples=200, deadline=None)
@given(p=portfolios())
def test_rebalancing_buys_the_underweight_asset(p: tuple[dict[str, D], dict[str, D], list[str], D]) -> None:
    """An asset holding nothing while every other holds something gets a positive share of ≥ 1 USDC."""
    targets, holdings, _, budget = p
    first = next(iter(targets))
    holdings = {s: (D(0) if s == first else max(v, D(1))) for s, v in holdings.items()}
    budget = max(budget, D(1))
    shares = allocate_rebalance(targets, holdings, list(targets), budget)
    assert shares[first] > 0


@settings(max_examples=200, deadline=None)
@given(p=portfolios())
def test_the_whole_budget_is_spent_when_every_target_asset_is_due(
    p: tuple[dict[str, D], dict[str, D], list[str], D],
) -> None:
    """With every target asset due, only cent flooring is left unspent."""
    targets, holdings, _, budget = p
    shares = allocate_rebalance(targets, holdings, list(targets), budget)
    assert budget - sum(shares.values(), D(0)) < CENT * len(targets)


def _near(anchor: float) -> st.SearchStrategy[float]:
    """Floats at, next to and around ``anchor`` (representation noise: 9.999999999999998 vs 10)."""
    return st.one_of(
        st.just(anchor),
        st.integers(-40, 40).map(lambda k: float(np.nextafter(anchor, math.inf if k > 0 else -math.inf))
                                 if abs(k) == 1 else anchor + k * 1e-11),
        st.floats(anchor - 1e-6, anchor + 1e-6),
    )


LEVELS = st.sampled_from([D(0), D(2), D(5), D("9.5"), D(10), D(30), D("33.3"), D(70), D(100)])
ODD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.just(-0.0), st.just(0.0), st.just(-1e-12),
    st.just(2.5e-11), st.just(-2.5e-11), st.just(1e300), st.just(5e-324),
    LEVELS.flatmap(lambda d: _near(float(d))),
)


@settings(max_examples=2000, deadline=None)
@given(x=ODD)
def test_one_value_rounded_at_ten_decimals_is_numpys(x: float) -> None:
    """_ten_one (the rules' scalar path) is np.round(x, 10) bit for bit, the sign of a zero, NaN and
    infinities included."""
    from dcactl.strategy.rules import _ten, _ten_one

    with np.errstate(over="ignore"):  # numpy warns where x × 1e10 overflows (to inf, as floats do)
        want = float(_ten(np.array([x]))[0])
    got = _ten_one(x)
    assert (math.isnan(got) and math.isnan(want)) or (got == want and math.copysign(1, got) ==
                                                      math.copysign(1, want))


@settings(max_examples=1000, deadline=None)
@given(values=st.lists(ODD, min_size=1, max_size=5), oversold=LEVELS, overbought=LEVELS)
def test_one_rsi_zone_is_the_vectorised_ones(values: list[float], oversold: D, overbought: D) -> None:
    """rsi_zone (what rsi_effect reads at a tick) equals rsi_zones (what the backtest's lanes group
    ticks by) for every value, thresholds hit exactly or missed by float noise."""
    from dcactl.strategy.rules import rsi_zone, rsi_zones

    rule = RsiRule(oversold=oversold, overbought=overbought)
    with np.errstate(over="ignore"):
        assert [rsi_zone(rule, v) for v in values] == rsi_zones(rule, np.array(values)).tolist()


@settings(max_examples=1000, deadline=None)
@given(data=st.data(), periods=st.integers(1, 4),
       bounds=st.lists(LEVELS, min_size=1, max_size=4, unique=True))
def test_one_tick_deepest_dip_is_the_vectorised_one(data: Any, periods: int, bounds: list[D]) -> None:
    """deepest_dip (ma_dip_effect at a tick) equals deepest_dips' column (the backtest's lanes): which
    periods qualify, the deepest (the first of equals) and its tier; and pct_below is pct_below_at."""
    from dcactl.strategy.indicators import pct_below, pct_below_at
    from dcactl.strategy.rules import deepest_dip, deepest_dips

    thresholds = data.draw(st.lists(LEVELS, min_size=periods, max_size=periods))
    bounds = sorted(bounds)
    rule = MaDipsRule(periods=tuple(range(2, 2 + periods)), thresholds=tuple(thresholds),
                      tier_bounds=tuple(bounds), multipliers=tuple(D(1) for _ in range(len(bounds) + 1)))
    price = data.draw(ODD)
    averages = data.draw(st.lists(ODD, min_size=periods, max_size=periods))
    with np.errstate(over="ignore"):
        below = pct_below_at(np.full(periods, price), np.array(averages))
    one = [pct_below(price, a) for a in averages]
    assert all((x is None and math.isnan(y)) or x == y for x, y in zip(one, below.tolist(), strict=True))
    ticks = data.draw(st.lists(st.lists(ODD, min_size=periods, max_size=periods), min_size=1, max_size=4))
    ticks.append(below.tolist())
    with np.errstate(over="ignore"):
        many = deepest_dips(rule, np.array(ticks).T)
    for t, row in enumerate(ticks):
        qualifies, best, tier = deepest_dip(rule, row)
        assert qualifies == many.qualifies[:, t].tolist()
        assert best == int(many.best[t])
        if best >= 0:
            assert tier == int(many.tier[t])
