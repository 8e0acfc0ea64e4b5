"""Prices, candles, the book and the universe: determinism, agreement across intervals, depth."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from dcactl.devnet.candles import candle_snapshot
from dcactl.devnet.control import DevnetThread
from dcactl.devnet.prices import Series
from dcactl.devnet.universe import default_universe, load_universe

DAY = 86_400_000


def _candles(http: httpx.Client, coin: str, interval: str, start: int, end: int) -> list[dict]:
    r = http.post(
        "/info",
        json={
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start, "endTime": end},
        },
    )
    r.raise_for_status()
    return r.json()


def test_walk_is_pure_function_of_seed_pair_minute() -> None:
    """Same (seed, pair, minute) → same price; another seed or pair → a different one."""
    a, b = Series(3, 142, 100_000, 0.5, 1e-5), Series(3, 142, 100_000, 0.5, 1e-5)
    m = 29_000_000
    assert a.price_at(m) == b.price_at(m)
    assert Series(4, 142, 100_000, 0.5, 1e-5).price_at(m) != a.price_at(m)
    assert Series(3, 151, 100_000, 0.5, 1e-5).price_at(m) != a.price_at(m)
    assert a.minutes(m - 5, m)[0][-1] == a.minutes(m - 1, m)[0][0]  # any window, same values


def test_candles_agree_across_intervals(dn: DevnetThread, http: httpx.Client) -> None:
    """1d = aggregate of its 1h = aggregate of its 5m candles (o, h, l, c, v, n), for a past day."""
    dn.admin.set_clock(1_790_000_000_000)  # a fixed instant: the test cannot straddle a minute
    day0 = 1_790_000_000_000 // DAY * DAY - 3 * DAY
    d = _candles(http, "@151", "1d", day0, day0)
    h = _candles(http, "@151", "1h", day0, day0 + DAY - 1)
    m = _candles(http, "@151", "5m", day0, day0 + DAY - 1)
    assert len(d) == 1 and len(h) == 24 and len(m) == 288
    for parts in (h, m):
        assert parts[0]["o"] == d[0]["o"] and parts[-1]["c"] == d[0]["c"]
        assert max(Decimal(p["h"]) for p in parts) == Decimal(d[0]["h"])
        assert min(Decimal(p["l"]) for p in parts) == Decimal(d[0]["l"])
        assert sum(Decimal(p["v"]) for p in parts) == Decimal(d[0]["v"])
        assert sum(p["n"] for p in parts) == d[0]["n"]
    w = _candles(http, "@151", "1w", day0 - 14 * DAY, day0)
    assert all(c["t"] % (7 * DAY) == 4 * DAY for c in w)  # weeks open on Monday 00:00 UTC
    mo = _candles(http, "@151", "1M", day0 - 40 * DAY, day0)
    assert time.gmtime(mo[-1]["t"] / 1000).tm_mday == 1


def test_candle_cap() -> None:
    """At most 5000 candles per request, the newest ones, and the same answer again from the cache
    (their speed is measured in bench/bench_devnet.py, not here)."""
    s = Series(0, 142, 100_000, 0.5, 1e-5)
    now = 1_795_000_000_000
    out = candle_snapshot(s, "@142", "1d", 0, now, now, 5)
    assert len(out) == 5_000 and out[-1]["t"] <= now <= out[-1]["T"]
    assert candle_snapshot(s, "@142", "1d", 0, now, now, 5) == out
    assert len(candle_snapshot(s, "@142", "1m", 0, now, now, 5)) == 5_000


def test_partial_fill_then_worse_price(dn: DevnetThread, info: Info, exchange: Exchange) -> None:
    """An IOC for more than the best ask fills that level only; the next one pays the next level."""
    dn.admin.fund(exchange.wallet.address, usdc="100000")
    dn.admin.set_clock(dn.admin.time())  # no refill between the two orders
    dn.admin.set_price("UETH", "3000", pin=True)
    asks = info.l2_snapshot("@151")["levels"][1]
    # mid 3000, UETH depth $40 000: ask 0 = 3000 × 1.0003 = 3000.9, size floor(40000/3000, 4) = 13.3333
    assert asks[0] == {"px": "3000.9", "sz": "13.3333", "n": 1}
    assert asks[1] == {"px": "3002.4", "sz": "20.0", "n": 2}  # 3000 × 1.0008; 1.5 × 40000/3000
    res = exchange.order("@151", True, 20.0, 3000.9, {"limit": {"tif": "Ioc"}})
    assert res["response"]["data"]["statuses"][0]["filled"]["totalSz"] == "13.3333"
    res2 = exchange.order("@151", True, 1.0, 3002.4, {"limit": {"tif": "Ioc"}})
    assert res2["response"]["data"]["statuses"][0]["filled"] == {
        "totalSz": "1.0",
        "avgPx": "3002.4",
        "oid": res["response"]["data"]["statuses"][0]["filled"]["oid"] + 1,
    }
    res3 = exchange.order("@151", True, 1.0, 3000.9, {"limit": {"tif": "Ioc"}})
    assert res3["response"]["data"]["statuses"] == [
        {"error": "Order could not immediately match against any resting orders. asset=10151"}
    ]


def test_levels_refill_over_time(dn: DevnetThread, info: Info, exchange: Exchange) -> None:
    """A consumed level comes back at 10 % of its size per second of the exchange clock."""
    dn.admin.fund(exchange.wallet.address, usdc="100000")
    now = dn.admin.time()
    dn.admin.set_clock(now)
    dn.admin.set_price("UETH", "3000", pin=True)
    exchange.order("@151", True, 13.3333, 3000.9, {"limit": {"tif": "Ioc"}})
    assert info.l2_snapshot("@151")["levels"][1][0]["px"] == "3002.4"
    dn.admin.set_clock(now + 5_000)  # half refilled: 13.3333 - 0.5 × 13.3333 = 6.66665 → 6.6666
    assert info.l2_snapshot("@151")["levels"][1][0] == {"px": "3000.9", "sz": "6.6666", "n": 1}
    dn.admin.set_clock(now + 10_000)
    assert info.l2_snapshot("@151")["levels"][1][0]["sz"] == "13.3333"


def test_set_and_shock_move_mid(dn: DevnetThread, info: Info) -> None:
    """set_price moves the mid to px; a shock of -10 % multiplies it by 0.9 and persists."""
    dn.admin.set_clock(dn.admin.time())
    assert dn.admin.set_price("UBTC", "100000") == Decimal(100_000)
    assert info.all_mids()["@142"] == "100000.0"
    assert dn.admin.shock("BTC", -10) == Decimal(90_000)  # BTC finds UBTC
    assert info.all_mids()["@142"] == "90000.0"


def test_replay_csv_reproduces_candles(dn: DevnetThread, http: httpx.Client) -> None:
    """Replayed daily candles come back as the same daily candles, ending now (anchor "end")."""
    now = dn.admin.set_clock(1_790_000_000_000 // DAY * DAY + 3_600_000)
    rows = [(0, 100, 110, 95, 105, 50), (DAY, 105, 106, 80, 82, 70), (2 * DAY, 82, 90, 81, 88, 40)]
    csv = "t,o,h,l,c,v\n" + "\n".join(",".join(str(x) for x in r) for r in rows)
    dn.admin.replay("HYPE", csv)
    got = _candles(http, "@107", "1d", now - 4 * DAY, now - DAY)
    # the last CSV candle ends at the current minute, so candles are shifted by an hour: use 1h sums
    hours = _candles(http, "@107", "1h", now - 3 * DAY, now - 1)
    assert len(hours) == 72
    for i, (_t, o, h, low, c, v) in enumerate(rows):
        part = hours[24 * i : 24 * i + 24]
        assert Decimal(part[0]["o"]) == o and Decimal(part[-1]["c"]) == c
        assert max(Decimal(p["h"]) for p in part) == h and min(Decimal(p["l"]) for p in part) == low
        assert sum(Decimal(p["v"]) for p in part) == v
    assert got  # daily candles exist over the replay
    assert Decimal(dn.admin.replay("HYPE", None)) > 0


def test_universe_file_overrides(tmp_path: Path) -> None:
    """A universe file replaces the default; malformed files are a clear ValueError."""
    f = tmp_path / "u.json"
    f.write_text(
        '{"tokens": [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8},'
        ' {"name": "ABC", "szDecimals": 1, "weiDecimals": 6}],'
        ' "pairs": [{"index": 3, "base": "ABC", "price": 2.5}]}'
    )
    u = load_universe(f)
    assert u.spot_meta()["universe"] == [{"tokens": [1, 0], "name": "@3", "index": 3, "isCanonical": False}]
    f.write_text('{"tokens": []}')
    with pytest.raises(ValueError, match=r"bad universe file|token 0"):
        load_universe(f)
    assert len([p for p in default_universe().pairs if p.quote == 0]) >= 20
