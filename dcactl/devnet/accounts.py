"""Accounts, orders and fills of the devnet: the ledger behind /exchange and the user /info reads.

Money is Decimal throughout: balances in token units, prices in quote units per base unit.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dcactl.devnet.universe import quote_decimal

__all__ = ["FILLS_KEPT", "NONCES_KEPT", "Account", "Nonces", "OrderRec"]

FILLS_KEPT = 10_000  # an account's fill history keeps only its newest 10 000 fills
NONCES_KEPT = 20  # highest nonces kept per signer


@dataclass
class OrderRec:
    """One order as the exchange knows it. `sz` is what is left; sizes in base units."""

    oid: int
    user: str
    coin: str
    asset: int
    side: str  # "B" or "A"
    limit_px: Decimal
    orig_sz: Decimal
    sz: Decimal
    tif: str
    cloid: str | None
    timestamp: int
    status: str
    status_ts: int

    def basic(self) -> dict[str, Any]:
        """The `openOrders` shape."""
        return {
            "coin": self.coin,
            "side": self.side,
            "limitPx": quote_decimal(self.limit_px),
            "sz": quote_decimal(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": quote_decimal(self.orig_sz),
            "cloid": self.cloid,
        }

    def frontend(self) -> dict[str, Any]:
        """The `frontendOpenOrders` / `orderStatus` inner order shape."""
        return {
            **self.basic(),
            "triggerCondition": "N/A",
            "isTrigger": False,
            "triggerPx": "0.0",
            "children": [],
            "isPositionTpsl": False,
            "reduceOnly": False,
            "orderType": "Limit",
            "tif": self.tif,
        }

    def to_json(self) -> dict[str, Any]:
        """For the state file."""
        d = dict(self.__dict__)
        for k in ("limit_px", "orig_sz", "sz"):
            d[k] = str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OrderRec:
        """From the state file."""
        d = dict(d)
        for k in ("limit_px", "orig_sz", "sz"):
            d[k] = Decimal(d[k])
        return cls(**d)


@dataclass
class Account:
    """Balances (total, hold) per token index, fills ascending by time, order ids, and the USDC of
    the perp account (``perp_usdc``: all of it withdrawable, the devnet has no perp positions)."""

    balances: dict[int, Decimal] = field(default_factory=dict)
    holds: dict[int, Decimal] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    fill_times: list[int] = field(default_factory=list)
    open: dict[int, OrderRec] = field(default_factory=dict)
    oids: list[int] = field(default_factory=list)
    perp_usdc: Decimal = Decimal(0)

    def available(self, token: int) -> Decimal:
        """total − hold of `token`."""
        return self.balances.get(token, Decimal(0)) - self.holds.get(token, Decimal(0))

    def add(self, token: int, amount: Decimal) -> None:
        """Move `amount` (may be negative) into the total of `token`."""
        self.balances[token] = self.balances.get(token, Decimal(0)) + amount

    def add_fill(self, fill: dict[str, Any]) -> None:
        """Add a fill in time order (a back-dated one goes where its time puts it) and drop the oldest
        past FILLS_KEPT."""
        t = int(fill["time"])
        if not self.fill_times or t >= self.fill_times[-1]:
            self.fills.append(fill)
            self.fill_times.append(t)
        else:
            at = bisect.bisect_right(self.fill_times, t)
            self.fills.insert(at, fill)
            self.fill_times.insert(at, t)
        if len(self.fills) > FILLS_KEPT + 1_000:  # trim in batches: amortised O(1)
            del self.fills[:-FILLS_KEPT]
            del self.fill_times[:-FILLS_KEPT]

    def recent_fills(self, n: int) -> list[dict[str, Any]]:
        """The n most recent fills, newest first."""
        kept = self.fills[-FILLS_KEPT:]
        return kept[::-1][:n]

    def fills_between(self, start: int, end: int, n: int, newest: bool = True) -> list[dict[str, Any]]:
        """The *most recent* `n` kept fills with start ≤ time ≤ end (ms), ascending — the harder of
        the two readings of userFillsByTime (§7): a client paging forward from the last time it saw
        skips the older fills of a full window here, as it would on mainnet if that reading holds.
        With ``newest=False`` the *earliest* `n` of the window instead (the other reading)."""
        base = max(0, len(self.fills) - FILLS_KEPT)
        i = max(base, bisect.bisect_left(self.fill_times, start))
        j = bisect.bisect_right(self.fill_times, end)
        return self.fills[max(i, j - n) : j] if newest else self.fills[i : min(j, i + n)]

    def kept_fills(self) -> list[dict[str, Any]]:
        """Every fill the exchange still holds for this account (the newest FILLS_KEPT), ascending."""
        return self.fills[-FILLS_KEPT:]


@dataclass
class Nonces:
    """Per-signer nonce state: the NONCES_KEPT highest nonces seen (sorted ascending)."""

    kept: dict[str, list[int]] = field(default_factory=dict)

    def check(self, signer: str, nonce: int, now_ms: int) -> str | None:
        """None when `nonce` is acceptable for `signer`, else the exchange's error text."""
        # the texts of §7: the window is about (now − 2 days, now + 1 day)
        if nonce < now_ms - 2 * 86_400_000:
            return f"Invalid nonce: nonce too low {nonce} < {now_ms - 2 * 86_400_000}"
        if nonce > now_ms + 86_400_000:
            return f"Invalid nonce: nonce too high {nonce} > {now_ms + 86_400_000}"
        got = self.kept.get(signer, [])
        if nonce in got:
            return f"Invalid nonce: duplicate nonce {nonce}"
        if len(got) >= NONCES_KEPT and nonce <= got[0]:
            return f"Invalid nonce: nonce too low {nonce} < {got[0]}"
        return None

    def use(self, signer: str, nonce: int) -> None:
        """Record `nonce` as used by `signer`."""
        got = self.kept.setdefault(signer, [])
        bisect.insort(got, nonce)
        if len(got) > NONCES_KEPT:
            del got[0]
