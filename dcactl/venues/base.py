"""Venue-neutral value types: order requests and outcomes, books, balances, order status.

Pure (no I/O). Prices are USDC per base unit, sizes are base-token units, all :class:`Decimal`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from dcactl.errors import ExchangeUnavailable, InsufficientBalance, OrderRejected

CLOID_RE = re.compile(r"^0x[0-9a-f]{32}$")
"""A client order id: ``0x`` and 32 lower-case hex digits (128 bits)."""

Tif = Literal["Ioc", "Gtc", "Alo"]


class OrderOutcomeUnknown(ExchangeUnavailable):
    """An order action was (maybe) sent but its answer was lost: timeout, 5xx, 429, dropped connection,
    or a reply that cannot be read.

    The orders may or may not exist. Never resend blindly (a new nonce makes a second order):
    resolve each order by its cloid (``orderStatus``) first. ``cloids`` lists the orders concerned.
    """

    def __init__(self, message: str, cloids: tuple[str, ...] = (), refusal: str | None = None) -> None:
        super().__init__(message)
        self.cloids = cloids
        self.refusal = refusal
        """The refusal's text when the answer refused the whole action (an HTTP 4xx, ``{"status":
        "err"}``): most likely the exchange's verdict, yet something between us and the exchange can
        answer so after the order went through, so it is no verdict until the cloid is checked."""


@dataclass(frozen=True)
class OrderRequest:
    """One limit order to place. ``price`` in USDC per unit and ``size`` in base units, both already
    rounded to the market's rules (``dcactl.venues.rounding``); ``asset_id`` is the order asset id (10000 +
    spot pair index). ``cloid`` is ``0x`` + 32 hex chars. ``label`` (e.g. ``"BTC"``) names the order
    in messages only.
    """

    asset_id: int
    is_buy: bool
    price: Decimal
    size: Decimal
    cloid: str | None = None
    tif: Tif = "Ioc"
    reduce_only: bool = False
    label: str | None = None

    def describe(self) -> str:
        """``"BTC buy 0.0001 @ 101850"``: for messages (no secrets in an order)."""
        name = self.label or f"asset {self.asset_id}"
        return f"{name} {'buy' if self.is_buy else 'sell'} {self.size} @ {self.price}"


ErrorKind = Literal["no_match", "min_notional", "insufficient_balance", "price", "size", "other"]

_ERROR_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("could not immediately match", "no_match"),
    ("minimum value", "min_notional"),
    ("insufficient spot balance", "insufficient_balance"),
    ("insufficient", "insufficient_balance"),
    ("tick size", "price"),
    ("invalid price", "price"),
    ("too far from", "price"),
    ("away from the reference", "price"),
    ("invalid size", "size"),
)


def classify_order_error(text: str) -> ErrorKind:
    """Map a per-order error string to a kind; matching is on substrings (live texts append ``asset=N``)."""
    low = text.lower()
    for needle, kind in _ERROR_KINDS:
        if needle in low:
            return kind
    return "other"


@dataclass(frozen=True)
class OrderOutcome:
    """What the exchange said about one order of an action (``statuses[i]`` for ``orders[i]``).

    ``kind``: ``filled`` (``total_sz`` base units filled at ``avg_px``; an IOC may fill only part of
    the size), ``resting`` (on the book, ``oid``), ``error`` (refused: ``error`` holds the exchange's
    text; nothing was placed).
    """

    kind: Literal["filled", "resting", "error"]
    oid: int | None = None
    total_sz: Decimal | None = None
    avg_px: Decimal | None = None
    error: str | None = None
    cloid: str | None = None

    @property
    def error_kind(self) -> ErrorKind | None:
        """The class of a per-order error (``no_match`` for an IOC that found nothing), else None."""
        return classify_order_error(self.error) if self.error is not None else None

    def exception(self, request: OrderRequest) -> OrderRejected | InsufficientBalance:
        """The typed error for an ``error`` outcome, naming the order (coin, size, price)."""
        text = f"{request.describe()}: {self.error or 'rejected'}"
        if self.error_kind == "insufficient_balance":
            return InsufficientBalance(text)
        return OrderRejected(text)


@dataclass(frozen=True)
class BookLevel:
    """One price level: ``px`` USDC per unit, ``sz`` base units, ``n`` orders."""

    px: Decimal
    sz: Decimal
    n: int = 1


@dataclass(frozen=True)
class Book:
    """An L2 snapshot: ``bids`` and ``asks`` best first (at most 20 levels a side on Hyperliquid)."""

    coin: str
    time: datetime | None
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()

    @property
    def mid(self) -> Decimal | None:
        """(best bid + best ask) / 2, or None when either side is empty."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].px + self.asks[0].px) / 2


