"""One asset's buy decision: :func:`decide`, a pure function of config, price history and ledger state.

Composition, in this order (docs/smart-dca.md):

1. **schedule**: dynamic frequency picks the effective schedule; the per-buy *scale* is
   ``nominal_days(effective) / nominal_days(configured)`` (1 when unchanged);
2. **base** = the fixed ``amount`` or volatility sizing, × scale, rounded to cents;
3. × the **product of the rule multipliers** (RSI, MA dips); an RSI skip makes the amount 0;
4. **banking**: a skip banks the (clamped) base, a trim banks what it saved; a qualifying dip (an MA
   dip or RSI oversold, not while RSI is overbought) adds up to ``max_spend_multiple`` × base from
   the bank; the bank never exceeds ``max_bank_usd`` through saving and never goes negative;
5. **clamp** to the asset's ``[sizing] min``/``max`` (× scale) when set — bank money the max cuts
   off goes back to the bank; skips stay 0;
6. (outside: :func:`add_rebalance` adds a rebalancing share, clamped to max again; then the
   executor's global caps.)

decide() reads only the last :func:`history_days` daily closes and :func:`history_hours` hourly closes,
so a longer history (a backtest) gives the same decision as the live run's shorter one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dcactl.strategy.base import base_amount, cents
from dcactl.strategy.indicators import annualised_volatility, last_rsi_tails
from dcactl.strategy.rules import (
    EMA_LOOKBACK,
    RSI_LOOKBACK,
    RuleEffect,
    averages_at,
    frequency_effect,
    ma_dip_effect,
    ma_key,
    rsi_effect,
    rsi_key,
)

if TYPE_CHECKING:
    from dcactl.config.schema import AssetConfig
    from dcactl.schedule.periods import Schedule

__all__ = [
    "AssetState",
    "Decision",
    "PriceHistory",
    "add_rebalance",
    "decide",
    "effective_schedule",
    "history_days",
    "history_hours",
    "memo_entry",
    "precompute",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ONE, ZERO = Decimal(1), Decimal(0)
BANK_CAP_MULTIPLE = Decimal(4)
"""``max_bank_usd`` defaults to this × the asset's ``amount``."""


Closes = Iterable[float | Decimal] | FloatArray


