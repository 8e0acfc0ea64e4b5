"""A randomized hunt for double buys: seeded sequences of days, each with one of the faults that once
broke "exactly once" — a 4xx or {"status":"err"} answered after the orders went through, a 5xx before
them, a dropped answer, the local clock 40 s ahead of or behind the exchange's, two ledgers of one
account run at once — and at the end, in the devnet's own order log, at most one order per market and
period, every one of them known to a ledger."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from live_support import (
    THREE,
    child_env,
    faketime_env,
    funded_wallet,
    key_hex,
    live_portfolio,
    open_ledger,
    require_faketime,
)

SCENARIOS = ("plain", "answer-403", "answer-err", "error-502", "drop", "ahead", "behind", "two-ledgers")
FIRST_DAY = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
ERR_ANSWER = '{"status":"err","response":"Something went wrong"}'



def _run(cfg: Path, env: dict[str, str], at: datetime) -> subprocess.Popen[str]:
    argv = ["faketime", f"{at:%Y-%m-%d %H:%M:%S}", sys.executable, "-m", "dcactl", "--config", str(cfg),
            "--json", "run"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_faults_never_buy_a_market_twice_in_a_period(tmp_path: Path, devnet: Any, seed: int) -> None:
    require_faketime()
    rng = random.Random(seed)
    wallet = funded_wallet(devnet, "100000")
    env = faketime_env(child_env(key_hex(wallet), TZ="UTC"))
    cfgs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        cfgs.append(live_portfolio(tmp_path / name / "p.toml", devnet.url, THREE, wallet.address,
                                   settings="request_timeout = 1\n"))
    steps = [(FIRST_DAY + timedelta(days=i // 2, hours=6 * (i % 2)), rng.choice(SCENARIOS)) for i in range(8)]
    codes: list[tuple[str, int]] = []
    try:
        for at, kind in steps:
            skew = {"ahead": -40_000, "behind": 40_000}.get(kind, 0)  # the exchange's clock against ours
            devnet.admin.set_clock(int(at.timestamp() * 1000) + skew)
            if kind.startswith("answer"):
                body = "Forbidden" if kind == "answer-403" else ERR_ANSWER
                devnet.admin.faults(kind="answer", path="/exchange", count=1,
                                    status=403 if kind == "answer-403" else 200, body=body)
            elif kind == "error-502":
                devnet.admin.faults(kind="error", path="/exchange", count=1, status=502)
            elif kind == "drop":
                devnet.admin.faults(kind="drop", path="/exchange", count=1)
            chosen = cfgs if kind == "two-ledgers" else [rng.choice(cfgs)]
            procs = [_run(cfg, env, at) for cfg in chosen]
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                assert proc.returncode in (0, 1, 3), err
                json.loads(out)
                codes.append((kind, proc.returncode))
            devnet.admin.clear_faults()
    finally:
        devnet.admin.set_clock(None)
    per_period: Counter[tuple[str, str]] = Counter()
    for order in devnet.admin.orders(user=wallet.address.lower()):
        intents = []
        for cfg in cfgs:
            with open_ledger(cfg, devnet.url, wallet.address) as ledger:
                intents.append(ledger.intent(order["cloid"]))
        known = [i for i in intents if i is not None]
        assert known, f"the devnet has an order no ledger intended: {order['cloid']}"
        per_period[(known[0].pair, known[0].period)] += 1
    assert per_period, f"nothing was bought at all: {codes}"
    assert max(per_period.values()) == 1, (per_period, steps, codes)
