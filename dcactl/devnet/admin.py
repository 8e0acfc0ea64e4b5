"""Admin routes under /devnet/ (never part of the Hyperliquid surface). See docs/devnet.md."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from dcactl.devnet.accounts import OrderRec
from dcactl.devnet.appkeys import CTL
from dcactl.devnet.faults import Fault
from dcactl.devnet.prices import load_replay_csv
from dcactl.devnet.trading import settle
from dcactl.devnet.universe import Pair, quote_decimal
from dcactl.devnet.validation import parse_decimal
from dcactl.devnet.wire import BadRequest, address, json_response, read_json
from dcactl.devnet.world import World

__all__ = ["routes"]


def _pair(world: World, body: dict[str, Any]) -> Pair:
    coin = body.get("coin")
    pair = world.universe.resolve(coin) if isinstance(coin, str) else None
    if pair is None:
        raise BadRequest(f"unknown coin {coin!r}")
    return pair


def _dec(body: dict[str, Any], key: str) -> Decimal:
    v = body.get(key)
    d = parse_decimal(str(v)) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else None
    if d is None:
        raise BadRequest(f"{key}: expected a decimal, got {v!r}")
    return d


def _token(world: World, spec: Any) -> int:
    if isinstance(spec, int) and 0 <= spec < len(world.universe.tokens):
        return spec
    for t in world.universe.tokens:
        if isinstance(spec, str) and t.name.upper() == spec.upper():
            return t.index
    pair = world.universe.resolve(spec) if isinstance(spec, str) else None
    if pair is not None:
        return pair.base
    raise BadRequest(f"unknown token {spec!r}")


def balances(world: World, user: str) -> dict[str, str]:
    """{token name: total} of `user` (non-zero only)."""
    acct = world.accounts.get(user)
    if acct is None:
        return {}
    return {
        world.universe.token(t).name: quote_decimal(v) for t, v in sorted(acct.balances.items()) if v != 0
    }


async def fund(request: web.Request) -> web.Response:
    """POST {"address", "usdc"?, "token"?, "amount"?, "perpUsdc"?}: credit spot USDC, a token and/or
    perp USDC."""
    world = request.app[CTL].world
    body = await read_json(request)
    user = address(body, "address")
    if body.get("usdc") is not None:
        world.fund(user, 0, _dec(body, "usdc"))
    if body.get("perpUsdc") is not None:
        world.fund_perp(user, _dec(body, "perpUsdc"))
    if body.get("token") is not None:
        world.fund(user, _token(world, body["token"]), _dec(body, "amount"))
    request.app[CTL].dirty = True
    return json_response({"address": user, "balances": balances(world, user)})


async def get_balances(request: web.Request) -> web.Response:
    """GET ?address=: {"address", "balances": {token: total}, "holds": {token: hold}}."""
    world = request.app[CTL].world
    user = address(dict(request.query), "address")
    acct = world.accounts.get(user)
    holds = (
        {}
        if acct is None
        else {world.universe.token(t).name: quote_decimal(v) for t, v in acct.holds.items() if v != 0}
    )
    return json_response({"address": user, "balances": balances(world, user), "holds": holds})


async def set_price(request: web.Request) -> web.Response:
    """POST {"coin", "px", "pin"?}: move the price to px now (the walk continues from it unless pinned)."""
    world = request.app[CTL].world
    body = await read_json(request)
    pair, px = _pair(world, body), float(_dec(body, "px"))
    if px <= 0:
        raise BadRequest("px must be positive")
    s = world.series[pair.index]
    minute = world.now_ms() // 60_000
    if body.get("pin"):
        s.add_event(minute, "pin", px)
    else:
        s.add_event(minute, "mul", px / s.price_at(minute))
    request.app[CTL].dirty = True
    return json_response({"coin": pair.name, "mid": str(world.mid(pair))})


async def shock(request: web.Request) -> web.Response:
    """POST {"coin", "pct"}: multiply the price by (1 + pct/100) from now on (persists)."""
    world = request.app[CTL].world
    body = await read_json(request)
    pair, pct = _pair(world, body), float(_dec(body, "pct"))
    if pct <= -100:
        raise BadRequest("pct must be above -100")
    world.series[pair.index].add_event(world.now_ms() // 60_000, "mul", 1 + pct / 100)
    request.app[CTL].dirty = True
    return json_response({"coin": pair.name, "mid": str(world.mid(pair))})


async def replay(request: web.Request) -> web.Response:
    """POST {"coin", "csv": text | null, "anchor"?: "end"|"absolute"}: replay candles (null clears)."""
    world = request.app[CTL].world
    body = await read_json(request)
    pair = _pair(world, body)
    s = world.series[pair.index]
    text = body.get("csv")
    if text is None:
        s.set_replay(None)
        return json_response({"coin": pair.name, "mid": str(world.mid(pair))})
    if not isinstance(text, str):
        raise BadRequest("csv: expected text")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "replay.csv"
        path.write_text(text)
        try:
            rep = load_replay_csv(path, world.now_ms() // 60_000, str(body.get("anchor", "end")), s.lot)
        except ValueError as exc:
            raise BadRequest(str(exc).replace(str(path), "csv")) from exc
    s.set_replay(rep)
    return json_response({"coin": pair.name, "mid": str(world.mid(pair)), "minutes": len(rep.o)})


def _since(request: web.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    user = request.query.get("user")
    out = rows if user is None else [r for r in rows if r.get("user") == user.lower()]
    since = request.query.get("since")
    return out if since is None else [r for r in out if int(r["time"]) >= int(since)]


async def orders(request: web.Request) -> web.Response:
    """GET ?user=&since=: every order received, oldest first, with signer, nonce, cloid, result."""
    return json_response(_since(request, request.app[CTL].world.order_log))


async def actions(request: web.Request) -> web.Response:
    """GET ?user=&since=: every /exchange action (signed or not) with signer, nonce, status."""
    return json_response(_since(request, request.app[CTL].world.action_log))


async def requests_log(request: web.Request) -> web.Response:
    """GET ?path=&type=: the /info and CoinGecko request log; DELETE clears it."""
    log = request.app[CTL].world.request_log
    if request.method == "DELETE":
        log.clear()
        return json_response({"cleared": True})
    out = log
    if "path" in request.query:
        out = [r for r in out if r["path"].startswith(request.query["path"])]
    if "type" in request.query:
        out = [r for r in out if r.get("type") == request.query["type"]]
    return json_response(out)


async def reset(request: web.Request) -> web.Response:
    """POST: forget accounts, orders, nonces, agents, logs, price overrides and faults."""
    ctl = request.app[CTL]
    ctl.world.reset()
    ctl.faults.rules.clear()
    ctl.limiter.used.clear()
    ctl.limiter.sums.clear()
    ctl.dirty = True
    return json_response({"reset": True})


async def faults(request: web.Request) -> web.Response:
    """GET lists rules; POST {"faults": [spec, ...]} or one spec adds; DELETE clears."""
    ctl = request.app[CTL]
    if request.method == "POST":
        body = await read_json(request)
        specs = body["faults"] if isinstance(body.get("faults"), list) else [body]
        try:
            ctl.faults.rules.extend(Fault.parse(s) for s in specs)
        except (ValueError, TypeError) as exc:
            raise BadRequest(str(exc)) from exc
    elif request.method == "DELETE":
        ctl.faults.rules.clear()
    return json_response([r.to_json() for r in ctl.faults.rules])


async def clock(request: web.Request) -> web.Response:
    """GET {"ms", "frozen"}; POST {"ms": int | null}: freeze the exchange clock at ms, or unfreeze."""
    world = request.app[CTL].world
    if request.method == "POST":
        body = await read_json(request)
        ms = body.get("ms")
        if ms is not None and (not isinstance(ms, int) or isinstance(ms, bool)):
            raise BadRequest("ms: expected an integer or null")
        world.clock_ms = ms
    return json_response({"ms": world.now_ms(), "frozen": world.clock_ms is not None})


async def inject_fills(request: web.Request) -> web.Response:
    """POST {"user", "coin", "count", "sz", "px", "startMs"?, "stepMs"?, "perOrder"?}: record
    `count` buy fills quickly (balances move, no checks), `perOrder` fills per synthetic order."""
    ctl = request.app[CTL]
    world = ctl.world
    body = await read_json(request)
    user, pair = address(body), _pair(world, body)
    count = int(body.get("count", 1))
    per = max(1, int(body.get("perOrder", 1)))
    sz, px = _dec(body, "sz"), _dec(body, "px")
    t = int(body.get("startMs", world.now_ms()))
    step = int(body.get("stepMs", 0))
    acct = world.account(user)
    rec: OrderRec | None = None
    for i in range(count):
        if rec is None or i % per == 0:
            rec = OrderRec(
                world.new_oid(),
                user,
                pair.name,
                pair.asset,
                "B",
                px,
                sz * per,
                Decimal(0),
                "Ioc",
                None,
                t,
                "filled",
                t,
            )
            world.orders[rec.oid] = rec
            acct.oids.append(rec.oid)
        settle(world, rec, pair, [(px, sz)], t)
        t += step
    ctl.dirty = True
    return json_response({"user": user, "fills": count, "lastTime": t - step})


async def fill_paging(request: web.Request) -> web.Response:
    """GET {"keep", "order", "cap"}; POST any of them: how ``userFillsByTime`` answers a window holding
    more than ``cap`` fills — its most recent (``"newest"``, the default) or its ``"earliest"`` ``cap``,
    oldest first (``"asc"``, the default) or newest first (``"desc"``) — the readings of the real API
    that sources disagree on (hyperliquid-api.md §7); ``cap`` (default 2000) lets a test fill a window
    with a handful of fills. ``reset`` restores the defaults."""
    ctl = request.app[CTL]
    world = ctl.world
    if request.method == "POST":
        body = await read_json(request)
        keep, order, cap = body.get("keep"), body.get("order"), body.get("cap")
        if keep is not None and keep not in ("newest", "earliest"):
            raise BadRequest(f"keep: expected 'newest' or 'earliest', got {keep!r}")
        if order is not None and order not in ("asc", "desc"):
            raise BadRequest(f"order: expected 'asc' or 'desc', got {order!r}")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            raise BadRequest(f"cap: expected a positive integer, got {cap!r}")
        world.fills_keep = keep or world.fills_keep
        world.fills_order = order or world.fills_order
        world.fills_cap = cap or world.fills_cap
    return json_response({"keep": world.fills_keep, "order": world.fills_order, "cap": world.fills_cap})


async def get_fills(request: web.Request) -> web.Response:
    """GET ?user=: every fill the devnet holds for ``user`` (its newest 10 000), oldest first — the
    truth a test compares a synced ledger with (``userFills`` stops at 2000)."""
    world = request.app[CTL].world
    acct = world.accounts.get(address(dict(request.query)))
    return json_response([] if acct is None else acct.kept_fills())


async def maker_rate(request: web.Request) -> web.Response:
    """POST {"user", "rate"}: the user's maker fee rate from now on (0.0004 by default; negative: a
    rebate, as the exchange pays makers in its higher tiers)."""
    ctl = request.app[CTL]
    body = await read_json(request)
    user, rate = address(body), _dec(body, "rate")
    if not Decimal("-0.01") <= rate <= Decimal("0.01"):
        raise BadRequest(f"rate: expected a fraction within ±0.01, got {rate}")
    ctl.world.maker_rates[user] = rate
    return json_response({"user": user, "rate": str(rate)})


async def dust(request: web.Request) -> web.Response:
    """POST {"user", "coin", "sz", "px", "timeMs"?}: a spot dust conversion as mainnet records one —
    the token sold into USDC off the tick grid, ``tid`` 0, an all-zero hash, no fee — so a client
    that deduplicates fills by trade id alone loses all but the first (hyperliquid-api.md §7)."""
    ctl = request.app[CTL]
    world = ctl.world
    body = await read_json(request)
    user, pair = address(body), _pair(world, body)
    sz, px = _dec(body, "sz"), _dec(body, "px")
    t = int(body.get("timeMs", world.now_ms()))
    acct = world.account(user)
    start = acct.balances.get(pair.base, Decimal(0))
    acct.add(pair.base, -sz)
    acct.add(pair.quote, px * sz)
    oid = world.new_oid()
    acct.add_fill({
        "coin": pair.name, "px": str(px), "sz": str(sz), "side": "A", "time": t,
        "startPosition": str(start), "dir": "Spot Dust Conversion", "closedPnl": "0.0",
        "hash": "0x" + "0" * 64, "oid": oid, "crossed": True, "fee": "0.0", "tid": 0,
        "feeToken": world.universe.token(pair.quote).name, "twapId": None,
    })
    ctl.dirty = True
    return json_response({"user": user, "oid": oid, "time": t})


async def save(request: web.Request) -> web.Response:
    """POST: write the --state file now (no-op without one)."""
    ctl = request.app[CTL]
    ctl.save()
    return json_response({"saved": ctl.state is not None})


async def health(request: web.Request) -> web.Response:
    """GET: {"ok": true, "seed", "time"}."""
    world = request.app[CTL].world
    return json_response({"ok": True, "seed": world.seed, "time": world.now_ms(), "chain": "Testnet"})


def routes() -> list[web.RouteDef]:
    """The admin route table."""
    r = web
    return [
        r.post("/devnet/fund", fund),
        r.get("/devnet/balances", get_balances),
        r.post("/devnet/price", set_price),
        r.post("/devnet/shock", shock),
        r.post("/devnet/replay", replay),
        r.get("/devnet/orders", orders),
        r.get("/devnet/actions", actions),
        r.get("/devnet/requests", requests_log),
        r.delete("/devnet/requests", requests_log),
        r.post("/devnet/reset", reset),
        r.get("/devnet/faults", faults),
        r.post("/devnet/faults", faults),
        r.delete("/devnet/faults", faults),
        r.get("/devnet/clock", clock),
        r.post("/devnet/clock", clock),
        r.post("/devnet/fills", inject_fills),
        r.get("/devnet/fills", get_fills),
        r.get("/devnet/fill-paging", fill_paging),
        r.post("/devnet/fill-paging", fill_paging),
        r.post("/devnet/dust", dust),
        r.post("/devnet/maker-rate", maker_rate),
        r.post("/devnet/save", save),
        r.get("/devnet/health", health),
    ]
