"""Benchmark a live `dcactl run` as a whole process: --parallel vs --sequential, 1/3/10/20 assets.

Run:  .venv/bin/python bench/bench_run.py [--latency-ms 100] [--repeat 3] [--sizes 1,3,10,20] [--rsi]

Starts the devnet as a subprocess (`python -m dcactl.devnet --no-rate-limit`, DevnetProcess) with a
latency fault of ``--latency-ms`` on every route, then, per size and mode, runs
`python -m dcactl --config p.toml --json run --parallel|--sequential` in live mode with a fresh funded
throwaway key and a fresh ledger (12 USDC per asset, every asset due):

- **cold**: an empty ledger (spot metadata fetched from the exchange);
- **warm**: a fresh ledger whose metadata cache (1 h TTL) was filled beforehand, as on every run of
  a cron job but the first of the hour.

With ``--rsi`` every asset also has a daily RSI rule (levels 0.1/99.9, so it never skips a buy): its
140 daily candles are fetched in the run (the candle cache is empty), in the same round as the books.

Wall time is the whole process (interpreter start, imports, config, ledger, network) measured
around `subprocess.run`; the median of ``--repeat`` runs is shown. Sequential round trips are
counted from the devnet's own logs: every /info request and /exchange action of the run has the time
it was handled; each waits the same latency first, so a request handled less than one latency after
the first of the current round was sent before that one's answer left, and cannot have waited for
it: it is in the same round. A new round begins with a request handled a latency or more after the
first of the current one (the rule was half a latency, which counted one round as two when a busy
machine took over 50 ms to send a round of 81 requests). Targets (issue 4): parallel ≤ 3 rounds
and ≤ 3 × latency + 0.6 s.

Where the time of a parallel run goes (issue 17), each against its goal:

- **start-up**: from launching the process to its first request reaching the devnet (the devnet logs
  each request when handled, after the latency: arrival = logged − latency); goal 0.12 s;
- **book→order**: from the last answer of the read round to the signed order leaving, read from the
  run's own ``timings`` (``run --json``); goal 0.05 s: the age of the book an order is priced from;
- **tail**: from the last answer the run waits for (the fills, by oid, and the balance, read in one
  round after the order's answer) to the process having exited (answers leave when the devnet logs
  them handled); goal 0.05 s: the issue's "after the last answer" (recording, rendering, exit);
- **order->exit**: from the exchange answering the order to the exit, for reference: the tail, the
  fills round trip (at least ``--latency-ms``) and the work between the order's answer and the
  fills read leaving;
- **wall** against 3 × latency + 0.3 s.

Beside the goals the bench prints **the stack alone**: the median wall time of an interpreter that
imports only what a run needs of its libraries before the first request can leave (asyncio, httpx
and its connection pool, anyio's asyncio backend, typer, sqlite3, tomllib; no dcactl code). No run
starts faster than that on the machine; on the 2-core machine it is above the 0.12 s start-up goal.

Start-up counts compiling dcactl when its bytecode is not there: with ``PYTHONDONTWRITEBYTECODE``
set, a source tree that was never compiled is compiled again by every run (about 0.06-0.1 s on the
2-core machine), which an installed dcactl never does; the bench says so on stderr. Run
``python -m compileall -q dcactl`` once first to measure what users get.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from dcactl.devnet.control import DevnetProcess
from dcactl.ledger import Ledger
from dcactl.market.data import META_CACHE_KEY
from dcactl.models import utcnow

SYMBOLS = [
    "BTC", "ETH", "SOL", "HYPE", "PURR", "HFUN", "JEFF", "PIP", "SCHIZO", "CATBAL",
    "UFART", "UPUMP", "UXPL", "UENA", "UWLD", "USUI", "UBONK", "KNTQ", "UMON", "LIQD",
]
"""20 listed spot assets of the devnet's default universe (all above the 10 USDC minimum at 12 USDC)."""


def _only_ioc_misses(proc: subprocess.CompletedProcess[str]) -> bool:
    """A run whose only failures are IOCs that found nothing (the book moved between the read and
    the order, as the bench buys the same thin books over and over) still measures the round trips:
    it is timed like the others, and reported on stderr."""
    try:
        results = json.loads(proc.stdout)["results"]
    except (ValueError, KeyError):
        return False
    failed = [r for r in results if r["status"] == "failed"]
    misses = [r for r in failed if "could not immediately match" in (r["reason"] or "")]
    if failed and len(misses) == len(failed):
        print(f"  (note: {len(misses)} IOC miss(es) in this run; timed all the same)", file=sys.stderr)
        return True
    return False


