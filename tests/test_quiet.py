"""`-q/--quiet` as PRODUCT.md ("Exit codes") says, command by command: a command that acts prints
nothing at all on success (stdout and stderr empty, for cron mail); a command that shows something
prints its data (tables, the cron line, the converted portfolio, ...) and no note, hint, caption or
warning. One devnet for the module; each case its own live portfolio at 100 columns (so the narrow
layouts and their captions are in play), with a live round and the earlier bot's history in its
ledger when the command reads them."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from support import write_portfolio

from dcactl.devnet.control import DevnetThread

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
BODY = """
[assets.BTC]
amount = 20
every = "day"
[assets.BTC.rsi]
overbought_action = "skip"
[assets.ETH]
amount = 15
every = "day"
"""
"""BTC's RSI rule makes its coming buys a range (the calendar explains ranges in a caption)."""


@pytest.fixture(scope="module")
def net() -> Iterator[DevnetThread]:
    """One devnet for every case of this module (each case trades its own fresh account)."""
    with DevnetThread(seed=11) as d:
        yield d


@dataclass
class World:
    """A case's folder and live portfolio, and the means to fill its ledger."""

    folder: Path
    cfg: Path
    address: str
    cli: Callable[..., Any]

    def __call__(self, *args: str) -> Any:
        """``dcactl --config cfg ARGS``."""
        return self.cli("--config", str(self.cfg), *args)

    def seed(self) -> None:
        """A live round (BTC and ETH bought on the devnet) and the earlier bot's five trades."""
        res = self("--json", "run")
        assert res.code == 0, res.err
        assert {r["status"] for r in res.json()["results"]} == {"filled"}
        assert self("-q", "import", "legacy", "--history", str(LEGACY / "dca_history.json")).code == 0


