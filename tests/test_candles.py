"""The candle cache's plan (what to fetch), the warm-up admission (what fits this run's budget), and
CoinGecko points filed into candles: hand-computed from the cache's state and the fact sheet's weights."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dcactl.ledger import Candle, Ledger
from dcactl.market.candles import (
    COVERAGE_KEY,
    DAY_MS,
    HOUR_MS,
    Refresh,
    admit,
    cached_closes,
    cg_candles,
    coverage,
    fetch,
    plan_refresh,
    room,
)
from dcactl.models import Market, to_ms

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = to_ms(NOW) - to_ms(NOW) % DAY_MS
HOUR = to_ms(NOW) - to_ms(NOW) % HOUR_MS
BTC = Market("BTC", "hyperliquid", coin="@142", asset_id=10142, base_token="UBTC", sz_decimals=5)
AVAX = Market("AVAX", "paper", coingecko_id="avalanche-2")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "l.db", network="devnet", account=None) as led:
        yield led


def store(ledger: Ledger, source: str, interval: str, opens: range, *, covered: int | None = None) -> None:
    step = HOUR_MS if interval == "1h" else DAY_MS
    rows = [Candle(o, o + step - 1, *(Decimal(100 + i),) * 4, Decimal(0)) for i, o in enumerate(opens)]
    ledger.upsert_candles(source, interval, rows)
    if covered is not None:
        ledger.cache_put(COVERAGE_KEY.format(source=source, interval=interval), str(covered), NOW)


def test_empty_cache_fetches_the_whole_window_at_its_weight(ledger: Ledger) -> None:
    """Nothing cached: fetch from the first wanted candle; 201 candles weigh 20 + 201 // 60 = 23."""
    r = plan_refresh(ledger, BTC, "1d", 200, NOW)
    want = TODAY - 200 * DAY_MS
    assert (r.start_ms, r.want_from_ms, r.current_ms, r.last_ms) == (want, want, TODAY, None)
    assert r.needed and r.cost == 23
    assert plan_refresh(ledger, BTC, "1d", 600, NOW).cost == 30  # 601 candles: 20 + 10
    hourly = plan_refresh(ledger, BTC, "1h", 140, NOW)
    assert (hourly.start_ms, hourly.current_ms, hourly.cost) == (HOUR - 140 * HOUR_MS, HOUR, 22)


def test_warm_cache_fetches_from_its_last_candle_or_not_at_all(ledger: Ledger) -> None:
    """Cached up to yesterday: re-read from yesterday (weight 20); today's candle cached: nothing."""
    want = TODAY - 200 * DAY_MS
    store(ledger, "hl:@142", "1d", range(want, TODAY, DAY_MS), covered=want)
    r = plan_refresh(ledger, BTC, "1d", 200, NOW)
    assert (r.start_ms, r.last_ms, r.cost) == (TODAY - DAY_MS, TODAY - DAY_MS, 20)
    store(ledger, "hl:@142", "1d", range(TODAY, TODAY + 1, DAY_MS))
    r = plan_refresh(ledger, BTC, "1d", 200, NOW)
    assert (r.needed, r.start_ms, r.cost) == (False, None, 0)
    closes = cached_closes(ledger, r)
    assert len(closes) == 200 and closes[0] == Decimal(100) and closes[-1] == Decimal(299)  # today left out


def test_a_rule_that_wants_more_history_backfills_once(ledger: Ledger) -> None:
    """A 50-day cache and a 200-day rule: fetch from 200 days back, although yesterday is cached."""
    store(ledger, "hl:@142", "1d", range(TODAY - 50 * DAY_MS, TODAY + 1, DAY_MS), covered=TODAY - 50 * DAY_MS)
    r = plan_refresh(ledger, BTC, "1d", 200, NOW)
    assert r.start_ms == TODAY - 200 * DAY_MS and r.cost == 23


def test_a_pair_listed_later_is_not_asked_again_for_days_it_never_had(ledger: Ledger) -> None:
    """Asked from 200 days back, the source had 30 days: the cache is current, nothing is fetched."""
    listed = range(TODAY - 30 * DAY_MS, TODAY + 1, DAY_MS)
    store(ledger, "hl:@142", "1d", listed, covered=TODAY - 200 * DAY_MS)
    r = plan_refresh(ledger, BTC, "1d", 200, NOW)
    assert not r.needed
    assert len(cached_closes(ledger, r)) == 30


def test_a_ledger_without_coverage_counts_from_its_first_candle(ledger: Ledger) -> None:
    """Candles cached before coverage was recorded: coverage is the first candle, so 5 days missing
    at the start mean a backfill."""
    store(ledger, "hl:@142", "1d", range(TODAY - 195 * DAY_MS, TODAY + 1, DAY_MS))
    assert coverage(ledger, "hl:@142", "1d") == TODAY - 195 * DAY_MS
    assert plan_refresh(ledger, BTC, "1d", 200, NOW).start_ms == TODAY - 200 * DAY_MS


def test_coingecko_series_want_no_more_than_coingecko_gives(ledger: Ledger) -> None:
    """600 days wanted of CoinGecko (365 days reach): from 362 days back, so the request asks for
    (362 d 9.5 h) // 1 d + 2 = 364 days; 100 days wanted stay 100. One call each."""
    r = plan_refresh(ledger, AVAX, "1d", 600, NOW)
    assert (r.start_ms, r.cost) == (TODAY - 362 * DAY_MS, 1)
    assert plan_refresh(ledger, AVAX, "1d", 100, NOW).start_ms == TODAY - 100 * DAY_MS
    hourly = plan_refresh(ledger, AVAX, "1h", 2000, NOW)  # 83.3 days: inside the 90-day hourly reach
    assert hourly.start_ms == HOUR - 2000 * HOUR_MS


