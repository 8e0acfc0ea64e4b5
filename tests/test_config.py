"""portfolio.toml: loading, every validation rule, paths, the starter file and the examples."""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import config_problems, load_text

from dcactl.config.check import ASSET_KEYS, SETTINGS_KEYS, SIZING_KEYS
from dcactl.config.schema import (
    AssetConfig,
    Settings,
    Sizing,
    dump_portfolio,
    find_config_path,
    load_config,
    resolve_db_path,
    starter_toml,
    user_config_dir,
    user_data_dir,
    validate_document,
    write_starter,
    write_text_atomic,
)
from dcactl.errors import ConfigError, ExitCode, UsageError
from dcactl.schedule.periods import parse_every

REPO = Path(__file__).resolve().parent.parent
MINIMAL = '[assets.BTC]\namount = 100\nevery = "week"\n'
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so messages start with the plain file name ``portfolio.toml``."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


problems = config_problems


FULL = """
[settings]
network = "testnet"
mode = "live"
account = "0xABCDEF0123456789abcdef0123456789ABCDEF01"
key = "env:DCACTL_KEY"
database = "data/ledger.db"
parallel = false
lock_wait = 2.5
coingecko_url = "https://pro-api.coingecko.com/api/v3/"
coingecko_key = "file:~/cg.key"
max_slippage_bps = 25
max_usd_per_run = 300.10
max_usd_per_day = "600"
timezone = "Europe/Berlin"
request_timeout = 4

[assets.btc]
amount = 100
every = "week"

[assets.btc.sizing]
kind = "volatility"
min = 50
max = 200.5
window_days = 14
low_vol = 30
high_vol = 90.5

[assets.AVAX]
amount = 12.34
every = "3d"
enabled = false
venue = "paper"
coingecko_id = "avalanche-2"

[assets.PURR]
amount = 11
every = "month"
venue = "hyperliquid"
pair = "PURR/USDC"
"""


def test_full_file_gives_exact_dataclasses(workdir: Path) -> None:
    """Every key of a complete file lands in the dataclasses with the exact value written."""
    config = load_text(FULL)
    assert config.path == Path("portfolio.toml")
    assert config.settings == Settings(
        network="testnet", mode="live", account="0xabcdef0123456789abcdef0123456789abcdef01",
        key="env:DCACTL_KEY", database=workdir / "data" / "ledger.db", parallel=False, lock_wait=2.5,
        coingecko_url="https://pro-api.coingecko.com/api/v3", coingecko_key="file:~/cg.key",
        max_slippage_bps=25, max_usd_per_run=Decimal("300.10"), max_usd_per_day=Decimal("600"),
        timezone="Europe/Berlin", request_timeout=4.0,
    )
    assert config.assets == (
        AssetConfig(symbol="BTC", amount=Decimal("100"), every="week", schedule=parse_every("week"),
                    sizing=Sizing(kind="volatility", min=Decimal("50"), max=Decimal("200.5"), window_days=14,
                                  low_vol=Decimal("30"), high_vol=Decimal("90.5"))),
        AssetConfig(symbol="AVAX", amount=Decimal("12.34"), every="3d", schedule=parse_every("3d"),
                    enabled=False, venue="paper", coingecko_id="avalanche-2"),
        AssetConfig(symbol="PURR", amount=Decimal("11"), every="month", schedule=parse_every("month"),
                    venue="hyperliquid", pair="PURR/USDC"),
    )
    assert config.settings.api_url == "https://api.hyperliquid-testnet.xyz"
    assert config.settings.coingecko_base_url == "https://pro-api.coingecko.com/api/v3"


def test_minimal_file_takes_every_default(workdir: Path) -> None:
    """A file with one asset and no [settings] gets the documented defaults."""
    config = load_text(MINIMAL)
    assert config.settings == Settings()
    assert config.settings.lock_wait == 30.0 and config.settings.max_slippage_bps == 50
    assert config.assets[0].sizing == Sizing()
    assert config.assets[0].venue == "auto" and config.assets[0].enabled is True


