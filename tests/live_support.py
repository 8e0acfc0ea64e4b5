"""Helpers for the live-mode integration tests (a plain module, imported by the test files).

Live runs use a throwaway key from eth_account, funded on the devnet, passed as ``key =
"env:DCACTL_KEY"``; in-process runs set the variable with monkeypatch, subprocess runs pass it in
their environment explicitly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from support import write_portfolio

from dcactl.http import DATE_RESOLUTION
from dcactl.ledger import Ledger
from dcactl.models import Fill
from dcactl.run.reconcile import CLOCK_MARGIN_S, SEND_SLACK_S

THREE = """
[assets.BTC]
amount = 100
every = "day"
[assets.ETH]
amount = 50
every = "day"
[assets.SOL]
amount = 25
every = "week"
"""
"""Three listed assets (UBTC @142, UETH @151, USOL @156) bought for 175 USDC per period."""

WITH_AVAX = THREE + """
[assets.AVAX]
amount = 20
every = "week"
"""
"""The three listed assets and AVAX, which the devnet does not list (bought on paper)."""


def key_hex(wallet: LocalAccount) -> str:
    """The wallet's private key as 64 hex digits without 0x."""
    return bytes(wallet.key).hex()


def funded_wallet(devnet: Any, usdc: str | int | None = "1000") -> LocalAccount:
    """A fresh throwaway key, credited with ``usdc`` USDC on the devnet (None: not funded)."""
    wallet: LocalAccount = Account.create()
    if usdc is not None:
        devnet.admin.fund(wallet.address, usdc=str(usdc))
    return wallet


def live_portfolio(
    path: Path, url: str, body: str, account: str, *, settings: str = "", key: str = "env:DCACTL_KEY"
) -> Path:
    """A live-mode portfolio for the devnet at ``url`` paying from ``account``, ledger beside it."""
    live = f'mode = "live"\naccount = "{account}"\nkey = "{key}"\n{settings}'
    return write_portfolio(path, url, body, settings=live)


def open_ledger(cfg: Path, url: str, account: str) -> Ledger:
    """The ledger a live run with portfolio ``cfg`` writes (``ledger.db`` next to it)."""
    return Ledger.open(cfg.parent / "ledger.db", network=url.rstrip("/"), account=account.lower())


def devnet_fills(url: str, account: str) -> list[dict[str, Any]]:
    """Every fill the devnet holds for ``account`` (``userFillsByTime`` from 0), oldest first."""
    body = {"type": "userFillsByTime", "user": account.lower(), "startTime": 0, "aggregateByTime": False}
    with httpx.Client(timeout=10) as http:
        r = http.post(f"{url}/info", json=body)
        r.raise_for_status()
        out: list[dict[str, Any]] = r.json()
    return out


def fill_key(f: Fill) -> tuple[str, D, D, D, str]:
    """(tid, size, price, fee, fee token) of a ledger fill."""
    return (f.tid, f.size, f.price, f.fee, f.fee_token)


def wire_key(f: Mapping[str, Any]) -> tuple[str, D, D, D, str]:
    """(tid, size, price, fee, fee token) of a devnet fill."""
    return (str(f["tid"]), D(f["sz"]), D(f["px"]), D(f["fee"]), str(f["feeToken"]))


def assert_ledger_matches_devnet(cfg: Path, url: str, account: str) -> list[Fill]:
    """The ledger's real fills are exactly the devnet's fills of the account (tid, size, price, fee)."""
    with open_ledger(cfg, url, account) as ledger:
        real = [f for f in ledger.fills() if f.source == "dcactl"]
    theirs = devnet_fills(url, account)
    assert sorted(map(fill_key, real)) == sorted(map(wire_key, theirs))
    return real


def orders_per_period(orders: list[dict[str, Any]], cfg: Path, url: str, account: str) -> Counter[Any]:
    """How many orders the devnet received per (asset, period), via the ledger's intents by cloid."""
    with open_ledger(cfg, url, account) as ledger:
        seen: Counter[Any] = Counter()
        for o in orders:
            intent = ledger.intent(o["cloid"])
            assert intent is not None, f"the devnet has an order the ledger never intended: {o['cloid']}"
            seen[(intent.asset, intent.period)] += 1
    return seen


