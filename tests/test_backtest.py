"""`dcactl backtest`: hand-computed fills and figures from a CSV, the baselines and `--set` variants,
validation, no look-ahead (hypothesis), and parity with `plan` on the devnet."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from live_support import faketime_env, require_faketime
from support import write_portfolio

from dcactl.backtest.engine import replay
from dcactl.backtest.prices import Bar, Series, load_csv
from dcactl.backtest.results import Costs, Tick
from dcactl.backtest.tracks import Sweep
from dcactl.backtest.variants import Strategy
from dcactl.config.schema import parse_config_text, validate_document

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
OPENS = ["100", "80", "120", "90", "110"]
CLOSES = ["80", "120", "90", "110", "100"]


def _csv(path: Path, asset: str = "AAA", opens: list[str] = OPENS, closes: list[str] = CLOSES) -> Path:
    rows = ["time,asset,open,high,low,close"]
    for i, (o, c) in enumerate(zip(opens, closes, strict=True)):
        t = T0 + timedelta(days=i)
        hi, lo = max(D(o), D(c)), min(D(o), D(c))
        rows.append(f"{t.isoformat().replace('+00:00', 'Z')},{asset},{o},{hi},{lo},{c}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _portfolio(tmp_path: Path, body: str = '[assets.AAA]\namount = 100\nevery = "day"\n') -> Path:
    cfg = tmp_path / "p.toml"
    cfg.write_text(f'[settings]\nnetwork = "devnet"\ndatabase = "ledger.db"\n{body}')
    return cfg


def _expected(
    amount: D, opens: list[str], closes: list[str], fee_bps: D = D(7), slip_bps: D = D(5)
) -> dict[str, Any]:
    """The contract's formula, by hand: a buy of ``amount`` at each day's open."""
    units = invested = fees = D(0)
    marks = []
    flows = []
    for i, (o, c) in enumerate(zip(opens, closes, strict=True)):
        p = D(o) * (1 + slip_bps / 10000)
        size = (amount / p).quantize(D("1e-8"), rounding=ROUND_DOWN)
        cost = size * p
        fee = size * fee_bps / 10000
        units += size - fee
        invested += cost
        fees += fee * p
        flows.append((T0 + timedelta(days=i), cost))
        marks.append((units * D(c) - invested) / invested * 100)
    value = units * D(closes[-1])
    return {
        "units": units,
        "invested": invested,
        "fees": fees,
        "value": value,
        "flows": flows,
        "drawdown": min(D(0), min(marks)),
        "end": T0 + timedelta(days=len(opens)),
    }


def _npv(rate_pct: float, flows: list[tuple[datetime, D]], value: D, end: datetime) -> float:
    r = rate_pct / 100
    return float(value) - sum(
        float(c) * (1 + r) ** ((end - t).total_seconds() / (365 * 86400)) for t, c in flows
    )


WINDOW = ("--from", "2025-03-03", "--to", "2025-03-08")


def _backtest(cli: Any, cfg: Path, prices: Path, *extra: str, json_out: bool = True) -> Any:
    """`dcactl [--json] backtest` over the five hand-made days of ``prices``."""
    flags = ("--json",) if json_out else ()
    return cli("--config", str(cfg), *flags, "backtest", *WINDOW, "--prices", str(prices), *extra)


def test_csv_backtest_by_hand(tmp_path: Path, cli: Any) -> None:
    """Five daily candles, 100 USDC a day: units, invested, fees, value, drawdown exactly as the
    contract's formula gives them by hand; the XIRR discounts the buys and the value to zero."""
    cfg = _portfolio(tmp_path)
    prices = _csv(tmp_path / "p.csv")
    res = _backtest(cli, cfg, prices)
    assert res.code == 0, res.err
    doc = res.json()
    assert (doc["from"], doc["to"], doc["fee_bps"], doc["slippage_bps"]) == (
        "2025-03-03T00:00:00Z",
        "2025-03-08T00:00:00Z",
        "7",
        "5",
    )
    by = {s["name"]: s for s in doc["strategies"]}
    assert list(by) == ["portfolio", "plain", "lump-sum"]
    want = _expected(D(100), OPENS, CLOSES)
    got = by["portfolio"]
    assert D(got["invested_usd"]) == want["invested"].quantize(D("0.01"))
    assert D(got["value_usd"]) == want["value"].quantize(D("0.01"))
    assert D(got["fees_usd"]) == want["fees"].quantize(D("0.01"))
    assert D(got["max_drawdown_pct"]) == want["drawdown"].quantize(D("0.01"))
    (asset,) = got["assets"]
    assert D(asset["units"]) == want["units"] and asset["buys"] == 5
    assert D(asset["avg_cost"]) == (want["invested"] / want["units"]).quantize(D("1e-8"))
    assert got["buys"] == 5 and got["skips"] == 0
    xirr = float(got["xirr_pct"])
    # the rate where the flows discount to zero lies within 0.01 % of the reported one
    assert _npv(xirr - 0.01, want["flows"], want["value"], want["end"]) > 0
    assert _npv(xirr + 0.01, want["flows"], want["value"], want["end"]) < 0
    assert by["plain"]["invested_usd"] == got["invested_usd"], "no rules: the portfolio is plain"


def test_a_csv_backtest_opens_no_ledger(tmp_path: Path, cli: Any) -> None:
    """With --prices the backtest needs no session: no ledger file appears where the config puts it."""
    folder = tmp_path / "w"
    folder.mkdir()
    res = _backtest(cli, _portfolio(folder), _csv(folder / "p.csv"))
    assert res.code == 0, res.err
    assert sorted(p.name for p in folder.iterdir()) == ["p.csv", "p.toml"]


def test_lump_sum_buys_what_plain_invested_at_the_first_tick(tmp_path: Path, cli: Any) -> None:
    """lump-sum: plain's invested, bought at the first open (size rounded down, fee in the base)."""
    cfg = _portfolio(tmp_path)
    extra = ("--baseline", "lump-sum", "--fee-bps", "10", "--slippage-bps", "0")
    res = _backtest(cli, cfg, _csv(tmp_path / "p.csv"), *extra)
    assert res.code == 0, res.err
    by = {s["name"]: s for s in res.json()["strategies"]}
    assert list(by) == ["portfolio", "lump-sum"]
    plain = _expected(D(100), OPENS, CLOSES, D(10), D(0))["invested"]
    size = (plain / D(100)).quantize(D("1e-8"), rounding=ROUND_DOWN)
    lump = by["lump-sum"]
    assert lump["buys"] == 1
    assert D(lump["assets"][0]["units"]) == size - size * D(10) / 10000
    assert D(lump["invested_usd"]) == (size * 100).quantize(D("0.01"))
    assert D(lump["value_usd"]) == ((size - size * D("0.001")) * 100).quantize(D("0.01"))


