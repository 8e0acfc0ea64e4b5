"""The private key never shows: after live runs that fail in every way we can make them fail, neither
stdout, stderr (tracebacks with -v included), log records, the ledger (and its -wal/-shm) nor any
other file dcactl wrote contains the key, in hex with or without 0x, in either case, or as raw bytes."""

from __future__ import annotations

import logging
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_support import (
    BTC_COST_PINNED,
    THREE,
    child_env,
    funded_wallet,
    key_hex,
    live_portfolio,
    pin_prices,
    run_child,
    when_logged,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _needles(key: str) -> list[bytes]:
    """Every spelling of the key (and of a near-miss of it) that must never be written anywhere."""
    spellings = [key, key.upper(), "0x" + key, key[:-1], key[1:], key[:40]]
    return [s.encode() for s in spellings] + [bytes.fromhex(key)]


def _assert_clean(blob: bytes, key: str, where: str) -> None:
    for needle in _needles(key):
        assert needle not in blob, f"key material found in {where}"


def test_key_never_leaks_through_failures(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad key formats, a group-readable key file, an unreachable exchange, 5xx and dropped answers on
    orders, insufficient balance, a refused signer, a crash and its rerun, all with -v: no key anywhere."""
    caplog.set_level(logging.DEBUG)
    keys: list[str] = []
    outputs: list[tuple[str, str]] = []

    def account(
        name: str,
        usdc: str | None = "1000",
        url: str = devnet.url,
        key_source: str = "env:DCACTL_KEY",
        **kw: str,
    ) -> tuple[Path, Any]:
        """A fresh funded key in $DCACTL_KEY (each scenario its own account: cloids are per account)."""
        wallet = funded_wallet(devnet, usdc)
        keys.append(key_hex(wallet))
        monkeypatch.setenv("DCACTL_KEY", key_hex(wallet))
        folder = tmp_path / name
        folder.mkdir()
        settings = "request_timeout = 1\n" + "".join(f"{k} = {v}\n" for k, v in kw.items())
        cfg = live_portfolio(folder / "p.toml", url, THREE, wallet.address, settings=settings, key=key_source)
        return cfg, wallet

    def run(name: str, cfg: Path, *args: str) -> Any:
        res = cli("-v", "--config", str(cfg), "--json", *(args or ("run",)))
        outputs.append((name, res.out + res.err))
        return res

    # keys that are almost right: too short, a stray character, one digit too many
    for i in range(3):
        cfg, _ = account(f"bad{i}")
        key = keys[-1]
        monkeypatch.setenv("DCACTL_KEY", (key[:-1], key[:-1] + "z", f"  0x{key}0 ")[i])
        res = run(f"bad-key-{i}", cfg)
        assert res.code == 2 and "not a 32-byte hex private key" in res.err, res.err

    key_file = tmp_path / "key.txt"
    cfg, _ = account("file", key_source=f"file:{key_file}")
    key_file.write_text("0x" + keys[-1] + "\n")
    key_file.chmod(0o644)
    res = run("group-readable", cfg)
    assert res.code == 2 and "readable by group or others" in res.err

    res = run("unreachable", account("down", url=f"http://127.0.0.1:{_free_port()}")[0])
    assert res.code == 3, res.err

    devnet.admin.faults(kind="error", path="/exchange", status=502, count=1)
    res = run("exchange-5xx", account("e5xx")[0])
    assert {r["status"] for r in res.json()["results"]} == {"pending"}

    devnet.admin.faults(kind="drop", path="/exchange", count=1)
    res = run("dropped", account("drop")[0])
    assert res.code == 0, res.err

    cfg, wallet = account("drained")
    pin_prices(devnet)  # exact costs: after BTC, 0.10 USDC is left, less than a lot of ETH or SOL
    devnet.admin.faults(kind="latency", path="/exchange", ms=700, count=1)
    drain = Decimal(1000) - BTC_COST_PINNED - Decimal("0.10")
    with when_logged(devnet, "spotClearinghouseState", lambda a: a.fund(wallet.address, usdc=f"-{drain}")):
        res = run("drained", cfg)
    assert res.code == 1 and "insufficient spot balance" in res.out

    res = run("underfunded", account("poor", "50")[0])
    assert res.code == 1 and "need" in res.out

    cfg, _ = account("stranger")
    stranger = funded_wallet(devnet, None)
    keys.append(key_hex(stranger))
    monkeypatch.setenv("DCACTL_KEY", key_hex(stranger))
    res = run("stranger", cfg)
    assert res.code == 1 and "does not exist" in res.out

    crash_cfg, _ = account("crash")
    env = child_env(keys[-1])
    crashed = run_child(crash_cfg, {**env, "DCACTL_CRASH_AT": "after_response"})
    assert crashed.returncode == -9
    rerun = run_child(crash_cfg, env, "-v", "run")
    assert rerun.returncode == 0, rerun.stderr
    outputs += [("crash", crashed.stdout + crashed.stderr), ("rerun", rerun.stdout + rerun.stderr)]

    tracebacks = [name for name, text in outputs if "Traceback (most recent call last)" in text]
    assert {"bad-key-0", "bad-key-1", "bad-key-2", "group-readable"} <= set(tracebacks), tracebacks
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p != key_file]
    assert sum(p.name == "ledger.db" for p in files) >= 8
    for key in keys:
        for name, text in outputs:
            _assert_clean(text.encode(), key, f"the output of {name}")
        _assert_clean(caplog.text.encode(), key, "log records")
        for path in files:
            _assert_clean(path.read_bytes(), key, str(path))


@pytest.mark.parametrize("where", ["env", "file", "keyring"])
def test_a_key_pasted_as_a_source_name_is_refused_unseen(tmp_path: Path, cli: Any, where: str) -> None:
    """key = "env:<the key>" (a natural mistake): run, buy, doctor and -v fail at config time with one
    line that names the key path and never the key, in hex with or without 0x."""
    from eth_account import Account

    wallet = Account.create()
    key = bytes(wallet.key).hex()
    for spelled in (key, "0x" + key):
        cfg = tmp_path / "p.toml"
        cfg.write_text(f'[settings]\nmode = "live"\naccount = "{wallet.address}"\nkey = "{where}:{spelled}"\n'
                       '[assets.BTC]\namount = 20\nevery = "day"\n')
        for args in (("run",), ("buy", "BTC", "--force"), ("doctor",), ("-v", "run"), ("--json", "doctor")):
            res = cli("--config", str(cfg), *args)
            assert res.code == 2, args
            assert "settings.key: after " in res.err and "looks like the key itself" in res.err
            for needle in (key, key.upper(), key[:40]):
                assert needle not in res.out + res.err, args


def test_messages_are_redacted_at_the_boundary(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever slips into an error or a warning, key-shaped text is replaced before it is printed."""
    from dcactl.cli import output

    key = "ab" * 32
    output.error(f"something said 0x{key} and {key.upper()}")
    output.warn(f"and {key}")
    err = capsys.readouterr().err
    assert key not in err and key.upper() not in err
    assert err.count("<redacted key>") == 3
