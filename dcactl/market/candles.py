"""The candle cache: daily and hourly closes for the strategy rules, kept in the ledger.

A run asks for the last ``count`` *completed* candles of an interval (``1d``: UTC days, ``1h``:
hours). :func:`plan_refresh` compares that with the cache and says what (if anything) must be
fetched: nothing when the newest completed candle is cached, else one request from the last cached
candle on (it is re-read since it may have been incomplete), or from the first wanted candle when the
cache does not reach back far enough (first use, or a rule that now wants more history).

How far back the source was already asked is remembered per series (:func:`coverage`), so a pair
listed after the first wanted day is not asked again every run for candles that do not exist.

**Warm-up.** Filling an empty cache costs more than keeping it current: a cold daily series of 600
days weighs 30 of the exchange's 1200 per minute, a CoinGecko series one of ~30 calls a minute.
:func:`admit` spends at most :data:`RUN_SHARE` of each client's budget per run, stalest series first;
the rest is deferred to the next run (their rules read what is cached, and say so), so the first runs
of a large portfolio never wait for the budget, never earn a 429 and never time out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dcactl.ledger import Candle
from dcactl.models import Market, to_ms

__all__ = [
    "INTERVAL_MS",
    "RUN_SHARE",
    "Refresh",
    "admit",
    "cached_closes",
    "candle_source",
    "coverage",
    "fetch",
    "plan_refresh",
    "room",
]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
INTERVAL_MS: Mapping[str, int] = {"1h": HOUR_MS, "1d": DAY_MS}
"""The cached intervals and their lengths (ms)."""

CG_MAX_DAYS: Mapping[str, int] = {"1d": 365, "1h": 90}
"""How many days back CoinGecko's market_chart reaches: keyless and demo access 365 days of daily
points; hourly points come for requests of 2 to 90 days."""

HL_BASE_WEIGHT = 20
HL_ITEMS_PER_WEIGHT = 60
"""candleSnapshot weighs 20, plus 1 per 60 candles returned (fact sheet §4)."""

RUN_SHARE = 0.8
"""The share of each client's per-minute budget that one run's candle refreshes may use: 800 of the
1000/min dcactl paces Hyperliquid to (a window its processes share; the other 200 of the exchange's
1200 are for what dcactl cannot see). The remaining 200 are the run's own reads and orders (25
assets: about 110)."""

COVERAGE_KEY = "candles-from:{source}:{interval}"
"""Ledger cache key (per network): the earliest instant (ms) the source was asked for this series."""


def candle_source(market: Market) -> str:
    """The ledger key of an asset's candle series: ``hl:@142`` or ``cg:avalanche-2``."""
    return f"hl:{market.coin}" if market.listed else f"cg:{market.coingecko_id}"


@dataclass(frozen=True)
class Refresh:
    """What one series needs this run.

    ``count`` completed candles of ``interval`` are wanted, the oldest opening at ``want_from_ms``;
    ``current_ms`` opens the still-open candle (never used by a rule). ``start_ms`` is where a fetch
    starts, None when the cache is current; ``last_ms`` the newest cached candle (None: empty cache).
    """

    market: Market
    interval: str
    count: int
    want_from_ms: int
    current_ms: int
    now_ms: int
    start_ms: int | None
    last_ms: int | None

    @property
    def source(self) -> str:
        """The series' ledger key (:func:`candle_source`)."""
        return candle_source(self.market)

    @property
    def needed(self) -> bool:
        """Whether a request must be made this run."""
        return self.start_ms is not None

    @property
    def cost(self) -> int:
        """Budget the request uses: candleSnapshot weight (20 + 1 per 60 candles) for a listed pair,
        one call for CoinGecko; 0 when nothing is fetched."""
        if self.start_ms is None:
            return 0
        if not self.market.listed:
            return 1
        candles = (self.current_ms - self.start_ms) // INTERVAL_MS[self.interval] + 1
        return HL_BASE_WEIGHT + candles // HL_ITEMS_PER_WEIGHT