def test_set_variants_and_the_table(tmp_path: Path, cli: Any) -> None:
    """--set amount=50,200: two variants named by their setting, each investing by its amount; the
    table lists every strategy and the per-asset comparison."""
    cfg = _portfolio(tmp_path)
    prices = _csv(tmp_path / "p.csv")
    doc = _backtest(cli, cfg, prices, "--set", "amount=50,200").json()
    names = [s["name"] for s in doc["strategies"]]
    assert names == ["portfolio", "amount=50", "amount=200", "plain", "lump-sum"]
    by = {s["name"]: s for s in doc["strategies"]}
    for amount in (50, 200):
        want = _expected(D(amount), OPENS, CLOSES)["invested"].quantize(D("0.01"))
        assert D(by[f"amount={amount}"]["invested_usd"]) == want
    table = _backtest(cli, cfg, prices, "--set", "amount=50,200", json_out=False)
    assert table.code == 0, table.err
    for name in names:
        assert name in table.out
    assert "window avg" in table.out


def test_rules_skip_and_cap(tmp_path: Path, cli: Any) -> None:
    """A 150 USDC run cap with two assets of 100 each: the first (config order) is bought every day,
    the second skipped with "cap" every day."""
    body = (
        '[settings]\nnetwork = "devnet"\nmax_usd_per_run = 150\n[assets.AAA]\namount = 100\nevery = "day"\n'
        '[assets.BBB]\namount = 100\nevery = "day"\n'
    )
    cfg = tmp_path / "p.toml"
    cfg.write_text(body)
    prices = _csv(tmp_path / "a.csv")
    b = _csv(tmp_path / "b.csv", "BBB")
    prices.write_text(prices.read_text() + "".join(b.read_text().splitlines(keepends=True)[1:]))
    doc = _backtest(cli, cfg, prices, "--baseline", "plain").json()
    port = doc["strategies"][0]
    assert port["buys"] == 5 and port["skips_by_reason"] == {"cap": 5}
    assert [a["buys"] for a in port["assets"]] == [5, 0]


def test_bad_prices_csv_names_row_and_column(tmp_path: Path, cli: Any) -> None:
    """Every problem of the CSV at once, with row and column; exit 2; no --html file written."""
    cfg = _portfolio(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "time,asset,open,high,low,close\nyesterday,AAA,1,1,1,1\n2025-03-03,AAA,-5,1,1,1\n"
        "2025-03-04,AAA,1,0.5,1,1\n"
    )
    html = tmp_path / "out.html"
    res = cli("--config", str(cfg), "backtest", "--prices", str(bad), "--html", str(html))
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 3
    assert "row 2, column time" in lines[0] and "row 3, column open" in lines[1]
    assert "row 4, column low/high" in lines[2]
    assert all(line.startswith("dcactl: error: ") for line in lines)
    assert not html.exists()
    missing = tmp_path / "m.csv"
    missing.write_text("time,asset,close\n")
    res = cli("--config", str(cfg), "backtest", "--prices", str(missing))
    assert res.code == 2 and "missing columns open, high, low" in res.err


def test_window_not_covered_says_what_is_available(tmp_path: Path, cli: Any) -> None:
    """A window the CSV does not cover: exit 2, naming the range each asset has."""
    cfg = _portfolio(tmp_path)
    prices = _csv(tmp_path / "p.csv")
    window = ("--from", "2024-01-01", "--to", "2025-03-08")
    res = cli("--config", str(cfg), "backtest", *window, "--prices", str(prices))
    assert res.code == 2
    assert "available: AAA: 2025-03-03 to 2025-03-07" in res.err


def test_bad_options(tmp_path: Path, cli: Any) -> None:
    """Unknown --set key (did you mean), bad baseline, --from after --to: one line each, exit 2."""
    cfg = _portfolio(tmp_path)
    prices = str(_csv(tmp_path / "p.csv"))
    base = ("--config", str(cfg), "backtest", "--prices", prices, *WINDOW)
    res = cli(*base, "--set", "amout=5")
    assert res.code == 2 and "--set amout=5" in res.err and "did you mean `amount`" in res.err
    assert cli(*base, "--baseline", "hodl").code == 2
    res = cli(
        "--config", str(cfg), "backtest", "--prices", prices, "--from", "2025-03-08", "--to", "2025-03-03"
    )
    assert res.code == 2 and "must be before" in res.err
    assert cli(*base, "--set", "amount").code == 2


def test_a_bad_set_value_is_one_line_however_many_assets_it_sets(tmp_path: Path, cli: Any) -> None:
    """`--set rsi.oversold=...` sets every asset's: a bad value is one line saying how many more
    assets have the same problem, not one line per asset; problems that differ stay apart."""
    body = "".join(f'[assets.A{i}]\namount = 10\nevery = "day"\n[assets.A{i}.rsi]\n' for i in range(4))
    body += '[assets.B]\namount = 10\nevery = "day"\n'
    cfg = _portfolio(tmp_path, body)
    prices = str(_csv(tmp_path / "p.csv"))
    res = cli("--config", str(cfg), "backtest", "--prices", prices, *WINDOW, "--set", "rsi.oversold=20..50")
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert lines == [
        f'dcactl: error: --set rsi.oversold=20..50: {cfg}: assets.A0.rsi.oversold: must be an RSI level '
        'between 0 and 100 (exclusive), got "20..50" (and the same for 4 more assets)'
    ], lines
    res = cli("--config", str(cfg), "backtest", "--prices", prices, *WINDOW,
              "--set", "assets.A1.rsi.period=0", "--set", "rsi.perod=3")
    assert res.code == 2
    assert len(res.err.strip().splitlines()) == 2, res.err
    assert "assets.A1.rsi.period: " in res.err and "did you mean `period`? (and the same for 4 more assets)" \
        in res.err


def test_html_is_written(tmp_path: Path, cli: Any) -> None:
    """--html writes the strategies page beside the table (one overlay, one buys chart per strategy)."""
    cfg = _portfolio(tmp_path)
    html = tmp_path / "bt.html"
    res = _backtest(cli, cfg, _csv(tmp_path / "p.csv"), "--html", str(html), json_out=False)
    assert res.code == 0, res.err
    page = html.read_text()
    assert page.count('data-chart="buys-') == 3 and 'data-chart="strategies"' in page


# ---- no look-ahead -----------------------------------------------------------------------------------

