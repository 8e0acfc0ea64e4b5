"""Strategy benchmark: smart-DCA decisions for 20 assets × 5,000 daily candles with every rule on.

    .venv/bin/python bench/bench_strategy.py [--assets 20] [--candles 5000] [--repeat 25]

Targets (issue 6): decisions from in-memory arrays ≤ 20 ms; including loading the candles from the
ledger ≤ 150 ms. Every asset has volatility sizing, RSI, MA dips (SMA 20/50/200), dynamic frequency
and banking on; a second row uses EMA dips (which read 3 × 200 closes). The ledger rows use a
temporary SQLite ledger filled with ``Ledger.upsert_candles`` and read back with ``Ledger.candles``
(``since_ms`` set to the first of the ``history_days()`` candles decide() reads, as the executor
would; a third row loads all 5,000 per asset). Times are wall-clock (``time.perf_counter``), the
median of ``--repeat`` runs after one warm-up, measured in this one run; the ratio is time / target
(≤ 1.0 meets it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcactl.config.schema import AssetConfig, BankingRule, DynamicFrequencyRule, MaDipsRule, RsiRule, Sizing
from dcactl.ledger import Candle, Ledger
from dcactl.schedule.periods import parse_every
from dcactl.strategy import AssetState, Decision, PriceHistory, decide, history_days

DAY_MS = 86_400_000
NOW = datetime(2026, 1, 6, 12, tzinfo=UTC)


def make_assets(n: int, kind: Literal["SMA", "EMA"] = "SMA") -> list[AssetConfig]:
    """``n`` assets with every rule on."""
    return [
        AssetConfig(
            symbol=f"A{i:02d}", amount=Decimal(100), every="week", schedule=parse_every("week"),
            sizing=Sizing(kind="volatility", min=Decimal(50), max=Decimal(200)),
            rsi=RsiRule(), ma_dips=MaDipsRule(kind=kind), dynamic_frequency=DynamicFrequencyRule(),
            banking=BankingRule(),
        )
        for i in range(n)
    ]


def make_closes(n_assets: int, n_candles: int) -> list[np.ndarray]:
    """Reproducible random walks with 1–5 % daily volatility."""
    rng = np.random.default_rng(6)
    return [
        100.0 * np.cumprod(1 + rng.normal(0, 0.01 + 0.01 * (i % 5), n_candles)) for i in range(n_assets)
    ]


def timed(label: str, target_s: float | None, fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: imports, numpy dispatch caches, SQLite page cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    elapsed = statistics.median(times)
    ratio = f"{elapsed / target_s:6.3f} of target {target_s * 1000:g} ms" if target_s else ""
    print(f"{label:<62} {elapsed * 1000:8.2f} ms   {ratio}")
    return elapsed


def decide_all(assets: list[AssetConfig], histories: list[PriceHistory]) -> list[Decision]:
    state = AssetState(bank_usd=Decimal(150))
    return [decide(a, h, state, NOW) for a, h in zip(assets, histories, strict=True)]


def fill_ledger(ledger: Ledger, assets: list[AssetConfig], closes: list[np.ndarray]) -> None:
    start = int(NOW.timestamp() * 1000) // DAY_MS * DAY_MS - len(closes[0]) * DAY_MS
    for a, series in zip(assets, closes, strict=True):
        candles = []
        for j, c in enumerate(series):
            px = Decimal(f"{c:.5g}")
            t = start + j * DAY_MS
            candles.append(Candle(t, t + DAY_MS - 1, px, px, px, px, Decimal("12.5")))
        ledger.upsert_candles(f"hl:{a.symbol}", "1d", candles)


def load_and_decide(ledger: Ledger, assets: list[AssetConfig], *, full: bool) -> list[Decision]:
    out = []
    state = AssetState(bank_usd=Decimal(150))
    for a in assets:
        source = f"hl:{a.symbol}"
        since = None
        if not full:
            last = ledger.last_candle_ms(source, "1d")
            since = None if last is None else last - (history_days(a) - 1) * DAY_MS
        candles = ledger.candles(source, "1d", since_ms=since)
        history = PriceHistory.of([c.close for c in candles])
        out.append(decide(a, history, state, NOW))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--candles", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    n, m = args.assets, args.candles
    closes = make_closes(n, m)
    histories = [PriceHistory.of(c, float(c[-1]) * 0.97) for c in closes]
    sma_assets, ema_assets = make_assets(n), make_assets(n, "EMA")
    print(f"{n} assets × {m} daily candles, every rule on "
          f"(history_days: SMA {history_days(sma_assets[0])}, EMA {history_days(ema_assets[0])})")
    timed(f"decide() × {n}, in-memory arrays, SMA dips", 0.020, lambda: decide_all(sma_assets, histories),
          args.repeat)
    timed(f"decide() × {n}, in-memory arrays, EMA dips", 0.020, lambda: decide_all(ema_assets, histories),
          args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(Path(tmp) / "bench.db", network="devnet", account=None)
        try:
            t0 = time.perf_counter()
            fill_ledger(ledger, sma_assets, closes)
            print(f"{'(setup) upsert_candles ' + str(n * m) + ' candles':<62} "
                  f"{(time.perf_counter() - t0) * 1000:8.2f} ms")
            timed(f"load history_days() candles from the ledger + decide() × {n}", 0.150,
                  lambda: load_and_decide(ledger, sma_assets, full=False), args.repeat)
            ema_ledger_assets = [replace(a, ma_dips=MaDipsRule(kind="EMA")) for a in sma_assets]
            timed(f"same with EMA dips ({history_days(ema_ledger_assets[0])} candles per asset)", 0.150,
                  lambda: load_and_decide(ledger, ema_ledger_assets, full=False), args.repeat)
            timed(f"load all {m} candles per asset + decide() × {n}", 0.150,
                  lambda: load_and_decide(ledger, sma_assets, full=True), max(3, args.repeat // 5))
        finally:
            ledger.close()


if __name__ == "__main__":
    main()
