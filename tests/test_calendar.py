"""`plan --until`: the coming buys and their spend, by hand (a pinned clock for the pure part)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from dcactl.config.schema import load_config
from dcactl.reports.calendar import amount_range, coming_buys, spend_by_day
from dcactl.schedule.periods import LastBuy

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday
PORTFOLIO = """
[settings]
network = "devnet"
max_usd_per_day = 150
[assets.BTC]
amount = 100
every = "day"
[assets.ETH]
amount = 40
every = "week"
[assets.ETH.ma_dips]
multipliers = [1.2, 1.5, 2.0, 2.5]
[assets.ETH.rsi]
overbought_action = "skip"
[assets.SOL]
amount = 20
every = "3d"
enabled = false
"""


def _assets(tmp_path: Path) -> Any:
    path = tmp_path / "p.toml"
    path.write_text(PORTFOLIO)
    return load_config(path).assets


def test_amounts_exact_or_the_range_the_rules_allow(tmp_path: Path) -> None:
    btc, eth, _ = _assets(tmp_path)
    assert amount_range(btc) == (D("100.00"), D("100.00"), True)
    assert amount_range(eth) == (D("0.00"), D("100.00"), False)  # RSI may skip; the deepest dip × 2.5


def test_the_calendar_and_spend_per_day_by_hand(tmp_path: Path) -> None:
    """BTC, bought today, is next due tomorrow 00:00 and daily after; ETH, never bought, now, then next
    Monday; SOL is disabled. Until Tuesday 10th 00:00: BTC 5/6..9/3 (5 buys), ETH now and 9/3."""
    btc, eth, sol = _assets(tmp_path)
    today = datetime(2026, 3, 4, tzinfo=UTC)
    last = {"BTC": LastBuy(NOW - timedelta(hours=6), today, today + timedelta(days=1)), "ETH": None}
    buys = coming_buys([btc, eth, sol], "UTC", NOW, datetime(2026, 3, 10, tzinfo=UTC), last)
    assert [(b.at, b.asset) for b in buys] == [
        (NOW, "ETH"),
        *[(datetime(2026, 3, d, tzinfo=UTC), "BTC") for d in (5, 6, 7, 8)],
        (datetime(2026, 3, 9, tzinfo=UTC), "BTC"),
        (datetime(2026, 3, 9, tzinfo=UTC), "ETH"),
    ]
    days = spend_by_day(buys, "UTC", D(150))
    assert [(d.day, d.low, d.high, d.cumulative_high, d.over_cap) for d in days] == [
        ("2026-03-04", D(0), D(100), D(100), False),
        ("2026-03-05", D(100), D(100), D(200), False),
        ("2026-03-06", D(100), D(100), D(300), False),
        ("2026-03-07", D(100), D(100), D(400), False),
        ("2026-03-08", D(100), D(100), D(500), False),
        ("2026-03-09", D(100), D(200), D(700), True),  # BTC 100 + ETH up to 100 > the 150 day cap
    ]


def test_plan_until_on_the_cli(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """A paper portfolio never bought: each asset now, then every period start before the date; a date
    in the past is one clear error."""
    from support import write_portfolio

    body = '[assets.BTC]\namount = 20\nevery = "day"\n[assets.ETH]\namount = 10\nevery = "week"\n'
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    until = (datetime.now(UTC) + timedelta(days=3)).date()
    res = cli("--config", str(cfg), "--json", "plan", "--until", str(until))
    assert res.code == 0, res.err
    doc = res.json()
    btc = [b for b in doc["buys"] if b["asset"] == "BTC"]
    assert len(btc) == 3 and all(b["exact"] and D(b["usd_min"]) == 20 for b in btc)  # now, +1 day, +2 days
    assert doc["balance_usdc"] is None and doc["days"][-1]["cumulative_max"] == str(
        sum(D(b["usd_max"]) for b in doc["buys"]))
    table = cli("--config", str(cfg), "plan", "--until", str(until))
    assert table.code == 0 and "Coming buys until" in table.out and "Per day" in table.out
    past = cli("--config", str(cfg), "plan", "--until", "2020-01-01")
    assert past.code == 2 and past.err.startswith("dcactl: error: --until '2020-01-01': must be after now")
