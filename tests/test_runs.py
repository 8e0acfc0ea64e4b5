"""`dcactl runs` and `status`'s last run: every run is in the run log with its exit code and reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from eth_account import Account
from support import PAPER_TRIO, write_portfolio

from dcactl.ledger import Ledger
from dcactl.reports.runlog import RunEntry, describe, run_log

ASSETS = PAPER_TRIO


def test_runs_lists_each_run_newest_first_with_results(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Two paper runs: the log holds both, newest first, exit 0, per-asset statuses as run --json said."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS)
    first = cli("--config", str(cfg), "--json", "run")
    assert first.code == 0, first.err
    second = cli("--config", str(cfg), "--json", "run")
    assert second.code == 0
    res = cli("--config", str(cfg), "--json", "runs")
    assert res.code == 0, res.err
    runs = res.json()["runs"]
    assert [r["run_id"] for r in runs] == [second.json()["run_id"], first.json()["run_id"]]
    newest, oldest = runs
    assert (newest["command"], newest["mode"], newest["exit_code"]) == ("run", "paper", 0)
    statuses = {r["asset"]: r["status"] for r in newest["results"]}
    assert statuses == dict.fromkeys(["BTC", "ETH", "LINK"], "not_due")
    assert oldest["results"] == first.json()["results"], "the log keeps exactly what run --json said"
    assert oldest["started_at"] == first.json()["started_at"]
    assert oldest["ended_at"] >= oldest["started_at"]
    assert cli("--config", str(cfg), "--json", "runs", "--limit", "1").json()["runs"] == [newest]
    assert cli("--config", str(cfg), "--json", "runs", "--failed").json() == {"runs": []}
    table = cli("--config", str(cfg), "runs")
    assert table.code == 0
    assert "BTC paper 100" not in table.out  # usd_filled is what filled, not the budget
    assert "3 not due" in table.out and "BTC paper" in table.out


def test_failed_asset_run_is_flagged_with_its_reason(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """An asset that fails makes the run exit 1; `runs --failed` shows it with the asset's reason."""
    body = ASSETS.replace("[assets.LINK]", '[assets.LINK]\ncoingecko_id = "no-such-coin"')
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    assert cli("--config", str(cfg), "run").code == 1
    assert cli("--config", str(cfg), "run", "--only", "BTC").code == 0
    res = cli("--config", str(cfg), "--json", "runs", "--failed")
    (failed,) = res.json()["runs"]
    assert failed["exit_code"] == 1
    link = next(r for r in failed["results"] if r["asset"] == "LINK")
    assert link["status"] == "failed" and "no-such-coin" in link["reason"]
    table = cli("--config", str(cfg), "runs", "--failed")
    assert "LINK failed" in table.out and "no-such-coin" in table.out
    status = cli("--config", str(cfg), "--json", "status").json()
    assert status["last_run"]["exit_code"] == 0, "the newest run (--only BTC) went well"


def test_a_run_stopped_by_its_key_is_logged_with_exit_2(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: Any
) -> None:
    """A live run whose key variable is missing exits 2; the run log keeps the code and the reason."""
    account = Account.create().address
    monkeypatch.delenv("DCACTL_TEST_KEY", raising=False)
    cfg = write_portfolio(
        tmp_path / "p.toml", devnet.url, ASSETS,
        settings=f'mode = "live"\naccount = "{account}"\nkey = "env:DCACTL_TEST_KEY"',
    )
    res = cli("--config", str(cfg), "run")
    assert res.code == 2
    runs = cli("--config", str(cfg), "--json", "runs").json()["runs"]
    assert len(runs) == 1
    assert runs[0]["exit_code"] == 2 and runs[0]["mode"] == "live"
    assert "DCACTL_TEST_KEY" in runs[0]["error"]
    assert cli("--config", str(cfg), "--json", "runs", "--failed").json()["runs"] == runs
    status = cli("--config", str(cfg), "status")
    assert "exit 2, something failed" in status.out


def test_run_that_never_ended_counts_as_failed(tmp_path: Path) -> None:
    """A run row with no end (killed mid-run) shows with no exit code and is listed by --failed."""
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with Ledger.open(tmp_path / "l.db", network="devnet", account=None) as ledger:
        ledger.begin_run("a", t0, "paper", "run")
        ledger.end_run("a", t0 + timedelta(seconds=1), {"results": []}, 0)
        ledger.begin_run("b", t0 + timedelta(minutes=15), "paper", "run")
        entries = run_log(ledger, 10)
        assert [(e.run_id, e.exit_code, e.ended_at, e.failed) for e in entries] == [
            ("b", None, None, True),
            ("a", 0, t0 + timedelta(seconds=1), False),
        ]
        assert [e.run_id for e in run_log(ledger, 10, failed=True)] == ["b"]
        assert entries[0].to_json()["ended_at"] is None


def test_describe_says_what_happened_in_a_few_words() -> None:
    """A buy shows what filled (to the cent), a skip or failure its reason, not-due its status only."""
    assert describe({"asset": "BTC", "status": "filled", "usd_filled": "99.9861", "reason": "x"}) == (
        "BTC filled 99.99 USDC"
    )
    assert describe({"asset": "ETH", "status": "skipped", "reason": "cap: 0 USDC left"}) == (
        "ETH skipped: cap: 0 USDC left"
    )
    assert describe({"asset": "SOL", "status": "not_due", "reason": "bought today"}) == "SOL not_due"
    entry = RunEntry("r", datetime(2026, 1, 1, tzinfo=UTC), None, "run", "live", None, [], None)
    assert entry.failed and D(0) == 0
