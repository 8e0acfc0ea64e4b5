"""Resolving orders whose outcome the ledger does not know yet, by asking the exchange.

An intent is written before its order is signed; a crash, a timeout or a dropped response can leave
it ``new`` or ``sent``. Before a run decides anything it asks ``orderStatus`` by cloid for each such
intent and reads the account's fills for their oids, so the ledger matches the exchange again and
no period is bought twice.

"The exchange does not know this cloid" is only proof that an order never reached it once the order
can no longer arrive: every order action is signed with ``expiresAfter`` = intent time +
``request_timeout`` + :data:`SEND_SLACK_S` (:func:`order_expiry`), both **on the exchange's clock**
(our clock corrected by the skew the read round's ``Date`` headers show), and an unknown intent stays
open (``pending``) until the exchange's own clock, read from the ``Date`` of the ``orderStatus``
answer, is past that instant plus :data:`CLOCK_MARGIN_S`. Before that, a request delayed in the network
or in the exchange's queue could still execute, and retrying it under a new cloid would buy the period
twice. Fills are looked up from the order's own exchange timestamp, so a local clock that runs ahead
never hides them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.config.values import MAX_REQUEST_TIMEOUT_S
from dcactl.errors import DcactlError
from dcactl.http import ServerClock
from dcactl.ingest.sync import to_fill
from dcactl.models import AssetResult, Fill, IntentStatus, OrderIntent, iso_utc, to_ms, utcnow

if TYPE_CHECKING:
    from dcactl.run.core import AssetDecision
    from dcactl.session import Session
    from dcactl.venues.base import OrderStatus

SEND_SLACK_S = 2.0
"""Seconds an order action may take beyond ``request_timeout`` between its intent and the exchange."""
CLOCK_MARGIN_S = 5.0
"""Seconds past an order's expiry (on the exchange's clock as far as we can tell) before an order the
exchange does not know is taken as never sent."""
CLOCK_REFUSE_S = 60.0
"""A live run places no order when our clock is further than this from the exchange's (either way):
periods are cut on our clock, and one that jumps would buy several periods at once. ``doctor`` fails
such a clock."""
NTP_FIX = "NTP: timedatectl set-ntp true"
"""How to synchronise the clock, in the messages of run and doctor."""
FILL_SLACK_S = 30.0
"""Fills of an order are read from this long before the order's exchange time (a slack for the
``Date`` header's whole seconds and the exchange's own timestamps)."""


def exchange_clock(session: Session) -> ServerClock | None:
    """The exchange's clock against ours, as the answers so far show it (None before any client)."""
    return session.exchange_clock


def exchange_time(session: Session, local: datetime) -> datetime:
    """Our clock's ``local`` on the exchange's clock (``local`` when no answer carried a ``Date``)."""
    clock = exchange_clock(session)
    return local if clock is None else clock.server_time(local)


def signing_expiry(session: Session, created_at: datetime) -> datetime:
    """The ``expiresAfter`` to sign into an order whose intent is written at ``created_at`` (our clock),
    on the exchange's clock (so a local clock behind the exchange's never makes orders arrive expired)."""
    return exchange_time(session, created_at) + timedelta(
        seconds=session.config.settings.request_timeout + SEND_SLACK_S
    )


def order_expiry(session: Session, intent: OrderIntent) -> datetime:
    """The ``expiresAfter`` instant signed into ``intent``'s order action (UTC): the one stored with
    the intent; for intents written before it was stored, the longest a timeout may be configured to
    (so a config change can never shorten the wait)."""
    if intent.expires_at is not None:
        return intent.expires_at
    return intent.created_at + timedelta(seconds=MAX_REQUEST_TIMEOUT_S + SEND_SLACK_S)


def void_at(session: Session, intent: OrderIntent) -> datetime:
    """From this instant (the exchange's clock) an intent the exchange does not know can no longer
    execute."""
    return order_expiry(session, intent) + timedelta(seconds=CLOCK_MARGIN_S)


def exchange_now_at_least(session: Session) -> datetime:
    """A lower bound of the exchange's time now: our clock corrected by the largest skew the answers'
    ``Date`` headers allow (our clock alone when none carried one; ``doctor`` warns then)."""
    clock = exchange_clock(session)
    now = utcnow()
    return now if clock is None else clock.server_time_at_least(now)


