"""Value types the ledger returns, and its own error. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple, TypeAlias

from dcactl.errors import DcactlError
from dcactl.ledger.codec import from_us


class DuplicateIntent(DcactlError):
    """An intent with this cloid, or for this (network, account, asset, period, attempt), exists.

    The executor treats it as "another run got there first": it never places a second order.
    """


@dataclass(frozen=True)
class Candle:
    """One OHLCV candle. ``open_ms``/``close_ms`` are Unix milliseconds; prices in USDC (or the
    source's quote), ``volume`` in base units — all exact Decimals."""

    open_ms: int
    close_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class LastBuyRecord:
    """The newest completed (filled, partial or paper), non-forced buy of an asset.

    ``at`` is when its intent was created (UTC); ``period`` its period id (the ISO start instant);
    ``period_start``/``period_end`` that period's bounds (UTC; ``period_end`` None when unknown).
    Schedules use it so a changed ``every`` or ``timezone`` never allows a second buy inside the
    period of the last buy.
    """

    asset: str
    at: datetime
    period: str
    period_start: datetime | None
    period_end: datetime | None
    cloid: str
    status: str


@dataclass(frozen=True)
class PositionRow:
    """Aggregates of one (asset, source) over the ledger's non-superseded fills (exact Decimals).

    - ``units``: base units held = Σ buy sizes − Σ sell sizes − Σ fees paid in a non-USDC token
      (the base token, for Hyperliquid spot buys).
    - ``bought_units``: Σ buy sizes − base-token fees on those buys (what the buys put in the wallet).
    - ``invested_usd``: Σ size × price of buys (USDC, before fees).
    - ``buy_fees_usdc``: fees of buys that were paid in USDC (on top of ``invested_usd``).
    - ``fees_usd``: every fee valued in USDC: the USDC fee, or fee × fill price when paid in base.
    - ``sold_units``: units that left through sells (their sizes, plus any base-token fee on them);
      always ``bought_units − units``. ``proceeds_usd``: Σ size × price of sells (USDC, before fees).
    - ``buys``/``sells``: number of buy/sell fills; ``first_buy``/``last_buy``: UTC times (None
      without buys).
    - ``unknown_fees``: how many of those fills have an unknown fee (imported from the earlier bot,
      which kept none): the fee sums above leave them out.
    """

    asset: str
    source: str
    units: Decimal
    bought_units: Decimal
    invested_usd: Decimal
    buy_fees_usdc: Decimal
    fees_usd: Decimal
    sold_units: Decimal
    proceeds_usd: Decimal
    buys: int
    sells: int
    first_buy: datetime | None
    last_buy: datetime | None
    unknown_fees: int = 0


class TradeRow(NamedTuple):
    """The part of a fill that cost-basis lots and disposals read: a light row (no pair, order ids or
    hash) so a report over a million fills does not build a million full :class:`~dcactl.models.Fill`
    objects. Same meanings and units as the Fill fields of the same names (``size`` in base units,
    ``price`` in USDC, ``fee`` in ``fee_token``); its time is ``time_us``, integer microseconds since
    the epoch (UTC), as the ledger holds it (``time``: as a UTC-aware datetime)."""

    time_us: int
    asset: str
    side: Literal["B", "A"]
    size: Decimal
    price: Decimal
    fee: Decimal
    fee_token: str
    tid: str
    source: str
    reason: str | None

    @property
    def time(self) -> datetime:
        """The fill's time, UTC-aware."""
        return from_us(self.time_us)


TradeText: TypeAlias = tuple[int, str, str, str, str, str, str, str, str, str | None]
"""A :class:`TradeRow` as the ledger holds it: the same fields in the same order, its decimals (size,
price, fee) the exact text they were recorded as (``codec.text``; ``Decimal(text)`` is the TradeRow's
value). A plain tuple straight from SQLite, for the lots of a large ledger (``reports.stats`` reads
the decimals itself, once per fill)."""


HistoryRow: TypeAlias = tuple[int, str, str, str, str, str, str, str, str, int | None, str | None, str | None,
                              str, str | None, str | None, int, int, int, int]
"""One fill as the ledger holds it, for ``history``: a plain tuple (an export reads a million; no object
per fill) of ``time_us`` (µs since the epoch, UTC), asset, pair, side, size, price, fee (each decimal
the exact text it was recorded as: ``codec.text``), fee_token, tid, oid, cloid, hash, source, period,
reason, ``fee_unknown`` (0/1), and the exact integer companions of size × price (``usd_hi``,
``usd_lo``; see ``dcactl.ledger.codec``) with ``approx`` (1 when some companion of the fill is
inexact: then compute from the text)."""