def refresh(market: Market, cost_candles: int, last: int | None) -> Refresh:
    """A needed refresh of ``cost_candles`` candles (daily) whose newest cached candle is ``last``."""
    return Refresh(market, "1d", cost_candles, TODAY - cost_candles * DAY_MS, TODAY, to_ms(NOW),
                   TODAY - (cost_candles - 1) * DAY_MS, last)


def test_admit_spends_the_room_stalest_first_and_defers_the_rest() -> None:
    """Room 100: three cold 600-day series (30 each) fit, a fourth and a warm one (20) do not; the warm
    one comes after every cold one. CoinGecko has a pool of its own."""
    coins = [Market(f"C{i}", "hyperliquid", coin=f"@{i}", asset_id=10_000 + i) for i in range(5)]
    warm = refresh(coins[0], 1, TODAY - DAY_MS)
    colds = [refresh(m, 600, None) for m in coins[1:]]
    cg = [refresh(Market(f"G{i}", "paper", coingecko_id=f"g{i}"), 600, None) for i in range(3)]
    assert [r.cost for r in (warm, *colds, cg[0])] == [20, 30, 30, 30, 30, 1]
    admitted, deferred = admit([warm, *colds, *cg], {True: 100, False: 2})
    assert admitted == [*colds[:3], *cg[:2]]
    assert deferred == [colds[3], cg[2], warm]


def test_admit_never_overspends_a_busy_minute() -> None:
    """Room 25 (the window nearly full): a 20-weight refresh fits, a 30-weight one does not, even if
    it is the stalest; no room at all defers everything, and nothing needed admits nothing."""
    a, b = refresh(BTC, 600, None), refresh(BTC, 1, TODAY - 3 * DAY_MS)
    assert admit([b, a], {True: 25, False: 0}) == ([b], [a])
    assert admit([b, a], {True: 0, False: 0}) == ([], [a, b])
    current = Refresh(BTC, "1d", 200, TODAY - 200 * DAY_MS, TODAY, to_ms(NOW), None, TODAY)
    assert admit([current], {True: 0, False: 0}) == ([], [])


def test_coingecko_points_close_the_interval_before_their_instant() -> None:
    """Hourly: the 13:00:00 point closes 12-13, the later of 13:59 and 14:00:00 closes 13-14, "now"
    (14:20) the open hour. Daily: the 00:00 point closes the day before."""
    h13 = TODAY + 13 * HOUR_MS
    points = [(h13, 1.0), (h13 + 59 * 60_000, 2.0), (h13 + HOUR_MS, 3.0), (h13 + HOUR_MS + 20 * 60_000, 4.0)]
    got = [(c.open_ms, c.close) for c in cg_candles(points, HOUR_MS)]
    assert got == [(h13 - HOUR_MS, Decimal(1)), (h13, Decimal(3)), (h13 + HOUR_MS, Decimal(4))]
    daily = cg_candles([(TODAY - DAY_MS, 7.5), (TODAY, 8.25)], DAY_MS)
    assert [(c.open_ms, c.close, c.close_ms) for c in daily] == [
        (TODAY - 2 * DAY_MS, Decimal("7.5"), TODAY - DAY_MS - 1), (TODAY - DAY_MS, Decimal("8.25"), TODAY - 1)
    ]


def test_room_is_80_percent_of_the_window_less_what_it_holds() -> None:
    """1000/min with 150 used: 800 − 150 = 650; 900 used: nothing; unpaced clients: no limit."""
    from dcactl.http import WeightBudget

    budget = WeightBudget(1000, clock=lambda: 100.0)
    budget.charge(150)
    assert room(budget) == 650
    budget.charge(750)
    assert room(budget) == 0
    assert room(None) == room(WeightBudget(None)) == float("inf")


def test_fetch_records_how_far_back_the_cache_is_complete(ledger: Ledger, devnet: Any) -> None:
    """Against the devnet: after a long pause (a gap before the window) the cover restarts at the
    window; a backfill extends it to the new first wanted day; a current cache asks nothing."""
    import asyncio

    from dcactl.venues.hyperliquid import HyperliquidClient

    devnet.admin.set_clock(to_ms(NOW))

    async def refresh(count: int) -> None:
        async with HyperliquidClient(devnet.url, False, 10) as hl:
            r = plan_refresh(ledger, BTC, "1d", count, NOW)
            if r.needed:
                await fetch(hl, None, ledger, r)

    try:
        store(ledger, "hl:@142", "1d", range(TODAY - 50 * DAY_MS, TODAY - 40 * DAY_MS, DAY_MS),
              covered=TODAY - 50 * DAY_MS)
        asyncio.run(refresh(30))  # the cache ends 40 days back: a gap before the 30-day window
        assert coverage(ledger, "hl:@142", "1d") == TODAY - 30 * DAY_MS
        asyncio.run(refresh(60))  # a backfill to 60 days back reaches the old cover of 50
        assert coverage(ledger, "hl:@142", "1d") == TODAY - 60 * DAY_MS
        assert len(cached_closes(ledger, plan_refresh(ledger, BTC, "1d", 60, NOW))) == 60
        devnet.admin.clear_requests()
        asyncio.run(refresh(60))  # current: nothing asked
        assert devnet.admin.requests(type="candleSnapshot") == []
    finally:
        devnet.admin.set_clock(None)
    assert len(ledger.candles("hl:@142", "1d")) == 61  # the 60 days and today's open candle