def test_floats_are_exact_decimals(workdir: Path) -> None:
    """TOML 0.1 is Decimal("0.1") (no binary noise), as are strings; Python floats go through repr."""
    config = load_text(
        '[settings]\nmax_usd_per_run = 100.005\nmax_usd_per_day = 1e3\n'
        '[assets.BTC]\namount = 0.1\nevery = "day"\n[assets.ETH]\namount = "10.10"\nevery = "day"\n'
    )
    assert config.assets[0].amount == Decimal("0.1")
    assert str(config.assets[0].amount) == "0.1"
    assert str(config.assets[1].amount) == "10.10"
    assert config.settings.max_usd_per_run == Decimal("100.005")
    assert config.settings.max_usd_per_day == Decimal("1000")
    doc = {"assets": {"SOL": {"amount": 0.1, "every": "day"}}}
    assert str(validate_document(doc, Path("x.toml")).assets[0].amount) == "0.1"


def test_config_asset_lookup_is_case_insensitive(workdir: Path) -> None:
    """Config.asset finds "btc" and names the configured assets for an unknown one."""
    config = load_text(MINIMAL + '[assets.ETH]\namount = 20\nevery = "day"\n')
    assert config.asset("btc").symbol == "BTC"
    with pytest.raises(UsageError, match=r"unknown asset DOGE \(configured in portfolio.toml: BTC, ETH\)$"):
        config.asset("DOGE")


BAD_NETWORK = "must be mainnet, testnet, devnet or an http(s) URL, got"
BAD_BPS = "must be a whole number of basis points from 1 to 1000, got"
SETTINGS_CASES = [
    ('network = "devnt"', f'settings.network: {BAD_NETWORK} "devnt"; did you mean "devnet"?'),
    ('network = "ftp://x"', f'settings.network: {BAD_NETWORK} "ftp://x"'),
    ('mode = "real"', 'settings.mode: must be "paper" or "live", got "real"'),
    ('account = "0x1234"', "settings.account: must be an address: 0x followed by 40 hex digits "
                           "(got 6 characters; the value is not shown)"),
    ("parallel = 1", "settings.parallel: must be true or false, got 1"),
    ("account = 7", "settings.account: must be an address: 0x followed by 40 hex digits "
                    "(got a value of type int; the value is not shown)"),
    ("lock_wait = -1", "settings.lock_wait: must be a number of seconds, at least 0 and at most 86400, "
                       "got -1"),
    ('lock_wait = "soon"', 'settings.lock_wait: must be a number of seconds, at least 0 and at most 86400, '
                           'got "soon"'),
    ("request_timeout = 0", "settings.request_timeout: must be a number of seconds, above 0 and at most 300, "
                            "got 0"),
    ('coingecko_url = "api.coingecko.com"', 'settings.coingecko_url: must be an http(s) URL, '
                                            'got "api.coingecko.com"'),
    ("max_slippage_bps = 0", f"settings.max_slippage_bps: {BAD_BPS} 0"),
    ("max_slippage_bps = 1001", f"settings.max_slippage_bps: {BAD_BPS} 1001"),
    ("max_slippage_bps = 5.5", f"settings.max_slippage_bps: {BAD_BPS} 5.5"),
    ("max_usd_per_run = 0", "settings.max_usd_per_run: must be a positive number of USDC, got 0"),
    ("max_usd_per_day = -3", "settings.max_usd_per_day: must be a positive number of USDC, got -3"),
    ('timezone = "Europe/Berln"', 'settings.timezone: unknown time zone "Europe/Berln"; '
                                  'did you mean "Europe/Berlin"?'),
    ('database = ""', 'settings.database: must be a file path, got ""'),
    ('mode = "live"', 'settings.account: live mode needs the master account address (0x + 40 hex digits)'),
]


@pytest.mark.parametrize(("line", "expected"), SETTINGS_CASES)
def test_settings_errors_are_one_exact_line(workdir: Path, line: str, expected: str) -> None:
    """Each bad [settings] value gives its exact one-line message with file and key path."""
    found = problems(f"[settings]\n{line}\n{MINIMAL}")
    assert found[0] == f"portfolio.toml: {expected}"


def test_live_mode_needs_account_and_key(workdir: Path) -> None:
    """mode = "live" without account and key reports both, at once."""
    assert problems(f'[settings]\nmode = "live"\n{MINIMAL}') == [
        "portfolio.toml: settings.account: live mode needs the master account address (0x + 40 hex digits)",
        "portfolio.toml: settings.key: live mode needs the signing key's source, "
        'e.g. key = "env:DCACTL_KEY"',
    ]


