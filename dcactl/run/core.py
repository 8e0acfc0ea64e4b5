"""The run's decisions: one pure function of plain values. No I/O, no printing, no Session.

:func:`decide_run` takes the config, what the user asked for (:class:`RunRequest`), the assets in
config order, a :class:`Snapshot` of what the shell read (markets, closes, quotes, the USDC balance,
the assets the shell already settled) and a read-only view of the ledger (:class:`LedgerReads`), and
returns one immutable :class:`AssetDecision` per asset: settled (``not_due``, ``pending``,
``skipped``, ``failed``, ``planned``) or an order ready to place (size, limit, cloid, reasons).

Its stages are public because the shell and the backtest need them on their own:

- :func:`due_phase`: period under the effective schedule, the due check, an earlier intent whose fate
  is unknown (``pending``), the attempt number and the cloid. The shell calls it before its read round
  (the reads depend on what is due); :func:`decide_run` calls it again on the same values.
- :func:`decide_amounts`: the strategy's decision per asset, ``buy --force``, buy-only rebalancing
  over the due assets and the caps in config order. The backtest calls it at every tick.
- :func:`dcactl.run.sizing.round_order` and :func:`admit_balance`: the order priced from the book,
  rounded to the exchange's rules, and admitted while the spendable USDC lasts.

The data flow is one way: the shell gathers (:mod:`dcactl.run.plan`), this module decides, the
executor places and records (:mod:`dcactl.run.execute`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from dcactl.models import AssetResult, Market, ResultStatus, Venue, make_cloid
from dcactl.run.reasons import Failure
from dcactl.run.sizing import Order, apply_caps, round_order
from dcactl.schedule.periods import DueCheck, LastBuy, Schedule, forced_period_id, is_due, period_of
from dcactl.venues.paper import Quote

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig, Config
    from dcactl.ledger.records import LastBuyRecord, PositionRow
    from dcactl.models import OrderIntent
    from dcactl.strategy import Decision
    from dcactl.strategy.decide import Closes

ZERO = Decimal(0)

PRICE_MARGIN = Decimal("0.001")
"""Added above the price that fills the whole size, so a book that moves a tick still fills."""

ADOPT_ATTEMPTS = 3
"""A run about to place a period's first attempt also asks for the cloids of the next ones up to this
number: another ledger of the account may have bought the period under a later attempt."""


class LedgerReads(Protocol):
    """What the decisions read from the ledger (the :class:`dcactl.ledger.Ledger` has these; the
    backtest and tests pass their own). Reads only: the core never writes."""

    def last_buy(
        self, asset: str, venue: str | None = None, *, pair: str | None = None
    ) -> LastBuyRecord | None:
        """The newest completed, non-forced buy of ``asset`` (on ``venue``; of market ``pair``)."""

    def intents_for(self, asset: str, period: str, *, pair: str | None = None) -> list[OrderIntent]:
        """Every attempt of ``asset`` (of market ``pair``) in ``period``, oldest first."""

    def bank(self, asset: str, *, before_period: str | None = None) -> Decimal:
        """The asset's banked USDC, leaving out ``before_period``'s own decision."""

    def usd_committed(self, start: datetime, end: datetime, *, real_only: bool = True) -> Decimal:
        """USDC committed (fills and open intents) in ``[start, end)``."""

    def positions(self) -> Sequence[PositionRow]:
        """Units and cost per (asset, source)."""

    def last_price(self, asset: str) -> Decimal | None:
        """The price of the asset's newest fill, or None."""


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for: ``run`` (every due asset), ``buy`` (one asset) or ``plan``."""

    command: Literal["run", "buy", "plan"] = "run"
    parallel: bool = True
    dry_run: bool = False
    only: tuple[str, ...] = ()
    force: bool = False
    amount: Decimal | None = None

    @property
    def plan(self) -> bool:
        """``plan``: decide every asset, due or not, and place nothing."""
        return self.command == "plan"


@dataclass(frozen=True)
class Unavailable:
    """A value the shell could not read, and why."""

    failure: Failure


@dataclass(frozen=True)
class Snapshot:
    """Everything a run's decisions read that is not config or ledger: plain values, by symbol.

    ``markets`` holds every resolved asset (the shell settles the others in ``settled``, with the
    assets whose history or order check failed and those it adopted); ``quotes`` the books or
    CoinGecko prices read this run; ``balance`` the spendable USDC of a live run (None when it was
    not read); ``network``/``account`` name the cloids; ``live`` says whose fills count (real or
    paper) for the day's cap and rebalancing."""

    now: datetime
    network: str
    account: str
    live: bool
    markets: Mapping[str, Market] = field(default_factory=dict)
    closes: Mapping[str, Sequence[float]] = field(default_factory=dict)
    hourly: Mapping[str, Sequence[float]] = field(default_factory=dict)
    notes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    quotes: Mapping[str, Quote | Unavailable] = field(default_factory=dict)
    balance: Decimal | Unavailable | None = None
    settled: Mapping[str, AssetResult] = field(default_factory=dict)


