"""Hyperliquid payload shapes as TypedDicts (fact sheet §1, §3). Decimal fields arrive as strings.

``total=False`` marks shapes whose optional or newer fields may be missing; unknown extra fields are
always tolerated (a TypedDict describes what we read, not everything that is sent).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class SpotToken(TypedDict):
    """``spotMeta.tokens[i]``: ``index`` is the token id; ``szDecimals`` its size precision."""

    name: str
    szDecimals: int
    weiDecimals: int
    index: int
    tokenId: NotRequired[str]
    isCanonical: NotRequired[bool]
    evmContract: NotRequired[Any]
    fullName: NotRequired[str | None]


class SpotPair(TypedDict):
    """``spotMeta.universe[i]``: ``tokens`` is ``[base, quote]``; ``index`` the pair index (not position)."""

    name: str
    tokens: list[int]
    index: int
    isCanonical: NotRequired[bool]


class SpotMeta(TypedDict):
    """The ``spotMeta`` answer."""

    tokens: list[SpotToken]
    universe: list[SpotPair]


class SpotAssetCtx(TypedDict, total=False):
    """One element of ``spotMetaAndAssetCtxs[1]``; join to the universe on ``coin``, never by position."""

    coin: str
    markPx: str
    midPx: str | None
    prevDayPx: str
    dayNtlVlm: str
    circulatingSupply: str
    totalSupply: str
    dayBaseVlm: str


class L2LevelWire(TypedDict):
    """One ``l2Book`` level."""

    px: str
    sz: str
    n: int


class L2BookWire(TypedDict):
    """The ``l2Book`` answer: ``levels[0]`` bids, ``levels[1]`` asks, best first."""

    coin: str
    time: int
    levels: list[list[L2LevelWire]]


class CandleWire(TypedDict, total=False):
    """One ``candleSnapshot`` candle: open/close time ms, OHLC strings (USDC), volume (base units)."""

    t: int
    T: int
    s: str
    i: str
    o: str
    h: str
    l: str  # noqa: E741 - the exchange's key
    c: str
    v: str
    n: int


class SpotBalanceWire(TypedDict, total=False):
    """``spotClearinghouseState.balances[i]``: ``coin`` is the token name, ``token`` its index."""

    coin: str
    token: int
    hold: str
    total: str
    entryNtl: str


class UserFillWire(TypedDict, total=False):
    """One fill of ``userFills``/``userFillsByTime``. ``tid`` is the trade id to dedupe on."""

    coin: str
    px: str
    sz: str
    side: Literal["A", "B"]
    time: int
    startPosition: str
    dir: str
    closedPnl: str
    hash: str
    oid: int
    crossed: bool
    fee: str
    feeToken: str
    builderFee: str
    tid: int
    cloid: str | None
    twapId: int | None


class OpenOrderWire(TypedDict, total=False):
    """One ``openOrders`` entry."""

    coin: str
    limitPx: str
    oid: int
    side: Literal["A", "B"]
    sz: str
    timestamp: int
    cloid: str | None


class ExtraAgentWire(TypedDict):
    """One ``extraAgents`` entry; ``validUntil`` in ms."""

    name: str
    address: str
    validUntil: int | None


class UserRoleWire(TypedDict, total=False):
    """``userRole``: ``role`` is user, agent, vault, subAccount or missing; ``data`` e.g. ``{"user": …}``."""

    role: str
    data: dict[str, Any]


class LimitTif(TypedDict):
    """``{"tif": "Ioc"}``."""

    tif: str


class OrderTypeWire(TypedDict):
    """``{"limit": {"tif": ...}}`` (dcactl places limit orders only)."""

    limit: LimitTif


class OrderWire(TypedDict):
    """One order of an ``order`` action. Key order (a, b, p, s, r, t, c) is part of the signature."""

    a: int
    b: bool
    p: str
    s: str
    r: bool
    t: OrderTypeWire
    c: NotRequired[str]


class OrderAction(TypedDict):
    """The ``order`` action (keys in signing order: type, orders, grouping)."""

    type: Literal["order"]
    orders: list[OrderWire]
    grouping: str


class CancelByCloidWire(TypedDict):
    """One cancel of a ``cancelByCloid`` action."""

    asset: int
    cloid: str


class CancelByCloidAction(TypedDict):
    """The ``cancelByCloid`` action."""

    type: Literal["cancelByCloid"]
    cancels: list[CancelByCloidWire]


class Signature(TypedDict):
    """An EIP-712 signature as the exchange wants it (r, s as hex, v 27 or 28)."""

    r: str
    s: str
    v: int


class ExchangeRequest(TypedDict):
    """The ``POST /exchange`` envelope."""

    action: Any
    nonce: int
    signature: Signature
    vaultAddress: str | None
    expiresAfter: int | None
