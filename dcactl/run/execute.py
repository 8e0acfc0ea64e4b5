"""A run: intents → journal → venue → ledger. One asset's failure never sinks the others.

Order of work, and why (PRODUCT.md "Exactly once"):

1. **Reconcile** (live): every unfinished intent in the ledger is resolved with the exchange
   (``orderStatus`` by cloid, then its fills) *before* anything is decided, so a crash or a lost
   response from an earlier run can never lead to a second order.
2. **Decide**: which assets are due (schedule), which are blocked by an intent whose fate is still
   unknown (``pending``), the attempt number and so the cloid of each order.
3. **Read** (one concurrent round): books / CoinGecko quotes, candles for volatility sizing, the USDC
   balance, and ``orderStatus`` of every cloid about to be used (another machine or ledger on the
   same account may already have placed it).
4. **Size and check**: amount, caps in config order, rounding, the 10 USDC minimum, the balance.
5. **Write ahead, then send**: each intent is committed to the ledger before the order is signed;
   in parallel mode all orders go in one signed action.
6. **Record**: per-order outcomes position by position, the fills (by oid) into the ledger.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from dcactl.errors import DcactlError, ExitCode
from dcactl.models import (
    RUNWAY_WARN_PERIODS,
    AssetResult,
    IntentStatus,
    OrderIntent,
    RunResult,
    iso_utc,
    json_value,
    to_ms,
    utcnow,
)
from dcactl.run.core import AssetDecision, RunRequest
from dcactl.run.plan import prepare, select_assets
from dcactl.run.reconcile import (
    CLOCK_MARGIN_S,
    CLOCK_REFUSE_S,
    NTP_FIX,
    exchange_clock,
    exchange_now_at_least,
    fills_by_oid,
    fills_since,
    order_expiry,
    reconcile_intents,
    report_settled,
    settle_intent,
    signing_expiry,
    void_at,
)
from dcactl.timing import mark
from dcactl.venues import paper

if TYPE_CHECKING:
    from dcactl.config.keys import Signer
    from dcactl.session import Session


async def execute(session: Session, request: RunRequest) -> RunResult:
    """Run (or dry-run) the buys ``request`` asks for and record everything in the ledger.

    Per-asset problems become results with status ``failed``/``skipped``/``pending``; only problems
    that stop every asset (config, ledger, lock) raise.
    """
    started = utcnow()
    run_id = uuid.uuid4().hex[:16]
    ledger = session.ledger
    result = RunResult(
        run_id=run_id, started_at=started, network=session.network, mode=session.config.settings.mode
    )
    assets = select_assets(session, request)
    decisions: list[AssetDecision] = []
    results: dict[str, AssetResult] = {}
    if not request.dry_run:
        ledger.begin_run(run_id, started, session.config.settings.mode, request.command)
    code: int | None = None
    error: str | None = None
    try:
        key: asyncio.Future[Signer] | None = None
        if session.live and not request.dry_run:
            # The key, due or not: a key that cron cannot read fails the first run after it broke
            # (exit 2, in the run log), not the first run that has something to buy days later. It
            # is read now, and made a signer (eth_account: a fifth of a second) in a thread while the
            # run asks the exchange (reconciling, then the read round); a bad key stops the run
            # before any decision: one that cannot be read before the read round.
            try:
                load: Callable[[], Signer] | BaseException = session.read_key()
            except DcactlError as exc:
                load = exc
            if not isinstance(load, BaseException):
                key = asyncio.ensure_future(asyncio.to_thread(load))
            (notes,) = await asyncio.gather(reconcile_intents(session), return_exceptions=True)
            bad = load if isinstance(load, BaseException) else None
            if bad is None and isinstance(notes, BaseException):
                bad = await _key_failure(key)
            for outcome in (bad, notes):  # a bad key first (SecretError, exit 2), before any decision
                if isinstance(outcome, BaseException):
                    raise outcome
            assert isinstance(notes, list)
            for note in notes:
                session.info(note)
        try:
            decisions, _ = await prepare(session, assets, request, started, key=key)
        except BaseException:
            bad = await _key_failure(key)
            if bad is not None:  # a bad key first (SecretError, exit 2), whatever else went wrong
                raise bad from None
            raise
        results.update((d.symbol, d.result) for d in decisions if d.result is not None)
        if not request.dry_run:
            left = await _place(session, [d for d in decisions if d.result is None], request, results)
            if left is not None:
                _warn_runway(session, decisions, left)
        mark("recorded")
        for d in decisions:
            if d.symbol not in results:  # every path sets a result; this guards against a silent miss
                results[d.symbol] = d.outcome("failed", "internal: no outcome recorded")
    except DcactlError as exc:  # stops every asset (a key, the ledger): the run log keeps its code
        code, error = exc.exit_code, str(exc)
        raise
    except (KeyboardInterrupt, asyncio.CancelledError):
        code, error = 130, "interrupted"  # the process exit code of Ctrl-C (dcactl.cli.app.INTERRUPTED)
        raise
    except BaseException as exc:
        code, error = ExitCode.FAILED, f"internal error: {type(exc).__name__}"
        raise
    finally:
        result.results.extend(results[a.symbol] for a in assets if a.symbol in results)
        if not request.dry_run:
            summary = result.to_json() | ({"error": error} if error else {})
            final = code if code is not None else exit_code_for(result, request)
            with ledger.batch():  # the decisions and the run's end: one durable write
                _record_decisions(session, run_id, decisions, results)
                ledger.end_run(run_id, utcnow(), summary, int(final))
    return result


async def _key_failure(key: asyncio.Future[Signer] | None) -> BaseException | None:
    """Why ``key`` (the signer loading in its thread) failed, once it is done; None when it loaded."""
    if key is None:
        return None
    await asyncio.wait([key])
    return None if key.cancelled() else key.exception()


async def plan(session: Session, only: tuple[str, ...] = ()) -> PlanReport:
    """What ``run`` would do now and why, for every enabled asset (or ``only``); places nothing."""
    now = utcnow()
    request = RunRequest(command="plan", dry_run=True, only=only)
    decisions, _ = await prepare(session, select_assets(session, request), request, now)
    return PlanReport(
        as_of=now,
        network=session.network,
        mode=session.config.settings.mode,
        assets=[plan_entry(d) for d in decisions],
    )


def plan_entry(a: AssetDecision) -> dict[str, Any]:
    """One asset of ``plan --json``: venue, due, amount, skip, reasons (due check first), indicators."""
    d = a.decision
    skip = None
    if a.result is not None and a.result.status in ("skipped", "failed", "pending"):
        skip = a.result.reason
    reasons = [a.due_reason] if a.due_reason else []
    reasons += d.reasons if d is not None else []
    return {
        "asset": a.symbol,
        "venue": a.venue,
        "due": a.due,
        "period": a.period or None,
        "amount_usd": json_value(d.amount) if d is not None else None,
        "skip": skip or (d.skip if d else None),
        "summary": d.summary if d is not None else (a.result.reason if a.result else None),
        "order": {"size": json_value(a.size), "limit_px": json_value(a.limit_px)} if a.size > 0 else None,
        "reasons": reasons,
        "indicators": dict(d.indicators) if d is not None else {},
        "bank_usd": json_value(d.bank_after) if d is not None else None,
    }


@dataclass(frozen=True)
class PlanReport:
    """``plan``: per asset, whether it is due, the decided amount or skip, and every reason."""

    as_of: datetime
    network: str
    mode: str
    assets: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The ``plan --json`` document of PRODUCT.md."""
        return {
            "as_of": iso_utc(self.as_of),
            "network": self.network,
            "mode": self.mode,
            "assets": self.assets,
        }


