"""The strategies a backtest compares (PRODUCT.md "Backtest", Strategies).

``portfolio`` is the file as it is; ``plain`` buys each asset's ``amount`` every period with no rule;
``lump-sum`` buys at each asset's first tick what ``plain`` invested in it; and each ``--set KEY=V1,V2``
value is a variant of the file, named by its setting (``rsi.oversold=25``), cartesian over several
``--set``. Variants go through the config checker, so a bad key or value is the same one-line error
(with a "did you mean") as in the file.
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from dcactl.config.schema import Config, Portfolio, Sizing, parse_config_text, validate_document
from dcactl.errors import ConfigError, UsageError

Kind = Literal["rules", "plain", "lump-sum"]
MAX_VARIANTS = 64
TOP = ("settings", "portfolio", "assets")


@dataclass(frozen=True)
class Strategy:
    """A named way of buying: ``config`` decides (``rules``), or the baselines."""

    name: str
    kind: Kind
    config: Config


def plain_config(config: Config) -> Config:
    """The portfolio with every rule off: fixed ``amount`` per period, no rebalancing."""
    assets = tuple(
        replace(a, sizing=Sizing(), rsi=None, ma_dips=None, dynamic_frequency=None, banking=None)
        for a in config.assets
    )
    return replace(config, assets=assets, portfolio=Portfolio())


def _split(values: str) -> list[str]:
    """``25,30,[1,2]`` → ``["25", "30", "[1,2]"]`` (commas inside brackets or quotes stay)."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in values:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def _value(text: str) -> Any:
    """A TOML value (``25``, ``0.5``, ``true``, ``"week"``, ``[20, 50]``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}", parse_float=Decimal)["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sets(sets: Sequence[str]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``--set KEY=V1,V2`` options → [(key, [(value text, value), ...])]. Raises UsageError."""
    parsed = []
    for item in sets:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise UsageError(f"--set {item!r}: expected KEY=V1,V2,... such as rsi.oversold=25,30,35")
        parts = [v for v in _split(values) if v]
        if not parts:
            raise UsageError(f"--set {item!r}: no value after =")
        parsed.append((key, [(v, _value(v)) for v in parts]))
    return parsed


def _assign(doc: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` (dotted) in the raw document: ``assets.BTC.rsi.oversold``, ``settings.x``,
    ``portfolio.x``, or a path under every asset (``rsi.oversold``); missing tables are created."""
    parts = key.split(".")
    if parts[0] in TOP:
        targets, path = [doc], parts
    else:
        assets = doc.get("assets")
        targets = (
            [body for body in assets.values() if isinstance(body, dict)] if isinstance(assets, dict) else []
        )
        path = parts
    for target in targets:
        node = target
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--set {key}: {part} is a value, not a table")
            node = child
        node[path[-1]] = value


def strategies(config: Config, sets: Sequence[str], baselines: Sequence[str]) -> list[Strategy]:
    """``portfolio``, each ``--set`` variant, then the wanted baselines (``plain``, ``lump-sum``).

    Raises UsageError for a malformed ``--set`` and ConfigError (one line per problem, prefixed by the
    variant's name) when a variant does not validate."""
    out = [Strategy("portfolio", "rules", config)]
    parsed = parse_sets(sets)
    if parsed:
        combos = list(
            itertools.product(*[[(key, text, value) for text, value in values] for key, values in parsed])
        )
        if len(combos) > MAX_VARIANTS:
            raise UsageError(f"--set: {len(combos)} variants; at most {MAX_VARIANTS} at once")
        raw = parse_config_text(config.path.read_text(encoding="utf-8"), config.path)
        for combo in combos:
            name = ", ".join(f"{key}={text}" for key, text, _ in combo)
            doc = copy.deepcopy(raw)
            for key, _, value in combo:
                _assign(doc, key, value)
            try:
                variant = validate_document(doc, config.path)
            except ConfigError as exc:
                problems = _per_asset_once(exc.problems)
                raise ConfigError([f"--set {name}: {line}" for line in problems]) from None
            out.append(Strategy(name, "rules", variant))
    plain = plain_config(config)
    for base in dict.fromkeys(baselines):
        out.append(Strategy(base, "plain" if base == "plain" else "lump-sum", plain))
    return out


_ASSET_KEY = re.compile(r"^(?P<head>.*?)\bassets\.(?P<symbol>[^.:\s]+)\.(?P<tail>.+)$")


def _per_asset_once(problems: Sequence[str]) -> list[str]:
    """A variant's problems with those that differ only in the asset said once: a ``--set`` key such
    as ``rsi.oversold`` sets every asset's, so one bad value is the same problem in every asset (one
    line, "and the same for N more assets"), not a screenful of it."""
    groups: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str] | str] = []
    for line in problems:
        m = _ASSET_KEY.match(line)
        if m is None:
            order.append(line)
            continue
        key = (m["head"], m["tail"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(m["symbol"])
    out = []
    for item in order:
        if isinstance(item, str):
            out.append(item)
            continue
        head, tail = item
        symbols = groups[item]
        more = len(symbols) - 1
        also = f" (and the same for {more} more asset{'s' if more > 1 else ''})" if more else ""
        out.append(f"{head}assets.{symbols[0]}.{tail}{also}")
    return out


def only_assets(config: Config, only: Sequence[str]) -> Config:
    """The config with only ``only`` assets (all enabled assets when empty). Raises UsageError."""
    wanted = {s.strip().upper() for s in only}
    known = {a.symbol for a in config.assets}
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(
            f"--only {', '.join(unknown)}: not in {config.path} (configured: {', '.join(sorted(known))})"
        )
    assets = tuple(a for a in config.assets if a.enabled and (not wanted or a.symbol in wanted))
    if not assets:
        raise UsageError("no enabled asset to backtest (--only, or enable one in the portfolio)")
    targets: Mapping[str, Decimal] = config.portfolio.targets
    return replace(config, assets=assets, portfolio=replace(config.portfolio, targets=dict(targets)))
