"""The ledger through the CLI against a devnet: a live round plus a paper asset, then `status`,
`history`, `lots`, `sync` (with fills placed outside dcactl), `import legacy`, `backup`, `schedule`."""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from support import write_portfolio

from dcactl.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "tests" / "fixtures" / "legacy"
PRODUCT_COLUMNS = ["time", "asset", "pair", "side", "size", "price", "usd", "fee", "fee_token", "tid", "oid",
                   "cloid", "hash", "source", "period", "reason"]
"""The `history --format csv|json` columns, in PRODUCT.md's order."""
ASSETS = """
[assets.BTC]
amount = 100
every = "day"
[assets.ETH]
amount = 50
every = "day"
[assets.AVAX]
amount = 20
every = "day"
"""
E8 = Decimal("1E-8")


@dataclass
class Live:
    """A live portfolio on the devnet for a funded throwaway account, and its ledger path."""

    cfg: Path
    db: Path
    account: str
    key: str
    devnet: Any
    network: str

    def ledger(self) -> Ledger:
        """The ledger of this portfolio's book (close it)."""
        return Ledger.open(self.db, network=self.network, account=self.account)


@pytest.fixture
def live(tmp_path: Path, devnet: Any, monkeypatch: pytest.MonkeyPatch) -> Live:
    """`mode = "live"` with `key = "env:DCACTL_KEY"` for an account funded with 1,000 USDC."""
    wallet = Account.create()
    devnet.admin.fund(wallet.address, usdc=1000)
    monkeypatch.setenv("DCACTL_KEY", wallet.key.hex())
    account = wallet.address.lower()
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS,
                          settings=f'mode = "live"\naccount = "{account}"\nkey = "env:DCACTL_KEY"')
    return Live(cfg, tmp_path / "ledger.db", account, wallet.key.hex(), devnet, devnet.url)


def _round(live: Live, cli: Callable[..., Any]) -> dict[str, Any]:
    """One live `run`: BTC and ETH filled on the devnet, AVAX (unlisted) on paper."""
    res = cli("--config", str(live.cfg), "--json", "run")
    assert res.code == 0, res.err
    results = {r["asset"]: r for r in res.json()["results"]}
    assert {a: (r["venue"], r["status"]) for a, r in results.items()} == {
        "BTC": ("hyperliquid", "filled"), "ETH": ("hyperliquid", "filled"), "AVAX": ("paper", "paper")}
    return results


