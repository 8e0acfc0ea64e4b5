"""The CLI contract of PRODUCT.md: one-line errors and exit 2 that write nothing, exit 3 for a held
lock or an unreachable exchange, every documented command present, and a light ``--help``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import write_portfolio

from dcactl import __version__
from dcactl.schedule.periods import RunLock, lock_path_for

ROOT = Path(__file__).resolve().parent.parent
ASSETS = '\n[assets.BTC]\namount = 100\nevery = "day"\n[assets.ETH]\namount = 50\nevery = "day"\n'


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → content), to prove a command wrote nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error(res: Any, expected: str) -> None:
    """Exit 2, nothing on stdout, exactly one ``dcactl: error:`` line on stderr, equal to ``expected``."""
    assert res.code == 2, (res.code, res.out, res.err)
    assert res.out == ""
    assert res.err.splitlines() == [f"dcactl: error: {expected}"]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder holding only the test's inputs (HOME lives next to it, not inside)."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# -- exit 2: bad input, one line, nothing written --------------------------------------------------


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_malformed_toml(work: Path, cli: Any, json_flag: list[str]) -> None:
    """A TOML syntax error names the file, line and column; exit 2; nothing written (also with --json)."""
    cfg = work / "p.toml"
    cfg.write_text('[settings\nmode = "paper"\n')
    before = _files(work)
    res = cli("--config", str(cfg), *json_flag, "status")
    _one_error(res, f"{cfg}: line 1, column 10: invalid TOML: expected ']' at the end of a table declaration")
    assert _files(work) == before


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_unknown_key_suggests_the_right_one(work: Path, cli: Any, json_flag: list[str]) -> None:
    """``netwrk`` is an unknown key with a "did you mean `network`"; exit 2; nothing written."""
    cfg = work / "p.toml"
    cfg.write_text('[settings]\nnetwrk = "devnet"\ndatabase = "ledger.db"\n' + ASSETS)
    before = _files(work)
    res = cli("--config", str(cfg), "run", *json_flag)
    _one_error(res, f"{cfg}: settings.netwrk: unknown key; did you mean `network`?")
    assert _files(work) == before


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_negative_amount(work: Path, cli: Any, json_flag: list[str]) -> None:
    """A negative amount is refused by key path; exit 2; no ledger created."""
    cfg = work / "p.toml"
    cfg.write_text('[settings]\nnetwork = "devnet"\ndatabase = "ledger.db"\n'
                   '[assets.BTC]\namount = -10\nevery = "day"\n')
    before = _files(work)
    res = cli("--config", str(cfg), *json_flag, "run")
    _one_error(res, f"{cfg}: assets.BTC.amount: must be a positive number of USDC, got -10")
    assert _files(work) == before


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_missing_config_file(work: Path, cli: Any, json_flag: list[str]) -> None:
    """A missing --config file is one line pointing at `dcactl init`; exit 2; nothing created."""
    cfg = work / "missing.toml"
    res = cli("--config", str(cfg), *json_flag, "status")
    _one_error(res, f"{cfg}: no such file; run `dcactl init` to create a starter portfolio there,"
                    " or pass --config PATH")
    assert _files(work) == {}


@pytest.mark.parametrize("command", [["status"], ["history"], ["run"], ["sync"]])
def test_corrupt_ledger_is_left_untouched(work: Path, cli: Any, command: list[str]) -> None:
    """A ledger of random bytes is refused (exit 2, one line) and stays byte-for-byte the same,
    with no -wal/-shm/-journal created, whatever the command (also with --json)."""
    cfg = work / "p.toml"
    cfg.write_text('[settings]\nnetwork = "devnet"\naccount = "0x' + "ab" * 20 + '"\n'
                   'database = "ledger.db"\n' + ASSETS)
    db = work / "ledger.db"
    junk = bytes(range(256)) * 16 + b"not sqlite at all"
    db.write_bytes(junk)
    before = _files(work)
    for extra in ([], ["--json"]):
        res = cli("--config", str(cfg), *extra, *command)
        _one_error(res, f"{db}: not a dcactl ledger (not an SQLite database)")
        assert db.read_bytes() == junk
        after = _files(work)
        after.pop("ledger.db.lock", None)  # `run`/`sync` take the run lock before opening the ledger
        assert after == before


def test_init_refuses_to_overwrite_then_force(work: Path, cli: Any) -> None:
    """`init` on an existing file: exit 2, file unchanged; `init --force` replaces it (exit 0)."""
    cfg = work / "p.toml"
    cfg.write_text("# mine\n")
    for extra in ([], ["--json"]):
        res = cli("--config", str(cfg), *extra, "init")
        _one_error(res, f"{cfg} already exists; not overwriting it (`dcactl init --force` replaces it)")
        assert cfg.read_text() == "# mine\n"
    res = cli("--config", str(cfg), "init", "--force", "--json")
    assert (res.code, res.err) == (0, "")
    assert res.json() == {"written": str(cfg)}
    assert "[settings]" in cfg.read_text() and "# mine" not in cfg.read_text()


def test_init_writes_a_portfolio_that_loads(work: Path, cli: Any) -> None:
    """`init` writes a commented paper portfolio that `dcactl` itself loads without error."""
    cfg = work / "new.toml"
    res = cli("--config", str(cfg), "init")
    assert res.code == 0 and res.err == ""
    assert res.out.startswith(f"Wrote {cfg}.")
    from dcactl.session import load

    config = load(cfg)
    assert config.settings.mode == "paper" and config.assets
    assert "#" in cfg.read_text()


# -- exit 3: temporary ---------------------------------------------------------------------------


def test_lock_held_past_lock_wait_exits_3(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Another run holding the ledger's lock past `lock_wait = 0`: exit 3, one line naming the lock."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS, settings="lock_wait = 0")
    lock = lock_path_for(tmp_path / "ledger.db")
    with RunLock(lock, 0):
        res = cli("--config", str(cfg), "run")
        assert res.code == 3, res.err
        assert res.out == ""
        (line,) = res.err.splitlines()
        assert line.startswith("dcactl: error: ") and str(lock) in line
        res = cli("--config", str(cfg), "--json", "run")
        assert (res.code, res.out, len(res.err.splitlines())) == (3, "", 1)
    assert not (tmp_path / "ledger.db").exists(), "nothing was written while the lock was held"
    assert cli("--config", str(cfg), "run", "-q").code == 0


def test_every_asset_failing_temporarily_exits_3(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Every /info answering 502 on a paper run: each asset fails as temporary, the run exits 3."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS)
    devnet.admin.faults(kind="error", path="/info", status=502)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 3, res.err
    results = res.json()["results"]
    assert {r["asset"] for r in results} == {"BTC", "ETH"}
    assert {r["status"] for r in results} == {"failed"}
    assert all(r["reason"].startswith("temporary:") and "502" in r["reason"] for r in results)
    devnet.admin.clear_faults()
    assert cli("--config", str(cfg), "run", "-q").code == 0, "the next run buys once the exchange is back"


def test_price_history_failing_temporarily_exits_3(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Every candle request answering 502 for assets whose RSI reads them: each fails as temporary
    ("temporary: price history unavailable: ...502..."), so the run exits 3, not 1."""
    body = ASSETS.replace('every = "day"', 'every = "day"\nrsi = {}')
    assert body.count("rsi = {}") == 2
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    devnet.admin.faults(kind="error", path="/info", status=502, types=["candleSnapshot"])
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 3, res.out
    reasons = [r["reason"] for r in res.json()["results"]]
    assert len(reasons) == 2
    assert all(r.startswith("temporary: price history unavailable: ") and "502" in r for r in reasons)


