"""What a backtest reports: the costs it assumes, each strategy's figures (and each asset's), each
tick's decision when traced, and the ``--json`` document. Plain values; no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from dcactl.models import StrategyCurve, iso_utc

ZERO = Decimal(0)
CENT = Decimal("0.01")
BPS = Decimal(10_000)


@dataclass(frozen=True)
class Costs:
    """``fee_bps`` (base-token fee of each buy) and ``slippage_bps`` (above the candle's open)."""

    fee_bps: Decimal = Decimal(7)
    slippage_bps: Decimal = Decimal(5)


@dataclass(frozen=True)
class AssetFigures:
    """One asset of one strategy: base units held (net of fees), USDC invested, average cost, value at
    the last close, buys, and the window's plain average of daily closes (what a buy "cost" on average)."""

    asset: str
    units: Decimal
    invested_usd: Decimal
    avg_cost: Decimal | None
    value_usd: Decimal
    buys: int
    window_avg_price: Decimal | None

    def to_json(self) -> dict[str, Any]:
        """The contract's asset object (decimals as strings)."""
        return {
            "asset": self.asset,
            "units": _s(self.units),
            "invested_usd": _s(self.invested_usd.quantize(CENT)),
            "avg_cost": None if self.avg_cost is None else _s(self.avg_cost.quantize(Decimal("1e-8"))),
            "value_usd": _s(self.value_usd.quantize(CENT)),
            "buys": self.buys,
        }


@dataclass(frozen=True)
class StrategyResult:
    """A strategy's figures over the window, skips by reason and its curve (daily marks and buys; None
    when the backtest was asked for figures only)."""

    name: str
    invested_usd: Decimal
    value_usd: Decimal
    fees_usd: Decimal
    xirr_pct: Decimal | None
    max_drawdown_pct: Decimal
    buys: int
    skips: Counter[str]
    assets: list[AssetFigures]
    curve: StrategyCurve | None

    @property
    def pnl_usd(self) -> Decimal:
        """Value minus invested."""
        return self.value_usd - self.invested_usd

    @property
    def pnl_pct(self) -> Decimal | None:
        """PnL as a percentage of invested (None when nothing was invested)."""
        return None if self.invested_usd <= 0 else (self.pnl_usd / self.invested_usd * 100).quantize(CENT)

    def to_json(self) -> dict[str, Any]:
        """The contract's strategy object (decimals as strings), plus ``skips_by_reason``."""
        return {
            "name": self.name,
            "invested_usd": _s(self.invested_usd.quantize(CENT)),
            "value_usd": _s(self.value_usd.quantize(CENT)),
            "pnl_usd": _s(self.pnl_usd.quantize(CENT)),
            "pnl_pct": None if self.pnl_pct is None else _s(self.pnl_pct),
            "xirr_pct": None if self.xirr_pct is None else _s(self.xirr_pct),
            "max_drawdown_pct": _s(self.max_drawdown_pct),
            "fees_usd": _s(self.fees_usd.quantize(CENT)),
            "buys": self.buys,
            "skips": sum(self.skips.values()),
            "skips_by_reason": dict(sorted(self.skips.items())),
            "assets": [a.to_json() for a in self.assets],
        }


def _s(x: Decimal) -> str:
    """A decimal as JSON text: exact, no exponent, no trailing zeros."""
    return f"{x.normalize():f}"


@dataclass(frozen=True)
class Tick:
    """One asset at one tick, as ``run`` would have decided it: due or not, the rules' skip, the
    amount (USDC, after rebalancing), and the outcome (``bought``, ``rules``, ``cap``, ``minimum``,
    ``not_due``)."""

    at: datetime
    asset: str
    due: bool
    skip: str | None
    amount: Decimal
    outcome: str


def document(
    results: Sequence[StrategyResult], start: datetime, end: datetime, costs: Costs
) -> dict[str, Any]:
    """The ``backtest --json`` document (PRODUCT.md)."""
    return {
        "from": iso_utc(start),
        "to": iso_utc(end),
        "fee_bps": _s(costs.fee_bps),
        "slippage_bps": _s(costs.slippage_bps),
        "strategies": [r.to_json() for r in results],
    }
