"""Buy-only rebalancing: spread a per-run USDC budget over due assets below their target weight.

Pure Decimal arithmetic, no I/O. Nothing is ever sold: the budget only *adds* to buys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, Decimal

from dcactl.strategy.base import CENT

__all__ = ["allocate_rebalance"]

ZERO = Decimal(0)


def allocate_rebalance(
    targets: Mapping[str, Decimal], holdings_usd: Mapping[str, Decimal], due_assets: Iterable[str],
    budget: Decimal,
) -> dict[str, Decimal]:
    """USDC per due asset (every due asset is a key; 0 when it gets nothing), summing to ≤ ``budget``.

    ``targets``: weights by symbol (summing to 1); ``holdings_usd``: the USDC value of what is held
    (units × price) of every target asset, due or not (missing = 0, negatives count as 0);
    ``due_assets``: the assets buying this run that rebalancing may add to (leave out skipped ones).

    The portfolio after this run is worth ``T = Σ holdings of the target assets + budget``; an asset's
    room is ``weight × T − holding``. Money goes to the *most underweight first* — the lowest
    holding / weight — by water-filling: the due assets with room are lifted to a common level ``L``
    of holding / weight (never past their target ``weight × T``), so after buying every funded asset
    sits at the same fraction of its target and every unfunded one was already above it. Budget that
    would overshoot every due asset's target stays unspent. Shares are floored to cents.
    """
    due = list(dict.fromkeys(due_assets))
    out = {s: ZERO for s in due}
    if budget <= 0:
        return out
    held = {s: max(Decimal(v), ZERO) for s, v in holdings_usd.items()}
    total = sum((held.get(s, ZERO) for s in targets), ZERO) + budget
    # (ratio holding/weight, weight, holding, symbol) of due assets below their target
    rows = sorted(
        (held.get(s, ZERO) / targets[s], targets[s], held.get(s, ZERO), s)
        for s in due
        if targets.get(s, ZERO) > 0 and held.get(s, ZERO) < targets[s] * total
    )
    if not rows:
        return out
    weight = holding = ZERO
    level = total  # the level at which every row reaches its target
    for i, (_, w, h, _) in enumerate(rows):
        weight += w
        holding += h
        candidate = (budget + holding) / weight
        nxt = rows[i + 1][0] if i + 1 < len(rows) else None
        if nxt is None or candidate <= nxt:
            level = min(candidate, total)
            break
    for ratio, w, h, s in rows:
        if ratio < level:
            out[s] = max(w * level - h, ZERO).quantize(CENT, rounding=ROUND_DOWN)
    return out
