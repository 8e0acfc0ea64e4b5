"""POST /exchange: envelope checks, signature recovery, signer → account, nonces, dispatch."""

from __future__ import annotations

import re
from typing import Any

from eth_hash.auto import keccak

from dcactl.devnet.signing import SignatureError, approve_agent_digest, l1_action_hash, l1_digest, recover
from dcactl.devnet.trading import cancel, place_order
from dcactl.devnet.wire import BadRequest, need_int
from dcactl.devnet.world import World

__all__ = ["exchange", "validate"]

_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TIFS = ("Gtc", "Ioc", "Alo")


def _bad(where: str, v: Any) -> BadRequest:
    return BadRequest(f"{where}: invalid value {v!r}")


def _check_order(o: Any, i: int) -> None:
    if not isinstance(o, dict):
        raise _bad(f"action.orders[{i}]", o)
    for key, typ in (("a", int), ("b", bool), ("p", str), ("s", str), ("r", bool), ("t", dict)):
        v = o.get(key)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise _bad(f"action.orders[{i}].{key}", v)
    for key in ("p", "s"):  # a ninth decimal is refused before the signature is even recovered (§7)
        text = o[key]
        if "." in text and len(text.split(".", 1)[1].rstrip()) > 8:
            raise _bad(f"action.orders[{i}].{key}", text)
    t = o["t"]
    if "limit" in t:
        if not isinstance(t["limit"], dict) or t["limit"].get("tif") not in _TIFS:
            raise _bad(f"action.orders[{i}].t.limit.tif", t["limit"])
    elif "trigger" not in t:
        raise _bad(f"action.orders[{i}].t", t)
    c = o.get("c")
    if c is not None and (not isinstance(c, str) or not _CLOID.match(c)):
        raise _bad(f"action.orders[{i}].c", c)


