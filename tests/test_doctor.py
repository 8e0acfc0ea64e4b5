"""`dcactl doctor` against a real devnet: every check made to fail once, and an all-ok live setup."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from live_support import pin_prices
from support import approve_agent, write_portfolio

from dcactl.devnet.control import DevnetThread
from dcactl.errors import ExchangeUnavailable
from dcactl.models import OrderIntent, make_cloid, utcnow
from dcactl.reports.doctorchecks import agent_check, balance_check, clock_check, min_order
from dcactl.venues.base import Agent, ServerProbe

ASSETS = """
[assets.BTC]
amount = 100
every = "week"
[assets.ETH]
amount = 50
every = "day"
[assets.AVAX]
amount = 20
every = "week"
"""
"""One live round is BTC 100 + ETH 50 = 150 USDC (AVAX is unlisted: paper, no USDC spent)."""


@pytest.fixture(scope="module")
def dn() -> Iterator[DevnetThread]:
    """One devnet for the module; every test uses fresh accounts on it."""
    with DevnetThread(seed=11) as d:
        yield d


def _key_file(path: Path, wallet: LocalAccount, mode: int = 0o600) -> Path:
    path.write_text(wallet.key.hex())
    os.chmod(path, mode)
    return path


def _live(tmp_path: Path, url: str, wallet: LocalAccount, account: str, key: str, body: str = ASSETS) -> Path:
    settings = f'mode = "live"\naccount = "{account}"\nkey = "{key}"\n'
    return write_portfolio(tmp_path / "p.toml", url, body, settings=settings)


@pytest.fixture
def doctor(cli: Any) -> Callable[[Path], tuple[int, dict[str, Any]]]:
    """``dcactl --config CFG --json doctor`` → (exit code, {check name: check}), checking the JSON shape."""

    def invoke(cfg: Path) -> tuple[int, dict[str, Any]]:
        res = cli("--config", str(cfg), "--json", "doctor")
        assert res.code in (0, 1) and res.out, (res.code, res.out, res.err)
        doc = res.json()
        assert set(doc) == {"checks", "ok"} and doc["ok"] is (res.code == 0)
        for check in doc["checks"]:
            assert set(check) == {"name", "status", "detail", "fix"}
            assert check["status"] in ("ok", "warn", "fail", "skip")
            assert (check["fix"] is None) is (check["status"] in ("ok", "skip")), check
        return res.code, {c["name"]: c for c in doc["checks"]}

    return invoke


@pytest.fixture
def funded(dn: DevnetThread) -> LocalAccount:
    """A master account holding 1000 USDC on the devnet."""
    wallet = Account.create()
    dn.admin.fund(wallet.address, usdc=1000)
    return wallet


# --- all ok and the account ----------------------------------------------------------------------


def test_all_ok_with_master_key(tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any) -> None:
    """A funded master key in a 600 file: every line ok (CoinGecko too, for the paper AVAX), exit 0."""
    key = _key_file(tmp_path / "key", funded)
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, f"file:{key}"))
    assert code == 0, checks
    assert list(checks) == ["config", "key", "account", "balance", "market BTC", "market ETH", "market AVAX",
                            "clock", "connectivity hyperliquid", "connectivity coingecko", "ledger", "notify"]
    assert checks.pop("notify")["status"] == "skip", "no [notify]: nothing to check"
    assert {c["status"] for c in checks.values()} == {"ok"}
    assert "3 assets (3 enabled)" in checks["config"]["detail"]
    assert f"signer {funded.address.lower()}" in checks["key"]["detail"]
    # 1000 / 150 = 6 whole periods; per day 100/7 + 50 = 64.2857 → 1000 / 64.2857 = 15.6 days
    assert "runway 6 periods, about 15.6 days" in checks["balance"]["detail"]
    assert checks["market BTC"]["detail"].startswith("@142 (asset 10142, szDecimals 5): min order 10.")
    assert "paper (coingecko avalanche-2)" in checks["market AVAX"]["detail"]
    assert funded.key.hex().removeprefix("0x") not in str(checks)


def test_unfunded_account_fails_balance(tmp_path: Path, dn: DevnetThread, doctor: Any) -> None:
    """An account without USDC: balance fails (needs 3 × 150 USDC), exit 1."""
    wallet = Account.create()
    key = _key_file(tmp_path / "key", wallet)
    code, checks = doctor(_live(tmp_path, dn.url, wallet, wallet.address, f"file:{key}"))
    assert code == 1
    assert checks["balance"]["status"] == "fail"
    assert checks["balance"]["detail"].startswith("0.00 USDC available in spot")
    fix = f"deposit at least 450.00 USDC to {wallet.address.lower()} (spot) for 3 periods"
    assert checks["balance"]["fix"] == fix
    assert [n for n, c in checks.items() if c["status"] == "fail"] == ["balance"]


def test_low_balance_warns(tmp_path: Path, dn: DevnetThread, doctor: Any) -> None:
    """400 USDC covers 2 periods of 150: a warning, still exit 0."""
    wallet = Account.create()
    dn.admin.fund(wallet.address, usdc=400)
    key = _key_file(tmp_path / "key", wallet)
    code, checks = doctor(_live(tmp_path, dn.url, wallet, wallet.address, f"file:{key}"))
    assert code == 0
    assert checks["balance"]["status"] == "warn" and "runway 2 periods" in checks["balance"]["detail"]


def test_short_spot_with_perp_usdc_says_to_move_it(tmp_path: Path, dn: DevnetThread, doctor: Any) -> None:
    """100 USDC in spot (a round needs 150) and 500 in the perp account: balance fails, and the fix
    is to move the perp USDC over rather than to deposit."""
    wallet = Account.create()
    dn.admin.fund(wallet.address, usdc=100, perp_usdc=500)
    key = _key_file(tmp_path / "key", wallet)
    code, checks = doctor(_live(tmp_path, dn.url, wallet, wallet.address, f"file:{key}"))
    assert code == 1 and checks["balance"]["status"] == "fail"
    assert checks["balance"]["detail"].startswith("100.00 USDC available in spot")
    assert checks["balance"]["fix"] == (
        "move USDC from perp to spot (usdClassTransfer in the UI): 500.00 USDC is withdrawable in the "
        "perp account"
    )


def test_unapproved_agent_fails(tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any) -> None:
    """A key that is neither the account nor its approved agent: the account line fails, exit 1."""
    stranger = Account.create()
    key = _key_file(tmp_path / "key", stranger)
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, f"file:{key}"))
    assert code == 1
    account = checks["account"]
    assert account["status"] == "fail"
    assert account["detail"] == (f"signer {stranger.address.lower()} is not the account "
                                 f"{funded.address.lower()} nor an approved agent of it")
    assert account["fix"].startswith("approve it in the Hyperliquid UI (API)")


def test_approved_agent_is_ok(tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any) -> None:
    """An API wallet approved through the SDK signs for the master: account ok, naming the agent."""
    agent = approve_agent(dn.url, funded)
    key = _key_file(tmp_path / "agent.key", agent)
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, f"file:{key}"))
    assert code == 0, checks
    assert checks["account"]["status"] == "ok"
    assert checks["account"]["detail"] == (f"signer {agent.address.lower()} is an approved agent 'dcactl' of "
                                           f"{funded.address.lower()}, no expiry known")


def test_agent_expiring_soon_warns(
    tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any
) -> None:
    """An API wallet approved (through the SDK) until 3 days from now: the account line warns with the
    expiry date and says to approve a new one; exit 0."""
    until = utcnow() + timedelta(days=3)
    agent = approve_agent(dn.url, funded, name=f"dcactl valid_until {int(until.timestamp() * 1000)}")
    key = _key_file(tmp_path / "agent.key", agent)
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, f"file:{key}"))
    assert code == 0, checks
    account = checks["account"]
    assert account["status"] == "warn"
    assert account["detail"].startswith(f"signer {agent.address.lower()} is an approved agent 'dcactl' of ")
    assert f"; it expires on {until:%Y-%m-%d}" in account["detail"]
    assert account["fix"] == (
        "approve a new API wallet in the Hyperliquid UI (API) and point settings.key at it"
    )


def test_agent_expiry_window() -> None:
    """Agent expiry: past → fail, within 7 days → warn, later → ok; an agent of someone else fails."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    acct, sig = "0x" + "a" * 40, "0x" + "b" * 40

    def status(until: datetime | None) -> str:
        return agent_check(sig, acct, {"role": "agent", "data": {"user": acct}},
                           [Agent("bot", sig, until)], now).status

    assert status(now - timedelta(seconds=1)) == "fail"
    assert status(now + timedelta(days=6, hours=23)) == "warn"
    assert status(now + timedelta(days=8)) == "ok"
    assert status(None) == "ok"
    other = agent_check(sig, acct, {"role": "agent", "data": {"user": "0x" + "c" * 40}}, [], now)
    assert other.status == "fail" and "(it is an agent of 0xccc" in other.detail