RULES = """
[assets.AAA]
amount = 100
every = "day"
[assets.AAA.rsi]
period = 3
[assets.AAA.ma_dips]
periods = [3, 5]
thresholds = [2, 5]
[assets.AAA.banking]
"""


def _config(tmp_path: Path) -> Any:
    path = tmp_path / "rules.toml"
    text = f'[settings]\nnetwork = "devnet"\n{RULES}'
    return validate_document(parse_config_text(text, path), path)


def _series(prices: list[float]) -> Series:
    bars = tuple(
        Bar(T0 + timedelta(days=i), D(f"{p:.2f}"), D(f"{q:.2f}"))
        for i, (p, q) in enumerate(zip(prices, prices[1:] + prices[-1:], strict=True))
    )
    return Series("AAA", "1d", bars)


@settings(max_examples=40, deadline=None)
@given(
    prices=st.lists(st.floats(50, 150), min_size=12, max_size=20),
    cut=st.integers(4, 11),
    noise=st.lists(st.floats(0.5, 2.0), min_size=20, max_size=20),
    banking=st.booleans(),
)
def test_no_lookahead(
    tmp_path_factory: Any, prices: list[float], cut: int, noise: list[float], banking: bool
) -> None:
    """Changing any candle's close at or after a tick (and any later open) never changes the
    decisions at that tick or before: the rules read only candles completed before it — whether
    the asset is decided tick by tick (with a bank) or over all its ticks at once (without)."""
    config = _config(tmp_path_factory.mktemp("la"))
    if not banking:
        config = replace(config, assets=tuple(replace(a, banking=None) for a in config.assets))
    warm = [100.0 + (i * 7) % 5 for i in range(32)]  # the rules' history before the window (RSI(3): 30)
    original = _series(warm + prices)
    bars = list(original.bars)
    for i in range(cut, len(prices)):
        b = bars[len(warm) + i]
        new_open = b.open if i == cut else (b.open * D(f"{noise[i]:.3f}")).quantize(D("0.01"))
        bars[len(warm) + i] = Bar(b.at, new_open, (b.close * D(f"{noise[i]:.3f}")).quantize(D("0.01")))
    changed = replace(original, bars=tuple(bars))
    start, end = bars[len(warm)].at, bars[-1].at + timedelta(days=1)
    tick = bars[len(warm) + cut].at

    def decisions(series: Series) -> list[Tick]:
        trace: list[Tick] = []
        replay(
            Strategy("portfolio", "rules", config), {"AAA": series}, {}, {}, start, end, Costs(), trace=trace
        )
        return [t for t in trace if t.at <= tick]

    assert decisions(original) == decisions(changed)


def test_shared_indicators_change_no_decision(tmp_path: Path) -> None:
    """Strategies replayed with one indicator memo (as a backtest with --set variants does) decide
    every tick exactly as each replayed alone: variants of the RSI's period and levels and of the
    MA periods share prices but not the values their parameters change."""
    import random

    rng = random.Random(5)
    prices = [100.0]
    for _ in range(120):
        prices.append(max(5.0, prices[-1] * (1 + rng.gauss(0, 0.05))))
    series = {"AAA": _series(prices)}
    base = _config(tmp_path)
    variants = [
        replace(base, assets=tuple(replace(a, rsi=replace(a.rsi, period=p, oversold=D(o)),
                                           ma_dips=replace(a.ma_dips, periods=m)) for a in base.assets))
        for p, o, m in [(5, 30, (3, 5)), (5, 45, (3, 5)), (7, 30, (3, 6)), (5, 30, (4, 5))]
    ]
    start, end = T0 + timedelta(days=10), T0 + timedelta(days=len(prices))

    def run(config: Any, memo: Any) -> tuple[list[Tick], dict[str, Any]]:
        trace: list[Tick] = []
        result = replay(Strategy("s", "rules", config), series, {}, {}, start, end, Costs(), trace=trace,
                        shared=memo)
        return trace, result.to_json()

    shared = Sweep()
    together = [run(c, shared) for c in variants]
    alone = [run(c, None) for c in variants]
    assert together == alone
    assert any(shared.assets["AAA"].memo.values()), "indicator values were shared"
    assert len({json.dumps(r) for _, r in alone}) > 1, "the variants differ, so the test can tell"


def test_a_shared_memo_gives_each_rule_its_own_values(tmp_path: Path) -> None:
    """decide() on one PriceHistory whose memo is shared by differently configured assets (RSI
    periods 3/5/7, Wilder or not, MA periods) gives each the decision it gets alone, indicators
    included; the memo holds one value per distinct parameter set."""
    from dcactl.strategy import PriceHistory, decide
    from dcactl.strategy.decide import AssetState

    closes = [100 + 10 * ((i * 7) % 5) - i for i in range(40)]
    (asset,) = _config(tmp_path).assets
    configs = [
        replace(asset, rsi=replace(asset.rsi, period=p, wilder=w), ma_dips=replace(asset.ma_dips, periods=m))
        for p, w, m in [(3, True, (3, 5)), (5, True, (3, 5)), (7, True, (4, 6)), (5, False, (3, 5))]
    ]
    shared = PriceHistory.of(closes, 95.0)
    shared = replace(shared, memo={})
    for config in configs:
        alone = decide(config, PriceHistory.of(closes, 95.0), AssetState(), T0)
        together = decide(config, shared, AssetState(), T0)
        assert together.indicators == alone.indicators and together.amount == alone.amount
    assert len({round(v, 9) for k, v in shared.memo.items() if k[0] == "rsi"}) == 4
    assert {k[3] for k in shared.memo if k[0] == "ma"} == {3, 4, 5, 6}


