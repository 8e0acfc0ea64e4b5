"""The devnet HTTP server: /info, /exchange, the CoinGecko double and the /devnet/ admin routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiohttp import web

from dcactl.devnet import admin
from dcactl.devnet import state as state_mod
from dcactl.devnet.appkeys import CTL, Control
from dcactl.devnet.coingecko import market_chart, simple_price
from dcactl.devnet.faults import Faults
from dcactl.devnet.handlers_exchange import exchange
from dcactl.devnet.handlers_info import WEIGHTS, info
from dcactl.devnet.trading import match_resting
from dcactl.devnet.universe import default_universe, load_universe
from dcactl.devnet.wire import BadRequest, NotJson, json_response, read_api_json, unprocessable
from dcactl.devnet.world import World

__all__ = ["create_app", "serve"]

log = logging.getLogger("dcactl.devnet")
SAVE_EVERY_S = 0.5
HANG_AFTER: web.RequestKey[int] = web.RequestKey("hang_after_ms", int)


def _ip(request: web.Request) -> str:
    return request.remote or "?"


async def _pre(request: web.Request, path: str, kind: str | None, weight: int) -> web.StreamResponse | None:
    """Faults that act before the handler (latency, 5xx, 429, hang) and the rate limit."""
    ctl = request.app[CTL]
    for rule in ctl.faults.pick(path, kind, ("latency",)):
        await asyncio.sleep(max(0.0, ctl.faults.delay_ms(rule)) / 1000)
    for rule in ctl.faults.pick(path, kind, ("error", "429", "hang")):
        if rule.kind == "error":
            return web.Response(status=rule.status, text=f"{rule.status} injected server error")
        if rule.kind == "429":
            return json_response(None, 429)  # the real 429's body is the JSON null (§7)
        if not rule.after:
            await asyncio.sleep(rule.hang_ms / 1000)
            _drop(request)
            return web.Response(status=504, text="hung")
        request[HANG_AFTER] = rule.hang_ms
    if ctl.rate_limit and not ctl.limiter.charge(_ip(request), weight):
        return json_response(None, 429)
    return None


def _drop(request: web.Request) -> None:
    """Close the connection without a reply."""
    if request.transport is not None:
        request.transport.close()


async def _post(
    request: web.Request, path: str, kind: str | None, resp: web.StreamResponse
) -> web.StreamResponse:
    """Faults that act after the handler ran (hang-after, drop, answer)."""
    ctl = request.app[CTL]
    hang = request.get(HANG_AFTER)
    if hang:
        await asyncio.sleep(hang / 1000)
    if ctl.faults.pick(path, kind, ("drop",)):
        _drop(request)
    for rule in ctl.faults.pick(path, kind, ("answer",)):
        # the request was carried out; what reaches the client is another answer (as a proxy's)
        return web.Response(status=rule.status, text=rule.body or "", content_type=rule.content_type)
    return resp


async def handle_info(request: web.Request) -> web.StreamResponse:
    """POST /info."""
    ctl = request.app[CTL]
    try:
        body = await read_api_json(request)
    except NotJson as exc:
        return exc.response()
    except BadRequest as exc:
        return unprocessable(str(exc))
    kind = body.get("type") if isinstance(body.get("type"), str) else None
    early = await _pre(request, "/info", kind, WEIGHTS.get(kind or "", 20))
    if early is not None:
        return early
    if match_resting(ctl.world, ctl.world.now_ms()):  # the walk went through resting orders: maker fills
        ctl.dirty = True
    ctl.world.log(
        ctl.world.request_log, {"time": ctl.world.now_ms(), "path": "/info", "type": kind, "body": body}
    )
    try:
        out, extra = info(ctl.world, body)
    except BadRequest as exc:
        return unprocessable(str(exc))
    if extra and ctl.rate_limit:
        ctl.limiter.add(_ip(request), extra)
    return await _post(request, "/info", kind, json_response(out))


async def handle_exchange(request: web.Request) -> web.StreamResponse:
    """POST /exchange."""
    ctl = request.app[CTL]
    try:
        body = await read_api_json(request)
    except NotJson as exc:
        return exc.response()
    except BadRequest as exc:
        return unprocessable(str(exc))
    action = body.get("action")
    if not isinstance(action, dict):
        action = {}
    kind = action.get("type") if isinstance(action.get("type"), str) else None
    orders = action.get("orders")
    n = len(orders) if kind == "order" and isinstance(orders, list) else 1
    early = await _pre(request, "/exchange", kind, 1 + n // 40)
    if early is not None:
        return early
    if match_resting(ctl.world, ctl.world.now_ms()):
        ctl.dirty = True
    try:
        out, _entry = exchange(ctl.world, body)
    except BadRequest as exc:
        return unprocessable(str(exc))
    ctl.dirty = True
    return await _post(request, "/exchange", kind, json_response(out))


async def handle_cg_price(request: web.Request) -> web.StreamResponse:
    """GET /coingecko/api/v3/simple/price."""
    ctl = request.app[CTL]
    q = dict(request.query)
    early = await _pre(request, "/coingecko", "simple/price", 0)
    if early is not None:
        return early
    ctl.world.log(
        ctl.world.request_log,
        {"time": ctl.world.now_ms(), "path": request.path, "type": "simple/price", "query": q},
    )
    status, out = simple_price(ctl.world, q)
    return await _post(request, "/coingecko", "simple/price", json_response(out, status))


async def handle_cg_chart(request: web.Request) -> web.StreamResponse:
    """GET /coingecko/api/v3/coins/{id}/market_chart."""
    ctl = request.app[CTL]
    q = dict(request.query)
    cg_id = request.match_info["id"]
    early = await _pre(request, "/coingecko", "market_chart", 0)
    if early is not None:
        return early
    ctl.world.log(
        ctl.world.request_log,
        {"time": ctl.world.now_ms(), "path": request.path, "type": "market_chart", "id": cg_id, "query": q},
    )
    status, out = market_chart(ctl.world, cg_id, q)
    return await _post(request, "/coingecko", "market_chart", json_response(out, status))


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn admin BadRequests into 400s and any bug into a one-line 500 (never a traceback)."""
    try:
        resp: web.StreamResponse = await handler(request)
        if not resp.prepared:  # the exchange's clock (settable), as a real server's Date header shows it
            resp.headers["Date"] = formatdate(request.app[CTL].world.now_ms() / 1000, usegmt=True)
        return resp
    except BadRequest as exc:
        return json_response({"error": str(exc)}, 400)
    except web.HTTPException:
        raise
    except ConnectionError:  # the client went away mid-request (a killed dcactl): nothing to answer
        return web.Response(status=499)
    except Exception as exc:
        log.exception("devnet: internal error on %s", request.path)
        return json_response({"error": f"internal devnet error: {exc.__class__.__name__}"}, 500)


