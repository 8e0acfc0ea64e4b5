"""Statistics and tax lots against hand-computed numbers (a careful spreadsheet's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcactl.ledger import Ledger, PositionRow
from dcactl.models import Fill, json_value
from dcactl.reports import stats
from dcactl.reports.stats import iter_lots, lots, status_row, status_rows, totals, year_bounds

T = datetime(2026, 3, 2, 9, tzinfo=UTC)
D = Decimal


def buy(tid: str, asset: str, size: str, price: str, fee: str, fee_token: str, source: str = "dcactl",
        t: datetime = T, side: str = "B") -> Fill:
    return Fill(time=t, asset=asset, pair="@1", side=side, size=D(size), price=D(price),  # type: ignore[arg-type]
                fee=D(fee), fee_token=fee_token, tid=tid, source=source)  # type: ignore[arg-type]


FILLS = [
    # BTC by dcactl, fees taken in the base token: 0.001 @ 100000 (fee 0.0000007 UBTC = 0.07 USDC)
    # and 0.002 @ 50000 (fee 0.0000014 UBTC = 0.07 USDC).
    buy("1", "BTC", "0.001", "100000", "0.0000007", "UBTC"),
    buy("2", "BTC", "0.002", "50000", "0.0000014", "UBTC"),
    # ETH bought by hand on the exchange, fee in USDC: 0.5 @ 2000 + 0.35 USDC.
    buy("3", "ETH", "0.5", "2000", "0.35", "USDC", source="external"),
    # SOL on paper: 1 @ 100, fee 0.0007 SOL.
    buy("4", "SOL", "1", "100", "0.0007", "SOL", source="paper"),
]
MIDS = {"BTC": D(70000), "ETH": D(2100), "SOL": D(110)}


@pytest.fixture
def positions(tmp_path: Path) -> list[PositionRow]:
    with Ledger.open(tmp_path / "l.db", network="devnet", account="0xabc") as led:
        led.add_fills(FILLS)
        return led.positions()


def test_status_rows_fees_in_base_token_several_buys(positions: list[PositionRow]) -> None:
    """BTC: units 0.0029979, invested 200, avg 200/0.0029979, value 209.853, PnL 9.853 = 4.93 %."""
    btc = status_rows(positions, MIDS)[0]
    assert (btc.asset, btc.source, btc.buys) == ("BTC", "dcactl", 2)
    assert btc.units == D("0.0029979")  # 0.003 bought − 0.0000021 paid as fees
    assert (btc.invested_usd, btc.cost_usd) == (D(200), D(200))
    assert btc.avg_cost == D("66713.36602288")  # 200 / 0.0029979, 8 decimals
    assert btc.fees_usd == D("0.14")  # informational: already out of units, not subtracted again
    assert btc.value_usd == D("209.853")  # 0.0029979 × 70000
    assert btc.pnl_usd == D("9.853")  # 209.853 − 200
    assert btc.pnl_pct == D("4.93")  # 9.853 / 200 = 4.9265 %


def test_status_rows_fee_in_usdc_and_sources_apart(positions: list[PositionRow]) -> None:
    """External ETH (USDC fee adds to cost) and paper SOL are separate rows, paper last."""
    rows = status_rows(positions, MIDS)
    assert [(r.asset, r.source) for r in rows] == [("BTC", "dcactl"), ("ETH", "external"), ("SOL", "paper")]
    eth, sol = rows[1], rows[2]
    assert (eth.units, eth.invested_usd, eth.cost_usd, eth.avg_cost) == (D("0.5"), D(1000), D("1000.35"),
                                                                         D("2000.7"))
    assert (eth.value_usd, eth.pnl_usd, eth.pnl_pct) == (D(1050), D("49.65"), D("4.96"))  # 49.65/1000.35
    assert (sol.units, sol.avg_cost, sol.value_usd, sol.pnl_usd, sol.pnl_pct) == (
        D("0.9993"), D("100.07004903"), D("109.923"), D("9.923"), D("9.92"))


def test_totals_real_and_paper_apart(positions: list[PositionRow]) -> None:
    """real = dcactl + external: invested 1200, cost 1200.35, value 1259.853, PnL 59.503 (4.96 %)."""
    tot = totals(status_rows(positions, MIDS))
    real = tot["real"]
    assert (real.invested_usd, real.cost_usd, real.fees_usd) == (D(1200), D("1200.35"), D("0.49"))
    assert (real.value_usd, real.pnl_usd, real.pnl_pct, real.buys) == (
        D("1259.853"), D("59.503"), D("4.96"), 3)
    assert (tot["paper"].invested_usd, tot["paper"].value_usd) == (D(100), D("109.923"))
    assert set(tot) == {"dcactl", "external", "paper", "real"}
    assert tot["real"].to_json()["value_usd"] == "1259.853"


def test_missing_mid_gives_no_value_and_no_partial_total(positions: list[PositionRow]) -> None:
    """Without a mid, value and PnL are None for the row and for its totals (never a partial sum)."""
    rows = status_rows(positions, {"BTC": D(70000)})
    assert rows[1].value_usd is None and rows[1].pnl_pct is None
    assert totals(rows)["real"].value_usd is None
    assert totals(rows)["dcactl"].value_usd == D("209.853")
    assert rows[0].to_json()["avg_cost"] == "66713.36602288"


def test_sells_reduce_units_at_average_cost() -> None:
    """Buys 1 @ 100 and 1 @ 200 (+1 USDC fee), sell 1: held cost 150.5, at 300 PnL 149.5 = 99.34 %."""
    pos = PositionRow(asset="X", source="external", units=D(1), bought_units=D(2), invested_usd=D(300),
                      buy_fees_usdc=D(1), fees_usd=D(1), sold_units=D(1), proceeds_usd=D(300), buys=2,
                      sells=1, first_buy=T, last_buy=T)
    row = status_row(pos, D(300))
    assert (row.avg_cost, row.value_usd, row.pnl_usd, row.pnl_pct) == (
        D("150.5"), D(300), D("149.5"), D("99.34"))


def test_no_units_means_no_average_cost() -> None:
    """A position without units has no average cost and no PnL percentage (nothing is at stake)."""
    pos = PositionRow(asset="X", source="external", units=D(0), bought_units=D(0), invested_usd=D(0),
                      buy_fees_usdc=D(0), fees_usd=D(0), sold_units=D(0), proceeds_usd=D(0), buys=0, sells=0,
                      first_buy=None, last_buy=None)
    row = status_row(pos, D(5))
    assert (row.avg_cost, row.value_usd, row.pnl_usd, row.pnl_pct) == (None, D(0), D(0), None)


# -- lots --------------------------------------------------------------------------------------

NY = "America/New_York"
LOT_FILLS = [
    # 2023-12-31 23:00 in New York = 2024-01-01 04:00 UTC: tax year 2023 there. Fee in base.
    buy("a", "BTC", "1", "100", "0.001", "UBTC", t=datetime(2024, 1, 1, 4, tzinfo=UTC)),
    buy("b", "BTC", "2", "150", "0.3", "USDC", source="imported", t=datetime(2024, 6, 1, 12, tzinfo=UTC)),
    buy("p", "BTC", "5", "1", "0", "USDC", source="paper", t=datetime(2024, 3, 1, tzinfo=UTC)),
    buy("s", "BTC", "1.5", "400", "0.6", "USDC", source="external", side="A",
        t=datetime(2024, 9, 1, tzinfo=UTC)),
    # 2024-12-31 20:00 in New York = 2025-01-01 01:00 UTC: still 2024 there.
    buy("c", "BTC", "1", "200", "0", "USDC", source="external", t=datetime(2025, 1, 1, 1, tzinfo=UTC)),
    # 2025-01-01 00:30 in New York: the next tax year, left out.
    buy("d", "BTC", "1", "300", "0", "USDC", t=datetime(2025, 1, 1, 5, 30, tzinfo=UTC)),
    buy("e", "ETH", "0.5", "2000", "0.0001", "UETH", t=datetime(2024, 2, 1, tzinfo=UTC)),
]


def test_year_bounds_are_in_the_configured_zone() -> None:
    """Tax year 2024 in New York is [2024-01-01 05:00 UTC, 2025-01-01 05:00 UTC)."""
    start, end = year_bounds(2024, NY)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (datetime(2024, 1, 1, 5, tzinfo=UTC),
                                                            datetime(2025, 1, 1, 5, tzinfo=UTC))


def test_a_lot_at_the_first_instant_of_the_year_is_in_it_and_the_last_one_counts() -> None:
    """The year is [start, end) to the microsecond: a buy at its first instant is in the year, one a
    microsecond earlier is not, one at the last microsecond is a lot of the year and one at its end
    is none."""
    start, end = year_bounds(2024, NY)
    micro = timedelta(microseconds=1)
    fills = [buy(tid, "BTC", "1", "100", "0", "USDC", t=t)
             for tid, t in (("before", start - micro), ("first", start), ("last", end - micro), ("end", end))]
    expected = [("before", False, start - micro), ("first", True, start), ("last", True, end - micro)]
    assert [(lot.tid, lot.in_year, lot.acquired) for lot in lots(fills, 2024, NY)] == expected
    assert [(lot.tid, lot.in_year, lot.acquired) for lot in iter_lots(fills, 2024, NY, sells={})] == expected


def test_fifo_lots_across_a_year_boundary_in_new_york() -> None:
    """FIFO: the sell of 1.5 empties lot a (0.999) and takes 0.501 of lot b; paper and 2025 buys excluded."""
    got = lots(LOT_FILLS, 2024, NY, "fifo")
    assert [(lot.asset, lot.tid, lot.in_year) for lot in got] == [
        ("BTC", "a", False), ("BTC", "b", True), ("BTC", "c", True), ("ETH", "e", True)]
    a, b, c, e = got
    assert (a.units, a.cost_usd, a.unit_cost) == (D("0.999"), D(100), D("100.10010010"))  # fee in base
    assert (a.units_remaining, a.cost_remaining_usd, a.proceeds_usd) == (D(0), D(0), D("399.2004"))
    assert (b.units, b.cost_usd) == (D(2), D("300.3"))  # USDC fee adds to the cost basis
    assert (b.units_remaining, b.cost_remaining_usd, b.proceeds_usd) == (D("1.499"), D("225.07485"),
                                                                         D("200.1996"))
    assert (c.units_remaining, c.cost_remaining_usd, c.source) == (D(1), D(200), "external")
    assert (e.units, e.cost_usd) == (D("0.4999"), D(1000))
    assert a.to_json()["unit_cost"] == "100.1001001"


def test_average_lots_pool_each_asset() -> None:
    """average: one lot per asset; the sell leaves 1.499 of 2.999 units at the pool's average cost."""
    btc, eth = lots(LOT_FILLS, 2024, NY, "average")
    assert (btc.tid, btc.source, btc.fills) == (None, "pooled", 3)
    assert btc.acquired == datetime(2024, 1, 1, 4, tzinfo=UTC)
    assert (btc.units, btc.cost_usd) == (D("3.999"), D("600.3"))
    assert btc.units_remaining == D("2.499")
    assert btc.cost_remaining_usd == D("400.08326109")  # 400.3 × 1.499 / 2.999, rounded, + 200
    assert (eth.units, eth.units_remaining) == (D("0.4999"), D("0.4999"))


