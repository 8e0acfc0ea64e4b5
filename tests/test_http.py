"""JsonHttp (retries, error translation, exact decimals) and WeightBudget (pacing by published weights)."""

from __future__ import annotations

import asyncio
import json
import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from dcactl.errors import ExchangeError, ExchangeUnavailable, PriceSourceError, RateLimited
from dcactl.http import MAX_ATTEMPTS, JsonHttp, SharedWeightBudget, WeightBudget, full_jitter, pacing_path

URL = "http://api.test"


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def make_http(sleeps: list[float] | None = None, **kw: Any) -> JsonHttp:
    async def no_sleep(s: float) -> None:
        if sleeps is not None:
            sleeps.append(s)

    return JsonHttp(URL, service="Test", timeout=5, sleep=no_sleep, rng=random.Random(7), **kw)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------------------------ WeightBudget
def test_budget_within_limit_never_waits() -> None:
    """Charges adding up to the limit pass without a single sleep."""
    clock = FakeClock()
    budget = WeightBudget(100, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(5):
            await budget.acquire(20)

    run(go())
    assert clock.sleeps == []
    assert budget.used() == 100


def test_shared_budget_sees_the_other_process_charges(tmp_path: Path) -> None:
    """Two budgets on one file (two processes): 60 + 40 by one fill the window, so 50 by the other
    waits until the 60 has left it (60 s after it); the file holds the window afterwards."""
    clock = FakeClock()
    path = tmp_path / "pacing" / "api.test-80.json"
    first = SharedWeightBudget(path, 100, clock=clock, sleep=clock.sleep)
    second = SharedWeightBudget(path, 100, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        await first.acquire(60)
        clock.t += 10
        await first.acquire(40)
        assert second.used() == 100
        await second.acquire(50)

    run(go())
    assert clock.sleeps == [50.0]
    assert first.used() == 90  # 40 (t=10) + 50 (t=60), as the other process charged them
    assert json.loads(path.read_text()) == [[1010.0, 40], [1060.0, 50]]
    second.charge(10)
    assert first.used() == 100


def test_shared_budget_shrugs_off_a_bad_file_and_a_clock_that_went_back(tmp_path: Path) -> None:
    """A corrupt window file counts as empty; a charge stamped in the future (the wall clock went
    back) is dropped; an unwritable folder paces in memory alone."""
    clock = FakeClock()
    path = tmp_path / "w.json"
    path.write_text("{not json")
    budget = SharedWeightBudget(path, 100, clock=clock, sleep=clock.sleep)
    assert budget.used() == 0
    path.write_text(json.dumps([[clock.t - 5, 30], [clock.t + 3600, 70]]))
    assert budget.used() == 30
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    alone = SharedWeightBudget(blocked / "w.json", 100, clock=clock, sleep=clock.sleep)
    run(alone.acquire(80))
    assert alone.used() == 80 and not alone.shared


def test_shared_budget_settles_a_rounds_concurrent_acquires_under_one_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 acquires of 2 started together on a 100/min window: the file is opened once for all of them,
    the first 50 pass at once and the last 10 wait for the window (as one after the other would) and
    are settled together again;
    a cancelled acquire records nothing, and a budget used again from a new event loop still settles."""
    clock = FakeClock()
    path = tmp_path / "w.json"
    budget = SharedWeightBudget(path, 100, clock=clock, sleep=clock.sleep)
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, *a: opened.append(str(p)) or real_open(p, *a))
    passed: list[float] = []

    async def one() -> None:
        await budget.acquire(2)
        passed.append(clock.t)

    async def go() -> None:
        await asyncio.gather(*(one() for _ in range(60)))

    run(go())
    assert passed[:50] == [1000.0] * 50 and all(t >= 1060.0 for t in passed[50:]) and len(passed) == 60
    assert opened == [str(path)] * 2  # the round, then the ten that waited (woken in one turn)
    assert json.loads(path.read_text())[-1][0] >= 1060.0

    async def cancelled() -> None:
        task = asyncio.ensure_future(budget.acquire(2))
        await asyncio.sleep(0)  # queued for this turn, then cancelled before the turn is settled
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    before = budget.used()
    run(cancelled())
    assert budget.used() == before
    run(budget.acquire(2))
    assert budget.used() == before + 2


def test_pacing_path_is_one_file_per_api(tmp_path: Path) -> None:
    """Mainnet, a devnet port and the devnet's CoinGecko double (same port, another path) get their own
    windows; odd characters are replaced."""
    assert pacing_path(tmp_path, "https://api.hyperliquid.xyz") == tmp_path / "api.hyperliquid.xyz-443.json"
    assert pacing_path(tmp_path, "http://127.0.0.1:3001/") == tmp_path / "127.0.0.1-3001.json"
    double = pacing_path(tmp_path, "http://127.0.0.1:3001/coingecko/api/v3")
    assert double.name == "127.0.0.1-3001-coingecko-api-v3.json"
    assert pacing_path(tmp_path, "http://[::1]:3002").name == "__1-3002.json"


def test_budget_over_limit_waits_until_oldest_charge_expires() -> None:
    """With 100/min used (60 at t=0, 40 at t=10), 50 more waits for the t=0 charge: 60 s after it."""
    clock = FakeClock()
    budget = WeightBudget(100, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        await budget.acquire(60)
        clock.t += 10
        await budget.acquire(40)
        await budget.acquire(50)

    run(go())
    assert clock.sleeps == [50.0]  # 10 s already passed; 60 − 10
    assert budget.used() == 90  # the 40 and the 50


def test_budget_charge_after_response_delays_next_call() -> None:
    """Per-item weight charged after a response (2000 fills → +100) makes later calls wait."""
    clock = FakeClock()
    budget = WeightBudget(150, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        await budget.acquire(20)
        budget.charge(2000 // 20)
        await budget.acquire(20)  # 140 used: fits
        await budget.acquire(20)  # 160 > 150: waits for the first two charges (same instant) to expire

    run(go())
    assert clock.sleeps == [60.0]


def test_budget_paces_a_10000_fill_sync_instead_of_failing() -> None:
    """Five pages of 2000 fills (20 + 100 weight each) under a 300/min budget wait, and all complete."""
    clock = FakeClock()
    budget = WeightBudget(300, clock=clock, sleep=clock.sleep)

    async def go() -> int:
        pages = 0
        for _ in range(5):
            await budget.acquire(20)
            budget.charge(100)
            pages += 1
        return pages

    assert run(go()) == 5
    # t=0: page 1 (20, +100 → 120), page 2 (140, → 240), page 3 (260 fits, +100 overdraws → 360);
    # page 4 needs 380 ≤ 300: waits until every t=0 charge leaves the window (60 s); page 5 then fits.
    assert clock.sleeps == [60.0]


def test_budget_request_heavier_than_limit_waits_for_an_empty_window() -> None:
    """A 500-weight request under a 100/min budget waits for the window to empty rather than forever."""
    clock = FakeClock()
    budget = WeightBudget(100, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        await budget.acquire(30)
        await budget.acquire(500)

    run(go())
    assert clock.sleeps == [60.0]


def test_budget_disabled_never_waits() -> None:
    """per_minute=None switches pacing off (benchmarks against a devnet without limits)."""
    clock = FakeClock()
    budget = WeightBudget(None, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(100):
            await budget.acquire(1000)

    run(go())
    assert clock.sleeps == []


def test_full_jitter_stays_under_the_doubling_ceiling() -> None:
    """Backoff n is uniform in [0, min(4, 0.25·2^(n−1))] s."""
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.25), (2, 0.5), (3, 1.0), (8, 4.0)):
        for _ in range(50):
            assert 0 <= full_jitter(attempt, rng) <= ceiling


# ------------------------------------------------------------------------------------ JsonHttp
def test_numbers_are_parsed_as_decimal_never_float() -> None:
    """A JSON number such as 67187.3358936566 arrives as the exact Decimal."""

    async def go() -> Any:
        with respx.mock(base_url=URL) as router:
            router.get("/p").respond(200, text='{"usd": 67187.3358936566, "n": 3}')
            async with make_http() as http:
                return await http.get_json("/p", what="p")

    data = run(go())
    assert data == {"usd": Decimal("67187.3358936566"), "n": 3}
    assert isinstance(data["usd"], Decimal)


ERROR_TABLE = [
    # (name, side effect or response, expected type, attempts for a read)
    ("read timeout", httpx.ReadTimeout, ExchangeUnavailable, MAX_ATTEMPTS),
    ("connect timeout", httpx.ConnectTimeout, ExchangeUnavailable, MAX_ATTEMPTS),
    ("connect error", httpx.ConnectError, ExchangeUnavailable, MAX_ATTEMPTS),
    ("dropped connection", httpx.RemoteProtocolError, ExchangeUnavailable, MAX_ATTEMPTS),
    ("429", httpx.Response(429, text="Too many requests"), RateLimited, MAX_ATTEMPTS),
    ("500", httpx.Response(500, text="oops"), ExchangeUnavailable, MAX_ATTEMPTS),
    ("502", httpx.Response(502, text="<html>bad gateway</html>"), ExchangeUnavailable, MAX_ATTEMPTS),
    ("non-JSON 200", httpx.Response(200, text="<html>maintenance</html>"), ExchangeUnavailable, MAX_ATTEMPTS),
    ("422", httpx.Response(422, text="Failed to deserialize the JSON body into the target type"),
     ExchangeError, 1),
    ("400", httpx.Response(400, text="bad"), ExchangeError, 1),
]


TABLE_ARGS = ("name", "effect", "expected", "attempts")
TABLE_IDS = [r[0] for r in ERROR_TABLE]


@pytest.mark.parametrize(TABLE_ARGS, ERROR_TABLE, ids=TABLE_IDS)
def test_error_mapping_table_for_reads(
    name: str, effect: Any, expected: type[Exception], attempts: int
) -> None:
    """Each vendor failure of a read becomes our type, after the documented number of attempts."""
    sleeps: list[float] = []

    async def go() -> tuple[Exception, int, int]:
        with respx.mock(base_url=URL) as router:
            route = router.post("/info")
            if isinstance(effect, httpx.Response):
                route.mock(return_value=effect)
            else:
                route.mock(side_effect=effect)
            async with make_http(sleeps) as http:
                with pytest.raises(expected) as info:
                    await http.post_json("/info", {"type": "allMids"}, retry=True, what="/info allMids")
                return info.value, route.call_count, http.attempts_made

    exc, calls, made = run(go())
    assert type(exc) is expected
    assert calls == attempts == made
    assert len(sleeps) == attempts - 1
    assert "Test /info allMids" in str(exc)
    assert exc.__cause__ is not None  # chained with `from`


@pytest.mark.parametrize(TABLE_ARGS, ERROR_TABLE, ids=TABLE_IDS)
def test_writes_are_never_retried(
    name: str, effect: Any, expected: type[Exception], attempts: int
) -> None:
    """With retry=False every failure is raised after exactly one request and no sleep."""
    sleeps: list[float] = []

    async def go() -> int:
        with respx.mock(base_url=URL) as router:
            route = router.post("/exchange")
            if isinstance(effect, httpx.Response):
                route.mock(return_value=effect)
            else:
                route.mock(side_effect=effect)
            async with make_http(sleeps) as http:
                with pytest.raises(expected):
                    await http.post_json("/exchange", {"action": {}}, retry=False, what="/exchange order")
                return route.call_count

    assert run(go()) == 1
    assert sleeps == []


def test_read_recovers_after_a_transient_failure() -> None:
    """A 503 then a 200: the read returns the answer after one jittered backoff ≤ 0.25 s."""
    sleeps: list[float] = []

    async def go() -> Any:
        with respx.mock(base_url=URL) as router:
            router.post("/info").mock(side_effect=[httpx.Response(503), httpx.Response(200, json={"ok": 1})])
            async with make_http(sleeps) as http:
                return await http.post_json("/info", {}, retry=True, what="x")

    assert run(go()) == {"ok": 1}
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.25


def test_retry_after_of_a_429_is_honoured() -> None:
    """A 429 with Retry-After: 2 waits at least 2 s before the next attempt."""
    sleeps: list[float] = []

    async def go() -> Any:
        with respx.mock(base_url=URL) as router:
            router.post("/info").mock(side_effect=[
                httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json=[]),
            ])
            async with make_http(sleeps) as http:
                return await http.post_json("/info", {}, retry=True, what="x")

    assert run(go()) == []
    assert sleeps == [2.0]


def test_client_error_class_is_configurable() -> None:
    """A price API can turn 4xx into PriceSourceError instead of ExchangeError."""

    async def go() -> None:
        with respx.mock(base_url=URL) as router:
            router.get("/coins/x/market_chart").respond(404, json={"error": "coin not found"})
            async with make_http(client_error=PriceSourceError) as http:
                await http.get_json("/coins/x/market_chart", what="market_chart x")

    with pytest.raises(PriceSourceError, match="HTTP 404"):
        run(go())


def test_messages_never_include_the_request_body_or_headers() -> None:
    """A signed body and an API-key header stay out of the error text, even on a 4xx."""
    secret = "0xdeadbeef" * 8

    async def go() -> str:
        with respx.mock(base_url=URL) as router:
            router.post("/exchange").respond(422, text="Failed to deserialize")
            async with make_http(headers={"x-api-key": "KEY-SECRET"}) as http:
                with pytest.raises(ExchangeError) as info:
                    await http.post_json("/exchange", {"signature": secret}, retry=False, what="/exchange")
                return str(info.value) + repr(info.value.__cause__)

    text = run(go())
    assert secret not in text and "KEY-SECRET" not in text
    assert "HTTP 422" in text


def test_requests_written_returns_once_every_started_request_is_sent_not_answered() -> None:
    """A server that reads three requests and holds their answers: requests_written() returns once all
    three are written (none answered yet), and at once when nothing is outstanding."""
    async def go() -> None:
        got: list[bytes] = []
        release = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            got.append(await reader.readexactly(length))
            await release.wait()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        http = JsonHttp(f"http://127.0.0.1:{port}", service="Test", timeout=5)
        await http.requests_written()  # nothing started: no wait
        calls = [asyncio.ensure_future(http.post_json("/info", {"n": n}, retry=False, what="/info"))
                 for n in range(3)]
        pending = asyncio.ensure_future(http.requests_written())
        await asyncio.sleep(0)  # the calls start (connecting): it waits for them
        assert not pending.done()
        await asyncio.wait_for(pending, 5)
        for _ in range(100):  # the bytes written are in the server's hands within a few loop turns
            if len(got) == 3:
                break
            await asyncio.sleep(0.01)
        assert len(got) == 3 and not any(c.done() for c in calls)
        release.set()
        assert await asyncio.gather(*calls) == [{}, {}, {}]
        await http.requests_written()
        await http.aclose()
        server.close()
        await server.wait_closed()

    run(go())


def test_request_reports_the_server_date_and_latency() -> None:
    """request() exposes the Date header (UTC-aware) for doctor's clock-skew check."""

    async def go() -> Any:
        with respx.mock(base_url=URL) as router:
            router.post("/info").respond(200, json={}, headers={"Date": "Tue, 24 Nov 2026 08:00:00 GMT"})
            async with make_http() as http:
                return await http.request("POST", "/info", json_body={}, retry=False, what="x")

    response = run(go())
    assert response.server_date.isoformat() == "2026-11-24T08:00:00+00:00"
    assert response.elapsed_s >= 0


def test_every_attempt_pays_its_weight() -> None:
    """Three attempts of a weight-2 read charge 6 against the budget."""
    budget = WeightBudget(1000)

    async def go() -> None:
        with respx.mock(base_url=URL) as router:
            router.post("/info").respond(500)
            async with make_http(budget=budget) as http:
                with pytest.raises(ExchangeUnavailable):
                    await http.post_json("/info", {}, weight=2, retry=True, what="x")

    run(go())
    assert budget.used() == 6


async def _trickle_server(handler: Any) -> tuple[asyncio.AbstractServer, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def test_an_answer_trickled_a_byte_at_a_time_meets_the_deadline() -> None:
    """A server that answers one byte every 0.1 s never trips the 0.3 s read timeout; the whole-request
    deadline (3 × timeout) ends it with ExchangeUnavailable, well before the answer would end."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n")
        try:
            for _ in range(1000):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()

    async def go() -> tuple[str, int]:
        server, url = await _trickle_server(trickle)
        async with server, JsonHttp(url, service="Test", timeout=0.3) as http:
            with pytest.raises(ExchangeUnavailable) as info:
                await http.get_json("/x", retry=False, what="/x")
            return str(info.value), http.attempts_made

    message, attempts = asyncio.run(go())
    assert message == "Test /x: no complete answer within 0.9 s" and attempts == 1


def test_an_answer_over_the_size_cap_is_not_read() -> None:
    """An answer past max_bytes is refused (ExchangeUnavailable) without being kept, and not retried."""
    big = json.dumps({"x": "a" * 5000})
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=big))

    async def go() -> tuple[str, int]:
        async with JsonHttp("http://test", service="Test", timeout=5, transport=transport) as http:
            http.max_bytes = 1000
            with pytest.raises(ExchangeUnavailable) as info:
                await http.get_json("/x", what="/x")
            ok = JsonHttp("http://test", service="Test", timeout=5, transport=transport)
            assert (await ok.get_json("/x", what="/x")) == {"x": "a" * 5000}
            await ok.aclose()
            return str(info.value), http.attempts_made

    message, attempts = asyncio.run(go())
    assert message == "Test /x: answer over 1,000 bytes; not read" and attempts == 1


def test_tls_context_verifies_https_and_trusts_nothing_for_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """An https API gets one shared verifying context with CAs loaded; a plain http API (a devnet) one
    that loads nothing and would fail any certificate, unless an https proxy is in the way."""
    import ssl

    from dcactl.http import tls_context

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    secure = tls_context("https://api.hyperliquid.xyz")
    assert secure is tls_context("https://api.coingecko.com/api/v3")
    assert secure.verify_mode == ssl.CERT_REQUIRED and secure.check_hostname
    assert secure.cert_store_stats()["x509_ca"] > 0
    plain = tls_context("http://127.0.0.1:3001")
    assert plain is not secure and plain is tls_context("http://localhost:9")
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.cert_store_stats()["x509_ca"] == 0 and plain.get_ca_certs() == []
    monkeypatch.setenv("HTTP_PROXY", "https://proxy.test:8443")
    assert tls_context("http://127.0.0.1:3001") is secure
