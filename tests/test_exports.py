"""The exports' exact bytes: `history --format csv/json` and `lots --format csv/json` over a ledger of
tricky values (many decimals, USDC rounding at the 8th decimal, tiny and huge amounts, unknown fees,
paper and real fills, times with sub-millisecond parts, text CSV must quote) are pinned byte for byte
to files under tests/fixtures/exports, so a faster export path is proven to write the same output.
A few cells are also checked against hand-computed values, so the pinned files are not just trusted."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dcactl.ledger import Ledger
from dcactl.models import Fill

ROOT = Path(__file__).resolve().parent.parent
PINNED = ROOT / "tests" / "fixtures" / "exports"
EXPORTS = {
    "history.csv": ("history", "--format", "csv"),
    "history.json": ("history", "--format", "json"),
    "lots-2024.csv": ("lots", "--year", "2024", "--format", "csv"),
    "lots-2024.json": ("lots", "--year", "2024", "--format", "json"),
    "lots-2024-average.csv": ("lots", "--year", "2024", "--method", "average", "--format", "csv"),
    "lots-2024-average.json": ("lots", "--year", "2024", "--method", "average", "--format", "json"),
}
"""Pinned file → the command that writes it."""


def _fill(tid: str, asset: str, side: str, size: str, price: str, fee: str, fee_token: str, when: datetime,
          source: str = "dcactl", **extra: Any) -> Fill:
    return Fill(time=when, asset=asset, pair=f"@{len(asset)}", side=side,  # type: ignore[arg-type]
                size=Decimal(size), price=Decimal(price), fee=Decimal(fee), fee_token=fee_token, tid=tid,
                source=source, **extra)  # type: ignore[arg-type]


def _at(month: int, day: int, hour: int = 0, second: int = 0, micro: int = 0, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, 0, second, micro, tzinfo=UTC)


TRICKY = [
    # the USDC value (size × price) at 8 decimals, half-even: 0.000000015 → ...02, 0.000000025 → ...02,
    # 0.000000005 → 0, 0.000000035 → ...04, 0.0000000250001 → ...03
    _fill("r1", "BTC", "B", "0.00000015", "0.1", "0", "UBTC", _at(1, 2)),
    _fill("r2", "BTC", "B", "0.00000025", "0.1", "0", "UBTC", _at(1, 2, second=1)),
    _fill("r3", "BTC", "B", "0.00000005", "0.1", "0", "UBTC", _at(1, 2, second=2)),
    _fill("r4", "BTC", "B", "0.00000035", "0.1", "0", "UBTC", _at(1, 2, second=3)),
    _fill("r5", "BTC", "B", "0.00000250001", "0.01", "0", "UBTC", _at(1, 2, second=4)),
    # an exchange-shaped buy with a base-token fee and a millisecond time; the wire's "110427.0" and a
    # size with trailing zeros are kept as recorded
    _fill("h1", "BTC", "B", "0.00011", "104523.5", "0.0000000385", "UBTC", _at(3, 1, 12, micro=123_000),
          oid=9001, cloid="0x" + "ab" * 16, hash="0x" + "cd" * 32, period="2024-03-01T00:00:00+00:00"),
    _fill("h2", "BTC", "B", "0.50000000", "110427.0", "0.000175", "UBTC", _at(3, 2), oid=9002),
    # a whole USDC value is written as 100, never 1E+2; a USDC fee stays in USDC
    _fill("h3", "ETH", "B", "2", "50", "0.012345", "USDC", _at(3, 3)),
    # tiny: 1E-14 USDC shows as 0; huge: 80,779,949,390.85 USDC
    _fill("h4", "ETH", "B", "0.00000001", "0.000001", "0", "USDC", _at(3, 4)),
    _fill("h5", "ETH", "B", "123456.12345678", "654321.1234", "43.20987654", "UETH", _at(3, 5)),
    # given in exponent form: recorded and written in plain notation (0.0000007, 1500)
    _fill("x1", "ETH", "B", "7E-7", "1.5E+3", "0", "USDC", _at(3, 6)),
    # a legacy float with more digits than the ledger's integer companions keep (aggregated from its
    # text); imported by the earlier bot, whose fees are unknown: empty in CSV, null in JSON
    _fill("imported:aa", "BTC", "B", "0.0011626284704459842", "86012.34", "0", "USDC", _at(4, 1),
          "imported", fee_unknown=True),
    # sub-millisecond times: .000500 is written .000, .999999 is .999 (truncated, never rounded up)
    _fill("t1", "ETH", "B", "0.01", "3000", "0.0000035", "UETH", _at(5, 1, micro=500)),
    _fill("t2", "ETH", "B", "0.01", "3000.5", "0.0000035", "UETH", _at(5, 1, second=1, micro=999_999)),
    # paper is marked paper; not a lot
    _fill("paper:0x01", "BTC", "B", "0.001", "60000", "0", "UBTC", _at(5, 2), "paper", reason="paper buy"),
    # a sell with text the CSV must quote (comma, quotes, non-ASCII, a newline)
    _fill("s1", "BTC", "A", "0.2", "65000.25", "1.3", "USDC", _at(6, 1), "external", oid=77,
          reason='sold, "by hand" — née\nsecond line'),
    # a dust conversion and a buy whose whole size went to its fee (no units: no unit cost)
    _fill("0:5:1717200000000:@3:0.0000131", "ETH", "A", "0.0000131", "3000", "0", "USDC", _at(6, 2),
          "external", reason="dust conversion"),
    _fill("z1", "ETH", "B", "0.001", "3000", "0.001", "UETH", _at(6, 3)),
    # bought in 2023 (a lot of 2024 before its year) and in 2025 (no lot of 2024)
    _fill("old", "BTC", "B", "0.3", "30000", "0.0003", "UBTC", _at(12, 31, 23, year=2023)),
    _fill("new", "BTC", "B", "0.1", "90000", "0.0001", "UBTC", _at(1, 1, 1, year=2025)),
    # a sell's share of a lot's cost and proceeds lands between 8-decimal steps
    _fill("s2", "ETH", "A", "0.3333333", "3100.01", "0.7", "USDC", _at(7, 1), "external"),
]


def _ledger(tmp_path: Path) -> Path:
    """A paper-account devnet ledger holding :data:`TRICKY`; returns its portfolio file."""
    cfg = tmp_path / "p.toml"
    cfg.write_text('[settings]\nnetwork = "devnet"\ndatabase = "ledger.db"\n[assets.BTC]\namount = 20\n'
                   'every = "day"\n')
    with Ledger.open(tmp_path / "ledger.db", network="devnet", account=None) as ledger:
        assert ledger.add_fills(TRICKY) == len(TRICKY)
    return cfg


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exports_are_pinned_byte_for_byte(tmp_path: Path, cli: Any, name: str) -> None:
    """Each export of the tricky ledger writes exactly its pinned file (in process)."""
    cfg = _ledger(tmp_path)
    res = cli("--config", str(cfg), *EXPORTS[name])
    assert res.code == 0, res.err
    assert res.out == (PINNED / name).read_text(encoding="utf-8")


def test_exports_as_a_command_write_the_pinned_bytes(tmp_path: Path) -> None:
    """Run as a process (the real stdout, not a test's capture), the four exports write the pinned
    bytes too."""
    cfg = _ledger(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("history.csv", "history.json", "lots-2024.csv", "lots-2024.json"):
        done = subprocess.run([sys.executable, "-m", "dcactl", "--config", str(cfg), *EXPORTS[name]],
                              capture_output=True, env=env, cwd=tmp_path, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout == (PINNED / name).read_bytes(), name


def test_pinned_exports_hold_the_hand_computed_values() -> None:
    """The pinned files say what the contract says: USDC at 8 decimals half-even, recorded decimals
    as recorded, unknown fees empty/null, paper marked, CSV and JSON the same rows."""
    rows = list(csv.DictReader(io.StringIO((PINNED / "history.csv").read_text(encoding="utf-8"))))
    usd = {r["tid"]: r["usd"] for r in rows}
    assert [usd[t] for t in ("r1", "r2", "r3", "r4", "r5")] == [
        "0.00000002", "0.00000002", "0", "0.00000004", "0.00000003"]
    assert (usd["h1"], usd["h2"], usd["h3"], usd["h4"]) == ("11.497585", "55213.5", "100", "0")
    assert usd["h5"] == "80779949390.84938095"  # 80,779,949,390.849380946652 rounds up
    assert usd["imported:aa"] == "100.00039529"  # 100.000395293679944645028 rounds down
    by_tid = {r["tid"]: r for r in rows}
    assert (by_tid["h2"]["size"], by_tid["h2"]["price"]) == ("0.50000000", "110427.0")
    assert (by_tid["imported:aa"]["fee"], by_tid["imported:aa"]["fee_token"]) == ("", "")
    assert [by_tid[t]["time"] for t in ("h1", "t1", "t2")] == [
        "2024-03-01T12:00:00.123Z", "2024-05-01T00:00:00.000Z", "2024-05-01T00:00:01.999Z"]
    assert (by_tid["x1"]["size"], by_tid["x1"]["price"], usd["x1"]) == ("0.0000007", "1500", "0.00105")
    assert by_tid["paper:0x01"]["source"] == "paper"
    fills = json.loads((PINNED / "history.json").read_text(encoding="utf-8"))["fills"]
    assert [{k: "" if v is None else str(v) for k, v in f.items()} for f in fills] == rows
    lots = {lot["tid"]: lot for lot in json.loads((PINNED / "lots-2024.json").read_text())["lots"]}
    assert "paper:0x01" not in lots and "new" not in lots and lots["old"]["in_year"] is False
    # 0.001 ETH with a 0.001 ETH fee: no units, so no unit cost (null; empty in CSV)
    assert (lots["z1"]["units"], lots["z1"]["unit_cost"]) == ("0.000", None)
    # 0.3 BTC − 0.0003 fee = 0.2997 units for 9000 USDC: 30030.03003003003... → 30030.03003003
    assert (lots["old"]["units"], lots["old"]["unit_cost"]) == ("0.2997", "30030.03003003")



@settings(max_examples=500, deadline=None)
@example(Decimal("0.000000005"))
@example(Decimal("0.000000015"))
@example(Decimal("1.999999995"))
@example(Decimal("0"))
@given(st.decimals(min_value=Decimal(0), max_value=Decimal("92233720368"), places=18, allow_nan=False))
def test_money_from_the_companions_is_money_of_the_value(value: Decimal) -> None:
    """codec.money_text on a value's exact integer companions writes what stats.money writes for the
    value (half-even at 8 decimals, no trailing zeros, never an exponent), for every exact value ≥ 0."""
    from dcactl.ledger import codec
    from dcactl.models import json_value
    from dcactl.reports.stats import money

    hi, lo, exact = codec.split(value)
    assert exact
    assert codec.money_text(hi, lo) == json_value(money(value))


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-62_135_596_800_000_000, max_value=253_402_300_799_999_999))
def test_iso_text_of_microseconds_is_iso_utc(us: int) -> None:
    """codec.iso_text writes what models.iso_utc writes for the same instant, years 1 to 9999
    (milliseconds truncated, whole seconds without a fraction)."""
    from dcactl.ledger import codec
    from dcactl.models import iso_utc

    assert codec.iso_text(us) == iso_utc(codec.from_us(us))
    assert codec.iso_text(us - us % 1_000_000) == iso_utc(codec.from_us(us - us % 1_000_000))


@settings(max_examples=500, deadline=None)
@example(Decimal("0.000000005"))
@example(Decimal("-0.000000001"))
@example(Decimal("100.000000001"))
@example(Decimal("1E+3"))
@given(st.decimals(min_value=Decimal("-1E12"), max_value=Decimal("1E12"), allow_nan=False,
                   allow_infinity=False))
def test_money_text_of_a_decimal_is_money(value: Decimal) -> None:
    """The lots' money text (quantize, then trim the text) is what stats.money writes: half-even at 8
    decimals, normalized, never an exponent (so are unit costs, at the same 8 decimals)."""
    from dcactl.models import json_value
    from dcactl.reports import stats

    assert stats._places_text(value, stats.USD_PLACES) == json_value(stats.money(value))
    places = stats.AVG_COST_PLACES
    assert stats._places_text(value, places) == format(stats._q(value, places), "f")


_TEXT = st.text(st.sampled_from('ab0.-:@xZ ,"\r\n\\\t\x00\x7fé—\u2028'), max_size=6)
"""Text of any kind an export may meet: plain, or with what CSV must quote and JSON must escape."""
_HISTORY_ROW = st.tuples(
    _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, st.none() | _TEXT, st.none() | _TEXT, _TEXT,
    st.none() | st.integers(-(2**63), 2**63), st.none() | _TEXT, st.none() | _TEXT, _TEXT, st.none() | _TEXT,
    st.none() | _TEXT,
)
"""A ``history`` row (stats.history_rows) of any values: text, absent values, the oid an integer."""
_PLAIN = ("2024-03-01T12:00:00.123Z", "BTC", "@1", "B", "0.00011", "104523.5", "11.497585", "0.0000000385",
          "UBTC", "h1", 9001, "0x" + "ab" * 16, "0x" + "cd" * 32, "dcactl", "2024-03-01T00:00:00+00:00", None)


def _but(**values: Any) -> tuple[Any, ...]:
    """:data:`_PLAIN` with the named columns set to ``values``."""
    from dcactl.reports.stats import HISTORY_COLUMNS

    return tuple(values.get(name, plain) for name, plain in zip(HISTORY_COLUMNS, _PLAIN, strict=True))


@settings(max_examples=1000, deadline=None)
@example(_PLAIN)
@example(_but(reason='sold, "by hand"'))
@example(_but(reason="a\rb"))
@example(_but(reason="a\nb"))
@example(_but(hash="a,b"))
@example(_but(oid=None))
@example(("",) * 7 + (None, None, "", None, None, None, "", None, None))
@given(_HISTORY_ROW)
def test_history_csv_line_is_what_csv_writer_writes(row: tuple[Any, ...]) -> None:
    """exports.history_csv (fields joined by commas when nothing needs quoting) writes exactly the
    line csv.writer writes for the row, whatever its text (commas, quotes, CR, LF, NUL, non-ASCII)."""
    from dcactl.cli.exports import history_csv

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row)
    assert history_csv(row) + "\n" == buffer.getvalue()


_DECIMAL_TEXT = st.text(st.sampled_from("0123456789.-"), min_size=1, max_size=12)
_TIME_TEXT = st.text(st.sampled_from("0123456789-:.TZ"), min_size=1, max_size=24)


@settings(max_examples=1000, deadline=None)
@example(_PLAIN)
@example(_but(reason='sold, "by hand" — née\nsecond line'))
@example(_but(fee=None, fee_token=None, oid=None, cloid=None, hash=None, period=None, reason=None))
@given(st.tuples(_TIME_TEXT, _TEXT, _TEXT, _TEXT, _DECIMAL_TEXT, _DECIMAL_TEXT, _DECIMAL_TEXT,
                 st.none() | _DECIMAL_TEXT)
       .flatmap(lambda head: _HISTORY_ROW.map(lambda row: head + row[8:])))
def test_history_json_line_is_what_json_dumps_writes(row: tuple[Any, ...]) -> None:
    """exports.history_json writes exactly json.dumps of the row's record (HISTORY_COLUMNS in order),
    whatever the text of its text columns (its time and decimals are ISO and decimal text)."""
    from dcactl.cli.exports import history_json
    from dcactl.reports.stats import HISTORY_COLUMNS

    assert history_json(row) == json.dumps(dict(zip(HISTORY_COLUMNS, row, strict=True)))


@pytest.mark.parametrize("chunk", [1, 3])
def test_exports_are_pinned_whatever_the_chunk_of_lines(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, chunk: int,
) -> None:
    """Written a few lines per write (the pinned ledger spans several chunks), the exports are the
    pinned bytes still."""
    from dcactl.cli import exports

    monkeypatch.setattr(exports, "CHUNK", chunk)
    cfg = _ledger(tmp_path)
    for name in EXPORTS:
        res = cli("--config", str(cfg), *EXPORTS[name])
        assert res.code == 0, res.err
        assert res.out == (PINNED / name).read_text(encoding="utf-8"), name


_LOT_ROW = st.tuples(
    _TEXT, _TIME_TEXT, _TEXT, st.none() | _TEXT, _DECIMAL_TEXT, _DECIMAL_TEXT, st.none() | _DECIMAL_TEXT,
    _DECIMAL_TEXT, _DECIMAL_TEXT, _DECIMAL_TEXT, st.booleans(), st.integers(1, 10**6),
)
"""A lot's row (stats.lot_rows): its text columns of any text, its time and decimals as such."""
_LOT = ("BTC", "2024-01-02T00:00:00Z", "dcactl", "r1", "0.00000015", "0.00000002", "0.1", "0.00000015",
        "0.00000002", "0", True, 1)


@settings(max_examples=1000, deadline=None)
@example(_LOT)
@example(("ETH", "2024-01-02T00:00:00.001Z", "pooled", None, "0.000", "3", None, "0", "0", "2.5", False, 7))
@example(("A,B", *_LOT[1:]))
@example((*_LOT[:3], 'x"y\r\n', *_LOT[4:]))
@given(_LOT_ROW)
def test_lot_lines_are_what_csv_writer_and_json_dumps_write(row: tuple[Any, ...]) -> None:
    """exports.lot_csv writes the line csv.writer writes for a lot's CSV columns, and exports.lot_json
    what json.dumps writes for its to_json record (keys in to_json's order), whatever its text."""
    from dcactl.cli.exports import lot_csv, lot_json
    from dcactl.reports.stats import LOT_COLUMNS

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(row[:-1])
    assert lot_csv(row) + "\n" == buffer.getvalue()
    record = dict(zip((*LOT_COLUMNS, "fills"), row, strict=True))
    keys = ("asset", "acquired", "source", "tid", "units", "cost_usd", "units_remaining",
            "cost_remaining_usd", "proceeds_usd", "in_year", "fills", "unit_cost")
    assert lot_json(row) == json.dumps({k: record[k] for k in keys})


@settings(max_examples=1000, deadline=None)
@example(Decimal("1E-7"))
@example(Decimal("1.5E-7"))
@example(Decimal("0.000001"))
@example(Decimal("1E+3"))
@example(Decimal("-0E-8"))
@example(Decimal("0.50000000"))
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_plain_text_of_a_decimal_is_format_f(value: Decimal) -> None:
    """stats._plain (str when it writes no exponent) is format(value, "f") for every finite decimal:
    tiny, huge, negative zero, trailing zeros."""
    from dcactl.reports import stats

    assert stats._plain(value) == format(value, "f")
