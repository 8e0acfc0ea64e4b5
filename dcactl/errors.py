"""The dcactl exception tree and exit codes.

Every error the core raises is a :class:`DcactlError`. Only ``cli.py`` catches them: it prints the
message as one line on stderr (the traceback only with ``--verbose``) and exits with the class's
:attr:`DcactlError.exit_code`. Messages never contain a secret: code that handles keys raises
:class:`SecretError` with the *source* of the key (``env:DCACTL_KEY``), never its value.

Tree (who raises it → what the user sees):

- ``DcactlError``                       base; exit 1
  - ``UsageError``                      bad command-line use; exit 2
  - ``ConfigError``                     portfolio.toml unreadable/invalid (all problems at once); exit 2
  - ``SecretError``                     a signing key that cannot be loaded or is unsafe; exit 2
  - ``LedgerError``                     the SQLite ledger cannot be opened, is corrupt or too new; exit 2
  - ``ResolveError``                    a symbol that resolves to no market and no price source; exit 2
  - ``TemporaryError``                  worth retrying later; exit 3
    - ``LockTimeout``                   another run held the lock past ``lock_wait``
    - ``ExchangeUnavailable``           timeout, connection error, 5xx from an exchange or price API
      - ``RateLimited``                 HTTP 429 (or our own weight budget exhausted)
  - ``ExchangeError``                   the exchange answered, and said no; exit 1
    - ``OrderRejected``                 one order's per-order error (``statuses[i].error``)
    - ``InsufficientBalance``           not enough USDC (``need X, have Y``)
  - ``PriceSourceError``                no usable price for an asset (CoinGecko missing id, empty book)
  - ``CapExceeded``                     an order would breach ``max_usd_per_run``/``max_usd_per_day``
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (PRODUCT.md, "Exit codes")."""

    OK = 0
    """Done: bought, or nothing was due."""
    FAILED = 1
    """Some asset failed (others may have succeeded), or ``doctor`` found a failing check."""
    USAGE = 2
    """Usage, config, or a ledger that cannot be opened (including ``init`` refusing to overwrite)."""
    TEMPORARY = 3
    """The exchange was unreachable or rate limiting for every asset, or the run lock was held."""


class DcactlError(Exception):
    """Base of every error dcactl raises on purpose; the message is one readable line."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(DcactlError):
    """The command line asks for something impossible (unknown asset, bad date, ...)."""

    exit_code = ExitCode.USAGE


class ConfigError(DcactlError):
    """The portfolio file is missing, malformed or invalid.

    ``problems`` holds one line per problem, each naming the file and key path; ``str()`` joins them
    so the CLI prints them all at once.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SecretError(DcactlError):
    """A signing key is missing, malformed or stored unsafely. Never carries the key itself."""

    exit_code = ExitCode.USAGE


class LedgerError(DcactlError):
    """The ledger file cannot be opened, is not a dcactl ledger, or was written by a newer dcactl."""

    exit_code = ExitCode.USAGE


class ResolveError(DcactlError):
    """A symbol resolves to no Hyperliquid market and has no known CoinGecko id."""

    exit_code = ExitCode.USAGE


class TemporaryError(DcactlError):
    """A condition that should clear by itself; cron's next run will try again."""

    exit_code = ExitCode.TEMPORARY


class LockTimeout(TemporaryError):
    """Another dcactl run held the run lock for longer than ``lock_wait`` seconds."""


class ExchangeUnavailable(TemporaryError):
    """A timeout, connection failure or 5xx from the exchange or a price API."""


class RateLimited(ExchangeUnavailable):
    """HTTP 429, or the client-side weight budget would be exceeded."""


class ExchangeError(DcactlError):
    """The exchange answered and refused (``{"status": "err"}`` or a per-order error)."""


class OrderRejected(ExchangeError):
    """One order of an action was refused; the message names coin, size and price."""


class InsufficientBalance(ExchangeError):
    """Not enough spendable USDC in the spot account (the message says need X, have Y)."""


class PriceSourceError(DcactlError):
    """No usable price for an asset: missing CoinGecko data, empty book, stale quote."""


class CapExceeded(DcactlError):
    """An order would exceed ``max_usd_per_run`` or ``max_usd_per_day``; it is never signed."""