def test_indicators_of_every_tick_at_once_are_the_rules_own(tmp_path: Path) -> None:
    """precompute() (the backtest's RSI and averages for all ticks in one computation) gives for each
    tick exactly the floats the rules compute at that tick alone, bit for bit: Wilder and Cutler RSI,
    SMA and EMA, a missing close (NaN) included; ticks short of the tails it reads are left out."""
    import math

    import numpy as np

    from dcactl.strategy import PriceHistory, decide
    from dcactl.strategy.decide import AssetState, memo_entry, precompute

    rng = np.random.default_rng(11)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.04, 260)))
    closes[170] = np.nan
    (asset,) = _config(tmp_path).assets
    configs = [
        replace(asset, rsi=replace(asset.rsi, period=p, wilder=w),
                ma_dips=replace(asset.ma_dips, kind=k, periods=m, thresholds=tuple(D(2) for _ in m)))
        for p, w, k, m in [(14, True, "SMA", (20, 50)), (5, False, "EMA", (3, 9)), (9, True, "EMA", (30,))]
    ]
    counts = list(range(1, closes.size + 1))
    for config in configs:
        done: dict[Any, Any] = {}
        precompute(config, closes, counts, done)
        assert len(done) == 1 + len(config.ma_dips.periods)
        filled = 0
        for i, d in enumerate(counts):
            alone: dict[Any, Any] = {}
            decide(config, PriceHistory(closes[:d], 101.0, memo=alone), AssetState(), T0)
            for key, series in done.items():
                if key[2] > d:  # a shorter tail than the key's: decide() keys it by its own size
                    assert key not in alone and math.isnan(series[i])
                    continue
                value, expected = memo_entry(key, float(series[i])), alone[key]
                same = value == expected or (
                    value is not None and expected is not None and math.isnan(value) and math.isnan(expected)
                )
                assert same and type(value) is type(expected), (d, key, value, expected)
                filled += 1
        assert filled > 200, "most ticks were precomputed, so the comparison means something"


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_vectorised_replay_decides_every_tick_as_one_by_one(tmp_path_factory: Any, data: Any) -> None:
    """replay() over each asset's ticks at once (the lanes) gives the same trace — due, skip sentence,
    amount, outcome at every tick —, the same figures and the same curve as deciding every tick one by
    one (also untraced, where the figures read the lanes' floats): random RSI and MA-dip rules,
    clamps, schedules (calendar and fixed) in zones with DST, sizes that miss the minimum, short
    histories, and assets that banking keeps on the per-tick path."""
    import random

    rng = random.Random(data.draw(st.integers(0, 10**6), label="seed"))
    zone = data.draw(st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]), label="zone")
    body = [f'[settings]\nnetwork = "devnet"\ntimezone = "{zone}"\n']
    daily: dict[str, Series] = {}
    sz: dict[str, int] = {}
    days = data.draw(st.integers(60, 110), label="days")
    for k in range(data.draw(st.integers(1, 3), label="assets")):
        name = f"A{k}"
        every = rng.choice(["day", "week", "month", "3d", "2w", "36h"])
        amount = rng.choice(["10", "11.5", "25", "100", "333.33"])
        lines = [f"[assets.{name}]", f"amount = {amount}", f'every = "{every}"']
        if rng.random() < 0.3:
            lines += [f"[assets.{name}.sizing]", f"min = {rng.choice(['10', '20'])}",
                      f"max = {rng.choice(['60', '150'])}"]
        if rng.random() < 0.8:
            lines += [f"[assets.{name}.rsi]", f"period = {rng.randint(2, 5)}",
                      f"overbought = {rng.choice(['55', '62.5', '70'])}",
                      f"oversold = {rng.choice(['30', '42.5'])}",
                      f'overbought_action = "{rng.choice(["skip", "trim"])}"',
                      f"oversold_factor = {rng.choice(['1.0', '1.5'])}",
                      f"wilder = {rng.choice(['true', 'false'])}"]
        if rng.random() < 0.8:
            periods = sorted(rng.sample(range(2, 9), rng.randint(1, 3)))
            lines += [f"[assets.{name}.ma_dips]", f'kind = "{rng.choice(["SMA", "EMA"])}"',
                      f"periods = {periods}", f"thresholds = {[rng.choice([0, 1, 2.5, 4]) for _ in periods]}"]
        if rng.random() < 0.2:
            lines += [f"[assets.{name}.banking]"]
        body.append("\n".join(lines) + "\n")
        price, bars = 50.0, []
        for i in range(days):
            close = max(1.0, price * (1 + rng.gauss(0, 0.08)))
            bars.append(Bar(T0 + timedelta(days=i), D(f"{price:.3f}"), D(f"{close:.3f}")))
            price = close
        daily[name] = Series(name, "1d", tuple(bars))
        sz[name] = rng.choice([0, 1, 2, 5])
    path = tmp_path_factory.mktemp("lanes") / "p.toml"
    config = validate_document(parse_config_text("".join(body), path), path)
    start = T0 + timedelta(days=data.draw(st.sampled_from([8, 52]), label="start"))
    end = T0 + timedelta(days=days)

    def run(vectorised: bool) -> tuple[list[Tick], dict[str, Any], Any]:
        trace: list[Tick] = []
        result = replay(Strategy("s", "rules", config), daily, {}, sz, start, end, Costs(), trace=trace,
                        vectorised=vectorised)
        return trace, result.to_json(), result.curve

    lanes, one_by_one = run(True), run(False)
    assert lanes[0] == one_by_one[0]
    assert lanes[1:] == one_by_one[1:]
    untraced = replay(Strategy("s", "rules", config), daily, {}, sz, start, end, Costs())
    assert (untraced.to_json(), untraced.curve) == one_by_one[1:]


