"""`dcactl run` in live mode against a real devnet: one signed batch, exactly one order per period,
partial fills, IOC misses retried with the next attempt, per-order rejections, caps, balance, agents."""

from __future__ import annotations

import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from live_support import (
    BTC_COST_PINNED,
    THREE,
    WITH_AVAX,
    assert_ledger_matches_devnet,
    funded_wallet,
    key_hex,
    live_portfolio,
    open_ledger,
    orders_per_period,
    pin_prices,
    statuses,
    when_logged,
)
from support import approve_agent

from dcactl.models import make_cloid


@pytest.fixture
def wallet(devnet: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A throwaway master key funded with 1000 USDC, exported as $DCACTL_KEY."""
    w = funded_wallet(devnet, "1000")
    monkeypatch.setenv("DCACTL_KEY", key_hex(w))
    return w


def _cfg(tmp_path: Path, devnet: Any, wallet: Any, body: str = THREE, settings: str = "") -> Path:
    return live_portfolio(tmp_path / "p.toml", devnet.url, body, wallet.address, settings=settings)


def _order_actions(devnet: Any, user: str) -> list[dict[str, Any]]:
    return [a for a in devnet.admin.actions(user=user.lower()) if a["type"] == "order"]


def test_parallel_round_is_one_signed_action(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """3 listed assets go in ONE order action with 3 cloids from make_cloid; AVAX is paper; the ledger
    equals the devnet's fills; a rerun is not_due and sends nothing."""
    cfg = _cfg(tmp_path, devnet, wallet, WITH_AVAX)
    res = cli("--config", str(cfg), "--json", "run", "--parallel")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["mode"] == "live"
    assert statuses(doc) == {"BTC": "filled", "ETH": "filled", "SOL": "filled", "AVAX": "paper"}
    actions = _order_actions(devnet, wallet.address)
    assert len(actions) == 1 and actions[0]["status"] == "ok"
    assert len(actions[0]["response"]["data"]["statuses"]) == 3
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert [o["coin"] for o in orders] == ["@142", "@151", "@156"]
    for o, r in zip(orders, doc["results"][:3], strict=True):
        expected = make_cloid(devnet.url, wallet.address, o["coin"], r["period"], 1)  # keyed by the pair
        assert o["cloid"] == r["cloid"] == expected
        assert o["oid"] == r["oid"] and o["signer"] == o["user"] == wallet.address.lower()
        assert o["order"]["t"] == {"limit": {"tif": "Ioc"}}
        assert D(o["order"]["p"]) * D(o["order"]["s"]) <= D(r["usd_requested"])
    real = assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)
    assert sorted({f.asset for f in real}) == ["BTC", "ETH", "SOL"]
    for r in doc["results"][:3]:
        mine = [f for f in real if f.asset == r["asset"]]
        assert D(r["size"]) == sum(f.size for f in mine)
        assert D(r["fee"]) == sum(f.fee for f in mine) and r["fee_token"] == mine[0].fee_token
        assert "E" not in r["avg_price"], "decimals are spelled out"
    # where the time went (issue 17): the stages in their order, and the spans derived from them
    t = doc["timings"]
    order = ["first_request_ms", "reads_done_ms", "decided_ms", "order_sent_ms", "order_answered_ms",
             "recorded_ms"]
    assert [t[k] for k in order] == sorted(t[k] for k in order)
    assert t["startup_ms"] == t["first_request_ms"]
    assert t["book_to_order_ms"] == pytest.approx(t["order_sent_ms"] - t["reads_done_ms"], abs=0.2)
    assert t["after_answer_ms"] >= t["recorded_ms"] - t["order_answered_ms"] - 0.2
    again = cli("--config", str(cfg), "--json", "run")
    assert again.code == 0 and set(statuses(again.json()).values()) == {"not_due"}
    assert "order_sent_ms" not in again.json()["timings"], "nothing sent, no order span"
    assert len(devnet.admin.orders(user=wallet.address.lower())) == 3


