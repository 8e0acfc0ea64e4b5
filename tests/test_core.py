"""The run's pure decision core (dcactl.run.core), table by table, without a devnet or a ledger.

Every expectation is computed by hand in the test's docstring from the rules of PRODUCT.md and
docs/smart-dca.md: the book below is one ask level at 2001 USDC, mid 2000, size decimals 4, so a
price may carry 4 decimals and 5 significant figures (8 − szDecimals), and
``max_slippage_bps = 50`` caps the limit at 2000 × 1.005 = 2010.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from dcactl.config.schema import Config, load_config
from dcactl.ledger.records import LastBuyRecord, PositionRow
from dcactl.models import AssetResult, Market, OrderIntent, make_cloid
from dcactl.run.core import (
    AssetDecision,
    RunRequest,
    Snapshot,
    Unavailable,
    decide_run,
)
from dcactl.run.reasons import Failure
from dcactl.run.sizing import Order
from dcactl.venues.paper import Level, Quote

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = "2026-03-10T00:00:00Z"
ACCOUNT = "0x" + "ab" * 20
BOOK = Quote(mid=D(2000), asks=(Level(D(2001), D(10)),))


@dataclass
class View:
    """An in-memory ledger view: what the core reads, set per test."""

    last: dict[str, LastBuyRecord] = field(default_factory=dict)
    intents: list[OrderIntent] = field(default_factory=list)
    banked: dict[str, D] = field(default_factory=dict)
    committed: D = D(0)
    held: list[PositionRow] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def last_buy(
        self, asset: str, venue: str | None = None, *, pair: str | None = None
    ) -> LastBuyRecord | None:
        self.calls.append(f"last_buy {asset} {venue} {pair}")
        return self.last.get(asset)

    def intents_for(self, asset: str, period: str, *, pair: str | None = None) -> list[OrderIntent]:
        return [i for i in self.intents if i.pair == pair and i.period == period]

    def bank(self, asset: str, *, before_period: str | None = None) -> D:
        return self.banked.get(asset, D(0))

    def usd_committed(self, start: datetime, end: datetime, *, real_only: bool = True) -> D:
        self.calls.append(f"committed {start.isoformat()} {end.isoformat()} {real_only}")
        return self.committed

    def positions(self) -> Sequence[PositionRow]:
        return self.held

    def last_price(self, asset: str) -> D | None:
        return None


def market(symbol: str, n: int) -> Market:
    return Market(symbol=symbol, venue="hyperliquid", coin=f"@{n}", asset_id=10000 + n,
                  base_token=f"U{symbol}", sz_decimals=4)


def config(tmp_path: Path, body: str, settings: str = "") -> Config:
    """The portfolio ``body`` (the core reads no mode, key or network from it: those come with the
    snapshot)."""
    path = tmp_path / "portfolio.toml"
    path.write_text(f"[settings]\nmax_slippage_bps = 50\n{settings}\n{body}", encoding="utf-8")
    return load_config(path)


THREE = """
[assets.ETH]
amount = 50
every = "day"
[assets.SOL]
amount = 60
every = "day"
[assets.AVAX]
amount = 40
every = "day"
"""


def snapshot(cfg: Config, **kw: Any) -> Snapshot:
    markets = {a.symbol: market(a.symbol, n) for n, a in enumerate(cfg.assets, start=1)}
    base: dict[str, Any] = dict(now=NOW, network="devnet", account=ACCOUNT, live=True, markets=markets,
                                quotes=dict.fromkeys(markets, BOOK))
    return Snapshot(**(base | kw))


def decide(cfg: Config, snap: Snapshot, view: View, request: RunRequest | None = None) -> list[AssetDecision]:
    return decide_run(cfg, request or RunRequest(), cfg.assets, snap, view)


def test_a_due_asset_gets_its_order_its_period_and_its_cloid(tmp_path: Path) -> None:
    """ETH 50 USDC, never bought: due in today's period, attempt 1, cloid from (network, account,
    pair @1, period, 1). The limit: the ask that fills 50/2010 = 0.0248 is 2001; + 0.1 % = 2003.001,
    up to 5 significant figures = 2003.1 (under the 2010 cap); size ⌊50 / 2003.1⌋₄ = 0.0249
    (0.02496...); at the crossing ask 0.0249 × 2001 = 49.82 ≥ 10: an order."""
    cfg = config(tmp_path, THREE)
    eth, *_ = decide(cfg, snapshot(cfg), View())
    assert (eth.due, eth.period, eth.attempt, eth.result) == (True, TODAY, 1, None)
    assert eth.cloid == make_cloid("devnet", ACCOUNT, "@1", TODAY, 1, "hyperliquid")
    assert eth.order == Order(D("0.0249"), D("2003.1"))
    assert eth.amount == D(50) and eth.decision is not None and eth.reason == eth.decision.summary
    assert eth.period_end == NOW.replace(hour=0) + timedelta(days=1)


def test_bought_this_period_is_not_due_and_plan_still_shows_the_order(tmp_path: Path) -> None:
    """A buy at 09:00 today (period [today, tomorrow)): ``run`` settles ETH ``not_due``; ``plan``
    keeps it open (due False) and sizes what it would buy when next due."""
    cfg = config(tmp_path, THREE)
    view = View(last={"ETH": bought_today(NOW.replace(hour=9))})
    eth = decide(cfg, snapshot(cfg), view)[0]
    assert eth.result is not None and eth.result.status == "not_due" and not eth.due
    assert eth.result.reason == eth.due_reason and "bought" in eth.due_reason
    assert "last_buy ETH hyperliquid @1" in view.calls  # keyed by market pair and venue
    alone = config(tmp_path, '[assets.ETH]\namount = 50\nevery = "day"\n')
    quiet = View(last={"ETH": bought_today(NOW.replace(hour=9))})
    assert [d.result.status for d in decide(alone, snapshot(alone), quiet) if d.result] == ["not_due"]
    assert not [c for c in quiet.calls if c.startswith("committed")], "nothing decided: the day is not read"
    plan = decide(cfg, snapshot(cfg), view, RunRequest(command="plan", dry_run=True))[0]
    assert not plan.due and plan.result is not None and plan.result.status == "planned"
    assert plan.order == Order(D("0.0249"), D("2003.1"))
    assert (plan.result.reason or "").startswith("IOC buy 0.0249 at limit 2003.1; ")


def bought_today(at: datetime) -> LastBuyRecord:
    """ETH's last buy at ``at``, in today's period [midnight, next midnight)."""
    start = NOW.replace(hour=0)
    return LastBuyRecord("ETH", at, TODAY, start, start + timedelta(days=1), "0x1", "filled")


def _intent(attempt: int, status: str, pair: str = "@1") -> OrderIntent:
    return OrderIntent(cloid=f"0x{attempt:032x}", asset="ETH", venue="hyperliquid", period=TODAY,
                       attempt=attempt, usd_requested=D(50), size=D("0.0249"), limit_px=D("2003.1"),
                       created_at=NOW - timedelta(hours=1), pair=pair, status=status)  # type: ignore[arg-type]


@pytest.mark.parametrize(("earlier", "expect"), [
    ([("sent", "@1")], ("pending", 1)),
    ([("new", "@1")], ("pending", 1)),
    ([("rejected", "@1")], (None, 2)),
    ([("rejected", "@1"), ("unfilled", "@1")], (None, 3)),
    ([("sent", "@9")], (None, 1)),  # another market's intent: not this asset's
])
def test_earlier_attempts_make_it_pending_or_number_the_next(
    tmp_path: Path, earlier: list[tuple[str, str]], expect: tuple[str | None, int]
) -> None:
    """An unresolved attempt (new/sent) of this period blocks the asset as ``pending`` under that
    attempt's cloid; failed ones (rejected, unfilled) leave it due under the next attempt number."""
    cfg = config(tmp_path, THREE)
    view = View(intents=[_intent(n, s, p) for n, (s, p) in enumerate(earlier, start=1)])
    eth = decide(cfg, snapshot(cfg), view)[0]
    status, attempt = expect
    if status == "pending":
        assert eth.result is not None and eth.result.status == "pending"
        assert eth.cloid == _intent(1, "sent").cloid and eth.order is None
    else:
        assert eth.result is None and eth.attempt == attempt
        assert eth.cloid == make_cloid("devnet", ACCOUNT, "@1", TODAY, attempt, "hyperliquid")


