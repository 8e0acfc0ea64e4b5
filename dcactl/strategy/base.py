"""The base amount of a buy: a fixed ``amount`` or volatility sizing. Pure, no I/O.

Volatility sizing (PRODUCT.md, ``[assets.X.sizing] kind = "volatility"``) is the base amount that
the smart-DCA rules (:mod:`dcactl.strategy.rules`) multiply. Also the small formatting helpers the
rules share (cents, percentages, float → Decimal for comparisons).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dcactl.strategy.indicators import annualised_volatility

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig

__all__ = ["CENT", "SizedAmount", "base_amount", "cents", "exact", "volatility_amount"]

CENT = Decimal("0.01")
"""Amounts are rounded to cents of USDC, half to even (as Python's ``round`` does)."""


@dataclass(frozen=True)
class SizedAmount:
    """A USDC amount (rounded to cents) and the one-sentence reason it was chosen."""

    amount: Decimal
    reason: str


def cents(x: Decimal) -> Decimal:
    """``x`` USDC rounded to cents, half to even."""
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _pct(x: Decimal) -> str:
    """``60``, ``60.5``: a percentage without trailing zeros or exponent."""
    return f"{x.normalize():f}"


def exact(x: float) -> Decimal:
    """A float statistic as a Decimal for comparing with configured thresholds: ten decimals, which
    drops representation noise (9.999999999999998 % compares as 10 %)."""
    return Decimal(str(round(x, 10)))


def volatility_amount(
    vol_pct: float | None,
    min_usd: Decimal,
    max_usd: Decimal,
    low_vol: Decimal,
    high_vol: Decimal,
) -> SizedAmount:
    """The USDC amount of one buy under volatility sizing.

    ``vol_pct`` is annualised volatility in percent
    (:func:`dcactl.strategy.indicators.annualised_volatility`);
    ``min_usd``/``max_usd`` in USDC; ``low_vol``/``high_vol`` in percent. The amount is ``max_usd``
    when vol ≤ low, ``min_usd`` when vol ≥ high, and linear between::

        max − (vol − low) / (high − low) × (max − min)

    computed in Decimal and rounded to cents, half to even (``min``/``max`` are expected in whole
    cents, as the config requires, so the result never leaves ``[min, max]``). The float ``vol_pct`` enters as
    ``Decimal(str(round(vol_pct, 10)))``: ten decimals of a percentage are far below a cent of any
    amount and drop the float's representation noise, so 60.000000000000014 sizes as 60.

    When the volatility is unknown (``None`` or NaN: not enough history), the amount is the midpoint
    ``(min + max) / 2``: a new or thinly traded asset gets neither the full boost of calm markets nor
    the cut of wild ones, and the reason says so.

    Raises ValueError when ``min_usd > max_usd``, ``min_usd < 0`` or ``low_vol >= high_vol``.
    """
    if min_usd < 0 or min_usd > max_usd:
        raise ValueError(f"need 0 <= min <= max, got min {min_usd} and max {max_usd} USDC")
    if low_vol >= high_vol:
        raise ValueError(f"need low_vol < high_vol, got {low_vol} % and {high_vol} %")
    lo, hi = cents(min_usd), cents(max_usd)
    if vol_pct is None or not math.isfinite(vol_pct):
        amount = cents((min_usd + max_usd) / 2)
        return SizedAmount(
            amount,
            f"volatility unknown (not enough price history) → midpoint of min {lo} and max {hi}: "
            f"{amount} USDC",
        )
    vol = Decimal(str(round(vol_pct, 10)))
    shown = _pct(vol.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))
    if vol <= low_vol:
        return SizedAmount(hi, f"volatility {shown} % ≤ low {_pct(low_vol)} % → max {hi} USDC")
    if vol >= high_vol:
        return SizedAmount(lo, f"volatility {shown} % ≥ high {_pct(high_vol)} % → min {lo} USDC")
    amount = cents(max_usd - (vol - low_vol) / (high_vol - low_vol) * (max_usd - min_usd))
    return SizedAmount(
        amount,
        f"volatility {shown} % between low {_pct(low_vol)} % and high {_pct(high_vol)} % "
        f"→ {amount} USDC (linear from max {hi} to min {lo})",
    )


def base_amount(asset: AssetConfig, closes: Sequence[float] | npt.NDArray[np.float64]) -> SizedAmount:
    """The USDC base amount of one buy of ``asset`` (before rules): ``amount`` for fixed sizing, or
    :func:`volatility_amount` over the last ``sizing.window_days`` completed daily ``closes``."""
    sizing = asset.sizing
    if sizing.kind != "volatility" or sizing.min is None or sizing.max is None:
        return SizedAmount(asset.amount, f"fixed amount {asset.amount} USDC")
    vol = annualised_volatility(closes, sizing.window_days)
    sized = volatility_amount(vol, sizing.min, sizing.max, sizing.low_vol, sizing.high_vol)
    if vol is None:
        have, need = len(closes), sizing.window_days + 1
        counted = (f"not enough history (have {have} of {need} days)" if have < need
                   else "a zero or missing close in the window")
        return SizedAmount(sized.amount, sized.reason.replace("not enough price history", counted))
    return sized