def test_lots_of_an_earlier_year_and_bad_method() -> None:
    """Year 2023 in New York holds only lot a (acquired then); an unknown method is a ValueError."""
    (only,) = lots(LOT_FILLS, 2023, NY)
    assert (only.tid, only.in_year, only.units_remaining) == ("a", True, D("0.999"))
    with pytest.raises(ValueError, match="unknown lot method"):
        lots(LOT_FILLS, 2024, NY, "lifo")  # type: ignore[arg-type]


def _lot_order(fills: list[Fill]) -> list[Fill]:
    return sorted(fills, key=lambda f: (f.asset, f.time, f.tid))


def test_streamed_lots_come_out_as_soon_as_nothing_can_change_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """iter_lots, one fill a step, with the sells counted: lots a and b come out right after the only
    BTC sell (the 4th fill read: a, b, paper p, s), c as soon as it is read (no sell left), e as soon
    as it is read; without the counts only a (emptied by the sell) comes out early, the others wait
    for the end of their asset. The values are those of lots() (hand-checked above)."""
    monkeypatch.setattr(stats, "LOT_CHUNK", 1)
    read: list[str] = []

    def feed() -> Iterator[Fill]:
        for f in _lot_order(LOT_FILLS):
            read.append(f.tid)
            yield f

    whole = [lot.to_json() for lot in lots(LOT_FILLS, 2024, NY)]
    early = [(lot.tid, len(read), lot.to_json()) for lot in iter_lots(feed(), 2024, NY, sells={"BTC": 1})]
    assert [(tid, n) for tid, n, _ in early] == [("a", 4), ("b", 4), ("c", 5), ("e", 7)]
    assert [record for _, _, record in early] == whole
    read.clear()
    held = [(lot.tid, len(read)) for lot in iter_lots(feed(), 2024, NY)]
    assert held == [("a", 4), ("b", 7), ("c", 7), ("e", 7)]


