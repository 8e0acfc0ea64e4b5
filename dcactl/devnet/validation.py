"""The exchange's own price/size rules (independent of dcactl's rounding on purpose)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

__all__ = ["parse_decimal", "round_px", "valid_px", "valid_sz"]

MAX_DECIMALS_SPOT = 8
SIG_FIGS = 5


def parse_decimal(text: object) -> Decimal | None:
    """A finite Decimal from a wire string, or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -int(exp))


def valid_px(px: Decimal, sz_decimals: int) -> bool:
    """Price rule: integers always; else ≤ 5 significant figures and ≤ 8 − szDecimals decimals."""
    if px == px.to_integral_value():
        return True
    n = px.normalize()
    sig = len(n.as_tuple().digits)
    return sig <= SIG_FIGS and _decimals(n) <= MAX_DECIMALS_SPOT - sz_decimals


def valid_sz(sz: Decimal, sz_decimals: int) -> bool:
    """Size rule: positive, at most szDecimals decimals."""
    return sz > 0 and _decimals(sz) <= sz_decimals


def round_px(x: Decimal, sz_decimals: int, up: bool) -> Decimal:
    """The nearest valid price at or above (up) / at or below `x`."""
    if x <= 0:
        return Decimal(0)
    mode = ROUND_CEILING if up else ROUND_FLOOR
    if x >= Decimal(10) ** SIG_FIGS:
        return x.to_integral_value(rounding=mode)
    exp = x.adjusted() - (SIG_FIGS - 1)
    exp = max(exp, -(MAX_DECIMALS_SPOT - sz_decimals))
    return x.quantize(Decimal(1).scaleb(exp), rounding=mode).normalize()
