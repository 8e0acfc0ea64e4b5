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


def test_bad_nonce_fails_the_batch_and_nothing_doubles(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any
) -> None:
    """The exchange clock two days behind makes every nonce invalid: the whole action is refused, the
    run reports failed (exit 1) with the exchange's text; with the clock back, attempt 2 buys once."""
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.set_clock(devnet.admin.time() - 2 * 86_400_000)
    res = cli("--config", str(cfg), "--json", "run")
    devnet.admin.set_clock(None)
    assert res.code == 1
    results = res.json()["results"]
    assert {r["status"] for r in results} == {"failed"}
    assert all("Invalid nonce" in r["reason"] for r in results), results
    assert devnet.admin.orders(user=wallet.address.lower()) == []
    retry = cli("--config", str(cfg), "--json", "run")
    assert retry.code == 0, retry.err
    assert set(statuses(retry.json()).values()) == {"filled"}
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert set(orders_per_period(orders, cfg, devnet.url, wallet.address).values()) == {1}
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        assert [i.status for i in ledger.intents_for("BTC", results[0]["period"])] == ["rejected", "filled"]


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