def test_a_late_signer_counts_in_the_books_age(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads are marked done when their answers are in, not when the signer is ready too: a
    signer made late makes the book older when the order leaves, and book-to-order says so."""
    from dcactl.config import keys

    made = keys.signer_from

    def slow(text: str, source: str) -> Any:
        time.sleep(1.0)  # far longer than the read round against the devnet, however slow the machine
        return made(text, source)

    monkeypatch.setattr(keys, "signer_from", slow)
    res = cli("--config", str(_cfg(tmp_path, devnet, wallet)), "--json", "run")
    assert res.code == 0, res.err
    t = res.json()["timings"]
    assert t["reads_done_ms"] < t["signer_ready_ms"] <= t["order_sent_ms"]
    assert t["book_to_order_ms"] >= t["signer_ready_ms"] - t["reads_done_ms"] - 0.2  # marks rounded


def test_sequential_sends_one_action_per_asset(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """--sequential signs three separate order actions (three nonces), one order each, all filled."""
    cfg = _cfg(tmp_path, devnet, wallet)
    res = cli("--config", str(cfg), "--json", "run", "--sequential")
    assert res.code == 0, res.err
    assert set(statuses(res.json()).values()) == {"filled"}
    actions = _order_actions(devnet, wallet.address)
    assert [len(a["response"]["data"]["statuses"]) for a in actions] == [1, 1, 1]
    assert len({a["nonce"] for a in actions}) == 3
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)


def test_partial_fill_completes_the_period(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With max_slippage_bps 10 only the 2 best UBTC asks (mid +3 and +8 bps, 60k + 90k USDC) are in
    reach, so a 200k USDC buy fills partly: recorded as partial with both levels' fills, and the
    period is done (next run not_due)."""
    whale = funded_wallet(devnet, "210000")
    monkeypatch.setenv("DCACTL_KEY", key_hex(whale))
    body = '[assets.BTC]\namount = 200000\nevery = "day"\n'
    cfg = _cfg(tmp_path, devnet, whale, body, settings="max_slippage_bps = 10\n")
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 0, res.err
    (r,) = res.json()["results"]
    assert r["status"] == "partial"
    (order,) = devnet.admin.orders(user=whale.address.lower())
    assert D(r["size"]) < D(order["order"]["s"])
    real = assert_ledger_matches_devnet(cfg, devnet.url, whale.address)
    assert len(real) == 2, "one fill per book level taken, both kept"
    assert D(140000) < sum(f.usd for f in real) < D(160000)
    with open_ledger(cfg, devnet.url, whale.address) as ledger:
        intent = ledger.intent(r["cloid"])
        assert intent is not None and intent.status == "partial"
    again = cli("--config", str(cfg), "--json", "run")
    assert statuses(again.json()) == {"BTC": "not_due"}
    assert len(devnet.admin.orders(user=whale.address.lower())) == 1


def test_ioc_miss_is_retried_with_the_next_attempt(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any
) -> None:
    """ETH jumps 3 % between the read and the order: its IOC matches nothing (failed, intent unfilled)
    while BTC and SOL in the same batch fill; the next run buys ETH with attempt 2's cloid."""
    pin_prices(devnet, "UBTC", "USOL")  # only ETH moves: the others cannot miss by a minute's walk
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.faults(kind="latency", ms=1500, path="/exchange", count=1)  # room for the shock
    with when_logged(devnet, "l2Book", lambda admin: admin.shock("UETH", 3), coin="@151") as shocked:
        res = cli("--config", str(cfg), "--json", "run")
    assert shocked.is_set()
    assert res.code == 1
    results = {r["asset"]: r for r in res.json()["results"]}
    assert {a: r["status"] for a, r in results.items()} == {"BTC": "filled", "ETH": "failed", "SOL": "filled"}
    assert "could not immediately match" in results["ETH"]["reason"]
    eth1 = results["ETH"]["cloid"]
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        intent = ledger.intent(eth1)
        assert intent is not None and intent.status == "unfilled" and intent.attempt == 1
    retry = cli("--config", str(cfg), "--json", "run")
    assert retry.code == 0, retry.err
    assert statuses(retry.json()) == {"BTC": "not_due", "ETH": "filled", "SOL": "not_due"}
    (eth2,) = [r["cloid"] for r in retry.json()["results"] if r["asset"] == "ETH"]
    assert eth2 == make_cloid(devnet.url, wallet.address, "@151", results["ETH"]["period"], 2)
    eth_orders = [o for o in devnet.admin.orders(user=wallet.address.lower()) if o["coin"] == "@151"]
    assert [(o["cloid"], o["status"]) for o in eth_orders] == [(eth1, "iocCancelRejected"), (eth2, "filled")]
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)


