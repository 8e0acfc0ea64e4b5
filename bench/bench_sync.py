"""Sync benchmark (issue 5): `dcactl sync` of the 10,000 fills an exchange keeps, and a no-op re-sync,
against a devnet *process* (its own CPU, over loopback HTTP). Targets: 10,000 fills ≤ 2 s, no-op
re-sync ≤ 0.3 s.

    .venv/bin/python bench/bench_sync.py [--fills 10000] [--repeat 3] [--skip-rate-limit]

1. Rate limit off: `dcactl sync` as a whole process (`python -m dcactl ...`: interpreter start and
   imports included) and in-process (`dcactl.cli.app.main`, the same path minus start-up), each on a
   fresh ledger, then a no-op re-sync of the same ledger. Best and median of ``--repeat`` runs.
2. Rate limit ON (the devnet's 1200 weight per minute per IP): two full syncs of 10,000 fills through
   one client in one process cost ~1,400 weight in a minute; the client's budget (1000/min) must
   make the second *wait* rather than earn 429s. Reports the wait, the attempts, and the 429s.
   Then the same two syncs as two separate processes, which share one pacing window through the
   user's data dir: the second must wait too, and exit 0.

Each rate-limit-off measurement has a data dir of its own (``DCACTL_HOME``), so one measurement's
weight never makes the next wait for the shared window.

Fills are injected with the devnet's admin route: four USDC pairs in turn, blocks of 1–500 fills
sharing a millisecond, several partial fills per order. Times are wall clock (`time.perf_counter`)
of this one machine and run; ratio = time / target (≤ 1.00 meets it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcactl.devnet.control import DevnetProcess

ACCOUNT = "0x" + "5e" * 20
TARGET_SYNC_S = 2.0
TARGET_NOOP_S = 0.3
COINS = (("UBTC", "0.0001", "100000"), ("UETH", "0.003", "3500"), ("USOL", "0.1", "150"),
         ("HYPE", "0.5", "40"))


def inject(devnet: DevnetProcess, n: int) -> None:
    """``n`` fills for ACCOUNT, ending a minute ago: blocks of 1..500 fills in one ms, 1..5 per order."""
    t = devnet.admin.time() - 3_600_000
    left, k = n, 0
    while left:
        coin, sz, px = COINS[k % len(COINS)]
        count = min(left, (1, 500, 37, 250, 120)[k % 5])
        per = (1, 5, 1, 2, 3)[k % 5] if count % (1, 5, 1, 2, 3)[k % 5] == 0 else 1
        step = 0 if k % 2 else 1
        last = devnet.admin.inject_fills(ACCOUNT, coin, count, sz, px, start_ms=t, step_ms=step,
                                         per_order=per)["lastTime"]
        t = last + 1
        left -= count
        k += 1


def portfolio(folder: Path, url: str, db: Path) -> Path:
    """A paper portfolio whose account is ACCOUNT (sync needs only the address)."""
    path = folder / "p.toml"
    path.write_text(f'[settings]\nnetwork = "{url}"\naccount = "{ACCOUNT}"\ndatabase = "{db}"\n'
                    '[assets.BTC]\namount = 10\nevery = "day"\n[assets.ETH]\namount = 10\nevery = "day"\n'
                    '[assets.SOL]\namount = 15\nevery = "day"\n')
    return path


def in_process(cfg: Path, *args: str) -> tuple[float, int]:
    """(seconds, exit code) of `dcactl --config cfg --json sync ARGS` through the real entry point."""
    from dcactl.cli import output
    from dcactl.cli.app import main

    output.reset_consoles()
    sink = io.StringIO()
    started = time.perf_counter()
    code = 0
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(["--config", str(cfg), "--json", "sync", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return time.perf_counter() - started, code


def whole_process(cfg: Path, *args: str) -> tuple[float, int]:
    """(seconds, exit code) of `python -m dcactl --config cfg --json sync ARGS` as a new process."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dcactl", "--config", str(cfg), "--json", "sync", *args],
                          capture_output=True, text=True, check=False, timeout=300)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"  (exit {proc.returncode}: {proc.stderr.strip()[:200]})")
    return elapsed, proc.returncode


def inserted(db: Path, url: str) -> int:
    """Fills in the ledger's book for ACCOUNT."""
    from dcactl.ledger import Ledger

    with Ledger.open(db, network=url, account=ACCOUNT) as ledger:
        return ledger.fill_count()


def row(name: str, times: list[float], target: float | None) -> None:
    best, med = min(times), statistics.median(times)
    ratio = f"{best / target:5.2f}" if target else "    -"
    limit = f"{target:.1f}" if target else "-"
    print(f"{name:<44} {best:8.3f} {med:8.3f} {limit:>7} {ratio:>6}")


