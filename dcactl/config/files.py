"""Where dcactl's files are, and writing portfolio files: paths, the starter, atomic writes.

Every path has an environment override, so tests (and users) never depend on ``~``:

- config: ``--config`` → ``$DCACTL_CONFIG`` → ``./portfolio.toml`` if it exists → user config dir;
- ledger: ``--db`` → ``$DCACTL_DB`` → ``settings.database`` → user data dir, one file per network;
- ``$DCACTL_HOME`` replaces both user dirs (``$DCACTL_HOME/config`` and ``$DCACTL_HOME/data``).

Imported by :mod:`dcactl.config.schema`, which re-exports the public names; import them from there.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcactl.errors import UsageError

if TYPE_CHECKING:
    from dcactl.config.schema import Config

APP_NAME = "dcactl"
CONFIG_FILENAME = "portfolio.toml"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def user_config_dir() -> Path:
    """``$DCACTL_HOME/config``, else the platform's user config dir for dcactl (not created)."""
    home = _env_path("DCACTL_HOME")
    if home is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_data_dir() -> Path:
    """``$DCACTL_HOME/data``, else the platform's user data dir for dcactl (not created)."""
    home = _env_path("DCACTL_HOME")
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def find_config_path(cli_path: Path | None) -> Path:
    """The portfolio file to use: ``--config``, ``$DCACTL_CONFIG``, ``./portfolio.toml`` if it
    exists, else ``user_config_dir()/portfolio.toml``. The file need not exist (loading says so)."""
    if cli_path is not None:
        return cli_path.expanduser()
    env = _env_path("DCACTL_CONFIG")
    if env is not None:
        return env
    local = Path(CONFIG_FILENAME)
    if local.is_file():
        return local
    return user_config_dir() / CONFIG_FILENAME