ASSET_CASES = [
    ("amount = -5", "assets.BTC.amount: must be a positive number of USDC, got -5"),
    ("amount = 0", "assets.BTC.amount: must be a positive number of USDC, got 0"),
    ('amount = "ten"', 'assets.BTC.amount: must be a positive number of USDC, got "ten"'),
    ("amount = true", "assets.BTC.amount: must be a positive number of USDC, got true"),
    ("amount = nan", "assets.BTC.amount: must be a positive number of USDC, got NaN"),
    ("amount = 5000000", "assets.BTC.amount: must be at most 1000000 USDC per buy (more looks like a typo), "
                         "got 5000000"),
    ('every = "fortnight"', None),  # the message is schedule.parse_every's own (checked below)
    ("every = 7", 'assets.BTC.every: must be a schedule string such as "week" or "3d", got 7'),
    ('enabled = "yes"', 'assets.BTC.enabled: must be true or false, got "yes"'),
    ('venue = "papr"', 'assets.BTC.venue: must be "auto" or "hyperliquid" or "paper", got "papr"; '
                       'did you mean "paper"?'),
    ('pair = "BTC-USD"', 'assets.BTC.pair: must be a spot pair like "@142" or "PURR/USDC", got "BTC-USD"'),
    ('pair = "@x1"', 'assets.BTC.pair: must be a spot pair like "@142" or "PURR/USDC", got "@x1"'),
    ('coingecko_id = "Bit Coin"', 'assets.BTC.coingecko_id: must be a CoinGecko coin id such as '
                                  '"avalanche-2", got "Bit Coin"'),
    ("sizing = 3", "assets.BTC.sizing: must be a table ([assets.BTC.sizing])"),
]


@pytest.mark.parametrize(("line", "expected"), ASSET_CASES)
def test_asset_errors_are_one_exact_line(workdir: Path, line: str, expected: str | None) -> None:
    """Each bad [assets.X] value gives its exact one-line message with file and key path."""
    key = line.split(" = ")[0]
    body = {"amount": "amount = 100", "every": 'every = "week"', key: line}
    found = problems("[assets.BTC]\n" + "\n".join(body.values()) + "\n")
    if expected is None:
        with pytest.raises(ValueError) as info:
            parse_every("fortnight")
        expected = f"assets.BTC.every: {info.value}"
    assert found == [f"portfolio.toml: {expected}"]


SIZING_CASES = [
    ('kind = "volatility"\nmin = 10',
     ["max: volatility sizing needs max (USDC per buy when volatility is low)"]),
    ('kind = "volatility"', ["min: volatility sizing needs min (USDC per buy when volatility is high)",
                             "max: volatility sizing needs max (USDC per buy when volatility is low)"]),
    ('kind = "vol"', ['kind: must be "fixed" or "volatility", got "vol"']),
    ("min = 200\nmax = 100", ["max: must be at least min (200), got 100"]),
    ("min = 2000000\nmax = 3000000", ["min: must be at most 1000000 USDC per buy (more looks like a typo), "
                                      "got 2000000",
                                      "max: must be at most 1000000 USDC per buy (more looks like a typo), "
                                      "got 3000000"]),
    ("low_vol = 50\nhigh_vol = 50", ["high_vol: must be above low_vol (50), got 50"]),
    ("low_vol = 90", ["low_vol: must be below high_vol (85 by default), got 90"]),
    ("low_vol = -1", ["low_vol: must be an annualised volatility in percent, >0 and <=1000, got -1"]),
    ("window_days = 1", ["window_days: must be a whole number of days from 2 to 365, got 1"]),
    ("window_days = 366", ["window_days: must be a whole number of days from 2 to 365, got 366"]),
    ("knd = \"fixed\"", ["knd: unknown key; did you mean `kind`?"]),
]


@pytest.mark.parametrize(("lines", "expected"), SIZING_CASES)
def test_sizing_errors_are_exact(workdir: Path, lines: str, expected: list[str]) -> None:
    """Volatility sizing needs min and max, min ≤ max, low < high, a 2..365-day window."""
    found = problems(f"{MINIMAL}[assets.BTC.sizing]\n{lines}\n")
    assert found == [f"portfolio.toml: assets.BTC.sizing.{e}" for e in expected]


NO_ASSETS = ('assets: the portfolio has no assets; add a table such as [assets.BTC] with amount = 50 '
             'and every = "week"')