def test_lanes_are_taken_and_buy_what_one_by_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain weekly asset with rules and no bank is replayed as a lane (its decisions are asked once
    per situation, not once per tick), and buys on the same ticks as one by one."""
    from dcactl.backtest import lanes

    path = tmp_path / "p.toml"
    text = (
        '[settings]\nnetwork = "devnet"\n[assets.AAA]\namount = 100\nevery = "week"\n'
        "[assets.AAA.rsi]\nperiod = 3\n[assets.AAA.ma_dips]\nperiods = [3, 5]\nthresholds = [2, 5]\n"
    )
    config = validate_document(parse_config_text(text, path), path)
    prices = [100 * (1 + 0.05 * ((i * 7) % 5 - 2)) for i in range(120)]
    prices[60:70] = [120 + 3 * i for i in range(10)]  # ten days up: RSI(3) 100, the rule skips
    series = {"AAA": _series(prices)}
    start, end = T0 + timedelta(days=35), T0 + timedelta(days=120)
    asked: list[int] = []
    original = lanes._decide_at

    def counting(*args: Any) -> Any:
        asked.append(args[2])
        return original(*args)

    with monkeypatch.context() as patch:
        patch.setattr(lanes, "_decide_at", counting)
        fast = replay(Strategy("s", "rules", config), series, {}, {}, start, end, Costs())
    slow = replay(Strategy("s", "rules", config), series, {}, {}, start, end, Costs(), vectorised=False)
    assert 0 < len(asked) <= 12, asked  # a handful of situations, not 85 ticks
    assert fast.to_json() == slow.to_json() and fast.curve == slow.curve
    # 13 weekly periods from a Monday over 85 days; the rally's week skips every one of its 7 ticks
    assert fast.buys == 12 and fast.skips["rules"] >= 7
    # a variant whose decisions come out the same (oversold ×1 without a bank changes no amount) has
    # the same figures under its own name; one that changes them does not
    sweep = Sweep()
    (asset,) = config.assets
    same = replace(config, assets=(replace(asset, rsi=replace(asset.rsi, oversold=D(45))),))
    other = replace(config, assets=(replace(asset, rsi=replace(asset.rsi, overbought=D(90))),))
    first, second, third = (
        replay(Strategy(name, "rules", c), series, {}, {}, start, end, Costs(), shared=sweep)
        for name, c in (("a", config), ("b", same), ("c", other))
    )
    assert second.name == "b" and second.curve.name == "b"
    assert {**second.to_json(), "name": "a"} == first.to_json() == fast.to_json() | {"name": "a"}
    assert second.curve.points == first.curve.points and len(sweep.figures) == 2
    assert third.to_json()["buys"] == 13 and third.to_json() == replay(
        Strategy("c", "rules", other), series, {}, {}, start, end, Costs(), vectorised=False).to_json()



def test_assets_with_the_same_rules_share_their_lane_decisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three assets whose configs differ only in their symbol (one on another venue and pair) over
    different prices: their lanes ask decide_amounts once per situation among them all, not per
    asset, and the trace (amounts, skip sentences naming each asset's own RSI), figures and curve are
    one by one's; a fourth asset with another amount asks its own."""
    from dcactl.backtest import lanes

    rules = "\n[assets.{0}.rsi]\nperiod = 3\n[assets.{0}.ma_dips]\nperiods = [3, 5]\nthresholds = [2, 5]\n"
    text = '[settings]\nnetwork = "devnet"\n' + "".join(
        f"[assets.{name}]\namount = {amount}\nevery = \"week\"\n{extra}" + rules.format(name)
        for name, amount, extra in (("AAA", 100, ""), ("BBB", 100, 'venue = "paper"\n'), ("CCC", 100, ""),
                                    ("DDD", 60, ""))
    )
    path = tmp_path / "p.toml"
    config = validate_document(parse_config_text(text, path), path)
    series = {}
    for k, name in enumerate(("AAA", "BBB", "CCC", "DDD")):
        prices = [100 * (1 + 0.05 * ((i * (7 + k)) % 5 - 2)) for i in range(120)]
        prices[60 + 5 * k:70 + 5 * k] = [120 + 3 * i for i in range(10)]  # a rally: RSI(3) 100, a skip
        series[name] = replace(_series(prices), asset=name)
    start, end = T0 + timedelta(days=35), T0 + timedelta(days=120)
    asked: list[str] = []
    original = lanes._decide_at

    def counting(*args: Any) -> Any:
        asked.append(args[1].config.symbol)
        return original(*args)

    with monkeypatch.context() as patch:
        patch.setattr(lanes, "_decide_at", counting)
        fast = replay(Strategy("s", "rules", config), series, {}, {}, start, end, Costs())
        together = {name: asked.count(name) for name in series}
        alone = {}
        for asset in config.assets:  # each asset in a strategy of its own asks its every situation
            asked.clear()
            alone_config = replace(config, assets=(asset,))
            replay(Strategy("s", "rules", alone_config), series, {}, {}, start, end, Costs())
            alone[asset.symbol] = len(asked)
    same = ("AAA", "BBB", "CCC")
    assert together["AAA"] == alone["AAA"] > 0 and together["DDD"] == alone["DDD"] > 0, (together, alone)
    assert sum(together[n] for n in same) < sum(alone[n] for n in same), (together, alone)
    slow_trace: list[Tick] = []
    fast_trace: list[Tick] = []
    slow = replay(Strategy("s", "rules", config), series, {}, {}, start, end, Costs(), trace=slow_trace,
                  vectorised=False)
    traced = replay(Strategy("s", "rules", config), series, {}, {}, start, end, Costs(), trace=fast_trace)
    assert fast_trace == slow_trace and any(t.skip and "RSI" in t.skip for t in fast_trace)
    assert fast.to_json() == slow.to_json() == traced.to_json() and fast.curve == slow.curve

# ---- parity with plan on the devnet ------------------------------------------------------------------


def test_parity_with_plan_on_the_devnet(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """`plan --json` on the devnet and the backtest's tick at the same instant, reading the same
    cached candles and the same price: the same due, skip and amount for every asset."""
    from dcactl.backtest.prices import from_candles
    from dcactl.ledger import Ledger

    body = """
[assets.BTC]
amount = 100
every = "day"
[assets.BTC.rsi]
period = 14
[assets.BTC.ma_dips]
periods = [20, 50]
thresholds = [2, 5]
[assets.ETH]
amount = 50
every = "week"
[assets.ETH.sizing]
kind = "volatility"
min = 20
max = 80
"""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    plan = cli("--config", str(cfg), "--json", "plan")
    assert plan.code == 0, plan.err
    doc = plan.json()
    as_of = datetime.fromisoformat(doc["as_of"].replace("Z", "+00:00"))
    config = validate_document(parse_config_text(cfg.read_text(), cfg), cfg)
    pairs = {m["asset"]: m["pair"] for m in cli("--config", str(cfg), "--json", "markets").json()["markets"]}
    daily = {}
    cutoff = as_of.timestamp() * 1000 - 86_400_000  # days completed before the plan's instant
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None) as ledger:
        for entry in doc["assets"]:
            symbol = entry["asset"]
            candles = ledger.candles(f"hl:{pairs[symbol]}", "1d")
            assert candles, f"plan cached {symbol}'s daily candles"
            price = D(repr(entry["indicators"]["price"]))
            series = from_candles(
                symbol, "1d", [(c.open_ms, c.open, c.close) for c in candles if c.open_ms <= cutoff]
            )
            daily[symbol] = replace(series, bars=(*series.bars, Bar(as_of, price, price)))
    trace: list[Tick] = []
    replay(
        Strategy("portfolio", "rules", config),
        daily,
        {},
        {},
        as_of,
        as_of + timedelta(seconds=1),
        Costs(),
        trace=trace,
    )
    got = {t.asset: t for t in trace}
    for entry in doc["assets"]:
        t = got[entry["asset"]]
        assert t.due == entry["due"], entry["asset"]
        assert t.skip == entry["skip"], entry["asset"]
        assert t.amount == D(entry["amount_usd"]), (entry["asset"], entry["summary"])
    assert {t.outcome for t in trace} <= {"bought", "rules"}


# ---- parity with `run` over a sequence of ticks ---------------------------------------------------

