"""Order placement, matching against the synthetic book, fees, and cancels.

Per-order outcomes use the exchange's texts (docs/devnet.md lists them). The taker fee
(TAKER_FEE, 0.07 %) is charged in the token received: base for buys, quote for sells.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from eth_hash.auto import keccak

from dcactl.devnet.accounts import OrderRec
from dcactl.devnet.universe import Pair, amount_str, quote_decimal
from dcactl.devnet.validation import parse_decimal, valid_px, valid_sz
from dcactl.devnet.world import MAKER_FEE, TAKER_FEE, World

__all__ = ["cancel", "place_order", "settle"]

MIN_NOTIONAL = Decimal(10)


def _q(x: Decimal, decimals: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


PRICE_BAND = (Decimal("0.2"), Decimal(5))
"""A limit must lie within these multiples of the mark price (measured on testnet, §7)."""


def _reject(world: World, rec: OrderRec, status: str, text: str) -> dict[str, Any]:
    """A refused order: in the devnet's own log (admin, historicalOrders) with its status, but with no
    order id the client can use: ``orderStatus`` by its cloid answers ``unknownOid`` (§7)."""
    rec.status, rec.status_ts = status, rec.timestamp
    _store(world, rec, known=False)
    return {"error": text}


def _affordable(asks: list[Any], limit: Decimal, size: Decimal, funds: Decimal, szd: int) -> Decimal:
    """The largest lot-aligned part of a buy of ``size`` up to ``limit`` that ``funds`` pay for at the
    book's prices (best first)."""
    lot = Decimal(1).scaleb(-szd)
    got, cost = Decimal(0), Decimal(0)
    for level in asks:
        if level.px > limit or got >= size:
            break
        q = min(level.sz, size - got)
        if cost + q * level.px > funds:
            q = ((funds - cost) / level.px).quantize(lot, rounding=ROUND_DOWN)
            got += max(q, Decimal(0))
            break
        got, cost = got + q, cost + q * level.px
    return got.quantize(lot, rounding=ROUND_DOWN)


def _store(world: World, rec: OrderRec, *, known: bool = True) -> None:
    world.orders[rec.oid] = rec
    world.account(rec.user).oids.append(rec.oid)
    if rec.cloid is not None and known:
        world.by_cloid[(rec.user, rec.cloid)] = rec.oid


def place_order(
    world: World, user: str, wire: dict[str, Any], now_ms: int
) -> tuple[dict[str, Any], OrderRec | None]:
    """Place one order (an `orders[i]` wire dict, types already checked) for `user`; returns its
    status ({"filled": {...}}, {"resting": {...}} or {"error": text}) and its record."""
    before = world.next_oid
    st = _place(world, user, wire, now_ms)
    return st, (world.orders.get(world.next_oid) if world.next_oid != before else None)