@dataclass(frozen=True)
class AssetDecision:
    """One asset's decision: ``result`` when it is settled, else ``order`` to place."""

    asset: AssetConfig
    market: Market | None = None
    due: bool = True
    due_reason: str = ""
    period: str = ""
    period_end: datetime | None = None
    attempt: int = 1
    cloid: str = ""
    decision: Decision | None = None
    quote: Quote | None = None
    amount: Decimal = ZERO
    order: Order | None = None
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

    @property
    def real(self) -> bool:
        """Its order goes to the exchange (spends the account's spot USDC), not to paper."""
        return self.market is not None and self.market.real

    @property
    def size(self) -> Decimal:
        """The order's size in base units (0 without an order)."""
        return ZERO if self.order is None else self.order.size

    @property
    def limit_px(self) -> Decimal:
        """The order's limit price in USDC (0 without an order)."""
        return ZERO if self.order is None else self.order.limit_px

    def outcome(
        self, status: ResultStatus, reason: str | Failure | None = None, **fields: Any
    ) -> AssetResult:
        """This asset's result with ``status`` (a :class:`Failure` gives its text and whether it is
        temporary)."""
        temporary = isinstance(reason, Failure) and reason.temporary
        return AssetResult(
            asset=self.symbol, venue=self.venue, status=status, period=self.period or None,
            cloid=self.cloid or None, reason=None if reason is None else str(reason), temporary=temporary,
            **fields,
        )

    def settle(
        self, status: ResultStatus, reason: str | Failure | None = None, **fields: Any
    ) -> AssetDecision:
        """This decision, settled with ``status``."""
        return replace(self, result=self.outcome(status, reason, **fields))


def reads_history_for_schedule(asset: AssetConfig) -> bool:
    """Dynamic frequency: the due check itself depends on the asset's closes."""
    return asset.dynamic_frequency is not None and asset.dynamic_frequency.enabled


def needs_history(asset: AssetConfig) -> bool:
    """Whether any of the asset's rules reads closes (``history_days(asset) > 1`` or
    ``history_hours(asset) > 0``)."""
    enabled = [r for r in (asset.rsi, asset.ma_dips, asset.dynamic_frequency) if r is not None and r.enabled]
    return asset.sizing.kind == "volatility" or bool(enabled)


def last_buy_of(
    ledger: LedgerReads, asset: AssetConfig, venue: str | None = None, pair: str | None = None
) -> LastBuy | None:
    """The ledger's last scheduled buy of ``asset`` (on ``venue`` when given; of its market ``pair``
    when given, whatever the entry was called) as ``schedule.is_due`` wants it (bounds known)."""
    record = ledger.last_buy(asset.symbol, venue, pair=pair)
    if record is None:
        return None
    start, end = record.period_start, record.period_end
    if start is None or end is None:  # written without bounds: take the period under today's schedule
        period = period_of(asset.schedule, record.at, "UTC")
        start, end = start or period.start, end or period.end
    return LastBuy(at=record.at, period_start=start, period_end=end)


@functools.lru_cache(maxsize=1 << 16)
def _is_due(schedule: Schedule, zone: ZoneInfo, at: datetime, last_buy: LastBuy | None) -> DueCheck:
    """:func:`dcactl.schedule.periods.is_due`, remembered: a backtest's strategies tick at the same
    instants and often share a last buy, so most checks repeat (same inputs, same answer)."""
    return is_due(schedule, zone, at, last_buy)


