"""``plan --until``: the shell around the pure calendar (:mod:`dcactl.reports.calendar`). It gathers
what the calendar needs — each asset's last buy, the schedule dynamic frequency picks now (from the
cached daily closes, refreshed when a completed day is missing, as ``run`` refreshes them), what
each banking asset has banked, and (live) the spot USDC balance — and returns the ``--json`` document.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.errors import DcactlError, UsageError
from dcactl.models import Market, iso_utc, utcnow

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig
    from dcactl.schedule.periods import Schedule
    from dcactl.session import Session


async def calendar_report(
    session: Session, until: datetime, asset: str | None = None, *, what: str = "--until"
) -> dict[str, Any]:
    """The coming buys of every configured asset (or ``asset``) until ``until`` (aware), the spend per
    day against ``max_usd_per_day`` and (live) the balance. Raises UsageError (naming ``what``) when
    ``until`` is not after now, or for an unknown asset."""
    from dcactl.reports.calendar import coming_buys, spend_by_day
    from dcactl.run.core import last_buy_of

    settings = session.config.settings
    now = utcnow()
    if until <= now:
        raise UsageError(f"{what}: must be after now ({iso_utc(now)})")
    assets = [session.config.asset(asset)] if asset else list(session.config.assets)
    enabled = [a for a in assets if a.enabled]
    lasts = {a.symbol: last_buy_of(session.ledger, a) for a in enabled}
    picked = await picked_schedules(session, [a for a in enabled if _dynamic(a)], now)
    tz = settings.timezone
    banks = {a.symbol: session.ledger.bank(a.symbol, before_period=_period_now(a, picked, now, tz))
             for a in enabled if a.banking is not None and a.banking.enabled}
    buys = coming_buys(assets, tz, now, until, lasts, picked, banks)
    days = spend_by_day(buys, tz, settings.max_usd_per_day)
    balance = await _balance(session) if session.live else None
    short = next((d.day for d in days if balance is not None and d.cumulative_high > balance), None)
    return {
        "as_of": iso_utc(now), "until": iso_utc(until), "timezone": settings.timezone,
        "buys": [{"at": iso_utc(b.at), "asset": b.asset, "usd_min": str(b.low), "usd_max": str(b.high),
                  "exact": b.exact, "every": b.every, "notes": list(b.notes)} for b in buys],
        "days": [{"day": d.day, "usd_min": str(d.low), "usd_max": str(d.high),
                  "cumulative_max": str(d.cumulative_high), "over_day_cap": d.over_cap} for d in days],
        "max_usd_per_day": None if settings.max_usd_per_day is None else str(settings.max_usd_per_day),
        "balance_usdc": None if balance is None else str(balance),
        "short_from": short,
    }


def _dynamic(asset: AssetConfig) -> bool:
    return asset.dynamic_frequency is not None and asset.dynamic_frequency.enabled


def _period_now(asset: AssetConfig, picked: dict[str, Schedule], now: datetime, tz: str) -> str:
    """The id of the period ``asset`` is in now: a decision already made for it is not counted twice
    (as ``run`` reads the bank)."""
    from dcactl.schedule.periods import period_of

    return period_of(picked.get(asset.symbol, asset.schedule), now, tz).id


async def picked_schedules(
    session: Session, assets: list[AssetConfig], now: datetime
) -> dict[str, Schedule]:
    """The schedule dynamic frequency picks now for each of ``assets``, from their completed daily
    closes (the ledger's cache, refreshed when a completed day is missing). An asset whose market
    or history cannot be read (a warning), or whose history is shorter than its window, is left out:
    the calendar then says its dynamic frequency was not read."""
    if not assets:
        return {}
    from dcactl.market import candles
    from dcactl.reports.views import resolved_markets
    from dcactl.strategy import PriceHistory, effective_schedule

    try:
        resolved = await resolved_markets(session, [a.symbol for a in assets])
    except DcactlError as exc:
        session.warn(f"dynamic frequency not read ({exc}): the configured schedules are used")
        return {}
    wanted: list[tuple[AssetConfig, candles.Refresh]] = []
    for a in assets:
        market = resolved.get(a.symbol)
        if not isinstance(market, Market):
            session.warn(f"{a.symbol}: dynamic frequency not read ({market}): every {a.schedule.noun} "
                         "as configured")
            continue
        count = a.dynamic_frequency.window_days + 1 if a.dynamic_frequency is not None else 1
        wanted.append((a, candles.plan_refresh(session.ledger, market, "1d", count, now)))

    async def refresh(r: candles.Refresh) -> BaseException | None:
        try:
            await candles.fetch(session.hl, session.cg, session.ledger, r)
        except DcactlError as exc:
            return exc
        return None

    failures = await asyncio.gather(*(refresh(r) for _, r in wanted if r.needed))
    failed = dict(zip([a.symbol for a, r in wanted if r.needed], failures, strict=True))
    out: dict[str, Schedule] = {}
    for a, r in wanted:
        if failed.get(a.symbol) is not None:
            session.warn(f"{a.symbol}: price history unavailable ({failed[a.symbol]}); dynamic frequency "
                         "read from the cached closes")
        closes = candles.cached_closes(session.ledger, r)
        if len(closes) >= r.count:  # else its volatility is unknown: the calendar says "not read"
            out[a.symbol] = effective_schedule(a, PriceHistory.of(closes))
    return out


async def _balance(session: Session) -> Decimal | None:
    """The spot USDC available (live), None with a warning when it cannot be read."""
    try:
        usdc = (await session.hl.spot_balances(session.account)).get("USDC")
    except DcactlError as exc:
        session.warn(f"cannot read the USDC balance ({exc}); the spend is not checked against it")
        return None
    return usdc.available if usdc is not None else Decimal(0)
