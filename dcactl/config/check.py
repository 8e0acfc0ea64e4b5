"""The rules of portfolio.toml: steps 2 (validate each key) and 3 (consistency) of loading.

:func:`check_document` walks a parsed document, records every problem in a :class:`Problems`
(one line each: ``<file>: <key path>: <what is wrong>``) and returns plain keyword dicts that
:mod:`dcactl.config.schema` turns into its frozen dataclasses. Nothing here raises on bad input; nothing
here echoes a value that could be a secret (``key``, ``coingecko_key``, ``account``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dcactl.config.model import AssetConfig, Config, Settings, Sizing, table_keys
from dcactl.config.rules import RULE_TABLES, check_portfolio, check_rule_tables, checked
from dcactl.config.values import (
    _MISSING,
    _SYMBOL,
    MAX_AMOUNT,
    MAX_REQUEST_TIMEOUT_S,
    Problems,
    _Table,
    account,
    boolean,
    choice,
    coingecko_id,
    every,
    http_url,
    integer,
    network,
    pair,
    path,
    percent,
    seconds,
    secret_source,
    timezone,
    usdc,
)

SETTINGS_KEYS = table_keys(Settings)
ASSET_KEYS = table_keys(AssetConfig, skip=("symbol", "schedule"))  # rule tables: dcactl.config.rules
SIZING_KEYS = table_keys(Sizing)
TOP_KEYS = table_keys(Config, skip=("path",))  # [notify]: dcactl.config.notifycheck
assert set(RULE_TABLES) < set(ASSET_KEYS)

SETTINGS_CHECKS = {
    "network": network,
    "mode": choice("paper", "live"),
    "account": account,
    "key": secret_source,
    "database": path,
    "parallel": boolean,
    "lock_wait": seconds(False, 86_400),
    "coingecko_url": http_url,
    "coingecko_key": secret_source,
    "max_slippage_bps": integer(1, 1000, "basis points"),
    "max_usd_per_run": usdc("USDC"),
    "max_usd_per_day": usdc("USDC"),
    "timezone": timezone,
    "request_timeout": seconds(True, MAX_REQUEST_TIMEOUT_S),
}
"""The value check of each ``[settings]`` key (its default: :class:`~dcactl.config.model.Settings`)."""
ASSET_CHECKS = {
    "enabled": boolean,
    "venue": choice("auto", "hyperliquid", "paper"),
    "pair": pair,
    "coingecko_id": coingecko_id,
}
"""The plain keys of an ``[assets.X]`` table (``amount`` and ``every`` are required; tables aside)."""
SIZING_CHECKS = {
    "kind": choice("fixed", "volatility"),
    "min": usdc("USDC", MAX_AMOUNT),
    "max": usdc("USDC", MAX_AMOUNT),
    "window_days": integer(2, 365, "days"),
    "low_vol": percent,
    "high_vol": percent,
}


# ---- the document -------------------------------------------------------------------------------

def check_document(
    doc: Mapping[str, Any], problems: Problems
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Validate and cross-check ``doc``; return (Settings kwargs, [AssetConfig kwargs with ``sizing``
    and rule-table kwargs dicts], Portfolio kwargs). Every problem goes into ``problems``; the result
    is only meaningful when none was recorded."""
    _Table(doc, "", TOP_KEYS, problems)
    raw_settings = doc.get("settings", {})
    if not isinstance(raw_settings, Mapping):
        problems.add("settings", "must be a table ([settings])")
        raw_settings = {}
    settings = _check_settings(_Table(raw_settings, "settings", SETTINGS_KEYS, problems))
    assets = _check_assets(doc.get("assets", _MISSING), problems)
    portfolio = check_portfolio(doc.get("portfolio"), [a["symbol"] for a in assets], problems)
    _check_never_fits(settings, assets, problems)
    return settings, assets, portfolio


