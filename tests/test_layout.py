"""The package layout's rules, computed from the source: no import cycle, the pure core imports nothing
with I/O, venues know no CLI, and the devnet imports nothing of the client."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dcactl"

PURE = (
    "dcactl.strategy",
    "dcactl.backtest.engine",
    "dcactl.backtest.results",
    "dcactl.backtest.tracks",
    "dcactl.backtest.fills",
    "dcactl.backtest.lanes",
    "dcactl.backtest.figures",
    "dcactl.backtest.prices",
    "dcactl.run.core",
    "dcactl.run.sizing",
    "dcactl.run.reasons",
    "dcactl.venues.rounding",
    "dcactl.notify.messages",
    "dcactl.schedule.periods",
)
"""Modules (and packages) of the functional core: decisions from plain values, no I/O."""
IO = (
    "httpx",
    "aiohttp",
    "sqlite3",
    "sqlite_utils",
    "rich",
    "typer",
    "apprise",
    "dcactl.cli",
    "dcactl.session",
    "dcactl.ledger",
    "dcactl.venues.hyperliquid",
    "dcactl.http",
)


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(tree: ast.AST) -> Iterator[str]:
    """Every module imported at run time (module level or inside functions; not under TYPE_CHECKING)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (
                i for branch in node.orelse for i in _imports(ast.Module(body=[branch], type_ignores=[]))
            )
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from (f"{node.module}.{a.name}" for a in node.names)
        else:
            yield from _imports(node)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def _external(name: str) -> set[str]:
    path = _modules()[name]
    return set(_imports(ast.parse(path.read_text(encoding="utf-8"))))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_real() -> None:
    """The parser sees the imports we know of (so the rules below check something)."""
    graph = _graph()
    assert "dcactl.cli.apps" in graph["dcactl.cli.records"]
    assert "dcactl.run.sizing" in graph["dcactl.run.core"]
    assert "dcactl.run.core" in graph["dcactl.backtest.engine"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_import_cycle() -> None:
    """No two dcactl modules import each other, directly or around a loop, at run time."""
    assert _cycles(_graph()) == []


def test_the_core_imports_nothing_with_io() -> None:
    """strategy/, the backtest's engine, sizing, rounding, periods and messages: no network, database,
    terminal or CLI module."""
    modules = _modules()
    for name in modules:
        if not any(name == p or name.startswith(p + ".") for p in PURE):
            continue
        bad = sorted(i for i in _external(name) if any(i == m or i.startswith(m + ".") for m in IO))
        assert bad == [], f"{name} imports {bad}"


def test_venues_know_no_cli_and_the_devnet_nothing_of_the_client() -> None:
    """venues/, run/, the session and the status views never import dcactl.cli (they hand notes to
    the CLI instead of printing); devnet/ imports only dcactl.devnet (it is its own small world)."""
    quiet = ("dcactl.venues", "dcactl.run", "dcactl.session", "dcactl.reports.views", "dcactl.backtest",
             "dcactl.notify")
    for name in _modules():
        imports = _external(name)
        if name.startswith(quiet):
            assert not [i for i in imports if i.startswith("dcactl.cli")], name
        if name.startswith("dcactl.devnet"):
            outside = [i for i in imports if i.startswith("dcactl.") and not i.startswith("dcactl.devnet")]
            assert outside == [], f"{name} imports {outside}"