@pytest.fixture
def world(tmp_path: Path, net: DevnetThread, cli: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    """A funded account with a live portfolio; a fake `crontab` and `systemctl` first on PATH, so
    installing a timer touches nothing outside the test."""
    wallet = Account.create()
    net.admin.fund(wallet.address, usdc="1000")
    monkeypatch.setenv("DCACTL_KEY", wallet.key.hex())
    monkeypatch.setenv("COLUMNS", "100")
    live = f'mode = "live"\naccount = "{wallet.address}"\nkey = "env:DCACTL_KEY"'
    cfg = write_portfolio(tmp_path / "p.toml", net.url, BODY, settings=live)
    fake = tmp_path / "bin"
    fake.mkdir()
    table = tmp_path / "crontab.txt"
    crontab = f'if [ "$1" = "-l" ]; then [ -f {table} ] && cat {table} || exit 1; else cat > {table}; fi'
    for name, script in (("crontab", crontab), ("systemctl", "exit 0")):
        (fake / name).write_text(f"#!/bin/sh\n{script}\n")
        (fake / name).chmod((fake / name).stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    return World(tmp_path, cfg, wallet.address, cli)


def _prices(path: Path) -> Path:
    """Forty days of AAA at 100 → 139 (a backtest needs no exchange with --prices)."""
    start = datetime(2025, 3, 3, tzinfo=UTC)
    rows = ["time,asset,open,high,low,close"]
    for i in range(40):
        day = (start + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{day},AAA,{100 + i},{101 + i},{99 + i},{100 + i}")
    path.write_text("\n".join(rows) + "\n")
    return path


# -- acting commands: nothing at all on success ------------------------------------------------------

ACTING: dict[str, Callable[[World], tuple[str, ...]]] = {
    "init": lambda w: ("--config", str(w.folder / "new.toml"), "init"),
    "run": lambda w: ("--config", str(w.cfg), "run"),
    "buy": lambda w: ("--config", str(w.cfg), "buy", "ETH", "--force"),
    "sync": lambda w: ("--config", str(w.cfg), "sync"),
    "import legacy": lambda w: ("--config", str(w.cfg), "import", "legacy", "--history",
                                str(LEGACY / "dca_history.json")),
    "import legacy --output": lambda w: ("--config", str(w.cfg), "import", "legacy", "--history",
                                         str(LEGACY / "dca_history.json"), "--legacy-config",
                                         str(LEGACY / "multi_asset_config.json"), "--output",
                                         str(w.folder / "converted.toml")),
    "backup": lambda w: ("--config", str(w.cfg), "backup", str(w.folder / "copy.db")),
    "schedule cron --install": lambda w: ("--config", str(w.cfg), "schedule", "cron", "--install"),
    "schedule systemd --install": lambda w: ("--config", str(w.cfg), "schedule", "systemd", "--install"),
    "report": lambda w: ("--config", str(w.cfg), "report", "--output", str(w.folder / "r.html")),
}


@pytest.mark.parametrize("name", list(ACTING))
def test_acting_commands_print_nothing_on_success(name: str, world: World) -> None:
    """`dcactl -q <command that acts>` (after a live round): exit 0, stdout and stderr empty — also
    where the command has warnings to give (an env: key a timer cannot read) or a sync to report."""
    world.seed()
    res = world.cli("-q", *ACTING[name](world))
    assert (res.code, res.out, res.err) == (0, "", "")


# -- showing commands: their data, no note ------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A showing command: its arguments, what its data must include, and notes it must leave out
    (each of which it prints without -q, as the test checks)."""

    args: Callable[[World], tuple[str, ...]]
    data: tuple[str, ...]
    notes: tuple[str, ...] = ()
    seed: bool = True


def _until(w: World) -> tuple[str, ...]:
    """`plan --until` three days ahead (the date is all the table needs: no time of day is read)."""
    return ("plan", "--until", str((datetime.now(UTC) + timedelta(days=3)).date()))


SHOWING: dict[str, Shown] = {
    "status": Shown(lambda w: ("status",), ("Portfolio on", "Totals by source", "unknown"),
                    ("real = dcactl + external + imported", "Fees unknown for 5 imported fills",
                     "Cash:", "Last run:")),
    "history": Shown(lambda w: ("history",), ("Ledger (newest first)", "imported", "dcactl"),
                     ("price, period and reason: a terminal of",)),
    "lots": Shown(lambda w: ("lots", "--year", "2025"), ("Cost-basis lots 2025", "BTC")),
    "runs": Shown(lambda w: ("runs",), ("Runs (newest first)",)),
    "runs (none yet)": Shown(lambda w: ("runs",), (), ("No runs recorded yet.",), seed=False),
    "markets": Shown(lambda w: ("markets",), ("Markets", "@142")),
    "plan": Shown(lambda w: ("plan",), ("Plan as of", "BTC", "ETH")),
    "plan --until": Shown(_until, ("Coming buys until", "Per day"),
                          ("a range: what the rules allow", "The spot balance")),
    "schedule cron": Shown(lambda w: ("schedule", "cron"), ("--quiet run",), seed=False),
    "schedule systemd": Shown(lambda w: ("schedule", "systemd"), ("# dcactl.service", "# dcactl.timer",
                                                                  "OnCalendar="), seed=False),
    "import legacy --legacy-config": Shown(
        lambda w: ("import", "legacy", "--history", str(LEGACY / "dca_history.json"), "--legacy-config",
                   str(LEGACY / "multi_asset_config.json")),
        ("[assets.BTC]", "# Converted by `dcactl import legacy`"), ("Imported 5 fills", "not converted:"),
        seed=False),
    "devnet keygen": Shown(lambda w: ("devnet", "keygen", "--out", str(w.folder / "k.txt")), ("0x",),
                           ("Wrote a throwaway devnet key", "--fund", "Never use it"), seed=False),
    "backtest": Shown(
        lambda w: ("--config", str(w.folder / "bt.toml"), "backtest", "--from", "2025-03-03", "--to",
                   "2025-04-12", "--prices", str(_prices(w.folder / "prices.csv"))),
        ("Backtest 2025-03-03 to 2025-04-12", "portfolio by asset"), ("XIRR: money-weighted annual return",),
        seed=False),
}


@pytest.mark.parametrize("name", list(SHOWING))
def test_showing_commands_print_their_data_without_notes(name: str, world: World) -> None:
    """`dcactl -q <command that shows>`: exit 0, its data on stdout, nothing on stderr, none of the
    notes, hints, captions or warnings it prints without -q (which the same command, run without -q
    first, is checked to print: so the case proves something)."""
    case = SHOWING[name]
    (world.folder / "bt.toml").write_text('[settings]\nnetwork = "devnet"\ndatabase = "bt.db"\n'
                                          '[assets.AAA]\namount = 100\nevery = "day"\n')
    if case.seed:
        world.seed()
    args = case.args(world)
    if args[0] != "--config":
        args = ("--config", str(world.cfg), *args)
    loud = world.cli(*_again(args, world))
    assert loud.code == 0, loud.err
    for note in case.notes:
        assert note in loud.out + loud.err, f"without -q, {name} prints {note!r}"
    res = world.cli("-q", *args)
    assert res.code == 0, res.err
    assert res.err == ""
    for text in case.data:
        assert text in res.out, (text, res.out)
    for note in case.notes:
        assert note not in res.out, (note, res.out)
    if name == "devnet keygen":
        key = (world.folder / "k.txt").read_text().strip()
        assert res.out == f"{Account.from_key(key).address}\n"


def _again(args: tuple[str, ...], world: World) -> tuple[str, ...]:
    """The same command for the run without -q, writing elsewhere where it writes a file."""
    return tuple(str(world.folder / "k0.txt") if a == str(world.folder / "k.txt") else a for a in args)