def test_streamed_lots_refuse_fills_out_of_order_and_uncounted_sells() -> None:
    """iter_lots needs fills by asset, then time; a sell beyond the counted ones is an error (a lot it
    would change may already be written)."""
    a, b, _, sell, *_, e = LOT_FILLS
    with pytest.raises(ValueError, match="asset order: BTC after ETH"):
        list(iter_lots([e, a], 2024, NY))
    with pytest.raises(ValueError, match="out of time order"):
        list(iter_lots([b, a], 2024, NY))
    with pytest.raises(ValueError, match="more sells of BTC than counted"):
        list(iter_lots([a, sell], 2024, NY, sells={}))


def test_lot_json_writes_each_field_as_json_value_does() -> None:
    """Lot.to_json (spelled out for speed) is json_value of each field, then unit_cost: tiny and
    exponent-shaped decimals in plain notation (0.0001 / 999.9999999 = 1.0000000001E-7 → 0.0000001 at
    8 decimals), times ISO UTC."""
    when = datetime(2024, 5, 1, 1, 2, 3, 4000, tzinfo=UTC)
    (lot,) = lots([buy("z", "PEPE", "1E+3", "0.0000001", "1E-7", "UPEPE", t=when)], 2024, NY)
    fields = ("asset", "acquired", "source", "tid", "units", "cost_usd", "units_remaining",
              "cost_remaining_usd", "proceeds_usd", "in_year", "fills")
    expected = {name: json_value(getattr(lot, name)) for name in fields} | {"unit_cost": "0.0000001"}
    assert lot.to_json() == expected
    assert (expected["units"], expected["cost_usd"], expected["acquired"]) == (
        "999.9999999", "0.0001", "2024-05-01T01:02:03.004Z")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BTC", "ETH"]), st.sampled_from("BBA"), st.integers(1, 5000),
                          st.integers(1, 99999), st.integers(0, 30), st.booleans(), st.integers(0, 96),
                          st.sampled_from(["dcactl", "external", "imported", "paper"])), max_size=30))