def _history(live: Live, cli: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    res = cli("--config", str(live.cfg), "history", "--format", "json", *args)
    assert res.code == 0, res.err
    fills: list[dict[str, Any]] = res.json()["fills"]
    return fills


def _q8(value: Decimal) -> Decimal:
    return value.quantize(E8, rounding=ROUND_HALF_EVEN)


def _status(live: Live, cli: Callable[..., Any]) -> dict[str, Any]:
    res = cli("--config", str(live.cfg), "status", "--json")
    assert res.code == 0, res.err
    doc: dict[str, Any] = res.json()
    return doc


def test_status_after_a_live_round_and_a_paper_asset(live: Live, cli: Any) -> None:
    """units = Σ(size − base fee), invested = Σ size × price, avg_cost = invested / units, per source;
    totals keep real (dcactl) and paper apart; units equal the devnet's own balances."""
    _round(live, cli)
    fills = _history(live, cli)
    doc = _status(live, cli)
    assert doc["network"] == live.network and doc["account"] == live.account
    rows = {(r["asset"], r["source"]): r for r in doc["assets"]}
    assert set(rows) == {("BTC", "dcactl"), ("ETH", "dcactl"), ("AVAX", "paper")}
    balances = live.devnet.admin.balances(live.account)["balances"]
    for (asset, source), row in rows.items():
        mine = [f for f in fills if f["asset"] == asset]
        assert {f["source"] for f in mine} == {source}
        assert all(f["fee_token"] != "USDC" for f in mine), "a spot buy pays its fee in the base token"
        units = sum((Decimal(f["size"]) - Decimal(f["fee"]) for f in mine), Decimal(0))
        invested = sum((Decimal(f["size"]) * Decimal(f["price"]) for f in mine), Decimal(0))
        fees = sum((Decimal(f["fee"]) * Decimal(f["price"]) for f in mine), Decimal(0))
        assert Decimal(row["units"]) == units
        assert Decimal(row["invested_usd"]) == _q8(invested), "money at USDC's 8 decimals"
        assert Decimal(row["avg_cost"]) == _q8(invested / units)
        assert Decimal(row["fees_usd"]) == _q8(fees)
        assert Decimal(row["value_usd"]) - Decimal(row["pnl_usd"]) == _q8(invested), "PnL is against the cost"
        assert row["buys"] == len(mine)
        assert row["first_buy"] == min(f["time"] for f in mine)
        assert row["last_buy"] == max(f["time"] for f in mine)
        if source == "dcactl":
            token = {"BTC": "UBTC", "ETH": "UETH"}[asset]
            assert Decimal(balances[token]) == units, "the exchange holds exactly the units status shows"
    totals = doc["totals"]
    assert set(totals) == {"dcactl", "real", "paper"}
    real = [r for r in doc["assets"] if r["source"] == "dcactl"]
    for name in ("dcactl", "real"):
        assert Decimal(totals[name]["invested_usd"]) == sum(Decimal(r["invested_usd"]) for r in real)
        assert Decimal(totals[name]["value_usd"]) == sum(Decimal(r["value_usd"]) for r in real)
        assert totals[name]["buys"] == sum(r["buys"] for r in real)
    assert Decimal(totals["paper"]["invested_usd"]) == Decimal(rows["AVAX", "paper"]["invested_usd"])
    assert totals["paper"]["buys"] == rows["AVAX", "paper"]["buys"]
    spent = Decimal(1000) - Decimal(balances["USDC"])
    assert spent == Decimal(totals["real"]["invested_usd"]), "USDC left the account exactly as invested"
    # cash and runway: BTC 100 + ETH 50 a day spend USDC (AVAX is on paper): 150 a round, 150 a day
    cash = doc["cash"]
    usdc = Decimal(balances["USDC"])
    assert (Decimal(cash["usdc"]), Decimal(cash["one_round_usd"]), Decimal(cash["per_day_usd"])) == (
        usdc, Decimal(150), Decimal(150))
    assert cash["runway_periods"] == int(usdc // 150) == 5  # 1000 − ~150 spent = ~850
    assert Decimal(cash["runway_days"]) == (usdc / 150).quantize(Decimal("0.1"))
    table = cli("--config", str(live.cfg), "status")
    assert f"Cash: {usdc:,.2f} USDC in spot; runway 5 period(s)" in table.out


def test_history_formats_and_filters(live: Live, cli: Any) -> None:
    """CSV and JSON carry PRODUCT.md's columns in order; --asset, --since and --limit filter."""
    _round(live, cli)
    res = cli("--config", str(live.cfg), "history", "--format", "csv")
    assert res.code == 0, res.err
    rows = list(csv.reader(io.StringIO(res.out)))
    assert rows[0] == PRODUCT_COLUMNS
    fills = _history(live, cli)
    assert len(rows) - 1 == len(fills) >= 3
    assert [dict(zip(rows[0], r, strict=True)) for r in rows[1:]] == [
        {k: "" if v is None else str(v) for k, v in f.items()} for f in fills]
    for f in fills:
        assert list(f) == PRODUCT_COLUMNS
        assert f["side"] == "B" and f["time"].endswith("Z")
        assert Decimal(f["usd"]) == _q8(Decimal(f["size"]) * Decimal(f["price"])), "USDC's 8 decimals"
    assert {f["source"] for f in fills} == {"dcactl", "paper"}
    ours = [f for f in fills if f["source"] == "dcactl"]
    assert all(f["tid"] and f["oid"] and f["cloid"] and f["hash"] and f["period"] for f in ours)
    assert [f["time"] for f in fills] == sorted(f["time"] for f in fills), "oldest first"

    btc = _history(live, cli, "--asset", "btc")
    assert btc and {f["asset"] for f in btc} == {"BTC"}
    today = datetime.now(UTC).date()
    assert _history(live, cli, "--since", str(today + timedelta(days=1))) == []
    assert _history(live, cli, "--since", str(today - timedelta(days=1))) == fills
    assert _history(live, cli, "--limit", "1") == fills[-1:], "the newest fill"
    bad = cli("--config", str(live.cfg), "history", "--since", "yesterday")
    assert bad.code == 2 and bad.out == "" and len(bad.err.splitlines()) == 1
    assert _history(live, cli, "--source", "paper") == [f for f in fills if f["source"] == "paper"]
    assert _history(live, cli, "--source", "real") == ours
    assert _history(live, cli, "--source", "external") == []
    table = cli("--config", str(live.cfg), "history", "--source", "dcactl", "--limit", "10")
    assert table.code == 0 and "paper" not in table.out
    wrong = cli("--config", str(live.cfg), "history", "--source", "mine")
    assert wrong.code == 2 and wrong.err.startswith(
        "dcactl: error: Invalid value for '--source': 'mine' is not one of 'real', 'paper'")


def test_lots_fifo_and_average_in_usdc(live: Live, cli: Any) -> None:
    """`lots --year <this year>`: one FIFO lot per real fill (never paper), one pooled lot per asset
    with `--method average`, costs = size × price in USDC; an earlier year has no lots."""
    _round(live, cli)
    again = cli("--config", str(live.cfg), "--json", "buy", "BTC", "--force", "--amount", "20")
    assert again.code == 0, again.err
    real = [f for f in _history(live, cli) if f["source"] != "paper"]
    year = datetime.now(UTC).year
    res = cli("--config", str(live.cfg), "--json", "lots", "--year", str(year))
    assert res.code == 0, res.err
    doc = res.json()
    assert (doc["year"], doc["method"], doc["currency"], doc["timezone"]) == (year, "fifo", "USDC", "UTC")
    lots = doc["lots"]
    assert sorted(lot["tid"] for lot in lots) == sorted(f["tid"] for f in real)
    for lot in lots:
        f = next(f for f in real if f["tid"] == lot["tid"])
        units = Decimal(f["size"]) - Decimal(f["fee"])
        cost = Decimal(f["size"]) * Decimal(f["price"])
        assert (Decimal(lot["units"]), Decimal(lot["cost_usd"])) == (units, cost)
        assert Decimal(lot["units_remaining"]) == units and lot["in_year"] is True
        assert Decimal(lot["unit_cost"]) == _q8(cost / units)
    res = cli("--config", str(live.cfg), "--json", "lots", "--year", str(year), "--method", "average")
    pooled = {lot["asset"]: lot for lot in res.json()["lots"]}
    assert set(pooled) == {"BTC", "ETH"}
    btc = [f for f in real if f["asset"] == "BTC"]
    assert len(btc) >= 2 and pooled["BTC"]["fills"] == len(btc) and pooled["BTC"]["tid"] is None
    assert Decimal(pooled["BTC"]["units"]) == sum(Decimal(f["size"]) - Decimal(f["fee"]) for f in btc)
    assert Decimal(pooled["BTC"]["cost_usd"]) == sum(Decimal(f["size"]) * Decimal(f["price"]) for f in btc)
    as_csv = cli("--config", str(live.cfg), "lots", "--year", str(year), "--format", "csv")
    assert as_csv.code == 0, as_csv.err
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert [r["tid"] for r in rows] == [lot["tid"] for lot in lots]
    assert [(r["units"], r["cost_usd"], r["in_year"]) for r in rows] == [
        (lot["units"], lot["cost_usd"], str(lot["in_year"])) for lot in lots]
    earlier = cli("--config", str(live.cfg), "--json", "lots", "--year", str(year - 1))
    assert earlier.code == 0 and earlier.json()["lots"] == []
    table = cli("--config", str(live.cfg), "lots", "--year", str(year))
    assert table.code == 0 and "USDC, not USD" in table.out


def _sdk_buy(url: str, key: str, coin: str, usd: Decimal) -> dict[str, Any]:
    """A buy placed by hand with the official SDK (not through dcactl), as from the exchange UI."""
    from hyperliquid.exchange import Exchange
    from hyperliquid.info import Info

    info = Info(base_url=url, skip_ws=True)
    ex = Exchange(Account.from_key(key), base_url=url)
    try:
        mid = Decimal(info.all_mids()[info.name_to_coin[coin]])
        px = float(f"{float(mid * Decimal('1.01')):.5g}")
        sz = round(float(usd / mid), info.asset_to_sz_decimals[info.name_to_asset(coin)])
        result: dict[str, Any] = ex.order(coin, True, sz, px, {"limit": {"tif": "Ioc"}})
        return result
    finally:
        info.session.close()
        ex.session.close()
        ex.info.session.close()


def test_sync_twice_adds_nothing_and_external_fills_show_apart(live: Live, cli: Any) -> None:
    """After a live round, sync finds only fills dcactl already holds; a hand-placed SDK buy comes in
    as "external" once, and `status` shows it apart from dcactl's own buys."""
    _round(live, cli)
    first = cli("--config", str(live.cfg), "--json", "sync")
    assert first.code == 0, first.err
    n_ours = len([f for f in _history(live, cli) if f["source"] == "dcactl"])
    assert (first.json()["inserted"], first.json()["duplicates"]) == (0, n_ours)
    placed = _sdk_buy(live.devnet.url, live.key, "UETH/USDC", Decimal(30))
    assert placed["status"] == "ok" and "filled" in placed["response"]["data"]["statuses"][0], placed
    second = cli("--config", str(live.cfg), "--json", "sync")
    assert second.code == 0, second.err
    external = [f for f in _history(live, cli) if f["source"] == "external"]
    assert len(external) >= 1 and {f["asset"] for f in external} == {"ETH"}
    assert (second.json()["inserted"], second.json()["external"]) == (len(external), len(external))
    assert all(f["period"] is None and f["oid"] for f in external)
    third = cli("--config", str(live.cfg), "--json", "sync")
    assert (third.json()["inserted"], third.json()["external"]) == (0, 0)
    full = cli("--config", str(live.cfg), "--json", "sync", "--full")
    assert full.json()["inserted"] == 0
    doc = _status(live, cli)
    rows = {(r["asset"], r["source"]): r for r in doc["assets"]}
    ext = rows["ETH", "external"]
    assert Decimal(ext["units"]) == sum(Decimal(f["size"]) - Decimal(f["fee"]) for f in external)
    assert ext["buys"] == len(external) and rows["ETH", "dcactl"]["buys"] >= 1
    totals = doc["totals"]
    assert {"dcactl", "external", "real", "paper"} <= set(totals)
    assert Decimal(totals["real"]["invested_usd"]) == (
        Decimal(totals["dcactl"]["invested_usd"]) + Decimal(totals["external"]["invested_usd"]))
    balances = live.devnet.admin.balances(live.account)["balances"]
    held = Decimal(rows["ETH", "dcactl"]["units"]) + Decimal(ext["units"])
    assert Decimal(balances["UETH"]) == held


def _paper_cfg(tmp_path: Path, devnet: Any) -> Path:
    return write_portfolio(tmp_path / "paper.toml", devnet.url, ASSETS)


def test_import_legacy_writes_a_portfolio_and_imports_once(tmp_path: Path, cli: Any) -> None:
    """`import legacy` converts the bot's config into a loadable paper portfolio listing what was not
    converted, imports its 5 records as "imported" fills, and a second import adds nothing."""
    out, db = tmp_path / "p.toml", tmp_path / "l.db"
    res = cli("--db", str(db), "--json", "import", "legacy", "--history", str(LEGACY / "dca_history.json"),
              "--legacy-config", str(LEGACY / "multi_asset_config.json"), "--output", str(out))
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["portfolio_written"] == str(out)
    notes = doc["not_converted"]
    assert not any("rsi_period" in n or "ma_periods" in n for n in notes)  # converted into rule tables
    assert any("notification_enabled" in n for n in notes)
    assert doc["import"] == {"inserted": 5, "already_present": 0, "skipped": [], "matched": 0}
    from dcactl.session import load

    config = load(out)
    assert config.settings.mode == "paper"
    assert {a.symbol: a.enabled for a in config.assets} == {"BTC": True, "ETH": True, "AVAX": False}
    text = out.read_text()
    assert "# Not converted" in text and "notification_enabled=true" in text
    btc = config.asset("BTC")
    assert btc.rsi is not None and btc.rsi.period == 14 and btc.ma_dips is not None

    again = cli("--config", str(out), "--db", str(db), "import", "legacy", "--history",
                str(LEGACY / "dca_history.json"))
    assert again.code == 0, again.err
    assert "Imported 0 fills (5 already present, 0 skipped" in again.out
    with Ledger.open(db, network="mainnet", account=config.settings.account) as ledger:
        fills = ledger.fills()
    assert [f.asset for f in fills] == ["BTC", "BTC", "BTC", "ETH", "SOL"]
    assert {f.source for f in fills} == {"imported"}
    assert fills[0].size == Decimal("0.00116263") and fills[0].price == Decimal("86012.0")
    refused = cli("--db", str(db), "import", "legacy", "--history", str(LEGACY / "dca_history.json"),
                  "--legacy-config", str(LEGACY / "multi_asset_config.json"), "--output", str(out))
    assert refused.code == 2 and refused.out == "" and len(refused.err.splitlines()) == 1


def test_import_legacy_malformed_history(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Malformed records: exit 2 listing each by position, nothing imported; --skip-bad imports the rest."""
    import json

    records = json.loads((LEGACY / "dca_history.json").read_text())
    records[1]["price"] = "80977"  # a string, not a number
    del records[3]["timestamp"]
    history = tmp_path / "bad.json"
    history.write_text(json.dumps(records))
    cfg = _paper_cfg(tmp_path, devnet)
    res = cli("--config", str(cfg), "import", "legacy", "--history", str(history))
    assert res.code == 2 and res.out == ""
    assert res.err.splitlines() == [
        "dcactl: error: bad.json: record 2: price: expected a number, got str '80977'",
        "dcactl: error: bad.json: record 4: timestamp: missing",
        "dcactl: error: bad.json: nothing imported (pass --skip-bad to import the valid records)",
    ]
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None) as ledger:
        assert ledger.fills() == []
    out, db = tmp_path / "converted.toml", tmp_path / "other.db"
    convert = ("--db", str(db), "import", "legacy", "--history", str(history), "--legacy-config",
               str(LEGACY / "multi_asset_config.json"), "--output", str(out))
    res = cli(*convert)
    assert res.code == 2 and len(res.err.splitlines()) == 3
    assert not out.exists() and not db.exists(), "a refused import writes neither portfolio nor ledger"
    res = cli(*convert, "--skip-bad")
    assert res.code == 0, res.err
    assert out.exists() and "Imported 3 fills (0 already present, 2 skipped" in res.out
    res = cli("--config", str(cfg), "--json", "import", "legacy", "--history", str(history), "--skip-bad")
    assert res.code == 0, res.err
    report = res.json()["import"]
    assert report["inserted"] == 3
    assert report["skipped"] == ["bad.json: record 2: price: expected a number, got str '80977'",
                                 "bad.json: record 4: timestamp: missing"]
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None) as ledger:
        assert sorted(f.asset for f in ledger.fills()) == ["BTC", "BTC", "SOL"]


def _backup_fills(path: Path, network: str) -> list[Any]:
    with Ledger.open(path, network=network, account=None) as copy:
        fills = copy.fills()
        for f in fills:  # a paper buy's intent and fill are one transaction: never one without the other
            assert f.cloid is not None and copy.intent(f.cloid) is not None
        return fills


def test_backup_while_another_process_buys(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Backups taken while `buy --force` processes write are consistent ledgers whose fills the source
    holds identically; a backup after they finish has exactly the same fills; an existing
    destination is refused (exit 2)."""
    cfg = _paper_cfg(tmp_path, devnet)
    assert cli("--config", str(cfg), "run", "-q").code == 0
    cmd = [sys.executable, "-m", "dcactl", "--config", str(cfg), "-q", "buy", "BTC", "--force",
           "--amount", "15"]
    writers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
               for _ in range(3)]
    copies: list[Path] = []
    during = 0
    try:
        while any(w.poll() is None for w in writers) or not copies:
            copy = tmp_path / f"backup-{len(copies)}.db"
            res = cli("--config", str(cfg), "--json", "backup", str(copy))
            assert res.code == 0, res.err
            assert res.json() == {"backup": str(copy), "ledger": str(tmp_path / "ledger.db")}
            copies.append(copy)
            during += any(w.poll() is None for w in writers)
    finally:
        outs = [w.communicate(timeout=60) for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], outs
    assert during >= 1, "at least one backup finished while a writer was still running"
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None) as ledger:
        source = {f.tid: f for f in ledger.fills()}
    assert len(source) == 3 + 3
    for copy in copies:
        fills = _backup_fills(copy, devnet.url)
        assert len(fills) >= 3 and all(source[f.tid] == f for f in fills)
    final = tmp_path / "final.db"
    done = cli("--config", str(cfg), "backup", str(final))
    assert done.out == f"Backed up {tmp_path / 'ledger.db'} to {final}\n"
    assert {f.tid: f for f in _backup_fills(final, devnet.url)} == source
    before = final.read_bytes()
    res = cli("--config", str(cfg), "backup", str(final))
    assert (res.code, res.out) == (2, "")
    assert res.err.splitlines() == [
        f"dcactl: error: {final}: already exists; not overwriting it (choose a new path)"]
    assert final.read_bytes() == before


def test_schedule_prints_cron_line_and_systemd_units(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """`schedule cron` prints one crontab line with absolute paths of dcactl, config and ledger;
    `schedule systemd` prints the service and the timer."""
    cfg = _paper_cfg(tmp_path, devnet)
    os.chdir(tmp_path)
    res = cli("--config", "paper.toml", "schedule", "cron")
    assert res.code == 0, res.err
    (line,) = res.out.splitlines()
    fields = line.split()
    assert fields[:5] == ["*/15", "*", "*", "*", "*"]
    exe = Path(fields[5])
    assert exe.is_absolute() and exe.is_file() and os.access(exe, os.X_OK), exe
    assert fields[6:] == ["--config", str(cfg), "--db", str(tmp_path / "ledger.db"), "--quiet", "run"]
    res = cli("--config", "paper.toml", "--json", "schedule", "systemd")
    assert res.code == 0, res.err
    units = res.json()["units"]
    assert set(units) == {"dcactl.service", "dcactl.timer"}
    assert f"ExecStart={exe} --config {cfg} --db {tmp_path / 'ledger.db'} run" in units["dcactl.service"]
    assert "OnCalendar=*:0/15" in units["dcactl.timer"] and "Persistent=true" in units["dcactl.timer"]
    text = cli("--config", "paper.toml", "schedule", "systemd").out
    assert "# dcactl.service" in text and "# dcactl.timer" in text


@pytest.fixture(autouse=True)
def _keep_cwd() -> Iterator[None]:
    """Restore the working directory a test changed."""
    here = os.getcwd()
    yield
    os.chdir(here)


def test_history_table_pages_and_exports_stream_everything(tmp_path: Path, cli: Any) -> None:
    """120 fills: the table shows the newest 50 with a note saying more exist; CSV and JSON (streamed
    row by row) carry all 120, oldest first, the same rows; --limit 3 takes the newest three."""
    import json as jsonlib
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from dcactl.ledger import Ledger
    from dcactl.models import Fill

    cfg = tmp_path / "p.toml"
    cfg.write_text('[settings]\nnetwork = "devnet"\ndatabase = "ledger.db"\n[assets.BTC]\namount = 20\n'
                   'every = "day"\n')
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with Ledger.open(tmp_path / "ledger.db", network="devnet", account=None) as ledger:
        ledger.add_fills(Fill(time=t0 + timedelta(hours=i), asset="BTC", pair="@142", side="B",
                              size=Decimal("0.0002"), price=Decimal(100_000 + i), fee=Decimal(0),
                              fee_token="UBTC", tid=f"t{i}", source="paper") for i in range(120))
    table = cli("--config", str(cfg), "history")
    assert table.code == 0
    assert table.out.count("│ BTC") == 50 and "100,119" not in table.out
    assert "the newest 50 fills; older ones exist" in table.err
    rows = list(csv.reader(io.StringIO(cli("--config", str(cfg), "history", "--format", "csv").out)))
    tid = rows[0].index("tid")
    assert len(rows) == 121 and rows[1][tid] == "t0" and rows[-1][tid] == "t119"
    doc = jsonlib.loads(cli("--config", str(cfg), "history", "--format", "json").out)
    assert [f["tid"] for f in doc["fills"]] == [f"t{i}" for i in range(120)]
    assert [dict(zip(rows[0], r, strict=True)) for r in rows[1:]] == [
        {k: "" if v is None else str(v) for k, v in f.items()} for f in doc["fills"]]
    assert jsonlib.loads(cli("--config", str(cfg), "--json", "history").out) == doc
    newest = jsonlib.loads(cli("--config", str(cfg), "history", "--format", "json", "--limit", "3").out)
    assert [f["tid"] for f in newest["fills"]] == ["t117", "t118", "t119"]


def _lots_ledger(tmp_path: Path) -> Path:
    """A paper-account ledger holding real fills whose 2024 lots (UTC) are hand-computed below; returns
    the portfolio file."""
    from dcactl.models import Fill

    def f(tid: str, asset: str, side: str, size: str, price: str, fee: str, fee_token: str, when: datetime,
          source: str = "dcactl", reason: str | None = None) -> Fill:
        return Fill(time=when, asset=asset, pair="@1", side=side, size=Decimal(size),  # type: ignore[arg-type]
                    price=Decimal(price), fee=Decimal(fee), fee_token=fee_token, tid=tid,
                    source=source, reason=reason)  # type: ignore[arg-type]

    cfg = tmp_path / "p.toml"
    cfg.write_text('[settings]\nnetwork = "devnet"\ndatabase = "ledger.db"\n[assets.BTC]\namount = 20\n'
                   'every = "day"\n')
    with Ledger.open(tmp_path / "ledger.db", network="devnet", account=None) as ledger:
        ledger.add_fills([
            f("b1", "BTC", "B", "1", "100", "0.001", "UBTC", datetime(2023, 12, 31, 23, tzinfo=UTC)),
            f("b2", "BTC", "B", "2", "150", "0.3", "USDC", datetime(2024, 3, 1, tzinfo=UTC), "imported"),
            f("p", "BTC", "B", "5", "1", "0", "USDC", datetime(2024, 4, 1, tzinfo=UTC), "paper"),
            f("s", "BTC", "A", "1.5", "400", "0.6", "USDC", datetime(2024, 6, 1, tzinfo=UTC), "external"),
            f("b3", "BTC", "B", "1", "300", "0", "USDC", datetime(2025, 1, 1, 0, 30, tzinfo=UTC)),
            f("e1", "ETH", "B", "0.5", "2000", "0.0001", "UETH", datetime(2024, 2, 1, tzinfo=UTC)),
            f("0:1", "ETH", "A", "0.0000131", "3000", "0", "USDC", datetime(2024, 7, 1, tzinfo=UTC),
              "external", "dust conversion"),
        ])
    return cfg


LOTS_2024 = [
    # 1 BTC @ 100, fee 0.001 in BTC: 0.999 units for 100 USDC, bought in 2023; the sell of 1.5 (599.4 USDC
    # after its 0.6 USDC fee) takes all 0.999 (599.4 × 0.999 / 1.5 = 399.2004) ...
    {"asset": "BTC", "acquired": "2023-12-31T23:00:00Z", "source": "dcactl", "tid": "b1", "units": "0.999",
     "cost_usd": "100", "units_remaining": "0.000", "cost_remaining_usd": "0", "proceeds_usd": "399.2004",
     "in_year": False, "fills": 1, "unit_cost": "100.1001001"},
    # ... and 0.501 of 2 BTC @ 150 + 0.3 USDC fee (300.3): 1.499 left at 300.3 × 1.499 / 2 = 225.07485;
    # 599.4 × 0.501 / 1.5 = 200.1996 of the proceeds. Paper p and b3 (2025) are no lots of 2024.
    {"asset": "BTC", "acquired": "2024-03-01T00:00:00Z", "source": "imported", "tid": "b2", "units": "2",
     "cost_usd": "300.3", "units_remaining": "1.499", "cost_remaining_usd": "225.07485",
     "proceeds_usd": "200.1996", "in_year": True, "fills": 1, "unit_cost": "150.15"},
    # 0.5 ETH @ 2000, fee 0.0001 ETH: 0.4999 for 1000.0, shown as 1000 (money at USDC's 8 decimals,
    # trailing zeros dropped; 2000.40008002 a unit); the dust conversion of 0.0000131 takes
    # 1000 × 0.0000131 / 0.4999 = 0.026205241... of its cost (999.97379476 left) and brings 0.0393.
    {"asset": "ETH", "acquired": "2024-02-01T00:00:00Z", "source": "dcactl", "tid": "e1", "units": "0.4999",
     "cost_usd": "1000", "units_remaining": "0.4998869", "cost_remaining_usd": "999.97379476",
     "proceeds_usd": "0.0393", "in_year": True, "fills": 1, "unit_cost": "2000.40008002"},
]
DISPOSALS_2024 = [
    {"asset": "BTC", "time": "2024-06-01T00:00:00Z", "source": "external", "kind": "sell", "units": "1.5",
     "proceeds_usd": "599.4"},
    {"asset": "ETH", "time": "2024-07-01T00:00:00Z", "source": "external", "kind": "dust conversion",
     "units": "0.0000131", "proceeds_usd": "0.0393"},
]


def test_lots_exports_stream_the_hand_computed_lots(tmp_path: Path, cli: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`lots --format csv` and `--format json` (and `--json lots`) write exactly the hand-computed lots
    and disposals of a small ledger, reading fills through the cursor: never the list of every fill."""
    import json as jsonlib

    cfg = _lots_ledger(tmp_path)

    def every_fill(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("lots must not load every fill")

    monkeypatch.setattr(Ledger, "fills", every_fill)
    as_csv = cli("--config", str(cfg), "lots", "--year", "2024", "--format", "csv")
    assert as_csv.code == 0, as_csv.err
    columns = ["asset", "acquired", "source", "tid", "units", "cost_usd", "unit_cost", "units_remaining",
               "cost_remaining_usd", "proceeds_usd", "in_year"]
    assert list(csv.reader(io.StringIO(as_csv.out))) == [columns] + [
        ["" if lot[c] is None else str(lot[c]) for c in columns] for lot in LOTS_2024]
    as_json = cli("--config", str(cfg), "lots", "--year", "2024", "--format", "json")
    assert as_json.code == 0, as_json.err
    assert jsonlib.loads(as_json.out) == {"year": 2024, "method": "fifo", "timezone": "UTC",
                                          "currency": "USDC", "lots": LOTS_2024, "disposals": DISPOSALS_2024}
    assert cli("--config", str(cfg), "--json", "lots", "--year", "2024").out == as_json.out
    average = cli("--config", str(cfg), "lots", "--year", "2024", "--method", "average", "--format", "json")
    btc, eth = jsonlib.loads(average.out)["lots"]
    # one pool of 2.999 units for 400.3; the sell takes 1.5 at 400.3 / 2.999 a unit: 1.499 left, costing
    # 400.3 × 1.499 / 2.999 = 200.08326109 (8 decimals)
    assert (btc["tid"], btc["fills"], btc["source"], btc["units"], btc["cost_usd"]) == (
        None, 2, "pooled", "2.999", "400.3")
    assert (btc["units_remaining"], btc["cost_remaining_usd"]) == ("1.499", "200.08326109")
    assert eth["cost_remaining_usd"] == "999.97379476"


def test_lots_table_is_a_summary_per_asset_and_the_newest_lots(tmp_path: Path, cli: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The `lots` table: a line per asset (lots, units held, their cost basis, the year's disposals and
    proceeds, hand-computed from LOTS_2024), only the newest lots (a page of 2 here: b2 and e1, not
    b1), the newest disposals, and a note saying how to get every lot; at 80 columns no value is split."""
    cfg = _lots_ledger(tmp_path)
    monkeypatch.setattr("dcactl.cli.render.LOTS_PAGE", 2)
    res = cli("--config", str(cfg), "lots", "--year", "2024")
    assert res.code == 0, res.err
    assert "Cost-basis lots 2024 (fifo, year in UTC) — values in USDC, not USD" in res.out
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in res.out.splitlines()
            if line.startswith("│")]
    assert rows[:2] == [["BTC", "2", "1.499", "225.07", "1", "599.40"],
                        ["ETH", "1", "0.4998869", "999.97", "1", "0.04"]]
    listed = [r[0] + " " + r[1] for r in rows[2:4]]
    assert listed == ["BTC 2024-03-01 00:00", "ETH 2024-02-01 00:00"] and "2023-12-31" not in res.out
    assert "The newest 2 of 3 lots (newest first)" in res.out
    assert rows[4][:3] == ["ETH", "2024-07-01 00:00", "dust conversion"] and len(rows) == 6
    assert "2 of 3 lots listed; every lot: --format csv (--format json adds the disposals)" in res.err
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cli("--config", str(cfg), "lots", "--year", "2024")
    assert narrow.code == 0 and split_values(narrow.out) == []
    assert all(len(line) <= 80 for line in narrow.out.splitlines())
    assert "the other columns: a terminal of 120+ columns, or --format csv" in narrow.out
    assert "source" not in narrow.out and "unit cost" not in narrow.out
    empty = cli("--config", str(cfg), "lots", "--year", "2022")
    assert empty.code == 0 and empty.out == "" and "no lots in 2022" in empty.err


def test_reading_commands_never_create_a_ledger(tmp_path: Path, cli: Any) -> None:
    """status, history, runs and lots on a --db that does not exist: they answer (empty) and leave no
    file behind; run is what creates a ledger."""
    cfg = tmp_path / "p.toml"
    cfg.write_text('[settings]\nnetwork = "http://127.0.0.1:9"\nrequest_timeout = 1\n'
                   '[assets.BTC]\namount = 20\nevery = "day"\nvenue = "paper"\ncoingecko_id = "bitcoin"\n')
    db = tmp_path / "none" / "ledger.db"
    for args in (("history",), ("runs",), ("lots", "--year", "2026"), ("--json", "runs")):
        res = cli("--config", str(cfg), "--db", str(db), *args)
        assert res.code == 0, (args, res.err)
    assert cli("--config", str(cfg), "--db", str(db), "--json", "runs").json() == {"runs": []}
    assert not db.exists() and not db.parent.exists()


def split_values(text: str) -> list[tuple[str, str]]:
    """Pairs (end of one line, start of the next) where a table cell holding a number or a date went
    on to the next line: a row whose first cell is empty continues the row above it."""
    split = []
    rows = [line for line in text.splitlines() if line.startswith("│")]
    for above, below in itertools.pairwise(rows):
        cells_above = [c.strip() for c in above.strip("│").split("│")]
        cells_below = [c.strip() for c in below.strip("│").split("│")]
        if cells_below[0] or len(cells_above) != len(cells_below):
            continue  # a new row
        for a, b in zip(cells_above, cells_below, strict=True):
            if a and b and re.search(r"[0-9.,:-]$", a) and re.match(r"[0-9.,:%]", b):
                split.append((a, b))
    return split


@pytest.mark.parametrize("width", [80, 100, 120])
def test_no_number_or_date_is_split_at_any_width(live: Live, cli: Any, width: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`run`, `status`, `history` and `plan` at 80, 100 and 120 columns: text may wrap, numbers and
    dates never (the narrow layouts drop columns instead); PnL % has two decimals."""
    monkeypatch.setenv("COLUMNS", str(width))
    first = cli("--config", str(live.cfg), "run")
    assert first.code == 0, first.err
    outputs = {"run": first.out}
    for command in ("status", "history", "plan"):
        res = cli("--config", str(live.cfg), command)
        assert res.code == 0, res.err
        outputs[command] = res.out
    for command, text in outputs.items():
        assert split_values(text) == [], (command, width, text)
        table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
        assert all(len(line) <= width for line in table_lines), (command, width)
    assert re.search(r"-?\d+\.\d\d%", outputs["status"]), outputs["status"]
    assert "-0%" not in outputs["status"] and "-0.00%" not in outputs["status"]