# -- every documented command exists ---------------------------------------------------------------

_SUBGROUPS = ("schedule", "import", "devnet")
_VALUED = ("--config", "--db")


def _command_of(words: list[str]) -> set[tuple[str, ...]]:
    """The command named by the words after ``dcactl`` (global options skipped); a group's
    sub-command too (``schedule cron/systemd`` names both)."""
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in _VALUED else 1
    if i >= len(words) or not re.fullmatch(r"[a-z][\w-]*", words[i]):
        return set()
    cmd = words[i]
    if cmd in _SUBGROUPS and i + 1 < len(words):
        return {(cmd, sub) for sub in words[i + 1].split("/")}
    return {(cmd,)}


def _commands_in(text: str, *, bare_table: bool) -> set[tuple[str, ...]]:
    """``dcactl <cmd>`` in the fenced code blocks of ``text`` and in the first column of its tables
    (``bare_table``: that column names commands without the ``dcactl`` prefix, as PRODUCT.md's)."""
    found: set[tuple[str, ...]] = set()
    code = [line for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
            for line in block.splitlines()]
    table = re.findall(r"^\| `([^`]*)` \|", text, flags=re.M)
    for line in code + table:
        words = line.split("#")[0].split()
        if words[:1] == ["dcactl"]:
            found |= _command_of(words[1:])
    if bare_table:
        for line in table:
            found |= _command_of(line.split())
    return found


