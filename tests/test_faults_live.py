"""Live runs under injected devnet faults: read errors are retried, order errors are never blindly
resent (resolved by cloid), whole-action refusals fail cleanly, and cached metadata rides out an outage."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from live_support import (
    THREE,
    assert_ledger_matches_devnet,
    funded_wallet,
    grace_s,
    key_hex,
    live_portfolio,
    open_ledger,
    orders_per_period,
    statuses,
)

from dcactl.market.data import META_CACHE_KEY
from dcactl.models import utcnow

TIMEOUT_S = 1.0
"""request_timeout of these portfolios (seconds), so an order that never arrived is void soon."""


@pytest.fixture
def wallet(devnet: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A throwaway master key funded with 1000 USDC, exported as $DCACTL_KEY."""
    w = funded_wallet(devnet, "1000")
    monkeypatch.setenv("DCACTL_KEY", key_hex(w))
    return w


def _cfg(tmp_path: Path, devnet: Any, wallet: Any, body: str = THREE) -> Path:
    return live_portfolio(
        tmp_path / "p.toml", devnet.url, body, wallet.address, settings=f"request_timeout = {TIMEOUT_S}\n"
    )


def test_read_429_bursts_and_5xx_are_retried(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """Two 429s and two 502s on /info reads are absorbed by the read retries: every asset is bought."""
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.faults(kind="429", path="/info", count=2)
    devnet.admin.faults(kind="error", path="/info", status=502, count=2)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 0, res.err
    assert set(statuses(res.json()).values()) == {"filled"}
    assert devnet.admin.list_faults() == [], "every injected fault was met"
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)


@pytest.mark.parametrize("fault", [{"kind": "error", "status": 502}, {"kind": "429"}])
def test_order_5xx_or_429_is_never_resent_blindly(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, fault: dict[str, Any]
) -> None:
    """A 502 or 429 on the order action: the run asks orderStatus by cloid and reports pending, never
    resends; once the order is void the next run buys with attempt 2: one order per asset and period."""
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.faults(path="/exchange", count=1, **fault)
    first = cli("--config", str(cfg), "--json", "run")
    assert first.code == 0, first.err
    assert set(statuses(first.json()).values()) == {"pending"}
    assert "order outcome unknown" in first.err
    assert devnet.admin.actions(user=wallet.address.lower()) == [], "no second action was sent"
    soon = cli("--config", str(cfg), "--json", "run")
    assert set(statuses(soon.json()).values()) == {"pending"}, "still unknown, still not resent"
    time.sleep(grace_s(TIMEOUT_S))
    later = cli("--config", str(cfg), "--json", "run")
    assert later.code == 0, later.err
    assert set(statuses(later.json()).values()) == {"filled"}
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert set(orders_per_period(orders, cfg, devnet.url, wallet.address).values()) == {1}
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)


@pytest.mark.parametrize("days", [2, -2])
def test_a_clock_far_off_the_exchange_places_nothing_and_says_why(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, days: int
) -> None:
    """The exchange's clock (its Date headers) two days behind or ahead of ours: periods cut on our clock
    would be wrong (a clock that jumps would buy several at once), so no order goes, every asset fails
    (exit 1) naming the skew, and no intent is written; with the clocks agreeing, attempt 1 buys once."""
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.set_clock(devnet.admin.time() - days * 86_400_000)
    res = cli("--config", str(cfg), "--json", "run")
    devnet.admin.set_clock(None)
    assert res.code == 1
    results = res.json()["results"]
    assert {r["status"] for r in results} == {"failed"}
    word = "ahead of" if days > 0 else "behind"
    assert all(f"s {word} the exchange's" in r["reason"] for r in results)
    assert all("no order placed" in r["reason"] for r in results)
    assert devnet.admin.orders(user=wallet.address.lower()) == []
    retry = cli("--config", str(cfg), "--json", "run")
    assert retry.code == 0, retry.err
    assert set(statuses(retry.json()).values()) == {"filled"}
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert set(orders_per_period(orders, cfg, devnet.url, wallet.address).values()) == {1}
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        intents = ledger.intents_for("BTC", results[0]["period"])
        assert [(i.attempt, i.status) for i in intents] == [(1, "filled")]


