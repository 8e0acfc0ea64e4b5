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

This module is the imperative shell: it gathers the :class:`~dcactl.run.core.Snapshot` (and settles
what fails while gathering, and orders it adopts), and :func:`dcactl.run.core.decide_run` decides.
Every asset ends with either a result (``not_due``, ``skipped``, ``failed``, ``pending``, or
``planned`` in a dry run) or a sized order ready for :mod:`dcactl.run.execute` to place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from dcactl.errors import DcactlError, UsageError
from dcactl.market.data import Quote, load_spot_meta, quotes_for
from dcactl.models import AssetResult, Market
from dcactl.run.core import (
    AssetDecision,
    RunRequest,
    Snapshot,
    Unavailable,
    cloids_to_check,
    decide_run,
    due_phase,
    needs_history,
    reads_history_for_schedule,
    valuation_symbols,
)
from dcactl.run.reasons import ASSET_TIMEOUT_S, Failure, failure_of
from dcactl.run.reconcile import adopt_orders
from dcactl.timing import mark

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from dcactl.config.keys import Signer
    from dcactl.config.schema import AssetConfig
    from dcactl.session import Session
    from dcactl.venues.base import OrderStatus

T = TypeVar("T")


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


@dataclass
class _Gathered:
    """What the shell has read so far (becomes the :class:`Snapshot`)."""

    markets: dict[str, Market] = field(default_factory=dict)
    closes: dict[str, list[float]] = field(default_factory=dict)
    hourly: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    quotes: dict[str, Quote | Unavailable] = field(default_factory=dict)
    balance: Decimal | Unavailable | None = None
    settled: dict[str, AssetResult] = field(default_factory=dict)

    def snapshot(self, session: Session, now: datetime) -> Snapshot:
        return Snapshot(
            now=now, network=session.network, account=session.account, live=session.live,
            markets=dict(self.markets), closes=dict(self.closes), hourly=dict(self.hourly),
            notes={s: tuple(n) for s, n in self.notes.items()}, quotes=dict(self.quotes),
            balance=self.balance, settled=dict(self.settled),
        )

    def fail(self, asset: AssetConfig, reason: str | Failure) -> None:
        market = self.markets.pop(asset.symbol, None)
        self.settled[asset.symbol] = AssetDecision(asset=asset, market=market).outcome("failed", reason)


async def prepare(
    session: Session, assets: Sequence[AssetConfig], request: RunRequest, now: datetime,
    key: Awaitable[Signer] | None = None,
) -> tuple[list[AssetDecision], Snapshot]:
    """Gather (stages 1-4 of the module docstring) and decide: every asset's decision, in config
    order, and the snapshot it was decided on.

    ``key``: the signer of a live run, still loading in a thread; it is awaited before anything the
    reads found is acted on (a bad key raises its SecretError there), so it loads while they wait."""
    got = _Gathered()
    await resolve(session, assets, got, now)
    await load_histories(session, [a for a in assets if reads_history_for_schedule(a)], got, request, now)
    slots = due_phase(session.config, request, assets, got.snapshot(session, now), session.ledger)
    await read_round(session, slots, got, request, now, key)
    if key is not None:
        await key
    snapshot = got.snapshot(session, now)
    decisions = decide_run(session.config, request, assets, snapshot, session.ledger)
    mark("decided")
    return decisions, snapshot


async def _guarded(coro: Awaitable[T]) -> T | DcactlError | TimeoutError:
    """Await ``coro`` with the per-asset timeout; our errors and timeouts are returned, not raised.
    (``asyncio.timeout``, not ``wait_for``: on 3.11 ``wait_for`` can swallow a cancellation that
    lands as its awaitable finishes, and a Ctrl-C would then let the run carry on and exit 0.)"""
    try:
        async with asyncio.timeout(ASSET_TIMEOUT_S):
            return await coro
    except (DcactlError, TimeoutError) as exc:
        return exc


