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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl import output
from dcactl.errors import DcactlError, ExitCode, TemporaryError, UsageError
from dcactl.marketdata import Quote, load_spot_meta, quotes_for, refresh_daily_candles
from dcactl.models import (
    AssetResult,
    Fill,
    IntentStatus,
    Market,
    OrderIntent,
    ResultStatus,
    RunResult,
    Venue,
    iso_utc,
    make_cloid,
    to_ms,
    utcnow,
)
from dcactl.reconcile import fills_by_oid, reconcile_intents, settle_intent
from dcactl.venues import paper

if TYPE_CHECKING:
    from dcactl.config import AssetConfig
    from dcactl.session import Session

PRICE_MARGIN = Decimal("0.001")
"""Added above the price that fills the whole size, so a book that moves a tick still fills."""

ASSET_TIMEOUT_S = 20.0
"""Each asset's reads must finish within this many seconds; a slow asset fails alone."""


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for: ``run`` (every due asset) or ``buy`` (one asset)."""

    command: str = "run"
    parallel: bool = True
    dry_run: bool = False
    only: tuple[str, ...] = ()
    force: bool = False
    amount: Decimal | None = None


@dataclass
class Candidate:
    """One asset on its way through a run; ``result`` is set once its outcome is known."""

    asset: AssetConfig
    market: Market | None = None
    period: str = ""
    period_end: datetime | None = None
    attempt: int = 1
    cloid: str = ""
    amount: Decimal = Decimal(0)
    quote: Quote | None = None
    size: Decimal = Decimal(0)
    limit_px: Decimal = Decimal(0)
    reason: str | None = None
    result: AssetResult | None = None

    @property
    def symbol(self) -> str:
        """The asset's configured symbol."""
        return self.asset.symbol

    @property
    def venue(self) -> Venue:
        """Where this asset is bought: ``hyperliquid`` or ``paper``."""
        return (
            self.market.venue if self.market else ("paper" if self.asset.venue == "paper" else "hyperliquid")
        )

    def finish(self, status: ResultStatus, reason: str | None = None, **fields: Any) -> None:
        """Set the final result of this asset."""
        self.result = AssetResult(
            asset=self.symbol,
            venue=self.venue,
            status=status,
            period=self.period or None,
            cloid=self.cloid or None,
            reason=reason,
            **fields,
        )


def select_assets(session: Session, request: RunRequest) -> list[AssetConfig]:
    """The assets this run considers, in config order. Raises UsageError for an unknown asset."""
    config = session.config
    wanted = {s.upper() for s in request.only}
    known = {a.symbol for a in config.assets}
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(f"unknown asset {', '.join(unknown)}; configured: {', '.join(sorted(known))}")
    if request.command == "buy":
        return [a for a in config.assets if a.symbol in wanted]
    return [a for a in config.assets if a.enabled and (not wanted or a.symbol in wanted)]


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
    candidates = [Candidate(asset=a) for a in select_assets(session, request)]
    if not request.dry_run:
        ledger.begin_run(run_id, started, session.config.settings.mode, request.command)
    try:
        if session.live and not request.dry_run:
            for note in await reconcile_intents(session):
                output.info(note)
        await _resolve(session, candidates, started)
        _decide_due(session, candidates, request, started)
        await _read_and_size(session, candidates, request, started)
        if not request.dry_run:
            await _place(session, [c for c in candidates if c.result is None], request)
        for c in candidates:
            if c.result is None:  # every path sets a result; this guards against a silent miss
                c.finish("failed", "internal: no outcome recorded")
    finally:
        result.results.extend(c.result for c in candidates if c.result is not None)
        if not request.dry_run:
            ledger.end_run(run_id, utcnow(), result.to_json())
    return result


def exit_code_for(result: RunResult) -> ExitCode:
    """0 when nothing failed; 3 when every attempted asset failed for a temporary reason; else 1."""
    failed = [r for r in result.results if r.status == "failed"]
    if not failed:
        return ExitCode.OK
    attempted = [r for r in result.results if r.status not in ("not_due", "skipped")]
    if attempted and all((r.reason or "").startswith("temporary:") for r in attempted):
        return ExitCode.TEMPORARY
    return ExitCode.FAILED


def _failure_reason(exc: BaseException) -> str:
    prefix = "temporary: " if isinstance(exc, TemporaryError) else ""
    if isinstance(exc, TimeoutError):
        return f"temporary: timed out after {ASSET_TIMEOUT_S:g} s"
    return f"{prefix}{exc}"