def check_due(
    asset: AssetConfig, zone: ZoneInfo, now: datetime, last_buy: LastBuy | None, closes: Closes | None = None,
) -> DueCheck:
    """Whether ``asset`` is due at ``now`` after ``last_buy``, under its effective schedule (dynamic
    frequency reads ``closes``, the completed daily closes)."""
    schedule = asset.schedule
    if reads_history_for_schedule(asset):
        from dcactl.strategy import PriceHistory, effective_schedule

        schedule = effective_schedule(asset, PriceHistory.of(closes or []))
    return _is_due(schedule, zone, now, last_buy)


def due_phase(
    config: Config, request: RunRequest, assets: Sequence[AssetConfig], snapshot: Snapshot, view: LedgerReads
) -> list[AssetDecision]:
    """Per asset (config order): settled by the shell, not due, ``pending`` behind an earlier intent
    whose fate is unknown, or due with its period, attempt and cloid (``plan`` keeps a not-due asset
    open, without an attempt, to show what it would buy)."""
    zone = ZoneInfo(config.settings.timezone)
    now = snapshot.now
    out: list[AssetDecision] = []
    for asset in assets:
        d = AssetDecision(asset=asset, market=snapshot.markets.get(asset.symbol))
        settled = snapshot.settled.get(asset.symbol)
        if settled is not None or d.market is None:
            out.append(replace(d, result=settled or d.outcome("failed", "could not resolve")))
            continue
        if request.force:
            d = replace(d, period=forced_period_id(now))
        else:
            check = check_due(
                asset, zone, now, last_buy_of(view, asset, d.venue, d.key), snapshot.closes.get(asset.symbol)
            )
            d = replace(d, period=check.period.id, period_end=check.period.end, due_reason=check.reason)
            if not check.due:
                d = replace(d, due=False)
                out.append(d if request.plan else d.settle("not_due", check.reason))
                continue
        every = view.intents_for(asset.symbol, d.period, pair=d.key)  # attempts are numbered across venues
        unresolved = [i for i in every if i.venue == d.venue and i.status in ("new", "sent")]
        if unresolved:
            d = replace(d, cloid=unresolved[-1].cloid)
            out.append(d.settle(
                "pending", "an earlier order's fate is still unknown; the next run resolves it first"))
            continue
        attempt = max((i.attempt for i in every), default=0) + 1
        out.append(replace(d, attempt=attempt, cloid=_cloid(snapshot, d, attempt)))
    return out


def _cloid(snapshot: Snapshot, d: AssetDecision, attempt: int) -> str:
    return make_cloid(snapshot.network, snapshot.account, d.key or d.symbol, d.period, attempt, d.venue)


def cloids_to_check(snapshot: Snapshot, d: AssetDecision) -> list[tuple[int, str]]:
    """The (attempt, cloid) pairs to ask the exchange about before placing ``d``'s order: its own, and
    for a period's first attempt the next ones too (another ledger may have bought it under those)."""
    last = ADOPT_ATTEMPTS if d.attempt == 1 else d.attempt
    return [(d.attempt, d.cloid)] + [(n, _cloid(snapshot, d, n)) for n in range(d.attempt + 1, last + 1)]


def valuation_symbols(config: Config, decisions: Sequence[AssetDecision]) -> list[str]:
    """Target assets that buy nothing this run (not due) but whose holdings weigh in rebalancing:
    the shell reads their books in the same round as the others'."""
    portfolio = config.portfolio
    if portfolio is None or not portfolio.targets or not portfolio.budget_per_run:
        return []
    return [
        d.symbol for d in decisions
        if d.market is not None and d.result is not None and d.result.status == "not_due"
        and d.symbol in portfolio.targets
    ]


@dataclass(frozen=True)
class AmountInput:
    """One asset for :func:`decide_amounts`: its config, whether it is due, what its rules read (the
    completed closes and the price now) and its banked USDC."""

    asset: AssetConfig
    due: bool
    closes: Closes
    price: Decimal
    bank: Decimal
    hourly: Closes = ()
    notes: Sequence[str] = ()
    memo: dict[tuple[Any, ...], Any] | None = None
    """Indicator values already computed on these closes (the backtest's strategies share them)."""


SkipKind = Literal["rules", "cap", "nothing"]


