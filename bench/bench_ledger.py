"""Ledger benchmark: ingest of 100,000 fills, a no-op re-add, and ``positions()`` (what ``status``
aggregates) over a 1,000,000-fill ledger. Targets (issue 5): ingest ≤ 5 s, status ≤ 1 s. Also the
ledger side of a sync of the 10,000 fills an exchange keeps, from an in-memory ``fetch_page`` (no
network: the devnet round trips are measured by the integrator's sync benchmark), against the sync
targets (10,000 ≤ 2 s, no-op re-sync ≤ 0.3 s). And the exports of the 1,000,000-fill ledger (issue
17: ≤ 5 s and ≤ 100 MB each): ``history`` and ``lots``, ``--format csv`` and ``json``, each run as the
command itself in a child process (start-up included; its own peak memory, nothing of this
benchmark's).

    .venv/bin/python bench/bench_ledger.py [--big 1000000] [--ingest 100000] [--db PATH]
    .venv/bin/python bench/bench_ledger.py --exports-of PATH [--big 1000000]

``--exports-of PATH`` measures only the exports, over the ledger at PATH (built there with ``--big``
fills first when it does not exist, and kept): to repeat them without rebuilding. A ledger an older
dcactl built is upgraded by the first export's open (its time then includes the migration: ~2 s per
million fills for 0014's index); run it twice. The machine's other load moves these times; repeat a
run and compare medians.

Fills are synthetic but exchange-shaped: 20 assets, 8-decimal sizes, 5-significant-figure prices,
fees in the base token (some in USDC), several partial fills per order. Times are wall-clock
(``time.perf_counter``) measured in this one run; the ratio is time / target (≤ 1.0 meets it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcactl.ingest.sync import PAGE_CAP, sync_fills
from dcactl.ledger import Ledger
from dcactl.models import Fill

ASSETS = [f"A{i:02d}" for i in range(20)]
START = datetime(2024, 1, 1, tzinfo=UTC)


def synthetic_fills(n: int, *, seed: int, tid_offset: int = 0) -> list[Fill]:
    """``n`` exchange-shaped buy fills (deterministic for a seed)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        asset = ASSETS[i % len(ASSETS)]
        sz_decimals = 2 + i % 4
        price = Decimal(rng.randint(10000, 99999)).scaleb(-(i % 20) // 4)  # 5 significant figures
        usd = Decimal(rng.randint(1000, 100000)).scaleb(-2)  # 10 .. 1000 USDC per fill
        size = max((usd / price).quantize(Decimal(1).scaleb(-sz_decimals)), Decimal(1).scaleb(-sz_decimals))
        base_fee = i % 5 != 0
        fee = (size * Decimal("0.00035")).quantize(Decimal("1E-8")) if base_fee else (
            size * price * Decimal("0.00035")).quantize(Decimal("1E-6"))
        out.append(Fill(
            time=START + timedelta(milliseconds=i * 997), asset=asset, pair=f"@{100 + i % 20}", side="B",
            size=size, price=price, fee=fee, fee_token=f"U{asset}" if base_fee else "USDC",
            tid=str(tid_offset + i), source="dcactl" if i % 3 else "external", oid=(tid_offset + i) // 3,
            hash=f"0x{i:064x}",
        ))
    return out


def raw_fills(n: int) -> list[dict[str, object]]:
    """``n`` userFillsByTime-shaped spot fills, 5 per millisecond (batched orders), newest last."""
    t0 = 1_767_225_600_000
    return [{"coin": f"@{100 + i % 20}", "px": "101.25", "sz": "0.5", "side": "B", "time": t0 + i // 5,
             "hash": f"0x{i:064x}", "oid": i // 2, "tid": 10_000_000 + i, "fee": "0.000175",
             "feeToken": f"U{i % 20}", "crossed": True, "dir": "Buy", "startPosition": "0", "closedPnl": "0"}
            for i in range(n)]


def bench_sync(path: Path, n: int) -> None:
    """Ledger-side cost of syncing ``n`` fills, then a no-op re-sync and a full re-scan."""
    fills = raw_fills(n)

    async def fetch_page(start_ms: int, end_ms: int | None) -> list[dict[str, object]]:
        # as userFillsByTime: the window's bounds both count; at most PAGE_CAP fills, oldest first
        return [dict(f) for f in fills if start_ms <= int(f["time"])  # type: ignore[call-overload]
                and (end_ms is None or int(f["time"]) <= end_ms)][:PAGE_CAP]  # type: ignore[call-overload]

    coins = {f"@{100 + i}": f"A{i:02d}" for i in range(20)}
    now = datetime(2027, 1, 1, tzinfo=UTC)
    with Ledger.open(path, network="devnet", account="0xbench") as ledger:
        rep = timed(f"sync {n:,} fills (ledger side, in-memory pages)", 2.0,
                    lambda: asyncio.run(sync_fills(ledger, fetch_page, coins, now=now)))
        assert rep.inserted == n, rep
        rep = timed("no-op re-sync from the cursor", 0.3,
                    lambda: asyncio.run(sync_fills(ledger, fetch_page, coins, now=now)))
        assert rep.inserted == 0
        rep = timed(f"--full re-scan of {n:,} fills (adds nothing)", None,
                    lambda: asyncio.run(sync_fills(ledger, fetch_page, coins, now=now, full=True)))
        assert rep.inserted == 0


def timed(label: str, target: float | None, fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    ratio = f"{elapsed / target:6.3f} of target {target:g} s" if target else ""
    print(f"{label:<48} {elapsed:8.3f} s   {ratio}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="directory for the ledger files")
    parser.add_argument("--exports-of", type=Path, default=None, help="only the exports, of this ledger")
    args = parser.parse_args()
    if args.exports_of is not None:
        if not args.exports_of.exists():
            _build(args.exports_of, args.big)
        _exports(args.exports_of, args.big)
        return
    with tempfile.TemporaryDirectory(dir=args.db) as tmp:
        fills = synthetic_fills(args.ingest, seed=1)
        with Ledger.open(Path(tmp) / "ingest.db", network="devnet", account="0xbench") as ledger:
            inserted = timed(f"ingest {args.ingest:,} fills (one transaction)", 5.0,
                             lambda: ledger.add_fills(fills))
            assert inserted == args.ingest, inserted
            again = timed(f"no-op re-add of the same {args.ingest:,} fills", None,
                          lambda: ledger.add_fills(fills))
            assert again == 0, again
            timed(f"positions() over {args.ingest:,} fills", None, ledger.positions)

        bench_sync(Path(tmp) / "sync.db", 10_000)

        path = Path(tmp) / "big.db"
        _build(path, args.big)
        with Ledger.open(path, network="devnet", account=None) as ledger:
            rows = timed(f"positions() over {args.big:,} fills (cold open)", 1.0, ledger.positions)
            timed(f"positions() over {args.big:,} fills (warm)", 1.0, ledger.positions)
            r = rows[0]
            print(f"  {len(rows)} (asset, source) rows; e.g. {r.asset}/{r.source}: units {r.units},"
                  f" invested {r.invested_usd} USDC, fees {r.fees_usd} USDC")
        _exports(path, args.big)


_RUN_REPORTING_PEAK = """
import atexit, runpy, sys
def peak():  # this process's own high-water mark (ru_maxrss would include the parent's, copied at fork)
    with open("/proc/self/status") as status:
        sys.stderr.write(next(line for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
sys.argv[0] = "dcactl"
runpy.run_module("dcactl", run_name="__main__")
"""
"""``python -c`` code running ``dcactl ARGS`` that writes its peak RSS (``VmHWM: N kB``) to stderr at exit."""


EXPORTS = (
    ("history", "--format", "csv"), ("history", "--format", "json"),
    ("lots", "--year", str(START.year), "--format", "csv"),
    ("lots", "--year", str(START.year), "--format", "json"),
)
"""The exports of issue 17, each over every fill of the big ledger (its fills all fall in START's year)."""


def _build(path: Path, n: int) -> None:
    """The big ledger: ``n`` synthetic fills at ``path``."""
    t0 = time.perf_counter()
    # account None: the "paper" book, the one a portfolio without an account (the exports) reads
    with Ledger.open(path, network="devnet", account=None) as ledger:
        chunk = 100_000
        for start in range(0, n, chunk):
            ledger.add_fills(synthetic_fills(min(chunk, n - start), seed=start, tid_offset=start))
    label = f"(building the {n:,}-fill ledger)"
    print(f"{label:<48} {time.perf_counter() - t0:8.3f} s")


def _exports(path: Path, n: int) -> None:
    """Each of :data:`EXPORTS` over the ``n``-fill ledger at ``path``, run as a user runs it (a child
    process writing to /dev/null; its wall time includes start-up): time and the command's own peak
    RSS (Linux /proc), each as a ratio to issue 17's targets (1M fills ≤ 5 s, ≤ 100 MB)."""
    import os
    import re
    import subprocess

    config = path.with_name("bench.toml")
    config.write_text('[settings]\nnetwork = "devnet"\n[assets.A00]\namount = 20\nevery = "day"\n')
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for args in EXPORTS:
        command = [sys.executable, "-c", _RUN_REPORTING_PEAK, "--config", str(config), "--db", str(path),
                   *args]
        with open(os.devnull, "wb") as sink:
            t0 = time.perf_counter()
            done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, cwd=root, env=env,
                                  check=False)
            elapsed = time.perf_counter() - t0
        errors = done.stderr.decode()
        found = re.search(r"^VmHWM:\s*(\d+) kB", errors, re.MULTILINE)
        name = f"{args[0]} {' '.join(args[-2:])}"
        if done.returncode != 0 or found is None:
            raise SystemExit(f"{name} failed ({done.returncode}): {errors}")
        peak = int(found.group(1)) / 1024
        label = f"{name} of {n:,} fills (streamed)"
        print(f"{label:<52} {elapsed:8.3f} s   {elapsed / 5:6.3f} of target 5 s; peak RSS {peak:.0f} MB "
              f"{peak / 100:6.3f} of target 100 MB (the whole command)")


if __name__ == "__main__":
    main()