def fills_since(
    session: Session, intents: Iterable[OrderIntent], statuses: Iterable[OrderStatus] = ()
) -> datetime:
    """Where to start reading the fills of ``intents``: before the earliest exchange timestamp of their
    orders (``orderStatus``), else before their intent times on the exchange's clock."""
    placed = [s.placed_time for s in statuses if s.placed_time is not None]
    clock = exchange_clock(session)
    local = [i.created_at if clock is None else clock.server_time_at_least(i.created_at) for i in intents]
    return min([*placed, *local]) - timedelta(seconds=FILL_SLACK_S)


async def fills_by_oid(
    session: Session, oids: Iterable[int], since: datetime
) -> dict[int, list[Mapping[str, Any]]]:
    """The account's raw fills since ``since`` for the given order ids, grouped by oid."""
    wanted = set(oids)
    if not wanted:
        return {}
    raw = await session.hl.user_fills_by_time(session.account, to_ms(since), None)
    grouped: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for f in raw:
        oid = f.get("oid")
        if oid is not None and int(oid) in wanted:
            grouped[int(oid)].append(f)
    return dict(grouped)


def settle_intent(
    session: Session, intent: OrderIntent, raw_fills: Iterable[Mapping[str, Any]], *, finished: bool = True
) -> str:
    """Record ``intent``'s fills (idempotent by tid) and set its final state; returns the state.

    ``filled`` when the whole size filled, ``partial`` when some did (the period is complete),
    ``unfilled`` when none did and the exchange says the order is finished; otherwise it stays
    ``sent`` for the next run.
    """
    fills = [
        replace(to_fill(r, intent.asset, (intent.cloid, intent.period)), reason=intent.reason)
        for r in raw_fills
    ]
    session.ledger.add_fills(fills)
    size = sum((f.size for f in fills), Decimal(0))
    status: IntentStatus
    if size >= intent.size and size > 0:
        status = "filled"
    elif size > 0:
        status = "partial"
    elif finished:
        status = "unfilled"
    else:
        status = "sent"
    session.ledger.update_intent(
        intent.cloid,
        status=status,
        oid=intent.oid,
        reason=None if status != "unfilled" else "no fill; the period stays due",
    )
    return status


async def reconcile_intents(
    session: Session, only: set[str] | None = None, refusal: str | None = None
) -> list[str]:
    """Resolve every unfinished live intent (or those in ``only``); returns notes for the user.

    An intent the exchange does not know (``unknownOid``) and that can no longer arrive
    (:func:`void_at`) never reached it: it is closed as ``rejected`` (with ``refusal``, the text of
    the answer that refused its action, as the reason when given) so the next attempt may go; one
    that could still arrive stays open. One whose status cannot be read stays open too, and its
    asset reports ``pending`` this run.
    """
    intents = [
        i
        for i in session.ledger.open_intents()
        if i.venue == "hyperliquid" and (only is None or i.cloid in only)
    ]
    if not intents:
        return []

    async def status(i: OrderIntent) -> Any:
        try:
            return await session.hl.order_status(session.account, i.cloid)
        except DcactlError as exc:
            return exc

    statuses = await asyncio.gather(*(status(i) for i in intents))
    notes: list[str] = []
    known: list[tuple[OrderIntent, Any]] = []
    for intent, st in zip(intents, statuses, strict=True):
        if isinstance(st, DcactlError):
            notes.append(f"{intent.asset}: cannot resolve order {intent.cloid} yet ({st})")
        elif not st.known and exchange_now_at_least(session) < void_at(session, intent):
            notes.append(
                f"{intent.asset}: order {intent.cloid} is not known to the exchange yet; it could still "
                f"arrive until {iso_utc(order_expiry(session, intent))}, so it stays open until then"
            )
        elif not st.known:
            session.ledger.update_intent(
                intent.cloid, status="rejected", reason=refusal or "the exchange never received this order"
            )
            notes.append(
                f"{intent.asset}: order {intent.cloid} never reached the exchange; it may be retried"
            )
        else:
            known.append((replace(intent, oid=st.oid), st))
    if known:
        since = fills_since(session, [i for i, _ in known], [st for _, st in known])
        try:
            grouped = await fills_by_oid(session, [i.oid for i, _ in known if i.oid is not None], since)
        except DcactlError as exc:
            return [*notes, f"cannot read fills to resolve earlier orders yet ({exc})"]
        for intent, st in known:
            # "filled" with no fills visible yet means the fills lag: keep it open, never "unfilled"
            finished = st.finished and st.status != "filled"
            state = settle_intent(session, intent, grouped.get(intent.oid or -1, []), finished=finished)
            notes.append(f"{intent.asset}: resolved earlier order {intent.cloid}: {state}")
    return notes


