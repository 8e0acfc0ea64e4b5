"""The planner's config-only shortcuts agree with the strategy, and a quiet cron run stays light."""

from __future__ import annotations

import itertools
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from support import write_portfolio

from dcactl.config.schema import AssetConfig, DynamicFrequencyRule, MaDipsRule, RsiRule, Sizing
from dcactl.run.core import needs_history
from dcactl.schedule.periods import parse_every
from dcactl.strategy import history_days, history_hours


def test_needs_history_matches_history_days() -> None:
    """For every combination of rules (on, off, absent; RSI daily or hourly) needs_history is
    history_days(asset) > 1 or history_hours(asset) > 0."""
    options: list[list[Any]] = [
        [Sizing(), Sizing(kind="volatility", min=D(10), max=D(20))],
        [None, RsiRule(), RsiRule(enabled=False), RsiRule(interval="1h")],
        [None, MaDipsRule(), MaDipsRule(enabled=False)],
        [None, DynamicFrequencyRule(), DynamicFrequencyRule(enabled=False)],
    ]
    for sizing, rsi, dips, dyn in itertools.product(*options):
        asset = AssetConfig(
            symbol="BTC",
            amount=D(100),
            every="week",
            schedule=parse_every("week"),
            sizing=sizing,
            rsi=rsi,
            ma_dips=dips,
            dynamic_frequency=dyn,
        )
        assert needs_history(asset) == (history_days(asset) > 1 or history_hours(asset) > 0), asset


def test_nothing_due_cron_run_imports_no_numpy(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """After a round, the next cron run of a fixed-amount portfolio (nothing due) never loads numpy
    or the signing stack, nor the reports or, without [notify], the notifications: the
    every-15-minutes case pays only for what it uses."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, '[assets.BTC]\namount = 20\nevery = "week"\n')
    assert cli("--config", str(cfg), "run").code == 0
    probe = "\n".join([
        "import sys",
        "from dcactl.cli.app import main",
        "try:",
        f"    main(['--config', {str(cfg)!r}, '--quiet', 'run'])",
        "except SystemExit as e:",
        "    code = e.code",
        "print(code, *(name in sys.modules for name in",
        "      ('numpy', 'eth_account', 'dcactl.reports.stats', 'dcactl.notify.hooks')))",
    ])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.split() == ["0", "False", "False", "False", "False"], done.stderr
