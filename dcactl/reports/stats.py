"""Statistics a careful spreadsheet would give: positions, PnL, tax lots. Pure: no I/O.

All money is in **USDC** (the quote token of Hyperliquid spot), which is not the same thing as USD;
units are base-token units. Definitions (per asset and source; see ``PositionRow``):

- ``units``: units held = Σ buy sizes − Σ sell sizes − fees paid in the base token (a spot buy's
  fee is usually taken from the bought token, so it is *already* out of ``units``).
- ``invested_usd``: Σ size × price of the buys, before fees.
- ``fees_usd``: every fee valued in USDC — a USDC fee as is, a base-token fee × its fill price.
  Informational: base-token fees are already in ``units`` and USDC fees in the cost below, so PnL
  never counts a fee twice.
- ``cost_usd``: what the buys took from the wallet = ``invested_usd`` + buy fees paid in USDC.
- ``avg_cost``: ``cost_usd`` / units the buys delivered (net of base-token fees), USDC per unit —
  the break-even price; with no sells it is ``cost_usd / units``.
- ``value_usd``: ``units`` × mid (None when no mid is known).
- ``pnl_usd``: ``value_usd`` − cost of the units held (``avg_cost × units``; = ``cost_usd`` with no
  sells); ``pnl_pct`` = ``pnl_usd`` / that cost × 100, rounded to 0.01.
Sells (possible among synced external fills) reduce units at average cost; their realised result
is not part of ``status`` (see :func:`lots` for FIFO disposals).

A fill whose fee is unknown (the earlier bot's imported trades) adds no fee to any of these; rows
and totals count such fills in ``fees_unknown`` so nothing presents them as free. Money in the JSON
documents and exports is given at USDC's precision on the exchange (:func:`money`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from dcactl.models import DUST_REASON, QUOTE, Fill, json_record, json_value

if TYPE_CHECKING:  # importing dcactl.ledger at run time would pull in sqlite; stats stays pure
    from dcactl.config.schema import AssetConfig
    from dcactl.ledger.records import HistoryRow, PositionRow, TradeRow, TradeText

REAL_SOURCES = ("dcactl", "external", "imported")
"""Sources of real fills; ``paper`` is always reported apart."""
AVG_COST_PLACES = Decimal("1E-8")
"""avg_cost and per-unit lot costs are rounded half-even to 8 decimals (USDC per unit)."""
USD_PLACES = Decimal("1E-8")
"""USDC's precision on Hyperliquid (its ``weiDecimals``, 8): derived USDC amounts (value, PnL, partial
lot costs) and the money in JSON documents and exports are rounded half-even to it."""
PCT_PLACES = Decimal("0.01")


def _q(value: Decimal, places: Decimal, context: Context | None = None) -> Decimal:
    """Round half-even to ``places``, then drop trailing zeros (209.85300000 → 209.853; never 1E+2)."""
    rounded = value.quantize(places, rounding=ROUND_HALF_EVEN, context=context).normalize(context)
    if rounded.as_tuple().exponent > 0:  # type: ignore[operator]
        return rounded.quantize(Decimal(1), context=context)
    return rounded


_WIDE = Context(prec=60)
"""Room for any size × price of the ledger (its text keeps every digit), whatever the process's context."""


def money(value: Decimal | None) -> Decimal | None:
    """A USDC amount at the exchange's precision for a JSON document or export: rounded half-even to 8
    decimals, trailing zeros dropped (an imported float's 15.0000000000000013144134 → 15). The ledger
    keeps every digit; only what is shown is rounded. None stays None."""
    return None if value is None else _q(value, USD_PLACES)


def _money(value: Decimal | None) -> str | None:
    """:func:`money` as JSON text (None stays None)."""
    return None if value is None else _places_text(value, USD_PLACES)


def _places_text(value: Decimal, places: Decimal) -> str:
    """``format(_q(value, places), "f")`` for fractional ``places``, without its normalize step: round
    half-even in the current context (the same quantize, the same errors), then trim the text's
    trailing zeros and a bare point ("100.00000000" → "100", "-0.00000000" → "-0"). An export calls
    it several times per lot. The text is ``str``'s when that has no exponent (the same digits; it is
    cheaper than ``format(..., "f")``), as :func:`_plain` writes it."""
    rounded = value.quantize(places, ROUND_HALF_EVEN)  # positional: cheaper than the keyword
    text = str(rounded)
    if "E" in text:
        text = format(rounded, "f")
    return text.rstrip("0").rstrip(".")


