"""Value types shared by every layer. Pure: no I/O.

Money, prices and sizes are :class:`~decimal.Decimal` (USDC for ``usd``/``price``, base-token units
for ``size``); times are UTC-aware :class:`~datetime.datetime`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

Venue = Literal["hyperliquid", "paper"]
Source = Literal["dcactl", "paper", "external", "imported"]
ResultStatus = Literal["filled", "partial", "paper", "not_due", "skipped", "failed", "pending", "planned"]
IntentStatus = Literal[
    "new",  # written before signing; the order may or may not have reached the exchange
    "sent",  # the exchange answered; its fills may still need to be read
    "filled",  # done, the whole size filled
    "partial",  # done, part of the size filled (the period is complete)
    "unfilled",  # done, nothing filled (IOC found no match): the period stays due
    "rejected",  # the exchange refused it (per-order error): the period stays due
    "paper",  # a simulated fill
]
FINISHED_INTENT_STATES: frozenset[str] = frozenset({"filled", "partial", "unfilled", "rejected", "paper"})
"""Intent states whose outcome is known; anything else must be resolved with the exchange first."""

QUOTE = "USDC"


DUST_REASON = "dust conversion"
"""The ledger's reason for a fill the exchange made itself, selling a dust balance into USDC (trade id 0):
``history``, ``status`` and ``lots`` show such fills as their own kind of disposal."""

RUNWAY_WARN_PERIODS = 3
"""Fewer periods of USDC runway than this is a warning (doctor, status, the end of a live run); less
than one is a failure. Here, not in :mod:`dcactl.reports.stats`, so a run does not import the
reports to read it."""


def utcnow() -> datetime:
    """The current instant, UTC-aware."""
    return datetime.now(UTC)


def iso_utc(t: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix and millisecond precision at most (``2026-11-24T08:00:00Z``)."""
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    t = t.astimezone(UTC)
    text = t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def json_value(value: Any) -> Any:
    """One value for a stable ``--json`` document: a Decimal as plain text (never ``1E-7``), a
    datetime as ISO-8601 UTC, anything else unchanged."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso_utc(value)
    return value


def json_record(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    """``{name: json_value(obj.name)}`` for ``names``, in that order."""
    return {name: json_value(getattr(obj, name)) for name in names}


def from_ms(ms: int) -> datetime:
    """A Unix timestamp in milliseconds → UTC-aware datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_ms(t: datetime) -> int:
    """UTC-aware datetime → Unix milliseconds."""
    return int(t.timestamp() * 1000)


def dec(value: Any) -> Decimal:
    """Parse an exchange decimal string (or int) exactly. Floats are refused: they are not money."""
    if isinstance(value, float):
        raise TypeError("refusing to turn a float into money; pass the decimal string")
    return Decimal(value) if not isinstance(value, Decimal) else value


@dataclass(frozen=True)
class Market:
    """How one configured asset is bought.

    ``venue == "hyperliquid"``: ``coin`` is the spot pair name used by /info (``"@142"`` or
    ``"PURR/USDC"``), ``asset_id`` is ``10000 + pair index`` for orders, ``sz_decimals`` the base
    token's size precision. ``venue == "paper"``: priced from CoinGecko ``coingecko_id``; a listed
    asset forced to paper keeps its coin and decimals so paper fills walk the real book.
    """

    symbol: str
    venue: Venue
    coin: str | None = None
    asset_id: int | None = None
    base_token: str | None = None
    sz_decimals: int = 8
    coingecko_id: str | None = None
    quote: str = QUOTE

    @property
    def listed(self) -> bool:
        """True when Hyperliquid spot lists this asset (it has a pair to read prices from)."""
        return self.coin is not None and self.asset_id is not None

    @property
    def real(self) -> bool:
        """Orders on this market go to the exchange: they spend the account's spot USDC and need its
        verdict (paper ones are simulated)."""
        return self.venue == "hyperliquid"

    @property
    def pair(self) -> str:
        """The pair name for the ledger: ``@142``, ``PURR/USDC`` or ``coingecko:<id>``."""
        if self.coin is not None:
            return self.coin
        return f"coingecko:{self.coingecko_id}"