def grace_s(request_timeout: float) -> float:
    """Seconds after an intent is written until an order the exchange never saw is void (retryable):
    the exchange's time is read from whole-second ``Date`` headers, so up to a second more."""
    return request_timeout + SEND_SLACK_S + CLOCK_MARGIN_S + DATE_RESOLUTION.total_seconds()


def dcactl_cmd(cfg: Path, *args: str) -> list[str]:
    """The argv of ``python -m dcactl --config cfg --json ARGS`` (run by default)."""
    return [sys.executable, "-m", "dcactl", "--config", str(cfg), "--json", *(args or ("run",))]


def child_env(key: str | None, crash_at: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a dcactl subprocess: this one's (isolated HOME) plus the key and crash point."""
    env = {k: v for k, v in os.environ.items() if k not in ("DCACTL_KEY", "DCACTL_CRASH_AT")}
    env.update(COLUMNS="200", **extra)
    if key is not None:
        env["DCACTL_KEY"] = key
    if crash_at is not None:
        env["DCACTL_CRASH_AT"] = crash_at
    return env


def run_child(
    cfg: Path, env: Mapping[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run dcactl as a whole process; returns its exit status and output."""
    return subprocess.run(
        dcactl_cmd(cfg, *args), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def statuses(doc: Mapping[str, Any]) -> dict[str, str]:
    """asset → status of a run's --json document."""
    return {r["asset"]: r["status"] for r in doc["results"]}


def settle(cfg: Path, env: Mapping[str, str], request_timeout: float, tries: int = 3) -> list[dict[str, Any]]:
    """Rerun until no asset is ``pending`` (waiting out the grace of an order that never arrived);
    returns every rerun's --json document. Fails when a rerun crashes or stays pending."""
    import json

    docs = []
    for _ in range(tries):
        proc = run_child(cfg, env)
        assert proc.returncode in (0, 1) and proc.stdout.strip(), (proc.returncode, proc.stderr)
        doc = json.loads(proc.stdout)
        docs.append(doc)
        if "pending" not in statuses(doc).values():
            return docs
        time.sleep(grace_s(request_timeout))
    raise AssertionError(f"still pending after {tries} reruns: {docs[-1]}")


@contextmanager
def when_logged(
    devnet: Any, info_type: str, action: Callable[[Any], Any], coin: str | None = None
) -> Iterator[threading.Event]:
    """Call ``action(admin)`` (in a thread, with its own DevnetAdmin) as soon as the devnet has
    answered an /info read of ``info_type`` (of ``coin``, for l2Book) — i.e. between a run's read
    round and its order. The event is set once ``action`` ran."""
    done = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        from dcactl.devnet.control import DevnetAdmin

        with DevnetAdmin(devnet.url) as admin:
            while not stop.is_set():
                seen = admin.requests(type=info_type)
                if any(coin is None or r["body"].get("coin") == coin for r in seen):
                    action(admin)
                    done.set()
                    return
                time.sleep(0.005)

    devnet.admin.clear_requests()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join(10)


def require_faketime() -> None:
    """Skip (outside CI) or fail (in CI, where .ci/run installs it) when libfaketime is missing."""
    import shutil

    import pytest

    if shutil.which("faketime") is None:
        if os.environ.get("CI"):
            raise AssertionError("faketime is required in CI (.ci/run installs it)")
        pytest.skip("libfaketime is not installed (apt-get install faketime)")


def faketime_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without any faketime of the suite's own, so a child's clock comes from its own alone."""
    return {k: v for k, v in base.items() if not k.startswith("FAKETIME") and k != "LD_PRELOAD"}


PINNED = {"UBTC": "100000", "UETH": "3000", "USOL": "150"}
"""Mids that ``pin_prices`` holds still, so a test's order arithmetic is exact: asks one are
100030 (UBTC), 3000.9 (UETH) and 150.05 (USOL); BTC's 100 USDC buy is 0.00099 at 100030 = 99.0297."""
BTC_COST_PINNED = D("99.0297")
"""What the BTC buy of THREE (100 USDC) costs at the pinned prices: 0.00099 × 100030."""


def pin_prices(devnet: Any, *tokens: str) -> None:
    """Hold the mids of ``tokens`` (default: UBTC, UETH, USOL) at :data:`PINNED` (the walk stops)."""
    for token in tokens or tuple(PINNED):
        devnet.admin.set_price(token, PINNED[token], pin=True)
