"""Every injected fault (latency, jitter, 5xx, 429 bursts, hangs, dropped replies) and the rate limit."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import requests
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.utils.error import ServerError
from hyperliquid.utils.signing import Cloid

from dcactl.devnet.control import DevnetThread

MIDS = {"type": "allMids"}


def _timed(http: httpx.Client, body: dict) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = http.post("/info", json=body)
    return time.perf_counter() - t0, r


def test_fixed_latency_targets_path(dn: DevnetThread, http: httpx.Client) -> None:
    """A 200 ms latency on /info delays /info only, and the count limits it."""
    dn.admin.faults(kind="latency", ms=200, path="/info", count=2)
    assert _timed(http, MIDS)[0] >= 0.2
    assert http.get(
        "/coingecko/api/v3/simple/price", params={"ids": "bitcoin", "vs_currencies": "usd"}
    ).is_success
    assert _timed(http, MIDS)[0] >= 0.2
    assert dn.admin.list_faults() == [], "the count is used up: later requests are not delayed"


def test_jittered_latency(dn: DevnetThread, http: httpx.Client) -> None:
    """Latency 150 ± 100 ms: every delay is at least 50 ms and they differ (how much longer a slow
    machine adds is not this test's business: no upper bound on wall time)."""
    dn.admin.faults(kind="latency", ms=150, jitter_ms=100)
    delays = [_timed(http, MIDS)[0] for _ in range(6)]
    assert all(d >= 0.05 for d in delays)
    assert max(delays) - min(delays) > 0.005


def test_5xx_count_and_types(dn: DevnetThread, http: httpx.Client) -> None:
    """Two 502s for allMids only; l2Book is untouched; then allMids works again."""
    dn.admin.faults(kind="error", status=502, types=["allMids"], count=2)
    assert http.post("/info", json={"type": "l2Book", "coin": "@142"}).status_code == 200
    assert [http.post("/info", json=MIDS).status_code for _ in range(3)] == [502, 502, 200]


def test_5xx_share(dn: DevnetThread, http: httpx.Client) -> None:
    """A 50 % share of 503s hits roughly half of 60 requests (seeded RNG)."""
    dn.admin.faults(kind="error", status=503, share=0.5)
    codes = [http.post("/info", json=MIDS).status_code for _ in range(60)]
    assert set(codes) == {200, 503} and 15 <= codes.count(503) <= 45


def test_sdk_sees_server_error(dn: DevnetThread, exchange: Exchange) -> None:
    """The SDK raises ServerError on an injected 500 for /exchange."""
    dn.admin.faults(kind="error", path="/exchange", count=1)
    with pytest.raises(ServerError):
        exchange.order("@142", True, 0.001, 200000.0, {"limit": {"tif": "Ioc"}})
    assert dn.admin.orders() == []


def test_429_burst(dn: DevnetThread, http: httpx.Client) -> None:
    """A burst of three 429s, then normal service."""
    dn.admin.faults(kind="429", count=3)
    assert [http.post("/info", json=MIDS).status_code for _ in range(4)] == [429, 429, 429, 200]


def test_hang_before_past_timeout(dn: DevnetThread, wallet: LocalAccount) -> None:
    """A hang on /exchange outlasts the client's timeout and the order is never placed."""
    dn.admin.faults(kind="hang", path="/exchange", hang_ms=1_500, count=1)
    ex = Exchange(wallet, base_url=dn.url, timeout=0.3)
    try:
        with pytest.raises(requests.exceptions.Timeout):
            ex.order("@142", True, 0.001, 200000.0, {"limit": {"tif": "Ioc"}})
    finally:
        ex.session.close()
        ex.info.session.close()
    time.sleep(1.4)
    assert dn.admin.orders() == []


def test_hang_after_processing(dn: DevnetThread, wallet: LocalAccount) -> None:
    """With after=True the order is matched, then the reply hangs past the client's timeout."""
    dn.admin.faults(kind="hang", path="/exchange", hang_ms=1_000, after=True, count=1)
    ex = Exchange(wallet, base_url=dn.url, timeout=0.3)
    try:
        with pytest.raises(requests.exceptions.Timeout):
            ex.order("@142", True, 0.001, 200000.0, {"limit": {"tif": "Ioc"}}, cloid=Cloid.from_int(9))
    finally:
        ex.session.close()
        ex.info.session.close()
    log = dn.admin.orders()
    assert len(log) == 1 and log[0]["status"] == "filled"


def test_drop_after_accept(dn: DevnetThread, exchange: Exchange, wallet: LocalAccount) -> None:
    """'accept, then drop': the connection closes without a reply, yet the order filled and paid."""
    dn.admin.faults(kind="drop", path="/exchange", types=["order"], count=1)
    cloid = Cloid.from_int(42)
    with pytest.raises(requests.exceptions.ConnectionError):
        exchange.order("@142", True, 0.001, 200000.0, {"limit": {"tif": "Ioc"}}, cloid=cloid)
    st = exchange.info.query_order_by_cloid(wallet.address, cloid)
    assert st["order"]["status"] == "filled"
    assert dn.admin.balances(wallet.address)["balances"]["USDC"] != "10000"
    again = exchange.order("@142", True, 0.001, 200000.0, {"limit": {"tif": "Ioc"}}, cloid=cloid)
    assert "filled" in again["response"]["data"]["statuses"][0]  # a repeated cloid is a new order


def test_clear_faults(dn: DevnetThread, http: httpx.Client) -> None:
    """clear_faults removes every rule; a bad rule is refused with 400."""
    dn.admin.faults(kind="error")
    dn.admin.clear_faults()
    assert http.post("/info", json=MIDS).status_code == 200
    assert http.post("/devnet/faults", json={"kind": "meteor"}).status_code == 400


@pytest.fixture
def limited() -> Iterator[DevnetThread]:
    """A devnet with the 1200/min per-IP rate limit on."""
    with DevnetThread(rate_limit=True) as d:
        yield d


def test_rate_limit_429(limited: DevnetThread) -> None:
    """userRole weighs 60: 20 fit in 1200/min, the 21st is 429; rate_limit=False never limits."""
    body = {"type": "userRole", "user": "0x" + "11" * 20}
    with httpx.Client(base_url=limited.url) as c:
        codes = [c.post("/info", json=body).status_code for _ in range(21)]
        assert codes == [200] * 20 + [429]
        assert c.post("/info", json=MIDS).status_code == 429
    with DevnetThread(rate_limit=False) as free, httpx.Client(base_url=free.url) as c:
        assert {c.post("/info", json=body).status_code for _ in range(25)} == {200}
