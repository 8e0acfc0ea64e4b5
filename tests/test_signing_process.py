"""The signer in a second process (dcactl.venues.signing_process): the same signatures as signing
here, a bad key refused with the same message, and every way the child can fail ending in this
process signing instead."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from dcactl.config.keys import local_account
from dcactl.errors import SecretError
from dcactl.venues import signing_process
from dcactl.venues.hl_signing import cancel_by_cloid_action, sign_action, signed_request
from dcactl.venues.signing_process import SigningProcess

CLOID = "0x0000000000000000000000000000abcd"
ORDER = {"type": "order", "orders": [{"a": 10142, "b": True, "p": "101850.0", "s": "0.00012", "r": False,
                                     "t": {"limit": {"tif": "Ioc"}}, "c": CLOID}], "grouping": "na"}
VAULT = "0x" + "ab" * 20


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child is only started on a machine with two cores: pretend, whatever runs the tests."""
    monkeypatch.setattr(signing_process, "cores", lambda: 2)


@pytest.fixture
def key() -> str:
    return bytes(Account.create().key).hex()


@pytest.fixture
def child(key: str) -> Iterator[SigningProcess]:
    proc = SigningProcess.spawn()
    assert proc is not None
    proc.give_key(key, "env:TEST_KEY", lambda: local_account(key, "env:TEST_KEY"))
    try:
        yield proc
    finally:
        proc.close()


def _pid(child: SigningProcess) -> int:
    return child._proc.pid


@pytest.mark.parametrize(("action", "vault", "expires", "mainnet"), [
    (ORDER, None, None, False),
    (ORDER, None, 1_764_000_060_000, True),
    (ORDER, VAULT, 1_764_000_060_000, False),
    (cancel_by_cloid_action([(10142, CLOID)]), None, None, True),
])
def test_the_child_signs_exactly_as_this_process(
    child: SigningProcess, key: str, action: Any, vault: str | None, expires: int | None, mainnet: bool
) -> None:
    wallet = Account.from_key("0x" + key)
    assert child.ready() == wallet.address.lower()
    nonce = 1_764_000_000_123
    apart = sign_action(child, action, nonce, vault=vault, is_mainnet=mainnet, expires_after=expires)
    here = sign_action(wallet, action, nonce, vault=vault, is_mainnet=mainnet, expires_after=expires)
    assert apart == here
    assert child._local is None  # the child signed it, not a fallback
    # a different nonce is a different signature (the child signs what it is given, not a cached one)
    assert sign_action(child, action, nonce + 1, vault=vault, is_mainnet=mainnet) != apart


def test_signed_request_through_the_child_is_the_request_signed_here(child: SigningProcess, key: str) -> None:
    wallet = Account.from_key("0x" + key)
    assert signed_request(child, ORDER, 7, vault=VAULT.upper().replace("0X", "0x"), is_mainnet=False) == \
        signed_request(wallet, ORDER, 7, vault=VAULT, is_mainnet=False)


def test_a_key_that_is_no_key_is_refused_with_the_sources_name_only() -> None:
    bad = "00" * 32  # 64 hex digits (read_signing_key passes it), but not a secp256k1 key
    proc = SigningProcess.spawn()
    assert proc is not None
    proc.give_key(bad, "env:TEST_KEY", lambda: local_account(bad, "env:TEST_KEY"))
    with pytest.raises(SecretError) as caught:
        proc.ready()
    assert str(caught.value) == "key env:TEST_KEY: not a valid secp256k1 private key"
    assert bad not in repr(caught.value)
    assert proc._proc.poll() is not None  # stopped and reaped


def test_a_child_killed_before_its_answer_leaves_the_signing_here(key: str) -> None:
    proc = SigningProcess.spawn()
    assert proc is not None
    proc.give_key(key, "env:TEST_KEY", lambda: local_account(key, "env:TEST_KEY"))
    os.kill(_pid(proc), signal.SIGKILL)
    wallet = Account.from_key("0x" + key)
    assert proc.ready() == wallet.address.lower()
    assert proc._local is not None
    assert sign_action(proc, ORDER, 9, vault=None, is_mainnet=False) == \
        sign_action(wallet, ORDER, 9, vault=None, is_mainnet=False)
    proc.close()


def test_a_child_that_dies_after_its_answer_is_replaced_by_signing_here(
    child: SigningProcess, key: str
) -> None:
    wallet = Account.from_key("0x" + key)
    child.ready()
    os.kill(_pid(child), signal.SIGKILL)
    child._proc.wait()
    assert sign_action(child, ORDER, 11, vault=None, is_mainnet=True) == \
        sign_action(wallet, ORDER, 11, vault=None, is_mainnet=True)
    assert child._local is not None


def test_a_child_that_does_not_answer_in_time_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    proc = SigningProcess.spawn()
    assert proc is not None
    proc.give_key(key, "env:TEST_KEY", lambda: local_account(key, "env:TEST_KEY"))
    os.kill(_pid(proc), signal.SIGSTOP)  # alive, holding its pipe open, answering nothing
    try:
        assert proc.ready(timeout=0.2) == Account.from_key("0x" + key).address.lower()
        assert proc._local is not None
    finally:
        proc.close()
    assert proc._proc.poll() is not None


def test_a_garbled_answer_is_not_trusted(
    child: SigningProcess, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    child.ready()
    monkeypatch.setattr(child, "_receive", lambda timeout: {"signature": {"r": "0x1"}})  # no s, no v
    wallet = Account.from_key("0x" + key)
    assert sign_action(child, ORDER, 13, vault=None, is_mainnet=False) == \
        sign_action(wallet, ORDER, 13, vault=None, is_mainnet=False)


def test_close_stops_a_child_still_starting_and_is_idempotent() -> None:
    proc = SigningProcess.spawn()
    assert proc is not None
    proc.close()  # no key yet: the child may still be importing; it is not waited for
    assert proc._proc.poll() is not None
    proc.close()


def test_one_core_or_no_process_means_signing_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing_process, "cores", lambda: 1)
    assert SigningProcess.spawn() is None
    monkeypatch.setattr(signing_process, "cores", lambda: 2)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no more processes")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert SigningProcess.spawn() is None


