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
measured in this one run. The timed process keeps ``PYTHONPATH``: ``PYTHONPATH=<checkout>`` times
that checkout's dcactl (else the installed one).

vectorbt (never a dependency of dcactl) is compared when the interpreter given by
``--vectorbt-python`` (default: this one) can import it: the same plain DCA (every asset 50 USDC at
the open of each week's first candle, 7 bps fee, 5 bps slippage) through ``Portfolio.from_orders``,
as a whole new process per run (numba keeps its compiled code on disk after the first), against
dcactl's whole process for all 10 strategies. To measure it here, install it apart
(``python3 -m venv /tmp/vbt && /tmp/vbt/bin/pip install vectorbt``) and pass
``--vectorbt-python /tmp/vbt/bin/python``.
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--vectorbt-python", default=sys.executable,
                        help="an interpreter with vectorbt installed (a benchmark-only comparison)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv, cfg, frm = write_inputs(folder, args.assets, args.years)
        to = frm + timedelta(days=365 * args.years)
        print(f"backtest: {args.assets} assets x {args.years} years daily x 10 strategies (whole process)")
        walls: dict[str, float] = {}
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
                    env={"DCACTL_HOME": tmp, "PATH": "/usr/bin:/bin", "HOME": tmp, **_passed()},
                    check=False,
                )
                times.append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    sys.exit(f"backtest failed: {proc.stderr.strip()}")
            wall = statistics.median(times)
            print(f"  --set {sweep}: wall {wall:.2f} s (median of {args.repeat}); target {TARGET_S} s; "
                  f"ratio {wall / TARGET_S:.2f}")
            walls[sweep] = wall
        _vectorbt(args, csv, frm, to, folder, walls)


def _passed() -> dict[str, str]:
    """The environment the timed process keeps: ``PYTHONPATH`` (which checkout of dcactl is timed)."""
    return {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}


VECTORBT = """
import sys
try:
    import numpy as np, pandas as pd, vectorbt as vbt
except ImportError:
    sys.exit(3)
prices = pd.read_csv(sys.argv[1], parse_dates=["time"])
start, end = pd.Timestamp(sys.argv[2]), pd.Timestamp(sys.argv[3])
opens = prices.pivot(index="time", columns="asset", values="open")
opens = opens[(opens.index >= start) & (opens.index < end)]
week = opens.index.to_period("W")
first = pd.Series(week, index=opens.index).ne(pd.Series(week, index=opens.index).shift())
size = pd.DataFrame(np.where(first.values[:, None], np.full(opens.shape, 50.0), np.nan), index=opens.index,
                    columns=opens.columns)
pf = vbt.Portfolio.from_orders(opens, size, size_type="value", fees=0.0007, slippage=0.0005,
                               init_cash=np.inf, freq="1D")
print(float(pf.value().iloc[-1].sum()))
"""


def _vectorbt(args: argparse.Namespace, csv: Path, frm: datetime, to: datetime, folder: Path,
              walls: dict[str, float]) -> None:
    """Plain DCA through vectorbt as a cold process, when ``--vectorbt-python`` can import it."""
    script = folder / "vbt_plain.py"
    script.write_text(VECTORBT)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        command = [args.vectorbt_python, str(script), str(csv), f"{frm:%Y-%m-%d}", f"{to:%Y-%m-%d}"]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode == 3:
            print(f"  vectorbt: not importable by {args.vectorbt_python}; no comparison "
                  "(it is never a dependency of dcactl; see --vectorbt-python)")
            return
        if proc.returncode != 0:
            print(f"  vectorbt: failed ({proc.stderr.strip().splitlines()[-1:]}); no comparison")
            return
    wall = statistics.median(times)
    ours = min(walls.values())
    print(f"  vectorbt plain DCA alone, a new process per run: wall {wall:.2f} s (median of {args.repeat}); "
          f"dcactl's 10 strategies take {ours / wall:.2f} of that")


if __name__ == "__main__":
    main()