def _record_decisions(
    session: Session, run_id: str, decisions: Sequence[AssetDecision], results: dict[str, AssetResult]
) -> None:
    """Store each due asset's decision and outcome (the bank is read back from these next time)."""
    for d in decisions:
        result = results.get(d.symbol)
        if d.decision is None or not d.due or result is None or not d.period:
            continue
        outcome = "rule_skip" if d.decision.skip else result.status
        session.ledger.record_decision(
            d.symbol, d.period, run_id, d.decision.to_json(), d.decision.bank_after, outcome
        )


def exit_code_for(result: RunResult, request: RunRequest | None = None) -> ExitCode:
    """0 when nothing failed; 3 when every attempted asset failed for a temporary reason; else 1.

    ``buy`` is a person asking for one buy: when it ends skipped (under the minimum, over a cap) that
    is a failure to them, exit 1 with the reason; a scheduled ``run`` that skips is doing its job."""
    asked = request is not None and request.command == "buy"
    if asked and any(r.status == "skipped" for r in result.results):
        return ExitCode.FAILED
    failed = [r for r in result.results if r.status == "failed"]
    if not failed:
        return ExitCode.OK
    attempted = [r for r in result.results if r.status not in ("not_due", "skipped")]
    if attempted and all(r.temporary for r in attempted):
        return ExitCode.TEMPORARY
    return ExitCode.FAILED


