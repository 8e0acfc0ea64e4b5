"""A synthetic order book around the mid whose levels are consumed by takers and refill over time.

Each side has LEVELS levels. Ask i sits at mid × (1 + SPREAD + i × STEP) rounded up to a valid
price (bids mirrored, rounded down), at least one tick apart; its size is
depth_usd × (1 + i/2) / mid base units, floored to szDecimals. A taker consumes levels; consumed
size comes back at REFILL_PER_S of the level's size per second (a level taken whole is full again
after 10 s). The book moves with the mid; consumption is tracked per (side, level number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from dcactl.devnet.validation import round_px

__all__ = ["LEVELS", "REFILL_PER_S", "Book", "Level"]

LEVELS = 10
SPREAD = Decimal("0.0003")  # 3 bps from mid to the best level
STEP = Decimal("0.0005")  # 5 bps between levels
REFILL_PER_S = Decimal("0.1")


@dataclass(frozen=True)
class Level:
    """One price level: price (quote per base), size available (base units), number of orders."""

    px: Decimal
    sz: Decimal
    n: int


@dataclass
class Book:
    """Consumption state of one pair's synthetic book; levels are computed from the mid on demand."""

    sz_decimals: int
    depth_usd: Decimal
    consumed: dict[tuple[str, int], tuple[Decimal, int]] = field(default_factory=dict)

    def _full_size(self, i: int, mid: Decimal) -> Decimal:
        raw = self.depth_usd * (1 + Decimal(i) / 2) / mid
        return raw.quantize(Decimal(1).scaleb(-self.sz_decimals), rounding=ROUND_FLOOR)

    def _taken(self, side: str, i: int, full: Decimal, now_ms: int) -> Decimal:
        got = self.consumed.get((side, i))
        if got is None:
            return Decimal(0)
        amount, at = got
        left = amount - full * REFILL_PER_S * Decimal(max(0, now_ms - at)) / 1000
        if left <= 0:
            del self.consumed[(side, i)]
            return Decimal(0)
        return left

    def _prices(self, side: str, mid: Decimal) -> list[Decimal]:
        """Level prices by level number, best first, strictly one tick or more apart."""
        out: list[Decimal] = []
        up = side == "asks"
        for i in range(LEVELS):
            off = SPREAD + STEP * i
            px = round_px(mid * (1 + off) if up else mid * (1 - off), self.sz_decimals, up)
            if out and (px <= out[-1] if up else px >= out[-1]):
                prev = out[-1]
                tick = round_px(prev * Decimal("1.00001"), self.sz_decimals, True) - prev
                px = prev + tick if up else round_px(prev - tick, self.sz_decimals, False)
            if px <= 0:
                break
            out.append(px)
        return out

    def numbered(self, side: str, mid: Decimal, now_ms: int) -> list[tuple[int, Level]]:
        """(level number, level) for the non-empty levels of `side` ("asks"/"bids"), best first."""
        out: list[tuple[int, Level]] = []
        for i, px in enumerate(self._prices(side, mid)):
            full = self._full_size(i, mid)
            left = (full - self._taken(side, i, full, now_ms)).quantize(
                Decimal(1).scaleb(-self.sz_decimals), rounding=ROUND_FLOOR
            )
            if left > 0:
                out.append((i, Level(px, left, 1 + i % 3)))
        return out

    def levels(self, side: str, mid: Decimal, now_ms: int) -> list[Level]:
        """The non-empty levels of `side`, best first, with what is left of each."""
        return [lv for _i, lv in self.numbered(side, mid, now_ms)]

    def take(
        self, side: str, mid: Decimal, now_ms: int, limit: Decimal, size: Decimal
    ) -> list[tuple[Decimal, Decimal]]:
        """Consume up to `size` base units at prices no worse than `limit`; returns (px, sz) fills."""
        fills: list[tuple[Decimal, Decimal]] = []
        remaining = size
        up = side == "asks"
        for level_no, level in self.numbered(side, mid, now_ms):
            if remaining <= 0 or (level.px > limit if up else level.px < limit):
                break
            q = min(remaining, level.sz)
            full = self._full_size(level_no, mid)
            self.consumed[(side, level_no)] = (self._taken(side, level_no, full, now_ms) + q, now_ms)
            fills.append((level.px, q))
            remaining -= q
        return fills