@dataclass(frozen=True)
class Fill:
    """One execution, real or paper. ``usd`` = size × price (USDC), before fees.

    ``tid`` is the exchange's trade id (unique per network and account); paper and imported fills get
    a synthetic, deterministic ``tid`` (``paper:<cloid>``, ``imported:<hash>``).
    ``fee`` is in ``fee_token`` (the base token for Hyperliquid spot buys, or USDC). ``fee_unknown``:
    the source never said what the fee was (the earlier bot's imported trades); ``fee`` is then 0 and
    counts as nothing, and every report says the fee is unknown instead of showing 0.
    """

    time: datetime
    asset: str
    pair: str
    side: Literal["B", "A"]
    size: Decimal
    price: Decimal
    fee: Decimal
    fee_token: str
    tid: str
    source: Source
    oid: int | None = None
    cloid: str | None = None
    hash: str | None = None
    period: str | None = None
    reason: str | None = None
    fee_unknown: bool = False

    @property
    def usd(self) -> Decimal:
        """Notional in USDC, size × price, before fees."""
        return self.size * self.price


@dataclass(frozen=True)
class OrderIntent:
    """An order we mean to place, written to the ledger *before* it is signed (write-ahead).

    ``usd_requested`` is the budget in USDC; ``size`` (base units) and ``limit_px`` (USDC) are already
    rounded to the exchange's rules. ``period_end`` is the end of the schedule period it buys for
    (None for forced buys).
    """

    cloid: str
    asset: str
    venue: Venue
    period: str
    attempt: int
    usd_requested: Decimal
    size: Decimal
    limit_px: Decimal
    created_at: datetime
    pair: str
    asset_id: int | None = None
    period_end: datetime | None = None
    status: IntentStatus = "new"
    oid: int | None = None
    reason: str | None = None
    expires_at: datetime | None = None
    """The ``expiresAfter`` signed into its order action (live orders); stored with the intent so the
    wait before an unknown order counts as void never depends on today's config."""


def make_cloid(
    network: str, account: str, asset: str, period: str, attempt: int, venue: str = "hyperliquid"
) -> str:
    """The client order id of one attempt to buy ``asset`` in ``period``: ``0x`` + 32 hex chars.

    Deterministic, so a rerun after a crash derives the same id and can ask the exchange about it.
    Paper attempts have ids of their own, so a paper buy and a live one in one period never share one.
    """
    import hashlib  # here: the commands that place no order (backtest, reports) never need it

    material = f"dcactl/v1|{network}|{account.lower()}|{asset.upper()}|{period}|{attempt}"
    if venue != "hyperliquid":
        material += f"|{venue}"
    return "0x" + hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class AssetResult:
    """The outcome of one asset in a run (one row of ``run --json``'s ``results``)."""

    asset: str
    venue: Venue
    status: ResultStatus
    period: str | None = None
    cloid: str | None = None
    oid: int | None = None
    usd_requested: Decimal | None = None
    usd_filled: Decimal | None = None
    size: Decimal | None = None
    avg_price: Decimal | None = None
    fee: Decimal | None = None
    fee_token: str | None = None
    reason: str | None = None
    temporary: bool = False
    """A failure a later run may succeed at (its reason starts with ``temporary:``); not in the JSON."""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of PRODUCT.md: decimals as strings, absent values as null."""
        return json_record(
            self,
            (
                "asset",
                "venue",
                "status",
                "period",
                "cloid",
                "oid",
                "usd_requested",
                "usd_filled",
                "size",
                "avg_price",
                "fee",
                "fee_token",
                "reason",
            ),
        )


@dataclass(frozen=True)
class RunResult:
    """Everything one ``run`` or ``buy`` did."""

    run_id: str
    started_at: datetime
    network: str
    mode: str
    results: list[AssetResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document of run and buy (PRODUCT.md)."""
        return {
            "run_id": self.run_id,
            "started_at": iso_utc(self.started_at),
            "network": self.network,
            "mode": self.mode,
            "results": [r.to_json() for r in self.results],
        }


@dataclass(frozen=True)
class CurvePoint:
    """One daily mark of a backtest strategy: its value at the close and what it had invested (USDC)."""

    time: datetime
    value_usd: Decimal
    invested_usd: Decimal


@dataclass(frozen=True)
class BacktestBuy:
    """One simulated buy of a backtest: ``usd`` spent (size × fill price), ``size`` in base units."""

    time: datetime
    asset: str
    usd: Decimal
    size: Decimal
    price: Decimal


@dataclass(frozen=True)
class StrategyCurve:
    """What ``backtest --html`` draws for one strategy: its daily marks and its buys.

    Produced by the backtest, rendered by :func:`dcactl.reports.html.backtest_page` beside the
    ``backtest --json`` document (PRODUCT.md "Backtest").
    """

    name: str
    points: tuple[CurvePoint, ...]
    buys: tuple[BacktestBuy, ...]
