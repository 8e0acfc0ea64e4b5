"""portfolio.toml → frozen, validated dataclasses.

Loading happens in three steps, and every problem of a step is reported at once:

1. **parse**: read the file and decode TOML (a missing file or a syntax error is one line);
2. **validate**: each key's type, range and format, and unknown keys (with a "did you mean");
3. **check consistency**: rules across keys (live mode needs account and key, min ≤ max, ...).

Each problem is one line ``<file>: <key path>: <what is wrong>``; they are raised together as
:class:`~dcactl.errors.ConfigError`. Secrets are never accepted inline (``key`` and
``coingecko_key`` name a *source*: ``env:VAR``, ``file:PATH`` or ``keyring:NAME``), and a rejected
secret-like value is never echoed. Money is :class:`~decimal.Decimal` parsed from the TOML text
exactly (``0.1`` is ``Decimal("0.1")``), in USDC.

Paths (config, data dir, ledger) and the starter file live in :mod:`dcactl.config.files`; they are
re-exported here so callers only import ``dcactl.config.schema``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from dcactl.config.check import check_document
from dcactl.config.files import (
    dump_portfolio,
    find_config_path,
    resolve_db_path,
    starter_toml,
    user_config_dir,
    user_data_dir,
    write_starter,
    write_text_atomic,
)
from dcactl.config.model import (
    COINGECKO_API_URL,
    AssetConfig,
    BankingRule,
    Config,
    DynamicFrequencyRule,
    MaDipsRule,
    Notify,
    Portfolio,
    RsiRule,
    Settings,
    Sizing,
)
from dcactl.config.notifycheck import check_notify
from dcactl.config.values import Problems
from dcactl.errors import ConfigError
from dcactl.networks import DEVNET_API_URL, MAINNET_API_URL, TESTNET_API_URL

__all__ = [
    "COINGECKO_API_URL",
    "DEVNET_API_URL",
    "MAINNET_API_URL",
    "TESTNET_API_URL",
    "AssetConfig",
    "BankingRule",
    "Config",
    "DynamicFrequencyRule",
    "MaDipsRule",
    "Notify",
    "Portfolio",
    "RsiRule",
    "Settings",
    "Sizing",
    "dump_portfolio",
    "find_config_path",
    "load_config",
    "parse_config_text",
    "resolve_db_path",
    "starter_toml",
    "user_config_dir",
    "user_data_dir",
    "validate_document",
    "write_starter",
    "write_text_atomic",
]

def load_config(path: Path) -> Config:
    """Read, validate and check ``path``. Raises ConfigError with every problem, one line each."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; run `dcactl init` to create a starter portfolio there, "
            "or pass --config PATH"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a portfolio file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    return validate_document(parse_config_text(text, path), path)


def parse_config_text(text: str, path: Path) -> dict[str, Any]:
    """Step 1: TOML text → dict, floats as exact Decimals. Raises ConfigError (one line, line/column)."""
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_describe_toml_error(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    except ValueError:  # an integer of thousands of digits (Python's int-from-text limit)
        raise ConfigError(f"{path}: invalid TOML: a number of thousands of digits") from None


def _describe_toml_error(message: str) -> str:
    """``Invalid value (at line 3, column 10)`` → ``line 3, column 10: invalid TOML: invalid value``."""
    head, sep, where = message.rpartition(" (at ")
    if not sep:
        return f"invalid TOML: {message}"
    where = where.rstrip(")")
    if not where.startswith("line"):
        where = f"at {where}"  # "end of document"
    detail = head[:1].lower() + head[1:]
    return f"{where}: invalid TOML: {detail}"


def validate_document(doc: Mapping[str, Any], path: Path) -> Config:
    """Steps 2 and 3 on an already parsed document (e.g. one the legacy importer built).

    Relative ``database`` paths are resolved against ``path``'s folder. Raises ConfigError.
    """
    problems = Problems(str(path))
    settings_kw, assets_kw, portfolio_kw = check_document(doc, problems)
    notify_kw = check_notify(doc.get("notify"), problems)
    if problems:
        raise ConfigError(problems.lines)
    database = settings_kw.get("database")
    if isinstance(database, Path) and not database.is_absolute():
        settings_kw["database"] = (path.parent / database).absolute()
    assets = tuple(_asset(a) for a in assets_kw)
    return Config(
        path=path,
        settings=Settings(**settings_kw),
        assets=assets,
        portfolio=Portfolio(**portfolio_kw),
        notify=Notify(**notify_kw),
    )


_RULE_CLASSES: dict[str, Any] = {
    "rsi": RsiRule, "ma_dips": MaDipsRule, "dynamic_frequency": DynamicFrequencyRule, "banking": BankingRule,
}


def _asset(kw: dict[str, Any]) -> AssetConfig:
    """AssetConfig from checked kwargs: sizing and each present rule table become their dataclass."""
    rules: dict[str, Any] = {
        k: (None if kw.get(k) is None else cls(**kw[k])) for k, cls in _RULE_CLASSES.items()
    }
    plain = {k: v for k, v in kw.items() if k != "sizing" and k not in _RULE_CLASSES}
    return AssetConfig(**plain, sizing=Sizing(**kw["sizing"]), **rules)
