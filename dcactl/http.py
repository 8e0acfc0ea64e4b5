"""Shared async JSON-over-HTTP plumbing: one connection pool, timeouts, retries, error translation, pacing.

Every venue and price client talks through :class:`JsonHttp`, so all of them behave the same way:

- one :class:`httpx.AsyncClient` per client object (connections are reused), a timeout on every
  request, and a transport that tests can inject;
- **reads** (``retry=True``) are retried on timeout, connection errors, 429 and 5xx with exponential
  backoff and full jitter, at most :data:`MAX_ATTEMPTS` attempts in all; a 429's ``Retry-After`` is
  honoured (capped). **Writes** (``retry=False``, e.g. Hyperliquid ``/exchange``) are never retried:
  the error is raised for the caller to resolve (by cloid, for orders);
- every vendor failure becomes a :mod:`dcactl.errors` type chained with ``from``:
  timeout / connection / 5xx / non-JSON body → :class:`~dcactl.errors.ExchangeUnavailable`,
  429 → :class:`~dcactl.errors.RateLimited`, other 4xx → ``client_error`` (ExchangeError by default).
  Messages name the service, endpoint and request kind, and at most a short snippet of the *response*;
  never the request body (which may be signed) nor any header (which may hold an API key);
- an optional :class:`WeightBudget` paces requests so a client never earns a 429; a
  :class:`SharedWeightBudget` shares its window with the user's other dcactl processes through a file.

JSON numbers are parsed with ``parse_float=Decimal``: no float ever carries money.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import os
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import httpx

from dcactl.errors import DcactlError, ExchangeError, ExchangeUnavailable, RateLimited
from dcactl.timing import mark

MAX_ATTEMPTS = 3
"""Attempts in all (first try included) for a retried read."""
BACKOFF_BASE_S = 0.25
"""First backoff ceiling in seconds; it doubles per attempt (full jitter draws in [0, ceiling])."""
BACKOFF_CAP_S = 4.0
"""Largest backoff ceiling in seconds."""
RETRY_AFTER_CAP_S = 30.0
"""A server's ``Retry-After`` is honoured up to this many seconds."""
SNIPPET_CHARS = 160
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest answer read (bytes): far above any real one (5000 candles or 2000 fills are ~1 MB), so
a runaway or hostile answer cannot take the machine's memory."""
DEADLINE_FACTOR = 3
"""A whole request (connect, send, every byte of the answer) must end within this many ``timeout``s:
the per-read timeout alone lets an answer trickled a byte at a time hold a run (and its lock) forever."""
"""How much of an error response body a message may quote."""

Sleep = Callable[[float], Awaitable[None]]