def _plain(value: Decimal) -> str:
    """``format(value, "f")``: a decimal in plain notation with every digit it has. By ``str`` when
    that writes no exponent (then the two are the same text: exponent ≤ 0, adjusted ≥ −6), which is
    cheaper; an export writes two per lot."""
    text = str(value)
    return format(value, "f") if "E" in text else text


_DIVISION = Context(prec=50)
"""The context of :func:`_div`: the default one at 50 digits (a Context object, not ``localcontext``,
which costs more than the division on the per-lot path of an export)."""


def _div(a: Decimal, b: Decimal) -> Decimal:
    """a / b to 50 significant digits, half-even. Raises decimal.DivisionByZero for b = 0."""
    return _DIVISION.divide(a, b)


@dataclass(frozen=True)
class StatusRow:
    """One row of ``status``: an asset from one source. USDC amounts; units in base token.

    ``next_due`` is filled in by the caller (stats knows no schedules). Fields as in the module
    docstring; ``avg_cost``/``value_usd``/``pnl_*`` are None when undefined (no units, no mid).
    ``fills``: the fills behind the row; ``fees_unknown``: how many of them have an unknown fee
    (``fees_usd`` is the sum of the known ones).
    """

    asset: str
    source: str
    units: Decimal
    invested_usd: Decimal
    cost_usd: Decimal
    avg_cost: Decimal | None
    fees_usd: Decimal
    value_usd: Decimal | None
    pnl_usd: Decimal | None
    pnl_pct: Decimal | None
    buys: int
    first_buy: datetime | None
    last_buy: datetime | None
    mid: Decimal | None = None
    next_due: datetime | None = None
    fills: int = 0
    fees_unknown: int = 0

    @property
    def fees_all_unknown(self) -> bool:
        """Every fill of the row has an unknown fee: its fees are unknown, not 0."""
        return self.fees_unknown > 0 and self.fees_unknown >= self.fills

    def to_json(self) -> dict[str, Any]:
        """The ``status --json`` asset object of PRODUCT.md: decimals as strings (money at USDC's
        precision), times ISO UTC; ``fees_usd`` null when every fee of the row is unknown, and
        ``fees_unknown`` the number of fills whose fee is."""
        doc = json_record(self, ("asset", "source", "units"))
        doc |= {"invested_usd": _money(self.invested_usd), "avg_cost": json_value(self.avg_cost),
                "fees_usd": None if self.fees_all_unknown else _money(self.fees_usd),
                "fees_unknown": self.fees_unknown, "value_usd": _money(self.value_usd),
                "pnl_usd": _money(self.pnl_usd)}
        return doc | json_record(self, ("pnl_pct", "buys", "first_buy", "last_buy", "next_due"))


@dataclass(frozen=True)
class Totals:
    """Sums over the rows of one group (a source, or all real sources). ``value_usd``/``pnl_*`` are
    None when a row of the group has no mid (a partial total would mislead). ``fees_usd`` sums the
    known fees; ``fees_unknown`` counts the group's fills whose fee is unknown, and
    ``fees_all_unknown`` says no fee of the group is known."""

    invested_usd: Decimal
    cost_usd: Decimal
    fees_usd: Decimal
    value_usd: Decimal | None
    pnl_usd: Decimal | None
    pnl_pct: Decimal | None
    buys: int
    fees_unknown: int = 0
    fees_all_unknown: bool = False

    def to_json(self) -> dict[str, Any]:
        """Decimals as strings, money at USDC's precision; ``fees_usd`` null when no fee is known."""
        return {
            "invested_usd": _money(self.invested_usd), "cost_usd": _money(self.cost_usd),
            "fees_usd": None if self.fees_all_unknown else _money(self.fees_usd),
            "fees_unknown": self.fees_unknown, "value_usd": _money(self.value_usd),
            "pnl_usd": _money(self.pnl_usd), "pnl_pct": json_value(self.pnl_pct), "buys": self.buys,
        }