# --- key -----------------------------------------------------------------------------------------


def test_group_readable_key_file_fails(
    tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any
) -> None:
    """A key file with mode 640: key fails with `chmod 600 PATH`; the account is then not checked."""
    key = _key_file(tmp_path / "key", funded, mode=0o640)
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, f"file:{key}"))
    assert code == 1
    assert checks["key"]["status"] == "fail"
    assert "readable by group or others (mode 640)" in checks["key"]["detail"]
    assert checks["key"]["fix"] == f"chmod 600 {key}"
    assert checks["account"]["status"] == "skip"
    assert funded.key.hex().removeprefix("0x") not in str(checks)


def test_env_key_warns_that_cron_will_not_have_it(
    tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An env: key that loads here: key warns that a cron job will not have the variable, with the fix."""
    monkeypatch.setenv("DCACTL_DOCTOR_KEY", funded.key.hex())
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, "env:DCACTL_DOCTOR_KEY"))
    assert code == 0
    assert checks["key"]["status"] == "warn"
    assert "a cron job will not have $DCACTL_DOCTOR_KEY" in checks["key"]["detail"]
    assert checks["key"]["fix"].startswith('for cron, use key = "file:PATH"')
    assert funded.key.hex().removeprefix("0x") not in str(checks)


def test_missing_env_key_fails(tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any) -> None:
    """An env: key whose variable cron would not have: key fails naming the variable, never a value."""
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, "env:DCACTL_DOCTOR_KEY"))
    assert code == 1
    assert checks["key"]["detail"] == (
        "key env:DCACTL_DOCTOR_KEY: the environment variable DCACTL_DOCTOR_KEY is not set")
    assert checks["key"]["fix"].startswith("set DCACTL_DOCTOR_KEY in the environment dcactl runs in")


@pytest.fixture
def keyring_backend() -> Iterator[Callable[[Any], None]]:
    """Swap the keyring backend for one test, restoring the original afterwards."""
    import keyring

    original = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(original)


def test_keyring_without_backend_fails(
    tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any, keyring_backend: Any
) -> None:
    """A keyring: key with only the fail backend (as under cron without a desktop): fail, use a file: key."""
    from keyring.backends import fail

    keyring_backend(fail.Keyring())
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, "keyring:main"))
    assert code == 1
    assert checks["key"]["status"] == "fail" and "no usable keyring backend" in checks["key"]["detail"]
    assert checks["key"]["fix"].startswith("use a file: key with mode 600")


def test_keyring_with_backend_loads(
    tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any, keyring_backend: Any
) -> None:
    """A keyring: key in a working (non-desktop) backend loads; the account line is ok."""
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return funded.key.hex() if (service, username) == ("dcactl", "main") else None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise NotImplementedError

        def delete_password(self, service: str, username: str) -> None:
            raise NotImplementedError

    keyring_backend(Memory())
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, "keyring:main"))
    assert code == 0, checks
    assert checks["key"]["detail"] == f"loaded from keyring:main (signer {funded.address.lower()})"


def test_paper_mode_skips_key_account_balance(tmp_path: Path, dn: DevnetThread, doctor: Any) -> None:
    """Paper mode without a key: key, account and balance are skipped, the rest still checked; exit 0."""
    code, checks = doctor(write_portfolio(tmp_path / "p.toml", dn.url, ASSETS))
    assert code == 0
    assert {n: checks[n]["detail"] for n in ("key", "account")} == dict.fromkeys(
        ("key", "account"), "paper mode needs no key")
    assert checks["balance"] == {"name": "balance", "status": "skip", "detail": "paper mode spends no USDC",
                                 "fix": None}
    assert checks["market BTC"]["status"] == "ok"


def test_table_output_through_cli(tmp_path: Path, dn: DevnetThread, cli: Any) -> None:
    """Without --json: a table on stdout with every line and the summary; nothing on stderr."""
    res = cli("--config", str(write_portfolio(tmp_path / "p.toml", dn.url, ASSETS)), "doctor")
    assert res.code == 0, res.err
    for word in ("dcactl doctor", "config", "market AVAX", "connectivity coingecko", "all checks passed"):
        assert word in res.out
    assert res.err == ""


# --- markets, clock, connectivity, ledger --------------------------------------------------------


def test_amount_under_minimum_fails(
    tmp_path: Path, dn: DevnetThread, funded: LocalAccount, doctor: Any
) -> None:
    """10.01 USDC of BTC (szDecimals 5) rounds under 10 USDC: the market line fails with the minimum.
    At the pinned mid 100000 (best ask 100030) the limit is 100030 × 1.001 up to 5 figures = 100140,
    and ⌊10.01 / 100140⌋₅ = 0.00009 × 100140 = 9.0126 USDC (at any other price the walk could make
    the failure the crossing-price one instead, so the price is pinned)."""
    pin_prices(dn, "UBTC")
    key = _key_file(tmp_path / "key", funded)
    body = '[assets.BTC]\namount = 10.01\nevery = "day"\n'
    code, checks = doctor(_live(tmp_path, dn.url, funded, funded.address, f"file:{key}", body))
    assert code == 1
    btc = checks["market BTC"]
    assert btc["status"] == "fail"
    assert "your amount 10.01 is too small: under the 10 USDC minimum after rounding" in btc["detail"]
    minimum = D(btc["detail"].split("min order ")[1].split(" USDC")[0])
    assert D("10") < minimum < D("11")
    assert btc["fix"].startswith(f"raise assets.BTC.amount to at least {minimum} USDC")


def test_unlisted_asset_forced_to_hyperliquid_fails(tmp_path: Path, dn: DevnetThread, doctor: Any) -> None:
    """An asset that does not resolve (AVAX with venue hyperliquid) fails its market line."""
    body = '[assets.AVAX]\namount = 20\nevery = "day"\nvenue = "hyperliquid"\n'
    code, checks = doctor(write_portfolio(tmp_path / "p.toml", dn.url, body))
    assert code == 1
    assert checks["market AVAX"]["status"] == "fail"
    assert "not listed on Hyperliquid spot" in checks["market AVAX"]["detail"]


@pytest.mark.parametrize(
    ("skew_s", "status"), [(90, "fail"), (-90, "fail"), (8, "warn"), (-10, "warn"), (4, "warn")]
)
def test_skewed_clock(
    tmp_path: Path, dn: DevnetThread, doctor: Any, monkeypatch: pytest.MonkeyPatch, skew_s: int, status: str
) -> None:
    """90 s ahead or behind fails (run places no order beyond 60 s); 8 s ahead, 10 s behind and 4 s ahead
    warn (orders are timed on the exchange's clock, so they neither expire nor are voided early)."""
    monkeypatch.setattr("dcactl.reports.doctor.local_now",
                        lambda: datetime.now(UTC) + timedelta(seconds=skew_s))
    code, checks = doctor(write_portfolio(tmp_path / "p.toml", dn.url, ASSETS))
    assert code == (1 if status == "fail" else 0)
    clock = checks["clock"]
    assert clock["status"] == status
    word = "ahead of" if skew_s > 0 else "behind"
    low = D(clock["detail"].split("at least ")[1].split(" s")[0])
    assert abs(skew_s) - 2 <= low <= abs(skew_s) and word in clock["detail"]
    assert clock["fix"].startswith("synchronise the clock")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_exchange_fails(tmp_path: Path, doctor: Any) -> None:
    """Nothing listening at the API URL: connectivity fails, and every line needing it says not checked."""
    url = f"http://127.0.0.1:{_closed_port()}"
    wallet = Account.create()
    key = _key_file(tmp_path / "key", wallet)
    code, checks = doctor(_live(tmp_path, url, wallet, wallet.address, f"file:{key}"))
    assert code == 1
    hl = checks["connectivity hyperliquid"]
    assert hl["status"] == "fail" and hl["detail"].startswith(f"{url} unreachable: Hyperliquid")
    assert checks["connectivity coingecko"]["status"] == "fail"
    for name in ("balance", "market BTC", "market ETH", "market AVAX", "clock"):
        assert checks[name]["status"] == "fail" and checks[name]["detail"].startswith("not checked:"), name
    assert checks["key"]["status"] == checks["account"]["status"] == checks["ledger"]["status"] == "ok"


def test_open_intents_warn(tmp_path: Path, dn: DevnetThread, doctor: Any) -> None:
    """An unresolved intent in the ledger is a warning telling the user to run `dcactl run`."""
    from dcactl.ledger import Ledger

    cfg = write_portfolio(tmp_path / "p.toml", dn.url, ASSETS)
    period = "2026-01-05T00:00:00Z"
    with Ledger.open(tmp_path / "ledger.db", network=dn.url, account=None) as ledger:
        ledger.record_intent(OrderIntent(
            cloid=make_cloid(dn.url, "paper", "BTC", period, 0), asset="BTC", venue="hyperliquid",
            period=period, attempt=0, usd_requested=D(100), size=D("0.001"), limit_px=D(99000),
            created_at=utcnow(), pair="@142", asset_id=10142,
        ))
    code, checks = doctor(cfg)
    assert code == 0
    assert checks["ledger"]["status"] == "warn"
    assert checks["ledger"]["detail"].endswith(f"1 open intents (BTC {period})")
    assert checks["ledger"]["fix"] == "run `dcactl run` to resolve them"


# --- pure pieces ---------------------------------------------------------------------------------


def test_balance_runway_and_perp_hint(tmp_path: Path) -> None:
    """Runway by hand: 1000 / (100 + 50) = 6 periods; short spot with perp USDC hints at a transfer."""
    from dcactl.config.schema import load_config

    cfg = write_portfolio(tmp_path / "p.toml", "http://127.0.0.1:1", ASSETS)
    assets = [a for a in load_config(cfg).assets if a.symbol != "AVAX"]
    acct = "0x" + "a" * 40
    assert balance_check(acct, D(1000), D(0), assets).status == "ok"
    assert balance_check(acct, D(449), D(0), assets).status == "warn"
    short = balance_check(acct, D("149.99"), D(500), assets)
    assert short.status == "fail" and "runway 0 periods" in short.detail
    assert short.fix == ("move USDC from perp to spot (usdClassTransfer in the UI): 500.00 USDC is "
                         "withdrawable in the perp account")
    unknown = balance_check(acct, ExchangeUnavailable("Hyperliquid: down"), D(0), assets)
    assert unknown.status == "fail" and unknown.detail == "not checked: Hyperliquid: down"


def test_clock_window_and_min_order() -> None:
    """The Date header's 1 s window: inside it no skew; outside, the nearest edge. Min order by hand."""
    server = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    probe = ServerProbe(latency_s=0.01, server_time=server, local_time=server)
    assert clock_check(probe, server + timedelta(milliseconds=700)).status == "ok"
    ahead = clock_check(probe, server + timedelta(seconds=3, milliseconds=500))
    assert (ahead.status, ahead.detail) == ("warn", "local clock at least 2.5 s ahead of the exchange's")
    behind = clock_check(probe, server - timedelta(seconds=61))
    assert (behind.status, behind.detail) == (
        "fail", "local clock at least 61.0 s behind the exchange's; run places no order beyond 60 s"
    )
    # 10 / 94124 = 0.000106.. → 0.00011 BTC (5 decimals) × 94124 = 10.35364 → 10.36 USDC (rounded up)
    assert min_order(D(94124), 5) == D("10.36")
    # PURR-like: szDecimals 0 at 0.21976 → 46 units × 0.21976 = 10.10896 → 10.11
    assert min_order(D("0.21976"), 0) == D("10.11")


def test_render_table_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    """The table shows every line; --quiet shows only warn/fail lines and nothing when all is ok."""
    from dcactl.cli import output
    from dcactl.reports.doctor import Check, DoctorReport, render_doctor

    output.OPTIONS.json = output.OPTIONS.quiet = False
    output.reset_consoles()
    report = DoctorReport([Check("config", "ok", "p.toml: 1 assets"),
                           Check("clock", "warn", "3 s ahead", "ntp")])
    try:
        render_doctor(report)
        out = capsys.readouterr().out
        assert "config" in out and "3 s ahead" in out and "0 failed, 1 warnings" in out
        assert " fix " in out.splitlines()[2] and "ntp" in out  # the header row has the fix column
        render_doctor(DoctorReport([Check("config", "ok", "p.toml: 1 assets")]))
        out = capsys.readouterr().out  # nothing to fix: no empty column taking the details' room
        assert "fix" not in out and "all checks passed" in out, out
        output.OPTIONS.quiet = True
        output.reset_consoles()
        render_doctor(report)
        out = capsys.readouterr().out
        assert "config" not in out and "clock" in out
        render_doctor(DoctorReport([Check("config", "ok", "fine")]))
        assert capsys.readouterr().out == ""
    finally:
        output.OPTIONS.quiet = False
        output.reset_consoles()


def test_caps_line_by_hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caps against a day when every asset is due: 100 + 65 + a volatility max of 80 = 245 USDC;
    within 300 it is ok, over a day cap of 200 it warns naming the cap and the sum; no caps, no line."""
    from support import load_text

    from dcactl.reports.doctorchecks import caps_check

    monkeypatch.chdir(tmp_path)
    config = load_text('[settings]\nmax_usd_per_day = 200\n[assets.BTC]\namount = 100\nevery = "day"\n'
                       '[assets.ETH]\namount = 65\nevery = "week"\n[assets.SOL]\namount = 30\n'
                       'every = "week"\n[assets.SOL.sizing]\nkind = "volatility"\nmin = 20\nmax = 80\n')
    check = caps_check(config.assets, None, D(200))
    assert check is not None and check.status == "warn"
    assert "wants up to 245.00 USDC, over max_usd_per_day 200.00" in check.detail
    assert check.fix == "raise settings.max_usd_per_day to at least 245.00, or lower the amounts"
    ok = caps_check(config.assets, D(300), D(300))
    assert ok is not None and ok.status == "ok"
    assert caps_check(config.assets, None, None) is None


def test_a_book_too_thin_for_the_amount_fails_its_market() -> None:
    """100 USDC of a pair whose asks hold 0.5 × 100.1 = 50.05 USDC up to the limit (mid 100 + 50 bps =
    100.5): the IOC would fill only in part each period, so doctor fails it and says what to change;
    25 USDC fits in that depth and passes."""
    from dcactl.config.schema import AssetConfig
    from dcactl.market.data import Quote
    from dcactl.models import Market
    from dcactl.reports.doctorchecks import market_check
    from dcactl.schedule.periods import parse_every
    from dcactl.venues.paper import Level

    market = Market(symbol="THIN", venue="hyperliquid", coin="@300", asset_id=10300, base_token="THIN",
                    sz_decimals=2)
    quote = Quote(mid=D(100), asks=(Level(D("100.1"), D("0.5")),))
    big = AssetConfig(symbol="THIN", amount=D(100), every="day", schedule=parse_every("day"))
    check = market_check(big, market, quote, 50, D("0.001"))
    assert check.status == "fail"
    assert check.detail == ("@300 (asset 10300, szDecimals 2): the book holds only 50.05 USDC of asks up to"
                            " 100.5 (mid + 50 bps); a buy of 100 USDC would fill only in part")
    assert check.fix is not None and "max_slippage_bps" in check.fix
    small = AssetConfig(symbol="THIN", amount=D(25), every="day", schedule=parse_every("day"))
    assert market_check(small, market, quote, 50, D("0.001")).status == "ok"
