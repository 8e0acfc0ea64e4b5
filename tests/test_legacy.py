"""Import from the earlier Hyperliquid DCA bot: history records (legacy BTC-only and multi-asset),
malformed records, idempotency, and config conversion (fixtures copied from shared/legacy-samples)."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dcactl.config.schema import validate_document
from dcactl.errors import ConfigError, UsageError
from dcactl.ingest.legacy import conversion_toml, convert_config, import_legacy, parse_history, synthetic_tid
from dcactl.ledger import Ledger

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
HISTORY = FIXTURES / "dca_history.json"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "l.db", network="mainnet", account="0x" + "1" * 40)
    yield led  # type: ignore[misc]
    led.close()


def write(tmp_path: Path, records: Any) -> Path:
    path = tmp_path / "dca_history.json"
    path.write_text(json.dumps(records))
    return path


def sample_records() -> list[dict[str, Any]]:
    return json.loads(HISTORY.read_text())  # type: ignore[no-any-return]


def test_parse_sample_history_exactly() -> None:
    """The five sample records become exact imported buys: BTC-only ones from amount_btc, others from
    amount_asset; naive times as UTC; tx_hash null → no hash; volatility kept as reason text."""
    history = parse_history(HISTORY, skip_bad=False)
    assert history.problems == [] and history.records == 5
    first, second, third, eth, sol = history.fills
    assert (first.asset, first.size, first.price) == ("BTC", Decimal("0.00116263"), Decimal("86012.0"))
    assert first.time == datetime(2025, 3, 3, 9, 0, 12, 418233, tzinfo=UTC)
    assert (first.source, first.fee, first.fee_token, first.side) == ("imported", Decimal(0), "USDC", "B")
    assert all(f.fee_unknown for f in history.fills)  # the bot kept no fees: unknown, not 0
    assert first.hash == "0x6f1c0b2a6e5f8d91c3b7a2e4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"
    assert first.reason == "legacy bot, volatility 48.91%"
    assert (second.size, second.hash) == (Decimal("0.001698"), None)  # 0.0016980 as a float is 0.001698
    assert (third.asset, third.size) == ("BTC", Decimal("0.00133711"))
    assert (eth.asset, eth.size, eth.price) == ("ETH", Decimal("0.0261"), Decimal("1911.4"))
    assert (sol.asset, sol.size, sol.price) == ("SOL", Decimal("0.19"), Decimal("126.77"))
    assert first.tid == synthetic_tid(sample_records()[0])
    assert first.tid.startswith("imported:") and len(first.tid) == len("imported:") + 24
    assert len({f.tid for f in history.fills}) == 5


def test_floats_are_converted_from_their_shortest_text() -> None:
    """0.1 stays 0.1 (Decimal(repr)), not 0.1000000000000000055511151231257827…"""
    from dcactl.ingest.legacy import parse_record

    fill, problems = parse_record(
        {"timestamp": "2025-01-01T00:00:00", "price": 0.1, "amount_btc": 0.3, "amount_usd": 0.03}
    )
    assert problems == [] and fill is not None
    assert (fill.price, fill.size) == (Decimal("0.1"), Decimal("0.3"))


def test_aware_timestamp_is_converted_to_utc() -> None:
    """A timestamp with an offset is converted to UTC rather than re-labelled."""
    from dcactl.ingest.legacy import parse_record

    fill, _ = parse_record({"timestamp": "2025-01-01T10:00:00+02:00", "price": 10, "amount_btc": 1})
    assert fill is not None and fill.time == datetime(2025, 1, 1, 8, tzinfo=UTC)


def test_import_is_idempotent(ledger: Ledger) -> None:
    """Importing the same history twice adds nothing the second time."""
    report = import_legacy(ledger, HISTORY, skip_bad=False)
    assert (report.inserted, report.already_present, report.skipped) == (5, 0, [])
    again = import_legacy(ledger, HISTORY, skip_bad=False)
    assert (again.inserted, again.already_present) == (0, 5)
    assert ledger.fill_count(source="imported") == 5
    btc = next(p for p in ledger.positions() if p.asset == "BTC")
    assert btc.units == Decimal("0.00116263") + Decimal("0.001698") + Decimal("0.00133711")
    assert btc.buys == 3


MALFORMED = [
    ({"price": None}, "record 2: price: missing"),
    ({"amount_btc": "0.001"}, "record 2: amount_btc: expected a number, got str '0.001'"),
    ({"timestamp": "last tuesday"}, "record 2: timestamp: not an ISO-8601 time: 'last tuesday'"),
    ({"amount_btc": -0.001}, "record 2: amount_btc: must be positive, got -0.001"),
    ({"asset": 42}, "record 2: asset: expected a symbol (1 to 12 letters or digits), got 42"),
    # values no real trade has: they used to end in an internal error or be imported as they were
    ({"price": 1e308}, "record 2: price: implausibly large (1e+308; over 1,000,000,000,000,000)"),
    ({"amount_usd": -5.0}, "record 2: amount_usd: must not be negative, got -5.0"),
    ({"timestamp": "0001-01-01T00:00:00"}, "record 2: timestamp: '0001-01-01T00:00:00' is before any crypto"
     " trade (2009-01-03)"),
    ({"timestamp": "2099-01-01T00:00:00"}, "record 2: timestamp: '2099-01-01T00:00:00' is in the future"),
]


@pytest.mark.parametrize(("change", "problem"), MALFORMED)
def test_malformed_record_stops_the_import_unless_skip_bad(
    tmp_path: Path, ledger: Ledger, change: dict[str, Any], problem: str
) -> None:
    """A bad record (missing price, string amount, bad time, negative size, non-string asset) is named
    with its position; without --skip-bad nothing is imported, with it the others are."""
    records = sample_records()
    records[1].update(change)
    path = write(tmp_path, records)
    with pytest.raises(ConfigError) as err:
        import_legacy(ledger, path, skip_bad=False)
    assert f"dca_history.json: {problem}" in err.value.problems
    assert ledger.fill_count() == 0
    report = import_legacy(ledger, path, skip_bad=True)
    assert report.inserted == 4 and report.skipped == [f"dca_history.json: {problem}"]


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    """Several bad records and fields are all reported in one error, each with its record number."""
    records = sample_records()
    del records[0]["price"]
    records[3]["amount_asset"] = "lots"
    records[4] = "not a record"  # type: ignore[call-overload]
    with pytest.raises(ConfigError) as err:
        parse_history(write(tmp_path, records), skip_bad=False)
    assert err.value.problems[:3] == [
        "dca_history.json: record 1: price: missing",
        "dca_history.json: record 4: amount_asset: expected a number, got str 'lots'",
        "dca_history.json: record 5: expected an object, got str",
    ]


def test_history_file_errors(tmp_path: Path) -> None:
    """A missing file is a UsageError; invalid JSON or a non-list is a ConfigError naming the file."""
    with pytest.raises(UsageError, match="no such file"):
        parse_history(tmp_path / "nope.json", skip_bad=False)
    bad = tmp_path / "dca_history.json"
    bad.write_text("[{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_history(bad, skip_bad=True)
    bad.write_text('{"trades": []}')
    with pytest.raises(ConfigError, match="expected a JSON list"):
        parse_history(bad, skip_bad=True)


def test_convert_multi_asset_config() -> None:
    """Per-asset plans → [assets.X] with volatility sizing; RSI/MA/dynamic settings listed, not dropped."""
    conv = convert_config(FIXTURES / "multi_asset_config.json")
    assert conv.doc["settings"] == {
        "network": "mainnet",
        "mode": "paper",
        "account": "0x1111111111111111111111111111111111111111",
    }
    btc = {
        k: v for k, v in conv.doc["assets"]["BTC"].items() if k not in ("rsi", "ma_dips", "dynamic_frequency")
    }
    assert btc == {
        "amount": 100,
        "every": "week",
        "enabled": True,
        "sizing": {
            "kind": "volatility",
            "min": 50,
            "max": 200,
            "window_days": 30,
            "low_vol": 35,
            "high_vol": 85,
        },
    }
    avax = conv.doc["assets"]["AVAX"]
    assert (avax["every"], avax["enabled"], avax["sizing"]["window_days"]) == ("day", False, 14)
    rules = conv.doc["assets"]["BTC"]
    assert rules["rsi"] == {"enabled": True, "period": 14, "oversold": 30, "overbought": 70, "wilder": True}
    assert rules["ma_dips"] == {
        "enabled": True,
        "periods": [20, 50, 200],
        "kind": "SMA",
        "thresholds": [2, 5, 10],
    }
    assert rules["dynamic_frequency"] == {"enabled": True, "low_vol": 25, "high_vol": 50}
    assert conv.doc["assets"]["ETH"]["rsi"] == {"enabled": False}  # the bot's switch, kept (off)
    notes = conv.not_converted
    assert not any("rsi" in n or "ma_" in n or "dynamic" in n for n in notes)
    assert any(n.startswith("notification_enabled=true") for n in notes)
    assert any(n.startswith("settings.mode") for n in notes)


def test_convert_single_asset_config_and_render_toml(tmp_path: Path) -> None:
    """dca_config.json → one BTC plan; the rendered file is valid TOML listing what was not converted."""
    conv = convert_config(FIXTURES / "dca_config.json")
    assert conv.doc["assets"] == {
        "BTC": {
            "amount": 50,
            "every": "week",
            "enabled": True,
            "sizing": {
                "kind": "volatility",
                "min": 25,
                "max": 100,
                "window_days": 30,
                "low_vol": 35,
                "high_vol": 85,
            },
        }
    }
    text = conversion_toml(convert_config(FIXTURES / "multi_asset_config.json"), FIXTURES / "x.json")
    assert tomllib.loads(text)["assets"]["ETH"]["sizing"]["high_vol"] == 100
    assert ("#   notification_enabled=true (use [notify] instead: README, Knowing it works; "
            "not converted)") in text
    converted = tomllib.loads(text)["assets"]["BTC"]
    assert converted["rsi"]["period"] == 14 and converted["ma_dips"]["periods"] == [20, 50, 200]
    validate_document(tomllib.loads(text, parse_float=Decimal), tmp_path / "converted.toml")  # it loads


def test_convert_config_keeps_odd_values_visible(tmp_path: Path) -> None:
    """Unknown frequency, missing sizing keys, unknown keys and a switched-off bot are all reported."""
    path = tmp_path / "multi_asset_config.json"
    plan = {"base_amount": 12.5, "frequency": "hourly", "min_amount": 10, "max_amount": 20, "colour": "blue"}
    path.write_text(json.dumps({"assets": {"eth": plan}, "enabled": False}))
    conv = convert_config(path)
    eth = conv.doc["assets"]["ETH"]
    assert (eth["amount"], eth["enabled"], "every" in eth) == (12.5, False, False)
    assert eth["sizing"]["window_days"] == 30
    text = "\n".join(conv.not_converted)
    for expected in (
        'frequency="hourly"',
        "volatility_window missing; used 30",
        'colour="blue"',
        "enabled=false (the bot was switched off",
    ):
        assert expected in text
    path.write_text("[]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        convert_config(path)


def test_unknown_fees_show_as_unknown_in_history_and_status(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `import legacy` (a bot that kept no fees): `history` says "unknown" in its fee column, its
    CSV leaves fee and fee_token empty and its JSON has null (never 0); `status` shows the imported
    fees as unknown, says the totals count known fees only, and its JSON has fees_usd null with
    fees_unknown 5; the HTML report's status table says unknown too."""
    import csv
    import io

    from support import write_portfolio

    monkeypatch.setenv("COLUMNS", "200")
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, '[assets.BTC]\namount = 20\nevery = "day"\n')
    assert cli("--config", str(cfg), "-q", "import", "legacy", "--history", str(HISTORY)).code == 0
    table = cli("--config", str(cfg), "history")
    fee_cells = [line.split("│")[7].strip() for line in table.out.splitlines() if "imported" in line]
    assert fee_cells == ["unknown"] * 5
    rows = list(csv.DictReader(io.StringIO(cli("--config", str(cfg), "history", "--format", "csv").out)))
    assert [(r["fee"], r["fee_token"]) for r in rows] == [("", "")] * 5
    assert rows[0]["usd"] == "100.00013156"  # 0.00116263 × 86012.0 = 86.012 + 13.98813156
    fills = json.loads(cli("--config", str(cfg), "history", "--format", "json").out)["fills"]
    assert [(f["fee"], f["fee_token"]) for f in fills] == [(None, None)] * 5
    status = cli("--config", str(cfg), "status")
    assert status.code == 0, status.err
    assert "Fees unknown for 5 imported fills (the earlier bot kept none)" in status.out
    totals = status.out.split("Totals by source")[1]
    assert [line.split("│")[3].strip() for line in totals.splitlines() if "│ imported" in line
            or "│ real" in line] == ["unknown", "unknown"]
    doc = cli("--config", str(cfg), "--json", "status").json()
    imported = {(a["asset"], a["fees_usd"], a["fees_unknown"])
                for a in doc["assets"] if a["source"] == "imported"}
    assert imported == {("BTC", None, 3), ("ETH", None, 1), ("SOL", None, 1)}
    assert (doc["totals"]["real"]["fees_usd"], doc["totals"]["real"]["fees_unknown"]) == (None, 5)
    page = tmp_path / "report.html"
    assert cli("--config", str(cfg), "-q", "report", "--output", str(page)).code == 0
    status_table = page.read_text().split("<h2>Status</h2>")[1].split("</table>")[0]
    assert status_table.count(">unknown<") == 3  # the fees of the imported BTC, ETH and SOL rows
