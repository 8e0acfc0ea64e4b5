"""`make demo` end to end: examples/demo.py runs a live round against its own devnet process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_a_round_and_shows_the_status_table(tmp_path: Path) -> None:
    """The demo exits 0 within 120 s, buys once per asset (the second run buys nothing) and prints
    the status table with real and paper apart."""
    workdir = tmp_path / "demo"
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    steps = [line for line in out.splitlines() if line.startswith("$ dcactl")]
    assert steps == ["$ dcactl markets", "$ dcactl run --dry-run", "$ dcactl run", "$ dcactl run",
                     "$ dcactl status", "$ dcactl history --limit 10"]
    status = out.split("$ dcactl status", 1)[1].split("$ dcactl history", 1)[0]
    assert "Portfolio on" in status and "Totals by source" in status
    rows = {tuple(cell.strip() for cell in line.split("│")[1:3]) for line in status.splitlines()
            if line.startswith("│")}
    assert {("BTC", "dcactl"), ("ETH", "dcactl"), ("SOL", "dcactl"), ("AVAX", "paper"),
            ("LINK", "paper")} <= rows
    second = out.split("$ dcactl run\n", 2)[2].split("$ dcactl status", 1)[0]
    assert second.count("not_due") == 5, "the second run in the same period buys nothing"
    assert "The devnet received 3 orders in all" in out
    assert (workdir / "portfolio.toml").is_file() and (workdir / "ledger.db").is_file()
