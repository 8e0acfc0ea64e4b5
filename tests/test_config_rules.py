"""portfolio.toml's smart-DCA tables: defaults, exact values, one-line errors, the legacy mapping."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from support import config_problems, load_text

from dcactl.config.schema import (
    BankingRule,
    DynamicFrequencyRule,
    MaDipsRule,
    Portfolio,
    RsiRule,
    dump_portfolio,
    validate_document,
)
from dcactl.schedule.periods import parse_every

BTC = '[assets.BTC]\namount = 100\nevery = "week"\n'
THREE = BTC + '[assets.ETH]\namount = 50\nevery = "week"\n[assets.SOL]\namount = 20\nevery = "day"\n'
LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy" / "multi_asset_config.json"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so messages start with the plain file name ``portfolio.toml``."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def problems(text: str) -> list[str]:
    """The problems of ``text`` without the file name every line starts with."""
    return [p.removeprefix("portfolio.toml: ") for p in config_problems(text)]


def test_absent_tables_mean_the_rules_are_off() -> None:
    """No rule table: every rule is None and the portfolio has no targets."""
    config = load_text(BTC)
    a = config.assets[0]
    assert (a.rsi, a.ma_dips, a.dynamic_frequency, a.banking) == (None, None, None, None)
    assert config.portfolio == Portfolio()


def test_empty_tables_take_the_documented_defaults() -> None:
    """Each empty table turns its rule on with the defaults docs/smart-dca.md lists."""
    a = load_text(BTC + "[assets.BTC.rsi]\n[assets.BTC.ma_dips]\n[assets.BTC.dynamic_frequency]\n"
                        "[assets.BTC.banking]\n").assets[0]
    assert a.rsi == RsiRule(
        enabled=True, period=14, wilder=True, overbought=Decimal(70), oversold=Decimal(30),
        overbought_action="skip", trim_factor=Decimal("0.5"), oversold_factor=Decimal(1),
    )
    assert a.ma_dips == MaDipsRule(
        enabled=True, periods=(20, 50, 200), kind="SMA", thresholds=(Decimal(2), Decimal(5), Decimal(10)),
        tier_bounds=(Decimal(2), Decimal(5), Decimal(10)),
        multipliers=(Decimal("1.2"), Decimal("1.5"), Decimal("2.0"), Decimal("2.5")),
    )
    assert a.dynamic_frequency == DynamicFrequencyRule(
        enabled=True, low_vol=Decimal(25), high_vol=Decimal(50), low_every="month", high_every="day",
        window_days=30,
    )
    assert a.dynamic_frequency.low_schedule == parse_every("month")
    assert a.banking == BankingRule(enabled=True, max_bank_usd=None, max_spend_multiple=Decimal(1))


def test_every_key_is_read_exactly() -> None:
    """Written values land in the dataclasses exactly (Decimals from the TOML text, ma kind upper-cased)."""
    config = load_text(THREE + """
[portfolio]
targets = {BTC = 0.5, eth = 0.3, SOL = 0.2}
budget_per_run = 120.5

[assets.BTC.rsi]
enabled = false
period = 21
wilder = false
overbought = 75.5
oversold = 25
overbought_action = "trim"
trim_factor = 0.25
oversold_factor = 1.5
interval = "1h"

[assets.BTC.ma_dips]
periods = [10, 100]
kind = "ema"
thresholds = [1.5, 8]
tier_bounds = [3]
multipliers = [1.1, 3]

[assets.BTC.dynamic_frequency]
low_vol = 20
high_vol = 70.5
low_every = "2w"
high_every = "12h"
window_days = 14

