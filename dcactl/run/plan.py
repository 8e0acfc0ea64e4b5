"""Deciding a run: which assets are due, how much to buy, at what limit. Reads, never writes orders.

Stages (each concurrent across assets, each one round trip at most):

1. **resolve**: spot metadata (ledger cache, 1 h) → a Market per asset;
2. **history** of the assets with dynamic frequency (their schedule, hence the due check, depends
   on it): daily closes from the ledger's candle cache (:mod:`dcactl.market.candles`), refreshed only when
   a completed candle is missing, within a share of the request budgets (the rest of a cold warm-up
   waits for the next run) — a round only when such an asset's cache is behind;
3. **due**: the effective schedule (dynamic frequency may change it) → period, due check, attempt
   and cloid; an intent whose fate is unknown makes the asset ``pending``;
4. **read + size**: books / CoinGecko quotes, the USDC balance, the exchange's status of every
   cloid about to be used and the history of every other asset still to decide (one round), then
   the strategy's decision, buy-only rebalancing, the caps in config order, rounding to the
   exchange's rules, the balance check. An asset that is not due never has its candles refreshed
   by ``run`` (``plan`` decides every asset, so it refreshes them all).

Every candidate ends with either a result (``not_due``, ``skipped``, ``failed``, ``pending``, or
``planned`` in a dry run) or a sized order ready for :mod:`dcactl.run.execute` to place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.errors import DcactlError, UsageError
from dcactl.market.data import Quote, load_spot_meta, quotes_for
from dcactl.models import AssetResult, Market, ResultStatus, Venue, make_cloid
from dcactl.run.amounts import decide_amounts, valuation_markets
from dcactl.run.reasons import ASSET_TIMEOUT_S, failure_reason
from dcactl.run.reconcile import ADOPT_ATTEMPTS, adopt_orders

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig
    from dcactl.session import Session
    from dcactl.strategy import Decision

PRICE_MARGIN = Decimal("0.001")
"""Added above the price that fills the whole size, so a book that moves a tick still fills."""



@dataclass(frozen=True)
class RunRequest:
    """What the user asked for: ``run`` (every due asset), ``buy`` (one asset) or ``plan``."""

    command: str = "run"
    parallel: bool = True
    dry_run: bool = False
    only: tuple[str, ...] = ()
    force: bool = False
    amount: Decimal | None = None

    @property
    def plan(self) -> bool:
        """``plan``: decide every asset, due or not, and place nothing."""
        return self.command == "plan"


@dataclass
class Candidate:
    """One asset on its way through a run; ``result`` is set once its outcome is known."""

    asset: AssetConfig
    market: Market | None = None
    closes: list[float] | None = None
    hourly: list[float] | None = None
    history_notes: list[str] = field(default_factory=list)
    due: bool = True
    due_reason: str = ""
    period: str = ""
    period_end: datetime | None = None
    attempt: int = 1
    cloid: str = ""
    decision: Decision | None = None
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
    def key(self) -> str | None:
        """What periods, intents and cloids are keyed by: the resolved market's pair (``@142``,
        ``coingecko:bitcoin``), so a renamed entry keeps its history; None before resolution."""
        return None if self.market is None else self.market.pair

    @property
    def venue(self) -> Venue:
        """Where this asset is bought: ``hyperliquid`` or ``paper``."""
        if self.market is not None:
            return self.market.venue
        return "paper" if self.asset.venue == "paper" else "hyperliquid"

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
        from dcactl.config.values import suggest

        hints = [h for h in (suggest(u, known) for u in unknown) if h]
        tail = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise UsageError(f"unknown asset {', '.join(unknown)}{tail} (configured: {', '.join(sorted(known))})")
    if request.command == "buy":
        return [a for a in config.assets if a.symbol in wanted]
    return [a for a in config.assets if a.enabled and (not wanted or a.symbol in wanted)]


async def prepare(session: Session, candidates: list[Candidate], request: RunRequest, now: datetime) -> None:
    """Run stages 1-4 on ``candidates`` (see the module docstring)."""
    await resolve(session, candidates, now)
    await load_histories(session, [c for c in candidates if _schedule_reads_history(c.asset)], request, now)
    decide_due(session, candidates, request, now)
    await read_and_size(session, candidates, request, now)


async def _guarded(coro: Any) -> Any:
    """Await ``coro`` with the per-asset timeout; our errors and timeouts are returned, not raised."""
    try:
        return await asyncio.wait_for(coro, ASSET_TIMEOUT_S)
    except (DcactlError, TimeoutError) as exc:
        return exc


async def resolve(session: Session, candidates: list[Candidate], now: datetime) -> None:
    """Attach a Market to each candidate (spot metadata from the ledger cache or the exchange)."""
    from dcactl.market.resolve import resolve_markets

    try:
        meta, warning = await load_spot_meta(session.hl, session.ledger, now, background=session.background)
    except DcactlError as exc:
        for c in candidates:
            if not (c.asset.venue == "paper" and c.asset.coingecko_id):
                c.finish("failed", failure_reason(exc))
        meta, warning = {"tokens": [], "universe": []}, None
    if warning:
        session.warn(warning)
    pending = [c for c in candidates if c.result is None]
    markets = resolve_markets(
        [(c.symbol, c.asset.venue, c.asset.pair, c.asset.coingecko_id) for c in pending], meta
    )
    for c in pending:
        market = markets.get(c.symbol)
        if isinstance(market, Market):
            # paper mode simulates every buy: a listed asset keeps its pair so it walks the real book
            c.market = market if session.live else replace(market, venue="paper")
        else:
            c.finish("failed", str(market) if market else "could not resolve")


async def load_histories(
    session: Session, candidates: list[Candidate], request: RunRequest, now: datetime
) -> None:
    """Daily (and, for an hourly RSI, hourly) closes for every asset whose rules read history; none
    when ``--amount`` decides.

    The cache is refreshed in one concurrent round, at most one request per series and only when a
    completed candle is missing; what does not fit this run's share of the request budgets is
    deferred to the next run (:func:`dcactl.market.candles.admit`) with a warning, and those assets decide on
    what is cached. The strategy package (and numpy with it) is imported only when some asset needs
    history, so the common cron run of a fixed-amount portfolio with nothing due stays light.
    """
    wanted = [
        c
        for c in candidates
        if c.result is None and c.market is not None and request.amount is None and needs_history(c.asset)
    ]
    if not wanted:
        return
    from dcactl.market import candles
    from dcactl.strategy import history_days, history_hours

    series: list[tuple[Candidate, candles.Refresh]] = []
    for c in wanted:
        assert c.market is not None
        days = history_days(c.asset)
        for interval, count in (("1d", days if days > 1 else 0), ("1h", history_hours(c.asset))):
            if count > 0:
                series.append((c, candles.plan_refresh(session.ledger, c.market, interval, count, now)))
    needed = [r for _, r in series if r.needed]
    room = {
        True: candles.room(session.hl.budget) if any(r.market.listed for r in needed) else 0.0,
        False: candles.room(session.cg.budget) if any(not r.market.listed for r in needed) else 0.0,
    }
    admitted, deferred = candles.admit(needed, room)
    answers = await asyncio.gather(
        *(_guarded(candles.fetch(session.hl, session.cg, session.ledger, r)) for r in admitted)
    )
    failed = {id(r): exc for r, exc in zip(admitted, answers, strict=True) if isinstance(exc, BaseException)}
    late = {id(r) for r in deferred}
    for c, r in series:
        if c.result is not None:
            continue
        if id(r) in failed:
            c.finish("failed", f"price history unavailable: {failure_reason(failed[id(r)])}")
            continue
        closes = [float(x) for x in candles.cached_closes(session.ledger, r)]
        if r.interval == "1h":
            c.hourly = closes
        else:
            c.closes = closes
        if id(r) in late:
            label, unit = ("hourly", "hours") if r.interval == "1h" else ("daily", "days")
            c.history_notes.append(
                f"{label} candles not refreshed this run (request budget): the rules read the "
                f"{len(closes)} of {r.count} {unit} cached; a later run fetches the rest"
            )
    if deferred:
        names = ", ".join(dict.fromkeys(r.market.symbol for r in deferred))
        session.warn(
            f"price history of {names} deferred to a later run to stay within this run's share of the "
            "request budget; their rules read what is cached"
        )


def _schedule_reads_history(asset: AssetConfig) -> bool:
    """Dynamic frequency: the due check itself depends on the asset's closes."""
    return asset.dynamic_frequency is not None and asset.dynamic_frequency.enabled