def _portfolio(folder: Path, url: str, account: str, n: int, rsi: bool) -> Path:
    rule = "[assets.{s}.rsi]\noverbought = 99.9\noversold = 0.1\n" if rsi else ""
    asset = '[assets.{s}]\namount = 12\nevery = "day"\nvenue = "hyperliquid"\n' + rule
    body = "".join(asset.format(s=s) for s in SYMBOLS[:n])
    path = folder / "p.toml"
    path.write_text(
        f'[settings]\nnetwork = "{url}"\nmode = "live"\naccount = "{account}"\nkey = "env:DCACTL_KEY"\n'
        f'database = "ledger.db"\ncoingecko_url = "{url}/coingecko/api/v3"\n\n{body}'
    )
    return path


STACK = (
    "asyncio", "httpx", "httpcore._async.connection_pool", "anyio._backends._asyncio", "typer", "sqlite3",
    "tomllib",
)
"""What a run imports of the design card's libraries (and the standard library's heavier modules)
before its first request can leave; httpx's own command line and trio stay hidden, as
:func:`dcactl.cli.process.own` hides them."""


def _stack_floor(repeat: int) -> float:
    """The median wall time of a process importing :data:`STACK` and nothing of dcactl: the start-up
    no run can beat with these libraries on this machine."""
    code = "import sys\nsys.modules['httpx._main'] = sys.modules['trio'] = None\n" + "".join(
        f"import {name}\n" for name in STACK
    )
    times = []
    for _ in range(2 * repeat + 1):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _rounds(times_ms: list[int], latency_ms: int) -> int:
    """Sequential rounds among handled-at times: a new round starts ≥ one latency after the last start
    (a request handled sooner left before the answer it would have waited for)."""
    rounds, start = 0, None
    for t in sorted(times_ms):
        if start is None or t - start >= latency_ms:
            rounds, start = rounds + 1, t
    return rounds


def _measure(
    dn: DevnetProcess, meta: Any, n: int, parallel: bool, warm: bool, latency_ms: int, rsi: bool
) -> dict[str, Any]:
    """One whole-process run; returns wall seconds, rounds, the /info and /exchange counts and statuses."""
    wallet = Account.create()
    dn.admin.fund(wallet.address, usdc="100000")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = _portfolio(folder, dn.url, wallet.address, n, rsi)
        if warm:
            with Ledger.open(folder / "ledger.db", network=dn.url, account=wallet.address.lower()) as ledger:
                ledger.cache_put(META_CACHE_KEY, json.dumps(meta), utcnow())
        env = {**os.environ, "DCACTL_KEY": bytes(wallet.key).hex(), "HOME": tmp, "DCACTL_HOME": tmp}
        cmd = [sys.executable, "-m", "dcactl", "--config", str(cfg), "--json", "run"]
        cmd.append("--parallel" if parallel else "--sequential")
        dn.admin.clear_requests()
        since = dn.admin.time()
        launched = time.time()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        exited = time.time()
    if proc.returncode != 0 and not _only_ioc_misses(proc):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    infos = [r["time"] for r in dn.admin.requests(path="/info")]
    actions = [a["time"] for a in dn.admin.actions(user=wallet.address.lower(), since=since)]
    doc = json.loads(proc.stdout)
    statuses = {r["status"] for r in doc["results"]}
    tail = order_to_exit = float("nan")
    if actions:
        answered = max(actions)
        order_to_exit = exited - answered / 1000
        after = [t for t in infos if t > answered]  # the fills and balance reads (handled = answer leaves)
        if after:
            tail = exited - max(after) / 1000
    return {
        "startup": (min(infos + actions) - latency_ms) / 1000 - launched,
        "book_to_order": doc["timings"].get("book_to_order_ms", float("nan")) / 1000,
        "tail": tail,
        "order_to_exit": order_to_exit,
        "wall": wall,
        "rounds": _rounds(infos + actions, latency_ms),
        "info": len(infos),
        "actions": len(actions),
        "statuses": statuses,
    }


