"""Buy decisions as pure functions of configuration, price history and ledger state. No I/O.

- :mod:`~dcactl.strategy.base`: the base amount (fixed, or volatility sizing);
- :mod:`~dcactl.strategy.rules`: RSI, MA dips and dynamic frequency, one function each;
- :mod:`~dcactl.strategy.decide`: :func:`decide` composes them with banking and the per-asset clamp;
- :mod:`~dcactl.strategy.rebalance`: buy-only rebalancing of a per-run budget.

The keys, defaults and composition order are documented in ``docs/smart-dca.md``.
"""

from dcactl.strategy.base import CENT, SizedAmount, base_amount, volatility_amount
from dcactl.strategy.decide import (
    AssetState,
    Decision,
    PriceHistory,
    add_rebalance,
    decide,
    effective_schedule,
    history_days,
    history_hours,
)
from dcactl.strategy.rebalance import allocate_rebalance
from dcactl.strategy.rules import nominal_days

__all__ = [
    "CENT",
    "AssetState",
    "Decision",
    "PriceHistory",
    "SizedAmount",
    "add_rebalance",
    "allocate_rebalance",
    "base_amount",
    "decide",
    "effective_schedule",
    "history_days",
    "history_hours",
    "nominal_days",
    "volatility_amount",
]