def status_row(p: PositionRow, mid: Decimal | None) -> StatusRow:
    """One position and its mid (USDC per unit, or None) → a StatusRow (definitions above)."""
    with localcontext() as ctx:
        ctx.prec = 60  # sums and products of exact ledger decimals stay exact
        return _status_row(p, mid)


def _status_row(p: PositionRow, mid: Decimal | None) -> StatusRow:
    cost = p.invested_usd + p.buy_fees_usdc
    avg = _div(cost, p.bought_units) if p.bought_units > 0 else None
    held_cost = cost if p.sold_units == 0 else (_q(avg * p.units, USD_PLACES) if avg is not None else None)
    value = _q(p.units * mid, USD_PLACES) if mid is not None else None
    pnl = value - held_cost if value is not None and held_cost is not None else None
    pct = _q(_div(pnl * 100, held_cost), PCT_PLACES) if pnl is not None and held_cost else None
    return StatusRow(
        asset=p.asset, source=p.source, units=p.units, invested_usd=p.invested_usd, cost_usd=cost,
        avg_cost=None if avg is None else _q(avg, AVG_COST_PLACES), fees_usd=p.fees_usd, value_usd=value,
        pnl_usd=pnl, pnl_pct=pct, buys=p.buys, first_buy=p.first_buy, last_buy=p.last_buy, mid=mid,
        fills=p.buys + p.sells, fees_unknown=p.unknown_fees,
    )


def status_rows(positions: Iterable[PositionRow], mids: Mapping[str, Decimal | None]) -> list[StatusRow]:
    """Positions and mids by asset symbol → StatusRows, real sources first, then paper.

    An asset missing from ``mids`` is treated as having no price.
    """
    order = {s: i for i, s in enumerate((*REAL_SOURCES, "paper"))}
    rows = [status_row(p, mids.get(p.asset)) for p in positions]
    return sorted(rows, key=lambda r: (order.get(r.source, len(order)), r.asset))


def totals(rows: Sequence[StatusRow]) -> dict[str, Totals]:
    """Totals per source, plus ``real`` (dcactl + external + imported); paper only under ``paper``."""
    groups: dict[str, list[StatusRow]] = {}
    for r in rows:
        groups.setdefault(r.source, []).append(r)
        if r.source in REAL_SOURCES:
            groups.setdefault("real", []).append(r)
    out: dict[str, Totals] = {}
    for name, members in groups.items():
        cost = sum((r.cost_usd for r in members), Decimal(0))
        held = sum((r.value_usd - r.pnl_usd for r in members
                    if r.value_usd is not None and r.pnl_usd is not None), Decimal(0))
        priced = all(r.value_usd is not None and r.pnl_usd is not None for r in members)
        value = sum((r.value_usd for r in members if r.value_usd is not None), Decimal(0)) if priced else None
        pnl = sum((r.pnl_usd for r in members if r.pnl_usd is not None), Decimal(0)) if priced else None
        out[name] = Totals(
            invested_usd=sum((r.invested_usd for r in members), Decimal(0)), cost_usd=cost,
            fees_usd=sum((r.fees_usd for r in members), Decimal(0)), value_usd=value, pnl_usd=pnl,
            pnl_pct=_q(_div(pnl * 100, held), PCT_PLACES) if pnl is not None and held else None,
            buys=sum(r.buys for r in members), fees_unknown=sum(r.fees_unknown for r in members),
            fees_all_unknown=all(r.fees_all_unknown or not r.fills for r in members)
            and any(r.fees_unknown for r in members),
        )
    return out


HISTORY_COLUMNS = ("time", "asset", "pair", "side", "size", "price", "usd", "fee", "fee_token", "tid", "oid",
                   "cloid", "hash", "source", "period", "reason")
"""Columns of ``history --format csv|json`` (PRODUCT.md), in order."""