[assets.BTC.banking]
max_bank_usd = 250.75
max_spend_multiple = 0.5
""")
    a = config.assets[0]
    assert a.rsi == RsiRule(
        False, 21, False, Decimal("75.5"), Decimal(25), "trim", Decimal("0.25"), Decimal("1.5"), "1h"
    )
    assert a.ma_dips == MaDipsRule(True, (10, 100), "EMA", (Decimal("1.5"), Decimal(8)), (Decimal(3),),
                                   (Decimal("1.1"), Decimal(3)))
    assert a.dynamic_frequency == DynamicFrequencyRule(True, Decimal(20), Decimal("70.5"), "2w", "12h", 14)
    assert a.banking == BankingRule(True, Decimal("250.75"), Decimal("0.5"))
    assert config.portfolio == Portfolio(
        targets={"BTC": Decimal("0.5"), "ETH": Decimal("0.3"), "SOL": Decimal("0.2")},
        budget_per_run=Decimal("120.5"),
    )


@pytest.mark.parametrize(("text", "expected"), [
    (BTC + "[assets.BTC.rsi]\npriod = 7\n", ["assets.BTC.rsi.priod: unknown key; did you mean `period`?"]),
    (BTC + "[assets.BTC.rsi]\nperiod = 1\n",
     ["assets.BTC.rsi.period: must be a whole number of candles from 2 to 365, got 1"]),
    (BTC + '[assets.BTC.rsi]\ninterval = "4h"\n',
     ['assets.BTC.rsi.interval: must be "1d" or "1h", got "4h"']),
    (BTC + '[assets.BTC.rsi]\ninterval = "1h"\nperiod = 201\n',
     ['assets.BTC.rsi.period: must be at most 200 with interval = "1h" (RSI reads 10 × period hourly '
      'closes, and hourly history reaches back 90 days), got 201']),
    (BTC + "[assets.BTC.rsi]\noverbought = 100\n",
     ["assets.BTC.rsi.overbought: must be an RSI level between 0 and 100 (exclusive), got 100"]),
    (BTC + "[assets.BTC.rsi]\noversold = 80\n",
     ["assets.BTC.rsi.oversold: oversold (80) must be below overbought (70)"]),
    (BTC + '[assets.BTC.rsi]\noverbought_action = "skp"\n',
     ['assets.BTC.rsi.overbought_action: must be "skip" or "trim", got "skp"; did you mean "skip"?']),
    (BTC + "[assets.BTC.rsi]\ntrim_factor = 1.5\n",
     ["assets.BTC.rsi.trim_factor: must be a factor, above 0 and at most 1, got 1.5"]),
    (BTC + '[assets.BTC.rsi]\nwilder = "yes"\n', ['assets.BTC.rsi.wilder: must be true or false, got "yes"']),
    (BTC + 'rsi = 14\n', ["assets.BTC.rsi: must be a table ([assets.BTC.rsi])"]),
    (BTC + '[assets.BTC.ma_dips]\nperiods = "20,50,200"\n',
     ['assets.BTC.ma_dips.periods: must be an array such as [20, 50, 200], not a string ("20,50,200")']),
    (BTC + "[assets.BTC.ma_dips]\nperiods = [20, 1]\nthresholds = [2, 5]\n",
     ["assets.BTC.ma_dips.periods: item 2: must be a whole number of days from 2 to 1000, got 1"]),
    (BTC + "[assets.BTC.ma_dips]\nperiods = [20, 50]\n",
     ["assets.BTC.ma_dips.thresholds: needs one threshold per period: periods has 2, thresholds has 3 "
      "(the default [2, 5, 10])"]),
    (BTC + "[assets.BTC.ma_dips]\nperiods = [20, 20, 50]\n",
     ["assets.BTC.ma_dips.periods: must not repeat a period, got [20, 20, 50]"]),
    (BTC + '[assets.BTC.ma_dips]\nkind = "WMA"\n',
     ['assets.BTC.ma_dips.kind: must be "SMA" or "EMA", got "WMA"']),
    (BTC + "[assets.BTC.ma_dips]\ntier_bounds = [5, 2, 10]\n",
     ["assets.BTC.ma_dips.tier_bounds: must be strictly increasing, got [5, 2, 10]"]),
    (BTC + "[assets.BTC.ma_dips]\nmultipliers = [1.2, 1.5]\n",
     ["assets.BTC.ma_dips.multipliers: needs one more multiplier than tier_bounds (3 bounds → 4 "
      "multipliers), got 2"]),
    (BTC + "[assets.BTC.ma_dips]\nmultipliers = [1.2, 1.5, 2, 50]\n",
     ["assets.BTC.ma_dips.multipliers: item 4: must be a multiplier, above 0 and at most 10, got 50"]),
    (BTC + "[assets.BTC.dynamic_frequency]\nlow_vol = 60\n",
     ["assets.BTC.dynamic_frequency.low_vol: low_vol (60) must be below high_vol (50)"]),
    (BTC + '[assets.BTC.dynamic_frequency]\nhigh_every = "daily"\n',
     ["assets.BTC.dynamic_frequency.high_every: unknown schedule 'daily'; did you mean \"day\"?: use hour, "
      "day, week, month, or a "
      'fixed interval such as "12h", "3d", "2w" (a positive whole number followed by h, d or w)']),
    (BTC + "[assets.BTC.banking]\nmax_bank_usd = -1\n",
     ["assets.BTC.banking.max_bank_usd: must be a positive number of USDC, got -1"]),
    (BTC + "[assets.BTC.banking]\nmax_spend = 2\n",
     ["assets.BTC.banking.max_spend: unknown key; did you mean `max_spend_multiple`?"]),
])
def test_rule_table_errors_are_one_line_each(text: str, expected: list[str]) -> None:
    """Every bad rule key gives one line naming its key path, with a hint where one helps."""
    assert problems(text) == expected


@pytest.mark.parametrize(("portfolio", "expected"), [
    ("targets = {BTC = 0.5, ETH = 0.3, SOL = 0.3}\nbudget_per_run = 100\n",
     ["portfolio.targets: weights must sum to 1 (± 0.001), got 1.1"]),
    ("targets = {BTC = 0.5, ETH = 0.3, SOL = 0.2005}\nbudget_per_run = 100\n", []),  # within ± 0.001
    ("targets = {BTC = 0.5, ETH = 0.3, DOGE = 0.2}\nbudget_per_run = 100\n",
     ["portfolio.targets.DOGE: not a configured asset; configured: BTC, ETH, SOL"]),
    ("targets = {BTC = 0.5, ETH = 0.3, SOLL = 0.2}\nbudget_per_run = 100\n",
     ["portfolio.targets.SOLL: not a configured asset; did you mean `SOL`?"]),
    ("targets = {BTC = 0.5, ETH = 0.5, eth = 0.0}\nbudget_per_run = 100\n",
     ["portfolio.targets.eth: must be a weight, above 0 and at most 1, got 0.0"]),
    ("targets = {BTC = 1}\n",
     ["portfolio.budget_per_run: required with targets: USDC per run steered toward the targets"]),
    ("budget_per_run = 100\n",
     ["portfolio.targets: required with budget_per_run, e.g. targets = {BTC = 0.6, ETH = 0.4}"]),
    ('targets = "BTC"\nbudget_per_run = 100\n',
     ["portfolio.targets: must be a table of weights such as {BTC = 0.5, ETH = 0.3, SOL = 0.2}"]),
    ("targets = {BTC = 1}\nbudget = 5\nbudget_per_run = 5\n",
     ["portfolio.budget: unknown key; did you mean `budget_per_run`?"]),
])
def test_portfolio_targets_are_checked(portfolio: str, expected: list[str]) -> None:
    """Targets name configured assets, are weights in (0, 1], sum to 1 ± 0.001, and need a budget."""
    text = THREE + "[portfolio]\n" + portfolio
    if expected:
        assert problems(text) == expected
    else:
        assert load_text(text).portfolio.budget_per_run == Decimal(100)


def test_several_rule_errors_are_reported_at_once() -> None:
    """Problems in different tables all come back together, in file order."""
    lines = problems(BTC + "[assets.BTC.rsi]\nperiod = 0\n[assets.BTC.banking]\nenabled = 1\n"
                           "[portfolio]\nbudget_per_run = 5\n")
    assert [line.split(":")[0] for line in lines] == [
        "assets.BTC.rsi.period", "assets.BTC.banking.enabled", "portfolio.targets"]


def test_legacy_settings_map_onto_the_tables() -> None:
    """The earlier bot's BTC settings translate key by key (docs/smart-dca.md) into valid tables."""
    legacy = json.loads(LEGACY.read_text())["assets"]["BTC"]
    doc = {"assets": {"BTC": {
        "amount": Decimal(str(legacy["base_amount"])), "every": "week",
        "rsi": {"enabled": legacy["use_rsi"], "period": legacy["rsi_period"],
                "oversold": Decimal(str(legacy["rsi_oversold_threshold"])),
                "overbought": Decimal(str(legacy["rsi_overbought_threshold"])),
                "wilder": legacy["rsi_use_wilder"]},
        "ma_dips": {"enabled": legacy["use_ma_dips"],
                    "periods": [int(p) for p in legacy["ma_periods"].split(",")], "kind": legacy["ma_type"],
                    "thresholds": [Decimal(t) for t in legacy["ma_dip_thresholds"].split(",")]},
        "dynamic_frequency": {"enabled": legacy["use_dynamic_frequency"],
                              "low_vol": Decimal(str(legacy["dynamic_low_vol_threshold"])),
                              "high_vol": Decimal(str(legacy["dynamic_high_vol_threshold"]))},
    }}}
    config = validate_document(doc, Path("converted.toml"))
    a = config.assets[0]
    assert a.rsi == RsiRule()
    assert a.ma_dips == MaDipsRule()
    assert a.dynamic_frequency == DynamicFrequencyRule()
    again = load_text(dump_portfolio(doc))  # and the tables survive a TOML round trip
    assert again.assets[0] == a
