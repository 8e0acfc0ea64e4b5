"""Smart DCA end to end: `dcactl plan` and `dcactl run` (paper) on a devnet whose daily candles are
crafted so each rule fires, with every amount computed by hand.

**Time.** Both clocks are frozen: dcactl's (``dcactl.run.execute.utcnow``, the one instant a run or a
plan decides at) and the devnet's exchange clock (``set_clock``, so candles and the current minute
follow it). Moving both forward by a day is a real "next day" for every part of a run — the due
check, the bank's period, the incremental candle refresh — without touching the ledger by hand.

**Price paths.** Daily candles are replayed with ``anchor="absolute"`` at UTC midnights, the last one
being the last completed day before "now", so the closes a decision reads are exactly the ones
written here (BTC prices with at most 5 significant figures, as the exchange formats them). The
current price, which only the MA-dip rule reads, is pinned with ``set_price(pin=True)``.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import write_portfolio

from dcactl.ledger import Ledger
from dcactl.models import OrderIntent, to_ms

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
T0 = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
"""A Tuesday noon: "now" of the first run of every test."""


class Clock:
    """dcactl's and the devnet's clocks, frozen together and moved together."""

    def __init__(self, devnet: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.devnet = devnet
        self.now = T0
        monkeypatch.setattr("dcactl.run.execute.utcnow", lambda: self.now)
        devnet.admin.set_clock(to_ms(T0))

    def set(self, when: datetime) -> None:
        """Make ``when`` the current instant for dcactl and the exchange."""
        self.now = when
        self.devnet.admin.set_clock(to_ms(when))

    @property
    def today_ms(self) -> int:
        """Open time (ms) of the current UTC day."""
        ms = to_ms(self.now)
        return ms - ms % DAY_MS


@pytest.fixture
def clock(devnet: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Both clocks frozen at T0 (the exchange clock follows wall time again afterwards)."""
    c = Clock(devnet, monkeypatch)
    yield c
    devnet.admin.set_clock(None)


def replay_daily(
    devnet: Any, coin: str, closes: Sequence[int], last_open_ms: int, step: int = DAY_MS
) -> None:
    """Replay one daily (``step``: any interval) candle per close (oldest first); the last opens at
    ``last_open_ms``. Each candle opens at the previous close, so the path is continuous."""
    rows, prev = [], closes[0]
    for i, c in enumerate(closes):
        t = last_open_ms - (len(closes) - 1 - i) * step
        rows.append(f"{t},{prev},{max(prev, c)},{min(prev, c)},{c}")
        prev = c
    devnet.admin.replay(coin, "\n".join(rows), anchor="absolute")


def yesterday(clock: Clock) -> int:
    """Open time (ms) of the last completed UTC day."""
    return clock.today_ms - DAY_MS


def _ledger(tmp_path: Path, devnet: Any) -> Ledger:
    return Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None)


def _one(res: Any, asset: str = "BTC") -> dict[str, Any]:
    assert res.code == 0, res.err
    found: dict[str, Any] = next(r for r in res.json()["results"] if r["asset"] == asset)
    return found


def _plan(res: Any, asset: str = "BTC") -> dict[str, Any]:
    assert res.code == 0, res.err
    found: dict[str, Any] = next(a for a in res.json()["assets"] if a["asset"] == asset)
    return found


RISING = [50_000 + 100 * i for i in range(150)]
"""150 closes, each 100 above the one before: every change a gain, so RSI(14) = 100."""

Cli = Callable[..., Any]
BTC_DAILY_100 = """
[assets.BTC]
amount = 100
every = "day"
"""


# --- 1. each rule fires -------------------------------------------------------------------------