def main() -> int:
    """Measure every (size, cache, mode) and print the table with ratios and targets."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="1,3,10,20")
    ap.add_argument("--rsi", action="store_true", help="every asset with a daily RSI rule")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    lat = args.latency_ms
    target_wall = 3 * lat / 1000 + 0.6

    import dcactl

    package = Path(dcactl.__file__).parent
    if sys.flags.dont_write_bytecode and not (package / "__pycache__").is_dir():
        print(f"# note: PYTHONDONTWRITEBYTECODE is set and {package} has no bytecode: every run compiles "
              "dcactl first (python -m compileall -q dcactl to measure an installed dcactl)", file=sys.stderr)
    with DevnetProcess(seed=7) as dn:
        import httpx

        meta = httpx.post(f"{dn.url}/info", json={"type": "spotMeta"}, timeout=10).json()
        dn.admin.faults(kind="latency", ms=lat)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dcactl", "--version"], capture_output=True, check=True)
        bare = time.perf_counter() - t0
        floor = _stack_floor(args.repeat)
        rules = ", every asset with a daily RSI (cold candle cache)" if args.rsi else ""
        print(f"# dcactl run, whole process, devnet latency {lat} ms on every route, median of {args.repeat}"
              f"{rules}")
        print(f"# `python -m dcactl --version` alone: {bare:.3f} s; target for parallel: <= 3 rounds and "
              f"<= {target_wall:.2f} s")
        goal = 3 * lat / 1000 + 0.3
        print(f"# the stack alone: {floor:.3f} s ({floor / 0.12:.2f} x the start-up goal) for an interpreter"
              " that only imports what a run needs of the design card's libraries before its first request"
              f" ({', '.join(STACK)}), median of {2 * args.repeat + 1}")
        print(f"# parallel run goals (issue 17): wall <= {goal:.2f} s (3 x latency + 0.3), start-up <= 0.12"
              " s, book->order <= 0.05 s, tail (after the last answer) <= 0.05 s; each as seconds (ratio"
              f" to goal); order->exit (no goal) holds the fills round trip ({lat} ms) and the tail")
        print(f"{'assets':>6} {'cache':>5} | {'parallel s':>10} {'rounds':>6} {'/info':>5} {'acts':>4} | "
              f"{'sequential s':>12} {'rounds':>6} {'acts':>4} | {'seq/par':>7} | target | "
              f"{'wall/goal':>9} {'start-up':>14} {'book->order':>14} {'tail':>14} {'order->exit':>11}")
        for n in sizes:
            for warm in (False, True):
                row: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
                for _ in range(args.repeat):
                    for parallel in (True, False):
                        row[parallel].append(_measure(dn, meta, n, parallel, warm, lat, args.rsi))
                par, seq = row[True], row[False]
                for m in par + seq:
                    if not m["statuses"] <= {"filled", "failed"}:  # failed: IOC misses only (checked)
                        raise SystemExit(f"not every asset filled: {m['statuses']}")
                pw = statistics.median(m["wall"] for m in par)
                sw = statistics.median(m["wall"] for m in seq)
                pr = max(m["rounds"] for m in par)
                sr = max(m["rounds"] for m in seq)
                ok = "ok" if pr <= 3 and pw <= target_wall else (
                    f"{'rounds ' if pr > 3 else ''}{'wall' if pw > target_wall else ''}".strip() + " over"
                )
                cache = "warm" if warm else "cold"
                spans = [statistics.median(m[k] for m in par) for k in ("startup", "book_to_order", "tail")]
                goals = (0.12, 0.05, 0.05)
                shown = " ".join(f"{v:>6.3f} ({v / g:>4.2f})" for v, g in zip(spans, goals, strict=True))
                shown += f" {statistics.median(m['order_to_exit'] for m in par):>11.3f}"
                print(
                    f"{n:>6} {cache:>5} | {pw:>10.3f} {pr:>6} {par[0]['info']:>5} {par[0]['actions']:>4} | "
                    f"{sw:>12.3f} {sr:>6} {seq[0]['actions']:>4} | {sw / pw:>7.2f} | {ok:<6} | "
                    f"{pw / goal:>9.2f} {shown}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