def test_per_order_rejection_leaves_the_others_filled(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any
) -> None:
    """USDC drained after the balance read to BTC's cost + 0.10 (prices pinned, so that cost is exact):
    BTC fills; the 0.10 left buys no lot of ETH (0.0001 × 3000.9) or SOL (0.001 × 150.05), so the
    exchange refuses both for insufficient balance; exit 1; their intents are rejected and retried."""
    pin_prices(devnet)
    cfg = _cfg(tmp_path, devnet, wallet)
    devnet.admin.faults(kind="latency", ms=1500, path="/exchange", count=1)  # room for the drain
    drain = D(1000) - BTC_COST_PINNED - D("0.10")
    drained = lambda admin: admin.fund(wallet.address, usdc=f"-{drain}")  # noqa: E731
    with when_logged(devnet, "spotClearinghouseState", drained):
        res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 1
    results = {r["asset"]: r for r in res.json()["results"]}
    expected = {"BTC": "filled", "ETH": "failed", "SOL": "failed"}
    assert {a: r["status"] for a, r in results.items()} == expected
    assert D(results["BTC"]["usd_filled"]) == D("99.03")  # 99.0297 to the cent
    assert all("insufficient spot balance" in results[a]["reason"] for a in ("ETH", "SOL"))
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert [o["status"] for o in orders] == ["filled", *["insufficientSpotBalanceRejected"] * 2]
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        for a in ("ETH", "SOL"):
            intent = ledger.intent(results[a]["cloid"])
            assert intent is not None and intent.status == "rejected"
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)
    devnet.admin.fund(wallet.address, usdc="100")
    retry = cli("--config", str(cfg), "--json", "run")
    assert statuses(retry.json()) == {"BTC": "not_due", "ETH": "filled", "SOL": "filled"}