PARITY = """
[assets.BTC]
amount = 40
every = "day"
[assets.BTC.rsi]
period = 14
overbought = 55
oversold = 45
oversold_factor = 2
[assets.BTC.banking]
[assets.ETH]
amount = 30
every = "2d"
[assets.ETH.sizing]
kind = "volatility"
min = 15
max = 60
low_vol = 20
high_vol = 90
[assets.SOL]
amount = 25
every = "2d"
[assets.SOL.rsi]
period = 5
overbought = 60
[assets.SOL.ma_dips]
periods = [3, 5]
thresholds = [1, 2]
"""


def test_run_over_ticks_decides_as_the_backtest(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight daily ticks: the devnet's clock and the run's process clock (libfaketime) set to each
    day's start, the real `run` on paper; then the backtest over the devnet's own daily candles for the
    same days. Tick by tick both say the same: due or not, the rules' skip, the amount; the sizes
    differ only as their fill prices do (the book's level against the open plus slippage). BTC (a
    bank) and ETH (volatility sizing) are replayed tick by tick, SOL over all its ticks at once."""
    import os
    import subprocess
    import sys

    import httpx

    from dcactl.backtest.prices import from_candles

    require_faketime()
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, PARITY)
    first = datetime(2026, 10, 5, tzinfo=UTC)
    ticks = [first + timedelta(days=i) for i in range(8)]
    # the run's clock comes from this faketime alone, even when the suite itself runs under one
    env = faketime_env(os.environ)
    env["COLUMNS"] = "200"
    runs: dict[tuple[datetime, str], dict[str, Any]] = {}
    try:
        for tick in ticks:
            at = tick + timedelta(seconds=5)
            devnet.admin.set_clock(int(at.timestamp() * 1000))
            proc = subprocess.run(
                ["faketime", f"{at:%Y-%m-%d %H:%M:%S}", sys.executable, "-m", "dcactl", "--config", str(cfg),
                 "--json", "run"], env=env, capture_output=True, text=True, timeout=60, check=False)
            assert proc.returncode == 0, proc.stderr
            doc = json.loads(proc.stdout)
            assert doc["started_at"].startswith(f"{tick:%Y-%m-%d}T00:00:0"), "the run's clock is the tick"
            for r in doc["results"]:
                runs[(tick, r["asset"])] = r
    finally:
        devnet.admin.set_clock(None)
    start_ms = int((first - timedelta(days=80)).timestamp() * 1000)
    end_ms = int((ticks[-1] + timedelta(days=1)).timestamp() * 1000)
    pairs = {"BTC": "@142", "ETH": "@151", "SOL": "@156"}
    daily = {}
    with httpx.Client(timeout=10) as http:
        for asset, coin in pairs.items():
            req = {"coin": coin, "interval": "1d", "startTime": start_ms, "endTime": end_ms}
            raw = http.post(f"{devnet.url}/info", json={"type": "candleSnapshot", "req": req}).json()
            daily[asset] = from_candles(asset, "1d", [(int(c["t"]), D(c["o"]), D(c["c"])) for c in raw
                                                      if int(c["t"]) < end_ms])
    config = validate_document(parse_config_text(cfg.read_text(), cfg), cfg)
    trace: list[Tick] = []
    from dcactl.backtest import engine

    lanes: list[str] = []
    lane = engine._lane
    monkeypatch.setattr(engine, "_lane", lambda *a: lanes.append(a[1].config.symbol) or lane(*a))
    replay(Strategy("portfolio", "rules", config), daily, {}, {"BTC": 5, "ETH": 4, "SOL": 3}, ticks[0],
           ticks[-1] + timedelta(days=1), Costs(), trace=trace)
    assert lanes == ["SOL"]
    seen = set()
    for t in trace:
        r = runs[(t.at, t.asset)]
        seen.add((t.at, t.asset))
        assert t.due == (r["status"] != "not_due"), (t, r)
        if not t.due:
            continue
        if t.skip is not None:
            assert r["status"] == "skipped" and r["reason"] == t.skip, (t, r)
            continue
        assert r["status"] == "paper", (t, r)
        assert D(r["usd_requested"]) == t.amount, (t, r)
    assert seen == set(runs), "every tick of the run was replayed"
    bought = [t for t in trace if t.outcome == "bought"]
    assert {t.asset for t in bought} == {"BTC", "ETH", "SOL"} and len(bought) >= 8
    assert any(t.amount != D(40) for t in bought if t.asset == "BTC") or any(t.skip for t in trace), \
        "the rules changed something in the window"


@settings(max_examples=200, deadline=None)
@given(
    flows=st.lists(st.tuples(st.integers(0, 5 * 365 * 24), st.integers(1_000, 10_000_000)), min_size=1,
                   max_size=40),
    growth=st.floats(0.01, 40.0),
)
def test_xirr_stops_early_on_the_full_bisections_answer(flows: list[tuple[int, int]], growth: float) -> None:
    """xirr_pct, which stops bisecting once both ends of its bracket show the same percent, gives the
    answer of all 100 bisection steps (the reference below, its earlier code)."""
    import math

    import numpy as np

    from dcactl.backtest.figures import xirr_pct
    from dcactl.models import BacktestBuy

    buys = [BacktestBuy(T0 + timedelta(hours=h), "AAA", D(c) / 100, D(1), D(1)) for h, c in sorted(flows)]
    at = buys[-1].time + timedelta(days=1)
    final = (sum((b.usd for b in buys), D(0)) * D(repr(growth))).quantize(D("0.01"))

    def reference() -> D | None:
        cash = np.array([-float(b.usd) for b in buys])
        years = np.array([(at - b.time).total_seconds() / (365 * 86_400) for b in buys])
        value = float(final)

        def npv(rate: float) -> float:
            return value + float(np.dot(cash, np.exp(years * math.log1p(rate))))

        lo, hi = -0.9999, 1.0
        while npv(hi) > 0 and hi < 1e6:
            hi *= 2
        if npv(lo) < 0 or npv(hi) > 0:
            return None
        for _ in range(100):
            mid = (lo + hi) / 2
            if npv(mid) > 0:
                lo = mid
            else:
                hi = mid
        return D(repr((lo + hi) / 2 * 100)).quantize(D("0.01"))

    assert xirr_pct(buys, final, at) == reference()


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.decimals(min_value=D("1e-8"), max_value=D("1e12"), places=8), max_size=30),
    fee=st.one_of(st.decimals(min_value=0, max_value=100, places=2),
                  st.decimals(min_value=0, max_value=100, places=20)),
    prec=st.sampled_from([28, 12]),
)
def test_kept_units_are_the_one_by_one_sum(sizes: list[D], fee: D, prec: int) -> None:
    """_kept (keep × Σ size when provably the same) gives the very Decimal of adding size × keep one
    by one from zero — value and exponent — also when the digits outgrow the precision (then it adds
    one by one)."""
    from decimal import localcontext

    from dcactl.backtest.figures import _kept

    with localcontext() as ctx:
        ctx.prec = prec
        keep = 1 - fee / 10_000
        expected = D(0)
        for s in sizes:
            expected += s * keep
        got = _kept(sizes, keep)
    assert got.as_tuple() == expected.as_tuple()


_PRICE_TEXT = st.sampled_from(["100", "100.0", "1e2", " 100", "99.5", "101", "0", "-1", "abc", "NaN", "1e13",
                               "100.00", "98", "102.25", ""])
_GOOD_PRICE = st.sampled_from(["100", "100.0", "1e2", " 100", "99.5", "101", "100.00", "98", "102.25"])


@st.composite
def _price_files(draw: Any) -> str:
    """A --prices CSV: clean rows (high and low often written as the open or close, else beyond
    them), some with exactly one thing wrong (a bad time, symbol or price, high and low not around
    open and close, a repeated candle, an extra or quoted field, a blank line); or, half the time, a
    header in another order and anything in the rows."""
    clean = draw(st.booleans())
    header = "time,asset,open,high,low,close" if clean else draw(st.sampled_from(
        ["time,asset,open,high,low,close", "Time, Asset ,open,high,low,close",
         "asset,time,open,high,low,close", "time,asset,open,high,low,close,volume"]))
    lines = [header]
    rows = draw(st.integers(0, 12))
    wrong = draw(st.integers(-1, rows - 1)) if clean else -2  # the one row with something wrong
    for n in range(rows):
        time = draw(st.sampled_from([f"2025-03-{n + 1:02d}", f"2025-03-{n + 1:02d}T00:00:00Z",
                                     str(1_740_787_200_000 + n * 86_400_000)]))
        asset = draw(st.sampled_from(["AAA", "bbb", " AAA"]))
        o, c = draw(_GOOD_PRICE), draw(_GOOD_PRICE)
        top, bottom = (o, c) if D(o) >= D(c) else (c, o)
        h = draw(st.sampled_from([top, "103", "1.03e2"]))
        lo = draw(st.sampled_from([bottom, "97", " 97.0"]))
        fields = [time, asset, o, h, lo, c]
        if not clean:
            fields = [fields[0], fields[1], *(draw(_PRICE_TEXT) for _ in range(4))]
            fields[3] = draw(st.sampled_from([fields[2], fields[5], fields[3]]))
        if n == wrong or (wrong == -2 and draw(st.integers(0, 5)) == 0):
            defect = draw(st.sampled_from(["time", "asset", "price", "high", "low", "again", "extra",
                                           "quoted", "zero", "huge"]))
            if defect == "time":
                fields[0] = draw(st.sampled_from(["yesterday", "", "1e20"]))
            elif defect == "asset":
                fields[1] = draw(st.sampled_from(["A-B", "", "TOOLONGSYMBOL1"]))
            elif defect == "price":
                fields[draw(st.integers(2, 5))] = draw(st.sampled_from(["0", "-1", "abc", "NaN", "1e13", ""]))
            elif defect == "zero":  # a low of nothing
                fields[4] = draw(st.sampled_from(["0", "0.0", "-0"]))
            elif defect == "huge":  # a high beyond the largest price
                fields[3] = draw(st.sampled_from(["1e13", "1000000000000.01"]))
            elif defect == "high":
                fields[3] = bottom if D(top) != D(bottom) else "1"
            elif defect == "low":
                fields[4] = top if D(top) != D(bottom) else "1000"
            elif defect == "again" and n:
                earlier = str(1_740_787_200_000 + (n - 1) * 86_400_000)
                fields[0] = draw(st.sampled_from([f"2025-03-{n:02d}", earlier]))
            elif defect == "extra":
                fields.append(draw(st.sampled_from(["7", '"q"', ""])))
            else:
                k = draw(st.integers(0, 5))
                fields[k] = f'"{fields[k]}"'
        if header.startswith("asset"):
            fields[0], fields[1] = fields[1], fields[0]
        lines.append(",".join(fields))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", " ", '"x",AAA', "\x00"] if not clean else [""])))
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None)
@given(text=_price_files())
def test_clean_csv_fast_path_reads_as_the_csv_module(tmp_path_factory: Any, text: str) -> None:
    """load_csv's fast path for a clean file (no csv module, no Decimal for a high or low written as
    the open or close) gives the very series — each Decimal's digits and exponent — or the very
    problems that the general reader gives (the fast path stepped aside)."""
    from unittest import mock

    from dcactl.backtest import prices
    from dcactl.errors import ConfigError

    path = tmp_path_factory.mktemp("csv") / "p.csv"
    path.write_text(text)

    def read() -> str:
        try:
            return repr(prices.load_csv(path))
        except ConfigError as exc:
            return f"error: {exc}"

    fast = read()
    with mock.patch.object(prices, "_clean_rows", return_value=None):
        assert read() == fast


@settings(max_examples=300, deadline=None)
@given(offsets=st.lists(st.one_of(st.integers(0, 10 * 86_400_000_000),
                                  st.integers(0, 240).map(lambda h: h * 3_600_000_000),
                                  st.integers(0, 240).map(lambda h: h * 3_600_000_000 + 999)),
                        min_size=0, max_size=12, unique=True))
def test_a_series_interval_is_its_smallest_gap(offsets: list[int]) -> None:
    """A CSV series is hourly when its smallest gap, in ms, is at most an hour (the smallest timedelta
    converted, as every gap converted then the smallest), microsecond times included."""
    import itertools

    from dcactl.backtest.prices import HOUR_MS, _series

    times = [T0 + timedelta(microseconds=u) for u in offsets]
    bars = {t: Bar(t, D(1), D(1)) for t in times}
    ordered = sorted(times)
    gaps = [int((b - a).total_seconds() * 1000) for a, b in itertools.pairwise(ordered)]
    assert _series("AAA", bars).interval == ("1h" if gaps and min(gaps) <= HOUR_MS else "1d")


@settings(max_examples=300, deadline=None)
@given(codes=st.lists(st.integers(0, 40), max_size=60))
def test_each_situation_is_asked_at_its_first_tick(codes: list[int]) -> None:
    """_firsts gives each distinct situation code, ascending, with the index of its first tick (the
    tick _lane asks decide_amounts at)."""
    import numpy as np

    from dcactl.backtest.lanes import _firsts

    assert _firsts(np.array(codes, dtype=np.int64)) == [(c, codes.index(c)) for c in sorted(set(codes))]


@settings(max_examples=100, deadline=None)
@given(prices=st.lists(st.tuples(st.sampled_from(["1.5", "2", "2.0", "0.1", "3e2"]), st.booleans()),
                       max_size=12), first=st.integers(0, 13), daily=st.booleans())
def test_a_frames_opens_are_their_floats(prices: list[tuple[str, bool]], first: int, daily: bool) -> None:
    """_opens gives each window bar's open as float(open), whether the open is the very Decimal of the
    bar before's close (its float is taken from the closes) or another Decimal."""
    from dcactl.backtest.tracks import _opens

    bars: list[Bar] = []
    for k, (text, shared) in enumerate(prices):
        opened = bars[-1].close if shared and bars else D(text)
        bars.append(Bar(T0 + timedelta(days=k), opened, D(text) * 2))
    closes = np.array([float(b.close) for b in bars]) if daily else None
    first = min(first, len(bars))
    got = _opens(bars, first, len(bars), closes)
    assert got.dtype == np.float64 and got.tolist() == [float(b.open) for b in bars[first:]]


