"""A live `dcactl run` really SIGKILLed at each step of a buy (and at random moments), then rerun; and
lost or late answers from the exchange. In every case the devnet's own order log shows exactly one
order per asset and period, and the ledger ends up holding exactly the devnet's fills."""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from live_support import (
    THREE,
    assert_ledger_matches_devnet,
    child_env,
    dcactl_cmd,
    funded_wallet,
    grace_s,
    key_hex,
    live_portfolio,
    open_ledger,
    orders_per_period,
    run_child,
    settle,
    statuses,
)

from dcactl.crash import POINTS

TIMEOUT_S = 2.0
"""request_timeout of these portfolios (seconds): short, so a lost order is void soon."""


def _setup(tmp_path: Path, devnet: Any, settings: str = "") -> tuple[Path, Any, dict[str, str]]:
    wallet = funded_wallet(devnet, "1000")
    cfg = live_portfolio(
        tmp_path / "p.toml", devnet.url, THREE, wallet.address,
        settings=f"request_timeout = {TIMEOUT_S}\n{settings}",
    )
    return cfg, wallet, child_env(key_hex(wallet))


def _drain(cfg: Path, env: dict[str, str], devnet: Any, account: str) -> None:
    """Rerun (after the grace of a lost order) while the ledger still has unfinished intents: when a
    rerun falls in a new period (midnight), it buys there, and the old period's lost order is only
    closed once it can no longer arrive — so the test holds at any time of day."""
    for _ in range(3):
        with open_ledger(cfg, devnet.url, account) as ledger:
            if not ledger.open_intents():
                return
        time.sleep(grace_s(TIMEOUT_S))
        assert run_child(cfg, env).returncode in (0, 1)


def _assert_exactly_once(cfg: Path, devnet: Any, account: str) -> None:
    """One order per (asset, period) for all three assets, every one bought, ledger == devnet fills."""
    orders = devnet.admin.orders(user=account.lower())
    per_period = orders_per_period(orders, cfg, devnet.url, account)
    assert {a for a, _ in per_period} == {"BTC", "ETH", "SOL"}, per_period
    assert set(per_period.values()) == {1}, per_period
    assert {o["status"] for o in orders} == {"filled"}
    assert_ledger_matches_devnet(cfg, devnet.url, account)
    with open_ledger(cfg, devnet.url, account) as ledger:
        assert ledger.open_intents() == []
        for asset in ("BTC", "ETH", "SOL"):
            assert ledger.last_buy(asset) is not None


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_then_rerun(tmp_path: Path, devnet: Any, point: str) -> None:
    """SIGKILL at after_intent / after_send / after_response / before_fills_recorded (returncode -9),
    then rerun: nothing bought twice, nothing lost."""
    cfg, wallet, env = _setup(tmp_path, devnet)
    crashed = run_child(cfg, {**env, "DCACTL_CRASH_AT": point})
    assert crashed.returncode == -9, (point, crashed.returncode, crashed.stderr)
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        assert {i.asset for i in ledger.open_intents()} == {"BTC", "ETH", "SOL"}, "written ahead"
    sent = devnet.admin.orders(user=wallet.address.lower())
    assert len(sent) == (0 if point == "after_intent" else 3)
    docs = settle(cfg, env, TIMEOUT_S)
    _drain(cfg, env, devnet, wallet.address)
    _assert_exactly_once(cfg, devnet, wallet.address)
    if point != "after_intent":  # the exchange had the orders: the rerun only resolved them
        assert set(statuses(docs[0]).values()) == {"not_due"}
    final = run_child(cfg, env)
    assert final.returncode == 0 and set(statuses(json.loads(final.stdout)).values()) == {"not_due"}


def test_kill_at_random_moments(tmp_path: Path, devnet: Any) -> None:
    """Five runs under 100 ms latency (a whole run takes ~1.1 s) killed after a random delay in [0, 1.5]
    s, one in each fifth of that range, each rerun: exactly one order per asset and period and the
    ledger equal to the devnet, whatever the moment."""
    rng = random.Random(4)  # reproducible test timing
    for i in range(5):
        home = tmp_path / f"run{i}"
        home.mkdir()
        cfg, wallet, env = _setup(home, devnet)
        devnet.admin.faults(kind="latency", ms=100)
        proc = subprocess.Popen(dcactl_cmd(cfg), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep((i + rng.random()) * 0.3)
        proc.kill()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -9), err
        devnet.admin.clear_faults()
        settle(cfg, env, TIMEOUT_S)
        _drain(cfg, env, devnet, wallet.address)
        _assert_exactly_once(cfg, devnet, wallet.address)