class Venue(Protocol):
    """Where a decided order goes: :class:`Exchange` (Hyperliquid) or :class:`Paper`. The executor
    picks one per market (``Market.venue``) and knows nothing else of either."""

    async def check(self, session: Session) -> None:
        """Before anything is written: raise when this venue cannot take orders at all (a key)."""

    async def place(
        self, session: Session, orders: list[tuple[AssetDecision, OrderIntent]], request: RunRequest,
        results: dict[str, AssetResult],
    ) -> Decimal | None:
        """Write each intent ahead and place it; each asset's result goes into ``results``. Returns the
        spendable USDC read after the orders, or None when none was read."""


class Paper:
    """Simulated fills at the book read this run (listed) or the CoinGecko quote (unlisted); nothing
    leaves the machine. The intent and its fill are recorded in one transaction."""

    async def check(self, session: Session) -> None:
        return None

    async def place(
        self, session: Session, orders: list[tuple[AssetDecision, OrderIntent]], request: RunRequest,
        results: dict[str, AssetResult],
    ) -> Decimal | None:
        for d, intent in orders:
            results[d.symbol] = _fill_paper(session, d, intent, intent.created_at)
        return None


class Exchange:
    """Hyperliquid: the clock guard, each intent written ahead, then signed and sent (one action for
    the batch when parallel), outcomes read position by position and the fills by oid."""

    async def check(self, session: Session) -> None:
        session.signer  # noqa: B018 - a bad or unsafe key stops the run (SecretError, exit 2) before any write

    async def place(
        self, session: Session, orders: list[tuple[AssetDecision, OrderIntent]], request: RunRequest,
        results: dict[str, AssetResult],
    ) -> Decimal | None:
        refusal = _clock_refusal(session)
        if refusal is not None:
            for d, intent in orders:
                results[d.symbol] = d.outcome("failed", refusal, usd_requested=intent.usd_requested)
            return None
        from dcactl.crash import crash_point

        left = None
        # sequential: each intent is written just before its own order, so the expiresAfter signed into
        # it (intent time + request_timeout, reconcile.order_expiry) is not used up by the earlier sends
        for batch in [orders] if request.parallel else [[pair] for pair in orders]:
            at = utcnow()
            batch = [
                (c, replace(intent, created_at=at, expires_at=signing_expiry(session, at)))
                for c, intent in batch
            ]
            session.ledger.record_intents([intent for _, intent in batch])  # one durable write
            crash_point("after_intent")
            left = await _send(session, batch, results)
        return left


VENUES: dict[str, Venue] = {"paper": Paper(), "hyperliquid": Exchange()}
"""The venue of each ``Market.venue``."""


async def _place(
    session: Session, ready: list[AssetDecision], request: RunRequest, results: dict[str, AssetResult]
) -> Decimal | None:
    """Each decided order to its venue (paper first, then the exchange); each asset's result goes
    into ``results`` as soon as it is known.

    Returns the spendable USDC read after the last live order, or None when none was read.
    """
    now = utcnow()
    by_venue: dict[str, list[tuple[AssetDecision, OrderIntent]]] = {}
    for d in ready:
        assert d.market is not None and d.quote is not None
        intent = OrderIntent(
            cloid=d.cloid,
            asset=d.symbol,
            venue=d.market.venue,
            period=d.period,
            attempt=d.attempt,
            usd_requested=d.amount,
            size=d.size,
            limit_px=d.limit_px,
            created_at=now,
            pair=d.market.pair,
            asset_id=d.market.asset_id,
            period_end=d.period_end,
            reason=d.reason,
        )
        by_venue.setdefault(d.market.venue, []).append((d, intent))
    for name in by_venue:
        await VENUES[name].check(session)
    left = None
    for name in sorted(by_venue, key=lambda n: n != "paper"):
        left = await VENUES[name].place(session, by_venue[name], request, results)
    return left