@dataclass(frozen=True)
class Amount:
    """The USDC an asset buys, with the strategy's decision; ``skip`` says why it buys nothing: a rule
    (a due asset; its bank stands), a cap (its bank does not), or an amount of nothing."""

    decision: Decision
    skip: SkipKind | None = None
    skip_reason: str | None = None

    @property
    def usd(self) -> Decimal:
        """The amount to buy (USDC)."""
        return self.decision.amount


def decide_amounts(
    config: Config, inputs: Sequence[AmountInput], now: datetime, *, day_committed: Decimal,
    held: Callable[[], Mapping[str, Decimal]], override: Decimal | None = None,
    force: bool = False,
) -> list[Amount]:
    """The strategy's decision per asset (its reasons become the order's reason; ``force``: PRODUCT.md
    "Forced buys"), then buy-only rebalancing over the due assets not skipped by a rule, then the caps
    in config order over those (``day_committed``: what the day already holds). ``held`` values the
    account's holdings per asset (USDC), asked only when rebalancing needs it."""
    if not inputs:  # nothing to decide: the strategy (and numpy with it) stays unloaded
        return []
    from dcactl.strategy import AssetState, PriceHistory, decide

    decisions: list[Decision] = []
    for i in inputs:
        history = replace(PriceHistory.of(i.closes, i.price, i.hourly), memo=i.memo)
        d = decide(i.asset, history, AssetState(bank_usd=i.bank), now, override=override)
        if i.notes:
            d = replace(d, reasons=[*d.reasons, *i.notes])
        decisions.append(forced(d) if force else d)
    open_ = [n for n, (i, d) in enumerate(zip(inputs, decisions, strict=True)) if i.due and d.skip is None]
    portfolio = config.portfolio
    if portfolio is not None and portfolio.targets and portfolio.budget_per_run and open_:
        from dcactl.strategy import add_rebalance, allocate_rebalance

        shares = allocate_rebalance(
            portfolio.targets, held(), [inputs[n].asset.symbol for n in open_], portfolio.budget_per_run
        )
        for n in open_:
            extra = shares.get(inputs[n].asset.symbol, ZERO)
            if extra > 0:
                decisions[n] = add_rebalance(decisions[n], extra)
    settings = config.settings
    verdicts = dict(zip(open_, apply_caps([decisions[n].amount for n in open_], settings.max_usd_per_run,
                                          settings.max_usd_per_day, day_committed), strict=True))
    out = []
    for n, (i, d) in enumerate(zip(inputs, decisions, strict=True)):
        if i.due and d.skip is not None:
            out.append(Amount(d, "rules", d.skip))
        elif verdicts.get(n):
            out.append(Amount(d, "cap", verdicts[n]))
        elif d.amount <= 0:
            out.append(Amount(d, "nothing", d.summary or "nothing to buy"))
        else:
            out.append(Amount(d))
    return out


def forced(decision: Decision) -> Decision:
    """``buy --force`` (PRODUCT.md "Forced buys"): skip rules do not skip it, and it banks nothing (a
    period of its own: only a scheduled period's skip saves that period's budget). Its amount is
    ``--amount``, else what the rules size, else ``amount``; its reason says "forced"."""
    if decision.skip is None:
        return replace(decision, summary=f"forced: {decision.summary}")
    note = "forced buy outside the schedule: nothing banked"
    amount = decision.base_usd
    return replace(
        decision,
        amount=amount,
        skip=None,
        bank_after=decision.bank_before,
        reasons=[
            *(r for r in decision.reasons if not r.startswith("banking: skipped buy")),
            f"banking: {note} (bank stays {decision.bank_before} USDC)",
        ],
        summary=f"forced: buy {amount} USDC although the rules would skip ({decision.skip}); {note}",
    )