def _series(closes: Closes, what: str) -> FloatArray:
    if isinstance(closes, np.ndarray):
        arr = np.asarray(closes, dtype=np.float64)
    else:
        arr = np.fromiter((float(c) for c in closes), dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D series, got shape {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """Completed daily closes (float64, USDC per unit, oldest first, the still-open day excluded),
    the latest price (USDC per unit; None: the last close) and completed hourly closes (the
    still-open hour excluded; only an hourly RSI reads them). Floats, because these feed
    statistics, never money; build it with :meth:`of` from Decimals or floats."""

    closes: FloatArray
    price: float | None = None
    hourly: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    memo: dict[tuple[Any, ...], Any] | None = None
    """Indicator values already computed on these very closes (RSI, moving averages), keyed by what
    they depend on; the backtest shares one per asset and tick across its strategies. None: none."""

    @classmethod
    def of(cls, closes: Closes, price: float | Decimal | None = None, hourly: Closes = ()) -> PriceHistory:
        """From any sequences of daily and hourly closes (Decimal or float) and an optional latest
        price."""
        return cls(_series(closes, "closes"), None if price is None else float(price),
                   _series(hourly, "hourly closes"))

    @property
    def last_price(self) -> float | None:
        """``price`` when finite and positive, else the last close when it is, else None."""
        for p in (self.price, float(self.closes[-1]) if self.closes.size else None):
            if p is not None and math.isfinite(p) and p > 0:
                return p
        return None


@dataclass(frozen=True)
class AssetState:
    """Ledger-derived facts about one asset: ``bank_usd`` (USDC banked by earlier skips, i.e. the
    ``bank_after`` of the last *settled* decision) and ``units_held`` (base units, for rebalancing)."""

    bank_usd: Decimal = ZERO
    units_held: Decimal = ZERO


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide` for one asset.

    - ``amount``: USDC to spend (cents; 0 when skipped) before the global caps;
    - ``skip``: why the rules skip this buy (one sentence), else None;
    - ``reasons``: one sentence per step (base, frequency, each rule, banking, clamp);
    - ``summary``: the whole decision in one sentence;
    - ``indicators``: JSON-safe floats or None (never NaN), e.g. ``price``, ``rsi_14``, ``sma_50``,
      ``below_sma_50_pct``, ``vol_30d``;
    - ``bank_before``/``bank_after``: the asset's bank (USDC) before and after this decision;
    - ``schedule``: the effective schedule (dynamic frequency); ``base_usd``: the base after frequency
      scaling; ``multiplier``: the product of the rule multipliers; ``min_usd``/``max_usd``: the
      per-asset clamp after scaling (None when not set).
    """

    asset: str
    amount: Decimal
    skip: str | None
    reasons: list[str]
    summary: str
    indicators: dict[str, float | None]
    bank_before: Decimal
    bank_after: Decimal
    schedule: Schedule
    base_usd: Decimal
    multiplier: Decimal
    min_usd: Decimal | None
    max_usd: Decimal | None
    as_of: datetime

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (decimals as strings, ``as_of`` ISO-8601 UTC) for ``plan --json`` and the
        ledger."""
        return {
            "asset": self.asset, "amount_usd": str(self.amount), "skip": self.skip,
            "reasons": list(self.reasons), "summary": self.summary, "indicators": dict(self.indicators),
            "bank_before_usd": str(self.bank_before), "bank_after_usd": str(self.bank_after),
            "every": self.schedule.text, "base_usd": str(self.base_usd),
            "multiplier": f"{self.multiplier.normalize():f}",
            "as_of": self.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }


def history_days(asset: AssetConfig) -> int:
    """How many completed daily closes :func:`decide` reads for ``asset`` (it uses the last this many;
    fewer make the affected rules neutral with a "not enough history" reason). Volatility sizing and
    dynamic frequency need ``window_days + 1``; RSI ``RSI_LOOKBACK × period`` (at least period + 1);
    an SMA(n) n, an EMA(n) ``EMA_LOOKBACK × n``; the maximum of the enabled ones, at least 1."""
    need = [1]
    if asset.sizing.kind == "volatility":
        need.append(asset.sizing.window_days + 1)
    if asset.rsi is not None and asset.rsi.enabled and asset.rsi.interval == "1d":
        need.append(_rsi_need(asset.rsi.period))
    if asset.ma_dips is not None and asset.ma_dips.enabled:
        longest = max(asset.ma_dips.periods)
        need.append(longest if asset.ma_dips.kind == "SMA" else EMA_LOOKBACK * longest)
    if asset.dynamic_frequency is not None and asset.dynamic_frequency.enabled:
        need.append(asset.dynamic_frequency.window_days + 1)
    return max(need)


def history_hours(asset: AssetConfig) -> int:
    """How many completed hourly closes :func:`decide` reads for ``asset``: ``RSI_LOOKBACK × period``
    (at least period + 1) for an enabled ``[rsi]`` with ``interval = "1h"``, else 0."""
    rsi = asset.rsi
    return _rsi_need(rsi.period) if rsi is not None and rsi.enabled and rsi.interval == "1h" else 0


def _rsi_need(period: int) -> int:
    return max(RSI_LOOKBACK * period, period + 1)


def _last(series: FloatArray, n: int) -> FloatArray:
    return series[-n:] if series.size > n else series


def _tail(history: PriceHistory, asset: AssetConfig) -> FloatArray:
    return _last(history.closes, history_days(asset))


def precompute(
    asset: AssetConfig, closes: FloatArray, counts: Sequence[int], done: dict[tuple[Any, ...], FloatArray]
) -> None:
    """Put into ``done``, by memo key, the daily indicator series :func:`decide` reads for ``asset``
    (RSI, moving averages): element ``i`` is the value it computes on the completed closes
    ``closes[:counts[i]]`` — the backtest's ticks, all computed at once (NaN where that tail is short
    or the value undefined; :func:`memo_entry` turns it into the memo's value). Bit for bit what
    decide() would compute (the same code on a stack of the tails it reads). Keys already in
    ``done`` are not computed again."""
    need = history_days(asset)
    wanted: dict[tuple[Any, ...], Callable[[FloatArray, IntArray], FloatArray]] = {}
    rsi = asset.rsi
    if rsi is not None and rsi.enabled and rsi.interval == "1d" and need >= rsi.period + 1:
        wanted[rsi_key(rsi, need)] = functools.partial(_rsi_at, closes, need, rsi.period, rsi.wilder)
    dips = asset.ma_dips
    if dips is not None and dips.enabled:
        for n in dips.periods:
            if need >= n:
                wanted[ma_key(dips.kind, need, n)] = functools.partial(_averages_at, dips.kind, n)
    todo = {key: compute for key, compute in wanted.items() if key not in done}
    if not todo:
        return
    pick = np.flatnonzero(np.asarray(counts, dtype=np.int64) >= need)
    ends = np.asarray(counts, dtype=np.int64)[pick]
    windows = np.lib.stride_tricks.sliding_window_view(closes, need)[ends - need] if pick.size else None
    for key, compute in todo.items():
        done[key] = full = np.full(len(counts), np.nan)
        if windows is not None:
            full[pick] = compute(windows, ends)


def _rsi_at(closes: FloatArray, need: int, period: int, wilder: bool, windows: FloatArray,
            ends: IntArray) -> FloatArray:
    """The RSI of the tails ending at ``ends`` (:func:`last_rsi_tails`: the windows' own, bit for bit)."""
    return last_rsi_tails(closes, ends, need, period, wilder)


def _averages_at(kind: str, n: int, windows: FloatArray, ends: IntArray) -> FloatArray:
    return averages_at(windows, kind, n)


def memo_entry(key: tuple[Any, ...], value: float) -> float | None:
    """A :func:`precompute` value as the rules keep it in their memo: an undefined RSI is None, an
    undefined average NaN."""
    return None if key[0] == "rsi" and not math.isfinite(value) else value


def effective_schedule(asset: AssetConfig, history: PriceHistory) -> Schedule:
    """The schedule ``asset`` is bought on now (dynamic frequency applied): pass it to the due check.
    The due rule (buy only after the end of the last buy's recorded period) keeps a change of
    frequency from allowing a second buy inside that period."""
    return frequency_effect(asset, _tail(history, asset)).schedule


def _finite(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (v if v is not None and math.isfinite(v) else None) for k, v in values.items()}


def _product(values: Iterable[Decimal]) -> Decimal:
    out = ONE
    for v in values:
        out *= v
    return out


def decide(
    asset: AssetConfig, history: PriceHistory, state: AssetState, now: datetime, *,
    override: Decimal | None = None,
) -> Decision:
    """Decide how much USDC to spend on ``asset`` now (see the module docstring for the order).

    ``override`` (``buy --amount``, USDC) replaces the whole composition: rules and banking are shown
    but not applied, and the bank is unchanged. ``now`` must be timezone-aware (ValueError otherwise);
    it only stamps the decision. Same inputs, same Decision.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    closes = _tail(history, asset)
    price = history.last_price
    indicators: dict[str, float | None] = {"price": price}
    freq = frequency_effect(asset, closes)
    indicators.update(freq.indicators)
    if asset.sizing.kind == "volatility":
        w = asset.sizing.window_days
        indicators[f"vol_{w}d"] = annualised_volatility(closes, w)
    effects: list[RuleEffect] = []
    if asset.rsi is not None and asset.rsi.enabled:
        hourly = asset.rsi.interval == "1h"
        series = _last(history.hourly, history_hours(asset)) if hourly else closes
        effects.append(rsi_effect(asset.rsi, series, memo=history.memo))
    if asset.ma_dips is not None and asset.ma_dips.enabled:
        effects.append(ma_dip_effect(asset.ma_dips, closes, price, memo=history.memo))
    for e in effects:
        indicators.update(e.indicators)
    bank = max(cents(state.bank_usd), ZERO)
    common: dict[str, Any] = {"asset": asset.symbol, "indicators": _finite(indicators), "bank_before": bank,
              "schedule": freq.schedule, "as_of": now}
    if override is not None:
        amount = cents(override)
        shown = [e.reason for e in effects] + ([freq.reason] if freq.reason else [])
        return Decision(
            amount=amount, skip=None,
            reasons=[f"amount {amount} USDC set on the command line: rules and banking not applied", *shown],
            summary=f"buy {amount} USDC as set on the command line", bank_after=bank, base_usd=amount,
            multiplier=ONE, min_usd=None, max_usd=None, **common,
        )
    base = base_amount(asset, closes)
    return _compose(
        asset, base.reason, base.amount, freq.scale, freq.reason, freq.cause, effects, bank, common
    )


def _compose(
    asset: AssetConfig, base_reason: str, base: Decimal, scale: Decimal, freq_reason: str | None,
    freq_cause: str | None, effects: Sequence[RuleEffect], bank: Decimal, common: dict[str, Any],
) -> Decision:
    reasons = [base_reason] + ([freq_reason] if freq_reason else [])
    scaled = cents(base * scale)
    if scale != ONE:
        reasons.append(f"base {base} × {scale:.4f} = {scaled} USDC per buy")
    reasons += [e.reason for e in effects]
    lo = None if asset.sizing.min is None else cents(asset.sizing.min * scale)
    hi = None if asset.sizing.max is None else cents(asset.sizing.max * scale)

    def clamp(x: Decimal) -> Decimal:
        if hi is not None and x > hi:
            x = hi
        return lo if lo is not None and x < lo else x

    rule = asset.banking if asset.banking is not None and asset.banking.enabled else None
    configured_cap = rule.max_bank_usd if rule is not None else None
    cap = cents(configured_cap if configured_cap is not None else BANK_CAP_MULTIPLE * asset.amount)
    room = max(cap - bank, ZERO)
    skip = next((e.skip for e in effects if e.skip), None)
    fixed: dict[str, Any] = {"base_usd": scaled, "min_usd": lo, "max_usd": hi}
    if skip is not None:
        saved = clamp(scaled)
        if rule is None:
            note = f"{saved} USDC not saved (banking is off)"
            after = bank
        else:
            add = min(saved, room)
            after = bank + add
            full = f" (bank full: {saved - add} USDC not banked)" if add < saved else ""
            note = f"{add} USDC banked, bank {after} of max {cap} USDC{full}"
        reasons.append(f"banking: skipped buy → {note}")
        return Decision(amount=ZERO, skip=skip, reasons=reasons,
                        summary=f"skip {asset.symbol}: {skip}; {note}", bank_after=after, multiplier=ZERO,
                        **fixed, **common)

    multiplier = _product(e.multiplier for e in effects)
    amount = cents(scaled * multiplier)
    after, spent = bank, ZERO
    overbought = any(e.overbought for e in effects)
    dip = any(e.dip for e in effects) and not overbought
    if rule is not None and overbought:
        untrimmed = cents(scaled * _product(e.multiplier for e in effects if not e.overbought))
        add = min(max(clamp(untrimmed) - clamp(amount), ZERO), room)
        after += add
        reasons.append(f"banking: the trim saves {add} USDC → bank {after} of max {cap} USDC")
    elif rule is not None and dip:
        limit = cents(rule.max_spend_multiple * scaled)
        spent = min(after, limit)
        amount += spent
        after -= spent
        reasons.append(f"banking: qualifying dip → {spent} USDC from the bank (limit {limit} = "
                       f"{rule.max_spend_multiple.normalize():f}× base), bank {bank} → {after} USDC")
    elif rule is not None:
        reasons.append(f"banking: no skip and no qualifying dip, bank stays {bank} USDC")
    clamped = ""
    if hi is not None and amount > hi:
        refund = min(spent, amount - hi)
        spent -= refund
        after += refund
        back = f", {refund} USDC back to the bank (bank {after})" if refund else ""
        reasons.append(f"{amount} USDC clamped to the asset's max {hi} USDC{back}")
        amount, clamped = hi, f"clamped to max {hi}"
    if lo is not None and amount < lo:
        reasons.append(f"{amount} USDC raised to the asset's min {lo} USDC")
        amount, clamped = lo, f"raised to min {lo}"
    cause = freq_cause if scale != ONE else None
    summary = _summary(amount, scaled, multiplier, spent, clamped, effects, cause)
    return Decision(amount=amount, skip=None, reasons=reasons, summary=summary, bank_after=after,
                    multiplier=multiplier, **fixed, **common)


def _summary(amount: Decimal, scaled: Decimal, multiplier: Decimal, spent: Decimal, clamped: str,
             effects: Sequence[RuleEffect], freq_cause: str | None) -> str:
    """``buy 250.00 USDC (2.5× the base 100.00) because price 90 is 10.0 % below its 50-day SMA 100``."""
    causes = [e.cause for e in effects if e.cause and (e.multiplier != ONE or (e.dip and spent))]
    causes += [freq_cause] if freq_cause else []
    details = [f"{multiplier.normalize():f}× the base {scaled}"] if multiplier != ONE else []
    details += [f"+ {spent} from the bank"] if spent else []
    details += [clamped] if clamped else []
    if not causes and not details:
        return f"buy {amount} USDC: the base amount, no rule changed it"
    head = f"buy {amount} USDC"
    head += f" ({', '.join(details)})" if details else f" (base {scaled})"
    return f"{head} because {' and '.join(causes)}" if causes else head


def add_rebalance(decision: Decision, extra: Decimal) -> Decision:
    """``decision`` plus its share of the rebalancing budget (USDC, from
    :func:`~dcactl.strategy.rebalance.allocate_rebalance`), clamped to the asset's max again.
    Skipped decisions and non-positive shares are returned unchanged."""
    if decision.skip is not None or extra <= 0:
        return decision
    extra = cents(extra)
    amount = decision.amount + extra
    reasons = [*decision.reasons, f"buy-only rebalancing: +{extra} USDC (below its target weight)"]
    if decision.max_usd is not None and amount > decision.max_usd:
        reasons.append(f"{amount} USDC clamped to the asset's max {decision.max_usd} USDC")
        amount = decision.max_usd
    added = amount - decision.amount
    if added <= 0:
        return replace(decision, reasons=reasons)
    return replace(decision, amount=amount, reasons=reasons,
                   summary=f"{decision.summary}; +{added} USDC for rebalancing → {amount} USDC")