async def _resolve(session: Session, candidates: list[Candidate], now: datetime) -> None:
    """Attach a Market to each candidate (spot metadata from the ledger cache or the exchange)."""
    from dcactl.resolve import resolve_markets

    try:
        meta, warning = await load_spot_meta(session.hl, session.ledger, now)
    except DcactlError as exc:
        for c in candidates:
            if c.asset.venue == "paper" and c.asset.coingecko_id:
                continue
            c.finish("failed", _failure_reason(exc))
        meta, warning = {"tokens": [], "universe": []}, None
    if warning:
        output.warn(warning)
    specs = [
        (c.symbol, c.asset.venue, c.asset.pair, c.asset.coingecko_id) for c in candidates if c.result is None
    ]
    markets = resolve_markets(specs, meta)
    for c in candidates:
        if c.result is not None:
            continue
        market = markets.get(c.symbol)
        if isinstance(market, Market):
            # paper mode simulates every buy: a listed asset keeps its pair so it walks the real book
            c.market = market if session.live else replace(market, venue="paper")
        else:
            c.finish("failed", str(market) if market else "could not resolve")


def _decide_due(session: Session, candidates: list[Candidate], request: RunRequest, now: datetime) -> None:
    """Period, due check, pending intents, attempt number and cloid for each candidate."""
    from dcactl.schedule import forced_period_id, is_due

    ledger = session.ledger
    tz = session.config.settings.timezone
    for c in candidates:
        if c.result is not None:
            continue
        if request.force:
            c.period, c.period_end = forced_period_id(now), None
        else:
            check = is_due(c.asset.schedule, tz, now, last_buy_of(ledger, c.asset))
            c.period, c.period_end = check.period.id, check.period.end
            if not check.due:
                c.finish("not_due", check.reason)
                continue
        earlier = ledger.intents_for(c.symbol, c.period)
        unresolved = [i for i in earlier if i.status in ("new", "sent")]
        if unresolved:
            c.cloid = unresolved[-1].cloid
            c.finish("pending", "an earlier order's fate is still unknown; the next run resolves it first")
            continue
        c.attempt = len(earlier) + 1
        c.cloid = make_cloid(session.network, session.account, c.symbol, c.period, c.attempt)


def last_buy_of(ledger: Any, asset: AssetConfig) -> Any:
    """The ledger's last scheduled buy of ``asset`` as ``schedule.is_due`` wants it (bounds known)."""
    from dcactl.schedule import LastBuy, period_of

    record = ledger.last_buy(asset.symbol)
    if record is None:
        return None
    start, end = record.period_start, record.period_end
    if start is None or end is None:  # written without bounds: take the period under today's schedule
        period = period_of(asset.schedule, record.at, "UTC")
        start, end = start or period.start, end or period.end
    return LastBuy(at=record.at, period_start=start, period_end=end)


