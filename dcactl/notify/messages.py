"""Messages from what a run did: pure functions of plain values (no I/O, no printing).

Each message says, per asset, what happened and why (the numbers and the ledger's reason text) and
what happens next. Amounts are USDC; sizes are base units, as in ``run --json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from dcactl.models import iso_utc

TITLE_PREFIX = "dcactl"


@dataclass(frozen=True)
class Message:
    """One notification: ``event`` (failed, missed, skipped, filled, test, summary), a title, a body."""

    event: str
    title: str
    body: str


@dataclass(frozen=True)
class Holding:
    """Running totals of one asset after a fill (from the ledger): units held (net of fees), USDC
    invested, average cost in USDC per unit (None when nothing is held)."""

    units: Decimal
    invested_usd: Decimal
    avg_cost: Decimal | None


def _usd(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _next_step(status: str, reason: str) -> str:
    if status == "failed":
        if reason.startswith("temporary:"):
            return "Next: the next run tries again (the period stays due)."
        return ("Next: the period stays due; the next run tries again, and fails the same way until "
                "this is fixed.")
    if status == "skipped":
        if reason.startswith("cap"):
            return "Next: the period stays due; the next run buys it if the cap leaves room."
        return "Next: nothing to do; the next period decides again."
    if status == "pending":
        return "Next: the next run asks the exchange how that order ended before anything else."
    return ""


def run_messages(
    document: Mapping[str, Any], events: Iterable[str], holdings: Mapping[str, Holding] | None = None
) -> list[Message]:
    """The messages for one run (``document`` = ``run --json``), for the wanted ``events``.

    ``failed`` covers failed and pending results; ``filled`` covers filled, partial and paper buys
    (with the running totals from ``holdings`` when given); ``skipped`` covers skips.
    """
    wanted = set(events)
    mode = document.get("mode", "?")
    out: list[Message] = []
    for r in document.get("results", []):
        asset, status = r.get("asset", "?"), r.get("status", "?")
        reason = r.get("reason") or "no reason recorded"
        period = r.get("period") or "-"
        if status in ("failed", "pending") and "failed" in wanted:
            word = "failed" if status == "failed" else "is pending"
            body = (f"{asset} ({mode}, period {period}): the buy {word}: {reason}. "
                    + _next_step(status, reason))
            out.append(Message("failed", f"{TITLE_PREFIX}: {asset} buy {word}", body.strip()))
        elif status == "skipped" and "skipped" in wanted:
            usd = r.get("usd_requested")
            amount = f" of {_usd(usd)} USDC" if usd else ""
            body = (f"{asset} ({mode}, period {period}): the buy{amount} was skipped: {reason}. "
                    + _next_step(status, reason))
            out.append(Message("skipped", f"{TITLE_PREFIX}: {asset} skipped", body.strip()))
        elif status in ("filled", "partial", "paper") and "filled" in wanted:
            how = "on paper" if status == "paper" else ("partly filled" if status == "partial" else "filled")
            size, price, usd = r.get("size"), r.get("avg_price"), r.get("usd_filled")
            fee = f", fee {r['fee']} {r.get('fee_token') or ''}".rstrip() if r.get("fee") else ""
            body = f"{asset}: bought {size} at {_usd(price)} for {_usd(usd)} USDC {how}{fee}"
            body += f" (period {period})."
            held = (holdings or {}).get(asset)
            if held is not None:
                avg = "-" if held.avg_cost is None else _usd(held.avg_cost)
                body += (f" Totals: {held.units.normalize():f} held, "
                         f"{_usd(held.invested_usd)} USDC invested, average cost {avg}.")
            out.append(Message("filled", f"{TITLE_PREFIX}: bought {asset}", body))
    return out


def stopped_message(command: str, mode: str, error: str) -> Message:
    """A run that stopped before or while deciding (a key cron cannot read, a config error, the lock)."""
    body = (f"dcactl {command} ({mode}) stopped: {error}. Nothing was bought by this run. "
            "Next: every run stops the same way until this is fixed.")
    return Message("failed", f"{TITLE_PREFIX}: {command} stopped", body)


@dataclass(frozen=True)
class Missed:
    """An asset whose periods passed without a buy: ``count`` periods since the last buy (in
    ``last_period``), next due at ``next_due``."""

    asset: str
    count: int
    last_period: str
    next_due: datetime | None


def missed_message(missed: Missed) -> Message:
    """``missed``: periods that ended without a buy (cron not running, the machine off, every run failing)."""
    when = "-" if missed.next_due is None else iso_utc(missed.next_due)
    periods = "period" if missed.count == 1 else "periods"
    body = (f"{missed.asset}: {missed.count} {periods} passed without a buy since the last one (period "
            f"{missed.last_period}). Missed periods are not caught up: the next run buys once if due "
            f"(next due {when}). Check that cron or the timer runs: dcactl runs.")
    return Message("missed", f"{TITLE_PREFIX}: {missed.asset} missed {missed.count} {periods}", body)


def run_summary(document: Mapping[str, Any], exit_code: int, lines: Sequence[str]) -> str:
    """The heartbeat body: the exit code, then one line per asset."""
    head = f"dcactl {document.get('mode', '')} run {document.get('run_id', '')}: exit {exit_code}".strip()
    return "\n".join([head, *lines])