def needs_history(asset: AssetConfig) -> bool:
    """Whether any of the asset's rules reads closes (``history_days(asset) > 1`` or
    ``history_hours(asset) > 0``)."""
    enabled = [r for r in (asset.rsi, asset.ma_dips, asset.dynamic_frequency) if r is not None and r.enabled]
    return asset.sizing.kind == "volatility" or bool(enabled)


def last_buy_of(ledger: Any, asset: AssetConfig, venue: str | None = None, pair: str | None = None) -> Any:
    """The ledger's last scheduled buy of ``asset`` (on ``venue`` when given; of its market ``pair``
    when given, whatever the entry was called) as ``schedule.is_due`` wants it (bounds known)."""
    from dcactl.schedule.periods import LastBuy, period_of

    record = ledger.last_buy(asset.symbol, venue, pair=pair)
    if record is None:
        return None
    start, end = record.period_start, record.period_end
    if start is None or end is None:  # written without bounds: take the period under today's schedule
        period = period_of(asset.schedule, record.at, "UTC")
        start, end = start or period.start, end or period.end
    return LastBuy(at=record.at, period_start=start, period_end=end)


def decide_due(session: Session, candidates: list[Candidate], request: RunRequest, now: datetime) -> None:
    """Period (under the effective schedule), due check, pending intents, attempt number and cloid."""
    from dcactl.schedule.periods import forced_period_id, is_due

    ledger = session.ledger
    tz = session.config.settings.timezone
    for c in candidates:
        if c.result is not None:
            continue
        if request.force:
            c.period, c.period_end = forced_period_id(now), None
        else:
            schedule = c.asset.schedule
            if _schedule_reads_history(c.asset):
                from dcactl.strategy import PriceHistory, effective_schedule

                schedule = effective_schedule(c.asset, PriceHistory.of(c.closes or []))
            check = is_due(schedule, tz, now, last_buy_of(ledger, c.asset, c.venue, c.key))
            c.period, c.period_end, c.due_reason = check.period.id, check.period.end, check.reason
            if not check.due:
                c.due = False
                if not request.plan:
                    c.finish("not_due", check.reason)
                continue
        every = ledger.intents_for(c.symbol, c.period, pair=c.key)  # attempts are numbered across venues
        earlier = [i for i in every if i.venue == c.venue]
        unresolved = [i for i in earlier if i.status in ("new", "sent")]
        if unresolved:
            c.cloid = unresolved[-1].cloid
            c.finish("pending", "an earlier order's fate is still unknown; the next run resolves it first")
            continue
        c.attempt = max((i.attempt for i in every), default=0) + 1
        key = c.key or c.symbol
        c.cloid = make_cloid(session.network, session.account, key, c.period, c.attempt, c.venue)