def test_streamed_lots_equal_the_whole_computation(rows: list[tuple[str, str, int, int, int, bool, int, str]],
                                                   ) -> None:
    """Any fills (buys and sells, fees in base or USDC, around New York's year end): iter_lots with the
    sells counted gives exactly the lots of lots(), FIFO and average."""
    fills = [
        Fill(time=datetime(2024, 12, 30, tzinfo=UTC) + timedelta(hours=hour), asset=asset, pair="@1",
             side=side, size=D(size).scaleb(-3), price=D(price).scaleb(-2),  # type: ignore[arg-type]
             fee=D(fee).scaleb(-4), fee_token="USDC" if usdc else f"U{asset}", tid=f"t{i}",
             source=source)  # type: ignore[arg-type]
        for i, (asset, side, size, price, fee, usdc, hour, source) in enumerate(rows)
    ]
    end = year_bounds(2024, NY)[1]
    counted = Counter(f.asset for f in fills if f.side == "A" and f.source != "paper" and f.time < end)
    for method in ("fifo", "average"):
        whole = [lot.to_json() for lot in lots(fills, 2024, NY, method)]  # type: ignore[arg-type]
        streamed = iter_lots(_lot_order(fills), 2024, NY, method, sells=counted)  # type: ignore[arg-type]
        assert [lot.to_json() for lot in streamed] == whole


def _outcome(rows: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]] | str:
    """The rows, or the name of what reading them raised."""
    try:
        return list(rows)
    except Exception as error:  # both paths must raise the same
        return type(error).__name__


_SCALED = st.tuples(st.integers(0, 10**7), st.integers(-3, 12)).map(lambda v: D(v[0]).scaleb(-v[1]))
"""A decimal of any shape a fill may carry: whole, exponent-shaped (1E+3), many decimals, trailing zeros."""


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BTC", "ETH", "SOL"]), st.sampled_from("BBBA"), _SCALED, _SCALED,
                          _SCALED, st.booleans(), st.integers(-2, 60), st.integers(0, 3),
                          st.sampled_from(["dcactl", "external", "imported", "paper"])), max_size=25))