class WeightBudget:
    """Client-side pacing of a per-IP request-weight limit (a sliding 60-second window).

    Hyperliquid allows 1200 weight per minute per IP. Each request first :meth:`acquire`\\ s its
    weight; when the last 60 s already used ``per_minute`` the caller *waits* (``sleep``) until old
    charges leave the window, it never fails. Weight known only from the response (per-item extras
    of ``userFillsByTime``, ``candleSnapshot``) is added with :meth:`charge` and delays later calls.

    A sliding window (rather than a refilling bucket with a burst allowance) guarantees the limit in
    *every* 60 s window, whatever window the server uses. The state is per object; the CLI uses
    :class:`SharedWeightBudget` so the user's dcactl processes share one window. The default target
    is 1000 of the 1200, a margin of 200 for what dcactl cannot see (the exchange UI, other tools
    on the same IP).
    ``per_minute=None`` switches pacing off (benchmarks against a devnet without rate limits).
    """

    WINDOW_S = 60.0

    def __init__(
        self,
        per_minute: int | None = 1000,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._charges: deque[tuple[float, int]] = deque()
        self._used = 0

    def used(self) -> int:
        """Weight spent in the last 60 s."""
        self._expire(self._clock())
        return self._used

    def _expire(self, now: float) -> None:
        while self._charges and self._charges[0][0] <= now - self.WINDOW_S:
            self._used -= self._charges.popleft()[1]

    def _record(self, now: float, weight: int) -> None:
        if weight > 0:
            self._charges.append((now, weight))
            self._used += weight

    def wait_needed(self, weight: int) -> float:
        """Seconds until ``weight`` more fits in the window (0 when it fits now)."""
        if self.per_minute is None:
            return 0.0
        now = self._clock()
        self._expire(now)
        # a request heavier than the whole budget waits for an empty window rather than forever
        allowed = self.per_minute - min(weight, self.per_minute)
        excess = self._used - allowed
        if excess <= 0:
            return 0.0
        freed = 0
        for t, w in self._charges:
            freed += w
            if freed >= excess:
                return max(0.0, t + self.WINDOW_S - now)
        return self.WINDOW_S  # pragma: no cover - unreachable: the charges sum to _used

    async def acquire(self, weight: int) -> None:
        """Wait until ``weight`` fits, then record it. Never raises for lack of budget."""
        while True:
            wait = self.wait_needed(weight)
            if wait <= 0:
                break
            await self._sleep(wait)
        if self.per_minute is not None:
            self._record(self._clock(), weight)

    def charge(self, weight: int) -> None:
        """Record weight known only after a response (may push the window over; later calls wait)."""
        if self.per_minute is not None:
            now = self._clock()
            self._expire(now)
            self._record(now, weight)


class SharedWeightBudget(WeightBudget):
    """A :class:`WeightBudget` whose window lives in a file, shared by every dcactl process of the
    user that talks to the same host: a cron run, a ``sync`` and a ``doctor`` started in the same
    minute pace themselves together instead of each spending the per-IP limit.

    Each check-and-charge reads and rewrites ``path`` (the window's charges as JSON, wall-clock
    seconds) under an exclusive ``flock``. Pacing must never fail a run: an unreadable or corrupt
    file counts as an empty window, and when the file cannot be written the budget goes on alone
    in memory (what it was before it was shared).
    """

    def __init__(
        self,
        path: Path,
        per_minute: int | None = 1000,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(per_minute, clock=clock, sleep=sleep)
        self.path = path
        self.shared = per_minute is not None
        self._turn: list[tuple[int, asyncio.Future[float]]] = []
        self._turn_loop: asyncio.AbstractEventLoop | None = None

    @contextlib.contextmanager
    def _file(self) -> Iterator[None]:
        """Hold the file's lock with the window loaded from it; write the window back on exit."""
        if not self.shared:
            yield
            return
        fd = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._load(os.read(fd, 1 << 20))
        except OSError:
            if fd >= 0:
                os.close(fd)
            self.shared = False  # e.g. a read-only home or a file system without locks: pace alone
            yield
            return
        try:
            yield
            self._save(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def _save(self, fd: int) -> None:
        data = json.dumps([[round(t, 3), w] for t, w in self._charges]).encode()
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, data)
        except OSError:
            self.shared = False  # a full disk: the charges stay in memory, pacing goes on alone

    def _load(self, raw: bytes) -> None:
        now = self._clock()
        try:
            items = json.loads(raw or b"[]")
            charges = [(float(t), int(w)) for t, w in items]
        except (ValueError, TypeError):
            charges = []
        # a charge from the future means the wall clock went back: it no longer says anything
        kept = sorted((t, w) for t, w in charges if now - self.WINDOW_S < t <= now + 1 and w > 0)
        self._charges = deque(kept)
        self._used = sum(w for _, w in kept)

    def used(self) -> int:
        """Weight spent in the last 60 s by every process sharing the file."""
        with self._file():
            return super().used()

    async def acquire(self, weight: int) -> None:
        """Wait until ``weight`` fits the shared window, then record it there.

        The acquires made in one turn of the event loop (a round's concurrent requests, each
        starting in the same turn) are checked and recorded in order under one opening of the file,
        as if made one after the other: one lock and one read and write of the file for the round,
        not one per request (a 20-asset run sends 80 reads at once; each opening costs a few
        system calls, and under a busy interpreter every one of them waits for the GIL)."""
        while True:
            wait = await self._in_turn(weight)
            if wait <= 0:
                return
            await self._sleep(wait)

    def _in_turn(self, weight: int) -> asyncio.Future[float]:
        """A future of the wait ``weight`` needs (0: it was recorded), settled with the others of this
        loop turn by :meth:`_settle_turn`."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[float] = loop.create_future()
        if not self._turn or self._turn_loop is not loop:
            self._turn, self._turn_loop = [], loop
            loop.call_soon(self._settle_turn, self._turn)
        self._turn.append((weight, answer))
        return answer

    def _settle_turn(self, turn: list[tuple[int, asyncio.Future[float]]]) -> None:
        if turn is self._turn:
            self._turn = []
        waiting = [(weight, answer) for weight, answer in turn if not answer.done()]  # not cancelled
        if not waiting:
            return
        try:
            with self._file():
                for weight, answer in waiting:
                    wait = self.wait_needed(weight)
                    if wait <= 0 and self.per_minute is not None:
                        self._record(self._clock(), weight)
                    answer.set_result(wait)
        except Exception as exc:  # pragma: no cover - _file turns OSError into pacing alone
            for _, answer in waiting:
                if not answer.done():
                    answer.set_exception(exc)

    def charge(self, weight: int) -> None:
        """Record weight known only after a response in the shared window."""
        with self._file():
            super().charge(weight)


def pacing_path(folder: Path, base_url: str) -> Path:
    """The shared window file for ``base_url`` in ``folder``: one per API (host, port and path: the
    devnet serves Hyperliquid and its CoinGecko double on one port, each with its own limit), e.g.
    ``api.hyperliquid.xyz-443.json``, ``api.coingecko.com-443-api-v3.json``."""
    parts = httpx.URL(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    name = f"{parts.host or 'local'}-{port}{parts.path.rstrip('/').replace('/', '-')}"
    return folder / ("".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in name) + ".json")


def tls_context(base_url: str) -> ssl.SSLContext:
    """The TLS settings of a client of ``base_url``, built once per process and shared.

    An ``https`` API (and a plain ``http`` one reached through an ``https`` proxy) gets httpx's own
    verifying context (certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``); loading the bundle
    takes about 20 ms, so every client of the process shares one. A plain ``http`` API (a devnet)
    never speaks TLS: it gets a context that trusts no certificate at all, so that were TLS ever
    attempted it would fail verification rather than go unchecked, and nothing is loaded."""
    if urlsplit(base_url).scheme == "http" and not any(
        str(proxy).startswith("https:") for proxy in getproxies().values()
    ):
        return _no_trust_context()
    return _verifying_context()


@functools.cache
def _verifying_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


@functools.cache
def _no_trust_context() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names, trusts none


@dataclass(frozen=True)
class JsonResponse:
    """A decoded response with what doctor needs: the server's ``Date`` and the round-trip time."""

    data: Any
    server_date: datetime | None
    """The response's ``Date`` header (UTC-aware, 1 s resolution), None when absent or malformed."""
    elapsed_s: float
    """Seconds from sending the request to receiving the response headers."""


DATE_RESOLUTION = timedelta(seconds=1)
"""A ``Date`` header has whole seconds: the server's clock lies in [Date, Date + 1 s)."""


def skew_bounds(sent: datetime, received: datetime, server_date: datetime) -> tuple[timedelta, timedelta]:
    """(low, high] bounds of ``local − server`` from one answer: sent and received on our clock, the
    answer's ``Date`` on the server's (the server wrote it somewhere between the two)."""
    return sent - (server_date + DATE_RESOLUTION), received - server_date


def nearest_skew(low: timedelta, high: timedelta) -> timedelta:
    """The skew of smallest size in [low, high]: zero when the window holds it, else its nearest edge."""
    if low <= timedelta(0) <= high:
        return timedelta(0)
    return low if low > timedelta(0) else high


class ServerClock:
    """What the answers' ``Date`` headers tell of the server's clock against ours (``local − server``).

    Each answer bounds the skew; the bounds of a process's answers are intersected (the skew is taken
    as constant over one run), and a reading that contradicts them (our clock jumped) starts afresh.
    ``known`` is False until an answer carried a ``Date``.
    """

    def __init__(self) -> None:
        self.low: timedelta | None = None
        self.high: timedelta | None = None

    @property
    def known(self) -> bool:
        """Whether any answer carried a ``Date`` header."""
        return self.low is not None

    def observe(self, sent: datetime, received: datetime, server_date: datetime) -> None:
        """Narrow the bounds with one answer's ``Date``."""
        low, high = skew_bounds(sent, received, server_date)
        if self.low is None or self.high is None or low > self.high or high < self.low:
            self.low, self.high = low, high
        else:
            self.low, self.high = max(self.low, low), min(self.high, high)

    def skew(self) -> timedelta | None:
        """``local − server`` of smallest size the answers allow (positive: our clock is ahead)."""
        if self.low is None or self.high is None:
            return None
        return nearest_skew(self.low, self.high)

    def server_time(self, local: datetime) -> datetime:
        """Our clock's ``local`` on the server's clock (best estimate; ``local`` when unknown)."""
        if self.low is None or self.high is None:
            return local
        return local - (self.low + self.high) / 2

    def server_time_at_least(self, local: datetime) -> datetime:
        """A lower bound of the server's time at our ``local`` (``local`` itself when unknown)."""
        return local if self.high is None else local - self.high


def full_jitter(attempt: int, rng: random.Random | None = None) -> float:
    """Backoff before retry number ``attempt`` (1-based): uniform in [0, min(cap, base·2^(attempt−1))]."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** (attempt - 1)))
    return (rng or random).uniform(0, ceiling)


def _snippet(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line[:SNIPPET_CHARS] + ("…" if len(one_line) > SNIPPET_CHARS else "")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(RETRY_AFTER_CAP_S, max(0.0, float(value)))
    except ValueError:
        return None


class _Retryable(Exception):
    """Internal: a failure a read may retry; ``error`` is what is raised once attempts run out."""

    def __init__(self, error: DcactlError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class JsonHttp:
    """One service's JSON API over a shared :class:`httpx.AsyncClient`.

    ``service`` names the API in messages ("Hyperliquid", "CoinGecko"). ``timeout`` (seconds) applies
    to every request. ``transport`` replaces the network in tests; ``sleep`` replaces
    :func:`asyncio.sleep` for backoff (tests pass a no-op). ``client_error`` is raised for 4xx other
    than 429. Close with :meth:`aclose` (or ``async with``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: WeightBudget | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Sleep = asyncio.sleep,
        client_error: type[DcactlError] = ExchangeError,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.timeout = timeout
        self.budget = budget
        self.clock = ServerClock()
        """The server's clock against ours, from the answers' ``Date`` headers."""
        self.attempts_made = 0
        """Requests actually sent (retries included), for tests and diagnostics."""
        self.max_bytes = MAX_RESPONSE_BYTES
        """The largest answer read (bytes); tests lower it."""
        self._sleep = sleep
        self._client_error = client_error
        self._rng = rng
        self._unwritten = 0
        self._written_waiters: list[asyncio.Future[None]] = []
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers=dict(headers or {}),
            follow_redirects=False,
            verify=tls_context(base_url),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> JsonHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def requests_written(self) -> None:
        """Return once every request started so far (paced, connecting or sending) has been written to
        its connection, or has ended: what a caller does next no longer holds up a request leaving
        (issue 17: work for a thread is started then, while the answers are awaited, not while the
        round's requests are being sent)."""
        if self._unwritten:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._written_waiters.append(waiter)
            await waiter

    def _written(self) -> None:
        self._unwritten -= 1
        if not self._unwritten:
            waiters, self._written_waiters = self._written_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def post_json(
        self, path: str, body: Any, *, weight: int = 0, retry: bool, what: str
    ) -> Any:
        """POST ``body`` as JSON to ``path``; the decoded answer. See :meth:`request` for errors."""
        return (await self.request("POST", path, json_body=body, weight=weight, retry=retry, what=what)).data

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, weight: int = 0, retry: bool = True,
        what: str,
    ) -> Any:
        """GET ``path`` with query ``params``; the decoded answer. See :meth:`request` for errors."""
        return (await self.request("GET", path, params=params, weight=weight, retry=retry, what=what)).data

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        weight: int = 0,
        retry: bool,
        what: str,
    ) -> JsonResponse:
        """Send one request (retried up to :data:`MAX_ATTEMPTS` times when ``retry``).

        ``what`` names the call in messages (e.g. ``"/info l2Book @142"``); it must not contain secrets.
        Raises ExchangeUnavailable (timeout, connection error, 5xx, non-JSON body), RateLimited (429),
        or ``client_error`` (other 4xx), each chained to the underlying httpx error or response.
        """
        attempts = MAX_ATTEMPTS if retry else 1
        unwritten = _Unwritten(self)
        try:
            for attempt in range(1, attempts + 1):
                if self.budget is not None:
                    await self.budget.acquire(weight)
                try:
                    return await self._once(method, path, json_body, params, what, unwritten)
                except _Retryable as failure:
                    if attempt == attempts:
                        raise failure.error from failure.error.__cause__
                    delay = full_jitter(attempt, self._rng)
                    if failure.retry_after is not None:
                        delay = max(delay, failure.retry_after)
                    await self._sleep(delay)
        finally:
            unwritten.done()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, method: str, path: str, json_body: Any, params: Mapping[str, str] | None, what: str,
        unwritten: _Unwritten,
    ) -> JsonResponse:
        label = f"{self.service} {what}"
        self.attempts_made += 1
        mark("first_request")  # paced (the budget's wait is behind it): the request goes out now
        started = time.monotonic()
        sent_at = datetime.now(UTC)
        deadline = self.timeout * DEADLINE_FACTOR
        try:
            async with asyncio.timeout(deadline):
                response, body = await self._fetch(method, path, json_body, params, unwritten)
        except TimeoutError as exc:  # asyncio's deadline on the whole request
            late = ExchangeUnavailable(f"{label}: no complete answer within {deadline:g} s")
            late.__cause__ = exc
            raise _Retryable(late) from exc
        except _TooLarge as exc:
            raise ExchangeUnavailable(f"{label}: answer over {self.max_bytes:,} bytes; not read") from exc
        except httpx.TimeoutException as exc:
            timed_out = ExchangeUnavailable(f"{label}: no answer within {self.timeout:g} s")
            timed_out.__cause__ = exc
            raise _Retryable(timed_out) from exc
        except httpx.TransportError as exc:
            failed = ExchangeUnavailable(f"{label}: connection failed ({type(exc).__name__})")
            failed.__cause__ = exc
            raise _Retryable(failed) from exc
        elapsed = time.monotonic() - started
        server_date = _date_header(response)
        if server_date is not None:
            self.clock.observe(sent_at, datetime.now(UTC), server_date)
        text = body.decode(response.encoding or "utf-8", errors="replace")
        status = response.status_code
        if status >= 400:
            cause = httpx.HTTPStatusError(f"HTTP {status}", request=response.request, response=response)
            if status == 429:
                err: DcactlError = RateLimited(f"{label}: rate limited (HTTP 429)")
                err.__cause__ = cause
                raise _Retryable(err, _retry_after(response))
            if status >= 500:
                err = ExchangeUnavailable(f"{label}: server error HTTP {status}: {_snippet(text)}")
                err.__cause__ = cause
                raise _Retryable(err)
            raise self._client_error(f"{label}: refused with HTTP {status}: {_snippet(text)}") from cause
        try:
            data = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            garbled = ExchangeUnavailable(f"{label}: answer is not JSON: {_snippet(text)}")
            garbled.__cause__ = exc
            raise _Retryable(garbled) from exc
        return JsonResponse(data=data, server_date=server_date, elapsed_s=elapsed)

    async def _fetch(
        self, method: str, path: str, json_body: Any, params: Mapping[str, str] | None,
        unwritten: _Unwritten | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """The response and its body, read in chunks and refused past :attr:`max_bytes`; ``unwritten``
        is told when httpcore reports the request's body sent."""

        async def trace(event: str, info: Mapping[str, Any]) -> None:
            if event == "http11.send_request_body.complete" and unwritten is not None:
                unwritten.done()

        async with self._client.stream(
            method, path, json=json_body, params=params, extensions={"trace": trace}
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                chunks.append(chunk)
        return response, b"".join(chunks)


class _Unwritten:
    """One request of a :class:`JsonHttp` from its start until it is written to its connection (or
    has ended): what :meth:`JsonHttp.requests_written` waits for."""

    __slots__ = ("_http", "_open")

    def __init__(self, http: JsonHttp) -> None:
        self._http = http
        self._open = True
        http._unwritten += 1

    def done(self) -> None:
        """Written (or over): counted once."""
        if self._open:
            self._open = False
            self._http._written()


class _TooLarge(Exception):
    """An answer past :data:`MAX_RESPONSE_BYTES` (never retried: it would only come again)."""


def _date_header(response: httpx.Response) -> datetime | None:
    value = response.headers.get("date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None