def test_dropped_answer_is_resolved_by_cloid_in_the_same_run(tmp_path: Path, devnet: Any) -> None:
    """The devnet executes the batch, then drops the connection: the run asks orderStatus by cloid,
    records the fills and reports filled; the next run sends nothing."""
    cfg, wallet, env = _setup(tmp_path, devnet)
    devnet.admin.faults(kind="drop", path="/exchange", count=1)
    first = run_child(cfg, env)
    assert first.returncode == 0, first.stderr
    assert set(statuses(json.loads(first.stdout)).values()) == {"filled"}
    assert "order outcome unknown" in first.stderr
    _assert_exactly_once(cfg, devnet, wallet.address)
    again = run_child(cfg, env)
    assert set(statuses(json.loads(again.stdout)).values()) == {"not_due"}
    assert len(devnet.admin.orders(user=wallet.address.lower())) == 3


def test_answer_hung_past_the_timeout_is_resolved_by_cloid(tmp_path: Path, devnet: Any) -> None:
    """The devnet executes the batch and holds the answer 3 s past the 2 s timeout: the run resolves the
    orders by cloid (filled) in the same run; the next run sends nothing."""
    cfg, wallet, env = _setup(tmp_path, devnet)
    devnet.admin.faults(kind="hang", path="/exchange", hang_ms=3000, after=True, count=1)
    first = run_child(cfg, env)
    assert first.returncode == 0, first.stderr
    assert set(statuses(json.loads(first.stdout)).values()) == {"filled"}
    _assert_exactly_once(cfg, devnet, wallet.address)
    again = run_child(cfg, env)
    assert set(statuses(json.loads(again.stdout)).values()) == {"not_due"}


def test_order_landing_after_the_timeout_is_never_bought_twice(tmp_path: Path, devnet: Any) -> None:
    """The batch reaches the exchange 3 s late (after the 2 s timeout, before its 4 s expiry): the run
    reports pending (not "never received"), the order executes meanwhile, and the rerun records it
    instead of placing attempt 2."""
    cfg, wallet, env = _setup(tmp_path, devnet)
    devnet.admin.faults(kind="latency", path="/exchange", ms=3000, count=1)
    first = run_child(cfg, env)
    assert first.returncode == 0, first.stderr
    assert set(statuses(json.loads(first.stdout)).values()) == {"pending"}
    deadline = time.monotonic() + 10
    while len(devnet.admin.orders(user=wallet.address.lower())) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    rerun = run_child(cfg, env)
    assert set(statuses(json.loads(rerun.stdout)).values()) == {"not_due"}, rerun.stdout
    _assert_exactly_once(cfg, devnet, wallet.address)


def test_order_arriving_after_its_expiry_is_void_then_retried(tmp_path: Path, devnet: Any) -> None:
    """The batch reaches the exchange 5 s late, after the expiresAfter signed into it: the exchange
    refuses it ("Action expired"); the run stays pending until the order is void, then attempt 2 buys."""
    cfg, wallet, env = _setup(tmp_path, devnet)
    devnet.admin.faults(kind="latency", path="/exchange", ms=5000, count=1)
    first = run_child(cfg, env)
    assert set(statuses(json.loads(first.stdout)).values()) == {"pending"}, first.stdout
    early = run_child(cfg, env)
    assert set(statuses(json.loads(early.stdout)).values()) == {"pending"}, "not void yet: no retry"
    time.sleep(grace_s(TIMEOUT_S))
    expired = [a for a in devnet.admin.actions(user=None) if a["type"] == "order"]
    assert [a["status"] for a in expired] == ["err"] and "expired" in str(expired[0]["response"])
    retry = run_child(cfg, env)
    assert set(statuses(json.loads(retry.stdout)).values()) == {"filled"}, retry.stdout
    _assert_exactly_once(cfg, devnet, wallet.address)
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        assert {i.attempt for i in ledger.intents_for("BTC", ledger.last_buy("BTC").period)} == {1, 2}  # type: ignore[union-attr]