def _readme_commands() -> set[tuple[str, ...]]:
    """The commands README.md and docs/*.md show in their code blocks and command tables."""
    found = _commands_in((ROOT / "README.md").read_text(), bare_table=False)
    for doc in sorted((ROOT / "docs").glob("*.md")):
        found |= _commands_in(doc.read_text(), bare_table=False)
    return found


def _product_commands() -> set[tuple[str, ...]]:
    """The first column of PRODUCT.md's command table."""
    product = next((p for p in (ROOT / "PRODUCT.md", ROOT.parent / "shared" / "PRODUCT.md") if p.exists()),
                   None)
    if product is None:  # CI and developers have ../shared; a bare clone checks README.md alone
        return set()
    return _commands_in(product.read_text(), bare_table=True)


def test_readme_and_product_list_the_commands_we_expect() -> None:
    """The parsers find the documented commands (so the --help test below checks something real)."""
    readme = _readme_commands()
    assert {("run",), ("status",), ("schedule", "cron"), ("schedule", "systemd"), ("devnet", "keygen"),
            ("init",), ("runs",)} <= readme
    product = _product_commands()
    if not product:
        pytest.skip("PRODUCT.md is not next to the repository (../shared)")
    assert {("schedule", "cron"), ("schedule", "systemd"), ("import", "legacy"), ("devnet", "serve"),
            ("backup",), ("lots",), ("sync",), ("doctor",)} <= product


def _documented() -> list[tuple[str, ...]]:
    return sorted(_readme_commands() | _product_commands())


@pytest.mark.parametrize("command", _documented(), ids=lambda c: " ".join(c))
def test_documented_command_has_help(command: tuple[str, ...], cli: Any) -> None:
    """Every command in the code blocks of README.md and docs/, and PRODUCT.md's table, answers `--help`
    with exit 0."""
    res = cli(*command, "--help")
    assert res.code == 0, (res.out, res.err)
    assert "Usage: dcactl " + " ".join(command) in res.out


def test_version(cli: Any) -> None:
    """`dcactl --version` prints the version, exit 0."""
    res = cli("--version")
    assert (res.code, res.out, res.err) == (0, f"dcactl {__version__}\n", "")


def test_json_is_accepted_after_the_command(work: Path, cli: Any) -> None:
    """`dcactl init --json` (flag after the command) gives the same one JSON document as before it."""
    res = cli("--config", str(work / "a.toml"), "init", "--json")
    assert res.code == 0 and res.json() == {"written": str(work / "a.toml")}
    res = cli("--config", str(work / "b.toml"), "--json", "init")
    assert res.code == 0 and res.json() == {"written": str(work / "b.toml")}


def _leaf_commands() -> list[tuple[str, ...]]:
    """Every command path of the app (``("run",)``, ``("devnet", "serve")``, ...)."""
    import typer

    from dcactl.cli.app import app

    out: list[tuple[str, ...]] = []

    def walk(group: Any, path: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, (*path, name))
            else:
                out.append((*path, name))

    walk(typer.main.get_command(app), ())
    return out


