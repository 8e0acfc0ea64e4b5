"""The loaded portfolio as frozen dataclasses: one per TOML table, its fields the table's keys and
their defaults the keys' defaults. Pure values (no I/O); :mod:`dcactl.config.schema` loads them.

The checks (:mod:`dcactl.config.check`, :mod:`dcactl.config.rules`, :mod:`dcactl.config.notifycheck`)
read each table's known keys and defaults from here (:func:`table_keys`, :func:`default_of`), so a
key or a default is written once.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dcactl.config.values import suggest
from dcactl.errors import UsageError
from dcactl.networks import MAINNET_API_URL, canonical_network, network_url

if TYPE_CHECKING:
    from dcactl.schedule.periods import Schedule


def table_keys(cls: type, *, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The TOML keys of the table ``cls`` holds: its fields in order, less ``skip`` (derived ones)."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in skip)


def default_of(cls: type, key: str) -> Any:
    """The default of ``key`` in the table ``cls`` (None for a required key)."""
    f = _fields_of(cls).get(key)
    if f is None:
        raise KeyError(f"{cls.__name__} has no key {key!r}")
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


@functools.cache
def _fields_of(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The fields of the dataclass ``cls`` by name (every key of every table asks for its default:
    dataclasses.fields() each time was a third of checking a config)."""
    return {f.name: f for f in dataclasses.fields(cls)}


COINGECKO_API_URL = "https://api.coingecko.com/api/v3"


@dataclass(frozen=True)
class Sizing:
    """``[assets.X.sizing]``: how much USDC one buy spends.

    ``kind = "fixed"`` buys the asset's ``amount``. ``kind = "volatility"`` buys ``max`` when the
    annualised volatility (percent) over ``window_days`` is ≤ ``low_vol``, ``min`` when ≥
    ``high_vol``, linearly in between. ``min``/``max`` are USDC.
    """

    kind: Literal["fixed", "volatility"] = "fixed"
    min: Decimal | None = None
    max: Decimal | None = None
    window_days: int = 30
    low_vol: Decimal = Decimal(35)
    high_vol: Decimal = Decimal(85)


@dataclass(frozen=True)
class RsiRule:
    """``[assets.X.rsi]`` (docs/smart-dca.md): skip (or trim by ``trim_factor``) when the RSI of the
    last completed close is ≥ ``overbought``; multiply by ``oversold_factor`` when ≤ ``oversold``
    (1.0: buy as usual). ``interval`` is the candle the RSI is computed on: ``1d`` (completed UTC
    days) or ``1h`` (completed hours, for assets bought every few hours); ``period`` counts those
    candles. Wilder's smoothing unless ``wilder`` is false. Levels are RSI points (0..100)."""

    enabled: bool = True
    period: int = 14
    wilder: bool = True
    overbought: Decimal = Decimal(70)
    oversold: Decimal = Decimal(30)
    overbought_action: Literal["skip", "trim"] = "skip"
    trim_factor: Decimal = Decimal("0.5")
    oversold_factor: Decimal = Decimal("1.0")
    interval: Literal["1d", "1h"] = "1d"


@dataclass(frozen=True)
class MaDipsRule:
    """``[assets.X.ma_dips]``: the price is in a dip below MA(``periods[i]``) when at least
    ``thresholds[i]`` percent below it; the deepest such dip (percent) picks ``multipliers[k]``, k the
    number of ``tier_bounds`` it reaches (below bound 0 → multipliers[0], ..., from the last bound →
    the last multiplier). ``kind`` is ``SMA`` or ``EMA`` over completed daily closes."""

    enabled: bool = True
    periods: tuple[int, ...] = (20, 50, 200)
    kind: Literal["SMA", "EMA"] = "SMA"
    thresholds: tuple[Decimal, ...] = (Decimal(2), Decimal(5), Decimal(10))
    tier_bounds: tuple[Decimal, ...] = (Decimal(2), Decimal(5), Decimal(10))
    multipliers: tuple[Decimal, ...] = (Decimal("1.2"), Decimal("1.5"), Decimal("2.0"), Decimal("2.5"))


@dataclass(frozen=True)
class DynamicFrequencyRule:
    """``[assets.X.dynamic_frequency]``: annualised volatility (percent, over ``window_days``) below
    ``low_vol`` buys every ``low_every``, above ``high_vol`` every ``high_every``, else the asset's
    own ``every``; per-buy amounts scale with the period's nominal length so the monthly budget holds."""

    enabled: bool = True
    low_vol: Decimal = Decimal(25)
    high_vol: Decimal = Decimal(50)
    low_every: str = "month"
    high_every: str = "day"
    window_days: int = 30

    @property
    def low_schedule(self) -> Schedule:
        """The parsed ``low_every``."""
        from dcactl.schedule.periods import parse_every

        return parse_every(self.low_every)

    @property
    def high_schedule(self) -> Schedule:
        """The parsed ``high_every``."""
        from dcactl.schedule.periods import parse_every

        return parse_every(self.high_every)


