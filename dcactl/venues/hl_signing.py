"""Order wire and L1-action signing for Hyperliquid (fact sheet §3.2, §3.5, §3.6).

dcactl builds the order wire from its own Decimals (``dcactl.venues.rounding.to_wire``: no float ever touches
a price or size) in the exact key order the signature hashes, then signs with the SDK's
``sign_l1_action``. eth_account and the SDK are imported lazily, inside :func:`sign_action`, so that
commands that never sign do not pay ~0.25 s for them.

The key (an ``eth_account`` LocalAccount) is only ever passed through to the SDK helper: it is never
stored, logged, formatted or put in an exception here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from dcactl.errors import UsageError
from dcactl.venues.base import CLOID_RE, OrderRequest
from dcactl.venues.hl_types import (
    CancelByCloidAction,
    ExchangeRequest,
    OrderAction,
    OrderWire,
    Signature,
)
from dcactl.venues.rounding import to_wire

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from dcactl.venues.signing_process import SigningProcess

    Wallet: TypeAlias = LocalAccount | SigningProcess
    """What signs: an eth_account key here, or the child process that holds it."""


@runtime_checkable
class SignsApart(Protocol):
    """A signer in another process (:class:`~dcactl.venues.signing_process.SigningProcess`), told
    apart from an eth_account key without importing either."""

    def sign_l1(self, action: Any, vault: str | None, nonce: int, expires_after: int | None,
             is_mainnet: bool) -> Signature: ...


def order_wire(order: OrderRequest) -> OrderWire:
    """The wire form of one order, keys in signing order a, b, p, s, r, t, c.

    Raises UsageError for a non-positive price or size, a value needing more than 8 decimals, or a
    malformed cloid (all programming errors upstream: rounding must have happened already).
    """
    if order.price <= 0 or order.size <= 0:
        raise UsageError(f"{order.describe()}: price and size must be positive")
    if order.cloid is not None and not CLOID_RE.match(order.cloid):
        raise UsageError(f"{order.describe()}: cloid must be 0x and 32 lower-case hex digits")
    try:
        px, sz = to_wire(order.price), to_wire(order.size)
    except ValueError as exc:
        raise UsageError(f"{order.describe()}: {exc}") from exc
    wire: OrderWire = {
        "a": order.asset_id,
        "b": order.is_buy,
        "p": px,
        "s": sz,
        "r": order.reduce_only,
        "t": {"limit": {"tif": order.tif}},
    }
    if order.cloid is not None:
        wire["c"] = order.cloid
    return wire


def order_action(orders: Sequence[OrderRequest]) -> OrderAction:
    """One ``order`` action for the whole batch (grouping ``na``), keys type, orders, grouping."""
    if not orders:
        raise UsageError("an order action needs at least one order")
    return {"type": "order", "orders": [order_wire(o) for o in orders], "grouping": "na"}


def cancel_by_cloid_action(cancels: Sequence[tuple[int, str]]) -> CancelByCloidAction:
    """A ``cancelByCloid`` action for (asset id, cloid) pairs."""
    return {"type": "cancelByCloid", "cancels": [{"asset": a, "cloid": c} for a, c in cancels]}


def exchange_weight(n_orders: int) -> int:
    """The IP weight of an /exchange action with ``n_orders`` orders: 1 + floor(n / 40)."""
    return 1 + n_orders // 40


class NonceCounter:
    """Process-wide monotonic nonces: the current Unix time in ms, bumped past the last one issued.

    Two actions in the same millisecond get consecutive nonces instead of colliding (the exchange
    refuses a reused nonce); after a burst the counter fast-forwards to the clock again.
    """

    def __init__(self, clock_ms: Any = None) -> None:
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """A nonce greater than every one issued before by this counter (ms since the epoch)."""
        with self._lock:
            self._last = max(int(self._clock_ms()), self._last + 1)
            return self._last


NONCES = NonceCounter()
"""The process's nonce source (shared by every client in the process)."""


def sign_action(
    wallet: Wallet, action: Any, nonce: int, *, vault: str | None, is_mainnet: bool,
    expires_after: int | None = None,
) -> Signature:
    """Sign an L1 action with the SDK's ``sign_l1_action`` (phantom agent, EIP-712, chain 1337).

    ``is_mainnet`` chooses source "a" (mainnet) or "b" (testnet and every other URL). ``vault`` is a
    lower-case vault or sub-account address, or None. ``expires_after`` (Unix ms) is signed in when
    given: the L1 hash covers it (``‖ 0x00 ‖ expiresAfter u64be``). A ``wallet`` that is a
    :class:`~dcactl.venues.signing_process.SigningProcess` has its child sign with this function.
    """
    if isinstance(wallet, SignsApart):
        return wallet.sign_l1(action, vault, nonce, expires_after, is_mainnet)
    from hyperliquid.utils.signing import sign_l1_action

    signature = sign_l1_action(wallet, action, vault, nonce, expires_after, is_mainnet)
    return {"r": signature["r"], "s": signature["s"], "v": int(signature["v"])}


def signed_request(
    wallet: Wallet, action: Any, nonce: int, *, vault: str | None, is_mainnet: bool
) -> ExchangeRequest:
    """The ``POST /exchange`` body for ``action``, as the SDK's ``_post_action`` builds it."""
    vault = vault.lower() if vault else None
    return {
        "action": action,
        "nonce": nonce,
        "signature": sign_action(wallet, action, nonce, vault=vault, is_mainnet=is_mainnet),
        "vaultAddress": vault,
        "expiresAfter": None,
    }


def action_bytes(action: Any) -> bytes:
    """The msgpack bytes the signature hashes (for golden tests and debugging)."""
    import msgpack

    packed: bytes = msgpack.packb(action)
    return packed
