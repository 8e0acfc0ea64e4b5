"""Smart-DCA rules on crafted price series where the right answer is obvious (hand-computed)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest

from dcactl.config.schema import (
    AssetConfig,
    BankingRule,
    DynamicFrequencyRule,
    MaDipsRule,
    RsiRule,
    Sizing,
)
from dcactl.schedule.periods import LastBuy, is_due, parse_every, period_of
from dcactl.strategy import (
    AssetState,
    PriceHistory,
    add_rebalance,
    allocate_rebalance,
    decide,
    effective_schedule,
    history_days,
    history_hours,
    nominal_days,
)

NOW = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)  # a Tuesday
# 15 closes whose 14 changes are 8 × +1, 2 × −1, 4 × 0: Wilder's first RSI = 100 − 100/(1 + 8/2) = 80.
RSI_80 = [100, 101, 102, 103, 104, 105, 106, 107, 108, 107, 106, 106, 106, 106, 106]
# 2 × +1, 8 × −1, 4 × 0: RS = 2/8 → RSI = 100 − 100/1.25 = 20.
RSI_20 = [100, 101, 102, 101, 100, 99, 98, 97, 96, 95, 94, 94, 94, 94, 94]
# 30 closes at 110 then 20 at 90: SMA(50) = (3300 + 1800) / 50 = 102, SMA(20) = 90.
DIP_SERIES = [110.0] * 30 + [90.0] * 20
DIP_PRICE = 91.8  # (102 − 91.8) / 102 = exactly 10 % below the 50-day SMA, 2 % above the 20-day one


def btc(**kw: Any) -> AssetConfig:
    """BTC, 100 USDC every week, with the given rule tables."""
    base: dict[str, Any] = {
        "symbol": "BTC", "amount": D(100), "every": "week", "schedule": parse_every("week"),
    }
    return AssetConfig(**(base | kw))


def hist(closes: list[float] | np.ndarray, price: float | None = None) -> PriceHistory:
    return PriceHistory.of(closes, price)


def closes_with_vol(vol_pct: float, window: int = 30, days: int = 40) -> list[float]:
    """Closes whose daily returns alternate +r, −r, so the last `window` have sample vol = vol_pct."""
    r = vol_pct / 100 / math.sqrt(365) / math.sqrt(window / (window - 1))
    out = [100.0]
    for i in range(days):
        out.append(out[-1] * (1 + r if i % 2 == 0 else 1 - r))
    return out


# --- MA dips -------------------------------------------------------------------------------------


def test_ten_percent_below_the_50_day_sma_buys_2_5x() -> None:
    """Price 10 % below the 50-day SMA (threshold 5 %) is the deepest dip → tier ≥ 10 % → 2.5 × 100."""
    d = decide(btc(ma_dips=MaDipsRule()), hist(DIP_SERIES, DIP_PRICE), AssetState(), NOW)
    assert d.amount == D("250.00")
    assert d.skip is None
    assert d.multiplier == D("2.5")
    assert "price 91.8 is 10.0 % below its 50-day SMA 102 (dip threshold 5 %), the deepest dip: ×2.5 " \
           "(tier ≥ 10 %)" in d.reasons
    assert d.summary == ("buy 250.00 USDC (2.5× the base 100.00) because price 91.8 is 10.0 % below its "
                         "50-day SMA 102")
    assert d.indicators["sma_50"] == pytest.approx(102.0)
    assert d.indicators["below_sma_50_pct"] == pytest.approx(10.0)
    assert d.indicators["sma_200"] is None  # 50 closes: not enough for the 200-day average


def test_a_dip_under_its_threshold_does_not_count() -> None:
    """4 % below the 50-day SMA with threshold 5 % is no dip: ×1, and the reason says why."""
    price = 102 * 0.96
    d = decide(btc(ma_dips=MaDipsRule(periods=(50,), thresholds=(D(5),))), hist(DIP_SERIES, price),
               AssetState(), NOW)
    assert d.amount == D("100.00")
    assert d.reasons[-1] == "no MA dip (4.0 % below the 50-day SMA (a dip needs 5 %)) → ×1"
    assert d.summary == "buy 100.00 USDC: the base amount, no rule changed it"


@pytest.mark.parametrize(("below_pct", "multiplier"), [
    (1.0, D("1.2")), (2.0, D("1.5")), (4.99, D("1.5")), (7.0, D("2.0")), (10.0, D("2.5")), (30.0, D("2.5")),
])
def test_tiers_follow_the_deepest_dip(below_pct: float, multiplier: D) -> None:
    """Under 2 % → 1.2, under 5 % → 1.5, under 10 % → 2.0, from 10 % → 2.5 (the earlier bot's tiers)."""
    rule = MaDipsRule(periods=(20,), thresholds=(D("0.5"),))
    d = decide(btc(ma_dips=rule), hist([100.0] * 20, 100 * (1 - below_pct / 100)), AssetState(), NOW)
    assert d.multiplier == multiplier
    assert d.amount == (D(100) * multiplier).quantize(D("0.01"))


def test_ema_dip_uses_the_sma_seeded_ema() -> None:
    """EMA(3) of 1, 2, 3, 4 = ½·4 + ½·mean(1, 2, 3) = 3; price 2.7 is 10 % below → 2.5×."""
    rule = MaDipsRule(periods=(3,), kind="EMA", thresholds=(D(5),))
    d = decide(btc(ma_dips=rule), hist([1, 2, 3, 4], 2.7), AssetState(), NOW)
    assert d.indicators["ema_3"] == pytest.approx(3.0)
    assert d.amount == D("250.00")


def test_short_history_makes_the_dip_rule_neutral_with_a_reason() -> None:
    """With 10 closes no average exists: ×1 and 'not enough history (have 10 of N days)' per period."""
    d = decide(btc(ma_dips=MaDipsRule()), hist([100.0] * 10, 50.0), AssetState(), NOW)
    assert d.amount == D("100.00")
    assert d.reasons[-1] == (
        "no MA dip (20-day SMA: not enough history (have 10 of 20 days); 50-day SMA: not enough history "
        "(have 10 of 50 days); 200-day SMA: not enough history (have 10 of 200 days)) → ×1"
    )


# --- RSI -----------------------------------------------------------------------------------------


def test_rsi_80_skips() -> None:
    """RSI(14) 80 ≥ 70 with the default action skips: amount 0 and a one-sentence skip reason."""
    d = decide(btc(rsi=RsiRule()), hist(RSI_80), AssetState(), NOW)
    assert d.indicators["rsi_14"] == pytest.approx(80.0)
    assert d.amount == D(0)
    assert d.skip == "RSI(14) 80.0 ≥ overbought 70"
    assert "RSI(14) 80.0 ≥ overbought 70: skip" in d.reasons
    assert d.summary == "skip BTC: RSI(14) 80.0 ≥ overbought 70; 100.00 USDC not saved (banking is off)"


def test_rsi_trim_multiplies_by_the_trim_factor() -> None:
    """overbought_action trim with factor 0.5 halves the buy: 50.00 USDC."""
    d = decide(btc(rsi=RsiRule(overbought_action="trim")), hist(RSI_80), AssetState(), NOW)
    assert (d.amount, d.skip) == (D("50.00"), None)
    assert d.summary == ("buy 50.00 USDC (0.5× the base 100.00) because RSI(14) 80.0 ≥ overbought 70 "
                         "(trimmed ×0.5)")


def test_rsi_oversold_factor_boosts_and_default_buys_as_usual() -> None:
    """RSI 20 ≤ 30: factor 1.0 (the default) buys 100.00, factor 1.5 buys 150.00."""
    assert decide(btc(rsi=RsiRule()), hist(RSI_20), AssetState(), NOW).amount == D("100.00")
    d = decide(btc(rsi=RsiRule(oversold_factor=D("1.5"))), hist(RSI_20), AssetState(), NOW)
    assert d.amount == D("150.00")
    assert "RSI(14) 20.0 ≤ oversold 30: ×1.5" in d.reasons


def test_rsi_short_history_is_neutral() -> None:
    """14 closes cannot give RSI(14): ×1, 'not enough history (have 14 of 15 days)', indicator None."""
    d = decide(btc(rsi=RsiRule()), hist(RSI_80[:14]), AssetState(), NOW)
    assert d.amount == D("100.00")
    assert "RSI(14): not enough history (have 14 of 15 days) → ×1" in d.reasons
    assert d.indicators["rsi_14"] is None


def test_hourly_rsi_reads_the_hourly_closes_only() -> None:
    """interval 1h: RSI(14, 1h) of the hourly closes (80 → skip) whatever the daily ones say (20)."""
    asset = btc(rsi=RsiRule(interval="1h"))
    d = decide(asset, PriceHistory.of(RSI_20, None, RSI_80), AssetState(), NOW)
    assert d.skip == "RSI(14, 1h) 80.0 ≥ overbought 70"
    assert d.indicators["rsi_14_1h"] == pytest.approx(80.0) and "rsi_14" not in d.indicators
    daily = decide(btc(rsi=RsiRule()), PriceHistory.of(RSI_20, None, RSI_80), AssetState(), NOW)
    assert (daily.skip, daily.indicators["rsi_14"]) == (None, pytest.approx(20.0))


def test_hourly_rsi_short_history_counts_hours() -> None:
    """9 hourly closes for RSI(14, 1h): neutral, 'have 9 of 15 hours'; the daily closes do not help."""
    d = decide(btc(rsi=RsiRule(interval="1h")), PriceHistory.of(RSI_80, None, RSI_80[:9]), AssetState(), NOW)
    assert d.amount == D("100.00")
    assert "RSI(14, 1h): not enough history (have 9 of 15 hours) → ×1" in d.reasons


# --- banking -------------------------------------------------------------------------------------


def test_banking_saves_on_a_skip_and_spends_on_the_next_dip() -> None:
    """Skip banks the 100.00 base; the next 10 % dip buys 2.5 × 100 + 100 from the bank = 350.00."""
    asset = btc(rsi=RsiRule(), ma_dips=MaDipsRule(), banking=BankingRule())
    skip = decide(asset, hist(RSI_80), AssetState(), NOW)
    assert (skip.amount, skip.bank_before, skip.bank_after) == (D(0), D(0), D("100.00"))
    assert skip.summary == ("skip BTC: RSI(14) 80.0 ≥ overbought 70; 100.00 USDC banked, bank 100.00 of "
                            "max 400.00 USDC")
    dip = decide(asset, hist(DIP_SERIES, DIP_PRICE), AssetState(bank_usd=skip.bank_after), NOW)
    assert (dip.amount, dip.bank_after) == (D("350.00"), D("0.00"))
    assert dip.summary == (
        "buy 350.00 USDC (2.5× the base 100.00, + 100.00 from the bank) because RSI(14) 0.0 ≤ oversold 30 "
        "and price 91.8 is 10.0 % below its 50-day SMA 102"
    )


def test_rsi_oversold_is_a_qualifying_dip_with_a_spend_limit() -> None:
    """RSI 20 ≤ 30 qualifies; max_spend_multiple 0.5 spends 50 of a 120 bank: 150.00, bank 70.00."""
    asset = btc(rsi=RsiRule(), banking=BankingRule(max_spend_multiple=D("0.5")))
    d = decide(asset, hist(RSI_20), AssetState(bank_usd=D(120)), NOW)
    assert (d.amount, d.bank_after) == (D("150.00"), D("70.00"))


def test_the_bank_is_capped() -> None:
    """Bank 380 of the default cap 4 × 100: a skip banks only 20, and says the rest is not banked."""
    d = decide(btc(rsi=RsiRule(), banking=BankingRule()), hist(RSI_80), AssetState(bank_usd=D(380)), NOW)
    assert d.bank_after == D("400.00")
    assert d.reasons[-1] == ("banking: skipped buy → 20.00 USDC banked, bank 400.00 of max 400.00 USDC "
                             "(bank full: 80.00 USDC not banked)")


def test_a_trim_banks_what_it_saves() -> None:
    """A trim to 50.00 banks the 50.00 it saved."""
    asset = btc(rsi=RsiRule(overbought_action="trim"), banking=BankingRule())
    d = decide(asset, hist(RSI_80), AssetState(), NOW)
    assert (d.amount, d.bank_after) == (D("50.00"), D("50.00"))


def test_no_spend_without_a_dip() -> None:
    """A flat market (RSI 50, no dip) keeps the bank untouched and buys the base."""
    asset = btc(rsi=RsiRule(), ma_dips=MaDipsRule(), banking=BankingRule())
    d = decide(asset, hist([100.0] * 60), AssetState(bank_usd=D(200)), NOW)
    assert (d.amount, d.bank_after) == (D("100.00"), D("200.00"))
    assert d.indicators["rsi_14"] == 50.0


def test_the_max_clamp_returns_unspent_bank_money() -> None:
    """max 300: 250 + 100 from the bank = 350 → clamped to 300, the 50 cut off goes back to the bank."""
    asset = btc(ma_dips=MaDipsRule(), banking=BankingRule(), sizing=Sizing(max=D(300)))
    d = decide(asset, hist(DIP_SERIES, DIP_PRICE), AssetState(bank_usd=D(100)), NOW)
    assert (d.amount, d.bank_after) == (D("300.00"), D("50.00"))
    assert "350.00 USDC clamped to the asset's max 300.00 USDC, 50.00 USDC back to the bank (bank 50.00)" \
           in d.reasons


def test_min_raises_a_trimmed_amount() -> None:
    """min 80 raises a 50.00 trim to 80.00; the bank gets only what was really saved (20.00)."""
    asset = btc(rsi=RsiRule(overbought_action="trim"), banking=BankingRule(), sizing=Sizing(min=D(80)))
    d = decide(asset, hist(RSI_80), AssetState(), NOW)
    assert (d.amount, d.bank_after) == (D("80.00"), D("20.00"))


# --- dynamic frequency ---------------------------------------------------------------------------


def test_high_volatility_buys_daily_with_the_monthly_budget_kept() -> None:
    """Vol 80 % > 50 %: every day instead of every week, 100 × 1/7 = 14.29 USDC per buy."""
    asset = btc(dynamic_frequency=DynamicFrequencyRule())
    d = decide(asset, hist(closes_with_vol(80.0)), AssetState(), NOW)
    assert d.schedule == parse_every("day")
    assert effective_schedule(asset, hist(closes_with_vol(80.0))) == parse_every("day")
    assert d.indicators["vol_30d"] == pytest.approx(80.0)
    assert d.amount == D("14.29")
    assert d.reasons[1] == (
        "dynamic frequency: volatility 80.0 % over 30 days > high 50 % → every day instead "
        "of every week; per-buy amounts ×0.1429 (1 / 7 days) to keep the monthly budget")


@pytest.mark.parametrize(("vol", "every", "amount"), [
    (10.0, "month", D("434.82")),  # 100 × 30.4375 / 7 = 434.821…
    (25.0, "week", D("100.00")),  # at a threshold: the configured schedule
    (40.0, "week", D("100.00")),
    (50.0, "week", D("100.00")),
    (51.0, "day", D("14.29")),
])
def test_volatility_regimes(vol: float, every: str, amount: D) -> None:
    """< low → low_every, > high → high_every, between (inclusive) → as configured; amounts scaled."""
    d = decide(btc(dynamic_frequency=DynamicFrequencyRule()), hist(closes_with_vol(vol)), AssetState(), NOW)
    assert (d.schedule.text, d.amount) == (every, amount)


def test_scaling_applies_to_the_min_max_clamp_too() -> None:
    """Daily instead of weekly with min 50 / max 200: the clamp becomes 7.14 / 28.57 per buy."""
    asset = btc(dynamic_frequency=DynamicFrequencyRule(), sizing=Sizing(min=D(50), max=D(200)))
    d = decide(asset, hist(closes_with_vol(80.0)), AssetState(), NOW)
    assert (d.min_usd, d.max_usd, d.amount) == (D("7.14"), D("28.57"), D("14.29"))


def test_unknown_volatility_keeps_the_configured_schedule() -> None:
    """Ten closes cannot give a 30-day volatility: every week as configured, with the reason."""
    d = decide(btc(dynamic_frequency=DynamicFrequencyRule()), hist([100.0] * 10), AssetState(), NOW)
    assert d.schedule.text == "week"
    assert d.reasons[1] == (
        "dynamic frequency: volatility unknown, not enough history (have 10 of 31 days) → "
        "every week as configured")


def test_a_switch_to_daily_never_buys_twice_in_the_week_of_the_last_buy() -> None:
    """Bought Monday under 'week'; Tuesday the regime says 'day': not due until the week ends."""
    asset = btc(dynamic_frequency=DynamicFrequencyRule())
    week = period_of(parse_every("week"), NOW, "UTC")
    last = LastBuy(at=week.start + timedelta(hours=1), period_start=week.start, period_end=week.end)
    schedule = effective_schedule(asset, hist(closes_with_vol(80.0)))
    assert not is_due(schedule, "UTC", NOW, last).due
    assert is_due(schedule, "UTC", week.end + timedelta(minutes=1), last).due


def test_nominal_days() -> None:
    """hour 1/24, day 1, week 7, month 30.4375, '3d' 3, '12h' 0.5."""
    assert nominal_days(parse_every("hour")) * 24 == 1
    assert [nominal_days(parse_every(e)) for e in ("day", "week", "month", "3d", "12h")] == [
        D(1), D(7), D("30.4375"), D(3), D("0.5")]


# --- composition, history, override --------------------------------------------------------------


def test_volatility_sizing_is_the_base_and_min_max_clamp_the_boost() -> None:
    """Vol sizing 50..200 at vol 60 % gives 125.00; a 2.5× dip would be 312.50, clamped to max 200."""
    sizing = Sizing(kind="volatility", min=D(50), max=D(200))
    closes = closes_with_vol(60.0, days=30)
    d = decide(btc(sizing=sizing), hist(closes), AssetState(), NOW)
    assert d.amount == D("125.00")
    dipped = decide(btc(sizing=sizing, ma_dips=MaDipsRule(periods=(20,), thresholds=(D(5),))),
                    hist(closes, closes[-1] * 0.5), AssetState(), NOW)
    assert dipped.amount == D("200.00")
    assert dipped.reasons[-1] == "312.50 USDC clamped to the asset's max 200.00 USDC"


def test_rsi_and_dip_multipliers_multiply() -> None:
    """Oversold ×1.5 and a 10 % dip ×2.5 compose to 3.75 × 100 = 375.00."""
    falling = [200.0 - i for i in range(60)]  # RSI 0 (all losses), price far below every average
    rule = MaDipsRule(periods=(20,), thresholds=(D(2),))
    asset = btc(rsi=RsiRule(oversold_factor=D("1.5")), ma_dips=rule)
    d = decide(asset, hist(falling, 130.0), AssetState(), NOW)
    assert d.multiplier == D("3.75")
    assert d.amount == D("375.00")


def test_override_replaces_the_rules_and_keeps_the_bank() -> None:
    """buy --amount 42: 42.00, no skip even when RSI says skip, bank unchanged."""
    asset = btc(rsi=RsiRule(), banking=BankingRule())
    d = decide(asset, hist(RSI_80), AssetState(bank_usd=D(30)), NOW, override=D(42))
    assert (d.amount, d.skip, d.bank_after) == (D("42.00"), None, D("30.00"))
    assert d.reasons[0] == "amount 42.00 USDC set on the command line: rules and banking not applied"


def test_history_days() -> None:
    """Defaults with every rule: SMA-200 → 200; EMA → 3 × 200; RSI alone 10 × 14; nothing → 1."""
    every_rule = btc(rsi=RsiRule(), ma_dips=MaDipsRule(), dynamic_frequency=DynamicFrequencyRule())
    assert history_days(every_rule) == 200
    assert history_days(replace(every_rule, ma_dips=MaDipsRule(kind="EMA"))) == 600
    assert history_days(btc(rsi=RsiRule())) == 140
    assert history_days(btc(sizing=Sizing(kind="volatility", min=D(1), max=D(2), window_days=45))) == 46
    assert history_days(btc(rsi=RsiRule(enabled=False))) == 1
    assert history_days(btc()) == 1


def test_history_hours() -> None:
    """Only an enabled hourly RSI reads hourly closes: 10 × period (140 for 14, 20 for 2); else 0.
    An hourly RSI reads no daily closes."""
    assert history_hours(btc(rsi=RsiRule(interval="1h"))) == 140
    assert history_hours(btc(rsi=RsiRule(interval="1h", period=2))) == 20
    assert history_hours(btc(rsi=RsiRule(interval="1h", enabled=False))) == 0
    assert history_hours(btc(rsi=RsiRule())) == 0
    assert history_days(btc(rsi=RsiRule(interval="1h"))) == 1
    assert history_days(btc(rsi=RsiRule(interval="1h"), ma_dips=MaDipsRule())) == 200


def test_only_the_needed_tail_is_read() -> None:
    """Closes before the last history_days() change nothing (live and backtest agree)."""
    rule = MaDipsRule(periods=(20, 50), thresholds=(D(2), D(5)))
    asset = btc(rsi=RsiRule(), ma_dips=rule, banking=BankingRule())
    long = [500.0] * 300 + DIP_SERIES * 3
    short = long[-history_days(asset):]
    state = AssetState(bank_usd=D(50))
    assert decide(asset, hist(long, 95.0), state, NOW) == decide(asset, hist(short, 95.0), state, NOW)


def test_no_history_at_all_is_nan_free() -> None:
    """Empty closes with every rule on: the base amount, every indicator None, JSON without NaN."""
    asset = btc(rsi=RsiRule(), ma_dips=MaDipsRule(), dynamic_frequency=DynamicFrequencyRule(),
                banking=BankingRule(), sizing=Sizing(kind="volatility", min=D(50), max=D(150)))
    d = decide(asset, hist([]), AssetState(), NOW)
    assert d.amount == D("100.00")  # the volatility midpoint
    assert d.reasons[0] == ("volatility unknown (not enough history (have 0 of 31 days)) → midpoint of min "
                            "50.00 and max 150.00: 100.00 USDC")
    assert all(v is None for v in d.indicators.values())
    json.dumps(d.to_json(), allow_nan=False)


def test_naive_now_is_refused() -> None:
    """decide() needs a timezone-aware `now`."""
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(btc(), hist([]), AssetState(), datetime(2026, 1, 1))


def test_to_json_shape() -> None:
    """to_json: decimals as strings, the effective schedule, ISO UTC time."""
    d = decide(btc(ma_dips=MaDipsRule()), hist(DIP_SERIES, DIP_PRICE), AssetState(), NOW)
    doc = d.to_json()
    assert doc["amount_usd"] == "250.00"
    assert doc["multiplier"] == "2.5"
    assert doc["every"] == "week"
    assert doc["as_of"] == "2026-01-06T12:00:00Z"
    assert doc["bank_after_usd"] == "0.00"


# --- rebalancing ---------------------------------------------------------------------------------

TARGETS = {"BTC": D("0.5"), "ETH": D("0.3"), "SOL": D("0.2")}


def test_rebalancing_buys_the_underweight_asset() -> None:
    """BTC 600, ETH 100, SOL 300 (+100 → 1100): only ETH is below target (330): it gets all 100."""
    held = {"BTC": D(600), "ETH": D(100), "SOL": D(300)}
    assert allocate_rebalance(TARGETS, held, ["BTC", "ETH", "SOL"], D(100)) == {
        "BTC": D(0), "ETH": D("100.00"), "SOL": D(0)}


def test_rebalancing_fills_the_most_underweight_first_then_levels() -> None:
    """BTC 400, ETH 100, SOL 500, budget 200: ETH (ratio 333) first, then both to level 875:
    ETH 0.3 × 875 − 100 = 162.50, BTC 0.5 × 875 − 400 = 37.50."""
    held = {"BTC": D(400), "ETH": D(100), "SOL": D(500)}
    assert allocate_rebalance(TARGETS, held, ["BTC", "ETH", "SOL"], D(200)) == {
        "BTC": D("37.50"), "ETH": D("162.50"), "SOL": D(0)}


def test_rebalancing_from_nothing_splits_by_weight() -> None:
    """An empty portfolio splits 100 as 50 / 30 / 20."""
    assert allocate_rebalance(TARGETS, {}, ["BTC", "ETH", "SOL"], D(100)) == {
        "BTC": D("50.00"), "ETH": D("30.00"), "SOL": D("20.00")}


def test_rebalancing_never_overshoots_and_leaves_the_rest_unspent() -> None:
    """Only overweight BTC is due: nothing is bought; assets without a target get nothing."""
    held = {"BTC": D(900), "ETH": D(50), "SOL": D(50)}
    assert allocate_rebalance(TARGETS, held, ["BTC", "DOGE"], D(100)) == {"BTC": D(0), "DOGE": D(0)}


def test_add_rebalance_adds_and_reclamps() -> None:
    """+80 on a 150.00 buy with max 200 → 200.00 (the clamp wins); a skipped decision is unchanged."""
    d = decide(btc(sizing=Sizing(max=D(200), min=D(10)), amount=D(150)), hist([]), AssetState(), NOW)
    more = add_rebalance(d, D(80))
    assert more.amount == D("200.00")
    assert more.reasons[-2:] == ["buy-only rebalancing: +80.00 USDC (below its target weight)",
                                 "230.00 USDC clamped to the asset's max 200.00 USDC"]
    assert more.summary.endswith("; +50.00 USDC for rebalancing → 200.00 USDC")
    skipped = decide(btc(rsi=RsiRule()), hist(RSI_80), AssetState(), NOW)
    assert add_rebalance(skipped, D(80)) is skipped