def coverage(ledger: Any, source: str, interval: str) -> int | None:
    """The earliest instant (ms) the source was asked for this series: no candle before it is
    missing from the cache. Ledgers from before this was recorded count from their first candle."""
    cached = ledger.cache_get(COVERAGE_KEY.format(source=source, interval=interval))
    if cached is not None:
        return int(cached[0])
    return ledger.first_candle_ms(source, interval)  # type: ignore[no-any-return]


def plan_refresh(ledger: Any, market: Market, interval: str, count: int, now: datetime) -> Refresh:
    """What the cache of ``market``'s ``interval`` candles needs so the last ``count`` completed ones
    are there at ``now``. CoinGecko series want no more than CoinGecko can give (:data:`CG_MAX_DAYS`)."""
    step = INTERVAL_MS[interval]
    now_ms = to_ms(now)
    current = now_ms - now_ms % step
    want_from = current - count * step
    if not market.listed:
        reach = now_ms - (CG_MAX_DAYS[interval] - 2) * DAY_MS
        want_from = max(want_from, reach - reach % step + step)
    source = candle_source(market)
    last = ledger.last_candle_ms(source, interval)
    covered = coverage(ledger, source, interval) if last is not None else None
    if last is None or covered is None or want_from < covered or last < want_from:
        start: int | None = want_from
    elif last < current:
        start = last
    else:
        start = None  # the still-open candle is cached, so every completed one before it is
    return Refresh(market, interval, count, want_from, current, now_ms, start, last)


def room(budget: Any) -> float:
    """What this run's refreshes may spend of ``budget`` (a WeightBudget, None: unpaced): up to
    :data:`RUN_SHARE` of its per-minute limit, less what the window (shared with the user's other
    dcactl processes) already holds."""
    if budget is None or budget.per_minute is None:
        return float("inf")
    return max(float(budget.per_minute * RUN_SHARE - budget.used()), 0.0)


def admit(refreshes: Sequence[Refresh], room: Mapping[bool, float]) -> tuple[list[Refresh], list[Refresh]]:
    """Split the needed refreshes into this run's and those deferred to a later run.

    ``room[listed]`` is the budget this run may spend on Hyperliquid (``True``) and CoinGecko
    (``False``) requests. The stalest series go first (an empty cache before a day-old one), ties in
    the given order; a refresh is admitted while its cost fits what is left, so none of them waits
    for the budget (a wait could outlast the per-asset timeout). A run in a busy minute may admit
    nothing; the window empties within a minute, so the next run makes progress.
    """
    order = sorted(
        (r for r in refreshes if r.needed), key=lambda r: -1 if r.last_ms is None else r.last_ms
    )
    left = dict(room)
    admitted: list[Refresh] = []
    deferred: list[Refresh] = []
    for r in order:
        kind = r.market.listed
        if r.cost <= left[kind]:
            admitted.append(r)
            left[kind] -= r.cost
        else:
            deferred.append(r)
    return admitted, deferred