def test_every_command_lists_and_takes_the_global_options_after_it(work: Path, cli: Any) -> None:
    """Each command's ``--help`` lists --config, --db, --json, -q and -v; given after the command they
    act as before it (``runs --config A --db B --json`` reads ledger B of portfolio A)."""
    commands = _leaf_commands()
    assert {("run",), ("plan",), ("status",), ("devnet", "serve"), ("import", "legacy")} <= set(commands)
    for path in commands:
        res = cli(*path, "--help")
        assert res.code == 0, path
        for option in ("--config PATH", "--db PATH", "--json", "-q, --quiet", "-v, --verbose"):
            assert option in res.out, (path, option)
    cfg = work / "a.toml"
    assert cli("--config", str(cfg), "init").code == 0
    before = cli("--config", str(cfg), "--json", "runs")
    after = cli("runs", "--config", str(cfg), "--json")
    assert before.code == after.code == 0 and after.json() == before.json() == {"runs": []}
    (work / "junk.db").write_text("not a database")
    for args in (("--db", str(work / "junk.db"), "runs"), ("runs", "--db", str(work / "junk.db"))):
        res = cli("--config", str(cfg), *args)
        assert res.code == 2 and "junk.db" in res.err, args
    missing = cli("runs", "--config", str(work / "missing.toml"))
    assert missing.code == 2 and "missing.toml" in missing.err
    empty = cli("runs", "--db", "")
    assert empty.code == 2 and empty.err.startswith('dcactl: error: --db "": an empty path')


def test_help_imports_nothing_heavy() -> None:
    """`import dcactl.cli.app` (all `--help` needs) imports none of the heavy run-path libraries."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import dcactl.cli.app"],
                          capture_output=True, text=True, timeout=60, check=True)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "dcactl.cli.app" in modules
    heavy = ("rich.table", "httpx", "aiohttp", "numpy", "eth_account", "hyperliquid", "sqlite_utils")
    loaded = sorted(m for m in modules for h in heavy if m == h or m.startswith(h + "."))
    assert loaded == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("runz",), "No such command 'runz'"),
        (("lots",), "Missing option '--year'"),
        (("run", "--bogus"), "No such option: --bogus"),
        (("schedule", "cron", "--every", "0"), "Invalid value for '--every'"),
        (("runs", "--limit", "x"), "Invalid value for '--limit'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli: Any, args: tuple[str, ...], words: str) -> None:
    """A usage error is one `dcactl: error:` line on stderr naming what is wrong, exit 2, nothing on
    stdout (PRODUCT.md "Exit codes": usage errors included)."""
    res = cli(*args)
    assert res.code == 2
    assert res.out == ""
    (line,) = res.err.splitlines()
    assert line.startswith("dcactl: error: ") and words in line and "--help)" in line


def test_natural_mistakes_get_a_did_you_mean(tmp_path: Path, cli: Any) -> None:
    """`every = "weekly"` → did you mean "week"; `plan ETHH` → did you mean ETH; one line, exit 2."""
    cfg = tmp_path / "p.toml"
    cfg.write_text('[settings]\nnetwork = "devnet"\n[assets.BTC]\namount = 10\nevery = "weekly"\n')
    res = cli("--config", str(cfg), "plan")
    assert res.code == 2 and 'unknown schedule \'weekly\'; did you mean "week"?: use hour' in res.err
    cfg.write_text('[settings]\nnetwork = "devnet"\n[assets.ETH]\namount = 10\nevery = "week"\n')
    res = cli("--config", str(cfg), "buy", "ETHH")
    assert res.code == 2 and "unknown asset ETHH; did you mean ETH?" in res.err
    assert res.err.count("\n") == 1


def test_devnet_port_in_use_is_a_usage_error(cli: Any) -> None:
    """`devnet serve --port N` on a taken port: one line naming it and the fix, exit 2."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = cli("devnet", "serve", "--port", str(port))
    assert res.code == 2
    assert res.err == f"dcactl: error: 127.0.0.1:{port} is in use (another devnet?); pass --port\n"


