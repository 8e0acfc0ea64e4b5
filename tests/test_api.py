"""The public API of ``import dcactl``: load a config, open a session, plan, run — what the CLI does,
without the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from live_support import pin_prices
from support import write_portfolio

import dcactl

BODY = '[assets.BTC]\namount = 100\nevery = "day"\n[assets.ETH]\namount = 50\nevery = "day"\n'


def test_plan_then_run_then_not_due_through_the_api(tmp_path: Path, devnet: Any) -> None:
    """A paper portfolio: plan says both are due with their orders, a run buys both on paper (ledger
    fills), the next run finds both not due; exit codes 0."""
    pin_prices(devnet)
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, BODY)
    config = dcactl.load_config(cfg)
    assert [a.symbol for a in config.assets] == ["BTC", "ETH"]

    async def go() -> tuple[Any, Any, Any, int]:
        async with dcactl.open_session(cfg, None, lock=True) as session:
            planned = await dcactl.plan(session)
            first = await dcactl.execute(session, dcactl.RunRequest(command="run"))
            second = await dcactl.execute(session, dcactl.RunRequest(command="run"))
            return planned, first, second, len(session.ledger.fills())

    planned, first, second, fills = asyncio.run(go())
    assert [(a["asset"], a["due"], a["amount_usd"]) for a in planned.to_json()["assets"]] == [
        ("BTC", True, "100.00"), ("ETH", True, "50.00")]
    assert [(r.asset, r.status) for r in first.results] == [("BTC", "paper"), ("ETH", "paper")]
    assert [(r.asset, r.status) for r in second.results] == [("BTC", "not_due"), ("ETH", "not_due")]
    assert fills == 2
    assert dcactl.exit_code_for(first) == dcactl.exit_code_for(second) == 0


def test_import_dcactl_is_light_and_lists_its_api() -> None:
    """``import dcactl`` loads no submodule until a name is used; ``dir`` and ``__all__`` list the API."""
    code = ("import sys, dcactl; print(sorted(m for m in sys.modules if m.startswith('dcactl.')));"
            "dcactl.RunRequest; print('dcactl.run.core' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
    api = {"load_config", "open_session", "plan", "execute", "decide_run", "RunRequest"}
    assert api <= set(dcactl.__all__)
    assert set(dcactl.__all__) <= set(dir(dcactl))