def _place(world: World, user: str, wire: dict[str, Any], now_ms: int) -> dict[str, Any]:
    asset = int(wire["a"])
    pair = world.universe.by_asset.get(asset)
    if pair is None:
        return {"error": f"Order has invalid asset. asset={asset}"}
    px, sz = parse_decimal(wire["p"]), parse_decimal(wire["s"])
    tif = str(wire["t"].get("limit", {}).get("tif", "Gtc")) if "limit" in wire["t"] else "Trigger"
    cloid = wire.get("c")
    szd = world.sz_decimals(pair)
    rec = OrderRec(
        world.new_oid(),
        user,
        pair.name,
        asset,
        "B" if wire["b"] else "A",
        px if px is not None else Decimal(0),
        sz if sz is not None else Decimal(0),
        sz if sz is not None else Decimal(0),
        tif,
        cloid,
        now_ms,
        "open",
        now_ms,
    )
    if tif == "Trigger":
        return _reject(world, rec, "rejected", "Trigger orders are not supported for spot on the devnet.")
    if px is None or px <= 0:
        return _reject(world, rec, "rejected", "Order has invalid price.")
    if sz is None or not valid_sz(sz, szd):
        return _reject(world, rec, "rejected", "Order has invalid size.")
    if not valid_px(px, szd):
        return _reject(world, rec, "tickRejected", f"Price must be divisible by tick size. asset={asset}")
    quote_name = world.universe.token(pair.quote).name
    mid = world.mid(pair, now_ms)
    low, high = PRICE_BAND
    if not low * mid <= px <= high * mid:
        return _reject(world, rec, "oracleRejected", f"Order price too far from oracle. asset={asset}")
    acct = world.account(user)
    buy = rec.side == "B"
    paying = pair.quote if buy else pair.base
    if acct.available(paying) <= 0:  # a zero balance wins over everything after it (§7)
        return _reject(
            world, rec, "insufficientSpotBalanceRejected", "Order has insufficient spot balance to trade"
        )
    book = world.books[pair.index]
    side = "asks" if buy else "bids"
    top = book.levels(side, mid, now_ms)
    crosses = bool(top) and (px >= top[0].px if buy else px <= top[0].px)
    if tif == "Ioc" and not crosses:  # "no crossing liquidity" wins over the minimum
        return _reject(
            world, rec, "iocCancelRejected",
            f"Order could not immediately match against any resting orders. asset={asset}",
        )
    # the minimum is measured at the first price that crosses (the limit for an order that rests)
    first = top[0].px if crosses and tif != "Alo" else px
    if first * sz < MIN_NOTIONAL:
        return _reject(
            world,
            rec,
            "minTradeNtlRejected",
            f"Order must have minimum value of 10 {quote_name}. asset={asset}",
        )
    if tif in ("Gtc", "Alo") and acct.available(paying) < (px * sz if buy else sz):
        return _reject(  # what rests must be held in full
            world, rec, "insufficientSpotBalanceRejected", "Order has insufficient spot balance to trade"
        )
    if tif == "Alo":
        if crosses:
            bids, asks = book.levels("bids", mid, now_ms), book.levels("asks", mid, now_ms)
            bbo = f"{quote_decimal(bids[0].px) if bids else '0'}@{quote_decimal(asks[0].px) if asks else '0'}"
            return _reject(
                world,
                rec,
                "badAloPxRejected",
                f"Post only order would have immediately matched, bbo was {bbo}. asset={asset}",
            )
        fills: list[tuple[Decimal, Decimal]] = []
    elif not crosses:
        fills = []  # a GTC below the book rests whole (held above)
    else:
        # affordability at execution prices: an affordable, lot-aligned part of the order may fill
        funds = acct.available(paying)
        lot = Decimal(1).scaleb(-szd)
        if buy:
            want = _affordable(top, px, sz, funds, szd)
        else:
            want = min(sz, funds).quantize(lot, rounding=ROUND_DOWN)
        if want <= 0:
            return _reject(
                world, rec, "insufficientSpotBalanceRejected", "Order has insufficient spot balance to trade"
            )
        fills = book.take(side, mid, now_ms, px, want)
    _store(world, rec)
    total = sum((q for _p, q in fills), Decimal(0))
    notional = sum((p * q for p, q in fills), Decimal(0))
    if fills:
        settle(world, rec, pair, fills, now_ms)
    rec.sz = sz - total
    if rec.sz > 0 and tif in ("Gtc", "Alo"):
        acct.holds[pair.quote if buy else pair.base] = acct.holds.get(
            pair.quote if buy else pair.base, Decimal(0)
        ) + (px * rec.sz if buy else rec.sz)
        acct.open[rec.oid] = rec
        out: dict[str, Any] = {"oid": rec.oid}
        if cloid is not None:
            out["cloid"] = cloid
        return {"resting": out}
    if not fills:
        rec.status, rec.sz = "iocCancelRejected", Decimal(0)
        return {"error": "Order could not immediately match against any resting orders."}
    rec.status, rec.status_ts = "filled", now_ms
    avg = (notional / total).quantize(Decimal("1e-8")).normalize()
    filled: dict[str, Any] = {"totalSz": quote_decimal(total), "avgPx": quote_decimal(avg), "oid": rec.oid}
    if cloid is not None:
        filled["cloid"] = cloid
    rec.sz = Decimal(0)
    return {"filled": filled}