@pytest.mark.parametrize("skew_s", [40, -40])
def test_orders_and_fills_follow_the_exchange_clock(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, skew_s: int
) -> None:
    """Our clock 40 s ahead of the exchange's: the fills (stamped by the exchange) are still found and
    the run ends filled, not pending for the rest of the period; 40 s behind (more than request_timeout
    + slack): the orders' expiry is signed on the exchange's clock, so they are not refused as expired.
    Either way the run warns about the clock."""
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.set_clock(devnet.admin.time() - skew_s * 1000)
    try:
        res = cli("--config", str(cfg), "--json", "run")
    finally:
        devnet.admin.set_clock(None)
    assert res.code == 0, res.err
    assert set(statuses(res.json()).values()) == {"filled"}, res.json()
    assert "the local clock is" in res.err and "synchronise it" in res.err
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)


PROXY_ANSWERS = [
    {"status": 403, "body": "Forbidden", "content_type": "text/plain"},
    {"status": 400, "body": "Bad Request", "content_type": "text/plain"},
    {"status": 200, "body": '{"status":"err","response":"Something went wrong"}'},
]


@pytest.mark.parametrize("answer", PROXY_ANSWERS, ids=["403", "400", "whole-action err"])
def test_a_refusal_after_the_orders_went_through_is_no_verdict(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, answer: dict[str, Any]
) -> None:
    """Something between us and the exchange answers a 4xx or {"status":"err"} after the orders were
    carried out: the run asks by cloid, finds them and records their fills (exit 0), so the next run
    buys nothing again and the day's cap holds: one order per asset and period."""
    cfg = live_portfolio(
        tmp_path / "p.toml", devnet.url, THREE, wallet.address,
        settings=f"request_timeout = {TIMEOUT_S}\nmax_usd_per_day = 200\n",
    )
    devnet.admin.faults(kind="answer", path="/exchange", count=1, **answer)
    first = cli("--config", str(cfg), "--json", "run")
    assert first.code == 0, first.err
    assert set(statuses(first.json()).values()) == {"filled"}
    assert "order outcome unknown" in first.err
    again = cli("--config", str(cfg), "--json", "run")
    assert again.code == 0, again.err
    assert set(statuses(again.json()).values()) == {"not_due"}
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert set(orders_per_period(orders, cfg, devnet.url, wallet.address).values()) == {1}
    assert len(orders) == 3
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)