def _fill_paper(session: Session, d: AssetDecision, intent: OrderIntent, now: datetime) -> AssetResult:
    assert d.market is not None and d.quote is not None
    if d.market.listed:
        fill = paper.fill_from_book(
            d.market,
            d.quote.asks,
            d.size,
            d.limit_px,
            time=now,
            cloid=d.cloid,
            period=d.period,
            reason=d.reason,
        )
    else:
        fill = paper.fill_from_quote(
            d.market, d.size, d.limit_px, time=now, cloid=d.cloid, period=d.period, reason=d.reason
        )
    status: IntentStatus = "paper" if fill is not None else "unfilled"
    session.ledger.record_intent(replace(intent, status=status), [fill] if fill is not None else [])
    if fill is None:
        return d.outcome(
            "failed", "paper: the book had no asks within the limit price", usd_requested=d.amount)
    return d.outcome(
        "paper",
        f"on paper: {d.reason}" if d.reason else "on paper",
        usd_requested=d.amount,
        usd_filled=fill.usd.quantize(Decimal("0.01")),
        size=fill.size,
        avg_price=fill.price,
        fee=fill.fee,
        fee_token=fill.fee_token,
    )


async def _send(
    session: Session, batch: list[tuple[AssetDecision, OrderIntent]], results: dict[str, AssetResult]
) -> Decimal | None:
    """Sign and send one order action for ``batch``; read outcomes position by position.

    Returns the spendable USDC read (with the fills, in the same round) after the orders, or None.
    """
    from dcactl.crash import crash_point
    from dcactl.venues.hyperliquid import OrderOutcomeUnknown, OrderRequest

    requests = [
        OrderRequest(
            asset_id=i.asset_id or 0, is_buy=True, price=i.limit_px, size=i.size, cloid=i.cloid, label=i.asset
        )
        for _, i in batch
    ]
    expires = min(to_ms(order_expiry(session, i)) for _, i in batch)
    try:
        outcomes = await session.hl.place_orders(session.signer.account, requests, expires_after_ms=expires)
    except OrderOutcomeUnknown as exc:
        session.warn(f"order outcome unknown ({exc}); asking the exchange by cloid")
        cloids = {i.cloid for _, i in batch}
        notes = await reconcile_intents(session, only=cloids, refusal=exc.refusal)
        unknown = [i for _, i in batch if (session.ledger.intent(i.cloid) or i).status in ("new", "sent")]
        if exc.refusal is not None and unknown:  # most likely refused indeed: wait for the verdict
            await _wait_until_void(session, unknown)
            notes = await reconcile_intents(session, only={i.cloid for i in unknown}, refusal=exc.refusal)
        for note in notes:
            session.info(note)
        results.update((r.asset, r) for r in report_settled(session, batch))
        return None
    crash_point("after_response")
    filled_oids = {
        o.oid: (d, replace(i, oid=o.oid, status="sent"))
        for (d, i), o in zip(batch, outcomes, strict=True) if o.kind != "error" and o.oid is not None
    }
    reads = None
    if filled_oids:  # the fills and the balance are asked for first, and the answers recorded meanwhile
        since = fills_since(session, [i for _, i in filled_oids.values()])
        reads = asyncio.gather(
            fills_by_oid(session, set(filled_oids), since), _spendable_usdc(session), return_exceptions=True
        )
        await session.hl.http.requests_written()
    try:
        with session.ledger.batch():  # one durable write for the answers (reads have no effect to order)
            for (d, intent), outcome in zip(batch, outcomes, strict=True):
                if outcome.kind == "error":
                    text = outcome.error or "rejected"
                    state: IntentStatus = "unfilled" if outcome.error_kind == "no_match" else "rejected"
                    session.ledger.update_intent(intent.cloid, status=state, reason=text)
                    results[d.symbol] = d.outcome(
                        "failed",
                        f"{text} ({d.symbol} {intent.size} @ {intent.limit_px}); the period stays due",
                        usd_requested=intent.usd_requested,
                    )
                elif outcome.oid is not None:
                    session.ledger.update_intent(intent.cloid, status="sent", oid=outcome.oid)
    except BaseException:
        if reads is not None:
            reads.cancel()
        raise
    if reads is None:
        return None
    found, left = await reads
    if isinstance(found, DcactlError):  # the orders stay "sent": the next run reads their fills
        session.warn(f"cannot read the fills of the orders just placed yet ({found})")
    elif isinstance(found, BaseException):
        raise found
    else:
        crash_point("before_fills_recorded")
        with session.ledger.batch():  # one durable write for every order's fills and state
            for oid, (_, intent) in filled_oids.items():
                settle_intent(session, intent, found.get(oid, []), finished=False)
    results.update((r.asset, r) for r in report_settled(session, list(filled_oids.values())))
    return left if isinstance(left, Decimal) else None