@pytest.mark.parametrize(("text", "expected"), [
    ("[settings]\n", [NO_ASSETS]),
    ("[assets]\n", [NO_ASSETS]),
    ('assets = "BTC"\n', ["assets: must be a table of assets ([assets.BTC], [assets.ETH], ...)"]),
    ('settings = 1\n' + MINIMAL, ["settings: must be a table ([settings])"]),
    ("[assets]\nBTC = 5\n", ["assets.BTC: must be a table ([assets.BTC]) with amount and every"]),
    ('[assets.BTC]\nevery = "week"\n', ["assets.BTC.amount: required key is missing"]),
    ('[assets."BTC-USD"]\namount = 10\nevery = "day"\n',
     ["assets.BTC-USD: an asset symbol must be 1 to 12 letters or digits"]),
    (MINIMAL + '[assets.btc]\namount = 10\nevery = "day"\n',
     ["assets.btc: duplicates assets.BTC (symbols are case-insensitive)"]),
    ("[setting]\n" + MINIMAL, ["setting: unknown key; did you mean `settings`?"]),
    ('[assets.BTC]\nammount = 100\nevery = "week"\n',
     ["assets.BTC.ammount: unknown key; did you mean `amount`?"]),
    (MINIMAL + "colour = 1\n",
     ["assets.BTC.colour: unknown key; known keys: amount, every, enabled, venue, pair, "
      "coingecko_id, sizing, rsi, ma_dips, dynamic_frequency, banking"]),
])
def test_structure_errors(workdir: Path, text: str, expected: list[str]) -> None:
    """Missing/empty [assets], wrong table types, bad or duplicate symbols, unknown keys with a hint."""
    assert problems(text) == [f"portfolio.toml: {e}" for e in expected]


def test_several_errors_are_reported_at_once(workdir: Path) -> None:
    """One load reports every problem in the file, in file order, one line each."""
    text = """
[settings]
mode = "paper"
max_slippage_bps = 0
timezone = "Mars/Olympus"

[assets.BTC]
amount = -5
every = "week"

[assets.ETH]
amount = 20
ever = "day"
"""
    assert problems(text) == [
        f"portfolio.toml: settings.max_slippage_bps: {BAD_BPS} 0",
        'portfolio.toml: settings.timezone: unknown time zone "Mars/Olympus"',
        "portfolio.toml: assets.BTC.amount: must be a positive number of USDC, got -5",
        "portfolio.toml: assets.ETH.ever: unknown key; did you mean `every`?",
    ]


SECRET_SOURCE_ERROR = ("must name where the secret is kept — env:VAR, file:PATH or keyring:NAME — never the "
                       "secret itself (the value is not shown here)")


@pytest.mark.parametrize("setting", ["key", "coingecko_key"])
@pytest.mark.parametrize("value", [PRIVATE_KEY, PRIVATE_KEY[2:], "CG-s3cr3tT0ken", "env:1BADVAR", "vault:x9"])
def test_inline_secret_is_refused_without_echo(workdir: Path, setting: str, value: str) -> None:
    """A key written inline (or any non-source value) is refused and the value never appears."""
    found = problems(f'[settings]\n{setting} = "{value}"\n{MINIMAL}')
    assert found == [f"portfolio.toml: settings.{setting}: {SECRET_SOURCE_ERROR}"]
    assert value not in "\n".join(found)


@pytest.mark.parametrize("value", ['"env:"', '"file:"', '"keyring: "', "1", "true"])
def test_empty_or_non_text_secret_source_is_refused(workdir: Path, value: str) -> None:
    """A source with nothing after the colon, or not a string, is refused the same way."""
    found = problems(f"[settings]\nkey = {value}\n{MINIMAL}")
    assert found == [f"portfolio.toml: settings.key: {SECRET_SOURCE_ERROR}"]


def test_private_key_as_account_is_refused_without_echo(workdir: Path) -> None:
    """A private key pasted into `account` is recognised as one and not shown."""
    found = problems(f'[settings]\naccount = "{PRIVATE_KEY}"\n{MINIMAL}')
    assert found == [
        "portfolio.toml: settings.account: looks like a private key, not an address "
        "(the value is not shown); "
        'put the address here and the key\'s source in settings.key, e.g. key = "env:DCACTL_KEY"'
    ]
    assert PRIVATE_KEY[2:] not in found[0]


