"""``dcactl plan --until DATE``: the buys the schedules will make from now until a date, and what they
spend per day against the caps and the balance. Pure: config, the last buys and the clock in, a
calendar out.

Amounts: a fixed amount with no rule is exact; otherwise each buy is its base (``amount``, or the
volatility sizing's bounds) and the range the rules allow: 0 when an RSI rule may skip, the trim
factor when it trims; the deepest MA-dip multiplier, RSI's oversold factor and banking's
``max_spend_multiple`` on top; clamped to ``sizing.max``. The bank's balance, the caps (checked per
day below) and dynamic frequency (the configured schedule is used) are not modelled per buy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from dcactl.schedule.periods import LastBuy, is_due, period_of

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig

ZERO = Decimal(0)


@dataclass(frozen=True)
class ComingBuy:
    """One scheduled buy: when (UTC; ``now`` for a buy due at once), and its USDC range."""

    at: datetime
    asset: str
    low: Decimal
    high: Decimal
    exact: bool
    """The amount is known exactly: a fixed amount and no rule."""


def amount_range(asset: AssetConfig) -> tuple[Decimal, Decimal, bool]:
    """(least, most) USDC one buy of ``asset`` may spend under its rules (module docstring), and
    whether that is exact (a fixed amount, no rule)."""
    sizing = asset.sizing
    volatile = sizing.kind == "volatility"
    low = sizing.min if volatile and sizing.min is not None else asset.amount
    high = sizing.max if volatile and sizing.max is not None else asset.amount
    boost = Decimal(1)
    if asset.rsi is not None and asset.rsi.enabled:
        low = ZERO if asset.rsi.overbought_action == "skip" else low * min(asset.rsi.trim_factor, Decimal(1))
        boost = max(boost, asset.rsi.oversold_factor)
    if asset.ma_dips is not None and asset.ma_dips.enabled:
        boost = max(boost, *asset.ma_dips.multipliers)
    high *= boost
    if asset.banking is not None and asset.banking.enabled:
        high += asset.amount * asset.banking.max_spend_multiple
    if volatile and sizing.max is not None:
        high = min(high, sizing.max)
    ruled = any(r is not None and r.enabled for r in (asset.rsi, asset.ma_dips, asset.banking))
    exact = not volatile and not ruled
    return low.quantize(Decimal("0.01")), max(high, low).quantize(Decimal("0.01")), exact


def coming_buys(
    assets: Sequence[AssetConfig], tz: str, now: datetime, until: datetime,
    last_buys: Mapping[str, LastBuy | None],
) -> list[ComingBuy]:
    """Every buy of the enabled ``assets`` from ``now`` until ``until`` (exclusive), oldest first: one
    at once when due now, then one at the start of each later period."""
    out: list[ComingBuy] = []
    for asset in assets:
        if not asset.enabled:
            continue
        low, high, exact = amount_range(asset)
        check = is_due(asset.schedule, tz, now, last_buys.get(asset.symbol))
        at = check.next_due
        while at < until:
            out.append(ComingBuy(at, asset.symbol, low, high, exact))
            at = period_of(asset.schedule, max(at, now), tz).end
    return sorted(out, key=lambda b: (b.at, b.asset))


@dataclass(frozen=True)
class DaySpend:
    """What one day (in the portfolio's zone) spends: ``low``..``high`` USDC; ``cumulative_high`` from
    now to its end; ``over_cap``: its high is above ``max_usd_per_day`` (the later buys are skipped)."""

    day: str
    low: Decimal
    high: Decimal
    cumulative_high: Decimal
    over_cap: bool


def spend_by_day(buys: Sequence[ComingBuy], tz: str, cap: Decimal | None) -> list[DaySpend]:
    """The buys summed per day of ``tz``, oldest first."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    days: dict[str, tuple[Decimal, Decimal]] = {}
    for b in buys:
        key = b.at.astimezone(zone).date().isoformat()
        low, high = days.get(key, (ZERO, ZERO))
        days[key] = (low + b.low, high + b.high)
    out, total = [], ZERO
    for key in sorted(days):
        low, high = days[key]
        total += high
        out.append(DaySpend(key, low, high, total, cap is not None and high > cap))
    return out
