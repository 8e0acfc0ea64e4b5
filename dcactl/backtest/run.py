"""The backtest's shell: gather the prices (candle cache or ``--prices`` CSV), build the strategies,
replay each through :mod:`dcactl.backtest.engine`. The command in :mod:`dcactl.cli.backtest` renders."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from dcactl.backtest.engine import replay
from dcactl.backtest.prices import Bar, Series, coverage_problem, from_candles, load_csv
from dcactl.backtest.results import Costs, StrategyResult
from dcactl.backtest.tracks import Sweep
from dcactl.backtest.variants import Strategy, only_assets, strategies
from dcactl.beside import beside, patience
from dcactl.errors import DcactlError, UsageError
from dcactl.models import Market

if TYPE_CHECKING:
    from dcactl.config.schema import Config
    from dcactl.session import Session

BASELINES = ("plain", "lump-sum")


@dataclass(frozen=True)
class BacktestRequest:
    """What the user asked: the window (UTC), assets, baselines, ``--set`` options, costs, prices."""

    start: datetime
    end: datetime
    only: tuple[str, ...] = ()
    baselines: tuple[str, ...] = BASELINES
    sets: tuple[str, ...] = ()
    costs: Costs = field(default_factory=Costs)
    prices: Path | None = None
    curves: bool = True
    """Keep each strategy's curve (daily marks and buys: what ``--html`` draws); False: figures only."""
    beside: bool = True
    """Replay about half the strategies in a forked child where a second core can (same figures)."""


@dataclass(frozen=True)
class BacktestResult:
    """Every strategy's result, in the order asked (portfolio, variants, baselines)."""

    request: BacktestRequest
    results: list[StrategyResult]
    notes: list[str]


def warmup_days(configs: Sequence[Config]) -> int:
    """Days of closes before the window the rules read at its first tick (the longest need)."""
    from dcactl.strategy import history_days

    return max((history_days(a) for c in configs for a in c.assets), default=1) + 2


def daily_from_hourly(series: Series) -> Series:
    """Daily candles (UTC days) from hourly ones: the day's first open, its last close."""
    days: dict[datetime, list[Bar]] = {}
    for b in series.bars:
        days.setdefault(b.at.replace(hour=0, minute=0, second=0, microsecond=0), []).append(b)
    return Series(
        series.asset, "1d", tuple(Bar(d, bars[0].open, bars[-1].close) for d, bars in sorted(days.items()))
    )


def _hourly(config: Config) -> list[str]:
    from dcactl.backtest.tracks import _hourly_schedule

    return [a.symbol for a in config.assets if _hourly_schedule(a)]


async def gather_prices(
    session: Session, config: Config, start: datetime, end: datetime, on_fetch: Callable[[str], None]
) -> tuple[dict[str, Series], dict[str, Series], dict[str, int]]:
    """Daily (and, for hourly schedules, hourly) series from the ledger's candle cache, fetched where
    it lacks them; size decimals of the listed assets. Raises DcactlError when a series cannot be read."""
    from dcactl.market.candles import history
    from dcactl.reports.views import resolved_markets

    resolved = await resolved_markets(session, [a.symbol for a in config.assets])
    daily: dict[str, Series] = {}
    hourly: dict[str, Series] = {}
    sz: dict[str, int] = {}
    now = min(end, datetime.now(tz=end.tzinfo))
    hourly_assets = set(_hourly(config))
    for symbol, market in resolved.items():
        if not isinstance(market, Market):
            raise market
        if market.listed:
            sz[symbol] = market.sz_decimals
        candles = await history(session.hl, session.cg, session.ledger, [market], "1d", start, now, on_fetch)
        daily[symbol] = from_candles(symbol, "1d", [(c.open_ms, c.open, c.close) for c in candles[symbol]])
        if symbol in hourly_assets:
            hours = await history(
                session.hl,
                session.cg,
                session.ledger,
                [market],
                "1h",
                max(start, now - timedelta(days=200)),
                now,
                on_fetch,
            )
            hourly[symbol] = from_candles(symbol, "1h", [(c.open_ms, c.open, c.close) for c in hours[symbol]])
    return daily, hourly, sz


def _only(strategy: Strategy, only: Sequence[str]) -> Strategy:
    return replace(strategy, config=only_assets(strategy.config, only))


@dataclass(frozen=True)
class Prepared:
    """A backtest with its prices in memory: :meth:`replay` needs no session, ledger or event loop."""

    request: BacktestRequest
    base: Config
    runs: list[Strategy]
    daily: dict[str, Series]
    hourly: dict[str, Series]
    sz: dict[str, int]

    def replay(self) -> BacktestResult:
        """Check the window is covered, replay each strategy (see :func:`_replay_all`)."""
        return _replay_all(self.request, self.base, self.runs, self.daily, self.hourly, self.sz, [])