@settings(max_examples=200, deadline=None)
@given(opens=st.lists(st.sampled_from(["0.0001234", "1", "9.99", "27.5", "1234.5678", "65000.1", "3e5"]),
                      min_size=1, max_size=6),
       amount=st.sampled_from(["5", "10", "10.01", "50", "333.33"]), sz=st.sampled_from([0, 2, 5, 8]),
       fee=st.sampled_from(["0", "7", "30"]), slippage=st.sampled_from(["0", "5", "40"]))
@example(opens=["1"], amount="10", sz=0, fee="0", slippage="0")  # exactly the minimum: it fills
def test_a_lane_fill_is_the_contract_fill(
    opens: list[str], amount: str, sz: int, fee: str, slippage: str
) -> None:
    """_lane_fill (the contract's expressions inline) fills as fills._fill does (under the minimum:
    None), with the units and fee _record books, each Decimal's digits and exponent, and its floats."""
    from dcactl.backtest.fills import _fill
    from dcactl.backtest.lanes import _lane_fill
    from dcactl.backtest.results import BPS
    from dcactl.backtest.tracks import Shared, _AssetTrack, _Frame

    path = Path("p.toml")
    config = validate_document(parse_config_text(
        '[settings]\nnetwork = "devnet"\n[assets.AAA]\namount = 10\nevery = "day"\n', path), path)
    bars = [Bar(T0 + timedelta(days=k, microseconds=k), D(o), D(o)) for k, o in enumerate(opens)]
    series = Series("AAA", "1d", tuple(bars))
    costs = Costs(D(fee), D(slippage))
    slip = 1 + costs.slippage_bps / BPS
    frame = _Frame.of(series, series, None, T0, T0 + timedelta(days=10))
    for bar in bars:
        track = _AssetTrack(config.assets[0], frame, sz, Shared())
        fill = _lane_fill(track, bar, D(amount), costs, slip)
        expected = _fill(track, bar.at, bar.open * slip, D(amount), costs)
        if isinstance(expected, str):
            assert fill is None
            continue
        assert fill is not None
        buy, units, fee_usd, at, usd, size = fill
        h = track.holding
        assert buy == expected and (units.as_tuple(), fee_usd.as_tuple()) == (h.units.as_tuple(),
                                                                               h.fees_usd.as_tuple())
        assert (at, usd, size) == (bar.at.timestamp(), float(expected.usd), float(expected.size))


