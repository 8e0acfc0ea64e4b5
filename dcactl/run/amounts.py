"""How much each due asset buys: the strategy's decision, banking, and buy-only rebalancing.

Called by :mod:`dcactl.run.plan` once the run's quotes are in: each candidate gets its
:class:`~dcactl.strategy.Decision` (whose summary becomes the order's reason), a forced buy is never
skipped by a rule and banks nothing, and ``[portfolio] budget_per_run`` is spread toward ``targets``
over the due assets, most underweight first, valuing every target holding (due or not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.market.data import Quote
from dcactl.models import Market
from dcactl.run.reasons import failure_reason

if TYPE_CHECKING:
    from dcactl.run.plan import Candidate, RunRequest
    from dcactl.session import Session
    from dcactl.strategy import Decision


def decide_amounts(
    session: Session, active: list[Candidate], quotes: dict[str, Any], request: RunRequest, now: datetime
) -> None:
    """The strategy's decision per asset (its reasons become the order's reason), then rebalancing."""
    from dcactl.strategy import AssetState, PriceHistory, decide

    for c in active:
        if c.result is not None:
            continue
        quote = quotes.get(c.symbol)
        if quote is None or isinstance(quote, BaseException):
            c.finish("failed", failure_reason(quote) if quote is not None else "no price")
            continue
        c.quote = quote
        state = AssetState(
            bank_usd=session.ledger.bank(c.symbol, before_period=c.period), units_held=Decimal(0)
        )
        history = PriceHistory.of(c.closes or [], quote.mid, c.hourly or [])
        c.decision = decide(c.asset, history, state, now, override=request.amount)
        if c.history_notes:
            c.decision = replace(c.decision, reasons=[*c.decision.reasons, *c.history_notes])
        if request.force:
            c.decision = _forced(c.decision)
        c.amount, c.reason = c.decision.amount, c.decision.summary
        if c.decision.skip and c.due:
            c.finish("skipped", c.decision.skip)
    _rebalance(session, [c for c in active if c.result is None and c.due], quotes)


def _forced(decision: Decision) -> Decision:
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


def valuation_markets(session: Session, candidates: Sequence[Candidate]) -> list[Market]:
    """Markets of target assets that buy nothing this run (not due) but whose holdings weigh in
    rebalancing: their books are read in the same round as the others'."""
    portfolio = session.config.portfolio
    if portfolio is None or not portfolio.targets or not portfolio.budget_per_run:
        return []
    return [
        c.market
        for c in candidates
        if c.market is not None
        and c.result is not None
        and c.result.status == "not_due"
        and c.symbol in portfolio.targets
    ]


def _rebalance(session: Session, due: list[Candidate], quotes: dict[str, Any]) -> None:
    """Buy-only rebalancing: ``[portfolio] budget_per_run`` toward ``targets``, most underweight first.

    Every target asset's holding counts, due or not: valued at the mid read this run (``quotes``),
    else (not in this run, e.g. ``--only``, or its price failed) at its last fill's price.
    """
    portfolio = session.config.portfolio
    if portfolio is None or not portfolio.targets or not portfolio.budget_per_run or not due:
        return
    from dcactl.strategy import add_rebalance, allocate_rebalance

    mids = {s: q.mid for s, q in quotes.items() if isinstance(q, Quote)}
    for symbol in portfolio.targets:
        if symbol not in mids:
            last = session.ledger.fills(asset=symbol, limit=1, newest_first=True)
            if last:
                mids[symbol] = last[0].price
    held = holdings_usd(session, mids)
    shares = allocate_rebalance(portfolio.targets, held, [c.symbol for c in due], portfolio.budget_per_run)
    for c in due:
        extra = shares.get(c.symbol, Decimal(0))
        if extra > 0 and c.decision is not None:
            c.decision = add_rebalance(c.decision, extra)
            c.amount, c.reason = c.decision.amount, c.decision.summary


def holdings_usd(session: Session, mids: dict[str, Decimal]) -> dict[str, Decimal]:
    """USDC value of what the account holds per asset (real fills in live mode, paper fills in paper
    mode), at ``mids``; assets without a mid count as 0. Rebalancing measures weights with this."""
    sources = ("dcactl", "external", "imported") if session.live else ("paper",)
    units: dict[str, Decimal] = {}
    for p in session.ledger.positions():
        if p.source in sources:
            units[p.asset] = units.get(p.asset, Decimal(0)) + p.units
    return {asset: u * mids[asset] for asset, u in units.items() if asset in mids}
