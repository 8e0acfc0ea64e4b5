"""Hyperliquid spot rounding rules, in exact decimals. Pure: no I/O, no floats.

The rules (fact sheet §2, [DOC:tick-and-lot-size]):

- **Size** (base-token units) has at most ``szDecimals`` decimals. We always floor, so a buy never
  exceeds its USD budget or the balance.
- **Price** (USDC per base unit) has at most 5 significant figures *and* at most
  ``8 − szDecimals`` decimals — unless it is an integer, which is always valid whatever its number of
  digits (``123456`` is valid, ``12345.6`` is not).
- **Minimum notional**: size × price must be at least 10 USDC (:data:`MIN_NOTIONAL_USDC`).
- **Wire format**: decimal strings without exponent or trailing zeros, at most 8 decimals
  (:func:`to_wire`, identical to the SDK's ``float_to_wire`` wherever that one is defined).

Every function raises :class:`ValueError` on non-finite input, negative sizes, non-positive prices,
or ``sz_decimals`` outside ``0..8``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Context, Decimal, localcontext

__all__ = [
    "MAX_DECIMALS_SPOT",
    "MAX_SIG_FIGS",
    "MIN_NOTIONAL_USDC",
    "RoundedBuy",
    "SkippedBuy",
    "floor_size",
    "is_valid_price",
    "is_valid_size",
    "plan_buy",
    "round_price",
    "to_wire",
]

MIN_NOTIONAL_USDC = Decimal(10)
"""Smallest spot order value the exchange accepts, in USDC (size × limit price)."""
MAX_DECIMALS_SPOT = 8
"""Spot prices may carry at most ``MAX_DECIMALS_SPOT − szDecimals`` decimals."""
MAX_SIG_FIGS = 5
"""Non-integer prices may carry at most this many significant figures."""

# Enough precision that no operation here ever rounds silently (prices and sizes have < 30 digits,
# and the budget division is corrected afterwards anyway).
_EXACT = Context(prec=60)


def _check_sz_decimals(sz_decimals: int) -> None:
    if not 0 <= sz_decimals <= MAX_DECIMALS_SPOT:
        raise ValueError(f"szDecimals must be between 0 and {MAX_DECIMALS_SPOT}, got {sz_decimals}")


def _check_finite(x: Decimal, what: str) -> None:
    if not isinstance(x, Decimal):
        raise TypeError(f"{what} must be a Decimal, got {type(x).__name__}")
    if not x.is_finite():
        raise ValueError(f"{what} must be a finite number, got {x}")


def _decimals(x: Decimal) -> int:
    """Number of decimals ``x`` needs once trailing zeros are dropped (0 for integers)."""
    exponent = x.normalize(_EXACT).as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers only
    return max(0, -exponent)


def _sig_figs(x: Decimal) -> int:
    """Number of significant figures of a non-zero ``x`` once trailing zeros are dropped."""
    return len(x.normalize(_EXACT).as_tuple().digits)


def floor_size(size: Decimal, sz_decimals: int) -> Decimal:
    """Truncate a size (base-token units) to ``sz_decimals`` decimals; never rounds up.

    The result may be zero (a size smaller than one lot). Raises ValueError on a negative size.
    """
    _check_sz_decimals(sz_decimals)
    _check_finite(size, "size")
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    return size.quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_DOWN, context=_EXACT)


def is_valid_size(sz: Decimal, sz_decimals: int) -> bool:
    """True when ``sz`` (base units) is positive and has at most ``sz_decimals`` decimals."""
    _check_sz_decimals(sz_decimals)
    return sz.is_finite() and sz > 0 and _decimals(sz) <= sz_decimals


def is_valid_price(px: Decimal, sz_decimals: int) -> bool:
    """True when ``px`` (USDC) is positive and an integer, or has ≤ 5 significant figures and
    ≤ ``8 − sz_decimals`` decimals."""
    _check_sz_decimals(sz_decimals)
    if not px.is_finite() or px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    return _sig_figs(px) <= MAX_SIG_FIGS and _decimals(px) <= MAX_DECIMALS_SPOT - sz_decimals


def round_price(px: Decimal, sz_decimals: int, *, up: bool = False) -> Decimal:
    """The nearest valid spot price (USDC) at or below ``px`` — or at or above it with ``up=True``.

    Down is the default because a limit price is a cap that must never be exceeded. The result is the
    best valid price in that direction: for ``px ≥ 10 000`` that is the integer part (integers are
    always valid), otherwise ``px`` cut to 5 significant figures and ``8 − sz_decimals`` decimals.
    Examples: UBTC (szDecimals 5) 101850.4 → 101850 down, 101851 up; PURR (0) 0.219765 → 0.21976 down,
    0.21977 up. The result is normalised (no trailing zeros, no exponent for integers).

    Raises ValueError when ``px`` is not positive, or when rounding down would give zero (a price
    below the smallest tick, 10^-(8 − sz_decimals)).
    """
    _check_sz_decimals(sz_decimals)
    _check_finite(px, "price")
    if px <= 0:
        raise ValueError(f"price must be positive, got {px}")
    if is_valid_price(px, sz_decimals):
        return _normal(px)
    # Quantum of the sig-fig/decimals rule: 10^(leading exponent − 4), but never finer than the
    # decimals limit, and never coarser than 1 since an integer is always valid.
    exp = min(max(px.adjusted() - (MAX_SIG_FIGS - 1), -(MAX_DECIMALS_SPOT - sz_decimals)), 0)
    quantum = Decimal(1).scaleb(exp)
    rounded = px.quantize(quantum, rounding=ROUND_CEILING if up else ROUND_FLOOR, context=_EXACT)
    if rounded == 0:
        raise ValueError(
            f"price {px} is below the smallest valid price {quantum} for szDecimals {sz_decimals}"
        )
    return _normal(rounded)


def _normal(x: Decimal) -> Decimal:
    """``x`` without trailing zeros, and written as a plain integer when it is one (1E+2 → 100)."""
    if x == x.to_integral_value():
        return x.quantize(Decimal(1), context=_EXACT)
    return x.normalize(_EXACT)


def to_wire(x: Decimal) -> str:
    """The exchange's wire string for a price or size: plain notation, no trailing zeros, ≤ 8 decimals.

    ``Decimal("12.0")`` → ``"12"``, ``Decimal("1E-8")`` → ``"0.00000001"``, ``Decimal("101850")`` →
    ``"101850"``. Matches the SDK's ``float_to_wire`` for every value a float carries exactly to 8
    decimals; beyond ~1e8 the SDK prints float noise (``124594202.9`` → ``"124594202.90000001"``)
    where this, working in decimals, does not. Negative zero is written ``"0"``.

    Raises ValueError when ``x`` needs more than 8 decimals (the wire would round it) or is not
    finite.
    """
    _check_finite(x, "wire value")
    quantized = x.quantize(Decimal("1E-8"), context=_EXACT)
    if quantized != x:
        raise ValueError(f"{x} has more than 8 decimals; refusing to round it on the wire")
    if quantized == 0:
        return "0"
    return f"{_normal(quantized):f}"


@dataclass(frozen=True)
class RoundedBuy:
    """A buy order that satisfies every exchange rule.

    ``size`` in base units (floored to szDecimals), ``limit_px`` in USDC per unit (valid price),
    ``notional`` = size × limit_px in USDC: at least 10 and at most the budget.
    """

    size: Decimal
    limit_px: Decimal
    notional: Decimal


@dataclass(frozen=True)
class SkippedBuy:
    """A budget that cannot become a valid order; ``reason`` is the user-facing sentence.

    ``size``/``notional`` are what rounding produced (possibly zero), for display.
    """

    reason: str
    size: Decimal
    limit_px: Decimal
    notional: Decimal


def plan_buy(usd: Decimal, limit_px: Decimal, sz_decimals: int) -> RoundedBuy | SkippedBuy:
    """Turn a USD budget and a limit price into an order the exchange will accept, or a skip.

    ``usd`` is the budget in USDC (> 0); ``limit_px`` must already be a valid price (use
    :func:`round_price`, rounding down). The size is ``floor(usd / limit_px)`` at ``sz_decimals``, so
    ``size × limit_px ≤ usd`` always. When that notional is under 10 USDC the result is a
    :class:`SkippedBuy` whose reason reads "under the 10 USDC minimum after rounding (size S × price P
    = N USDC)"; a skip is an expected outcome, not an error, so it is returned rather than raised.

    Raises ValueError when ``usd`` is not positive or ``limit_px`` is not a valid price.
    """
    _check_sz_decimals(sz_decimals)
    _check_finite(usd, "budget")
    _check_finite(limit_px, "limit price")
    if usd <= 0:
        raise ValueError(f"budget must be positive, got {usd} USDC")
    if not is_valid_price(limit_px, sz_decimals):
        raise ValueError(f"limit price {limit_px} is not a valid spot price for szDecimals {sz_decimals}")
    step = Decimal(1).scaleb(-sz_decimals)
    with localcontext(_EXACT):
        size = floor_size(usd / limit_px, sz_decimals)
        # The division is rounded at 60 digits; never let that push the notional over the budget.
        while size > 0 and size * limit_px > usd:
            size -= step
        notional = size * limit_px
    size = _normal(size)
    px = _normal(limit_px)
    if notional < MIN_NOTIONAL_USDC:
        return SkippedBuy(
            reason=(
                f"under the {MIN_NOTIONAL_USDC} USDC minimum after rounding "
                f"(size {to_wire(size)} × price {to_wire(px)} = {_normal(notional):f} USDC)"
            ),
            size=size,
            limit_px=px,
            notional=notional,
        )
    return RoundedBuy(size=size, limit_px=px, notional=notional)

