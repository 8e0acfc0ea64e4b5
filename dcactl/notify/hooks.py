"""What ``run`` and ``buy`` call around a run: the heartbeat at start and end, the run's messages after
the ledger commit, the ``missed`` notices (once per missed period), and ``notify test``.

Nothing here raises into the run: every outcome is a :class:`~dcactl.notify.deliver.Delivery` the CLI
may show as a warning; the run's outcome and exit code never depend on it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dcactl.models import iso_utc
from dcactl.notify.deliver import Delivery, Target, ping, safe_targets, send
from dcactl.notify.messages import (
    Holding,
    Message,
    Missed,
    missed_message,
    run_messages,
    run_summary,
    stopped_message,
)

if TYPE_CHECKING:
    from dcactl.config.schema import Config, Notify
    from dcactl.session import Session


@dataclass
class RunNotifier:
    """The ``[notify]`` of one run of ``command`` in ``mode``; URLs are resolved once, on first use."""

    notify: Notify
    command: str
    mode: str
    _targets: tuple[list[Target], list[Delivery]] | None = field(default=None, repr=False)
    _heartbeat: tuple[list[Target], list[Delivery]] | None = field(default=None, repr=False)

    @classmethod
    def for_config(cls, config: Config, command: str) -> RunNotifier | None:
        """None when the portfolio has no ``[notify]`` (nothing is ever sent)."""
        if not config.notify.enabled:
            return None
        return cls(config.notify, command, config.settings.mode)

    def targets(self) -> tuple[list[Target], list[Delivery]]:
        """The notification URLs, resolved, and a failed Delivery for each source that cannot be read."""
        if self._targets is None:
            self._targets = safe_targets(self.notify.urls, "notify.urls")
        return self._targets

    def heartbeat(self) -> tuple[list[Target], list[Delivery]]:
        """The heartbeat URL (at most one), resolved."""
        if self._heartbeat is None:
            hb = self.notify.heartbeat
            self._heartbeat = safe_targets([hb] if hb else [], "notify.heartbeat")
        return self._heartbeat

    def started(self) -> list[Delivery]:
        """``<heartbeat>/start``."""
        beats, failures = self.heartbeat()
        body = f"dcactl {self.command} started"
        return failures + [ping(t, "start", body, self.notify.timeout) for t in beats]

    def deliver(self, messages: Sequence[Message]) -> list[Delivery]:
        """Send each message to every URL (each bounded by the timeout); unreadable URL sources fail once."""
        targets, failures = self.targets()
        out = list(failures) if messages else []
        for message in messages:
            if targets:
                out.extend(send(targets, message, self.notify.timeout))
        return out

    def finished(
        self, document: Mapping[str, Any], exit_code: int, messages: Sequence[Message]
    ) -> list[Delivery]:
        """After the ledger commit: the run's messages, then ``<heartbeat>/<exit code>`` with the summary."""
        from dcactl.reports.runlog import describe

        out = self.deliver(messages)
        beats, failures = self.heartbeat()
        body = run_summary(document, exit_code, [describe(r) for r in document.get("results", [])])
        return out + failures + [ping(t, str(exit_code), body, self.notify.timeout) for t in beats]

    def stopped(self, error: str, exit_code: int) -> list[Delivery]:
        """A run that stopped as a whole: a ``failed`` message (when wanted), ``<heartbeat>/<exit code>``."""
        out = self.deliver([stopped_message(self.command, self.mode, error)] if "failed" in self.notify.events
                           else [])
        beats, failures = self.heartbeat()
        body = f"dcactl {self.command} stopped: {error}"
        return out + failures + [ping(t, str(exit_code), body, self.notify.timeout) for t in beats]

    def test(self) -> list[Delivery]:
        """``notify test``: a test message to every URL and a plain ping of the heartbeat."""
        message = Message("test", "dcactl: test notification",
                          "This is a test from dcactl notify test: notifications reach you. "
                          f"Events sent: {', '.join(self.notify.events) or 'none'}.")
        targets, failures = self.targets()
        out = failures + (send(targets, message, self.notify.timeout) if targets else [])
        beats, hb_failures = self.heartbeat()
        return out + hb_failures + [ping(t, "", "dcactl notify test", self.notify.timeout) for t in beats]


def collect(session: Session, document: Mapping[str, Any], now: datetime) -> list[Message]:
    """The messages of a run that just ended (its results are committed): per-asset events with the
    running totals of what was bought, and a ``missed`` message for each newly missed period (claimed
    in the ledger first, so it is sent once even if delivery fails)."""
    notify = session.config.notify
    holdings: dict[str, Holding] = {}
    if "filled" in notify.events:
        holdings = _holdings(session, "paper" if document.get("mode") == "paper" else "dcactl")
    messages = run_messages(document, notify.events, holdings)
    if "missed" in notify.events:
        for missed in missed_now(session, now):
            key = f"missed:{missed.asset}:{missed.last_period}:{missed.count}"
            if session.ledger.claim_notice(key, now):
                messages.append(missed_message(missed))
    return messages