async def _read_and_size(
    session: Session, candidates: list[Candidate], request: RunRequest, now: datetime
) -> None:
    """One concurrent round of reads, then amounts, caps, rounding and the balance check."""
    from dcactl.sizing import amount_for, apply_caps, round_order

    active = [c for c in candidates if c.result is None]
    if not active:
        return
    markets = [c.market for c in active if c.market is not None]
    live = session.live and not request.dry_run

    async def candles_for(c: Candidate) -> list[Decimal] | None:
        sizing = c.asset.sizing
        if sizing.kind != "volatility" or request.amount is not None or c.market is None:
            return None
        return await refresh_daily_candles(
            session.hl, session.cg, session.ledger, c.market, sizing.window_days + 1, now
        )

    async def guarded(coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, ASSET_TIMEOUT_S)
        except (DcactlError, TimeoutError) as exc:
            return exc

    tasks: list[Any] = [guarded(quotes_for(session.hl, session.cg, markets))]
    tasks += [guarded(candles_for(c)) for c in active]
    if live:
        tasks.append(guarded(session.hl.spot_balances(session.account)))
        tasks += [
            guarded(session.hl.order_status(session.account, c.cloid))
            for c in active
            if c.venue == "hyperliquid"
        ]
    answers = await asyncio.gather(*tasks)
    quotes = answers[0] if isinstance(answers[0], dict) else {m.symbol: answers[0] for m in markets}
    candles = dict(zip((c.symbol for c in active), answers[1 : 1 + len(active)], strict=True))
    balance: Any = None
    if live:
        balance = answers[1 + len(active)]
        statuses = answers[2 + len(active) :]
        for c, status in zip([c for c in active if c.venue == "hyperliquid"], statuses, strict=True):
            if isinstance(status, DcactlError):
                c.finish("failed", f"temporary: cannot check order {c.cloid} before placing it: {status}")
            elif getattr(status, "known", False):
                c.finish(
                    "pending",
                    f"the exchange already has order {c.cloid} (another dcactl on this "
                    "account?); `dcactl sync` records its fills",
                )

    for c in active:
        if c.result is not None:
            continue
        quote = quotes.get(c.symbol)
        if isinstance(quote, BaseException) or quote is None:
            c.finish("failed", _failure_reason(quote) if quote else "no price")
            continue
        c.quote = quote
        closes = candles.get(c.symbol)
        if isinstance(closes, BaseException):
            c.finish("failed", f"volatility sizing needs candles: {_failure_reason(closes)}")
            continue
        c.amount, c.reason = amount_for(c.asset, closes, request.amount)

    settings = session.config.settings
    day_committed = session.ledger.usd_committed(*_day_bounds(now, settings.timezone), real_only=session.live)
    sized = [c for c in active if c.result is None]
    for c, verdict in zip(
        sized,
        apply_caps(
            [c.amount for c in sized], settings.max_usd_per_run, settings.max_usd_per_day, day_committed
        ),
        strict=True,
    ):
        if verdict:
            c.finish("skipped", verdict, usd_requested=c.amount)
    for c in active:
        if c.result is not None or c.market is None or c.quote is None:
            continue
        order = round_order(c.market, c.quote, c.amount, settings.max_slippage_bps, PRICE_MARGIN)
        if isinstance(order, str):
            c.finish("skipped", order, usd_requested=c.amount)
            continue
        c.size, c.limit_px = order
    if live and not isinstance(balance, BaseException) and balance is not None:
        _check_balance(active, balance)
    elif live and isinstance(balance, BaseException):
        for c in active:
            if c.result is None and c.venue == "hyperliquid":
                c.finish("failed", f"temporary: cannot read the USDC balance: {balance}")
    if request.dry_run:
        for c in active:
            if c.result is None:
                c.finish(
                    "planned",
                    f"IOC buy {c.size} at limit {c.limit_px} ({c.reason or 'fixed amount'})",
                    usd_requested=c.amount,
                    size=c.size,
                )


def _day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(tz))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=1, hours=3)).replace(hour=0)
    return start, end


def _check_balance(active: Sequence[Candidate], balance: Any) -> None:
    """Admit live orders in config order while their notional fits the spendable USDC."""
    usdc = balance.get("USDC") if isinstance(balance, dict) else None
    have = usdc.available if usdc is not None else Decimal(0)
    left = have
    for c in active:
        if c.result is not None or c.venue != "hyperliquid":
            continue
        need = c.size * c.limit_px
        if need > left:
            c.finish(
                "failed",
                f"insufficient USDC in the spot account: need {need:f}, have {left:f}",
                usd_requested=c.amount,
            )
        else:
            left -= need


async def _place(session: Session, ready: list[Candidate], request: RunRequest) -> None:
    """Write each intent ahead, then fill paper ones and send live ones (one action if parallel)."""
    now = utcnow()
    live_ones: list[tuple[Candidate, OrderIntent]] = []
    for c in ready:
        assert c.market is not None and c.quote is not None
        intent = OrderIntent(
            cloid=c.cloid,
            asset=c.symbol,
            venue=c.market.venue,
            period=c.period,
            attempt=c.attempt,
            usd_requested=c.amount,
            size=c.size,
            limit_px=c.limit_px,
            created_at=now,
            pair=c.market.pair,
            asset_id=c.market.asset_id,
            period_end=c.period_end,
            reason=c.reason,
        )
        if c.market.venue == "paper":
            _fill_paper(session, c, intent, now)
        else:
            session.ledger.record_intent(intent)
            live_ones.append((c, intent))
    if not live_ones:
        return
    from dcactl.crash import crash_point

    crash_point("after_intent")
    if request.parallel:
        await _send(session, live_ones)
    else:
        for pair in live_ones:
            await _send(session, [pair])