def test_secret_sources_are_accepted(workdir: Path) -> None:
    """env:VAR, file:PATH and keyring:NAME are accepted as written."""
    for source in ("env:DCACTL_KEY", "file:/etc/dcactl/key", "keyring:main"):
        assert load_text(f'[settings]\nkey = "{source}"\n{MINIMAL}').settings.key == source


@pytest.mark.parametrize(("text", "expected"), [
    ('[settings]\nnetwork = devnet\n', "portfolio.toml: line 2, column 11: invalid TOML: invalid value"),
    ("[assets.BTC\n", "portfolio.toml: line 1, column 12: invalid TOML: expected ']' at the end of a table "
                      "declaration"),
    ("a = 1\na = 2\n", "portfolio.toml: line 2, column 6: invalid TOML: cannot overwrite a value"),
    ("a = [1,", "portfolio.toml: at end of document: invalid TOML: invalid value"),
])
def test_toml_syntax_error_is_one_line_with_position(workdir: Path, text: str, expected: str) -> None:
    """A TOML syntax error is one line naming the file, line and column."""
    assert problems(text) == [expected]


def test_missing_file_suggests_init(workdir: Path) -> None:
    """A missing portfolio names the path and suggests `dcactl init`."""
    with pytest.raises(ConfigError) as info:
        load_config(workdir / "nope.toml")
    assert info.value.problems == [
        f"{workdir / 'nope.toml'}: no such file; run `dcactl init` to create a starter portfolio there, "
        "or pass --config PATH"
    ]


def test_unreadable_bytes_and_directories(workdir: Path) -> None:
    """Non-UTF-8 bytes and a directory in place of the file are one-line errors."""
    Path("bad.toml").write_bytes(b"a = 1\n\xff\n")
    with pytest.raises(ConfigError, match=r"^bad.toml: not UTF-8 text \(bad byte at offset 6\)$"):
        load_config(Path("bad.toml"))
    Path("dir.toml").mkdir()
    with pytest.raises(ConfigError, match=r"^dir.toml: is a directory, not a portfolio file$"):
        load_config(Path("dir.toml"))


@pytest.mark.parametrize(("network", "api", "mainnet", "network_id", "coingecko"), [
    ("mainnet", "https://api.hyperliquid.xyz", True, "mainnet", "https://api.coingecko.com/api/v3"),
    ("testnet", "https://api.hyperliquid-testnet.xyz", False, "testnet", "https://api.coingecko.com/api/v3"),
    ("devnet", "http://127.0.0.1:3001", False, "devnet", "http://127.0.0.1:3001/coingecko/api/v3"),
    ("http://127.0.0.1:4555/", "http://127.0.0.1:4555", False, "http://127.0.0.1:4555",
     "https://api.coingecko.com/api/v3"),
    ("https://api.hyperliquid.xyz", "https://api.hyperliquid.xyz", True, "mainnet",
     "https://api.coingecko.com/api/v3"),
    ("http://localhost:3001/", "http://127.0.0.1:3001", False, "devnet", "http://127.0.0.1:3001/coingecko/api/v3"),
    ("HTTPS://API.HYPERLIQUID.XYZ:443", "https://api.hyperliquid.xyz", True, "mainnet",
     "https://api.coingecko.com/api/v3"),
])
def test_network_properties(workdir: Path, network: str, api: str, mainnet: bool, network_id: str,
                            coingecko: str) -> None:
    """api_url, is_mainnet, network_id and coingecko_base_url follow the network setting, one spelling
    per exchange (mainnet's URL in capitals still signs for mainnet)."""
    s = load_text(f'[settings]\nnetwork = "{network}"\n{MINIMAL}').settings
    got = (s.api_url, s.is_mainnet, s.network_id, s.coingecko_base_url)
    assert got == (api, mainnet, network_id, coingecko)