def _check_never_fits(
    settings: Mapping[str, Any], assets: Iterable[Mapping[str, Any]], problems: Problems
) -> None:
    """An asset whose amount (or sizing max) exceeds ``max_usd_per_run`` could never be bought: say so
    now, naming the key, instead of skipping it with "cap" every run (PRODUCT.md "Caps")."""
    cap = settings.get("max_usd_per_run")
    if cap is None:
        return
    for a in assets:
        sizing = a.get("sizing") or {}
        for key, value in (("amount", a.get("amount")), ("sizing.max", sizing.get("max"))):
            if value is not None and value > cap:
                problems.add(f"assets.{a['symbol']}.{key}", f"{value} USDC can never be bought: it is above "
                             f"settings.max_usd_per_run ({cap} USDC); lower it or raise the cap")
                break


def _check_settings(t: _Table) -> dict[str, Any]:
    s = checked(t, Settings, SETTINGS_CHECKS)
    # step 3: consistency
    if s["mode"] == "live":
        if "account" not in t.data:
            t.error("account", 'live mode needs the master account address (0x + 40 hex digits)')
        if "key" not in t.data:
            t.error("key", 'live mode needs the signing key\'s source, e.g. key = "env:DCACTL_KEY"')
    return s


def _check_assets(raw: Any, problems: Problems) -> list[dict[str, Any]]:
    if raw is _MISSING or (isinstance(raw, Mapping) and not raw):
        problems.add("assets", "the portfolio has no assets; add a table such as "
                               '[assets.BTC] with amount = 50 and every = "week"')
        return []
    if not isinstance(raw, Mapping):
        problems.add("assets", "must be a table of assets ([assets.BTC], [assets.ETH], ...)")
        return []
    seen: dict[str, str] = {}
    assets: list[dict[str, Any]] = []
    for name, body in raw.items():
        keypath = f"assets.{name}"
        symbol = name.strip().upper()
        if not _SYMBOL.match(symbol):
            problems.add(keypath, "an asset symbol must be 1 to 12 letters or digits")
        elif symbol in seen:
            problems.add(keypath, f"duplicates assets.{seen[symbol]} (symbols are case-insensitive)")
        else:
            seen[symbol] = name
        if not isinstance(body, Mapping):
            problems.add(keypath, f"must be a table ([{keypath}]) with amount and every")
            continue
        assets.append(_check_asset(_Table(body, keypath, ASSET_KEYS, problems), symbol, problems))
    return assets


def _check_asset(t: _Table, symbol: str, problems: Problems) -> dict[str, Any]:
    amount = t.get("amount", usdc("USDC", MAX_AMOUNT), required=True)
    parsed = t.get("every", every, required=True)
    a: dict[str, Any] = {
        "symbol": symbol,
        "amount": amount,
        "every": parsed[0] if parsed else None,
        "schedule": parsed[1] if parsed else None,
        **checked(t, AssetConfig, ASSET_CHECKS),
        "sizing": {},
    }
    raw_sizing = t.data.get("sizing", {})
    if not isinstance(raw_sizing, Mapping):
        t.error("sizing", f"must be a table ([{t.keypath}.sizing])")
    else:
        a["sizing"] = _check_sizing(_Table(raw_sizing, f"{t.keypath}.sizing", SIZING_KEYS, problems))
    a.update(check_rule_tables(t, problems))
    return a


def _check_sizing(t: _Table) -> dict[str, Any]:
    s = checked(t, Sizing, SIZING_CHECKS)
    # step 3: consistency
    if s["kind"] == "volatility":
        for key in ("min", "max"):
            if key not in t.data:
                t.error(key, f'volatility sizing needs {key} (USDC per buy when volatility is '
                             f'{"high" if key == "min" else "low"})')
    if t.valid("min", "max") and s["min"] is not None and s["max"] is not None and s["min"] > s["max"]:
        t.error("max", f"must be at least min ({s['min']}), got {s['max']}")
    if t.valid("low_vol", "high_vol") and s["low_vol"] >= s["high_vol"]:
        if "high_vol" in t.data:
            t.error("high_vol", f"must be above low_vol ({s['low_vol']}), got {s['high_vol']}")
        else:
            t.error("low_vol", f"must be below high_vol ({s['high_vol']} by default), got {s['low_vol']}")
    return s