def test_lot_rows_without_lot_objects_are_the_rows_of_the_lots(
    rows: list[tuple[str, str, Decimal, Decimal, Decimal, bool, int, int, str]],
) -> None:
    """stats.iter_lot_rows (what the exports write: a lot final as its buy is read is formatted from
    its values, no Lot made) gives exactly lot_rows(iter_lots(...)): FIFO and average, sells counted
    or not, from Fills and from the ledger's texts of them (TradeText); around New York's year end,
    fees in base or USDC (a negative one too: a rebate), decimals of any shape."""
    from dcactl.ledger import codec

    fills = [
        Fill(time=datetime(2024, 12, 31, 3, tzinfo=UTC) + timedelta(hours=hour, microseconds=micro * 500),
             asset=asset, pair="@1", side=side, size=size + D("1E-9"), price=price,  # type: ignore[arg-type]
             fee=-fee / 1000 if micro == 3 else fee / 10, fee_token="USDC" if usdc else f"U{asset}",
             tid=f"t{i}", source=source)  # type: ignore[arg-type]
        for i, (asset, side, size, price, fee, usdc, hour, micro, source) in enumerate(rows)
    ]
    ordered = _lot_order(fills)
    texts = [(codec.to_us(f.time), f.asset, f.side, codec.text(f.size), codec.text(f.price),
              codec.text(f.fee), f.fee_token, f.tid, f.source, f.reason) for f in ordered]
    end = year_bounds(2024, NY)[1]
    counted = Counter(f.asset for f in fills if f.side == "A" and f.source != "paper" and f.time < end)
    for method in ("fifo", "average"):
        for sells in (counted, None):
            expected = _outcome(stats.lot_rows(iter_lots(ordered, 2024, NY, method, sells=sells)))
            assert _outcome(stats.iter_lot_rows(ordered, 2024, NY, method, sells=sells)) == expected
            assert _outcome(stats.iter_lot_rows(texts, 2024, NY, method, sells=sells)) == expected
            assert _outcome(stats.lot_rows(iter_lots(texts, 2024, NY, method, sells=sells))) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BTC", "ETH"]), st.sampled_from("BBA"), st.integers(1, 5000),
                          st.integers(1, 99999), st.integers(0, 3000), st.booleans(), st.integers(0, 9),
                          st.integers(0, 8)), max_size=20),
       st.sampled_from(["fifo", "average"]))
def test_lot_rows_write_each_value_as_money_and_json_value_do(
    rows: list[tuple[str, str, int, int, int, bool, int, int]], method: str,
) -> None:
    """Every lot, touched by sells or not, FIFO or pooled: stats.lot_rows (what to_json and the exports
    write; a lot no sell touched has its texts written once) gives each field as json_value of the
    field, money at USDC's precision, the unit cost as the unit_cost property, times ISO UTC."""
    from dcactl.models import iso_utc

    fills = [
        Fill(time=datetime(2024, 6, 1, tzinfo=UTC) + timedelta(hours=hour, milliseconds=ms * 7),
             asset=asset, pair="@1", side=side, size=D(size).scaleb(-3), price=D(price).scaleb(-2),  # type: ignore[arg-type]
             fee=D(fee).scaleb(-4), fee_token="USDC" if usdc else f"U{asset}", tid=f"t{i}", source="dcactl")
        for i, (asset, side, size, price, fee, usdc, hour, ms) in enumerate(rows)
    ]
    for lot in lots(fills, 2024, NY, method):  # type: ignore[arg-type]
        expected = {
            "asset": lot.asset, "acquired": iso_utc(lot.acquired), "source": lot.source, "tid": lot.tid,
            "units": json_value(lot.units), "cost_usd": json_value(stats.money(lot.cost_usd)),
            "units_remaining": json_value(lot.units_remaining),
            "cost_remaining_usd": json_value(stats.money(lot.cost_remaining_usd)),
            "proceeds_usd": json_value(stats.money(lot.proceeds_usd)), "in_year": lot.in_year,
            "fills": lot.fills, "unit_cost": json_value(lot.unit_cost),
        }
        assert lot.to_json() == expected
        (row,) = stats.lot_rows([lot])
        assert dict(zip((*stats.LOT_COLUMNS, "fills"), row, strict=True)) == {
            k: expected[k] for k in (*stats.LOT_COLUMNS, "fills")}


def history_record(fill: Fill, tmp_path: Path) -> dict[str, Any]:
    """``fill`` as its ``history`` row (stored in a fresh ledger, read back as an export reads it),
    keyed by column."""
    from dcactl.reports.stats import HISTORY_COLUMNS, history_rows

    with Ledger.open(tmp_path / f"history-{fill.tid}.db", network="devnet", account="0xabc") as led:
        led.add_fills([fill])
        (row,) = history_rows(led.iter_history())
    return dict(zip(HISTORY_COLUMNS, row, strict=True))