@dataclass(frozen=True)
class Balance:
    """A spot balance in token units: ``total`` and ``hold`` (locked in open orders)."""

    total: Decimal
    hold: Decimal = Decimal(0)
    token: int | None = None

    @property
    def available(self) -> Decimal:
        """What can be spent now: total − hold."""
        return self.total - self.hold


FINISHED_ORDER_STATES: frozenset[str] = frozenset({
    "filled", "canceled", "rejected", "marginCanceled", "vaultWithdrawalCanceled",
    "openInterestCapCanceled", "selfTradeCanceled", "reduceOnlyCanceled", "siblingFilledCanceled",
    "delistedCanceled", "liquidatedCanceled", "scheduledCancel", "tickRejected", "minTradeNtlRejected",
    "perpMarginRejected", "reduceOnlyRejected", "badAloPxRejected", "iocCancelRejected",
    "badTriggerPxRejected", "marketOrderNoLiquidityRejected", "positionIncreaseAtOpenInterestCapRejected",
    "positionFlipAtOpenInterestCapRejected", "tooAggressiveAtOpenInterestCapRejected",
    "openInterestIncreaseRejected", "insufficientSpotBalanceRejected", "oracleRejected",
    "perpMaxPositionRejected",
})
"""``orderStatus`` states after which an order can no longer fill (fact sheet §1.8)."""


@dataclass(frozen=True)
class OrderStatus:
    """``orderStatus`` by oid or cloid. ``known`` is False for ``unknownOid`` (the exchange never
    received the order), and every other field is then None.

    ``status`` is the exchange's string (``open``, ``filled``, ``iocCancelRejected``, ...);
    ``orig_sz`` and ``remaining_sz`` are base units, ``limit_px`` USDC per unit.
    """

    known: bool
    status: str | None = None
    oid: int | None = None
    cloid: str | None = None
    coin: str | None = None
    side: str | None = None
    limit_px: Decimal | None = None
    orig_sz: Decimal | None = None
    remaining_sz: Decimal | None = None
    status_time: datetime | None = None
    tif: str | None = None
    placed_time: datetime | None = None
    """When the exchange received the order (its ``timestamp``, the exchange's clock)."""
    raw: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def finished(self) -> bool:
        """True when the order can no longer fill: a known final state, or any ``...Rejected`` /
        ``...Canceled`` state added later. ``open``, ``triggered`` and unfamiliar states are not final.
        """
        if not self.known or self.status is None:
            return False
        s = self.status
        return s in FINISHED_ORDER_STATES or s.endswith(("Rejected", "Canceled"))

    @property
    def filled_sz(self) -> Decimal | None:
        """orig − remaining size in base units, when both are known (not proof of fills: read them)."""
        if self.orig_sz is None or self.remaining_sz is None:
            return None
        return self.orig_sz - self.remaining_sz


@dataclass(frozen=True)
class Agent:
    """An approved API (agent) wallet of an account; ``valid_until`` None when it does not expire."""

    name: str
    address: str
    valid_until: datetime | None


@dataclass(frozen=True)
class ServerProbe:
    """One cheap round trip for ``doctor``: latency in seconds and the server's clock (Date header)."""

    latency_s: float
    server_time: datetime | None
    local_time: datetime
