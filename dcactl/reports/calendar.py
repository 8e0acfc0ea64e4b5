"""``dcactl plan --until DATE``: the buys the schedules will make from now until a date, and what they
spend per day against the caps and the balance. Pure: config, the last buys, what the rules pick now,
the banked balances and the clock in; a calendar out.

**Schedule.** An asset with dynamic frequency is scheduled on the schedule its rule picks *now* (the
shell reads its closes: :func:`dcactl.strategy.effective_schedule`, as ``run`` does), kept for the
whole calendar, and its per-buy amounts scale by ``nominal_days(picked) / nominal_days(configured)``
as ``run`` scales them; each of its buys says which schedule it is on. Later changes of volatility
are not foreseen.

**Amounts.** Each buy is the range :func:`dcactl.strategy.decide` can give: the base (``amount``, or
the volatility sizing's ``min`` to ``max``) × the scale, in cents; × the least and the most product
of the rule multipliers (an RSI rule that may skip: 0; ``trim_factor`` and ``oversold_factor``; an MA
dip's tier multipliers, or 1); clamped to ``sizing.min``/``max`` × the scale. With banking, a
qualifying dip (an MA dip, RSI oversold) adds bank money, at most ``max_spend_multiple`` × the base:
on an asset's next buy up to what is banked now (that buy says so); on its later buys up to that
limit only when its rules can bank again meanwhile (an RSI skip or trim) — otherwise what is banked
now is spent once, and counted on the next buy. A buy whose least and most agree is exact. The caps
are checked per day (:func:`spend_by_day`); buy-only rebalancing (``[portfolio]``) is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from dcactl.schedule.periods import LastBuy, Schedule, is_due, period_of

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig

ZERO, ONE = Decimal(0), Decimal(1)
CENT = Decimal("0.01")


def _cents(x: Decimal) -> Decimal:
    """USDC rounded to cents, half to even (as the strategy rounds amounts)."""
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class ComingBuy:
    """One scheduled buy: when (UTC; ``now`` for a buy due at once), its USDC range, the schedule it
    is on (``every``, canonical text) and what the reader should know about it (``notes``)."""

    at: datetime
    asset: str
    low: Decimal
    high: Decimal
    every: str
    notes: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """The amount is known exactly (a fixed amount that no rule and no bank can change)."""
        return self.low == self.high


@dataclass(frozen=True)
class AmountRange:
    """What one buy of an asset may spend (USDC): at least ``low``; at most ``top`` (the base × the
    largest multiplier product, before the clamp) plus bank money, then clamped to ``max_usd`` (and
    raised to ``min_usd``). ``spend_limit``: the most bank money one buy may add (0: banking off, or
    no rule that makes a qualifying dip); ``refills``: the rules can bank again (an RSI skip or trim
    with banking on); ``bank_cap``: the most the bank holds."""

    low: Decimal
    top: Decimal
    spend_limit: Decimal = ZERO
    refills: bool = False
    bank_cap: Decimal = ZERO
    min_usd: Decimal | None = None
    max_usd: Decimal | None = None

    def high(self, bank: Decimal = ZERO) -> Decimal:
        """The most one buy spends with ``bank`` USDC available to it from the bank."""
        x = self.top + min(max(bank, ZERO), self.spend_limit)
        if self.max_usd is not None:
            x = min(x, self.max_usd)
        if self.min_usd is not None:
            x = max(x, self.min_usd)
        return max(x, self.low)


def amount_range(asset: AssetConfig, scale: Decimal = ONE) -> AmountRange:
    """The range of one buy of ``asset`` under its rules (module docstring), its per-buy amounts
    scaled by ``scale`` (dynamic frequency: the picked period's nominal days / the configured one's)."""
    sizing = asset.sizing
    volatile = sizing.kind == "volatility" and sizing.min is not None and sizing.max is not None
    base_low = _cents((sizing.min if volatile and sizing.min is not None else asset.amount) * scale)
    base_high = _cents((sizing.max if volatile and sizing.max is not None else asset.amount) * scale)
    rsi = asset.rsi if asset.rsi is not None and asset.rsi.enabled else None
    dips = asset.ma_dips if asset.ma_dips is not None and asset.ma_dips.enabled else None
    rsi_factors = {ONE} if rsi is None else {ONE, rsi.oversold_factor} | (
        {rsi.trim_factor} if rsi.overbought_action == "trim" else set())
    dip_factors = {ONE} if dips is None else {ONE, *dips.multipliers}
    min_usd = None if sizing.min is None else _cents(sizing.min * scale)
    max_usd = None if sizing.max is None else _cents(sizing.max * scale)
    if rsi is not None and rsi.overbought_action == "skip":
        low = ZERO  # a skip stays 0: the clamp never raises it
    else:
        low = _cents(base_low * min(rsi_factors) * min(dip_factors))
        low = min(low, max_usd) if max_usd is not None else low
        low = max(low, min_usd) if min_usd is not None else low
    top = _cents(base_high * max(rsi_factors) * max(dip_factors))
    banking = asset.banking if asset.banking is not None and asset.banking.enabled else None
    if banking is None or (rsi is None and dips is None):
        return AmountRange(low, top, min_usd=min_usd, max_usd=max_usd)
    from dcactl.strategy.decide import BANK_CAP_MULTIPLE

    configured = banking.max_bank_usd
    cap = _cents(configured if configured is not None else BANK_CAP_MULTIPLE * asset.amount)
    limit = min(_cents(banking.max_spend_multiple * base_high), cap)
    return AmountRange(low, top, limit, refills=rsi is not None, bank_cap=cap, min_usd=min_usd,
                       max_usd=max_usd)


def frequency_note(asset: AssetConfig, schedule: Schedule | None) -> str | None:
    """What a buy of ``asset`` says about its schedule: the one dynamic frequency picks now (None: it
    could not be read), or nothing when the asset has no dynamic frequency."""
    rule = asset.dynamic_frequency
    if rule is None or not rule.enabled:
        return None
    configured = asset.schedule
    if schedule is None:
        return f"dynamic frequency not read: every {configured.noun} as configured"
    if schedule == configured:
        return f"dynamic frequency: every {configured.noun} now, as configured"
    return f"dynamic frequency: every {schedule.noun} now (configured: every {configured.noun})"


def coming_buys(
    assets: Sequence[AssetConfig], tz: str, now: datetime, until: datetime,
    last_buys: Mapping[str, LastBuy | None], picked: Mapping[str, Schedule] | None = None,
    banks: Mapping[str, Decimal] | None = None,
) -> list[ComingBuy]:
    """Every buy of the enabled ``assets`` from ``now`` until ``until`` (exclusive), oldest first: one
    at once when due now, then one at the start of each later period.

    ``picked``: the schedule dynamic frequency picks now, by symbol (assets with the rule; missing:
    not read, the configured one is used); ``banks``: the USDC banked now, by symbol."""
    out: list[ComingBuy] = []
    for asset in assets:
        if not asset.enabled:
            continue
        chosen = (picked or {}).get(asset.symbol)
        schedule = chosen or asset.schedule
        scale = ONE
        if schedule != asset.schedule:
            from dcactl.strategy.rules import nominal_days

            scale = nominal_days(schedule) / nominal_days(asset.schedule)
        amounts = amount_range(asset, scale)
        note = frequency_note(asset, chosen)
        bank = min(max((banks or {}).get(asset.symbol, ZERO), ZERO), amounts.bank_cap)
        at = is_due(schedule, tz, now, last_buys.get(asset.symbol)).next_due
        first = True
        while at < until:
            notes = [note] if note else []
            if first:
                spend = min(bank, amounts.spend_limit)
                if spend > 0:
                    notes.append(f"+ up to {spend} USDC from the bank ({bank} banked) on a dip")
            else:
                spend = amounts.spend_limit if amounts.refills else ZERO
            high = amounts.high(spend)
            out.append(ComingBuy(at, asset.symbol, amounts.low, high, schedule.text, tuple(notes)))
            at = period_of(schedule, max(at, now), tz).end
            first = False
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
