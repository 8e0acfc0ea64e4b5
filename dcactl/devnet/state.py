"""Persisting a World to SQLite (--state FILE) and loading it back.

The file holds one table `snapshot(key TEXT PRIMARY KEY, value TEXT)` with JSON values; a save
replaces every row in one transaction, so a killed devnet leaves the previous snapshot intact.
Replayed CSV candles are not persisted (load them again after a restart).
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from dcactl.devnet.accounts import Account, OrderRec
from dcactl.devnet.world import World

__all__ = ["load", "save"]


def _dump(world: World) -> dict[str, Any]:
    accounts = {
        user: {
            "balances": {str(k): str(v) for k, v in a.balances.items()},
            "holds": {str(k): str(v) for k, v in a.holds.items()},
            "perp_usdc": str(a.perp_usdc),
            "fills": a.fills[-10_000:],
            "open": list(a.open),
            "oids": a.oids[-20_000:],
        }
        for user, a in world.accounts.items()
    }
    return {
        "meta": {
            "seed": world.seed,
            "next_oid": world.next_oid,
            "next_tid": world.next_tid,
            "clock_ms": world.clock_ms,
        },
        "accounts": accounts,
        "orders": [o.to_json() for o in world.orders.values()],
        "nonces": world.nonces.kept,
        "agents": {m: {n: list(v) for n, v in d.items()} for m, d in world.agents.items()},
        "events": {str(k): s.events for k, s in world.series.items() if s.events},
        "order_log": world.order_log[-20_000:],
        "action_log": world.action_log[-20_000:],
    }


def save(world: World, path: Path) -> None:
    """Write a snapshot of `world` to the SQLite file `path` (created if missing)."""
    data = _dump(world)
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute("CREATE TABLE IF NOT EXISTS snapshot (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            con.executemany(
                "INSERT OR REPLACE INTO snapshot (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, separators=(",", ":"))) for k, v in data.items()],
            )
    finally:
        con.close()


def load(world: World, path: Path) -> bool:
    """Restore `world` from `path` when it holds a snapshot; returns whether it did."""
    if not path.exists():
        return False
    con = sqlite3.connect(path)
    try:
        rows = dict(con.execute("SELECT key, value FROM snapshot").fetchall())
    except sqlite3.DatabaseError:
        return False
    finally:
        con.close()
    data = {k: json.loads(v) for k, v in rows.items()}
    meta = data.get("meta", {})
    world.next_oid = int(meta.get("next_oid", world.next_oid))
    world.next_tid = int(meta.get("next_tid", world.next_tid))
    world.clock_ms = meta.get("clock_ms")
    for o in data.get("orders", []):
        rec = OrderRec.from_json(o)
        world.orders[rec.oid] = rec
        if rec.cloid is not None:
            world.by_cloid[(rec.user, rec.cloid)] = rec.oid
    for user, a in data.get("accounts", {}).items():
        acct = Account(
            balances={int(k): Decimal(v) for k, v in a["balances"].items()},
            holds={int(k): Decimal(v) for k, v in a["holds"].items()},
            fills=a["fills"],
            fill_times=[int(f["time"]) for f in a["fills"]],
            open={oid: world.orders[oid] for oid in a["open"] if oid in world.orders},
            oids=a["oids"],
            perp_usdc=Decimal(a.get("perp_usdc", "0")),
        )
        world.accounts[user] = acct
    world.nonces.kept = {k: list(v) for k, v in data.get("nonces", {}).items()}
    for master, named in data.get("agents", {}).items():
        for name, (addr, until) in named.items():
            world.approve_agent(master, addr, name, until)
    for key, events in data.get("events", {}).items():
        s = world.series.get(int(key))
        if s is not None:
            for minute, kind, value in events:
                s.add_event(int(minute), str(kind), float(value))
    world.order_log = data.get("order_log", [])
    world.action_log = data.get("action_log", [])
    return True