def history_rows(rows: Iterable[HistoryRow]) -> Iterator[tuple[str | int | None, ...]]:
    """Each ledger row (``Ledger.iter_history``) as a ``history`` row, the :data:`HISTORY_COLUMNS` in
    order: decimals as plain strings (size, price and fee as recorded; ``usd`` = size × price, USDC
    before fees, at USDC's precision: :func:`money`), time ISO-8601 UTC, absent values None. An unknown
    fee is None with its token (never 0). The one formatter of every ``history`` output (table, CSV,
    JSON): a generator over plain tuples, as an export writes a million of them.

    The recorded text is written as it is (it is ``format(value, "f")`` of the recorded decimal, which
    that format gives back unchanged) and ``usd`` comes from the ledger's exact integer companions by
    integer arithmetic (``codec.money_text``, equal to :func:`money`); a fill whose companions are
    inexact (a legacy float's many digits) or negative takes the Decimal route."""
    # the ledger's encoding, imported here: at module level dcactl.ledger would pull in sqlite
    from dcactl.ledger.codec import iso_text, money_text

    for (time_us, asset, pair, side, size, price, fee, fee_token, tid, oid, cloid, hash_, source, period,
         reason, fee_unknown, usd_hi, usd_lo, approx) in rows:
        if approx or usd_hi < 0:
            usd = format(_q(_WIDE.multiply(Decimal(size), Decimal(price)), USD_PLACES, _WIDE), "f")
        else:
            usd = money_text(usd_hi, usd_lo)
        yield (iso_text(time_us), asset, pair, side, size, price, usd, None if fee_unknown else fee,
               None if fee_unknown else fee_token, tid, oid, cloid, hash_, source, period, reason)


# -- tax lots ------------------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOTHING = Decimal(0)
"""A lot's proceeds until a sell gives it some (the one object: :func:`lot_rows` knows it is 0)."""


@dataclass(slots=True)  # slots: a long FIFO queue of open lots stays small
class Lot:
    """A cost-basis lot, in USDC (not USD). For FIFO one per real buy fill; for ``average`` one
    pooled lot per asset (``tid`` None, ``acquired`` = first buy, ``source`` "pooled" when mixed).

    ``units`` acquired = size − base-token fee; ``cost_usd`` = size × price + USDC fee;
    ``units_remaining``/``cost_remaining_usd`` after the sells up to the end of the year (FIFO, or
    at average cost); ``proceeds_usd`` of the units it gave up to those sells (size × price − USDC
    fee, proportionally); ``in_year`` when acquired within the tax year.
    """

    asset: str
    acquired_us: int
    source: str
    tid: str | None
    units: Decimal
    cost_usd: Decimal
    units_remaining: Decimal
    cost_remaining_usd: Decimal
    proceeds_usd: Decimal = _NOTHING
    in_year: bool = False
    fills: int = 1

    @property
    def acquired(self) -> datetime:
        """When it was acquired (the first buy of a pooled lot), UTC-aware; ``acquired_us`` is the
        same instant in integer microseconds since the epoch."""
        return _EPOCH + timedelta(microseconds=self.acquired_us)

    @property
    def unit_cost(self) -> Decimal | None:
        """Cost per unit acquired (USDC per base unit), 8 decimals; None for an empty lot."""
        return _q(_div(self.cost_usd, self.units), AVG_COST_PLACES) if self.units > 0 else None

    def to_json(self) -> dict[str, Any]:
        """Decimals as strings (as :func:`~dcactl.models.json_value` writes them), times ISO UTC;
        values in USDC at USDC's precision (:func:`money`). Keys: the fields in order, then
        ``unit_cost``. The values of :func:`lot_rows`."""
        (asset, acquired, source, tid, units, cost, unit_cost, remaining, cost_remaining, proceeds, in_year,
         fills) = next(lot_rows((self,)))
        return {"asset": asset, "acquired": acquired, "source": source, "tid": tid, "units": units,
                "cost_usd": cost, "units_remaining": remaining, "cost_remaining_usd": cost_remaining,
                "proceeds_usd": proceeds, "in_year": in_year, "fills": fills, "unit_cost": unit_cost}


LOT_COLUMNS = ("asset", "acquired", "source", "tid", "units", "cost_usd", "unit_cost", "units_remaining",
               "cost_remaining_usd", "proceeds_usd", "in_year")
"""``lots --format csv``: one lot a row (USDC values, times ISO UTC), as in the JSON document."""


BornLot = tuple[str, int, str, str, Decimal, Decimal, bool]
"""A FIFO lot no sell can touch any more, final as its buy is read, as :func:`iter_lot_rows` takes it
from the lot book instead of a :class:`Lot`: (asset, acquired_us, source, tid, units, cost_usd,
in_year); its remaining units and cost are those it was bought with, its proceeds 0, one fill."""


