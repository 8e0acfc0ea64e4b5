"""Everything a command needs, opened once: config, ledger, run lock, HTTP clients, signer.

``open_session`` is the single place that turns global options into live objects, so every command
resolves paths, networks and accounts the same way. Clients are created lazily; the key is loaded
only by commands that sign (live ``run``/``buy``) or check it (``doctor``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from dcactl.config.keys import Signer
    from dcactl.config.schema import Config
    from dcactl.http import ServerClock, SharedWeightBudget
    from dcactl.ledger import Ledger
    from dcactl.market.coingecko import CoinGeckoClient
    from dcactl.venues.hyperliquid import HyperliquidClient
    from dcactl.venues.signing_process import SigningProcess

BACKGROUND_WAIT_S = 5.0
"""How long closing a session waits for background work (a metadata refresh) before cancelling it."""

HL_WEIGHT_PER_MINUTE: int | None = 1000
"""The request weight per minute dcactl paces Hyperliquid to (of the exchange's 1200 per IP);
None switches pacing off (a devnet with its rate limit off)."""

PAPER_ACCOUNT = "paper"
"""The ledger's account name when no account is configured (paper mode without an address)."""


def load(config_path: Path | None) -> Config:
    """Find and load the portfolio file (``--config``, ``$DCACTL_CONFIG``, ./portfolio.toml, user dir)."""
    from dcactl.config.schema import find_config_path, load_config

    return load_config(find_config_path(config_path))


def shared_budget(base_url: str, per_minute: int | None) -> SharedWeightBudget:
    """Request pacing for ``base_url`` shared by the user's dcactl processes (``pacing/`` in the
    data dir, one window per API: :func:`~dcactl.http.pacing_path`), so a cron run and a ``sync`` in
    the same minute stay under the per-IP limit together."""
    from dcactl.config.files import user_data_dir
    from dcactl.http import SharedWeightBudget, pacing_path

    return SharedWeightBudget(pacing_path(user_data_dir() / "pacing", base_url), per_minute)


def account_lock_path(config: Config) -> Path:
    """The lock of one network and account on this machine, shared by every ledger, ``$HOME`` and
    ``$DCACTL_HOME`` of this user (cron and a shell may differ in all three):
    ``$DCACTL_LOCK_DIR`` else ``<temp dir>/dcactl-<uid>``, file ``<network>-<account>.lock``."""
    import os
    import tempfile

    from dcactl.config.files import safe_network_id

    folder = os.environ.get("DCACTL_LOCK_DIR") or os.path.join(tempfile.gettempdir(), f"dcactl-{os.getuid()}")
    name = f"{safe_network_id(config.settings.network_id)}-{ledger_account(config)}.lock"
    return Path(folder) / name


def is_devnet(api_url: str, timeout: float) -> bool:
    """Whether ``api_url`` is a dcactl devnet (it answers ``GET /devnet/health``). Named networks are
    known without asking; any other URL is asked once, within ``min(timeout, 2)`` seconds."""
    from dcactl.networks import NETWORK_URLS, canonical_network

    network = canonical_network(api_url)
    if network in NETWORK_URLS:
        return network == "devnet"
    import httpx

    try:
        answer = httpx.get(f"{api_url}/devnet/health", timeout=min(timeout, 2.0))
        return answer.status_code == 200 and answer.json().get("ok") is True
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def ledger_account(config: Config) -> str:
    """Whose ledger this is: the configured master account, else ``paper``."""
    return (config.settings.account or PAPER_ACCOUNT).lower()


@dataclass
class Session:
    """Open resources of one command. Use :func:`open_session`."""

    config: Config
    ledger: Ledger
    db_path: Path
    _hl: HyperliquidClient | None = None
    _cg: CoinGeckoClient | None = None
    _signer: Signer | None = None
    signing_process: SigningProcess | None = None
    """Where the signer is made and signs, when not in this process (:mod:`dcactl.venues.signing_process`):
    the CLI starts one for ``run`` and ``buy`` when dcactl owns its process; the session closes it."""
    _closers: list[Any] = field(default_factory=list)
    background: list[asyncio.Task[str | None]] = field(default_factory=list)
    """Work a command started without waiting for it (a metadata refresh); awaited on close."""
    notes: list[tuple[str, str]] = field(default_factory=list)
    """What the stages have to tell the user, as ("warn" | "info", text): the core never prints; the
    CLI shows them (:func:`dcactl.cli.context.with_session`)."""

    def warn(self, message: str) -> None:
        """A warning for the user (shown on stderr unless --quiet)."""
        self.notes.append(("warn", message))

    def info(self, message: str) -> None:
        """A progress or diagnostic note (shown on stderr unless --quiet or --json)."""
        self.notes.append(("info", message))

    @property
    def network(self) -> str:
        """The ledger's network id (``mainnet``, ``testnet``, ``devnet`` or the URL)."""
        return self.config.settings.network_id

    @property
    def account(self) -> str:
        """The master account (lower-case) or ``paper``."""
        return ledger_account(self.config)

    @property
    def live(self) -> bool:
        """True when orders are real (``mode = "live"``)."""
        return self.config.settings.mode == "live"

    @property
    def hl(self) -> HyperliquidClient:
        """The Hyperliquid client for the configured network (created on first use)."""
        if self._hl is None:
            from dcactl.venues.hyperliquid import HyperliquidClient

            s = self.config.settings
            budget = shared_budget(s.api_url, HL_WEIGHT_PER_MINUTE)
            self._hl = HyperliquidClient(s.api_url, s.is_mainnet, s.request_timeout, budget=budget)
            self._closers.append(self._hl)
        return self._hl

    @property
    def has_hl(self) -> bool:
        """Whether the Hyperliquid client was created (something asked the exchange)."""
        return self._hl is not None

    @property
    def exchange_clock(self) -> ServerClock | None:
        """The exchange's clock against ours as its answers' ``Date`` headers show it (None before any
        request to the exchange)."""
        return None if self._hl is None else self._hl.http.clock

    @property
    def cg(self) -> CoinGeckoClient:
        """The CoinGecko client (created on first use); its key comes from ``coingecko_key``."""
        if self._cg is None:
            from dcactl.config.keys import read_key_text
            from dcactl.market.coingecko import CoinGeckoClient, default_budget

            s = self.config.settings
            key = read_key_text(s.coingecko_key) if s.coingecko_key else None
            base = s.coingecko_base_url
            if not s.coingecko_url and is_devnet(s.api_url, s.request_timeout):
                base = f"{s.api_url}/coingecko/api/v3"  # a devnet at any address has its own CoinGecko
            paced = default_budget(base)
            budget = shared_budget(base, paced.per_minute) if paced is not None else None
            self._cg = CoinGeckoClient(base, key, timeout=s.request_timeout, budget=budget)
            self._closers.append(self._cg)
        return self._cg

    @property
    def signer(self) -> Signer:
        """The signing key named by ``settings.key`` (loaded on first use). Raises SecretError."""
        if self._signer is None:
            return self.read_key()()
        return self._signer

    def read_key(self) -> Callable[[], Signer]:
        """The fast half of loading :attr:`signer`, done now: the key read from its source and checked
        (SecretError when it is missing, unsafe or not a key). Returns the slow half (eth_account
        makes the signer of it: about 0.2 s), which a run calls in a thread while it waits for the
        exchange; it raises SecretError when the text is not a valid key."""
        if self._signer is not None:
            signer = self._signer
            return lambda: signer
        from dcactl.config.keys import Signer, local_account, read_signing_key, signer_from
        from dcactl.errors import SecretError
        from dcactl.timing import mark

        source = self.config.settings.key
        if not source:
            raise SecretError(f"{self.config.path}: settings.key: live mode needs a key source")
        text = read_signing_key(source)
        apart = self.signing_process
        if apart is not None:
            apart.give_key(text, source, lambda: local_account(text, source))

        def load() -> Signer:
            if apart is not None:
                apart.ready()
                self._signer = Signer(apart, source)
            else:
                self._signer = signer_from(text, source)
            mark("signer_ready")
            return self._signer

        return load

    async def aclose(self) -> None:
        """Finish background work (printing its warnings), then close clients and the ledger."""
        if self.background:
            import asyncio  # here: loading the config (load) needs no event loop

            done, pending = await asyncio.wait(self.background, timeout=BACKGROUND_WAIT_S)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is None and task.result():
                    self.warn(str(task.result()))
        if self.signing_process is not None:
            self.signing_process.close()
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                await closer.aclose()
        self.ledger.close()


@contextlib.asynccontextmanager
async def open_session(
    config_path: Path | None, db_path: Path | None, *, lock: bool = False, create: bool = True
) -> AsyncIterator[Session]:
    """Load config, open (and migrate) the ledger, optionally take the run lock.

    ``create=False`` (commands that only read the ledger): when no ledger exists at the path yet, an
    empty one is opened in memory instead, so looking never leaves an empty file behind.

    Raises ConfigError, LedgerError, or LockTimeout when another run holds the lock past
    ``settings.lock_wait``.
    """
    from dcactl.config.schema import resolve_db_path
    from dcactl.ledger import Ledger

    config = load(config_path)
    path = resolve_db_path(db_path, config)
    async with contextlib.AsyncExitStack() as stack:
        if lock:  # first, so a run waiting for another writes nothing at all meanwhile
            from dcactl.schedule.periods import RunLock, lock_path_for

            stack.enter_context(RunLock(lock_path_for(path), config.settings.lock_wait))
            # and the account's, whatever ledger each uses: two dcactl processes on one machine never
            # trade one account at once (the second then finds the first's orders by cloid)
            stack.enter_context(RunLock(account_lock_path(config), config.settings.lock_wait))
        where = path if create or path.exists() else Path(":memory:")
        ledger = Ledger.open(where, network=config.settings.network_id, account=ledger_account(config))
        stack.callback(ledger.close)
        session = Session(config=config, ledger=ledger, db_path=path)
        try:
            yield session
        finally:
            await session.aclose()