async def _saver(app: web.Application) -> Any:
    ctl = app[CTL]

    async def loop() -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            if ctl.dirty:
                ctl.save()

    task = asyncio.create_task(loop()) if ctl.state is not None else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    ctl.save()


def create_app(
    seed: int = 0,
    fund: dict[str, Decimal] | None = None,
    state: Path | None = None,
    universe: Path | None = None,
    rate_limit: bool = True,
) -> web.Application:
    """A devnet application: `fund` maps addresses to USDC credited at start to every one the state
    file does not already hold; `state` is the SQLite file loaded now and saved every 0.5 s when
    changed and at shutdown. Raises ValueError for a bad universe file."""
    world = World(load_universe(universe) if universe is not None else default_universe(), seed)
    if state is not None:
        state_mod.load(world, state)
    kept: list[str] = []
    for addr, amount in (fund or {}).items():
        # a state file keeps its balances: only an account it does not hold yet is funded (a restart
        # with the same --fund never mints the money again; a new --fund address still gets it)
        if world.is_funded(addr.lower()):
            kept.append(addr.lower())
        else:
            world.fund(addr.lower(), 0, amount)
    dice = random.Random(seed)  # noqa: S311 (reproducible fault dice, not cryptography)
    ctl = Control(world, rate_limit=rate_limit, state=state, faults=Faults(dice), kept_funds=kept)
    app = web.Application(middlewares=[_guard], client_max_size=8 * 1024 * 1024)
    app[CTL] = ctl
    app.add_routes(
        [
            web.post("/info", handle_info),
            web.post("/exchange", handle_exchange),
            web.get("/coingecko/api/v3/simple/price", handle_cg_price),
            web.get("/coingecko/api/v3/coins/{id}/market_chart", handle_cg_chart),
            *admin.routes(),
        ]
    )
    app.cleanup_ctx.append(_saver)
    return app


async def run_app(
    app: web.Application, host: str, port: int, started: Any = None, stop: asyncio.Event | None = None
) -> None:
    """Serve `app` until `stop` is set (or SIGINT/SIGTERM when `stop` is None); prints the URL line."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    addresses = runner.addresses
    real_port = int(addresses[0][1]) if addresses else port
    url = f"http://{host}:{real_port}"
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"devnet listening on {url} (signatures verified as testnet)", flush=True)
    if started is not None:
        started(url)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(
    host: str = "127.0.0.1",
    port: int = 3001,
    seed: int = 0,
    fund: dict[str, Decimal] | None = None,
    state: Path | None = None,
    universe: Path | None = None,
    rate_limit: bool = True,
) -> None:
    """Run a devnet until SIGINT/SIGTERM (blocking). Prints one line
    `devnet listening on http://HOST:PORT (signatures verified as testnet)`; saves --state on exit."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    import errno

    app = create_app(seed=seed, fund=fund, state=state, universe=universe, rate_limit=rate_limit)
    for addr in app[CTL].kept_funds:
        print(f"devnet: {state} already holds {addr}; --fund left its balance as it was", file=sys.stderr)
    try:
        asyncio.run(run_app(app, host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DevnetAddressInUse(f"{host}:{port} is in use (another devnet?); pass --port") from None
        raise


class DevnetAddressInUse(Exception):
    """The devnet's address is taken. The CLI turns it into a usage error (exit 2)."""