async def resolve(session: Session, assets: Sequence[AssetConfig], got: _Gathered, now: datetime) -> None:
    """A Market per asset (spot metadata from the ledger cache or the exchange)."""
    from dcactl.market.resolve import resolve_markets

    pending = list(assets)
    try:
        meta, warning = await load_spot_meta(session.hl, session.ledger, now, background=session.background)
    except DcactlError as exc:
        pending = [a for a in assets if a.venue == "paper" and a.coingecko_id]
        for a in assets:
            if a not in pending:
                got.fail(a, failure_of(exc))
        meta, warning = {"tokens": [], "universe": []}, None
    if warning:
        session.warn(warning)
    markets = resolve_markets([(a.symbol, a.venue, a.pair, a.coingecko_id) for a in pending], meta)
    for a in pending:
        market = markets.get(a.symbol)
        if isinstance(market, Market):
            # paper mode simulates every buy: a listed asset keeps its pair so it walks the real book
            got.markets[a.symbol] = market if session.live else replace(market, venue="paper")
        else:
            got.fail(a, str(market) if market else "could not resolve")


async def load_histories(
    session: Session, assets: Sequence[AssetConfig], got: _Gathered, request: RunRequest, now: datetime
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
        a for a in assets
        if a.symbol in got.markets and a.symbol not in got.settled and request.amount is None
        and needs_history(a)
    ]
    if not wanted:
        return
    from dcactl.market import candles
    from dcactl.strategy import history_days, history_hours

    series: list[tuple[AssetConfig, candles.Refresh]] = []
    for a in wanted:
        market = got.markets[a.symbol]
        days = history_days(a)
        for interval, count in (("1d", days if days > 1 else 0), ("1h", history_hours(a))):
            if count > 0:
                series.append((a, candles.plan_refresh(session.ledger, market, interval, count, now)))
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
    for a, r in series:
        if a.symbol in got.settled:
            continue
        if id(r) in failed:
            got.fail(a, failure_of(failed[id(r)]).about("price history unavailable"))
            continue
        closes = [float(x) for x in candles.cached_closes(session.ledger, r)]
        (got.hourly if r.interval == "1h" else got.closes)[a.symbol] = closes
        if id(r) in late:
            label, unit = ("hourly", "hours") if r.interval == "1h" else ("daily", "days")
            got.notes.setdefault(a.symbol, []).append(
                f"{label} candles not refreshed this run (request budget): the rules read the "
                f"{len(closes)} of {r.count} {unit} cached; a later run fetches the rest"
            )
    if deferred:
        names = ", ".join(dict.fromkeys(r.market.symbol for r in deferred))
        session.warn(
            f"price history of {names} deferred to a later run to stay within this run's share of the "
            "request budget; their rules read what is cached"
        )


