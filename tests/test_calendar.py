"""`plan --until`: the coming buys and their spend, by hand at a pinned clock: amounts and ranges,
the schedule dynamic frequency picks now, what is banked, and the CLI reading both from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from dcactl.config.schema import load_config
from dcactl.reports.calendar import amount_range, coming_buys, spend_by_day
from dcactl.schedule.periods import LastBuy, parse_every

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
    """A fixed amount is exact; ETH's RSI may skip (0) and its deepest MA dip is × 2.5 (100)."""
    btc, eth, _ = _assets(tmp_path)
    assert (amount_range(btc).low, amount_range(btc).high()) == (D("100.00"), D("100.00"))
    assert (amount_range(eth).low, amount_range(eth).high()) == (D("0.00"), D("100.00"))


def test_rule_multipliers_multiply_and_the_clamp_holds(tmp_path: Path) -> None:
    """RSI oversold × 1.5 and the deepest MA dip × 2.5 can come together, as decide() multiplies them:
    40 × 3.75 = 150 (not the larger factor alone, 100). Volatility sizing 50..200 with an RSI trim
    × 0.5: 50 × 0.5 = 25 is raised to the min 50; 200 stays the max."""
    path = tmp_path / "p.toml"
    path.write_text('[settings]\nnetwork = "devnet"\n'
                    '[assets.ETH]\namount = 40\nevery = "day"\n[assets.ETH.rsi]\noversold_factor = 1.5\n'
                    '[assets.ETH.ma_dips]\n'
                    '[assets.BTC]\namount = 100\nevery = "day"\n[assets.BTC.sizing]\nkind = "volatility"\n'
                    'min = 50\nmax = 200\n[assets.BTC.rsi]\noverbought_action = "trim"\n')
    eth, btc = load_config(path).assets
    assert (amount_range(eth).low, amount_range(eth).high()) == (D("0.00"), D("150.00"))
    assert (amount_range(btc).low, amount_range(btc).high()) == (D("50.00"), D("200.00"))


SMART = """
[settings]
network = "devnet"
[assets.BTC]
amount = 70
every = "week"
[assets.BTC.dynamic_frequency]
[assets.ETH]
amount = 40
every = "day"
[assets.ETH.ma_dips]
[assets.ETH.banking]
[assets.SOL]
amount = 20
every = "day"
[assets.SOL.rsi]
[assets.SOL.banking]
max_spend_multiple = 0.5
"""


def test_dynamic_frequency_and_the_bank_by_hand(tmp_path: Path) -> None:
    """At Wed 2026-03-04 15:30, until Sat 00:00, nothing bought yet. BTC (70 a week) is on the daily
    schedule its dynamic frequency picks now: now, 5th, 6th, each 70 / 7 = 10.00, each saying so. ETH
    (40 a day, MA dips up to × 2.5, banking) has 25.00 banked: its next buy 40..100 + 25 = 125, saying
    so; later ones 40..100 (nothing can bank again). SOL (20, RSI skip, banking × 0.5, bank empty):
    0..20 now; later 0..30, since a skip may bank again and a dip then spend 0.5 × 20 = 10."""
    path = tmp_path / "p.toml"
    path.write_text(SMART)
    btc, eth, sol = load_config(path).assets
    until = datetime(2026, 3, 7, tzinfo=UTC)
    buys = coming_buys([btc, eth, sol], "UTC", NOW, until, {}, {"BTC": parse_every("day")},
                       {"ETH": D("25.00"), "SOL": D(0)})
    daily = "dynamic frequency: every day now (configured: every week)"
    banked = "+ up to 25.00 USDC from the bank (25.00 banked) on a dip"
    day5, day6 = datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)
    assert [(b.at, b.asset, b.low, b.high, b.every, b.notes) for b in buys] == [
        (NOW, "BTC", D("10.00"), D("10.00"), "day", (daily,)),
        (NOW, "ETH", D("40.00"), D("125.00"), "day", (banked,)),
        (NOW, "SOL", D("0.00"), D("20.00"), "day", ()),
        (day5, "BTC", D("10.00"), D("10.00"), "day", (daily,)),
        (day5, "ETH", D("40.00"), D("100.00"), "day", ()),
        (day5, "SOL", D("0.00"), D("30.00"), "day", ()),
        (day6, "BTC", D("10.00"), D("10.00"), "day", (daily,)),
        (day6, "ETH", D("40.00"), D("100.00"), "day", ()),
        (day6, "SOL", D("0.00"), D("30.00"), "day", ()),
    ]
    assert [b.exact for b in buys[:3]] == [True, False, False]
    days = spend_by_day(buys, "UTC", None)
    assert [(d.day, d.low, d.high, d.cumulative_high) for d in days] == [
        ("2026-03-04", D(50), D(155), D(155)),
        ("2026-03-05", D(50), D(140), D(295)),
        ("2026-03-06", D(50), D(140), D(435)),
    ]