async def prepare_backtest(
    session: Session, request: BacktestRequest, on_fetch: Callable[[str], None]
) -> Prepared:
    """Build the strategies and gather their prices from the ledger's candle cache (fetching what it
    lacks). The replay comes once the session is closed (:meth:`Prepared.replay`): it may fork a
    child, which is safest from a process with no event loop and no executor threads running."""
    base, runs = _strategies(session.config, request)
    warm = request.start - timedelta(days=warmup_days([s.config for s in runs]))
    try:
        daily, hourly, sz = await gather_prices(session, base, warm, request.end, on_fetch)
    except DcactlError as exc:
        raise UsageError(f"cannot read the price history: {exc}") from None
    return Prepared(request, base, runs, daily, hourly, sz)


def run_backtest_csv(config: Config, request: BacktestRequest) -> BacktestResult:
    """The backtest of ``request.prices`` (a CSV): it needs no session — no ledger, no
    client, no event loop. Raises UsageError (the window, the variants, the file's problems)."""
    assert request.prices is not None
    base, runs = _strategies(config, request)
    series = load_csv(request.prices)
    daily = {a: (s if s.interval == "1d" else daily_from_hourly(s)) for a, s in series.items()}
    hourly = {a: s for a, s in series.items() if s.interval == "1h"}
    notes = [f"prices from {request.prices}; sizes rounded to 8 decimals"]
    return _replay_all(request, base, runs, daily, hourly, {}, notes)


def _strategies(config: Config, request: BacktestRequest) -> tuple[Config, list[Strategy]]:
    """The window checked; the portfolio of the assets asked, and the strategies to replay."""
    if request.start >= request.end:
        raise UsageError(f"--from {request.start:%Y-%m-%d} must be before --to {request.end:%Y-%m-%d}")
    base = only_assets(config, request.only)
    wanted = list(dict.fromkeys(request.baselines))
    return base, [_only(s, request.only) for s in strategies(config, request.sets, wanted)]


def _halves(order: Sequence[Strategy]) -> tuple[list[Strategy], list[Strategy]]:
    """The strategies this process replays and those a child can (:func:`_replay_each` of each gives
    the same results as of all): the baselines stay here with about half the rest (lump-sum needs
    plain's amounts; plain costs about what the portfolio does), the first half (the portfolio first)
    goes there, so each side has about the same to do and what variants share stays together."""
    baselines = [s for s in order if s.kind in ("plain", "lump-sum")]
    rules = [s for s in order if s.kind not in ("plain", "lump-sum")]
    cut = (len(rules) + 1 + 1) // 2 if baselines else len(rules) // 2
    return baselines + rules[cut:], rules[:cut]


def _replay_each(
    request: BacktestRequest,
    runs: Sequence[Strategy],
    daily: Mapping[str, Series],
    hourly: Mapping[str, Series],
    sz: Mapping[str, int],
) -> dict[str, StrategyResult]:
    """Replay ``runs`` in order (plain before lump-sum, which buys what plain invested), sharing what
    they can (:class:`~dcactl.backtest.tracks.Sweep`); each result by its strategy's name."""
    plain_invested: Mapping[str, Decimal] | None = None
    by_name: dict[str, StrategyResult] = {}
    shared = Sweep()  # indicator values, fills and decisions shared by the strategies (same prices)
    for strategy in runs:
        if strategy.kind == "lump-sum" and plain_invested is None:
            plain = replay(
                Strategy("plain", "plain", strategy.config), daily, hourly, sz, request.start, request.end,
                request.costs, curves=False,
            )
            plain_invested = {a.asset: a.invested_usd for a in plain.assets}
        result = replay(
            strategy, daily, hourly, sz, request.start, request.end, request.costs, plain_invested,
            shared=shared, curves=request.curves,
        )
        if strategy.kind == "plain":
            plain_invested = {a.asset: a.invested_usd for a in result.assets}
        by_name[strategy.name] = result
    return by_name


def _replay_all(
    request: BacktestRequest,
    base: Config,
    runs: Sequence[Strategy],
    daily: Mapping[str, Series],
    hourly: Mapping[str, Series],
    sz: Mapping[str, int],
    notes: list[str],
) -> BacktestResult:
    """Check the window is covered, then replay each strategy (the baselines first)."""
    symbols = [a.symbol for a in base.assets]
    problem = coverage_problem(
        {s: daily[s] for s in symbols if s in daily}, symbols, request.start, request.end
    )
    if problem:
        raise UsageError(problem)
    order = [s for s in runs if s.kind == "plain"] + [s for s in runs if s.kind != "plain"]
    here, there = _halves(order)

    def replay_there() -> dict[str, StrategyResult]:
        return _replay_each(request, there, daily, hourly, sz)

    with beside(replay_there, enabled=request.beside and bool(here) and bool(there)) as child:
        started = time.monotonic()
        by_name = _replay_each(request, here, daily, hourly, sz)
        if there:
            # the child has about as much to do: one that is far later than that is stuck, not slow
            wait = patience(time.monotonic() - started)
            got = child.result(timeout=wait) if child is not None else None
            by_name.update(got if got is not None else replay_there())
    return BacktestResult(request, [by_name[s.name] for s in runs], notes)