def measure(run: Callable[..., tuple[float, int]], tmp: Path, url: str, n: int, repeat: int,
            label: str) -> None:
    """First sync of ``n`` fills on a fresh ledger and a no-op re-sync, ``repeat`` times."""
    first, again = [], []
    for i in range(repeat):
        folder = tmp / f"{label}-{i}"
        folder.mkdir()
        os.environ["DCACTL_HOME"] = str(folder)  # a pacing window of its own (see the docstring)
        db = folder / "ledger.db"
        cfg = portfolio(folder, url, db)
        t, code = run(cfg)
        assert code == 0, f"{label} sync exited {code}"
        assert inserted(db, url) == n, f"{label}: {inserted(db, url)} fills stored, expected {n}"
        first.append(t)
        t, code = run(cfg)
        assert code == 0 and inserted(db, url) == n
        again.append(t)
    row(f"sync {n:,} fills ({label})", first, TARGET_SYNC_S)
    row(f"no-op re-sync ({label})", again, TARGET_NOOP_S)


def rate_limited(tmp: Path, n: int) -> None:
    """Two full syncs through one budgeted client against a rate-limited devnet, then two processes."""
    from dcactl.http import WeightBudget
    from dcactl.ingest.sync import sync_fills
    from dcactl.ledger import Ledger
    from dcactl.venues.hyperliquid import HyperliquidClient

    with DevnetProcess(seed=5, rate_limit=True) as devnet:
        inject(devnet, n)

        async def twice() -> list[tuple[float, int, int]]:
            budget = WeightBudget()
            out = []
            async with HyperliquidClient(devnet.url, is_mainnet=False, timeout=30, budget=budget) as hl:
                async def fetch(start: int, end: int | None) -> list[dict[str, Any]]:
                    return [dict(f) for f in await hl.user_fills_by_time(ACCOUNT, start, end)]

                with Ledger.open(tmp / "rl.db", network="rl", account=ACCOUNT) as ledger:
                    for _ in range(2):
                        started = time.perf_counter()
                        before = hl.http.attempts_made
                        report = await sync_fills(ledger, fetch, {}, full=True, now=datetime.now(UTC))
                        attempts = hl.http.attempts_made - before
                        out.append((time.perf_counter() - started, report.pages, attempts))
                    assert ledger.fill_count() == n
            return out

        (t1, p1, a1), (t2, p2, a2) = asyncio.run(twice())
        print("rate limit ON, one process, one client (budget 1000/min):")
        print(f"  full sync 1: {t1:7.3f} s, {p1} pages, {a1} HTTP attempts ({a1 - p1} retried)")
        print(f"  full sync 2: {t2:7.3f} s, {p2} pages, {a2} HTTP attempts ({a2 - p2} retried)"
              " — waited for the budget instead of failing")
    with DevnetProcess(seed=6, rate_limit=True) as devnet:
        inject(devnet, n)
        folder = tmp / "rl-proc"
        folder.mkdir()
        os.environ["DCACTL_HOME"] = str(folder)  # both processes: one data dir, one pacing window
        cfg = portfolio(folder, devnet.url, folder / "ledger.db")
        results = [whole_process(cfg, "--full") for _ in range(2)]
        print("rate limit ON, two `dcactl sync --full` processes back to back (one shared window):")
        for i, (t, code) in enumerate(results, 1):
            print(f"  process {i}: {t:7.3f} s, exit {code}")


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-rate-limit", action="store_true")
    opts = parser.parse_args()
    os.environ.pop("DCACTL_DB", None)
    os.environ.pop("DCACTL_CONFIG", None)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ["HOME"] = str(tmp / "home")
        os.environ["XDG_DATA_HOME"] = str(tmp / "home" / "data")
        os.environ["XDG_CONFIG_HOME"] = str(tmp / "home" / "config")
        with DevnetProcess(seed=4) as devnet:
            inject(devnet, opts.fills)
            print(f"devnet {devnet.url} (rate limit off), {opts.fills:,} fills for one account;"
                  f" best and median of {opts.repeat}")
            print(f"{'':<44} {'best s':>8} {'median':>8} {'target':>7} {'ratio':>6}")
            measure(whole_process, tmp, devnet.url, opts.fills, opts.repeat, "whole process")
            measure(in_process, tmp, devnet.url, opts.fills, opts.repeat, "in-process")
        if not opts.skip_rate_limit:
            rate_limited(tmp, opts.fills)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