def day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The calendar day of ``now`` in ``tz``: [local midnight, next local midnight)."""
    start = now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)  # aware arithmetic is wall-clock: 23 or 25 h on DST days


def holdings_usd(view: LedgerReads, live: bool, mids: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """USDC value of what the account holds per asset (real fills in live mode, paper fills in paper
    mode), at ``mids``; assets without a mid count as 0. Rebalancing measures weights with this."""
    sources = ("dcactl", "external", "imported") if live else ("paper",)
    units: dict[str, Decimal] = {}
    for p in view.positions():
        if p.source in sources:
            units[p.asset] = units.get(p.asset, ZERO) + p.units
    return {asset: u * mids[asset] for asset, u in units.items() if asset in mids}


def admit_balance(needs: Sequence[Decimal], available: Decimal) -> list[str | None]:
    """Admit live orders' notionals in config order while they fit the spendable USDC: None when
    admitted, else why not."""
    out: list[str | None] = []
    left = available
    for need in needs:
        if need > left:
            out.append(f"insufficient USDC in the spot account: need {need:f}, have {left:f}")
        else:
            left -= need
            out.append(None)
    return out


def decide_run(
    config: Config, request: RunRequest, assets: Sequence[AssetConfig], snapshot: Snapshot, view: LedgerReads
) -> list[AssetDecision]:
    """Every asset's decision, in config order (see the module docstring). Same inputs, same output."""
    slots = due_phase(config, request, assets, snapshot, view)
    active = [n for n, d in enumerate(slots) if d.result is None]
    for n in active:  # the price: a quote read this run, or why there is none
        d = slots[n]
        quote = snapshot.quotes.get(d.symbol)
        if isinstance(quote, Quote):
            slots[n] = replace(d, quote=quote)
        else:
            slots[n] = d.settle("failed", quote.failure if quote is not None else "no price")
    deciding = [n for n in active if slots[n].result is None]
    settings = config.settings

    def held() -> Mapping[str, Decimal]:
        """Every target holding, valued at the mid read this run, else (not in this run, e.g.
        ``--only``, or its price failed) at its last fill's price."""
        mids = {s: q.mid for s, q in snapshot.quotes.items() if isinstance(q, Quote)}
        for symbol in config.portfolio.targets if config.portfolio is not None else {}:
            if symbol not in mids and (last := view.last_price(symbol)) is not None:
                mids[symbol] = last
        return holdings_usd(view, snapshot.live, mids)

    inputs = []
    for n in deciding:
        d = slots[n]
        assert d.quote is not None
        inputs.append(AmountInput(
            asset=d.asset, due=d.due, closes=snapshot.closes.get(d.symbol, ()), price=d.quote.mid,
            bank=view.bank(d.symbol, before_period=d.period), hourly=snapshot.hourly.get(d.symbol, ()),
            notes=tuple(snapshot.notes.get(d.symbol, ())),
        ))
    # what the day already holds: read only when something is decided (a cron run with nothing due
    # asks the ledger nothing more)
    committed = view.usd_committed(*day_bounds(snapshot.now, settings.timezone), real_only=snapshot.live) \
        if inputs else ZERO
    amounts = decide_amounts(config, inputs, snapshot.now, day_committed=committed, held=held,
                             override=request.amount, force=request.force)
    for n, amount in zip(deciding, amounts, strict=True):
        d = replace(slots[n], decision=amount.decision, amount=amount.usd, reason=amount.decision.summary)
        if amount.skip == "rules":
            d = d.settle("skipped", amount.skip_reason)
        elif amount.skip is not None:
            d = d.settle("skipped", amount.skip_reason, usd_requested=amount.usd)
        else:
            assert d.market is not None and d.quote is not None
            order = round_order(d.market, d.quote, amount.usd, settings.max_slippage_bps, PRICE_MARGIN)
            d = replace(d, order=order) if isinstance(order, Order) else d.settle(
                "skipped", order.reason, usd_requested=amount.usd)
        slots[n] = d
    if isinstance(snapshot.balance, Unavailable):
        for n, d in enumerate(slots):
            if d.result is None and d.real:
                slots[n] = d.settle("failed", snapshot.balance.failure, usd_requested=d.amount)
    elif snapshot.balance is not None:
        live = [n for n, d in enumerate(slots) if d.result is None and d.real]
        for n, verdict in zip(live, admit_balance([slots[n].size * slots[n].limit_px for n in live],
                                                  snapshot.balance), strict=True):
            if verdict is not None:
                slots[n] = slots[n].settle("failed", verdict, usd_requested=slots[n].amount)
    if request.dry_run or request.plan:
        slots = [
            d if d.result is not None else d.settle(
                "planned", f"IOC buy {d.size:f} at limit {d.limit_px:f}; {d.reason}", usd_requested=d.amount,
                size=d.size)
            for d in slots
        ]
    return slots