def test_run_cap_cuts_in_config_order(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """max_usd_per_run 120: BTC (100) is bought; ETH would make 150, so ETH and everything after it
    (SOL, though 25 would fit) are skipped with a "cap" reason and never sent."""
    cfg = _cfg(tmp_path, devnet, wallet, settings="max_usd_per_run = 120\n")
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 0, res.err
    results = {r["asset"]: r for r in res.json()["results"]}
    assert {a: r["status"] for a, r in results.items()} == {
        "BTC": "filled", "ETH": "skipped", "SOL": "skipped"
    }
    for asset in ("ETH", "SOL"):
        assert results[asset]["reason"].startswith("cap"), results[asset]["reason"]
    assert [o["coin"] for o in devnet.admin.orders(user=wallet.address.lower())] == ["@142"]


def test_day_cap_counts_earlier_fills_of_the_day(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """max_usd_per_day 200: after ~150 USDC of BTC+ETH fills, a forced 60 USDC SOL buy is cut ("cap"),
    a forced 40 USDC one fits; the devnet only ever sees the orders that fit."""
    cfg = _cfg(tmp_path, devnet, wallet, settings="max_usd_per_day = 200\n")
    first = cli("--config", str(cfg), "--json", "run", "--only", "BTC", "--only", "ETH")
    assert statuses(first.json()) == {"BTC": "filled", "ETH": "filled"}
    spent = sum(D(r["usd_filled"]) for r in first.json()["results"])
    assert D(140) < spent <= D(150)
    cut = cli("--config", str(cfg), "--json", "buy", "SOL", "--force", "--amount", "60")
    assert cut.code == 1, "a buy the user asked for that is skipped fails"
    (r,) = cut.json()["results"]
    assert r["status"] == "skipped", r
    assert r["reason"].startswith("cap: 60.00 USDC does not fit max_usd_per_day 200"), r
    fits = cli("--config", str(cfg), "--json", "buy", "SOL", "--force", "--amount", "40")
    assert statuses(fits.json()) == {"SOL": "filled"}
    assert [o["coin"] for o in devnet.admin.orders(user=wallet.address.lower())] == ["@142", "@151", "@156"]


def test_underfunded_account_says_need_and_have(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 120 USDC, BTC (≤ 100) is bought in config order; ETH and SOL fail with "insufficient USDC
    ... need X, have Y" and are never sent; an unfunded account sends nothing at all."""
    poor = funded_wallet(devnet, "120")
    monkeypatch.setenv("DCACTL_KEY", key_hex(poor))
    cfg = _cfg(tmp_path, devnet, poor)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 1
    results = {r["asset"]: r for r in res.json()["results"]}
    assert {a: r["status"] for a, r in results.items()} == {"BTC": "filled", "ETH": "failed", "SOL": "failed"}
    for asset in ("ETH", "SOL"):
        reason = results[asset]["reason"]
        assert reason.startswith("insufficient USDC") and "need " in reason and ", have " in reason
        need = D(reason.split("need ")[1].split(",")[0])
        have = D(reason.split("have ")[1])
        assert need > have and have < D(21)
    assert [o["coin"] for o in devnet.admin.orders(user=poor.address.lower())] == ["@142"]

    broke = funded_wallet(devnet, None)
    monkeypatch.setenv("DCACTL_KEY", key_hex(broke))
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg2 = live_portfolio(empty / "p.toml", devnet.url, THREE, broke.address)
    res2 = cli("--config", str(cfg2), "--json", "run")
    assert res2.code == 1
    assert set(statuses(res2.json()).values()) == {"failed"}
    assert all("have 0" in r["reason"] for r in res2.json()["results"])
    assert devnet.admin.orders(user=broke.address.lower()) == []


def test_low_runway_warns(tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """500 USDC minus ~175 spent covers 1 more period of 175 USDC: the run warns on stderr (exit 0);
    with 10,000 USDC it does not."""
    low = funded_wallet(devnet, "500")
    monkeypatch.setenv("DCACTL_KEY", key_hex(low))
    res = cli("--config", str(_cfg(tmp_path, devnet, low)), "--json", "run")
    assert res.code == 0, res.err
    err = " ".join(res.err.split())  # rich wraps stderr at the terminal width
    assert "1 more period" in err and "175 USDC per period" in err and "top it up" in err, err
    rich = funded_wallet(devnet, "10000")
    monkeypatch.setenv("DCACTL_KEY", key_hex(rich))
    other = tmp_path / "rich"
    other.mkdir()
    cfg2 = live_portfolio(other / "p.toml", devnet.url, THREE, rich.address)
    res2 = cli("--config", str(cfg2), "--json", "run")
    assert res2.code == 0 and "period" not in res2.err, res2.err


def test_agent_wallet_signs_for_the_master(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """account = master, key = an approved agent's key: orders are accepted, signed by the agent, made
    for the master, and the master's fills land in the ledger."""
    master = funded_wallet(devnet, "1000")
    agent = approve_agent(devnet.url, master)
    monkeypatch.setenv("DCACTL_KEY", agent.key.hex())
    cfg = _cfg(tmp_path, devnet, master)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 0, res.err
    assert set(statuses(res.json()).values()) == {"filled"}
    orders = devnet.admin.orders(user=master.address.lower())
    assert len(orders) == 3
    assert {(o["signer"], o["user"]) for o in orders} == {(agent.address.lower(), master.address.lower())}
    assert devnet_agent_has_no_fills(devnet, agent.address)
    assert_ledger_matches_devnet(cfg, devnet.url, master.address)
    assert orders_per_period(orders, cfg, devnet.url, master.address) == dict.fromkeys(
        [(r["asset"], r["period"]) for r in res.json()["results"]], 1
    )


def devnet_agent_has_no_fills(devnet: Any, agent: str) -> bool:
    """The agent itself holds no fills: it signs, the master trades."""
    from live_support import devnet_fills

    return devnet_fills(devnet.url, agent) == []


def test_paper_buy_never_uses_up_the_live_period(tmp_path: Path, devnet: Any, wallet: Any, cli: Any) -> None:
    """With `account` set, a paper run buys BTC on paper (reason "on paper"); switched to live in the
    same period, the live run is due and places a real order (the devnet's order log) with a cloid of
    its own; a second live run is not due."""
    cfg = _cfg(tmp_path, devnet, wallet, THREE)
    cfg.write_text(cfg.read_text().replace('mode = "live"', 'mode = "paper"'))
    paper = cli("--config", str(cfg), "--json", "run", "--only", "BTC")
    assert paper.code == 0, paper.err
    (p,) = paper.json()["results"]
    assert p["status"] == "paper" and p["reason"].startswith("on paper")
    assert devnet.admin.orders(user=wallet.address.lower()) == []
    cfg.write_text(cfg.read_text().replace('mode = "paper"', 'mode = "live"'))
    live = cli("--config", str(cfg), "--json", "run", "--only", "BTC")
    assert live.code == 0, live.err
    (r,) = live.json()["results"]
    assert r["status"] == "filled" and r["period"] == p["period"]
    assert r["cloid"] != p["cloid"]
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert [(o["coin"], o["cloid"]) for o in orders] == [("@142", r["cloid"])]
    again = cli("--config", str(cfg), "--json", "run", "--only", "BTC")
    assert statuses(again.json()) == {"BTC": "not_due"}


def test_two_ledgers_of_one_account_never_buy_twice(tmp_path: Path, devnet: Any, wallet: Any) -> None:
    """Two dcactl processes with two ledgers (two folders, as a shell beside cron with another HOME or
    DCACTL_DB) of one account, started together: the account lock makes one wait; it then finds the
    first's orders by cloid and adopts them into its own ledger instead of buying. The devnet sees
    exactly one order per asset."""
    import json
    import subprocess

    from live_support import child_env, dcactl_cmd

    env = child_env(key_hex(wallet))
    cfgs = []
    for name in ("shell", "cron"):
        (tmp_path / name).mkdir()
        cfgs.append(_cfg(tmp_path / name, devnet, wallet))
    procs = [subprocess.Popen(dcactl_cmd(cfg), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for cfg in cfgs]
    docs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        docs.append(json.loads(out))
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert sorted(o["coin"] for o in orders) == ["@142", "@151", "@156"]
    assert [set(statuses(d).values()) for d in docs] == [{"filled"}, {"filled"}], docs
    adopted = sorted(all(r["reason"].startswith("adopted:") for r in d["results"]) for d in docs)
    assert adopted == [False, True], docs


def test_a_live_dry_run_reads_the_balance(
    tmp_path: Path, devnet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live `run --dry-run` with 120 USDC: BTC planned, ETH and SOL fail "insufficient USDC" exactly
    as the real run would (they used to show as planned); nothing is sent."""
    poor = funded_wallet(devnet, "120")
    monkeypatch.setenv("DCACTL_KEY", key_hex(poor))
    cfg = _cfg(tmp_path, devnet, poor)
    res = cli("--config", str(cfg), "--json", "run", "--dry-run")
    assert statuses(res.json()) == {"BTC": "planned", "ETH": "failed", "SOL": "failed"}
    assert all(r["reason"].startswith("insufficient USDC") for r in res.json()["results"][1:])
    assert devnet.admin.orders(user=poor.address.lower()) == []


@pytest.mark.parametrize("apart", [False, True], ids=["signer-here", "signer-apart"])
def test_a_bad_key_stops_the_run_before_any_decision(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch, apart: bool
) -> None:
    """A key that cannot be read stops a live run (exit 2) before it asks the exchange anything; one
    that reads as 64 hex digits but is no key (zero) is made a signer while the books are read, and
    stops the run once they are in: no intent, no order, both runs logged with exit code 2. The same
    when the signer is made in a second process (a process dcactl owns)."""
    _sign_apart(monkeypatch, apart)
    cfg = _cfg(tmp_path, devnet, wallet)
    monkeypatch.delenv("DCACTL_KEY")
    devnet.admin.clear_requests()
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 2 and "DCACTL_KEY" in res.err, res.err
    assert devnet.admin.requests(path="/info") == []
    monkeypatch.setenv("DCACTL_KEY", "0" * 64)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 2 and "not a valid secp256k1 private key" in res.err, res.err
    assert _order_actions(devnet, wallet.address) == []
    with open_ledger(cfg, devnet.url, wallet.address) as ledger:
        assert ledger.intent_keys() == []
        assert [r["exit_code"] for r in ledger.runs()] == [2, 2]


def _sign_apart(monkeypatch: pytest.MonkeyPatch, apart: bool) -> list[int]:
    """Run as a process dcactl owns (the signer made in a second process, on two cores), or not;
    the nonces the second process signed, as it signs them."""
    from dcactl.cli import process
    from dcactl.venues import signing_process

    signed: list[int] = []
    if apart:
        monkeypatch.setattr(process, "owned", lambda: True)
        monkeypatch.setattr(signing_process, "cores", lambda: 2)
        sign = signing_process.SigningProcess.sign_l1

        def spy(self: Any, action: Any, vault: Any, nonce: int, *rest: Any) -> Any:
            signature = sign(self, action, vault, nonce, *rest)
            if self._local is None:  # signed by the child, not by a fallback here
                signed.append(nonce)
            return signature

        monkeypatch.setattr(signing_process.SigningProcess, "sign_l1", spy)
    return signed


def test_an_owned_process_signs_in_a_second_process(
    tmp_path: Path, devnet: Any, wallet: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process dcactl owns, the order action is signed by the second process: the devnet
    recovers the wallet from its signature and fills every order, exactly as when signed here."""
    signed = _sign_apart(monkeypatch, True)
    cfg = _cfg(tmp_path, devnet, wallet)
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 0, res.err
    assert statuses(res.json()) == {"BTC": "filled", "ETH": "filled", "SOL": "filled"}
    actions = _order_actions(devnet, wallet.address)
    assert len(actions) == 1 and actions[0]["status"] == "ok"
    assert signed == [actions[0]["nonce"]]
    t = res.json()["timings"]  # the signer was ready before the order was signed and sent
    assert t["first_request_ms"] <= t["order_sent_ms"] and t["signer_ready_ms"] <= t["order_sent_ms"]
    orders = devnet.admin.orders(user=wallet.address.lower())
    assert {o["signer"] for o in orders} == {wallet.address.lower()}
    assert_ledger_matches_devnet(cfg, devnet.url, wallet.address)