def test_find_config_path_order(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config, then $DCACTL_CONFIG, then ./portfolio.toml if it exists, then the user config dir."""
    home = tmp_path / "home" / "dcactl"
    assert find_config_path(None) == home / "config" / "portfolio.toml"
    Path("portfolio.toml").write_text(MINIMAL)
    assert find_config_path(None) == Path("portfolio.toml")
    monkeypatch.setenv("DCACTL_CONFIG", str(tmp_path / "env.toml"))
    assert find_config_path(None) == tmp_path / "env.toml"
    assert find_config_path(Path("cli.toml")) == Path("cli.toml")


def test_user_dirs_follow_dcactl_home_then_platformdirs(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """$DCACTL_HOME/config and /data win; without it the XDG dirs (platformdirs) are used."""
    assert user_config_dir() == tmp_path / "home" / "dcactl" / "config"
    assert user_data_dir() == tmp_path / "home" / "dcactl" / "data"
    monkeypatch.delenv("DCACTL_HOME")
    assert user_config_dir() == tmp_path / "home" / ".config" / "dcactl"
    assert user_data_dir() == tmp_path / "home" / ".local" / "share" / "dcactl"


def test_resolve_db_path_order(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--db, then $DCACTL_DB, then settings.database (relative to the file), then one file per network."""
    data = tmp_path / "home" / "dcactl" / "data"
    devnet = load_text(f'[settings]\nnetwork = "devnet"\n{MINIMAL}')
    assert resolve_db_path(None, devnet) == data / "ledger-devnet.db"
    assert resolve_db_path(None, load_text(MINIMAL)) == data / "ledger-mainnet.db"
    url = resolve_db_path(None, load_text(f'[settings]\nnetwork = "http://127.0.0.1:4555"\n{MINIMAL}'))
    assert url.parent == data and url.name.startswith("ledger-127.0.0.1-4555-") and url.suffix == ".db"
    sub = workdir / "cfg"
    sub.mkdir()
    (sub / "p.toml").write_text(f'[settings]\ndatabase = "my.db"\n{MINIMAL}')
    with_db = load_config(Path("cfg/p.toml"))
    assert resolve_db_path(None, with_db) == sub / "my.db"
    monkeypatch.setenv("DCACTL_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(None, with_db) == tmp_path / "env.db"
    assert resolve_db_path(Path("cli.db"), with_db) == Path("cli.db")


def test_starter_loads_with_every_default(workdir: Path) -> None:
    """The starter parses to the default Settings (paper) with BTC, ETH, SOL and names every setting."""
    text = starter_toml()
    config = load_text(text)
    assert config.settings == Settings()
    assert [(a.symbol, a.amount, a.every) for a in config.assets] == [
        ("BTC", Decimal(50), "week"), ("ETH", Decimal(30), "week"), ("SOL", Decimal(20), "week")]
    for f in fields(Settings):
        assert f"{f.name} = " in text
    for key in SIZING_KEYS:
        assert f"# {key} = " in text
    uncommented = text.replace("# [assets.BTC.sizing]", "[assets.BTC.sizing]")
    for key in SIZING_KEYS:
        uncommented = uncommented.replace(f"# {key} = ", f"{key} = ")
    assert load_text(uncommented).assets[0].sizing.kind == "volatility"


def test_every_key_is_its_dataclass_field_and_has_one_check() -> None:
    """The keys each table accepts are its dataclass's fields, and every plain key has exactly one value
    check (so a field added to a dataclass without a check, or the reverse, fails here)."""
    from dcactl.config import check, notifycheck, rules
    from dcactl.config.model import AssetConfig, RsiRule, table_keys

    assert set(check.SETTINGS_CHECKS) == set(check.SETTINGS_KEYS) == {f.name for f in fields(Settings)}
    assert set(check.SIZING_CHECKS) == set(check.SIZING_KEYS)
    tables = {"amount", "every", "sizing", *rules.RULE_TABLES}
    asset_keys = set(table_keys(AssetConfig)) - {"symbol", "schedule"}
    assert set(check.ASSET_KEYS) == asset_keys
    assert set(check.ASSET_CHECKS) | tables == asset_keys
    assert tuple(f.name for f in fields(RsiRule)) == rules.RSI_KEYS
    assert notifycheck.DEFAULT_EVENTS == ("failed", "missed")
    assert check.TOP_KEYS == ("settings", "assets", "portfolio", "notify")


def test_starter_round_trips_through_dump_portfolio(workdir: Path) -> None:
    """starter → tomllib → dump_portfolio (tomli-w) → load gives the same Config."""
    first = load_text(starter_toml())
    doc = tomllib.loads(starter_toml(), parse_float=Decimal)
    second = load_text(dump_portfolio(doc))
    assert (second.settings, second.assets) == (first.settings, first.assets)


def test_write_starter_refuses_to_overwrite(workdir: Path) -> None:
    """init refuses (UsageError, exit 2) to replace a file without force, and replaces it with force."""
    target = workdir / "sub" / "portfolio.toml"
    assert write_starter(target, force=False) == target
    assert target.read_text() == starter_toml()
    target.write_text("mine\n")
    with pytest.raises(UsageError) as info:
        write_starter(target, force=False)
    assert info.value.exit_code == ExitCode.USAGE
    assert str(info.value) == (f"{target} already exists; not overwriting it "
                               "(`dcactl init --force` replaces it)")
    assert target.read_text() == "mine\n"
    write_starter(target, force=True)
    assert target.read_text() == starter_toml()
    assert sorted(p.name for p in target.parent.iterdir()) == ["portfolio.toml"]


def test_write_text_atomic_keeps_mode(workdir: Path) -> None:
    """An atomic rewrite keeps the file's permissions and leaves no temporary file behind."""
    target = workdir / "f.toml"
    target.write_text("old")
    os.chmod(target, 0o600)
    write_text_atomic(target, "new ✓")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in workdir.iterdir()] == ["f.toml"]


def test_dump_portfolio_is_exact_and_drops_none(workdir: Path) -> None:
    """Decimals are written exactly, integral ones as integers, None keys are left out, Paths as text."""
    text = dump_portfolio({"settings": {"database": Path("a/b.db"), "account": None},
                           "assets": {"BTC": {"amount": Decimal("0.10"), "every": "day", "pair": None},
                                      "ETH": {"amount": Decimal("25.00"), "every": "week"}}})
    assert text == ('[settings]\ndatabase = "a/b.db"\n\n[assets.BTC]\namount = 0.10\nevery = "day"\n\n'
                    '[assets.ETH]\namount = 25\nevery = "week"\n')


@pytest.mark.parametrize("path", sorted(p.relative_to(REPO).as_posix() for p in
                                        [*REPO.joinpath("examples").glob("*.toml"), REPO / "portfolio.toml"]))
def test_shipped_portfolios_load(path: str) -> None:
    """Every example portfolio and the repo-root devnet portfolio load without a problem."""
    config = load_config(REPO / path)
    assert config.assets
    if path == "portfolio.toml":
        assert (config.settings.network, config.settings.mode) == ("devnet", "paper")
        assert [a.symbol for a in config.assets] == ["BTC", "ETH", "SOL", "AVAX", "LINK"]
    if path == "examples/portfolio.toml":
        assert (config.settings.mode, config.settings.key) == ("live", "env:DCACTL_KEY")


# ---- properties ---------------------------------------------------------------------------------

EVERY = ["hour", "day", "week", "month", "12h", "3d", "2w"]
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=2)
setting_values: dict[str, st.SearchStrategy[Any]] = {
    "network": st.sampled_from(["mainnet", "testnet", "devnet", "http://127.0.0.1:3001"]),
    "mode": st.just("paper"),
    "account": st.from_regex(r"0x[0-9a-f]{40}", fullmatch=True),
    "key": st.sampled_from(["env:DCACTL_KEY", "file:/k", "keyring:main"]),
    "parallel": st.booleans(),
    "lock_wait": st.integers(0, 600),
    "max_slippage_bps": st.integers(1, 1000),
    "max_usd_per_run": amounts,
    "max_usd_per_day": amounts,
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]),
    "request_timeout": st.integers(1, 300),
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(setting_values)), unique=True))
    doc: dict[str, Any] = {"settings": {k: draw(setting_values[k]) for k in chosen}, "assets": {}}
    symbols = st.lists(st.sampled_from(["BTC", "ETH", "SOL", "AVAX", "HYPE"]), min_size=1, unique=True)
    for symbol in draw(symbols):
        asset: dict[str, Any] = {"amount": draw(amounts), "every": draw(st.sampled_from(EVERY))}
        if draw(st.booleans()):
            asset["venue"] = draw(st.sampled_from(["auto", "hyperliquid", "paper"]))
        if draw(st.booleans()):
            low = draw(st.integers(1, 99))
            lo = draw(amounts)
            asset["sizing"] = {"kind": "volatility", "min": lo, "max": lo + draw(amounts),
                               "low_vol": low, "high_vol": low + draw(st.integers(1, 100)),
                               "window_days": draw(st.integers(2, 365))}
            if asset["sizing"]["max"] > 1_000_000:
                asset["sizing"]["max"] = Decimal(1_000_000)
        doc["assets"][symbol] = asset
    if "max_usd_per_run" in doc["settings"]:  # valid: every asset can fit the run cap (PRODUCT.md "Caps")
        biggest = max(max(a["amount"], a.get("sizing", {}).get("max", 0)) for a in doc["assets"].values())
        doc["settings"]["max_usd_per_run"] = max(doc["settings"]["max_usd_per_run"], biggest)
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents())
def test_generated_valid_documents_load(tmp_path: Path, doc: dict[str, Any]) -> None:
    """Any valid document written by tomli-w loads, with the exact amounts and settings written."""
    path = tmp_path / "gen.toml"
    path.write_text(tomli_w.dumps(doc))
    config = load_config(path)
    assert [a.symbol for a in config.assets] == list(doc["assets"])
    for a in config.assets:
        assert a.amount == doc["assets"][a.symbol]["amount"]
    for key, value in doc["settings"].items():
        got = getattr(config.settings, key)
        assert (got == value) if key != "account" else (got == value.lower())


