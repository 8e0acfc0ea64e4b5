"""Loading the signing key from where the config says it is, without ever showing it.

``settings.key`` names a *source*, never the key: ``env:VAR``, ``file:PATH`` (refused when the file
is readable by group or others) or ``keyring:NAME`` (the optional ``keyring`` extra; service name
``dcactl``). Every error names the source and what is wrong; none contains the key, and none chains
an exception that could (``raise ... from None``).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcactl.errors import SecretError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from dcactl.venues.hl_signing import Wallet

KEYRING_SERVICE = "dcactl"
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class Signer:
    """A loaded private key. Its repr and str show the address only.

    ``address`` is the signer's lower-case address (the master account, or an API/agent wallet
    that trades for it). ``account`` is what the signing helpers sign with: the eth_account object,
    or the process that holds it (:class:`~dcactl.venues.signing_process.SigningProcess`).
    """

    __slots__ = ("_account", "address", "source")

    def __init__(self, account: Wallet, source: str) -> None:
        self._account = account
        self.address: str = account.address.lower()
        self.source = source

    @property
    def account(self) -> Wallet:
        """The eth_account LocalAccount (or the process holding it) to sign with (never print it)."""
        return self._account

    def __repr__(self) -> str:
        return f"Signer(address={self.address}, source={self.source})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pragma: no cover - a key must never be pickled into a file or log
        raise TypeError("a Signer cannot be pickled")


def _read_env(name: str, source: str, what: str) -> str:
    value = os.environ.get(name)
    if value is None or not value.strip():
        raise SecretError(f"{what} {source}: the environment variable {name} is not set")
    return value.strip()


def _read_file(path_text: str, source: str, what: str) -> str:
    path = Path(path_text).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretError(f"{what} {source}: no such file") from None
    except OSError as exc:
        raise SecretError(f"{what} {source}: cannot read ({exc.strerror})") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        raise SecretError(
            f"{what} {source}: the file is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
        )
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise SecretError(f"{what} {source}: cannot read the file") from None


def _read_keyring(name: str, source: str, what: str) -> str:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise SecretError(
            f"{what} {source}: the keyring package is not installed (pip install 'dcactl[keyring]')"
        ) from None
    try:
        value = keyring.get_password(KEYRING_SERVICE, name)
    except KeyringError as exc:
        raise SecretError(
            f"{what} {source}: the keyring is not reachable ({type(exc).__name__}); under cron there is "
            "often no desktop session: use a file: key with mode 600 instead"
        ) from None
    if not value:
        raise SecretError(
            f"{what} {source}: no entry '{name}' for service '{KEYRING_SERVICE}' in the keyring"
        )
    return value.strip()


def read_key_text(source: str) -> str:
    """The raw key text from ``source`` (``env:``, ``file:`` or ``keyring:``).

    Raises SecretError naming the source (never the value) when it is missing or unsafe.
    """
    return read_secret_text(source, "key")


def read_secret_text(source: str, what: str) -> str:
    """The secret text (a key, a notification URL) kept at ``source``; messages start with ``what``
    (``key``, ``notify.urls[0]``) and name the source, never the value. Raises SecretError."""
    kind, sep, rest = source.partition(":")
    if not sep or not rest:
        raise SecretError(f"{what}: expected env:VAR, file:PATH or keyring:NAME")
    if kind == "env":
        return _read_env(rest, source, what)
    if kind == "file":
        return _read_file(rest, source, what)
    if kind == "keyring":
        return _read_keyring(rest, source, what)
    raise SecretError(f"{what}: unknown source '{kind}:' (expected env:, file: or keyring:)")


def load_signer(source: str) -> Signer:
    """Load the private key named by ``source`` into a :class:`Signer`.

    Raises SecretError when the source is missing, unsafe, or does not hold a 32-byte hex key.
    """
    return signer_from(read_signing_key(source), source)


def read_signing_key(source: str) -> str:
    """The fast half of :func:`load_signer`: the key text at ``source``, checked to be 64 hex digits
    (optional 0x). Raises SecretError when the source is missing, unsafe, or holds something else."""
    text = read_key_text(source)
    if not _HEX_KEY.match(text):
        raise SecretError(f"key {source}: not a 32-byte hex private key (64 hex digits, optional 0x)")
    return text


def signer_from(text: str, source: str) -> Signer:
    """The slow half of :func:`load_signer` (eth_account's import: about 0.2 s): a :class:`Signer` of
    ``text`` (from :func:`read_signing_key`). Raises SecretError when it is not a valid key."""
    return Signer(local_account(text, source), source)


def local_account(text: str, source: str) -> LocalAccount:
    """The eth_account key of ``text`` (see :func:`signer_from`)."""
    from eth_account import Account

    try:
        account: LocalAccount = Account.from_key(text if text.startswith("0x") else "0x" + text)
    except Exception:  # eth_account's messages may quote the input
        raise SecretError(f"key {source}: not a valid secp256k1 private key") from None
    return account