def test_a_ledger_backtest_replays_the_exchanges_candles_with_the_session_closed(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dcactl backtest` without --prices: the devnet's daily candles fetched into the ledger's cache,
    then replayed. The figures are those of replaying the same candles (read straight from the
    devnet) with the pairs' size decimals; and the replay (which may fork a child) runs once the
    session's event loop is over."""
    import asyncio

    import httpx

    from dcactl.backtest import run as backtest_run

    body = ('[assets.BTC]\namount = 40\nevery = "day"\n[assets.BTC.rsi]\n'
            '[assets.ETH]\namount = 25\nevery = "week"\n')
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    clock = datetime(2026, 10, 5, 12, tzinfo=UTC)
    clock_ms = int(clock.timestamp() * 1000)
    devnet.admin.set_clock(clock_ms)
    window = ("--from", "2026-08-03", "--to", "2026-10-01")
    loops: list[object] = []
    fork = backtest_run.beside

    def beside(*args: Any, **kwargs: Any) -> Any:
        loops.append(asyncio._get_running_loop())
        return fork(*args, **kwargs)

    monkeypatch.setattr(backtest_run, "beside", beside)
    try:
        fetched = cli("--config", str(cfg), "--json", "backtest", *window, "--set", "rsi.oversold=25,35")
        rows = ["time,asset,open,high,low,close"]
        start_ms = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
        with httpx.Client(timeout=10) as http:
            for asset, coin in (("BTC", "@142"), ("ETH", "@151")):
                req = {"coin": coin, "interval": "1d", "startTime": start_ms, "endTime": clock_ms}
                for c in http.post(f"{devnet.url}/info", json={"type": "candleSnapshot", "req": req}).json():
                    if int(c["t"]) + 86_400_000 <= clock_ms:  # completed days only
                        day = datetime.fromtimestamp(int(c["t"]) / 1000, UTC)
                        rows.append(f"{day:%Y-%m-%d},{asset},{c['o']},{c['h']},{c['l']},{c['c']}")
    finally:
        devnet.admin.set_clock(None)
    assert fetched.code == 0, fetched.err
    assert loops == [None], "the replay runs with no event loop (the session is closed)"
    prices = tmp_path / "prices.csv"
    prices.write_text("\n".join(rows) + "\n")
    request = backtest_run.BacktestRequest(
        start=datetime(2026, 8, 3, tzinfo=UTC), end=datetime(2026, 10, 1, tzinfo=UTC),
        sets=("rsi.oversold=25,35",), curves=False, beside=False,
    )
    config = validate_document(parse_config_text(cfg.read_text(), cfg), cfg)
    base, runs = backtest_run._strategies(config, request)
    want = backtest_run.Prepared(request, base, runs, load_csv(prices), {}, {"BTC": 5, "ETH": 4}).replay()
    got = json.loads(fetched.out)["strategies"]
    names = ["portfolio", "rsi.oversold=25", "rsi.oversold=35", "plain", "lump-sum"]
    assert [s["name"] for s in got] == names
    assert got == [r.to_json() for r in want.results]
    assert all(D(s["invested_usd"]) > 0 for s in got), "every strategy bought"