def test_the_key_reaches_the_child_through_the_pipe_only(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Neither argv nor the environment holds the key: the child's environment is the interpreter's
    and the locale's variables only, so a key source's variable (whatever its name: the child may
    start before the portfolio is read) and a notification token stay out of it."""
    monkeypatch.setenv("TEST_KEY", key)  # where the portfolio's `key = "env:TEST_KEY"` reads it
    monkeypatch.setenv("DCACTL_NOTIFY_TOKEN", "secret-token")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("LC_TIME", "C.UTF-8")
    proc = SigningProcess.spawn()
    assert proc is not None
    try:
        proc.give_key(key, "env:TEST_KEY", lambda: local_account(key, "env:TEST_KEY"))
        assert proc.ready() == Account.from_key("0x" + key).address.lower()
        assert proc._local is None
        pid = _pid(proc)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert key.encode() not in f.read()
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        assert {b"PYTHONDONTWRITEBYTECODE=1", b"LC_TIME=C.UTF-8"} <= set(environ)
        assert not any(key.encode() in v or v.startswith(b"TEST_KEY=") for v in environ)
        assert not any(b"secret-token" in v for v in environ)
    finally:
        proc.close()


def test_closing_while_a_thread_waits_for_the_signer_ends_the_wait(key: str) -> None:
    """The run's session closes the child while the key's thread still waits for its answer (Ctrl-C,
    an error): the child is stopped, so the thread finds the pipe at its end and makes the signer
    here, instead of waiting out its deadline."""
    import threading

    proc = SigningProcess.spawn()
    assert proc is not None
    proc.give_key(key, "env:TEST_KEY", lambda: local_account(key, "env:TEST_KEY"))
    os.kill(_pid(proc), signal.SIGSTOP)  # it will not answer
    got: list[str] = []
    waiting = threading.Thread(target=lambda: got.append(proc.ready(timeout=60)))
    waiting.start()
    proc.close()
    waiting.join(timeout=30)
    assert not waiting.is_alive(), "still waiting out the 60 s deadline"
    assert got == [Account.from_key("0x" + key).address.lower()]
    assert proc._proc.poll() is not None and proc._proc.stdout is not None and proc._proc.stdout.closed


def test_the_key_is_handed_over_once(child: SigningProcess, key: str) -> None:
    """A second give_key (the session read the key again) sends nothing: the child still signs, its
    next line is no stale answer to a key it took for an action."""
    child.give_key(key, "env:TEST_KEY", lambda: local_account(key, "env:TEST_KEY"))
    wallet = Account.from_key("0x" + key)
    assert sign_action(child, ORDER, 21, vault=None, is_mainnet=False) == \
        sign_action(wallet, ORDER, 21, vault=None, is_mainnet=False)
    assert child._local is None  # signed by the child


def test_a_run_or_buy_starts_its_signing_process_before_the_cli_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In an owned process, ``prestart`` starts the child for a ``run`` or ``buy`` that may sign (the
    command found after the global options and their values), never for a dry run, a help, another
    command, or a process dcactl does not own; ``finish`` stops a child no command took."""
    from dcactl.cli import process

    monkeypatch.setattr(process, "_owned", True)
    signing = (["--config", "p.toml", "run"], ["--config=run", "-q", "buy", "ETH", "--force"],
               ["run", "--only", "BTC"])
    for args in signing:
        process.prestart(args)
        child = process.take_signer()
        assert child is not None and child._proc.poll() is None, args
        assert process.take_signer() is None  # taken once
        child.close()
    for args in (["run", "--dry-run"], ["buy", "BTC", "--help"], ["--help", "run"],
                 ["--config", "run", "status"], ["plan"], [], ["--version"]):
        process.prestart(args)
        assert process.take_signer() is None, args
    process.prestart(["run"])
    left = process._signer
    assert left is not None
    monkeypatch.setattr(process, "_owned", False)  # finish only freezes the heap of an owned process
    process.finish()
    assert process._signer is None and left._proc.poll() is not None  # stopped and reaped
    process.prestart(["run"])  # not owned: nothing starts
    assert process.take_signer() is None


@pytest.mark.parametrize("mode", ["live", "paper"])
def test_the_run_takes_the_early_child_when_live_and_stops_it_otherwise(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A child started before the portfolio was read is the run's signer in live mode; in paper mode
    (or when the portfolio does not load) it is stopped, and the run signs nothing apart."""
    from dcactl.cli import app, process

    cfg = tmp_path / "p.toml"
    account = Account.create().address
    cfg.write_text(f'[settings]\nnetwork = "devnet"\nmode = "{mode}"\naccount = "{account}"\n'
                   'key = "env:TEST_KEY"\n[assets.BTC]\namount = 20\nevery = "day"\n')
    from dcactl.session import load

    assert load(cfg).settings.mode == mode
    monkeypatch.setattr(process, "_owned", True)
    process.prestart(["--config", str(cfg), "run"])
    early = process._signer
    assert early is not None
    try:
        got = app._signing_process(cfg)
        if mode == "live":
            assert got is early and early._proc.poll() is None
        else:
            assert got is None and early._proc.poll() is not None
        process.prestart(["run"])
        broken = process._signer
        assert app._signing_process(tmp_path / "missing.toml") is None
        assert broken is not None and broken._proc.poll() is not None
    finally:
        early.close()
