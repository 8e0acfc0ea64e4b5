"""A CoinGecko double under /coingecko/api/v3: simple/price and coins/{id}/market_chart.

Prices come from the same kind of seeded walk as the exchange's (one series per CoinGecko id),
answered as JSON numbers in USD, timestamps in ms (last_updated_at in s), like the real API.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dcactl.devnet.coingecko_assets import CG_ASSETS
from dcactl.devnet.world import World

__all__ = ["market_chart", "simple_price"]

_SUPPLY = 1.0e9


def _r(x: float) -> float:
    """Round to 10 significant figures (CoinGecko sends long floats; keep them stable)."""
    if x <= 0 or not math.isfinite(x):
        return 0.0
    return round(x, 9 - math.floor(math.log10(x)))


def _truthy(v: str | None) -> bool:
    return (v or "").lower() == "true"


def simple_price(world: World, query: dict[str, str]) -> tuple[int, Any]:
    """GET simple/price: {id: {"usd": price, ...}}; unknown ids are left out; (status, body)."""
    ids = [i.strip() for i in query.get("ids", "").split(",") if i.strip()]
    vs = [v.strip().lower() for v in query.get("vs_currencies", "").split(",") if v.strip()]
    if not vs:
        return 400, {"error": "Missing parameter vs_currencies"}
    now = world.now_ms()
    minute = now // 60_000
    out: dict[str, Any] = {}
    for cg_id in ids:
        series = world.cg_series.get(cg_id)
        if series is None:
            continue
        px = series.price_at(minute)
        row: dict[str, Any] = {}
        if "usd" in vs:
            row["usd"] = _r(px)
            if _truthy(query.get("include_market_cap")):
                row["usd_market_cap"] = _r(px * _SUPPLY)
            if _truthy(query.get("include_24hr_vol")):
                row["usd_24h_vol"] = _r(px * _SUPPLY * 0.02)
            if _truthy(query.get("include_24hr_change")):
                prev = series.price_at(minute - 1_440)
                row["usd_24h_change"] = _r(abs((px / prev - 1) * 100)) * (1 if px >= prev else -1)
        if _truthy(query.get("include_last_updated_at")):
            row["last_updated_at"] = (now // 1000) - (now // 1000) % 30
        out[cg_id] = row
    return 200, out


def market_chart(world: World, cg_id: str, query: dict[str, str]) -> tuple[int, Any]:
    """GET coins/{id}/market_chart: prices, market_caps, total_volumes as [[ms, float], ...].

    days=1 → 5-minute points, 2..90 → hourly, more or interval=daily → daily at 00:00 UTC; the
    last point is "now". Unknown id → 404 {"error": "coin not found"}.
    """
    series = world.cg_series.get(cg_id)
    if series is None or cg_id not in CG_ASSETS:
        return 404, {"error": "coin not found"}
    if query.get("vs_currency", "").lower() != "usd":
        return 400, {"error": "invalid vs_currency"}
    raw = query.get("days", "")
    try:
        days = 5_000 if raw == "max" else int(float(raw))
    except ValueError:
        return 400, {"error": "invalid days"}
    days = max(1, min(days, 5_000))
    now = world.now_ms()
    now_min = now // 60_000
    start_min = now_min - days * 1_440
    if query.get("interval") == "daily" or days > 90:
        first = -(-start_min // 1_440) * 1_440
        h0, h1 = first // 60, now_min // 60
        opens = series.hours(h0, h1, now_min)[0] if h1 > h0 else np.empty(0)
        mins = np.arange(first, now_min, 1_440)
        # today's 00:00 point falls in the still-open hour between 00:00 and 01:00: no hourly open
        # exists for it yet, so it takes the price of its minute
        idx = (mins - first) // 60
        pxs = np.array(
            [opens[i] if i < len(opens) else series.price_at(int(m)) for i, m in zip(idx, mins, strict=True)]
        )
    elif days == 1:
        first = -(-start_min // 5) * 5
        o = series.minutes(first, now_min)[0]
        mins = np.arange(first, now_min, 5)
        pxs = o[mins - first]
    else:
        first = -(-start_min // 60) * 60
        h0, h1 = first // 60, now_min // 60
        pxs = series.hours(h0, h1, now_min)[0] if h1 > h0 else np.empty(0)
        mins = np.arange(first, h1 * 60, 60)
    points = [(int(m) * 60_000, float(p)) for m, p in zip(mins, pxs, strict=False)]
    points.append((now, series.price_at(now_min)))
    return 200, {
        "prices": [[t, _r(p)] for t, p in points],
        "market_caps": [[t, _r(p * _SUPPLY)] for t, p in points],
        "total_volumes": [[t, _r(p * _SUPPLY * 0.02)] for t, p in points],
    }