@dataclass(frozen=True)
class BankingRule:
    """``[assets.X.banking]``: what a skip (or trim) saves goes into the asset's bank (USDC), up to
    ``max_bank_usd`` (None: 4 × ``amount``); the next qualifying dip (an MA dip or RSI oversold) adds
    up to ``max_spend_multiple`` × the base amount from the bank to its buy."""

    enabled: bool = True
    max_bank_usd: Decimal | None = None
    max_spend_multiple: Decimal = Decimal(1)


@dataclass(frozen=True)
class Portfolio:
    """``[portfolio]``: target weights by symbol (summing to 1 ± 0.001) and the USDC per run that
    buy-only rebalancing spreads over due assets. Empty targets: rebalancing is off."""

    targets: dict[str, Decimal] = field(default_factory=dict)
    budget_per_run: Decimal | None = None


@dataclass(frozen=True)
class AssetConfig:
    """One ``[assets.X]`` table. ``amount`` is USDC per buy; ``symbol`` is the upper-cased key."""

    symbol: str
    amount: Decimal
    every: str
    schedule: Schedule
    enabled: bool = True
    venue: Literal["auto", "hyperliquid", "paper"] = "auto"
    pair: str | None = None
    coingecko_id: str | None = None
    sizing: Sizing = field(default_factory=Sizing)
    rsi: RsiRule | None = None
    ma_dips: MaDipsRule | None = None
    dynamic_frequency: DynamicFrequencyRule | None = None
    banking: BankingRule | None = None


@dataclass(frozen=True)
class Settings:
    """``[settings]``. Caps are USDC; ``lock_wait`` and ``request_timeout`` are seconds.

    ``key`` and ``coingecko_key`` are key *sources* (``env:VAR``, ``file:PATH``, ``keyring:NAME``),
    never key material. ``database`` is absolute (resolved against the config file's folder).
    """

    network: str = "mainnet"
    mode: Literal["paper", "live"] = "paper"
    account: str | None = None
    key: str | None = None
    database: Path | None = None
    parallel: bool = True
    lock_wait: float = 30.0
    coingecko_url: str | None = None
    coingecko_key: str | None = None
    max_slippage_bps: int = 50
    max_usd_per_run: Decimal | None = None
    max_usd_per_day: Decimal | None = None
    timezone: str = "UTC"
    request_timeout: float = 10.0

    @property
    def api_url(self) -> str:
        """The Hyperliquid API base URL, in one spelling (:func:`dcactl.networks.canonical_url`)."""
        return network_url(self.network_id)

    @property
    def is_mainnet(self) -> bool:
        """True when actions must be signed for mainnet (the SDK's rule: the mainnet URL exactly)."""
        return self.api_url == MAINNET_API_URL

    @property
    def network_id(self) -> str:
        """``mainnet``/``testnet``/``devnet`` or the API URL, one spelling per exchange
        (:func:`dcactl.networks.canonical_network`): the ledger's book, the account lock and every
        cloid hang on it, so ``http://localhost:3001/`` and ``devnet`` are one network."""
        return canonical_network(self.network)

    @property
    def coingecko_base_url(self) -> str:
        """``coingecko_url``, else the devnet's CoinGecko double on devnet, else CoinGecko's public API."""
        if self.coingecko_url:
            return self.coingecko_url.rstrip("/")
        if self.network_id == "devnet":
            return f"{self.api_url}/coingecko/api/v3"
        return COINGECKO_API_URL


@dataclass(frozen=True)
class Notify:
    """``[notify]``: where dcactl reports what happened (apprise URLs, each inline or a key source
    ``env:VAR``/``file:PATH``/``keyring:NAME``, since they carry tokens), which ``events`` it sends
    (failed, missed, skipped, filled), a healthchecks-style ``heartbeat`` URL (or its source), an
    optional ``summary`` digest (day/week/month) and the ``timeout`` in seconds of each delivery.
    Empty ``urls`` and no ``heartbeat``: nothing is ever sent."""

    urls: tuple[str, ...] = ()
    events: tuple[str, ...] = ("failed", "missed")
    heartbeat: str | None = None
    summary: Literal["day", "week", "month"] | None = None
    timeout: float = 5.0

    @property
    def enabled(self) -> bool:
        """True when there is anywhere to send anything."""
        return bool(self.urls) or self.heartbeat is not None


@dataclass(frozen=True)
class Config:
    """A loaded portfolio. ``assets`` keep the file's order (caps are cut in this order)."""

    path: Path
    settings: Settings
    assets: tuple[AssetConfig, ...]
    portfolio: Portfolio = field(default_factory=Portfolio)
    notify: Notify = field(default_factory=Notify)

    def asset(self, symbol: str) -> AssetConfig:
        """The asset named ``symbol`` (case-insensitive). Raises UsageError naming the known assets."""
        wanted = symbol.strip().upper()
        for a in self.assets:
            if a.symbol == wanted:
                return a
        known = ", ".join(a.symbol for a in self.assets)
        hint = suggest(wanted, [a.symbol for a in self.assets])
        tail = f"; did you mean {hint}?" if hint else ""
        raise UsageError(f"unknown asset {symbol}{tail} (configured in {self.path}: {known})")