def test_unapproved_signer_is_refused_for_the_whole_action(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key that is neither the account nor its agent: the exchange refuses the action, every asset
    fails (exit 1), the intents are closed as rejected and no order exists."""
    stranger = funded_wallet(devnet, None)
    monkeypatch.setenv("DCACTL_KEY", key_hex(stranger))
    cfg = _cfg(tmp_path, devnet, wallet)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 1
    assert {r["status"] for r in res.json()["results"]} == {"failed"}
    assert all("does not exist" in r["reason"] for r in res.json()["results"])
    assert devnet.admin.orders() == []
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        assert ledger.open_intents() == []


def test_metadata_outage_buys_from_the_cache(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """spotMeta down: a ledger with metadata cached 2 h ago still buys (with a warning); a ledger with
    no cache fails every asset temporarily (exit 3) and sends nothing."""
    cfg = _cfg(tmp_path, devnet, wallet, '[assets.BTC]\namount = 20\nevery = "day"\n')
    assert cli("--config", str(cfg), "--json", "run").code == 0
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        cached = ledger.cache_get(META_CACHE_KEY)
        assert cached is not None
        ledger.cache_put(META_CACHE_KEY, cached[0], utcnow() - timedelta(hours=2))
    devnet.admin.faults(kind="error", path="/info", types=["spotMeta", "spotMetaAndAssetCtxs"], status=503)
    res = cli("--config", str(cfg), "--json", "buy", "BTC", "--force")
    assert res.code == 0, res.err
    assert statuses(res.json()) == {"BTC": "filled"}
    assert "using the copy cached 2 h ago" in res.err
    assert len(devnet.admin.orders(user=wallet.address.lower())) == 2

    cold = tmp_path / "cold"
    cold.mkdir()
    cfg2 = _cfg(cold, devnet, wallet, '[assets.BTC]\namount = 20\nevery = "day"\n')
    res2 = cli("--config", str(cfg2), "--json", "buy", "BTC", "--force")
    assert res2.code == 3, res2.err
    (r,) = res2.json()["results"]
    assert r["status"] == "failed" and r["reason"].startswith("temporary:")
    assert len(devnet.admin.orders(user=wallet.address.lower())) == 2


def test_after_the_ledger_is_lost_the_exchange_order_is_adopted(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any
) -> None:
    """The ledger deleted after a run: the next run finds this period's orders on the exchange under its
    cloids and adopts them (intent rebuilt, fills dcactl's) instead of saying pending forever; plan and
    run then agree the period is bought, sync adds nothing external, and no order is placed twice."""
    cfg = _cfg(tmp_path, devnet, wallet)
    assert cli("--config", str(cfg), "--json", "run").code == 0
    for f in tmp_path.glob("ledger.db*"):
        f.unlink()
    adopted = cli("--config", str(cfg), "--json", "run")
    assert adopted.code == 0, adopted.err
    results = adopted.json()["results"]
    assert {r["status"] for r in results} == {"filled"}
    assert all(r["reason"].startswith("adopted:") for r in results)
    assert len(devnet.admin.orders(user=wallet.address.lower())) == 3, "nothing placed again"
    plan = cli("--config", str(cfg), "--json", "plan")
    assert {a["due"] for a in plan.json()["assets"]} == {False}, plan.out
    again = cli("--config", str(cfg), "--json", "run")
    assert set(statuses(again.json()).values()) == {"not_due"}
    synced = cli("--config", str(cfg), "--json", "sync")
    assert synced.code == 0 and synced.json()["external"] == 0, synced.out
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        assert {f.source for f in ledger.fills()} == {"dcactl"}


def test_a_second_ledger_adopts_a_later_attempt_instead_of_buying_the_first(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any
) -> None:
    """Ledger A's first attempt never reached the exchange (502), its second bought the period. Ledger B
    of the same account, fresh, would place attempt 1 (a cloid the exchange does not know): it asks for
    the next attempts' cloids too, adopts A's attempt 2 and places nothing."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cfg_a, cfg_b = _cfg(tmp_path / "a", devnet, wallet), _cfg(tmp_path / "b", devnet, wallet)
    devnet.admin.faults(kind="error", path="/exchange", count=1, status=502)
    assert set(statuses(cli("--config", str(cfg_a), "--json", "run").json()).values()) == {"pending"}
    time.sleep(grace_s(TIMEOUT_S))
    second = cli("--config", str(cfg_a), "--json", "run")
    assert set(statuses(second.json()).values()) == {"filled"}
    assert {r["cloid"] for r in second.json()["results"]} == {
        o["cloid"] for o in devnet.admin.orders(user=wallet.address.lower())
    }
    other = cli("--config", str(cfg_b), "--json", "run")
    assert other.code == 0, other.err
    assert set(statuses(other.json()).values()) == {"filled"}
    assert all(r["reason"].startswith("adopted:") for r in other.json()["results"])
    assert len(devnet.admin.orders(user=wallet.address.lower())) == 3
    with open_ledger(cfg_b, devnet.url, wallet.address) as ledger:
        assert ledger.open_intents() == []
        period = other.json()["results"][0]["period"]
        assert [(i.attempt, i.status) for i in ledger.intents_for("BTC", period)] == [(2, "filled")]
        assert {f.source for f in ledger.fills()} == {"dcactl"}