async def read_and_size(
    session: Session, candidates: list[Candidate], request: RunRequest, now: datetime
) -> None:
    """One concurrent round of reads, then decisions, rebalancing, caps, rounding, the balance check."""
    active = [c for c in candidates if c.result is None]
    if not active:
        return
    markets = [c.market for c in active if c.market is not None]
    markets += valuation_markets(session, candidates)
    live = session.live and not request.dry_run and not request.plan
    # a live dry run reads the balance too, so it shows what the real run would do (issue 11)
    funds = session.live and not request.plan
    checks = [
        (c, attempt, cloid)
        for c in active if live and c.due and c.venue == "hyperliquid"
        for attempt, cloid in _cloids_to_check(session, c)
    ]
    tasks: list[Any] = [_guarded(quotes_for(session.hl, session.cg, markets))]
    if funds:
        tasks.append(_guarded(session.hl.spot_balances(session.account)))
        tasks += [_guarded(session.hl.order_status(session.account, cloid)) for _, _, cloid in checks]
    # in the same round: the candles of every asset still to decide (failures finish the asset)
    # (dynamic-frequency assets had theirs before the due check)
    deciding = [c for c in active if (c.due or request.plan) and not _schedule_reads_history(c.asset)]
    answers = await asyncio.gather(load_histories(session, deciding, request, now), *tasks)
    answers = answers[1:]
    quotes = answers[0] if isinstance(answers[0], dict) else {m.symbol: answers[0] for m in markets}
    balance: Any = answers[1] if funds else None
    found = []
    for (c, attempt, cloid), status in zip(checks, answers[2:], strict=True):
        if c.result is not None:
            continue
        if isinstance(status, BaseException):
            c.finish("failed", f"temporary: cannot check order {cloid} before placing it: {status}")
        elif status.known:
            found.append((c, attempt, cloid, status))
    if found:
        await adopt_orders(session, found)
    decide_amounts(session, active, quotes, request, now)
    _size_orders(session, active, now)
    if funds:
        if isinstance(balance, BaseException):
            for c in active:
                if c.result is None and c.venue == "hyperliquid":
                    c.finish("failed", f"temporary: cannot read the USDC balance: {balance}")
        else:
            _check_balance(active, balance)
    if request.dry_run or request.plan:
        for c in active:
            if c.result is None:
                c.finish(
                    "planned",
                    f"IOC buy {c.size:f} at limit {c.limit_px:f}; {c.reason}",
                    usd_requested=c.amount,
                    size=c.size,
                )