def lot_rows(lots: Iterable[Lot | BornLot]) -> Iterator[tuple[Any, ...]]:
    """Each lot as its export row: the :data:`LOT_COLUMNS` in order, then ``fills``. Decimals as plain
    text (units as computed, money at USDC's precision: :func:`money`; the unit cost at 8 decimals,
    None for an empty lot), the time ISO-8601 UTC, ``in_year`` a bool. The one formatter of a lot's
    values (``Lot.to_json``, the CSV and JSON exports): a generator over plain tuples, as an export
    writes a million of them. Rounds in the current decimal context, as ``money`` does.

    A lot no sell touched holds the very objects it was made with (remaining = acquired, no
    proceeds): their text is written once. So is a :data:`BornLot`'s, the same lot without the
    object. (:func:`_places_text`, inline for the cost and the unit cost: a call costs as much as
    the rest of it.)"""
    from dcactl.ledger.codec import iso_text  # at module level dcactl.ledger would pull in sqlite

    usd, per_unit, nothing, divide, half_even = (USD_PLACES, AVG_COST_PLACES, _NOTHING, _DIVISION.divide,
                                                 ROUND_HALF_EVEN)
    for lot in lots:
        if isinstance(lot, Lot):
            asset, acquired_us, source, tid, units, cost_usd = (
                lot.asset, lot.acquired_us, lot.source, lot.tid, lot.units, lot.cost_usd)
            remaining, cost_remaining, proceeds = (
                lot.units_remaining, lot.cost_remaining_usd, lot.proceeds_usd)
            in_year, fills = lot.in_year, lot.fills
        else:
            asset, acquired_us, source, tid, units, cost_usd, in_year = lot
            remaining, cost_remaining, proceeds, fills = units, cost_usd, nothing, 1
        units_text = str(units)
        if "E" in units_text:  # _plain, inline
            units_text = format(units, "f")
        rounded = cost_usd.quantize(usd, half_even)  # _places_text, inline
        cost = str(rounded)
        if "E" in cost:
            cost = format(rounded, "f")
        cost = cost.rstrip("0").rstrip(".")
        if units > 0:
            rounded = divide(cost_usd, units).quantize(per_unit, half_even)  # _div, _places_text, inline
            text = str(rounded)
            if "E" in text:
                text = format(rounded, "f")
            unit_cost: str | None = text.rstrip("0").rstrip(".")
        else:
            unit_cost = None
        yield (asset, iso_text(acquired_us), source, tid, units_text, cost, unit_cost,
               units_text if remaining is units else _plain(remaining),
               cost if cost_remaining is cost_usd else _places_text(cost_remaining, usd),
               "0" if proceeds is nothing else _places_text(proceeds, usd), in_year, fills)


LOT_CHUNK = 1024
"""Fills :func:`iter_lots` reads per step (its exact decimal context is entered once per step)."""


