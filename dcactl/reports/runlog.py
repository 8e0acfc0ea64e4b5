"""The run log behind ``runs`` and ``status``'s last run: every ``run``/``buy`` the ledger recorded.

A run is written when it starts (``runs`` row) and again when it ends, with its per-asset results
(the ``--json`` document of ``run``) and the exit code the process ended with. A run that never ended
(killed, power cut) shows with no end and no exit code: that is itself worth seeing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dcactl.models import iso_utc

if TYPE_CHECKING:
    from dcactl.ledger import Ledger

MAX_RUNS = 100_000
"""The largest ``--limit`` (a run every 15 minutes for almost three years)."""


@dataclass(frozen=True)
class RunEntry:
    """One recorded run: when, which command, paper or live, how it ended, and per asset what happened."""

    run_id: str
    started_at: datetime
    ended_at: datetime | None
    command: str
    mode: str
    exit_code: int | None
    results: list[dict[str, Any]] = field(default_factory=list)
    """Per asset, the result of ``run --json`` (decimals as strings, as stored)."""
    error: str | None = None
    """Why the whole run stopped, when something stopped every asset (a key, the ledger)."""

    @property
    def failed(self) -> bool:
        """Did it end badly: a non-zero exit, an asset that failed, or no end at all."""
        return (
            self.ended_at is None
            or (self.exit_code or 0) != 0
            or any(r.get("status") == "failed" for r in self.results)
        )

    def to_json(self) -> dict[str, Any]:
        """One run of ``runs --json`` (PRODUCT.md), plus ``error`` when the whole run stopped."""
        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "started_at": iso_utc(self.started_at),
            "ended_at": None if self.ended_at is None else iso_utc(self.ended_at),
            "command": self.command,
            "mode": self.mode,
            "exit_code": self.exit_code,
            "results": self.results,
        }
        if self.error:
            doc["error"] = self.error
        return doc


def run_log(ledger: Ledger, limit: int = 20, *, failed: bool = False) -> list[RunEntry]:
    """The newest ``limit`` runs of this ledger's network and account, newest first; ``failed``: only
    those that ended badly (:attr:`RunEntry.failed`)."""
    entries = []
    for row in ledger.runs(limit, failed=failed):
        summary = row["summary"] or {}
        entries.append(
            RunEntry(
                run_id=row["run_id"],
                started_at=row["started_at"],
                ended_at=row["finished_at"],
                command=row["command"],
                mode=row["mode"],
                exit_code=row["exit_code"],
                results=list(summary.get("results", [])),
                error=summary.get("error"),
            )
        )
    return entries


def last_run(ledger: Ledger) -> RunEntry | None:
    """The newest run, or None when nothing ran yet."""
    newest = run_log(ledger, 1)
    return newest[0] if newest else None


def describe(result: dict[str, Any]) -> str:
    """One asset's outcome in a few words: ``BTC filled 100.00 USDC`` or ``ETH skipped: <reason>``
    (a buy shows what it spent; skips, failures and pending orders say why)."""
    asset, status, reason = result.get("asset", "?"), result.get("status", "?"), result.get("reason")
    usd = result.get("usd_filled") or result.get("usd_requested")
    text = f"{asset} {status}"
    if usd and status in ("filled", "partial", "paper", "planned", "pending"):
        text += f" {Decimal(usd):,.2f} USDC"
    if reason and status not in ("filled", "partial", "paper", "not_due"):
        text += f": {reason}"  # a buy's rule summary stays in runs --json; skips and failures say why here
    return text


def explained_periods(ledger: Ledger, since: datetime) -> set[tuple[str, str]]:
    """(asset, period) pairs a run since ``since`` recorded a reason for without buying (skipped by a
    rule or a cap, failed, pending): such a period is not *missed* (PRODUCT.md "Nothing fails
    silently"), the run log says why."""
    out: set[tuple[str, str]] = set()
    for row in ledger.runs(MAX_RUNS):
        if row["started_at"] < since:
            break
        for r in (row["summary"] or {}).get("results", []):
            if r.get("status") in ("skipped", "failed", "pending") and r.get("period"):
                out.add((str(r.get("asset")), str(r["period"])))
    return out
