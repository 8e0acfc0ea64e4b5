"""``plan --until``: the shell around the pure calendar (:mod:`dcactl.reports.calendar`). It gathers
what the calendar needs — each asset's last buy and (live) the spot USDC balance — and returns the
``--json`` document.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.errors import DcactlError, UsageError
from dcactl.models import iso_utc, utcnow

if TYPE_CHECKING:
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
    tz = settings.timezone
    buys = coming_buys(assets, tz, now, until, lasts)
    days = spend_by_day(buys, tz, settings.max_usd_per_day)
    balance = await _balance(session) if session.live else None
    short = next((d.day for d in days if balance is not None and d.cumulative_high > balance), None)
    return {
        "as_of": iso_utc(now), "until": iso_utc(until), "timezone": settings.timezone,
        "buys": [{"at": iso_utc(b.at), "asset": b.asset, "usd_min": str(b.low), "usd_max": str(b.high),
                  "exact": b.exact} for b in buys],
        "days": [{"day": d.day, "usd_min": str(d.low), "usd_max": str(d.high),
                  "cumulative_max": str(d.cumulative_high), "over_day_cap": d.over_cap} for d in days],
        "max_usd_per_day": None if settings.max_usd_per_day is None else str(settings.max_usd_per_day),
        "balance_usdc": None if balance is None else str(balance),
        "short_from": short,
    }


async def _balance(session: Session) -> Decimal | None:
    """The spot USDC available (live), None with a warning when it cannot be read."""
    try:
        usdc = (await session.hl.spot_balances(session.account)).get("USDC")
    except DcactlError as exc:
        session.warn(f"cannot read the USDC balance ({exc}); the spend is not checked against it")
        return None
    return usdc.available if usdc is not None else Decimal(0)