async def digest(session: Session, now: datetime) -> Message | None:
    """``summary``: after the first run of each new day/week/month (in ``timezone``), one message about
    the period that ended: runs, bought, skipped, failed, missed, value and PnL by source, next due.
    Claimed in the ledger first, so it goes out once. None when not wanted or already sent."""
    from dcactl.reports.runlog import run_log
    from dcactl.reports.views import status_report
    from dcactl.schedule.periods import parse_every, period_of

    kind = session.config.notify.summary
    if kind is None or not session.config.notify.urls:
        return None
    tz = session.config.settings.timezone
    current = period_of(parse_every(kind), now, tz)
    previous = period_of(parse_every(kind), current.start - timedelta(microseconds=1), tz)
    past = [e for e in run_log(session.ledger, 100_000) if previous.start <= e.started_at < previous.end]
    if not past or not session.ledger.claim_notice(f"summary:{kind}:{current.start.isoformat()}", now):
        return None
    counts = {"bought": 0, "skipped": 0, "failed": 0}
    for entry in past:
        for r in entry.results:
            status = r.get("status")
            if status in ("filled", "partial", "paper"):
                counts["bought"] += 1
            elif status in ("skipped", "failed"):
                counts[str(status)] += 1
    report = await status_report(session)
    lines = [
        f"{len(past)} runs ({sum(1 for e in past if e.failed)} ended badly); "
        f"{counts['bought']} buys, {counts['skipped']} skips, {counts['failed']} failures.",
    ]
    missed = missed_now(session, now)
    if missed:
        lines.append("Missed: " + ", ".join(f"{m.asset} {m.count}" for m in missed) + ".")
    for source, t in report.totals.items():
        value = "-" if t.value_usd is None else f"{t.value_usd:,.2f}"
        pnl = "-" if t.pnl_usd is None else f"{t.pnl_usd:+,.2f} ({t.pnl_pct}%)"
        lines.append(f"{source}: invested {t.invested_usd:,.2f} USDC, value {value}, PnL {pnl}.")
    dues = [f"{a} {iso_utc(d)}" for a, (d, _) in report.schedule.items() if d is not None]
    if dues:
        lines.append("Next due: " + ", ".join(dues) + ".")
    start = previous.start.astimezone(UTC).strftime("%Y-%m-%d")
    page = await _write_report(session, session.db_path.parent / "reports" / f"dcactl-report-{start}.html")
    if page is not None:
        lines.append(f"Report (charts, offline HTML): {page}")
    return Message("summary", f"dcactl: your {kind} ({start})", "\n".join(lines))


async def _write_report(session: Session, path: Path) -> Path | None:
    """The HTML report of ``dcactl report`` beside the ledger, for the digest to point at; None when it
    cannot be written (the digest goes out without it)."""
    from dcactl.config.files import write_text_atomic
    from dcactl.errors import DcactlError
    from dcactl.reports.html import report_page
    from dcactl.reports.report import gather

    try:
        write_text_atomic(path, report_page(await gather(session, None)))
    except (DcactlError, OSError):
        return None
    return path


def _holdings(session: Session, source: str) -> dict[str, Holding]:
    from dcactl.reports.stats import status_rows

    rows = status_rows([p for p in session.ledger.positions() if p.source == source], {})
    return {r.asset: Holding(r.units, r.invested_usd, r.avg_cost) for r in rows}


def missed_now(session: Session, now: datetime) -> list[Missed]:
    """Enabled assets with periods that passed without a buy since their last scheduled buy."""
    from dcactl.reports.views import cached_pairs, schedule_state
    from dcactl.run.core import last_buy_of

    out = []
    state = schedule_state(session, now)
    pairs = cached_pairs(session)
    for asset in session.config.assets:
        next_due, count = state.get(asset.symbol, (None, 0))
        if count <= 0:
            continue
        last = last_buy_of(session.ledger, asset, None, pairs.get(asset.symbol))
        period = "-" if last is None else last.period_start.isoformat()
        out.append(Missed(asset.symbol, count, period, next_due))
    return out


def heartbeat_of_broken_config(path: Path) -> RunNotifier | None:
    """For a portfolio that does not load: its ``[notify] heartbeat`` when that one value can still be
    read (so a broken config is reported to the receiver, not only in a cron mail)."""
    from dcactl.config.notifycheck import _http_or_source
    from dcactl.config.schema import Notify

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    table = raw.get("notify")
    if not isinstance(table, dict):
        return None
    value, problem = _http_or_source(table.get("heartbeat"))
    if problem is not None or value is None:
        return None
    mode = raw.get("settings", {}).get("mode") if isinstance(raw.get("settings"), dict) else None
    return RunNotifier(Notify(heartbeat=value), "run", mode if isinstance(mode, str) else "?")


def notify_check(notify: Notify) -> tuple[Literal["ok", "skip", "fail"], str, str | None]:
    """``doctor``'s notify line: (status ok/warn/fail/skip, detail, fix). URLs must parse and every
    source (env:/file:/keyring:) must resolve; nothing is sent (that is ``notify test``)."""
    from dcactl.notify.deliver import parse_problems

    if not notify.enabled:
        return ("skip", "no [notify]: failed and missed buys show only in dcactl runs and status "
                "(add [notify]: README, Knowing it works)", None)
    targets, failures = safe_targets(notify.urls, "notify.urls")
    beats, hb_failures = safe_targets([notify.heartbeat] if notify.heartbeat else [], "notify.heartbeat")
    problems = [f"{d.detail}" for d in failures + hb_failures]
    problems += [f"{label}: not a URL apprise understands" for label in parse_problems(targets)]
    if problems:
        return "fail", "; ".join(problems), "fix the [notify] entries named, then run dcactl notify test"
    what = f"{len(targets)} URL{'s' if len(targets) != 1 else ''} ({', '.join(notify.events) or 'no events'})"
    if beats:
        what += ", heartbeat set"
    return "ok", f"{what}; delivery is checked by dcactl notify test", None