def _leaf_paths(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [("settings", k) for k in doc["settings"]]
    for symbol, asset in doc["assets"].items():
        out += [("assets", symbol, k) for k in asset]
        out += [("assets", symbol, "sizing", k) for k in asset.get("sizing", {})]
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents(), data=st.data())
def test_a_renamed_key_is_reported_as_unknown(tmp_path: Path, doc: dict[str, Any],
                                              data: st.DataObject) -> None:
    """Renaming any one key of a valid document to an unknown name reports that key path."""
    where = data.draw(st.sampled_from(_leaf_paths(doc)))
    known = set(SETTINGS_KEYS) | set(ASSET_KEYS) | set(SIZING_KEYS)
    names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
    new = data.draw(names.filter(lambda k: k not in known))
    table = doc
    for part in where[:-1]:
        table = table[part]
    table[new] = table.pop(where[-1])
    path = tmp_path / "gen.toml"
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    keypath = ".".join((*where[:-1], new))
    assert any(p.startswith(f"{path}: {keypath}: unknown key; ") for p in info.value.problems)


def test_an_amount_over_the_run_cap_is_a_config_error(workdir: Path) -> None:
    """amount (or sizing max) above max_usd_per_run could never be bought: one line naming the key."""
    lines = problems(
        '[settings]\nmax_usd_per_run = 120\n[assets.BTC]\namount = 200\nevery = "week"\n'
        '[assets.ETH]\namount = 65\nevery = "week"\n[assets.ETH.sizing]\nkind = "volatility"\n'
        "min = 20\nmax = 150\n"
    )
    assert lines == [
        "portfolio.toml: assets.BTC.amount: 200 USDC can never be bought: it is above "
        "settings.max_usd_per_run (120 USDC); lower it or raise the cap",
        "portfolio.toml: assets.ETH.sizing.max: 150 USDC can never be bought: it is above "
        "settings.max_usd_per_run (120 USDC); lower it or raise the cap",
    ]


def test_pathological_toml_is_a_config_error(workdir: Path) -> None:
    """Arrays nested thousands deep and an integer of 5,000 digits: one line, exit 2 material, never
    an internal error."""
    deep = '[assets.BTC]\namount = 10\nevery = "day"\nx = ' + "[" * 5000 + "]" * 5000 + "\n"
    assert problems(deep) == ["portfolio.toml: invalid TOML: arrays or tables nested too deeply"]
    huge = '[assets.BTC]\namount = 1' + "0" * 5000 + '\nevery = "day"\n'
    assert problems(huge) == ["portfolio.toml: invalid TOML: a number of thousands of digits"]


def test_a_huge_value_is_not_echoed_whole(workdir: Path) -> None:
    """A 5 MB `every` (a pasted file): the one problem line shows its start and length, not 5 MB."""
    (line,) = problems('[assets.BTC]\namount = 10\nevery = "' + "x" * 5_000_000 + '"\n')
    assert len(line) < 300 and "(5,000,000 characters)" in line
    (line,) = problems('[settings]\nmode = "' + "y" * 1_000 + '"\n[assets.BTC]\namount = 10\nevery = "day"\n')
    assert len(line) < 300 and "(1,000 characters)" in line