def settle(
    world: World, rec: OrderRec, pair: Pair, fills: list[tuple[Decimal, Decimal]], now: int,
    *, maker: bool = False,
) -> None:
    """Move balances and record one fill per level taken (a ``maker`` fill: the user's maker rate, which
    may be a rebate, and ``crossed: false``)."""
    acct = world.account(rec.user)
    rate = world.maker_rates.get(rec.user, MAKER_FEE) if maker else TAKER_FEE
    base, quote = world.universe.token(pair.base), world.universe.token(pair.quote)
    buy = rec.side == "B"
    tx_hash = "0x" + keccak(f"{world.seed}:{rec.oid}:{rec.user}".encode()).hex()
    for px, q in fills:
        start = acct.balances.get(pair.base, Decimal(0))
        if buy:
            fee = _q(q * rate, base.wei_decimals)
            acct.add(pair.quote, -(px * q))
            acct.add(pair.base, q - fee)
            fee_token = base.name
        else:
            fee = _q(px * q * rate, quote.wei_decimals)
            acct.add(pair.base, -q)
            acct.add(pair.quote, px * q - fee)
            fee_token = quote.name
        fill: dict[str, Any] = {
            "coin": pair.name,
            "px": quote_decimal(px),
            "sz": quote_decimal(q),
            "side": rec.side,
            "time": now,
            "startPosition": amount_str(start),
            "dir": "Buy" if buy else "Sell",
            "closedPnl": "0.0",
            "hash": tx_hash,
            "oid": rec.oid,
            "crossed": not maker,
            "fee": quote_decimal(fee),
            "tid": world.new_tid(),
            "feeToken": fee_token,
            "twapId": None,
        }
        if rec.cloid is not None:
            fill["cloid"] = rec.cloid
        acct.add_fill(fill)


def match_resting(world: World, now_ms: int) -> int:
    """Resting orders the book has moved through fill now, whole, at their limit, as maker fills (the
    price walk is the rest of the market trading against them). Returns how many filled."""
    filled = 0
    for acct in list(world.accounts.values()):
        for oid, rec in list(acct.open.items()):
            pair = world.universe.by_asset[rec.asset]
            buy = rec.side == "B"
            top = world.books[pair.index].levels("asks" if buy else "bids", world.mid(pair, now_ms), now_ms)
            if not top or (top[0].px > rec.limit_px if buy else top[0].px < rec.limit_px):
                continue
            token = pair.quote if buy else pair.base
            acct.holds[token] = acct.holds.get(token, Decimal(0)) - (rec.limit_px * rec.sz if buy else rec.sz)
            del acct.open[oid]
            settle(world, rec, pair, [(rec.limit_px, rec.sz)], now_ms, maker=True)
            rec.sz, rec.status, rec.status_ts = Decimal(0), "filled", now_ms
            filled += 1
    return filled


def cancel(world: World, user: str, oid: int | None, asset: int, now_ms: int) -> str | dict[str, str]:
    """Cancel an open order of `user`: "success" or {"error": text}."""
    rec = world.orders.get(oid) if oid is not None else None
    acct = world.account(user)
    if rec is None or rec.user != user or rec.asset != asset or rec.oid not in acct.open:
        return {"error": f"Order was never placed, already canceled, or filled. asset={asset}"}
    pair = world.universe.by_asset[asset]
    token = pair.quote if rec.side == "B" else pair.base
    acct.holds[token] = acct.holds.get(token, Decimal(0)) - (
        rec.limit_px * rec.sz if rec.side == "B" else rec.sz
    )
    del acct.open[rec.oid]
    rec.status, rec.status_ts = "canceled", now_ms
    return "success"
