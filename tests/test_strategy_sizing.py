"""Volatility sizing: the PRODUCT.md formula on worked examples and edge cases."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcactl.strategy import SizedAmount, volatility_amount
from dcactl.strategy.indicators import annualised_volatility

MIN, MAX, LOW, HIGH = D(50), D(200), D(35), D(85)


def closes_with_vol(vol_pct: float, window: int) -> list[float]:
    """Closes whose last `window` daily returns alternate +r, −r with sample vol exactly vol_pct.

    With an even window the mean return is 0 and the sample sd is r·√(n/(n−1)), so
    r = vol/100 / √365 / √(n/(n−1)).
    """
    r = vol_pct / 100 / math.sqrt(365) / math.sqrt(window / (window - 1))
    closes = [100.0]
    for i in range(window):
        closes.append(closes[-1] * (1 + r if i % 2 == 0 else 1 - r))
    return closes


def test_worked_example_from_closes() -> None:
    """Closes with vol 60 %, min 50 max 200 low 35 high 85: 200 − (60−35)/(85−35) × 150 = 125.00."""
    closes = closes_with_vol(60.0, 30)
    vol = annualised_volatility(closes, 30)
    assert vol == pytest.approx(60.0, rel=1e-9)
    sized = volatility_amount(vol, MIN, MAX, LOW, HIGH)
    assert sized.amount == D("125.00")
    assert str(sized.amount) == "125.00"
    assert sized.reason == (
        "volatility 60 % between low 35 % and high 85 % → 125.00 USDC (linear from max 200.00 to min 50.00)"
    )


@pytest.mark.parametrize(
    ("vol", "amount"),
    [
        (0.0, D("200.00")),
        (35.0, D("200.00")),  # at low: max
        (35.0000000000001, D("200.00")),  # float noise above low is dropped (10 decimals)
        (40.0, D("185.00")),  # 200 − 5/50 × 150
        (47.3, D("163.10")),  # 200 − 12.3/50 × 150 = 200 − 36.9
        (84.99, D("50.03")),  # 200 − 49.99/50 × 150 = 50.03
        (85.0, D("50.00")),  # at high: min
        (250.0, D("50.00")),
    ],
)
def test_linear_between_thresholds(vol: float, amount: D) -> None:
    """Max at/below low, min at/above high, linear between (hand-computed)."""
    assert volatility_amount(vol, MIN, MAX, LOW, HIGH).amount == amount


def test_rounding_to_cents_half_even() -> None:
    """Amounts are rounded to cents half to even: 100.125 → 100.12, 100.135 → 100.14."""
    # min 100 max 100.25, low 0 high 100: vol 50 → 100.25 − 0.125 = 100.125 → 100.12
    assert volatility_amount(50.0, D(100), D("100.25"), D(0), D(100)).amount == D("100.12")
    # max 100.27: vol 50 → 100.27 − 0.135 = 100.135 → 100.14
    assert volatility_amount(50.0, D(100), D("100.27"), D(0), D(100)).amount == D("100.14")


def test_reasons_at_the_extremes() -> None:
    """Each branch explains itself in one sentence."""
    assert volatility_amount(20.04, MIN, MAX, LOW, HIGH).reason == (
        "volatility 20 % ≤ low 35 % → max 200.00 USDC"
    )
    assert volatility_amount(92.25, MIN, MAX, LOW, HIGH).reason == (
        "volatility 92.2 % ≥ high 85 % → min 50.00 USDC"
    )


@pytest.mark.parametrize("vol", [None, math.nan])
def test_unknown_volatility_buys_the_midpoint(vol: float | None) -> None:
    """Not enough history: (min + max) / 2, with a reason that says why."""
    sized = volatility_amount(vol, MIN, MAX, LOW, HIGH)
    assert sized == SizedAmount(
        D("125.00"),
        "volatility unknown (not enough price history) → midpoint of min 50.00 and max 200.00: 125.00 USDC",
    )
    assert volatility_amount(None, D(50), D("50.05"), LOW, HIGH).amount == D("50.02")  # 50.025 half-even


def test_short_history_gives_unknown() -> None:
    """30 closes for a 30-day window are one short: the sizing falls back to the midpoint."""
    closes = closes_with_vol(60.0, 30)[1:]
    assert volatility_amount(annualised_volatility(closes, 30), MIN, MAX, LOW, HIGH).amount == D("125.00")


def test_min_equals_max_and_invalid_config() -> None:
    """min = max is a fixed amount; inverted bounds or thresholds raise ValueError."""
    assert volatility_amount(60.0, D(80), D(80), LOW, HIGH).amount == D("80.00")
    with pytest.raises(ValueError, match="min"):
        volatility_amount(60.0, D(200), D(50), LOW, HIGH)
    with pytest.raises(ValueError, match="low_vol < high_vol"):
        volatility_amount(60.0, MIN, MAX, D(85), D(85))


@given(
    vol=st.one_of(st.none(), st.floats(min_value=0, max_value=1000, allow_nan=False)),
    lo=st.decimals(min_value=0, max_value=1000, places=2),
    span=st.decimals(min_value=0, max_value=1000, places=2),
    low=st.decimals(min_value=0, max_value=200, places=1),
    width=st.decimals(min_value=D("0.1"), max_value=200, places=1),
)
def test_amount_stays_within_bounds_and_is_monotone(
    vol: float | None, lo: D, span: D, low: D, width: D
) -> None:
    """The amount is in [min, max], in cents, and never grows when volatility grows."""
    hi = lo + span
    sized = volatility_amount(vol, lo, hi, low, low + width)
    assert lo <= sized.amount <= hi
    assert sized.amount == sized.amount.quantize(D("0.01"))
    if vol is not None:
        assert volatility_amount(vol + 1.0, lo, hi, low, low + width).amount <= sized.amount