def test_history_record_has_every_tax_column_exactly(tmp_path: Path) -> None:
    """history rows carry PRODUCT.md's columns; usd = size × price exactly; no exponent notation."""
    from dcactl.reports.stats import HISTORY_COLUMNS

    row = history_record(buy("1", "BTC", "0.00116", "86012", "0.0000007", "UBTC"), tmp_path)
    assert list(row) == list(HISTORY_COLUMNS)
    assert (row["usd"], row["fee"], row["time"], row["oid"]) == (
        "99.77392", "0.0000007", "2026-03-02T09:00:00Z", None)


def test_an_unknown_fee_is_none_in_history_never_0(tmp_path: Path) -> None:
    """An imported fill whose fee the earlier bot never kept: fee and fee_token None (JSON null, CSV
    empty), not 0 USDC; a known fee of 0 (a maker fill) stays "0"."""
    imported = Fill(time=T, asset="BTC", pair="BTC/USDC", side="B", size=D("0.001"), price=D("86012"),
                    fee=D(0), fee_token="USDC", tid="imported:1", source="imported", fee_unknown=True)
    row = history_record(imported, tmp_path)
    assert (row["fee"], row["fee_token"], row["usd"]) == (None, None, "86.012")
    free = history_record(buy("2", "BTC", "0.001", "86012", "0", "USDC"), tmp_path)
    assert (free["fee"], free["fee_token"]) == ("0", "USDC")


def test_export_money_at_usdc_precision_not_float_noise(tmp_path: Path) -> None:
    """usd = size × price rounded half-even to USDC's 8 decimals: a float-born size 0.00017439352037387182
    × 86012.37 = 15.0000000000000013144134 → "15"; 0.123456789 × 1.23456789 = 0.15241578750190521 →
    "0.15241579"; lots' money likewise (the ledger keeps every digit)."""
    noisy = buy("n", "BTC", "0.00017439352037387182", "86012.37", "0", "USDC", source="imported")
    assert noisy.size * noisy.price == D("15.0000000000000013144134")  # what the export used to show
    assert history_record(noisy, tmp_path)["usd"] == "15"
    precise = buy("m", "X", "0.123456789", "1.23456789", "0", "USDC")
    assert history_record(precise, tmp_path)["usd"] == "0.15241579"
    (lot,) = lots([noisy], 2026, "UTC")
    assert lot.cost_usd == D("15.0000000000000013144134")
    doc = lot.to_json()
    assert (doc["cost_usd"], doc["cost_remaining_usd"], doc["proceeds_usd"]) == ("15", "15", "0")


def test_status_never_counts_an_unknown_fee_as_0(tmp_path: Path) -> None:
    """Two imported BTC buys without fees and a dcactl buy with a 0.07 USDC fee: the imported row's
    fees are unknown (null in JSON), the real total sums the known 0.07 and counts 2 unknown; a total of
    known fees only has none unknown."""
    imported = [Fill(time=T, asset="BTC", pair="BTC/USDC", side="B", size=D("0.001"), price=D(p), fee=D(0),
                     fee_token="USDC", tid=f"imported:{p}", source="imported", fee_unknown=True)
                for p in ("80000", "90000")]
    with Ledger.open(tmp_path / "l.db", network="devnet", account="0xabc") as led:
        led.add_fills([*imported, buy("1", "BTC", "0.001", "100000", "0.07", "USDC")])
        positions = led.positions()
    assert [(p.source, p.unknown_fees) for p in positions] == [("dcactl", 0), ("imported", 2)]
    rows = status_rows(positions, {"BTC": D(100000)})
    ours, old = rows
    assert (old.fees_unknown, old.fees_all_unknown, old.to_json()["fees_usd"]) == (2, True, None)
    assert old.to_json()["fees_unknown"] == 2
    assert (ours.fees_all_unknown, ours.to_json()["fees_usd"], ours.to_json()["fees_unknown"]) == (
        False, "0.07", 0)
    t = totals(rows)
    assert (t["real"].fees_usd, t["real"].fees_unknown, t["real"].fees_all_unknown) == (D("0.07"), 2, False)
    assert t["real"].to_json()["fees_usd"] == "0.07" and t["real"].to_json()["fees_unknown"] == 2
    assert (t["imported"].fees_all_unknown, t["imported"].to_json()["fees_usd"]) == (True, None)
    assert (t["dcactl"].fees_unknown, t["dcactl"].to_json()["fees_usd"]) == (0, "0.07")
