"""Key loading: every source, every refusal, and the key never in a message or repr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_account import Account

from dcactl.config.keys import load_signer
from dcactl.errors import SecretError


@pytest.fixture
def throwaway() -> tuple[str, str]:
    """A fresh private key (hex, 0x-prefixed) and its lower-case address."""
    acct = Account.create()
    return acct.key.hex() if acct.key.hex().startswith("0x") else "0x" + acct.key.hex(), acct.address.lower()


def test_env_source_loads_key(throwaway: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """env:VAR loads the key and the signer's repr shows the address, not the key."""
    key, address = throwaway
    monkeypatch.setenv("DCACTL_KEY", key)
    signer = load_signer("env:DCACTL_KEY")
    assert signer.address == address
    assert key[2:] not in repr(signer) and key[2:] not in str(signer)


def test_env_source_without_prefix(throwaway: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A key written without 0x is accepted too."""
    key, address = throwaway
    monkeypatch.setenv("K", key[2:])
    assert load_signer("env:K").address == address


def test_missing_env_names_the_variable() -> None:
    """An unset variable is a SecretError naming it."""
    with pytest.raises(SecretError, match="DCACTL_KEY is not set"):
        load_signer("env:DCACTL_KEY")


def test_file_source_mode_600(throwaway: tuple[str, str], tmp_path: Path) -> None:
    """file:PATH with mode 600 loads."""
    key, address = throwaway
    path = tmp_path / "key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    assert load_signer(f"file:{path}").address == address


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_file_readable_by_others_refused(throwaway: tuple[str, str], tmp_path: Path, mode: int) -> None:
    """A key file readable by group or others is refused with the chmod fix, without the key."""
    key, _ = throwaway
    path = tmp_path / "key"
    path.write_text(key)
    os.chmod(path, mode)
    with pytest.raises(SecretError) as info:
        load_signer(f"file:{path}")
    assert "chmod 600" in str(info.value)
    assert key[2:] not in str(info.value)


def test_malformed_key_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that is not a key is refused and the message never contains it."""
    bad = "ab" * 31 + "zz"
    monkeypatch.setenv("K", bad)
    with pytest.raises(SecretError) as info:
        load_signer("env:K")
    assert bad not in str(info.value)
    assert info.value.__cause__ is None


def test_zero_key_rejected_without_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """An out-of-range key (all zeros) fails with no chained exception that could quote it."""
    monkeypatch.setenv("K", "0x" + "00" * 32)
    with pytest.raises(SecretError) as info:
        load_signer("env:K")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("source", ["0xabc", "vault:x", "env:", "plain"])
def test_unknown_sources(source: str) -> None:
    """Anything but env:/file:/keyring: is a SecretError."""
    with pytest.raises(SecretError):
        load_signer(source)