def test_caps_admit_in_config_order_and_a_later_smaller_amount_still_fits(tmp_path: Path) -> None:
    """max_usd_per_run 100: ETH 50 admitted (50 left), SOL 60 does not fit, AVAX 40 does (10 left).
    max_usd_per_day 130 with 30 already committed today: the same 100 left, the same verdicts."""
    for settings, committed, text in [
        ("max_usd_per_run = 100", D(0),
         "cap: 60.00 USDC does not fit max_usd_per_run 100 USDC (50.00 USDC admitted in this run, "
         "50.00 left)"),
        ("max_usd_per_day = 130", D(30),
         "cap: 60.00 USDC does not fit max_usd_per_day 130 USDC (80.00 USDC today, 50.00 left)"),
    ]:
        cfg = config(tmp_path, THREE, settings)
        view = View(committed=committed)
        eth, sol, avax = decide(cfg, snapshot(cfg), view)
        assert eth.result is None and avax.result is None and avax.order is not None
        assert sol.result == AssetResult(asset="SOL", venue="hyperliquid", status="skipped", period=TODAY,
                                         cloid=sol.cloid, usd_requested=D("60.00"), reason=text)
        # the day is the calendar day in settings.timezone (UTC here), and live counts real fills only
        day = NOW.replace(hour=0)
        assert f"committed {day.isoformat()} {(day + timedelta(days=1)).isoformat()} True" in view.calls


