"""Signature recovery for /exchange actions, written from the protocol (not the SDK's helpers).

L1 actions (order, cancel, ...) are signed as EIP-712 `Agent(string source,bytes32 connectionId)`
under the domain {name "Exchange", version "1", chainId 1337, verifyingContract 0x0}, where
connectionId is keccak(msgpack(action) ‖ nonce u64be ‖ vault flag[‖ vault] [‖ 0x00 ‖ expiresAfter u64be])
and source is "b" on testnet, which is what the devnet verifies as. User-signed actions
(approveAgent) use the domain "HyperliquidSignTransaction" with the action's signatureChainId.
Domain separators and type hashes are computed once, by hand, with keccak.
"""

from __future__ import annotations

from typing import Any

import msgpack
from coincurve import PublicKey
from eth_hash.auto import keccak

from dcactl.devnet.validation import parse_decimal

__all__ = ["SignatureError", "approve_agent_digest", "l1_action_hash", "l1_digest", "recover"]

SOURCE = "b"  # testnet, as the SDK signs for every URL but mainnet's
_DOMAIN_TYPE = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_AGENT_TYPE = keccak(b"Agent(string source,bytes32 connectionId)")
_APPROVE_TYPE = keccak(
    b"HyperliquidTransaction:ApproveAgent(string hyperliquidChain,address agentAddress,"
    b"string agentName,uint64 nonce)"
)
_ZERO32 = b"\x00" * 32


class SignatureError(ValueError):
    """A signature that cannot be parsed or recovered."""


def _u256(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _domain(name: bytes, chain_id: int) -> bytes:
    return keccak(_DOMAIN_TYPE + keccak(name) + keccak(b"1") + _u256(chain_id) + _ZERO32)


_EXCHANGE_DOMAIN = _domain(b"Exchange", 1337)
_SOURCE_HASH = keccak(SOURCE.encode())


def _wire_decimal(text: Any) -> Any:
    """A decimal string as the canonical wire writes it ("100000.0" → "100000", "0.00010" → "0.0001");
    anything else as it came."""
    value = parse_decimal(text)
    return text if value is None else f"{value.normalize():f}"


def _canonical_order(o: Any) -> Any:
    if not isinstance(o, dict):
        return o
    t = o.get("t")
    if isinstance(t, dict) and isinstance(t.get("trigger"), dict):
        trig = t["trigger"]
        t = {"trigger": {"isMarket": trig.get("isMarket"), "triggerPx": _wire_decimal(trig.get("triggerPx")),
                         "tpsl": trig.get("tpsl")}}
    elif isinstance(t, dict) and "limit" in t:
        t = {"limit": t["limit"]}
    out = {"a": o.get("a"), "b": o.get("b"), "p": _wire_decimal(o.get("p")), "s": _wire_decimal(o.get("s")),
           "r": o.get("r"), "t": t}
    if o.get("c") is not None:
        out["c"] = o["c"].lower() if isinstance(o["c"], str) else o["c"]
    return out


def canonical_action(action: Any) -> Any:
    """The action as the exchange re-encodes it before hashing (§7): keys in the wire order, decimals
    without trailing zeros, cloids lower-case. A signature made over this form recovers its signer
    however the action was sent; one made over another form recovers some other address."""
    if not isinstance(action, dict):
        return action
    kind = action.get("type")
    if kind == "order" and isinstance(action.get("orders"), list):
        out: dict[str, Any] = {"type": "order", "orders": [_canonical_order(o) for o in action["orders"]],
                               "grouping": action.get("grouping")}
        if action.get("builder") is not None:
            out["builder"] = action["builder"]
        return out
    if kind == "cancel" and isinstance(action.get("cancels"), list):
        return {"type": "cancel", "cancels": [
            {"a": c.get("a"), "o": c.get("o")} if isinstance(c, dict) else c for c in action["cancels"]]}
    if kind == "cancelByCloid" and isinstance(action.get("cancels"), list):
        return {"type": "cancelByCloid", "cancels": [
            {"asset": c.get("asset"), "cloid": str(c.get("cloid", "")).lower()} if isinstance(c, dict) else c
            for c in action["cancels"]]}
    return action


def l1_action_hash(action: Any, nonce: int, vault: str | None, expires_after: int | None) -> bytes:
    """keccak(msgpack(canonical action) ‖ nonce ‖ vault ‖ expiresAfter): the phantom agent's
    connectionId (:func:`canonical_action`)."""
    data = msgpack.packb(canonical_action(action)) + nonce.to_bytes(8, "big")
    data += b"\x00" if vault is None else b"\x01" + bytes.fromhex(vault.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return keccak(data)


def l1_digest(connection_id: bytes) -> bytes:
    """The EIP-712 digest an L1 action's signer signed (testnet source "b")."""
    struct = keccak(_AGENT_TYPE + _SOURCE_HASH + connection_id)
    return keccak(b"\x19\x01" + _EXCHANGE_DOMAIN + struct)


def approve_agent_digest(action: dict[str, Any]) -> bytes:
    """The EIP-712 digest of an approveAgent action (agentName "" when absent)."""
    chain_id = int(str(action["signatureChainId"]), 16)
    addr = bytes.fromhex(str(action["agentAddress"]).removeprefix("0x"))
    if len(addr) != 20:
        raise SignatureError("bad agent address")
    struct = keccak(
        _APPROVE_TYPE
        + keccak(str(action["hyperliquidChain"]).encode())
        + addr.rjust(32, b"\x00")
        + keccak(str(action.get("agentName") or "").encode())
        + _u256(int(action["nonce"]))
    )
    return keccak(b"\x19\x01" + _domain(b"HyperliquidSignTransaction", chain_id) + struct)


def recover(digest: bytes, signature: Any) -> str:
    """The lower-case 0x address that signed `digest` with {"r","s","v"}; raises SignatureError."""
    try:
        r = int(str(signature["r"]), 16)
        s = int(str(signature["s"]), 16)
        v = int(signature["v"])
        if v not in (27, 28) or not (0 < r < 2**256) or not (0 < s < 2**256):
            raise SignatureError("bad signature fields")
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27])
        pub = PublicKey.from_signature_and_message(sig, digest, hasher=None)
    except SignatureError:
        raise
    except Exception as exc:  # coincurve raises plain Exception/ValueError on bad points
        raise SignatureError(str(exc)) from exc
    return "0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex()