def _cloids_to_check(session: Session, c: Candidate) -> list[tuple[int, str]]:
    """The (attempt, cloid) pairs to ask the exchange about before placing ``c``'s order: its own, and
    for a period's first attempt the next ones too (another ledger may have bought it under those)."""
    last = ADOPT_ATTEMPTS if c.attempt == 1 else c.attempt
    key = c.key or c.symbol
    return [(c.attempt, c.cloid)] + [
        (n, make_cloid(session.network, session.account, key, c.period, n, c.venue))
        for n in range(c.attempt + 1, last + 1)
    ]


def day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The calendar day of ``now`` in ``tz``: [local midnight, next local midnight)."""
    from zoneinfo import ZoneInfo

    start = now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)  # aware arithmetic is wall-clock: 23 or 25 h on DST days


def _size_orders(session: Session, active: Sequence[Candidate], now: datetime) -> None:
    """Caps in config order, then each order priced from its book and rounded to the exchange's rules."""
    from dcactl.run.sizing import apply_caps, round_order

    settings = session.config.settings
    committed = session.ledger.usd_committed(*day_bounds(now, settings.timezone), real_only=session.live)
    sized = [c for c in active if c.result is None and c.due]
    verdicts = apply_caps(
        [c.amount for c in sized], settings.max_usd_per_run, settings.max_usd_per_day, committed
    )
    for c, verdict in zip(sized, verdicts, strict=True):
        if verdict:
            c.finish("skipped", verdict, usd_requested=c.amount)
    for c in active:
        if c.result is not None or c.market is None or c.quote is None:
            continue
        if c.amount <= 0:
            c.finish("skipped", c.reason or "nothing to buy", usd_requested=c.amount)
            continue
        order = round_order(c.market, c.quote, c.amount, settings.max_slippage_bps, PRICE_MARGIN)
        if isinstance(order, str):
            c.finish("skipped", order, usd_requested=c.amount)
            continue
        c.size, c.limit_px = order


def _check_balance(active: Sequence[Candidate], balance: Any) -> None:
    """Admit live orders in config order while their notional fits the spendable USDC."""
    usdc = balance.get("USDC") if isinstance(balance, dict) else None
    left = usdc.available if usdc is not None else Decimal(0)
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