def year_bounds(year: int, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """[1 January of ``year``, 1 January of ``year + 1``) in ``tz`` (aware datetimes)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def lots(fills: Iterable[Fill | TradeRow], year: int, tz: str | tzinfo,
         method: Literal["fifo", "average"] = "fifo") -> list[Lot]:
    """Cost-basis lots of every real buy (dcactl, external, imported — never paper) acquired before
    the end of tax ``year`` (year boundaries in ``tz``), after the real sells before that end.

    FIFO: each sell consumes the oldest remaining units of its asset first (proportionally to cost);
    lots fully consumed are still returned (``units_remaining`` 0) so disposals are traceable.
    ``average``: one pooled lot per asset; sells remove units at the pool's average cost. Pass
    non-superseded fills (``Ledger.fills()``), in any order. Sorted by asset, then acquisition time.
    Holds every fill: for a large ledger stream them through :func:`iter_lots`. Raises ValueError
    for an unknown method.
    """
    _check_method(method)
    end = year_bounds(year, tz)[1]
    real = sorted((f for f in fills if f.source in REAL_SOURCES and f.time < end),
                  key=lambda f: (f.asset, f.time, f.tid))
    return list(iter_lots(real, year, tz, method))


def iter_lots(fills: Iterable[Fill | TradeRow | TradeText], year: int, tz: str | tzinfo,
              method: Literal["fifo", "average"] = "fifo", *,
              sells: Mapping[str, int] | None = None) -> Iterator[Lot]:
    """The lots of :func:`lots`, the same values in the same order, computed as ``fills`` arrive.

    ``fills`` must come ordered by asset, then time, then trade id (``Ledger.iter_trades``, or
    ``Ledger.iter_trade_texts``: their decimals as text, read here once each); paper fills and
    fills from the end of the year on are skipped. A lot is yielded once nothing can change
    it any more: when sells have emptied it, or when no sell of its asset is left — known from
    ``sells`` (per asset, how many real sells before the year's end ``fills`` hold, as
    ``Ledger.sell_counts`` gives them in the same snapshot), else at the end of its asset. So memory
    holds the open FIFO queue of one asset (nothing more for an asset without later sells) and one
    chunk of fills. Raises ValueError for an unknown method, assets or times out of order, or a sell
    beyond the ones ``sells`` counted.
    """
    for ready in _final_lots(fills, year, tz, method, sells, born=False):
        yield from ready


def iter_lot_rows(fills: Iterable[Fill | TradeRow | TradeText], year: int, tz: str | tzinfo,
                  method: Literal["fifo", "average"] = "fifo", *,
                  sells: Mapping[str, int] | None = None) -> Iterator[tuple[Any, ...]]:
    """``lot_rows(iter_lots(...))`` with the same arguments: the same rows, in the same order, read as
    lazily. Cheaper: a lot no sell can touch any more as its buy is read (FIFO, its asset's counted
    sells all read) is formatted from its values (:data:`BornLot`), with no :class:`Lot` made for
    it. What an export writes, a million lots at a time. Raises what :func:`iter_lots` raises."""
    for ready in _final_lots(fills, year, tz, method, sells, born=True):
        yield from lot_rows(ready)


def _final_lots(fills: Iterable[Fill | TradeRow | TradeText], year: int, tz: str | tzinfo, method: str,
                sells: Mapping[str, int] | None, *, born: bool) -> Iterator[list[Any]]:
    """The lots of :func:`iter_lots` a list at a time, as they become final (``born``: as
    :data:`BornLot` tuples where the lot book makes them so). Each list is yielded outside the exact
    decimal context the lots are computed in."""
    from dcactl.ledger.codec import to_us  # at module level dcactl.ledger would pull in sqlite

    _check_method(method)
    start, end = year_bounds(year, tz)
    book = _LotBook(method == "fifo", to_us(start), to_us(end), sells, born=born)
    it = iter(fills)
    fetch = getattr(it, "fetchmany", None)  # a cursor of rows (Ledger.iter_trade_texts): lists from C
    # rows as TradeRow holds them (a Fill's fields in that order, its time in integer microseconds); a
    # list per chunk, not a generator per fill
    while chunk := fetch(LOT_CHUNK) if fetch is not None else [
            f if isinstance(f, tuple) else (to_us(f.time), f.asset, f.side, f.size, f.price, f.fee,
                                            f.fee_token, f.tid, f.source, f.reason)
            for f in islice(it, LOT_CHUNK)]:
        with localcontext() as ctx:  # entered per chunk, never across a yield (it would leak out)
            ctx.prec = 60  # products of exact decimals stay exact
            ready = book.add(chunk)
        yield ready
    yield book.finish()


def _check_method(method: str) -> None:
    if method not in ("fifo", "average"):
        raise ValueError(f"unknown lot method {method!r} (fifo or average)")


class _LotBook:
    """The running state of :func:`iter_lots`: the current asset and its lots not yet final (the FIFO
    queue, oldest first, or the one pooled lot). Times are integer microseconds since the epoch; a
    fill's decimals Decimals or their text (``Decimal()`` of a Decimal is that very object). Call
    ``add`` inside the exact decimal context."""

    def __init__(self, fifo: bool, start_us: int, end_us: int, sells: Mapping[str, int] | None, *,
                 born: bool = False) -> None:
        self.fifo = fifo
        self.born = born
        """A lot final as its buy is read comes out as a :data:`BornLot`, not a :class:`Lot`."""
        self.start_us = start_us
        self.end_us = end_us
        self.sells = sells
        self.asset: str | None = None
        self.last: int | None = None
        self.open: deque[Lot] = deque()
        self.sells_left: int | None = None
        """Sells of the current asset still to come; None: unknown (hold its lots to its end)."""

    def add(self, fills: Iterable[tuple[Any, ...]]) -> list[Any]:
        """Take in ``fills`` (the next ones, in order, as TradeRow or TradeText tuples); return the lots
        that became final (Lots; BornLots among them when ``born``)."""
        ready: list[Any] = []
        start, end, fifo, real, dec, born = (self.start_us, self.end_us, self.fifo, REAL_SOURCES, Decimal,
                                             self.born)
        for time_us, asset, side, size_, price_, fee_, fee_token, tid, source, _reason in fills:
            if source not in real or time_us >= end:
                continue
            size, price, fee = dec(size_), dec(price_), dec(fee_)
            if asset != self.asset:
                ready += self._next_asset(asset)
            elif self.last is not None and time_us < self.last:
                when = (_EPOCH + timedelta(microseconds=time_us)).isoformat()
                raise ValueError(f"fills of {asset} out of time order at {when}")
            self.last = time_us
            fee_base = fee_token.upper() != QUOTE
            if side == "B":
                units = size - fee if fee_base else size
                cost = size * price
                if not fee_base:
                    cost += fee
                if fifo and self.sells_left == 0:  # no sell left to touch it: final as it is bought
                    ready.append((asset, time_us, source, tid, units, cost, time_us >= start) if born else
                                 Lot(asset, time_us, source, tid, units, cost, units, cost, _NOTHING,
                                     time_us >= start))
                    continue
                lot = Lot(asset, time_us, source, tid, units, cost, units, cost, _NOTHING, time_us >= start)
                if not fifo and self.open:
                    _pool_into(self.open[0], lot)
                else:
                    self.open.append(lot)
                continue
            if self.sells_left is not None:
                if self.sells_left == 0:
                    raise ValueError(f"more sells of {asset} than counted (did the ledger change?)")
                self.sells_left -= 1
            sold = size + fee if fee_base else size
            proceeds = size * price
            if not fee_base:
                proceeds -= fee
            _consume(self.open, sold, proceeds)
            if fifo:  # the emptied lots at the front are final; all of them when no sell is left
                while self.open and (self.sells_left == 0 or self.open[0].units_remaining <= 0):
                    ready.append(self.open.popleft())
        return ready

    def finish(self) -> list[Lot]:
        """The lots still held (the last asset's): all final now."""
        return self._next_asset(None)

    def _next_asset(self, asset: str | None) -> list[Lot]:
        if asset is not None and self.asset is not None and asset < self.asset:
            raise ValueError(f"fills out of asset order: {asset} after {self.asset}")
        done = list(self.open)
        self.open.clear()
        self.asset, self.last = asset, None
        self.sells_left = None if self.sells is None or asset is None else self.sells.get(asset, 0)
        return done


@dataclass(frozen=True)
class Disposal:
    """A real sell within the tax year: its units (fee in the base token included), proceeds in USDC
    (size × price − a USDC fee) and kind: ``sell``, or ``dust conversion`` (the exchange sold a dust
    balance into USDC)."""

    asset: str
    time: datetime
    source: str
    kind: str
    units: Decimal
    proceeds_usd: Decimal

    def to_json(self) -> dict[str, Any]:
        """Decimals as strings, times ISO UTC."""
        return {k: json_value(v) for k, v in self.__dict__.items()}


def disposals(fills: Iterable[Fill | TradeRow], year: int, tz: str | tzinfo) -> list[Disposal]:
    """The real sells of tax ``year`` (boundaries in ``tz``), oldest first, each with its kind."""
    start, end = year_bounds(year, tz)
    sells = (f for f in fills if f.source in REAL_SOURCES and f.side == "A" and start <= f.time < end)
    return list(iter_disposals(sorted(sells, key=lambda f: (f.time, f.tid))))


def iter_disposals(sells: Iterable[Fill | TradeRow]) -> Iterator[Disposal]:
    """Each of ``sells`` as a :class:`Disposal`, in the order given: pass a year's real sells by time,
    then trade id (``Ledger.iter_sells``), as :func:`disposals` does."""
    for f in sells:
        fee_base = f.fee_token.upper() != QUOTE
        units = f.size + (f.fee if fee_base else Decimal(0))
        proceeds = f.size * f.price - (Decimal(0) if fee_base else f.fee)
        kind = "dust conversion" if f.reason == DUST_REASON else "sell"
        yield Disposal(f.asset, f.time, f.source, kind, units, _q(proceeds, USD_PLACES))


def _pool_into(pooled: Lot, lot: Lot) -> None:
    pooled.units += lot.units
    pooled.cost_usd += lot.cost_usd
    pooled.units_remaining += lot.units_remaining
    pooled.cost_remaining_usd += lot.cost_remaining_usd
    pooled.in_year = pooled.in_year or lot.in_year
    pooled.fills += 1
    pooled.tid = None
    if pooled.source != lot.source:
        pooled.source = "pooled"


def _consume(open_lots: Iterable[Lot], units: Decimal, proceeds: Decimal) -> None:
    """Take ``units`` out of the oldest lots first; cost leaves each lot at its own unit cost.

    A sell larger than what is held (units bought before the ledger's history) empties the lots
    and the excess is ignored.
    """
    total = units
    for lot in open_lots:
        if units <= 0:
            break
        if lot.units_remaining <= 0:
            continue
        take = min(units, lot.units_remaining)
        share = _div(take, lot.units_remaining)
        lot.cost_remaining_usd = (
            Decimal(0) if take == lot.units_remaining
            else _q(lot.cost_remaining_usd - lot.cost_remaining_usd * share, USD_PLACES)
        )
        lot.units_remaining -= take
        lot.proceeds_usd += _q(_div(proceeds * take, total), USD_PLACES) if total else Decimal(0)
        units -= take


__all__ = [
    "HISTORY_COLUMNS", "LOT_COLUMNS", "BornLot", "Disposal", "Lot", "StatusRow", "Totals", "disposals",
    "history_rows", "iter_disposals", "iter_lot_rows", "iter_lots", "lot_rows", "lots", "money", "status_row",
    "status_rows", "totals", "year_bounds",
]


# --- spending and runway -------------------------------------------------------------------

DAYS_PER_UNIT: Mapping[str, Decimal] = {
    "hour": Decimal(1) / 24, "day": Decimal(1), "week": Decimal(7), "month": Decimal("30.4375"),
}
"""Nominal length in days of a calendar period (a month is 365.25 / 12 days)."""


def period_days(asset: AssetConfig) -> Decimal:
    """The nominal length of ``asset``'s period in days (calendar month 30.4375, fixed N×h/d/w exact)."""
    schedule = asset.schedule
    if schedule.fixed_seconds is not None:
        return Decimal(schedule.fixed_seconds) / 86400
    return DAYS_PER_UNIT[schedule.unit or "day"]


def largest_amount(asset: AssetConfig) -> Decimal:
    """The most one buy may spend (USDC): ``amount``, or ``sizing.max`` with volatility sizing."""
    if asset.sizing.kind == "volatility" and asset.sizing.max is not None:
        return Decimal(asset.sizing.max)
    return Decimal(asset.amount)


@dataclass(frozen=True)
class Runway:
    """How long ``usdc`` lasts: ``one_round`` (every live asset buying once, its largest amount),
    ``per_day`` (at the nominal spend), whole ``periods`` of that round and ``days`` (to 0.1)."""

    usdc: Decimal
    one_round: Decimal
    per_day: Decimal
    periods: int
    days: Decimal

    def to_json(self) -> dict[str, Any]:
        """Decimals as strings."""
        return {"usdc": str(self.usdc), "one_round_usd": str(self.one_round),
                "per_day_usd": str(self.per_day.quantize(Decimal("0.01"))), "runway_periods": self.periods,
                "runway_days": str(self.days)}


def runway(usdc: Decimal, live_assets: Sequence[AssetConfig]) -> Runway:
    """The runway of ``usdc`` for ``live_assets`` (non-empty); see :class:`Runway`."""
    one_round = sum((largest_amount(a) for a in live_assets), Decimal(0))
    per_day = sum((largest_amount(a) / period_days(a) for a in live_assets), Decimal(0))
    return Runway(usdc, one_round, per_day, int(usdc // one_round), (usdc / per_day).quantize(Decimal("0.1")))
