"""A buy's fill by the contract's formula: ``P = open × (1 + slippage_bps / 10,000)``, ``size = amount /
P`` rounded down to the asset's size decimals, ``cost = size × P``, nothing under the exchange's
minimum; the fee is ``size × fee_bps / 10,000`` in the base token. No I/O."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from dcactl.backtest.results import BPS, Costs
from dcactl.backtest.tracks import (
    _AssetTrack,
)
from dcactl.models import BacktestBuy
from dcactl.venues.rounding import MIN_NOTIONAL_USDC


def _fill(
    track: _AssetTrack, at: datetime, price: Decimal, amount: Decimal, costs: Costs
) -> BacktestBuy | str:
    """The contract's fill of ``amount`` USDC at ``price`` (open with slippage); a reason when skipped."""
    quote = _quote(track.sz_decimals, price, amount)
    if quote is None:
        return "minimum"
    return _record(track, at, price, *quote, costs)


def _quote(sz_decimals: int, price: Decimal, amount: Decimal) -> tuple[Decimal, Decimal] | None:
    """``(size, cost)`` of ``amount`` USDC at ``price``: size rounded down to the size decimals; None
    when that is nothing or under the exchange's minimum (as live)."""
    size = (amount / price).quantize(Decimal(1).scaleb(-sz_decimals), rounding=ROUND_DOWN)
    cost = size * price
    return None if size <= 0 or cost < MIN_NOTIONAL_USDC else (size, cost)


def _record(
    track: _AssetTrack, at: datetime, price: Decimal, size: Decimal, cost: Decimal, costs: Costs
) -> BacktestBuy:
    """A fill of ``size`` for ``cost`` USDC into the holding; the fee is taken in the base token."""
    units, fee_usd = _net(size, price, costs)
    h = track.holding
    h.units += units
    h.invested += cost
    h.fees_usd += fee_usd
    h.buys += 1
    return BacktestBuy(time=at, asset=track.config.symbol, usd=cost, size=size, price=price)


def _net(size: Decimal, price: Decimal, costs: Costs) -> tuple[Decimal, Decimal]:
    """The units a fill of ``size`` at ``price`` adds (the fee is paid in the base token) and the
    fee's value in USDC."""
    fee = size * costs.fee_bps / BPS
    return size - fee, fee * price
