"""Exact money and time encoding for the ledger's columns. Pure: no I/O.

Every decimal quantity is stored twice: as its exact decimal text (the value of record, what the
exchange sent, never rounded) and as two INTEGER *companions* that SQLite can ``SUM()`` exactly:

- ``hi`` = floor(value × 10^8), the value in units of 10^-8 (Hyperliquid prices and sizes have at most
  8 decimals, so for exchange values ``lo`` is 0 and ``hi`` alone is exact);
- ``lo`` = the next 10 digits, value × 10^18 − hi × 10^10, in [0, 10^10).

So any value with at most 18 decimals is exact in (hi, lo). That covers products such as size × price
(≤ 16 decimals for exchange values) and fees (Hyperliquid fees are rounded to the token's
``weiDecimals`` — at most 18 — but e.g. 0.00035 × size has up to 13). ``SUM(hi)`` fits in SQLite's
64-bit integer up to ±92 billion units/USDC per group; ``SUM(lo)`` up to 9 × 10^8 rows. Values with
more than 18 decimals (a legacy float such as 0.0011626284704459842 × a price) are flagged inexact
and aggregated from their text in Python instead, so every total stays exact.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache

HI_DIGITS = 8
LO_DIGITS = 10
_LO = 10**LO_DIGITS
WIDE = decimal.Context(prec=80, traps=[decimal.InvalidOperation, decimal.Overflow])
"""Enough precision that products and sums of ledger values are exact (default contexts round at 28)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HALF_LO = _LO // 2


def split(value: Decimal) -> tuple[int, int, bool]:
    """``value`` → (hi, lo, exact): the integer companions described above, and whether they are exact."""
    scaled = value.scaleb(HI_DIGITS + LO_DIGITS, context=WIDE)
    whole = scaled.to_integral_value(rounding=ROUND_FLOOR, context=WIDE)
    hi, lo = divmod(int(whole), _LO)
    return hi, lo, whole == scaled


def join(hi: int, lo: int) -> Decimal:
    """Sums of companions → the exact Decimal (hi in 10^-8 units, lo in 10^-18 units), trailing zeros
    stripped (``join(10_000_000_000, 0) == Decimal("100")``)."""
    whole = WIDE.add(WIDE.multiply(Decimal(hi), Decimal(_LO)), Decimal(lo))
    return plain(whole.scaleb(-(HI_DIGITS + LO_DIGITS), context=WIDE))


def plain(value: Decimal) -> Decimal:
    """``value`` without trailing fractional zeros and never in exponent form (``1E+2`` → ``100``)."""
    norm = value.normalize(WIDE)
    return norm.quantize(Decimal(1), context=WIDE) if norm.as_tuple().exponent > 0 else norm  # type: ignore[operator]


def mul(a: Decimal, b: Decimal) -> Decimal:
    """Exact product of two ledger decimals (the default context would round past 28 digits)."""
    return WIDE.multiply(a, b)


def add(a: Decimal, b: Decimal) -> Decimal:
    """Exact sum of two ledger decimals."""
    return WIDE.add(a, b)


def to_us(t: datetime) -> int:
    """UTC-aware datetime → integer microseconds since the Unix epoch. Raises ValueError on naive input."""
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    delta = t - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """Integer microseconds since the epoch → UTC-aware datetime (exact, no float on the way)."""
    return _EPOCH + timedelta(microseconds=us)


def text(value: Decimal) -> str:
    """The stored text of a decimal: plain notation with every digit the caller gave (``"100.0"``
    stays, ``7E-7`` becomes ``"0.0000007"``), so exports never show exponents."""
    return format(value, "f")


def money_text(hi: int, lo: int) -> str:
    """Exact companions (hi, lo) → their value rounded half-even to 8 decimals (USDC's precision), as
    plain text without trailing zeros: what ``reports.stats.money`` writes for the same value
    (``money_text(1, 5_000_000_000) == "0.00000002"``, ``money_text(10_000_000_000, 0) == "100"``),
    by integer arithmetic alone (an export writes a million of these). Only for exact companions
    (``approx = 0``) of a value ≥ 0; a negative one would lose ``-0``'s sign, so callers format those
    through Decimal."""
    if lo >= _HALF_LO and (lo > _HALF_LO or hi & 1):  # hi + lo / 10^10, half-even
        hi += 1
    digits = str(hi)  # the value in units of 10^-8
    if len(digits) > HI_DIGITS:
        whole, fraction = digits[:-HI_DIGITS], digits[-HI_DIGITS:].rstrip("0")
    else:
        whole, fraction = "0", digits.zfill(HI_DIGITS).rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def iso_text(us: int) -> str:
    """Integer microseconds since the epoch → ISO-8601 UTC text with a ``Z``, at millisecond precision
    when there is any sub-second part (truncated, never rounded up), else whole seconds: what
    ``models.iso_utc(from_us(us))`` writes, without building a datetime per value."""
    seconds, micro = divmod(us, 1_000_000)
    minute, second = divmod(seconds, 60)
    if micro:
        return _minute_text(minute) + _SECONDS[second] + _MILLIS[micro // 1000]
    return _minute_text(minute) + _SECONDS[second] + "Z"


_SECONDS = [f"{s:02d}" for s in range(60)]
_MILLIS = [f".{ms:03d}Z" for ms in range(1000)]
"""A time's ending by its milliseconds (a table: formatting ``:03d`` per value costs more than the rest)."""


@lru_cache(maxsize=4096)
def _minute_text(minute: int) -> str:
    """Minutes since the epoch → ``YYYY-MM-DDTHH:MM:`` (fills come in runs of the same minute or so: a
    small cache, so memory stays flat)."""
    return (_EPOCH + timedelta(minutes=minute)).isoformat(timespec="minutes")[:16] + ":"