def test_the_balance_admits_orders_in_config_order(tmp_path: Path) -> None:
    """60 USDC spendable: ETH needs 0.0249 × 2003.1 = 49.87719 (10.12281 left); SOL (60 USDC: size
    ⌊60/2003.1⌋₄ = 0.0299, × 2003.1 = 59.89269) does not fit; AVAX (40: 0.0199 × 2003.1 = 39.86169)
    does not either."""
    cfg = config(tmp_path, THREE)
    eth, sol, avax = decide(cfg, snapshot(cfg, balance=D(60)), View())
    assert eth.result is None
    assert sol.result is not None and sol.result.status == "failed"
    assert sol.result.reason == "insufficient USDC in the spot account: need 59.89269, have 10.12281"
    assert avax.result is not None
    assert avax.result.reason == "insufficient USDC in the spot account: need 39.86169, have 10.12281"
    unreadable = Unavailable(Failure("cannot read the USDC balance: x", temporary=True))
    unread = decide(cfg, snapshot(cfg, balance=unreadable), View())
    assert {d.result.reason for d in unread if d.result} == {"temporary: cannot read the USDC balance: x"}
    assert all(d.result is not None and d.result.temporary for d in unread)
    assert all(d.result is not None and d.result.usd_requested == d.amount for d in unread)


def test_a_missing_price_fails_alone_and_the_shell_s_verdicts_pass_through(tmp_path: Path) -> None:
    """SOL's quote could not be read: SOL fails with that wording; AVAX was settled by the shell
    (its order check failed): its result is kept as is; ETH still gets its order."""
    cfg = config(tmp_path, THREE)
    base = snapshot(cfg)
    shell = AssetResult(asset="AVAX", venue="hyperliquid", status="failed", reason="temporary: cannot check")
    snap = replace(base, quotes={"ETH": BOOK, "SOL": Unavailable(Failure("timed out after 20 s", True))},
                   settled={"AVAX": shell})
    eth, sol, avax = decide(cfg, snap, View())
    assert eth.order == Order(D("0.0249"), D("2003.1"))
    assert sol.result is not None
    assert (sol.result.status, sol.result.reason) == ("failed", "temporary: timed out after 20 s")
    assert avax.result is shell


def test_under_the_minimum_is_skipped_with_the_amount(tmp_path: Path) -> None:
    """10 USDC: size ⌊10 / 2003.1⌋₄ = 0.0049, × 2003.1 = 9.81519 < 10: skipped, no order."""
    cfg = config(tmp_path, '[assets.ETH]\namount = 10\nevery = "day"\n')
    (eth,) = decide(cfg, snapshot(cfg), View())
    assert eth.result is not None and eth.result.status == "skipped" and eth.order is None
    assert eth.result.usd_requested == D("10.00")
    assert "minimum" in (eth.result.reason or "") and "9.81519" in (eth.result.reason or "")


def test_a_dry_run_plans_and_a_forced_buy_has_its_own_period(tmp_path: Path) -> None:
    """``--dry-run``: every order becomes ``planned`` with its size and limit; ``buy --force`` after a
    buy this period: due anyway, in a forced period of its own (``forced-<instant>``), reason
    "forced: ..."; ``--amount 25`` replaces the amount (size ⌊25/2003.1⌋₄ = 0.0124)."""
    cfg = config(tmp_path, THREE)
    dry = decide(cfg, snapshot(cfg), View(), RunRequest(dry_run=True))
    assert [(d.result.status, d.result.size) for d in dry if d.result] == [
        ("planned", D("0.0249")), ("planned", D("0.0299")), ("planned", D("0.0199"))]
    view = View(last={"ETH": bought_today(NOW)})
    forced = RunRequest(command="buy", only=("ETH",), force=True, amount=D(25))
    (eth,) = decide_run(cfg, forced, cfg.assets[:1], snapshot(cfg), view)
    assert eth.due and eth.period.startswith("forced") and eth.period_end is None
    assert eth.order == Order(D("0.0124"), D("2003.1")) and (eth.reason or "").startswith("forced: ")


def test_same_snapshot_same_decisions(tmp_path: Path) -> None:
    """The core is a function: deciding twice on one snapshot and view gives equal decisions."""
    cfg = config(tmp_path, THREE, "max_usd_per_run = 100")
    snap = snapshot(cfg, balance=D(80))
    assert decide(cfg, snap, View()) == decide(cfg, snap, View())