def test_the_command_list_is_never_truncated(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dcactl --help` at 80 columns: every command's one-line description is whole (no "...")."""
    monkeypatch.setenv("COLUMNS", "80")
    res = cli("--help")
    listing = res.out.split("Commands:")[1]
    assert listing.strip() and "..." not in listing


def test_devnet_keygen_writes_a_private_key_file_and_prints_only_the_address(
    tmp_path: Path, cli: Any
) -> None:
    """`devnet keygen --out F`: F holds a new key (mode 600), the output its address and how to use it,
    never the key; a second keygen to the same file is refused (exit 2) and leaves it as it was."""
    import stat

    from eth_account import Account

    key_file = tmp_path / "k.txt"
    res = cli("--json", "devnet", "keygen", "--out", str(key_file))
    assert res.code == 0, res.err
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    address = Account.from_key(key).address
    assert res.json() == {"address": address, "key_file": str(key_file)}
    text = cli("devnet", "keygen", "--out", str(tmp_path / "k2.txt"))
    assert "--fund 0x" in text.out and "file:" in text.out
    for out in (res.out + res.err, text.out + text.err):
        assert key[2:].lower() not in out.lower()
    again = cli("devnet", "keygen", "--out", str(key_file))
    assert again.code == 2 and "already exists" in again.err and key_file.read_text().strip() == key


def test_devnet_fund_refuses_what_is_not_an_address(cli: Any) -> None:
    res = cli("devnet", "serve", "--port", "0", "--fund", "alice=100")
    assert res.code == 2
    assert res.err.startswith("dcactl: error: --fund 'alice=100': 'alice' is not an address")
    assert len(res.err.splitlines()) == 1


def test_a_run_process_loads_no_trio_httpx_cli_or_rich(tmp_path: Path, devnet: Any) -> None:
    """A live `python -m dcactl --json run` (dcactl owns the process) buys, and never loads trio
    (httpcore's optional import), httpx's own command line, nor Rich (nothing is drawn for --json);
    nor eth_account on a machine of two cores: a second process makes the signer and signs."""
    from live_support import THREE, child_env, funded_wallet, key_hex, live_portfolio

    from dcactl.venues.signing_process import cores

    wallet = funded_wallet(devnet)
    cfg = live_portfolio(tmp_path / "p.toml", devnet.url, THREE, wallet.address)
    seen = tmp_path / "modules.txt"
    code = (
        "import atexit, runpy, sys\n"
        f"atexit.register(lambda: open({str(seen)!r}, 'w').write("
        "'\\n'.join(n for n, m in sys.modules.items() if m is not None)))\n"
        "sys.argv = ['dcactl', *sys.argv[1:]]\n"
        "runpy.run_module('dcactl', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "--config", str(cfg), "--json", "run"],
                          env=child_env(key_hex(wallet)), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "filled" in proc.stdout
    modules = set(seen.read_text().split())
    assert {"httpx", "httpcore"} <= modules
    unwanted = ("trio", "httpx._main", "rich", "pygments") + (("eth_account",) if cores() >= 2 else ())
    assert sorted(m for m in modules for u in unwanted if m == u or m.startswith(u + ".")) == []


def test_main_with_argv_leaves_the_callers_process_as_it_was(tmp_path: Path, cli: Any) -> None:
    """`main(argv)` (a test, a script) is not dcactl's process: the collector stays on, nothing is
    frozen, and no optional import is hidden."""
    import gc

    cfg = tmp_path / "p.toml"
    assert cli("--config", str(cfg), "init").code == 0
    res = cli("--config", str(cfg), "--json", "run", "--dry-run")
    assert res.code in (0, 1, 3), res.err
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert sys.modules.get("trio", "absent") is not None and sys.modules.get("httpx._main", "x") is not None


def test_an_invocation_builds_only_the_command_it_names() -> None:
    """typer builds a click command of every command its app holds: an invocation that names one (after
    the global options, values included) gets an app holding only it; root help, --version, no
    command or an unknown name get the whole app (its listing, its suggestions)."""
    import typer.main

    from dcactl.cli.app import _app_for, app

    def built(args: list[str]) -> list[str]:
        return sorted(typer.main.get_command(_app_for(args)).commands)  # type: ignore[attr-defined]

    whole = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert built(["--config", "plan", "--json", "-q", "run", "--dry-run"]) == ["run"]  # "plan": a value
    assert built(["--db=x.db", "plan", "--until", "2027-01-31"]) == ["plan"]
    assert built(["devnet", "serve", "--help"]) == ["devnet"]
    assert built(["run", "--help"]) == ["run"]
    for args in ([], ["--help"], ["--version"], ["--json", "--help", "run"], ["histroy"], ["-q"]):
        assert built(args) == whole, args
    assert {"run", "buy", "history", "devnet", "backtest"} <= set(whole)