def _fill_paper(session: Session, c: Candidate, intent: OrderIntent, now: datetime) -> None:
    assert c.market is not None and c.quote is not None
    if c.market.listed:
        fill = paper.fill_from_book(
            c.market,
            c.quote.asks,
            c.size,
            c.limit_px,
            time=now,
            cloid=c.cloid,
            period=c.period,
            reason=c.reason,
        )
    else:
        fill = paper.fill_from_quote(
            c.market, c.size, c.limit_px, time=now, cloid=c.cloid, period=c.period, reason=c.reason
        )
    status: IntentStatus = "paper" if fill is not None else "unfilled"
    session.ledger.record_intent(replace(intent, status=status), [fill] if fill is not None else [])
    if fill is None:
        c.finish("failed", "paper: the book had no asks within the limit price", usd_requested=c.amount)
        return
    c.finish(
        "paper",
        c.reason,
        usd_requested=c.amount,
        usd_filled=fill.usd.quantize(Decimal("0.01")),
        size=fill.size,
        avg_price=fill.price,
        fee=fill.fee,
        fee_token=fill.fee_token,
    )


async def _send(session: Session, batch: list[tuple[Candidate, OrderIntent]]) -> None:
    """Sign and send one order action for ``batch``; read outcomes position by position."""
    from dcactl.crash import crash_point
    from dcactl.venues.hyperliquid import OrderOutcomeUnknown, OrderRequest

    requests = [
        OrderRequest(
            asset_id=i.asset_id or 0, is_buy=True, price=i.limit_px, size=i.size, cloid=i.cloid, label=i.asset
        )
        for _, i in batch
    ]
    try:
        outcomes = await session.hl.place_orders(session.signer.account, requests)
    except OrderOutcomeUnknown as exc:
        output.warn(f"order outcome unknown ({exc}); asking the exchange by cloid")
        notes = await reconcile_intents(session, only={i.cloid for _, i in batch})
        for note in notes:
            output.info(note)
        await _report_settled(session, batch)
        return
    except DcactlError as exc:
        for c, intent in batch:
            session.ledger.update_intent(intent.cloid, status="rejected", reason=str(exc))
            c.finish("failed", _failure_reason(exc), usd_requested=intent.usd_requested)
        return
    crash_point("after_response")
    filled_oids: dict[int, tuple[Candidate, OrderIntent]] = {}
    for (c, intent), outcome in zip(batch, outcomes, strict=True):
        if outcome.kind == "error":
            text = outcome.error or "rejected"
            state: IntentStatus = "unfilled" if outcome.error_kind == "no_match" else "rejected"
            session.ledger.update_intent(intent.cloid, status=state, reason=text)
            c.finish(
                "failed",
                f"{text} ({c.symbol} {intent.size} @ {intent.limit_px}); the period stays due",
                usd_requested=intent.usd_requested,
            )
        elif outcome.oid is not None:
            session.ledger.update_intent(intent.cloid, status="sent", oid=outcome.oid)
            filled_oids[outcome.oid] = (c, replace(intent, oid=outcome.oid, status="sent"))
    if filled_oids:
        since = min(i.created_at for _, i in filled_oids.values()) - timedelta(seconds=5)
        found = await fills_by_oid(session, set(filled_oids), since)
        crash_point("before_fills_recorded")
        for oid, (_, intent) in filled_oids.items():
            settle_intent(session, intent, found.get(oid, []), finished=False)
        await _report_settled(session, list(filled_oids.values()))


async def _report_settled(session: Session, batch: Sequence[tuple[Candidate, OrderIntent]]) -> None:
    """Turn each intent's ledger state (after settling) into the asset's result."""
    for c, intent in batch:
        current = session.ledger.intent(intent.cloid)
        fills = session.ledger.fills_for_order(cloid=intent.cloid)
        status = current.status if current else "new"
        if status in ("filled", "partial"):
            c.finish(status, c.reason, oid=current.oid if current else None, **_fill_fields(intent, fills))
        elif status in ("new", "sent"):
            c.finish(
                "pending",
                "the order's outcome is not known yet; the next run resolves it",
                usd_requested=intent.usd_requested,
            )
        else:
            c.finish(
                "failed", (current.reason if current else None) or status, usd_requested=intent.usd_requested
            )


def _fill_fields(intent: OrderIntent, fills: Sequence[Fill]) -> dict[str, Any]:
    size = sum((f.size for f in fills), Decimal(0))
    usd = sum((f.usd for f in fills), Decimal(0))
    fee = sum((f.fee for f in fills), Decimal(0))
    return {
        "usd_requested": intent.usd_requested,
        "usd_filled": usd.quantize(Decimal("0.01")) if fills else None,
        "size": size if fills else None,
        "avg_price": (usd / size).quantize(Decimal("1e-8")).normalize() if size else None,
        "fee": fee if fills else None,
        "fee_token": fills[0].fee_token if fills else None,
    }


__all__ = ["RunRequest", "execute", "exit_code_for", "iso_utc", "to_ms"]