REFUSAL_WAIT_S = 30.0
"""After a refusal of the whole action, a run waits this long at most for its orders to become void,
so that it ends with the refusal as the verdict; beyond that the assets stay ``pending``."""


def _clock_refusal(session: Session) -> str | None:
    """Why no order may go because our clock is too far from the exchange's (its ``Date`` headers),
    else None; a smaller skew is a warning (orders are timed on the exchange's clock anyway)."""
    clock = exchange_clock(session)
    skew = None if clock is None else clock.skew()
    if skew is None:
        return None
    seconds = skew.total_seconds()
    if abs(seconds) <= CLOCK_MARGIN_S:
        return None
    text = f"the local clock is {abs(seconds):.0f} s {'ahead of' if seconds > 0 else 'behind'} the exchange's"
    if abs(seconds) <= CLOCK_REFUSE_S:
        session.warn(f"{text}; periods are cut on the local clock: synchronise it ({NTP_FIX})")
        return None
    return (f"{text} (more than {CLOCK_REFUSE_S:.0f} s): no order placed, since periods are cut on the local"
            f" clock; synchronise it ({NTP_FIX})")


async def _wait_until_void(session: Session, intents: Sequence[OrderIntent]) -> None:
    """After a refusal of the whole action, wait (at most :data:`REFUSAL_WAIT_S`) until the orders
    could no longer arrive, so the check by cloid gives this run a verdict instead of ``pending``."""
    latest = max(void_at(session, i) for i in intents)
    wait = (latest - exchange_now_at_least(session)).total_seconds() + 0.5
    if 0 < wait <= REFUSAL_WAIT_S:
        await asyncio.sleep(wait)


async def _spendable_usdc(session: Session) -> Decimal | None:
    """USDC total − hold of the spot account, or None when it cannot be read (never raises ours)."""
    try:
        balances = await session.hl.spot_balances(session.account)
    except DcactlError:
        return None
    usdc = balances.get("USDC")
    return usdc.available if usdc is not None else Decimal(0)


def _warn_runway(session: Session, decisions: Sequence[AssetDecision], left: Decimal) -> None:
    """Warn (a session note) when ``left`` USDC (read after this run's orders) covers fewer than
    :data:`RUNWAY_WARN_PERIODS` more periods of every enabled live asset of the run at its configured
    amount (``amount``; ``sizing.max`` under volatility sizing)."""
    live = [d for d in decisions if d.real and d.asset.enabled]
    per_period = Decimal(0)
    for d in live:
        sizing = d.asset.sizing
        per_period += sizing.max if sizing.kind == "volatility" and sizing.max else d.asset.amount
    if per_period <= 0:
        return
    periods = int(left // per_period)
    if periods < RUNWAY_WARN_PERIODS:
        session.warn(
            f"the spot account has {left.quantize(Decimal('0.01'))} USDC left: {periods} more period(s) at "
            f"{per_period:f} USDC per period ({', '.join(d.symbol for d in live)}); top it up"
        )


__all__ = ["RunRequest", "execute", "exit_code_for", "iso_utc", "to_ms"]
