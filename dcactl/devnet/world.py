"""The devnet's whole state: clock, markets, books, accounts, agents, nonces and logs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dcactl.devnet.accounts import Account, Nonces, OrderRec
from dcactl.devnet.book import Book
from dcactl.devnet.candles import fmt_px
from dcactl.devnet.coingecko_assets import CG_ASSETS
from dcactl.devnet.prices import Series
from dcactl.devnet.universe import Pair, Universe

__all__ = ["FILLS_CAP", "MAKER_FEE", "TAKER_FEE", "World"]

TAKER_FEE = Decimal("0.0007")  # 0.07 % of the traded amount, in the token received
MAKER_FEE = Decimal("0.0004")  # 0.04 % for a resting order that fills; per user in World.maker_rates
LOG_KEPT = 100_000
FILLS_CAP = 2_000  # fills per userFillsByTime answer, as on the exchange


@dataclass
class World:
    """Everything a devnet knows. Mutated only from the event loop (no locks needed)."""

    universe: Universe
    seed: int = 0
    clock_ms: int | None = None  # a frozen exchange clock (admin), else wall time
    series: dict[int, Series] = field(default_factory=dict)
    cg_series: dict[str, Series] = field(default_factory=dict)
    books: dict[int, Book] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    orders: dict[int, OrderRec] = field(default_factory=dict)
    by_cloid: dict[tuple[str, str], int] = field(default_factory=dict)
    maker_rates: dict[str, Decimal] = field(default_factory=dict)  # user → maker rate (< 0: a rebate)
    # userFillsByTime of a window holding more than `fills_cap` fills: its most recent (`"newest"`) or
    # its earliest (`"earliest"`) `fills_cap`, answered oldest first (`"asc"`) or newest first
    # (`"desc"`) — sources disagree on the real API (hyperliquid-api.md §7); admin /devnet/fill-paging
    fills_keep: str = "newest"
    fills_order: str = "asc"
    fills_cap: int = FILLS_CAP
    nonces: Nonces = field(default_factory=Nonces)
    agents: dict[str, dict[str, tuple[str, int | None]]] = field(default_factory=dict)
    agent_of: dict[str, str] = field(default_factory=dict)
    order_log: list[dict[str, Any]] = field(default_factory=list)
    action_log: list[dict[str, Any]] = field(default_factory=list)
    request_log: list[dict[str, Any]] = field(default_factory=list)
    next_oid: int = 0
    next_tid: int = 0

    def __post_init__(self) -> None:
        self.next_oid = self.next_oid or 1_000_000_000 + self.seed * 1_000
        self.next_tid = self.next_tid or 500_000_000_000 + self.seed * 1_000_000
        for p in self.universe.pairs:
            base = self.universe.token(p.base)
            self.series[p.index] = Series(self.seed, p.index, p.price, p.vol, 10.0**-base.sz_decimals)
            self.books[p.index] = Book(base.sz_decimals, Decimal(str(p.depth_usd)))
        for i, (cg_id, (_sym, px, vol)) in enumerate(sorted(CG_ASSETS.items())):
            self.cg_series[cg_id] = Series(self.seed, 1_000_000 + i, px, vol, 1e-8)

    # -- time and prices ---------------------------------------------------------------------
    def now_ms(self) -> int:
        """The exchange clock in Unix ms."""
        return self.clock_ms if self.clock_ms is not None else int(time.time() * 1000)

    def sz_decimals(self, pair: Pair) -> int:
        """The pair's size decimals (its base token's)."""
        return self.universe.token(pair.base).sz_decimals

    def mid(self, pair: Pair, now_ms: int | None = None) -> Decimal:
        """The mid price now, rounded to a valid price (quote units per base unit)."""
        minute = (self.now_ms() if now_ms is None else now_ms) // 60_000
        return Decimal(fmt_px(self.series[pair.index].price_at(minute), self.sz_decimals(pair)))

    def mids(self) -> dict[str, str]:
        """allMids: every pair's mid as a string."""
        minute = self.now_ms() // 60_000
        return {
            p.name: fmt_px(self.series[p.index].price_at(minute), self.sz_decimals(p))
            for p in self.universe.pairs
        }

    # -- accounts ----------------------------------------------------------------------------
    def account(self, user: str) -> Account:
        """The account of `user` (lower-case address), created empty on first use."""
        acct = self.accounts.get(user)
        if acct is None:
            acct = self.accounts[user] = Account()
        return acct

    def fund(self, user: str, token: int, amount: Decimal) -> None:
        """Credit `amount` of token `token` to `user`."""
        self.account(user.lower()).add(token, amount)

    def fund_perp(self, user: str, amount: Decimal) -> None:
        """Credit `amount` USDC to `user`'s perp account."""
        self.account(user.lower()).perp_usdc += amount

    def is_funded(self, user: str) -> bool:
        """Whether `user` holds anything (the real exchange wants a deposit before actions)."""
        acct = self.accounts.get(user)
        return acct is not None and (acct.perp_usdc > 0 or any(v > 0 for v in acct.balances.values()))

    def role(self, addr: str) -> dict[str, Any]:
        """userRole: agent (with its master), user (has funds or history), or missing."""
        if addr in self.agent_of:
            return {"role": "agent", "data": {"user": self.agent_of[addr]}}
        if self.is_funded(addr) or (addr in self.accounts and self.accounts[addr].oids):
            return {"role": "user"}
        return {"role": "missing"}

    def master_of(self, agent: str, now_ms: int) -> str | None:
        """The master `agent` signs for, None when it is no agent or its approval has expired."""
        master = self.agent_of.get(agent)
        if master is None:
            return None
        until = next((u for a, u in self.agents.get(master, {}).values() if a == agent), None)
        return master if until is None or now_ms < until else None

    def approve_agent(self, master: str, agent: str, name: str, valid_until: int | None) -> None:
        """Record `agent` for `master` until `valid_until` (ms; None: no expiry); approving a name
        again (the unnamed agent too) replaces that agent."""
        named = self.agents.setdefault(master, {})
        old = named.get(name)
        if old is not None:
            self.agent_of.pop(old[0], None)
        named[name] = (agent, valid_until)
        self.agent_of[agent] = master

    def log(self, which: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        """Append to a log, keeping the newest LOG_KEPT entries."""
        which.append(entry)
        if len(which) > LOG_KEPT + 10_000:
            del which[:-LOG_KEPT]

    def new_oid(self) -> int:
        """A fresh order id."""
        self.next_oid += 1
        return self.next_oid

    def new_tid(self) -> int:
        """A fresh trade id."""
        self.next_tid += 1
        return self.next_tid

    def reset(self) -> None:
        """Forget accounts, orders, agents, nonces, logs, overrides and book consumption."""
        fresh = World(self.universe, self.seed)
        self.__dict__.update(fresh.__dict__)