def test_rsi_overbought_skips(tmp_path: Path, devnet: Any, clock: Clock, cli: Cli) -> None:
    """An all-up path (RSI 100 ≥ 70): plan shows due, the skip and rsi_14; run skips and buys nothing."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, BTC_DAILY_100 + "[assets.BTC.rsi]\n")
    replay_daily(devnet, "BTC", RISING, yesterday(clock))
    plan = _plan(cli("--config", str(cfg), "--json", "plan"))
    assert plan["due"] is True
    assert plan["skip"] == "RSI(14) 100.0 ≥ overbought 70"
    assert plan["indicators"]["rsi_14"] == 100.0
    assert D(plan["amount_usd"]) == 0
    assert plan["reasons"][0].startswith("never bought; due in the current day")
    assert "RSI(14) 100.0 ≥ overbought 70: skip" in plan["reasons"]
    run = _one(cli("--config", str(cfg), "--json", "run"))
    assert run["status"] == "skipped"
    assert run["reason"] == "RSI(14) 100.0 ≥ overbought 70"
    with _ledger(tmp_path, devnet) as ledger:
        assert ledger.fills() == [] and ledger.last_buy("BTC") is None



DIP = """
[assets.BTC]
amount = 40
every = "day"
[assets.BTC.ma_dips]
periods = [50]
thresholds = [5]
[assets.ETH]
amount = 20
every = "day"
"""
SAWTOOTH = [98_000, 102_000] * 30
"""60 closes alternating 98 000 / 102 000: any 50 of them average 100 000."""
DIP_SUMMARY = (
    "buy 100.00 USDC (2.5× the base 40.00) because price 89500 is 10.5 % below its 50-day SMA 100000"
)


def test_dip_below_sma_buys_two_and_a_half_times(tmp_path: Path, devnet: Any, clock: Clock, cli: Cli) -> None:
    """Price 89 500 vs 50-day SMA 100 000 (10.5 % below, tier ≥ 10 %): 2.5 × 40 = 100.00 USDC bought."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, DIP)
    replay_daily(devnet, "BTC", SAWTOOTH, yesterday(clock))
    assert devnet.admin.set_price("BTC", "89500", pin=True) == D(89500)
    plan = _plan(cli("--config", str(cfg), "--json", "plan"))
    assert (plan["due"], plan["skip"], plan["amount_usd"]) == (True, None, "100.00")
    assert plan["indicators"]["sma_50"] == 100_000.0
    assert plan["indicators"]["below_sma_50_pct"] == pytest.approx(10.5)
    assert plan["summary"] == DIP_SUMMARY
    text = cli("--config", str(cfg), "plan", "BTC")
    assert "BTC [paper] due: buy 100.00 USDC" in text.out
    assert "indicators: price 89500, sma_50 100000, below_sma_50_pct 10.5" in text.out
    run = _one(cli("--config", str(cfg), "--json", "run"))
    assert (run["status"], run["usd_requested"]) == ("paper", "100.00")
    assert run["reason"] == f"on paper: {DIP_SUMMARY}"
    assert D(10) < D(run["usd_filled"]) <= D(100)


def test_history_and_plan_after_a_smart_buy(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """history shows the decision summary as the fill's reason; `plan BTC` shows BTC alone, not due."""
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe's width: the reason column is not cut
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, DIP)
    replay_daily(devnet, "BTC", SAWTOOTH, yesterday(clock))
    devnet.admin.set_price("BTC", "89500", pin=True)
    assert cli("--config", str(cfg), "run").code == 0
    fills = {f["asset"]: f for f in cli("--config", str(cfg), "history", "--format", "json").json()["fills"]}
    assert fills["BTC"]["reason"] == DIP_SUMMARY
    assert fills["ETH"]["reason"] == "buy 20.00 USDC: the base amount, no rule changed it"
    table = cli("--config", str(cfg), "history")
    assert table.code == 0 and "2.5× the base 40.00" in table.out
    only = cli("--config", str(cfg), "--json", "plan", "BTC")
    assert [a["asset"] for a in only.json()["assets"]] == ["BTC"]
    btc = _plan(only)
    assert btc["due"] is False
    assert btc["reasons"][0].startswith("bought Tue 2025-06-10 12:00 UTC in the current day; next due")
    assert btc["reasons"][1:] and "below its 50-day SMA" in " ".join(btc["reasons"][1:])
    text = cli("--config", str(cfg), "plan", "ETH")
    assert text.code == 0 and "BTC" not in text.out
    # what it would buy when due, not "not due: buy" as if it were buying now
    assert "ETH [paper] not due; when due: buy 20.00 USDC (now: IOC " in text.out
    # the books cannot be read: nothing is decided, and the reason is said once
    devnet.admin.faults(kind="error", path="/info", status=502, types=["l2Book"], count=100)
    try:
        text = cli("--config", str(cfg), "plan", "ETH")
    finally:
        devnet.admin.clear_faults()
    head = "ETH [paper] not due: cannot decide — temporary: Hyperliquid /info l2Book"
    assert head in text.out, text.out
    assert text.out.count("l2Book") == 1, text.out


def annualised_vol_pct(closes: Sequence[int], window: int) -> float:
    """The hand formula: sample stdev (ddof 1) of the last ``window`` simple daily returns × √365 × 100."""
    tail = closes[-(window + 1):]
    returns = [b / a - 1 for a, b in itertools.pairwise(tail)]
    return float(statistics.stdev(returns) * 365**0.5 * 100)