def test_a_faster_schedule_never_buys_again_inside_the_last_buys_period(tmp_path: Path) -> None:
    """BTC was bought this morning in the week of Mon 2nd–Mon 9th; dynamic frequency now picks a day:
    the next buy is still Mon 9th (the week's end), then daily; with the rule keeping the week, the
    buy says "as configured" and spends the full 70."""
    path = tmp_path / "p.toml"
    path.write_text(SMART)
    btc = load_config(path).assets[0]
    week = LastBuy(datetime(2026, 3, 4, 10, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC),
                   datetime(2026, 3, 9, tzinfo=UTC))
    until = datetime(2026, 3, 11, tzinfo=UTC)
    buys = coming_buys([btc], "UTC", NOW, until, {"BTC": week}, {"BTC": parse_every("day")})
    assert [(b.at.day, b.high) for b in buys] == [(9, D("10.00")), (10, D("10.00"))]
    kept = coming_buys([btc], "UTC", NOW, until, {"BTC": week}, {"BTC": parse_every("week")})
    assert [(b.at.day, b.high, b.notes) for b in kept] == [
        (9, D("70.00"), ("dynamic frequency: every week now, as configured",))]
    unread = coming_buys([btc], "UTC", NOW, until, {"BTC": week})
    assert unread[0].notes == ("dynamic frequency not read: every week as configured",)


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


def test_plan_until_reads_the_rules_pick_and_the_bank_from_the_ledger(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan --until` at a pinned Wed 2026-03-04 15:30 on a paper portfolio: BTC's 31 cached daily
    closes swing 100 ↔ 110 (volatility far above 50 %), so its dynamic frequency picks a day: 10.00
    now, on the 5th and the 6th; ETH has 25.00 banked by an earlier skip: its next buy 40..125, then
    40..100. The table says both in its note column; nothing is fetched (the cache is current)."""
    from support import write_portfolio

    from dcactl.ledger import Candle, Ledger
    from dcactl.models import iso_utc, to_ms

    body = SMART.split("[assets.BTC]", 1)[1].split("[assets.SOL]")[0]
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, "[assets.BTC]" + body)
    network = load_config(cfg).settings.network_id
    day = 86_400_000
    today = to_ms(datetime(2026, 3, 4, tzinfo=UTC))
    with Ledger.open(tmp_path / "ledger.db", network=network, account=None) as ledger:
        ledger.upsert_candles("hl:@142", "1d", [
            Candle(t, t + day - 1, *(D(100 if (t // day) % 2 else 110),) * 4, D(1))
            for t in range(today - 31 * day, today + day, day)])
        ledger.record_decision("ETH", "2026-03-03T00:00:00Z", "run-1", {}, D("25.00"), "rule_skip")
    monkeypatch.setattr("dcactl.reports.outlook.utcnow", lambda: NOW)
    monkeypatch.setenv("COLUMNS", "160")
    res = cli("--config", str(cfg), "--json", "plan", "--until", "2026-03-07")
    assert res.code == 0, res.err
    daily = ["dynamic frequency: every day now (configured: every week)"]
    got = [(b["at"], b["asset"], b["usd_min"], b["usd_max"], b["every"], b["notes"])
           for b in res.json()["buys"]]
    assert got == [
        (iso_utc(NOW), "BTC", "10.00", "10.00", "day", daily),
        (iso_utc(NOW), "ETH", "40.00", "125.00", "day",
         ["+ up to 25.00 USDC from the bank (25.00 banked) on a dip"]),
        ("2026-03-05T00:00:00Z", "BTC", "10.00", "10.00", "day", daily),
        ("2026-03-05T00:00:00Z", "ETH", "40.00", "100.00", "day", []),
        ("2026-03-06T00:00:00Z", "BTC", "10.00", "10.00", "day", daily),
        ("2026-03-06T00:00:00Z", "ETH", "40.00", "100.00", "day", []),
    ]
    assert devnet.admin.requests(type="candleSnapshot") == []
    table = cli("--config", str(cfg), "plan", "--until", "2026-03-07").out
    assert "every day now (configured: every week)" in table and "(25.00 banked)" in table
