"""POST /info: the read API (spot, plus the empty perp world the SDK asks for on start)."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

from dcactl.devnet.candles import INTERVALS, candle_snapshot, fmt_px
from dcactl.devnet.universe import amount_str, quote_decimal
from dcactl.devnet.wire import BadRequest, address, need_int
from dcactl.devnet.world import World

__all__ = ["WEIGHTS", "info"]

# Published weights; everything else is 20. Extra weight per items returned is added in `info`.
WEIGHTS: dict[str, int] = {
    "l2Book": 2,
    "allMids": 2,
    "clearinghouseState": 2,
    "orderStatus": 2,
    "spotClearinghouseState": 2,
    "exchangeStatus": 2,
    "userRole": 60,
}
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
_ZERO_SUMMARY = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0", "totalMarginUsed": "0.0"}


def info(world: World, body: dict[str, Any]) -> tuple[Any, int]:
    """Answer one /info body; returns (response, extra weight). Raises BadRequest (→ 422)."""
    kind = body.get("type")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise BadRequest(f"unknown variant `{kind}`")
    out = handler(world, body)
    extra = 0
    if kind in ("userFills", "userFillsByTime", "historicalOrders") and isinstance(out, list):
        extra = len(out) // 20
    elif kind == "candleSnapshot" and isinstance(out, list):
        extra = len(out) // 60
    return out, extra


def _spot_meta(world: World, body: dict[str, Any]) -> Any:
    return world.universe.spot_meta()


def _ctxs(world: World, body: dict[str, Any]) -> Any:
    now = world.now_ms()
    minute = now // 60_000
    ctxs: list[dict[str, Any]] = []
    for p in world.universe.pairs:
        szd = world.sz_decimals(p)
        s = world.series[p.index]
        mid = s.price_at(minute)
        prev = s.price_at(minute - 1_440)
        day_base = Decimal(int(s.minutes(minute - 1_440, minute)[4].sum())).scaleb(-szd)
        ctxs.append(
            {
                "prevDayPx": fmt_px(prev, szd),
                "dayNtlVlm": quote_decimal((day_base * Decimal(str(mid))).quantize(Decimal("0.01"))),
                "markPx": fmt_px(mid, szd),
                "midPx": fmt_px(mid, szd),
                "circulatingSupply": "1000000000.0",
                "coin": p.name,
                "totalSupply": "1000000000.0",
                "dayBaseVlm": quote_decimal(day_base),
            }
        )
    # Not parallel to the universe, as on mainnet: shuffled, with ctxs of delisted pairs mixed in.
    for extra in (990, 991, 997):
        ctxs.append(
            {
                "prevDayPx": "1.0",
                "dayNtlVlm": "0.0",
                "markPx": "1.0",
                "midPx": None,
                "circulatingSupply": "0.0",
                "coin": f"@{extra}",
                "totalSupply": "0.0",
                "dayBaseVlm": "0.0",
            }
        )
    random.Random(world.seed).shuffle(ctxs)  # noqa: S311 (reproducible order, not crypto)
    return [world.universe.spot_meta(), ctxs]


def _all_mids(world: World, body: dict[str, Any]) -> Any:
    return world.mids()


def _l2(world: World, body: dict[str, Any]) -> Any:
    coin = body.get("coin")
    if not isinstance(coin, str):
        raise BadRequest("coin: invalid type: expected a string")
    pair = world.universe.by_name.get(coin)
    if pair is None:
        return None
    now = world.now_ms()
    mid = world.mid(pair, now)
    book = world.books[pair.index]
    return {
        "coin": coin,
        "time": now,
        "levels": [
            [
                {"px": quote_decimal(lv.px), "sz": quote_decimal(lv.sz), "n": lv.n}
                for lv in book.levels(side, mid, now)
            ]
            for side in ("bids", "asks")
        ],
    }


def _candles(world: World, body: dict[str, Any]) -> Any:
    req = body.get("req")
    if not isinstance(req, dict):
        raise BadRequest("req: missing field")
    coin, interval = req.get("coin"), req.get("interval")
    if not isinstance(coin, str) or interval not in INTERVALS:
        raise BadRequest(f"req: invalid coin or interval {interval!r}")
    start = need_int(req, "startTime")
    end = need_int(req, "endTime", optional=True)
    pair = world.universe.by_name.get(coin)
    if pair is None:
        return []
    now = world.now_ms()
    assert start is not None
    return candle_snapshot(
        world.series[pair.index],
        coin,
        str(interval),
        start,
        now if end is None else end,
        now,
        world.sz_decimals(pair),
    )


def _perp_meta(world: World, body: dict[str, Any]) -> Any:
    return {"universe": [], "marginTables": [], "collateralToken": 0}


def _perp_state(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    usdc = quote_decimal(acct.perp_usdc) if acct is not None and acct.perp_usdc else "0.0"
    summary = {**_ZERO_SUMMARY, "accountValue": usdc, "totalRawUsd": usdc}
    return {
        "marginSummary": summary,
        "crossMarginSummary": summary,
        "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": usdc,
        "assetPositions": [],
        "time": world.now_ms(),
    }


def _spot_state(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    if acct is None:
        return {"balances": []}
    out = []
    for token in sorted(set(acct.balances) | set(acct.holds)):
        total = acct.balances.get(token, Decimal(0))
        hold = acct.holds.get(token, Decimal(0))
        if total == 0 and hold == 0:
            continue
        out.append(
            {
                "coin": world.universe.token(token).name,
                "token": token,
                "hold": amount_str(hold),
                "total": amount_str(total),
                "entryNtl": "0.0",
            }
        )
    return {"balances": out}


def _user_role(world: World, body: dict[str, Any]) -> Any:
    return world.role(address(body))


def _extra_agents(world: World, body: dict[str, Any]) -> Any:
    agents = world.agents.get(address(body), {})
    return [
        {"name": name, "address": addr, "validUntil": until or 0} for name, (addr, until) in agents.items()
    ]


def _open_orders(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    return [] if acct is None else [o.basic() for o in sorted(acct.open.values(), key=lambda o: -o.oid)]


def _frontend_open_orders(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    return [] if acct is None else [o.frontend() for o in sorted(acct.open.values(), key=lambda o: -o.oid)]


def _order_status(world: World, body: dict[str, Any]) -> Any:
    user = address(body)
    ref = body.get("oid")
    if isinstance(ref, str) and _CLOID.match(ref):
        oid = world.by_cloid.get((user, ref.lower()))
    elif isinstance(ref, int) and not isinstance(ref, bool):
        oid = ref
    else:
        raise BadRequest(f"oid: invalid value {ref!r}")
    rec = world.orders.get(oid) if oid is not None else None
    if rec is None or rec.user != user:
        return {"status": "unknownOid"}
    return {
        "status": "order",
        "order": {"order": rec.frontend(), "status": rec.status, "statusTimestamp": rec.status_ts},
    }


def _user_fills(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    return [] if acct is None else acct.recent_fills(2_000)


def _user_fills_by_time(world: World, body: dict[str, Any]) -> Any:
    user = address(body)
    start = need_int(body, "startTime")
    end = need_int(body, "endTime", optional=True)
    acct = world.accounts.get(user)
    if acct is None:
        return []
    assert start is not None
    page = acct.fills_between(
        start, end if end is not None else 2**63, world.fills_cap, newest=world.fills_keep == "newest"
    )
    return page[::-1] if world.fills_order == "desc" else page


def _historical_orders(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    if acct is None:
        return []
    recs = [world.orders[o] for o in acct.oids[-2_000:] if o in world.orders][::-1]
    return [{"order": r.frontend(), "status": r.status, "statusTimestamp": r.status_ts} for r in recs]


def _user_rate_limit(world: World, body: dict[str, Any]) -> Any:
    acct = world.accounts.get(address(body))
    n = 0 if acct is None else len(acct.oids)
    vlm = (
        Decimal(0)
        if acct is None
        else sum((Decimal(f["px"]) * Decimal(f["sz"]) for f in acct.fills[-10_000:]), Decimal(0))
    )
    return {
        "cumVlm": quote_decimal(vlm.quantize(Decimal("0.01"))),
        "nRequestsUsed": n,
        "nRequestsCap": 10_000 + int(vlm),
        "nRequestsSurplus": 0,
    }


def _exchange_status(world: World, body: dict[str, Any]) -> Any:
    return {"time": world.now_ms(), "specialStatuses": None}


_HANDLERS = {
    "spotMeta": _spot_meta,
    "spotMetaAndAssetCtxs": _ctxs,
    "allMids": _all_mids,
    "l2Book": _l2,
    "candleSnapshot": _candles,
    "meta": _perp_meta,
    "clearinghouseState": _perp_state,
    "spotClearinghouseState": _spot_state,
    "userRole": _user_role,
    "extraAgents": _extra_agents,
    "openOrders": _open_orders,
    "frontendOpenOrders": _frontend_open_orders,
    "orderStatus": _order_status,
    "userFills": _user_fills,
    "userFillsByTime": _user_fills_by_time,
    "historicalOrders": _historical_orders,
    "userRateLimit": _user_rate_limit,
    "exchangeStatus": _exchange_status,
}