def test_high_volatility_makes_a_weekly_asset_daily(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """Swings of ±10 % (volatility > 50 %): weekly 100 becomes daily 100 × 1/7 = 14.29; once a day."""
    body = '[assets.BTC]\namount = 100\nevery = "week"\n[assets.BTC.dynamic_frequency]\n'
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    swings = [100_000, 110_000] * 20
    assert annualised_vol_pct(swings, 30) > 50
    replay_daily(devnet, "BTC", swings, yesterday(clock))
    plan = _plan(cli("--config", str(cfg), "--json", "plan"))
    assert plan["amount_usd"] == "14.29"
    assert plan["indicators"]["vol_30d"] == pytest.approx(annualised_vol_pct(swings, 30))
    first = _one(cli("--config", str(cfg), "--json", "run"))
    assert (first["status"], first["usd_requested"]) == ("paper", "14.29")
    assert first["period"] == "2025-06-10T00:00:00Z", "a day's period, not the week's"
    assert "every day while volatility" in first["reason"]
    second = _one(cli("--config", str(cfg), "--json", "run"))
    assert second["status"] == "not_due"
    assert second["reason"].startswith("bought Tue 2025-06-10 12:00 UTC in the current day")
    clock.set(T0 + timedelta(days=1))
    third = _one(cli("--config", str(cfg), "--json", "run"))
    assert (third["status"], third["period"]) == ("paper", "2025-06-11T00:00:00Z")



def test_switch_to_daily_waits_for_the_end_of_the_weekly_period(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """Bought weekly (vol 29 %), then vol > 50 %: daily, but only after the week bought ends, at 14.29."""
    body = '[assets.BTC]\namount = 100\nevery = "week"\n[assets.BTC.dynamic_frequency]\n'
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    calm = [100_000, 101_500] * 20
    assert 25 < annualised_vol_pct(calm, 30) < 50  # ±1.5 %: ≈ 28.9 %
    replay_daily(devnet, "BTC", calm, yesterday(clock))
    weekly = _one(cli("--config", str(cfg), "--json", "run"))
    assert (weekly["status"], weekly["usd_requested"], weekly["period"]) == (
        "paper", "100.00", "2025-06-09T00:00:00Z"
    )
    wild = [*calm, 60_000, 60_000, 60_000, 60_000, 60_000, 60_000]  # Tue 10 … Sun 15 June
    assert annualised_vol_pct(wild[:-5], 30) > 50
    clock.set(T0 + timedelta(days=1))  # Wednesday
    replay_daily(devnet, "BTC", wild[:-5], yesterday(clock))
    plan = _plan(cli("--config", str(cfg), "--json", "plan"))
    assert plan["due"] is False and plan["period"] == "2025-06-11T00:00:00Z"
    assert plan["reasons"][0].startswith("bought Tue 2025-06-10 12:00 UTC in a period recorded until "
                                         "Mon 2025-06-16 00:00 UTC")
    assert _one(cli("--config", str(cfg), "--json", "run"))["status"] == "not_due"
    clock.set(datetime(2025, 6, 16, 9, 0, tzinfo=UTC))  # Monday: the bought week is over
    replay_daily(devnet, "BTC", wild, yesterday(clock))
    daily = _one(cli("--config", str(cfg), "--json", "run"))
    assert (daily["status"], daily["usd_requested"], daily["period"]) == (
        "paper", "14.29", "2025-06-16T00:00:00Z"
    )

def test_volatility_sizing_matches_hand_computation(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """Swings of +3 %/−2.9 %: the amount is max − (vol − 35)/(85 − 35) × (max − min), vol by hand."""
    body = ('[assets.BTC]\namount = 100\nevery = "day"\n'
            '[assets.BTC.sizing]\nkind = "volatility"\nmin = 50\nmax = 200\n')
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    closes = [100_000, 103_000] * 20
    vol = annualised_vol_pct(closes, 30)
    # 30 returns, ±0.029563 around their mean: stdev = 0.029563 × √(30/29) ≈ 0.030068, × √365 ≈ 57.45 %
    assert 57.4 < vol < 57.5
    vol_d = D(str(round(vol, 10)))
    expected = (200 - (vol_d - 35) / 50 * 150).quantize(D("0.01"), rounding=ROUND_HALF_EVEN)
    assert expected == D("132.66")  # 200 − (57.4458 − 35) / 50 × 150
    replay_daily(devnet, "BTC", closes, yesterday(clock))
    run = _one(cli("--config", str(cfg), "--json", "run"))
    assert (run["status"], D(run["usd_requested"])) == ("paper", expected)
    with _ledger(tmp_path, devnet) as ledger:
        (row,) = ledger.decisions("BTC")
        assert row["decision"]["indicators"]["vol_30d"] == pytest.approx(vol, rel=1e-12)
        assert row["outcome"] == "paper"


# --- 2. budget banking across runs --------------------------------------------------------------

BANKING = """
[assets.BTC]
amount = 100
every = "day"
[assets.BTC.sizing]
max = 300
[assets.BTC.rsi]
[assets.BTC.ma_dips]
periods = [20]
thresholds = [5]
[assets.BTC.banking]
"""
BANK_SPENT = (
    "buy 300.00 USDC (2.5× the base 100.00, + 50.00 from the bank, clamped to max 300.00) because "
    "RSI(14) 15.9 ≤ oversold 30 and price 57000 is 10.5 % below its 20-day SMA 63700"
)


def test_skip_banks_once_and_the_next_dip_spends_it(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """Day 1: RSI 100 skips and banks 100, once however often it runs; day 2: a dip spends the bank."""
    # Day 2's path is day 1's plus one close of 58 000 (a fall of 6 900 after 100-a-day gains):
    # Wilder's RSI(14) = 100 − 100 / (1 + (13 × 100) / 6 900) = 15.85 (oversold: ×1, a qualifying dip);
    # the 20-day SMA is (63 100 + … + 64 900 + 58 000) / 20 = 63 700 and the price 57 000 is 10.52 %
    # below it: ×2.5. So 100 × 2.5 + min(bank 100, 1 × base 100) = 350, clamped to max 300: 50 of the
    # bank money goes back, bank 100 → 50.
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, BANKING)
    replay_daily(devnet, "BTC", RISING, yesterday(clock))
    for _ in range(2):  # the second run re-decides the same period: it must not bank twice
        skipped = _one(cli("--config", str(cfg), "--json", "run"))
        assert (skipped["status"], skipped["reason"]) == ("skipped", "RSI(14) 100.0 ≥ overbought 70")
        with _ledger(tmp_path, devnet) as ledger:
            (row,) = ledger.decisions("BTC")
            assert (row["period"], row["outcome"], row["bank_after"]) == (
                "2025-06-10T00:00:00Z", "rule_skip", D(100)
            )
            assert row["decision"]["bank_before_usd"] == "0.00"
            assert "100.00 USDC banked, bank 100.00 of max 400.00 USDC" in row["decision"]["summary"]
            assert ledger.bank("BTC") == D(100)
    clock.set(T0 + timedelta(days=1))
    replay_daily(devnet, "BTC", [*RISING, 58_000], yesterday(clock))
    devnet.admin.set_price("BTC", "57000", pin=True)
    plan = _plan(cli("--config", str(cfg), "--json", "plan"))
    assert (plan["amount_usd"], plan["bank_usd"]) == ("300.00", "50.00")
    assert plan["indicators"]["rsi_14"] == pytest.approx(100 - 100 / (1 + 1300 / 6900))
    assert plan["indicators"]["sma_20"] == 63_700.0
    bought = _one(cli("--config", str(cfg), "--json", "run"))
    assert (bought["status"], bought["usd_requested"]) == ("paper", "300.00")
    assert bought["reason"] == f"on paper: {BANK_SPENT}"
    with _ledger(tmp_path, devnet) as ledger:
        newest, oldest = ledger.decisions("BTC")
        assert (oldest["outcome"], oldest["bank_after"]) == ("rule_skip", D(100))
        assert (newest["period"], newest["outcome"], newest["bank_after"]) == (
            "2025-06-11T00:00:00Z", "paper", D(50)
        )
        assert newest["decision"]["bank_before_usd"] == "100.00"
        assert ledger.bank("BTC") == D(50)



def test_plan_is_the_pure_core_on_the_shell_s_snapshot(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """Day 2 of the banking path (a bank of 100, a dip spending part of it): the shell's snapshot,
    decided again by the pure core with the ledger as its view, gives the very decisions the shell
    made, and `plan --json` shows exactly those, field by field."""
    import asyncio
    import json

    from live_support import pin_prices

    from dcactl.run.core import RunRequest, decide_run
    from dcactl.run.execute import PlanReport, plan_entry
    from dcactl.run.plan import prepare, select_assets
    from dcactl.session import open_session

    others = '[assets.ETH]\namount = 50\nevery = "day"\n[assets.LINK]\namount = 15\nevery = "week"\n'
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, BANKING + others)
    replay_daily(devnet, "BTC", RISING, yesterday(clock))
    assert cli("--config", str(cfg), "run").code == 0
    clock.set(T0 + timedelta(days=1))
    replay_daily(devnet, "BTC", [*RISING, 58_000], yesterday(clock))
    devnet.admin.set_price("BTC", "57000", pin=True)
    pin_prices(devnet, "UETH")
    shown = cli("--config", str(cfg), "--json", "plan").json()

    async def decide_twice() -> tuple[list[Any], list[Any], str, str]:
        async with open_session(cfg, None) as session:
            request = RunRequest(command="plan", dry_run=True)
            assets = select_assets(session, request)
            made, snapshot = await prepare(session, assets, request, clock.now)
            again = decide_run(session.config, request, assets, snapshot, session.ledger)
            return made, again, session.network, session.config.settings.mode

    made, again, network, mode = asyncio.run(decide_twice())
    assert again == made
    report = PlanReport(as_of=clock.now, network=network, mode=mode, assets=[plan_entry(d) for d in again])
    assert json.loads(json.dumps(report.to_json())) == shown
    btc = next(d for d in again if d.symbol == "BTC")
    assert btc.decision is not None and (btc.amount, btc.decision.bank_after) == (D(300), D(50))


def test_forced_buys_never_bank(tmp_path: Path, devnet: Any, clock: Clock, cli: Cli) -> None:
    """`buy --force` while RSI skips: bought anyway at the base amount (PRODUCT.md "Forced buys"), its
    reason says forced and why the rules would skip; only the scheduled period's skip banks (100)."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, BANKING)
    replay_daily(devnet, "BTC", RISING, yesterday(clock))
    assert _one(cli("--config", str(cfg), "--json", "run"))["status"] == "skipped"
    for _ in range(2):
        forced = _one(cli("--config", str(cfg), "--json", "buy", "BTC", "--force"))
        assert (forced["status"], forced["usd_requested"]) == ("paper", "100.00")
        assert forced["reason"].startswith("on paper: forced: buy 100.00 USDC although the rules would skip "
                                           "(RSI(14) 100.0 ≥ overbought 70)")
        assert forced["period"].startswith("forced:")
    with _ledger(tmp_path, devnet) as ledger:
        assert ledger.bank("BTC") == D(100)
        newest = ledger.decisions("BTC")[0]
        assert newest["period"].startswith("forced:") and newest["bank_after"] == D(100)
        assert newest["decision"]["summary"].endswith("forced buy outside the schedule: nothing banked")
        assert [r for r in newest["decision"]["reasons"] if r.startswith("banking")] == [
            "banking: forced buy outside the schedule: nothing banked (bank stays 100.00 USDC)"
        ]

# --- 3. buy-only rebalancing --------------------------------------------------------------------

REBALANCE = """
[assets.BTC]
amount = 20
every = "day"
[assets.ETH]
amount = 20
every = "day"
[portfolio]
targets = {BTC = 0.5, ETH = 0.5}
budget_per_run = 100
"""


def test_rebalancing_sends_the_budget_to_the_underweight_asset(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """Holding ~1 000 USDC of BTC and no ETH, the whole 100 budget goes to ETH; nothing is sold."""
    # T = ~1 000 + 100; ETH's room 0.5 × T − 0 ≈ 550 > 100, BTC is above its target: ETH 20 + 100.
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, REBALANCE)
    forced = _one(cli("--config", str(cfg), "--json", "buy", "BTC", "--force", "--amount", "1000"))
    assert forced["status"] == "paper" and D(forced["usd_filled"]) > D(990)
    with _ledger(tmp_path, devnet) as ledger:
        btc_before = sum(p.units for p in ledger.positions() if p.asset == "BTC")
    plan = cli("--config", str(cfg), "--json", "plan")
    assert (_plan(plan, "BTC")["amount_usd"], _plan(plan, "ETH")["amount_usd"]) == ("20.00", "120.00")
    res = cli("--config", str(cfg), "--json", "run")
    btc, eth = _one(res, "BTC"), _one(res, "ETH")
    assert (btc["status"], btc["usd_requested"]) == ("paper", "20.00")
    assert (eth["status"], eth["usd_requested"]) == ("paper", "120.00")
    assert eth["reason"].endswith("; +100.00 USDC for rebalancing → 120.00 USDC")
    with _ledger(tmp_path, devnet) as ledger:
        assert {f.side for f in ledger.fills()} == {"B"}
        assert sum(p.units for p in ledger.positions() if p.asset == "BTC") > btc_before
        (eth_decision,) = ledger.decisions("ETH")
        reasons = eth_decision["decision"]["reasons"]
        assert "buy-only rebalancing: +100.00 USDC (below its target weight)" in reasons
    assert devnet.admin.orders() == [], "paper mode never sends an order"



def test_rebalancing_counts_holdings_of_assets_not_due(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """A weekly BTC held but not due still counts in the weights: the daily ETH gets the whole budget."""
    # Tuesday both are due, nothing held: T = 100, each room 50 → BTC 1 000 + 50, ETH 20 + 50.
    # Wednesday only ETH is due: T ≈ 1 050 + 70 + 100, ETH's room ≈ 610 − 70 > 100 → ETH 20 + 100
    # (valuing the BTC held at 0 gave T ≈ 170 and ETH ≈ 35). `plan ETH` values BTC at its last fill.
    weekly_btc = 'amount = 1000\nevery = "week"\n[assets.ETH]'
    body = REBALANCE.replace('amount = 20\nevery = "day"\n[assets.ETH]', weekly_btc)
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    first = cli("--config", str(cfg), "--json", "run")
    assert (_one(first, "BTC")["usd_requested"], _one(first, "ETH")["usd_requested"]) == ("1050.00", "70.00")
    clock.set(T0 + timedelta(days=1))
    for only in ((), ("--only", "ETH")):
        plan = _plan(cli("--config", str(cfg), "--json", "plan", *only[1:]), "ETH")
        assert plan["amount_usd"] == "120.00", only
    second = cli("--config", str(cfg), "--json", "run")
    assert _one(second, "BTC")["status"] == "not_due"
    assert (_one(second, "ETH")["status"], _one(second, "ETH")["usd_requested"]) == ("paper", "120.00")

# --- 5. incremental candle refresh --------------------------------------------------------------

RSI_BOTH = """
[assets.BTC]
amount = 100
every = "day"
[assets.BTC.rsi]
[assets.AVAX]
amount = 20
every = "day"
[assets.AVAX.rsi]
"""


def _candle_asks(devnet: Any) -> list[dict[str, Any]]:
    """The candleSnapshot requests' ``req`` bodies since the log was last cleared."""
    return [r["body"]["req"] for r in devnet.admin.requests(type="candleSnapshot")]


def _chart_days(devnet: Any) -> list[str]:
    """The ``days`` of each CoinGecko market_chart request since the log was last cleared."""
    return [r["query"]["days"] for r in devnet.admin.requests(type="market_chart")]


def test_candles_are_refreshed_incrementally(tmp_path: Path, devnet: Any, clock: Clock, cli: Cli) -> None:
    """140 days (RSI's 10 × 14) at first, none again that day, from the last cached candle the next."""
    # Hyperliquid candleSnapshot (BTC) and CoinGecko market_chart (AVAX) alike.
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, RSI_BOTH)
    devnet.admin.clear_requests()
    assert cli("--config", str(cfg), "run").code == 0
    (ask,) = _candle_asks(devnet)
    assert (ask["coin"], ask["interval"]) == ("@142", "1d")
    assert (ask["startTime"], ask["endTime"]) == (clock.today_ms - 140 * DAY_MS, to_ms(T0))
    assert _chart_days(devnet) == ["142"]  # 140.5 days back to the first wanted day, + 2 (whole days)
    devnet.admin.clear_requests()
    for command in ("run", "plan"):
        assert cli("--config", str(cfg), command).code == 0
    assert _candle_asks(devnet) == [] and _chart_days(devnet) == []
    clock.set(T0 + timedelta(days=1, hours=3))
    devnet.admin.clear_requests()
    assert cli("--config", str(cfg), "run").code == 0
    (ask,) = _candle_asks(devnet)
    assert (ask["startTime"], ask["endTime"]) == (to_ms(T0) - to_ms(T0) % DAY_MS, to_ms(clock.now))
    assert _chart_days(devnet) == ["3"]  # from the last cached day: 1 day 15 h back, + 2
    with _ledger(tmp_path, devnet) as ledger:
        btc = ledger.candles("hl:@142", "1d")
        assert len(btc) == 142 and btc[-1].open_ms == clock.today_ms  # 140 + day 1 + today


def test_coingecko_daily_close_is_the_end_of_day_price(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """The cached close of yesterday (CoinGecko asset) is the price at today's 00:00 UTC, its end."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, RSI_BOTH)
    assert cli("--config", str(cfg), "run", "--only", "AVAX").code == 0
    with httpx.Client(base_url=f"{devnet.url}/coingecko/api/v3", timeout=10) as http:
        chart = http.get("coins/avalanche-2/market_chart", params={"vs_currency": "usd", "days": "3"})
    end_of_yesterday = next(p for t, p in chart.json()["prices"] if t == clock.today_ms)
    with _ledger(tmp_path, devnet) as ledger:
        (last_day,) = [c for c in ledger.candles("cg:avalanche-2", "1d") if c.open_ms == yesterday(clock)]
    assert last_day.close == D(str(end_of_yesterday))


def test_run_leaves_the_candles_of_an_asset_that_is_not_due(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """A weekly RSI buyer bought on Tuesday: Wednesday's run (not due) asks for no candles; Wednesday's
    plan (which decides every asset) refreshes them, from Tuesday's candle on."""
    weekly = BTC_DAILY_100.replace('every = "day"', 'every = "week"') + "[assets.BTC.rsi]\n"
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, weekly)
    assert _one(cli("--config", str(cfg), "--json", "run"))["status"] == "paper"
    clock.set(T0 + timedelta(days=1))
    devnet.admin.clear_requests()
    assert _one(cli("--config", str(cfg), "--json", "run"))["status"] == "not_due"
    assert _candle_asks(devnet) == []
    assert _plan(cli("--config", str(cfg), "--json", "plan"))["due"] is False
    (ask,) = _candle_asks(devnet)
    assert ask["startTime"] == to_ms(T0) - to_ms(T0) % DAY_MS


# --- 6. hourly candles and the warm-up of many assets --------------------------------------------

RSI_HOURLY = """
[assets.BTC]
amount = 100
every = "4h"
[assets.BTC.rsi]
interval = "1h"
[assets.AVAX]
amount = 20
every = "4h"
[assets.AVAX.rsi]
interval = "1h"
"""


def test_hourly_rsi_overbought_skips(tmp_path: Path, devnet: Any, clock: Clock, cli: Cli) -> None:
    """An all-up hourly path (RSI(14, 1h) 100 ≥ 70) skips a 4-hourly buyer; its daily candles are
    never asked for."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, RSI_HOURLY)
    replay_daily(devnet, "BTC", RISING, to_ms(T0) - HOUR_MS, step=HOUR_MS)
    devnet.admin.clear_requests()
    plan = _plan(cli("--config", str(cfg), "--json", "plan", "BTC"))
    assert plan["skip"] == "RSI(14, 1h) 100.0 ≥ overbought 70"
    assert plan["indicators"]["rsi_14_1h"] == 100.0
    assert [a["interval"] for a in _candle_asks(devnet)] == ["1h"]
    run = _one(cli("--config", str(cfg), "--json", "run", "--only", "BTC"))
    assert (run["status"], run["reason"]) == ("skipped", "RSI(14, 1h) 100.0 ≥ overbought 70")


def test_hourly_candles_are_refreshed_incrementally(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """140 hours (10 × 14) at first, none again within the hour, from the last cached hour after it;
    CoinGecko is asked for hourly points (no interval, 2 to 90 days)."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, RSI_HOURLY)
    clock.set(T0 + timedelta(minutes=10))
    devnet.admin.clear_requests()
    assert cli("--config", str(cfg), "plan").code == 0
    (ask,) = _candle_asks(devnet)
    assert (ask["coin"], ask["interval"]) == ("@142", "1h")
    assert (ask["startTime"], ask["endTime"]) == (to_ms(T0) - 140 * HOUR_MS, to_ms(clock.now))
    (chart,) = devnet.admin.requests(type="market_chart")
    assert chart["query"]["days"] == "7" and "interval" not in chart["query"]  # 5 d 20 h 10 min, + 2
    clock.set(T0 + timedelta(minutes=50))
    devnet.admin.clear_requests()
    assert cli("--config", str(cfg), "plan").code == 0
    assert _candle_asks(devnet) == [] and _chart_days(devnet) == []
    clock.set(T0 + timedelta(hours=1, minutes=20))
    devnet.admin.clear_requests()
    assert cli("--config", str(cfg), "plan").code == 0
    (ask,) = _candle_asks(devnet)
    assert (ask["startTime"], ask["endTime"]) == (to_ms(T0), to_ms(clock.now))
    assert _chart_days(devnet) == ["2"]
    with _ledger(tmp_path, devnet) as ledger:
        btc = ledger.candles("hl:@142", "1h")
        assert len(btc) == 142 and btc[-1].open_ms == to_ms(T0) + HOUR_MS  # 140 + T0's hour + this one
        assert ledger.candles("hl:@142", "1d") == []
        avax = ledger.candles("cg:avalanche-2", "1h")
        assert avax[-1].open_ms == to_ms(T0) + HOUR_MS and len(avax) >= 141


MANY = ["PURR", "HFUN", "JEFF", "PIP", "SCHIZO", "CATBAL", "HYPE", "BTC", "ETH", "SOL", "UFART", "PUMP",
        "UXPL", "UENA", "UWLD", "USUI", "UBONK", "KNTQ", "UMON", "LIQD", "BUDDY", "UTRX", "UAAVE", "FEUSD",
        "USDH"]
"""All 25 USDC pairs of the devnet (by token name where no alias maps a ticker)."""


def _weight(asks: list[dict[str, Any]]) -> int:
    """The weight of candleSnapshot requests by the fact sheet: 20 + 1 per 60 candles returned."""
    total = 0
    for a in asks:
        step = HOUR_MS if a["interval"] == "1h" else DAY_MS
        candles = a["endTime"] // step - a["startTime"] // step + 1
        total += 20 + candles // 60
    return total


def next_minute() -> None:
    """Empty the request-pacing windows the user's dcactl processes share: the next run comes after
    the minute the last one spent its weight in (cron runs are an hour or a day apart)."""
    from dcactl.config.files import user_data_dir

    for window in (user_data_dir() / "pacing").glob("*.json"):
        window.unlink()


def test_a_cold_portfolio_warms_up_over_runs_within_the_budget(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli
) -> None:
    """25 assets with EMA dips (600 days, weight 30) and an hourly RSI (140 hours, weight 22): 1300 of
    weight, more than the 1000/min dcactl paces itself to. A run spends at most 800 on candles (the
    first 780: spotMeta took 20): 15 assets. A second run in the same minute shares the window and
    fetches nothing (it neither waits nor fails); the next one fetches the other 10, and then nothing
    more is asked. The deferred assets say so."""
    body = "".join(
        f'[assets.{s}]\namount = 10\nevery = "day"\n[assets.{s}.ma_dips]\nkind = "EMA"\n'
        f'[assets.{s}.rsi]\ninterval = "1h"\n'
        for s in MANY
    )
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    fetched: list[list[str]] = []
    for run, later in enumerate((False, False, True, True)):
        if later:
            next_minute()
        devnet.admin.clear_requests()
        res = cli("--config", str(cfg), "--json", "plan")
        assert res.code == 0, res.err
        asks = _candle_asks(devnet)
        assert _weight(asks) <= 800, run
        fetched.append([a["coin"] for a in asks])
        assets = res.json()["assets"]
        assert [a["asset"] for a in assets] == MANY and all(a["amount_usd"] is not None for a in assets), run
        notes = [a["asset"] for a in assets if any("not refreshed this run" in r for r in a["reasons"])]
        assert notes == (MANY[15:] if run < 2 else []), run
        assert ("deferred to a later run" in res.err) == (run < 2)
    assert [len(f) for f in fetched] == [30, 0, 20, 0]  # daily + hourly of 15 assets (780), then of 10
    last = res.json()["assets"]
    assert all(a["indicators"]["rsi_14_1h"] is not None and a["indicators"]["ema_200"] is not None
               for a in last)


def test_coingecko_warm_up_stays_within_its_calls_per_minute(
    tmp_path: Path, devnet: Any, clock: Clock, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CoinGecko paced to 5 calls a minute, a run spends 4 (80 %) on candles: 8 paper assets
    with an RSI warm up 4 by 4, stalest first, and the third run asks nothing."""
    from dcactl.http import WeightBudget

    monkeypatch.setattr("dcactl.market.coingecko.default_budget", lambda url: WeightBudget(5))
    paper = ["AVAX", "LINK", "DOT", "ADA", "DOGE", "XRP", "LTC", "UNI"]
    body = "".join(f'[assets.{s}]\namount = 10\nevery = "day"\n[assets.{s}.rsi]\n' for s in paper)
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    asked: list[list[str]] = []
    for _ in range(3):
        next_minute()
        devnet.admin.clear_requests()
        res = cli("--config", str(cfg), "--json", "plan")
        assert res.code == 0, res.err
        asked.append([r["id"] for r in devnet.admin.requests(type="market_chart")])
    ids = ["avalanche-2", "chainlink", "polkadot", "cardano", "dogecoin", "ripple", "litecoin", "uniswap"]
    assert asked == [ids[:4], ids[4:], []]
    assert all(a["indicators"]["rsi_14"] is not None for a in res.json()["assets"])


# --- the bank in the ledger ---------------------------------------------------------------------


def test_a_pending_buy_that_filled_later_has_spent_its_bank(tmp_path: Path) -> None:
    """A `pending` decision's bank_after stands once reconciliation finds its order filled (100 → 0)."""
    # A live dip buy whose outcome was unknown at the end of its run; the next run settles the intent.
    account = "0x" + "ab" * 20
    with Ledger.open(tmp_path / "ledger.db", network="devnet", account=account) as ledger:
        ledger.record_decision("BTC", "2025-06-09T00:00:00Z", "run1", {}, D(100), "rule_skip")
        intent = OrderIntent(
            cloid="0x" + "11" * 16, asset="BTC", venue="hyperliquid", period="2025-06-10T00:00:00Z",
            attempt=1, usd_requested=D(350), size=D("0.005"), limit_px=D(70_000), created_at=T0,
            pair="@142", asset_id=10142, status="sent", oid=7,
        )
        ledger.record_intent(intent)
        ledger.record_decision("BTC", intent.period, "run2", {}, D(0), "pending")
        assert ledger.bank("BTC") == D(100), "not known to have bought: the bank is not spent yet"
        ledger.update_intent(intent.cloid, status="filled")
        assert ledger.bank("BTC") == D(0)
        ledger.update_intent(intent.cloid, status="unfilled")
        assert ledger.bank("BTC") == D(100), "an order that never filled spent nothing"
