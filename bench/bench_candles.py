"""Candle cache benchmark: the warm-up of a cold portfolio, then the incremental refresh a day later.

    .venv/bin/python bench/bench_candles.py [--assets 20] [--latency-ms 500] [--repeat 3]

A devnet (in a thread, rate limit off, ``--latency-ms`` on every route) and ``--assets`` listed
pairs, each with EMA dips (600 daily candles, weight 30 cold) and an hourly RSI (140 hourly candles,
weight 22 cold). ``dcactl plan`` runs in process with both clocks frozen together:

1. **warm-up**: plan until no series is deferred; per run, the candleSnapshot requests, their weight
   by the fact sheet (20 + 1 per 60 candles; target ≤ 800, ``candles.RUN_SHARE`` of the client's
   1000/min) and the time of the history stage;
2. **next day** (both clocks + 1 day + 1 hour): one plan from the warmed ledger; requests per asset
   (one per series: daily and hourly) and the history stage's round trips, measured as the slope
   (time at ``--latency-ms`` − time at 0 ms) / latency from two plans on copies of the same ledger,
   the median of ``--repeat`` pairs (target ≤ 1: every series refreshed concurrently in one round
   trip). The in-process devnet's own work (~0.5 s for 20 assets on 2 cores) is in both times, so a
   latency well above it (the default 500 ms) keeps the slope steady.

Cron runs are an hour or a day apart, so each plan here starts with an empty request-pacing window
(the shared window files in the temporary ``DCACTL_HOME`` are removed before it). Times are
wall-clock (``time.perf_counter``) of ``planner.load_histories`` in this one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcactl.cli import output
from dcactl.devnet.control import DevnetThread
from dcactl.models import to_ms
from dcactl.run import execute as executor
from dcactl.run import plan as planner
from dcactl.session import open_session

SYMBOLS = ["BTC", "ETH", "SOL", "HYPE", "PURR", "HFUN", "JEFF", "PIP", "SCHIZO", "CATBAL", "PUMP", "UFART",
           "UXPL", "UENA", "UWLD", "USUI", "UBONK", "KNTQ", "UMON", "LIQD", "BUDDY", "UTRX", "UAAVE", "FEUSD",
           "USDH"]
NOW = datetime(2026, 6, 10, 12, 10, tzinfo=UTC)
RUN_BUDGET = 800


def _weight(asks: list[dict[str, Any]]) -> int:
    """candleSnapshot weight by the fact sheet: 20 + 1 per 60 candles returned."""
    total = 0
    for a in asks:
        step = 3_600_000 if a["interval"] == "1h" else 86_400_000
        total += 20 + (a["endTime"] // step - a["startTime"] // step + 1) // 60
    return total


class Stage:
    """Times ``planner.load_histories`` (the history stage): the sum of its calls since :meth:`reset`
    (a plan calls it before the due check, for dynamic frequency, and in the read round)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._inner = planner.load_histories

    async def __call__(self, *args: Any) -> None:
        t0 = time.perf_counter()
        await self._inner(*args)
        self.seconds += time.perf_counter() - t0

    def reset(self) -> None:
        """Start timing a new plan."""
        self.seconds = 0.0


def _plan(cfg: Path, db: Path) -> Any:
    for window in (cfg.parent / "data" / "pacing").glob("*.json"):
        window.unlink()  # the previous run was an hour ago

    async def go() -> Any:
        async with open_session(cfg, db) as session:
            return await executor.plan(session)
    return asyncio.run(go())


def main() -> int:
    """Warm up, refresh a day later, print the table with ratios and targets."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=20)
    ap.add_argument("--latency-ms", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, lat = min(args.assets, len(SYMBOLS)), args.latency_ms
    stage = Stage()
    planner.load_histories = stage  # type: ignore[assignment]
    output.OPTIONS.quiet = True
    clock = {"now": NOW}
    executor.utcnow = lambda: clock["now"]  # type: ignore[assignment]
    body = "".join(
        f'[assets.{s}]\namount = 10\nevery = "day"\n[assets.{s}.ma_dips]\nkind = "EMA"\n'
        f'[assets.{s}.rsi]\ninterval = "1h"\n' for s in SYMBOLS[:n]
    )
    with DevnetThread(seed=3) as dn, tempfile.TemporaryDirectory() as tmp:
        os.environ["DCACTL_HOME"] = tmp
        cfg = Path(tmp) / "p.toml"
        cfg.write_text(f'[settings]\nnetwork = "{dn.url}"\nmode = "paper"\n'
                       f'coingecko_url = "{dn.url}/coingecko/api/v3"\n\n{body}')
        db = Path(tmp) / "ledger.db"
        dn.admin.set_clock(to_ms(NOW))
        dn.admin.faults(kind="latency", ms=lat)
        print(f"# candle cache, {n} assets × (EMA dips 600 d + hourly RSI 140 h), devnet latency {lat} ms")
        print("| step | requests | weight | target | ratio | history stage |")
        print("|---|---|---|---|---|---|")
        worst = 0.0
        for run in range(1, 10):
            dn.admin.clear_requests()
            stage.reset()
            report = _plan(cfg, db)
            asks = [r["body"]["req"] for r in dn.admin.requests(type="candleSnapshot")]
            if not asks:
                break
            w = _weight(asks)
            worst = max(worst, w / RUN_BUDGET)
            print(f"| warm-up run {run} | {len(asks)} | {w} | ≤ {RUN_BUDGET} | {w / RUN_BUDGET:.2f} "
                  f"| {stage.seconds:.3f} s |")
        deferred = [a["asset"] for a in report.assets
                    if any("not refreshed this run" in r for r in a["reasons"])]
        clock["now"] = NOW + timedelta(days=1, hours=1)
        dn.admin.set_clock(to_ms(clock["now"]))
        warm = Path(tmp) / "warm"
        warm.mkdir()
        for f in Path(tmp).glob("ledger.db*"):
            shutil.copy(f, warm / f.name)

        def next_day(latency_ms: int) -> tuple[list[dict[str, Any]], float]:
            for f in warm.iterdir():
                shutil.copy(f, Path(tmp) / f.name)
            dn.admin.clear_faults()
            if latency_ms:
                dn.admin.faults(kind="latency", ms=latency_ms)
            dn.admin.clear_requests()
            stage.reset()
            _plan(cfg, db)
            return [r["body"]["req"] for r in dn.admin.requests(type="candleSnapshot")], stage.seconds

        slopes = []
        for _ in range(args.repeat):
            asks, slow = next_day(lat)
            _, fast = next_day(0)
            slopes.append((slow - fast) / (lat / 1000))
        rounds = statistics.median(slopes)
        print(f"| next day | {len(asks)} ({len(asks) / n:g} per asset) | {_weight(asks)} | ≤ 1 round "
              f"| {rounds:.2f} | {slow:.3f} s ({fast:.3f} s at 0 ms) |")
        dn.admin.set_clock(None)
    print(f"\nwarm-up finished after {run - 1} run(s); still deferred at the end: {deferred or 'none'}")
    print(f"worst warm-up run weight ratio {worst:.2f}; next-day refresh {rounds:.2f} round trips")
    return 0 if worst <= 1 and rounds < 2 and not deferred else 1


if __name__ == "__main__":
    raise SystemExit(main())
