"""Reading Hyperliquid answers into dcactl's types: order statuses, order-action results.

Pure (no I/O). Unreadable ``/exchange`` answers become :class:`OrderOutcomeUnknown` (the orders may
exist); a whole-action ``{"status": "err"}`` becomes ExchangeError (InsufficientBalance when it says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from dcactl.errors import ExchangeError, ExchangeUnavailable, InsufficientBalance
from dcactl.models import from_ms
from dcactl.venues.base import Book, BookLevel, OrderOutcome, OrderOutcomeUnknown, OrderRequest, OrderStatus


def dec_field(value: Any) -> Decimal:
    """An exchange decimal (string, int or JSON number parsed as Decimal) → Decimal; ValueError if not."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
    raise ValueError(f"not a decimal: {value!r}")


def shape_error(what: str, exc: Exception) -> ExchangeUnavailable:
    return ExchangeUnavailable(f"Hyperliquid {what}: unexpected answer ({type(exc).__name__}: {exc})")


def statuses_of(data: Any, what: str, n: int, cloids: tuple[str, ...]) -> list[Any]:
    """``response.data.statuses`` of an ok answer; raises for err answers and unreadable ones."""
    if isinstance(data, dict) and data.get("status") == "err":
        text = str(data.get("response"))
        cls = InsufficientBalance if "insufficient" in text.lower() else ExchangeError
        raise cls(f"Hyperliquid {what}: refused: {text}")
    statuses: Any = None
    try:
        if isinstance(data, dict) and data.get("status") == "ok":
            statuses = data["response"]["data"]["statuses"]
    except (KeyError, TypeError):
        statuses = None
    if not isinstance(statuses, list) or len(statuses) != n:
        raise OrderOutcomeUnknown(
            f"Hyperliquid {what}: unreadable answer; the outcome is unknown until checked by cloid", cloids
        )
    return statuses


def parse_order_response(
    data: Any, orders: Sequence[OrderRequest], what: str, cloids: tuple[str, ...]
) -> list[OrderOutcome]:
    statuses = statuses_of(data, what, len(orders), cloids)
    outcomes: list[OrderOutcome] = []
    for i, (status, order) in enumerate(zip(statuses, orders, strict=True)):
        try:
            outcomes.append(_parse_one(status, order))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise OrderOutcomeUnknown(
                f"Hyperliquid {what}: unreadable status for order {i} ({order.describe()}); "
                "the outcome is unknown until checked by cloid", cloids,
            ) from exc
    return outcomes


def _parse_one(status: Any, order: OrderRequest) -> OrderOutcome:
    if "filled" in status:
        f = status["filled"]
        return OrderOutcome("filled", oid=int(f["oid"]), total_sz=dec_field(f["totalSz"]),
                            avg_px=dec_field(f["avgPx"]), cloid=f.get("cloid", order.cloid))
    if "resting" in status:
        r = status["resting"]
        return OrderOutcome("resting", oid=int(r["oid"]), cloid=r.get("cloid", order.cloid))
    if "error" in status:
        return OrderOutcome("error", error=str(status["error"]), cloid=order.cloid)
    raise ValueError(f"unknown order status {status!r}")


def parse_order_status(data: Any) -> OrderStatus:
    if data.get("status") == "unknownOid":
        return OrderStatus(known=False)
    if data.get("status") != "order":
        raise ValueError(f"unexpected status {data.get('status')!r}")
    wrapper = data["order"]
    order = wrapper["order"]
    ts = wrapper.get("statusTimestamp")
    return OrderStatus(
        known=True,
        status=str(wrapper["status"]),
        oid=int(order["oid"]),
        cloid=order.get("cloid"),
        coin=order.get("coin"),
        side=order.get("side"),
        limit_px=dec_field(order["limitPx"]) if "limitPx" in order else None,
        orig_sz=dec_field(order["origSz"]) if "origSz" in order else None,
        remaining_sz=dec_field(order["sz"]) if "sz" in order else None,
        status_time=from_ms(int(ts)) if ts is not None else None,
        tif=order.get("tif"),
        placed_time=from_ms(int(order["timestamp"])) if order.get("timestamp") is not None else None,
        raw=dict(data),
    )


def _level(x: Any) -> BookLevel:
    return BookLevel(dec_field(x["px"]), dec_field(x["sz"]), int(x.get("n", 1)))


def parse_book(data: Any, coin: str) -> Book:
    """An ``l2Book`` answer → Book (bids, asks best first). Raises KeyError/TypeError/ValueError."""
    bids, asks = data["levels"][0], data["levels"][1]
    t = data.get("time")
    return Book(
        coin=str(data.get("coin", coin)),
        time=from_ms(int(t)) if t is not None else None,
        bids=tuple(_level(x) for x in bids),
        asks=tuple(_level(x) for x in asks),
    )