def validate(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Check the envelope and action types as the real API's deserialiser would; returns
    (action, nonce). Raises BadRequest (→ HTTP 422)."""
    action = body.get("action")
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        raise BadRequest("action: missing field `type`")
    nonce = need_int(body, "nonce")
    assert nonce is not None
    sig = body.get("signature")
    if (
        not isinstance(sig, dict)
        or not isinstance(sig.get("r"), str)
        or not isinstance(sig.get("s"), str)
        or not _HEX.match(sig["r"])
        or not _HEX.match(sig["s"])
        or not isinstance(sig.get("v"), int)
        or isinstance(sig.get("v"), bool)
    ):
        raise BadRequest("signature: invalid type: expected {r, s, v}")
    vault = body.get("vaultAddress")
    if vault is not None and (not isinstance(vault, str) or not _ADDR.match(vault)):
        raise _bad("vaultAddress", vault)
    need_int(body, "expiresAfter", optional=True)
    kind = action["type"]
    if kind == "order":
        orders = action.get("orders")
        if not isinstance(orders, list) or not isinstance(action.get("grouping"), str):
            raise _bad("action.orders", orders)
        for i, o in enumerate(orders):
            _check_order(o, i)
    elif kind == "cancel":
        cancels = action.get("cancels")
        if not isinstance(cancels, list) or not all(
            isinstance(c, dict) and isinstance(c.get("a"), int) and isinstance(c.get("o"), int)
            for c in cancels
        ):
            raise _bad("action.cancels", cancels)
    elif kind == "cancelByCloid":
        cancels = action.get("cancels")
        if not isinstance(cancels, list) or not all(
            isinstance(c, dict)
            and isinstance(c.get("asset"), int)
            and isinstance(c.get("cloid"), str)
            and _CLOID.match(c["cloid"])
            for c in cancels
        ):
            raise _bad("action.cancels", cancels)
    elif kind == "approveAgent":
        for key in ("hyperliquidChain", "signatureChainId", "agentAddress"):
            if not isinstance(action.get(key), str):
                raise _bad(f"action.{key}", action.get(key))
        if not _ADDR.match(action["agentAddress"]) or not _HEX.match(action["signatureChainId"]):
            raise _bad("action.agentAddress", action["agentAddress"])
        need_int(action, "nonce")
    elif kind != "noop":
        raise BadRequest(f"action: unknown variant `{kind}`")
    return action, nonce


def _err(text: str) -> dict[str, Any]:
    return {"status": "err", "response": text}


def exchange(world: World, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Execute one /exchange body; returns (response, log entry). Raises BadRequest (→ 422)."""
    action, nonce = validate(body)
    now = world.now_ms()
    kind = action["type"]
    entry: dict[str, Any] = {
        "time": now,
        "type": kind,
        "nonce": nonce,
        "signer": None,
        "user": None,
        "vaultAddress": body.get("vaultAddress"),
    }
    resp = _run(world, body, action, nonce, now, entry)
    entry["status"], entry["response"] = resp["status"], resp["response"]
    world.log(world.action_log, entry)
    return resp, entry


def _agent_name(raw: str) -> tuple[str, int | None]:
    """An approveAgent name and its expiry: ``"desk valid_until 1767225600000"`` approves ``desk``
    until that instant (ms); any other name never expires."""
    name, sep, until = raw.partition(" valid_until ")
    if sep and until.isdigit():
        return name, int(until)
    return raw, None


def _run(
    world: World, body: dict[str, Any], action: dict[str, Any], nonce: int, now: int, entry: dict[str, Any]
) -> dict[str, Any]:
    kind = action["type"]
    expires = body.get("expiresAfter")
    vault = body.get("vaultAddress")
    try:
        if kind == "approveAgent":
            digest = approve_agent_digest(action)
        else:
            digest = l1_digest(l1_action_hash(action, nonce, vault, expires))
        signer = recover(digest, body["signature"])
    except (SignatureError, ValueError, OverflowError):
        bogus = "0x" + keccak(repr(body.get("signature")).encode())[-20:].hex()
        return _err(f"L1 error: User or API Wallet {bogus} does not exist.")
    entry["signer"] = signer
    if expires is not None and expires < now:
        return _err(f"Action expired: expiresAfter {expires} is before exchange time {now}")
    if kind == "approveAgent":
        if action.get("hyperliquidChain") != "Testnet":
            return _err("Invalid hyperliquidChain: this exchange verifies as Testnet")
        if not world.is_funded(signer):
            return _err(f"Must deposit before performing actions. User: {signer}")
        user = signer
    else:
        master = world.master_of(signer, now)
        if master is not None:
            user = master
        elif world.is_funded(signer) or signer in world.accounts:
            user = signer
        else:
            return _err(f"L1 error: User or API Wallet {signer} does not exist.")
        if vault is not None and vault.lower() != user:
            return _err(
                f"Vault or sub-account {vault.lower()} does not exist or is not controlled by {user}."
            )
    entry["user"] = user
    problem = world.nonces.check(signer, nonce, now)
    if problem is not None:
        return _err(problem)
    world.nonces.use(signer, nonce)
    if kind == "order":
        statuses = []
        for wire in action["orders"]:
            if wire.get("c") is not None:
                wire = {**wire, "c": wire["c"].lower()}
            st, rec = place_order(world, user, wire, now)
            statuses.append(st)
            world.log(
                world.order_log,
                {
                    "time": now,
                    "user": user,
                    "signer": signer,
                    "nonce": nonce,
                    "cloid": wire.get("c"),
                    "coin": rec.coin if rec else None,
                    "oid": rec.oid if rec else None,
                    "order": wire,
                    "result": st,
                    "status": rec.status if rec else "rejected",
                },
            )
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}
    if kind in ("cancel", "cancelByCloid"):
        out: list[Any] = []
        for c in action["cancels"]:
            if kind == "cancel":
                out.append(cancel(world, user, c["o"], c["a"], now))
            else:
                oid = world.by_cloid.get((user, c["cloid"].lower()))
                out.append(cancel(world, user, oid, c["asset"], now))
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": out}}}
    if kind == "approveAgent":
        name, until = _agent_name(str(action.get("agentName") or ""))
        world.approve_agent(user, action["agentAddress"].lower(), name, until)
        return {"status": "ok", "response": {"type": "default"}}
    return {"status": "ok", "response": {"type": "default"}}