async def read_round(
    session: Session, slots: Sequence[AssetDecision], got: _Gathered, request: RunRequest, now: datetime,
    key: Awaitable[Signer] | None = None,
) -> None:
    """One concurrent round of reads: the quotes of every asset still open (and of the not-due targets
    that rebalancing values), the USDC balance and the exchange's status of every cloid about to be
    used (live), and the candles of every asset still to decide. An order the exchange already has
    under one of those cloids is adopted. ``key`` (see :func:`prepare`) is awaited once the reads are
    in, before any answer is acted on."""
    active = [d for d in slots if d.result is None]
    if not active:
        return
    by_symbol = {d.symbol: d for d in slots}
    markets = [d.market for d in active if d.market is not None]
    markets += [got.markets[s] for s in valuation_symbols(session.config, slots)]
    live = session.live and not request.dry_run and not request.plan
    # a live dry run reads the balance too, so it shows what the real run would do (issue 11)
    funds = session.live and not request.plan
    snap = got.snapshot(session, now)
    checks = [
        (d, attempt, cloid)
        for d in active if live and d.due and d.real
        for attempt, cloid in cloids_to_check(snap, d)
    ]
    # in the same round: the candles of every asset still to decide (failures settle the asset)
    # (dynamic-frequency assets had theirs before the due check)
    deciding = [d.asset for d in active
                if (d.due or request.plan) and not reads_history_for_schedule(d.asset)]
    signing = live and any(d.real and d.due for d in active)
    # while the answers are awaited, not after them
    warm = asyncio.ensure_future(_warm(session, key if signing else None))
    quotes_task = _guarded(quotes_for(session.hl, session.cg, markets))
    balance_task = _guarded(session.hl.spot_balances(session.account)) if funds else None
    status_tasks = [_guarded(session.hl.order_status(session.account, cloid)) for _, _, cloid in checks]
    try:
        _, quotes, balance, statuses = await asyncio.gather(
            load_histories(session, deciding, got, request, now), quotes_task,
            balance_task if balance_task is not None else _none(), asyncio.gather(*status_tasks),
        )
    except BaseException:
        warm.cancel()
        raise
    mark("reads_done")  # the books' age is counted from here: waiting for the warm-up is in it
    await warm
    if key is not None:
        await key  # a bad key stops the run here (SecretError), before any answer is acted on
    for m in markets:
        q = quotes.get(m.symbol) if isinstance(quotes, dict) else quotes
        got.quotes[m.symbol] = q if isinstance(q, Quote) else Unavailable(
            failure_of(q) if isinstance(q, BaseException) else Failure("no price"))
    if isinstance(balance, BaseException):
        unread = failure_of(balance).about("cannot read the USDC balance")
        got.balance = Unavailable(replace(unread, temporary=True))  # whatever the cause, a later run may
    elif balance is not None:
        usdc = balance.get("USDC")
        got.balance = usdc.available if usdc is not None else Decimal(0)
    found: list[tuple[AssetDecision, int, str, OrderStatus]] = []
    for (d, attempt, cloid), status in zip(checks, statuses, strict=True):
        if d.symbol in got.settled:
            continue
        if isinstance(status, BaseException):
            checking = failure_of(status).about(f"cannot check order {cloid} before placing it")
            got.fail(d.asset, replace(checking, temporary=True))
        elif status.known:
            found.append((by_symbol[d.symbol], attempt, cloid, status))
    if found:
        got.settled.update(await adopt_orders(session, found))


async def _none() -> None:
    return None


async def _warm(session: Session, key: Awaitable[Signer] | None) -> None:
    """What deciding and signing need that the reads do not, done in threads during the read round:
    the strategy (numpy) imported, and the key loaded (``key``: it is awaited here, and a bad key's
    error left for :func:`read_round` to raise) and then its signing path run once
    (:func:`_warm_up`). So the book's age when the order leaves is only deciding, the write-ahead
    commit and signing (issue 17).

    The imports start once the round's requests are written: until then they would take the
    interpreter from the loop sending them (importing numpy holds it for about a tenth of a second);
    afterwards the loop is mostly waiting for the answers. They do not wait for the key: a signer
    made in a second process can be ready after the answers are in, and deciding needs numpy, not
    the signer."""
    await asyncio.sleep(0)  # the round's tasks start their requests
    if session.has_hl:
        await session.hl.http.requests_written()
    imported = asyncio.ensure_future(asyncio.to_thread(_warm_up, None))
    signer = None
    if key is not None:
        try:
            signer = (await key).account
        except Exception:  # raised by read_round once the reads are in
            signer = None
    await imported
    from dcactl.venues.hl_signing import SignsApart

    if signer is not None and not isinstance(signer, SignsApart):  # apart: its process signed once
        await asyncio.to_thread(_warm_up, signer)


def _warm_up(signer: LocalAccount | None) -> None:
    """The strategy (numpy) imported, and with ``signer`` the signing path run once on a throwaway
    action (the first signature of a process costs tens of ms; nothing is sent)."""
    import dcactl.strategy  # noqa: F401

    if signer is not None:
        from dcactl.venues.hl_signing import sign_action

        sign_action(signer, {"type": "dcactl-warm-up"}, 0, vault=None, is_mainnet=False)