async def adopt_orders(
    session: Session, found: Sequence[tuple[AssetDecision, int, str, OrderStatus]]
) -> dict[str, AssetResult]:
    """Orders the exchange already has under cloids of this period (``(decision, attempt, cloid,
    status)``) with no intent in this ledger: the ledger was lost or replaced, or another ledger of
    the account placed them.

    Each is adopted as the period's buy: an intent rebuilt from ``orderStatus`` (its size, limit, oid
    and exchange time) is recorded with the order's fills, so ``status``, ``plan`` and ``run`` agree,
    the fills are dcactl's (not ``external``), and the order is never placed again. Returns each
    asset's result (its last attempt's).
    """
    results: dict[str, AssetResult] = {}
    adopted: list[tuple[AssetDecision, OrderIntent, OrderStatus]] = []
    for d, attempt, cloid, st in sorted(found, key=lambda f: f[1]):
        if d.market is None or st.orig_sz is None or st.limit_px is None or st.oid is None:
            results[d.symbol] = replace(d, cloid=cloid, attempt=attempt).outcome(
                "pending", f"the exchange already has order {cloid}; the next run resolves it")
            continue
        intent = OrderIntent(
            cloid=cloid, asset=d.symbol, venue="hyperliquid", period=d.period, attempt=attempt,
            usd_requested=(st.orig_sz * st.limit_px).quantize(Decimal("0.01")), size=st.orig_sz,
            limit_px=st.limit_px, created_at=st.placed_time or utcnow(), pair=d.market.pair,
            asset_id=d.market.asset_id, period_end=d.period_end, status="sent", oid=st.oid,
            reason=ADOPTED,
        )
        session.ledger.record_intent(intent)
        adopted.append((d, intent, st))
    if not adopted:
        return results
    try:
        grouped = await fills_by_oid(
            session, [i.oid for _, i, _ in adopted if i.oid is not None],
            fills_since(session, [i for _, i, _ in adopted], [st for _, _, st in adopted]),
        )
    except DcactlError as exc:
        for d, intent, _ in adopted:
            results[d.symbol] = replace(d, cloid=intent.cloid, attempt=intent.attempt).outcome(
                "pending", f"adopted order {intent.cloid}; its fills cannot be read yet ({exc})")
        return results
    last: dict[str, tuple[AssetDecision, OrderIntent]] = {}
    for d, intent, st in adopted:
        settle_intent(session, intent, grouped.get(intent.oid or -1, []),
                      finished=st.finished and st.status != "filled")
        last[d.symbol] = (replace(d, reason=ADOPTED, cloid=intent.cloid, attempt=intent.attempt), intent)
    results.update((r.asset, r) for r in report_settled(session, list(last.values())))
    return results


ADOPTED = "adopted: the exchange already had this period's order (placed outside this ledger)"


def report_settled(session: Session, batch: Sequence[tuple[AssetDecision, OrderIntent]]) -> list[AssetResult]:
    """Each intent's ledger state (after settling) as its asset's result."""
    out = []
    for d, intent in batch:
        current = session.ledger.intent(intent.cloid)
        fills = session.ledger.fills_for_order(cloid=intent.cloid)
        status = current.status if current else "new"
        if status in ("filled", "partial"):
            out.append(d.outcome(status, d.reason, oid=current.oid if current else None,
                                 **fill_fields(intent, fills)))
        elif status in ("new", "sent"):
            out.append(d.outcome(
                "pending",
                "the order's outcome is not known yet; the next run resolves it",
                usd_requested=intent.usd_requested,
            ))
        else:
            out.append(d.outcome(
                "failed", (current.reason if current else None) or status, usd_requested=intent.usd_requested
            ))
    return out


def fill_fields(intent: OrderIntent, fills: Sequence[Fill]) -> dict[str, Any]:
    size = sum((f.size for f in fills), Decimal(0))
    usd = sum((f.usd for f in fills), Decimal(0))
    fee = sum((f.fee for f in fills), Decimal(0))
    return {
        "usd_requested": intent.usd_requested,
        "usd_filled": usd.quantize(Decimal("0.01")) if fills else None,
        "size": plain_decimal(size) if fills else None,
        "avg_price": plain_decimal((usd / size).quantize(Decimal("1e-8"))) if size else None,
        "fee": plain_decimal(fee) if fills else None,
        "fee_token": fills[0].fee_token if fills else None,
    }


def plain_decimal(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and with a positive exponent spelled out: str() gives
    ``98350``, not ``9.835E+4`` (run --json prints decimals with str(), which still writes values
    under 1e-6 such as ``7.07E-7`` in exponent form)."""
    return Decimal(format(value.normalize(), "f"))