def safe_network_id(network_id: str) -> str:
    """A file-name-safe form of a network id: names as they are; URLs as host-port plus a short hash
    (so two URLs never share a ledger): ``http://127.0.0.1:3001`` → ``127.0.0.1-3001-<8 hex>``."""
    if re.fullmatch(r"[a-z0-9]+", network_id):
        return network_id
    tail = network_id.split("://", 1)[-1]
    readable = re.sub(r"[^A-Za-z0-9.]+", "-", tail).strip("-.")[:60] or "network"
    import hashlib  # here, as tempfile below: loading a config needs neither

    digest = hashlib.sha256(network_id.encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def resolve_db_path(cli_db: Path | None, config: Config) -> Path:
    """The ledger file: ``--db``, ``$DCACTL_DB``, ``settings.database``, else
    ``user_data_dir()/ledger-<network>.db`` (one per network: devnet never mixes with mainnet)."""
    if cli_db is not None:
        return cli_db.expanduser()
    env = _env_path("DCACTL_DB")
    if env is not None:
        return env
    if config.settings.database is not None:
        return config.settings.database
    folder = user_data_dir()
    path = folder / f"ledger-{safe_network_id(config.settings.network_id)}.db"
    if not path.exists():
        # before network ids had one spelling, a URL-spelled network had a file of its own: keep using it
        network = config.settings.network
        spelled = folder / f"ledger-{safe_network_id(network.rstrip('/'))}.db"
        if spelled.exists():
            return spelled
    return path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and
    ``os.replace``, so a reader sees the old file or the new one, never half of one.

    Creates missing parent folders; keeps an existing file's permissions (else 0644).
    Raises OSError when the folder is not writable.
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _plain(value: Any) -> Any:
    """Make a document tomli-w can write: Paths → str, tuples → lists, nested tables kept."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Decimal) and value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return value


def dump_portfolio(doc: Mapping[str, Any]) -> str:
    """A portfolio document (``{"settings": {...}, "assets": {"BTC": {...}}}``) as TOML text via
    tomli-w. ``None`` values are left out (TOML has no null); Decimals stay exact."""
    import tomli_w

    return tomli_w.dumps(_plain(doc))


def _value(value: Any) -> str:
    """One TOML value as tomli-w writes it."""
    import tomli_w

    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


# (key, value, active, comment): inactive keys are written commented out (their default is "none").
_STARTER_SETTINGS: tuple[tuple[str, Any, bool, str], ...] = (
    ("network", "mainnet", True, "mainnet | testnet | devnet | http(s) URL of a Hyperliquid API"),
    ("mode", "paper", True, "paper: simulate buys, needs no key | live: real orders"),
    ("account", "0x...", False, "the master account that pays (needed for live and sync)"),
    ("key", "env:DCACTL_KEY", False,
     "where the signing key is: env:VAR | file:PATH | keyring:NAME — never the key"),
    ("database", "ledger.db", False, "default: the user data dir, one ledger file per network"),
    ("parallel", True, True, "buy all due assets at once (false: one by one)"),
    ("lock_wait", 30, True, "seconds a run waits for another run's lock before exiting 3"),
    ("coingecko_url", "https://api.coingecko.com/api/v3", False,
     "default: CoinGecko (on devnet: the devnet's double)"),
    ("coingecko_key", "env:COINGECKO_KEY", False, "optional API key source, never the key"),
    ("max_slippage_bps", 50, True, "an IOC buy never pays more than mid × (1 + 50/10000)"),
    ("max_usd_per_run", 1000, False, "hard cap in USDC per run, checked before signing (default: none)"),
    ("max_usd_per_day", 2000, False, "hard cap in USDC per calendar day in `timezone` (default: none)"),
    ("timezone", "UTC", True, "period boundaries (day/week/month) are in this zone"),
    ("request_timeout", 10, True, "seconds per HTTP request"),
)
_STARTER_ASSET_KEYS: tuple[tuple[str, Any, bool, str], ...] = (
    ("amount", 50, True, "USDC per buy (size × limit price never exceeds it)"),
    ("every", "week", True, 'hour | day | week | month | "<N>h" | "<N>d" | "<N>w"'),
    ("enabled", True, True, "false: keep the asset (and its history) but stop buying it"),
    ("venue", "auto", True, "auto: Hyperliquid if listed, else paper | hyperliquid | paper"),
    ("pair", "@142", False, "optional override of the resolved spot pair"),
    ("coingecko_id", "bitcoin", False, "price source for paper buys of assets Hyperliquid does not list"),
)
_STARTER_SIZING: tuple[tuple[str, Any, bool, str], ...] = (
    ("kind", "volatility", False, "fixed (default: buy `amount`) | volatility"),
    ("min", 25, False, "USDC per buy when annualised volatility >= high_vol"),
    ("max", 100, False, "USDC per buy when annualised volatility <= low_vol"),
    ("window_days", 30, False, "completed days of daily returns (2..365)"),
    ("low_vol", 35, False, "annualised volatility, percent"),
    ("high_vol", 85, False, "annualised volatility, percent"),
)
_STARTER_MORE_ASSETS = (("ETH", 30, "week"), ("SOL", 20, "week"))


def _lines(rows: tuple[tuple[str, Any, bool, str], ...]) -> list[str]:
    out = []
    for key, value, active, comment in rows:
        text = f"{'' if active else '# '}{key} = {_value(value)}"
        out.append(f"{text:<34} # {comment}")
    return out


def starter_toml() -> str:
    """The commented starter portfolio ``dcactl init`` writes: every settings key with its default,
    BTC/ETH/SOL bought weekly in paper mode, and a commented volatility-sizing block."""
    parts = [
        "# dcactl portfolio: recurring buys (DCA) on Hyperliquid spot.",
        "# Paper mode simulates every buy at real prices and needs no key: try it first.",
        "# Every key is shown with its default; commented keys are off unless you set them.",
        "",
        "[settings]",
        *_lines(_STARTER_SETTINGS),
        "",
        "[assets.BTC]",
        *_lines(_STARTER_ASSET_KEYS),
        "",
        f"{'# [assets.BTC.sizing]':<34} # optional: buy more when volatility is low, less when high",
        *_lines(_STARTER_SIZING),
    ]
    for symbol, amount, every in _STARTER_MORE_ASSETS:
        parts += ["", f"[assets.{symbol}]", f"amount = {_value(amount)}", f"every = {_value(every)}"]
    return "\n".join(parts) + "\n"


def write_starter(path: Path, force: bool) -> Path:
    """Write :func:`starter_toml` to ``path`` atomically and return ``path``.

    Raises UsageError (exit 2) when ``path`` exists and ``force`` is false.
    """
    if path.exists() and not force:
        raise UsageError(f"{path} already exists; not overwriting it (`dcactl init --force` replaces it)")
    write_text_atomic(path, starter_toml())
    return path