async def fetch(hl: Any, cg: Any, ledger: Any, r: Refresh) -> None:
    """One request for ``r`` (candleSnapshot, or CoinGecko market_chart), stored in the ledger with
    the coverage it adds. Raises what the client raises; the cache is unchanged then."""
    assert r.start_ms is not None
    step = INTERVAL_MS[r.interval]
    if r.market.listed:
        raw = await hl.candles(r.market.coin, r.interval, r.start_ms, r.now_ms)
        rows = [hl_candle(c) for c in raw]
    else:
        days = max(2, (r.now_ms - r.start_ms) // DAY_MS + 2)
        days = min(days, CG_MAX_DAYS[r.interval])
        # interval="daily": points at 00:00 UTC; none: CoinGecko picks hourly points for 2-90 days
        granularity = "daily" if r.interval == "1d" else ""
        points = await cg.market_chart(r.market.coingecko_id, int(days), granularity)
        rows = cg_candles(points, step)
    ledger.upsert_candles(r.source, r.interval, rows)
    if r.last_ms is None or r.start_ms > r.last_ms:
        since = r.start_ms  # a new cache, or one a gap separates from these candles (a long pause)
    elif r.start_ms < r.last_ms:
        known = coverage(ledger, r.source, r.interval)  # a backfill joins the cache it reaches
        since = r.start_ms if known is None else min(known, r.start_ms)
    else:
        return  # from the last cached candle on: what was covered still is
    ledger.cache_put(COVERAGE_KEY.format(source=r.source, interval=r.interval), str(since),
                     datetime.fromtimestamp(r.now_ms / 1000, UTC))


def cached_closes(ledger: Any, r: Refresh) -> list[Decimal]:
    """The cached closes of the last ``r.count`` completed candles, oldest first (fewer when the
    history is short or a refresh was deferred)."""
    candles = ledger.candles(r.source, r.interval, since_ms=r.want_from_ms)
    return [c.close for c in candles if c.open_ms < r.current_ms][-r.count:]


def hl_candle(raw: Any) -> Candle:
    """A candleSnapshot item (``t``/``T`` ms, OHLCV decimal strings) → Candle."""
    return Candle(
        open_ms=int(raw["t"]),
        close_ms=int(raw["T"]),
        open=Decimal(str(raw["o"])),
        high=Decimal(str(raw["h"])),
        low=Decimal(str(raw["l"])),
        close=Decimal(str(raw["c"])),
        volume=Decimal(str(raw.get("v", "0"))),
    )


def cg_candles(points: Sequence[Any], step: int) -> list[Candle]:
    """CoinGecko points → one close-only candle per interval of ``step`` ms (the last point wins).

    A point is the price at its instant, so it is filed under the interval that contains the instant
    just before it: the daily point stamped 00:00 UTC closes yesterday, an hourly point stamped
    14:00:00 closes 13:00-14:00, and the final "now" point is the still-open interval's latest price.
    """
    by_open: dict[int, Decimal] = {}
    for t, price in points:
        ms = (to_ms(t) if isinstance(t, datetime) else int(t)) - 1
        by_open[ms - ms % step] = Decimal(str(price))
    return [
        Candle(open_ms=o, close_ms=o + step - 1, open=p, high=p, low=p, close=p, volume=Decimal(0))
        for o, p in sorted(by_open.items())
    ]


HL_MAX_CANDLES = 5000
"""candleSnapshot answers at most this many candles per request (and keeps only the latest 5000)."""


async def history(
    hl: Any, cg: Any, ledger: Any, markets: Sequence[Market], interval: str, since: datetime, now: datetime,
    on_fetch: Any = None,
) -> dict[str, list[Candle]]:
    """Every completed ``interval`` candle of each market from ``since`` to ``now``, oldest first,
    through the ledger's cache (the report's prices and the backtest's): what the cache lacks is
    fetched, listed pairs in pages of at most :data:`HL_MAX_CANDLES` candles, CoinGecko series as far
    back as it reaches. ``on_fetch(symbol)`` is called before a market's first request (progress).
    Raises what the clients raise; what was stored before stays stored."""
    step = INTERVAL_MS[interval]
    since_ms = to_ms(since)
    out: dict[str, list[Candle]] = {}
    for market in markets:
        count = max(1, (to_ms(now) - since_ms) // step + 1)
        r = plan_refresh(ledger, market, interval, int(count), now)
        if r.needed and r.start_ms is not None:
            if on_fetch is not None:
                on_fetch(market.symbol)
            start, last = r.start_ms, r.last_ms
            while market.listed and (r.current_ms - start) // step + 1 > HL_MAX_CANDLES:
                end = start + HL_MAX_CANDLES * step
                await fetch(hl, cg, ledger, Refresh(market, interval, r.count, r.want_from_ms, end, end,
                                                    start, last))
                start = last = end  # later pages extend the cache the first page started
            await fetch(hl, cg, ledger, Refresh(market, interval, r.count, r.want_from_ms, r.current_ms,
                                                r.now_ms, start, last))
        current = r.current_ms
        out[market.symbol] = [c for c in ledger.candles(r.source, interval, since_ms=since_ms)
                              if c.open_ms < current]
    return out
