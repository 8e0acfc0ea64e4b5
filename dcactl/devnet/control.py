"""Start and drive a devnet from tests, scripts and benchmarks.

- `DevnetThread`: a devnet in a background thread (own event loop) on a free loopback port.
- `DevnetProcess`: the same as a subprocess (`python -m dcactl.devnet`), for tests that kill it.
- `DevnetAdmin`: a small synchronous client for the /devnet/ admin routes.

    with DevnetThread(seed=1) as dn:
        dn.admin.fund(address, usdc=1000)
        info = Info(base_url=dn.url, skip_ws=True)
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

__all__ = ["DevnetAdmin", "DevnetProcess", "DevnetThread"]

_URL = re.compile(r"devnet listening on (http://\S+)")


class DevnetAdmin:
    """Synchronous client for the admin routes of the devnet at `url` (close it, or use `with`).

    Amounts and prices are decimal strings or numbers in token/quote units; times are Unix ms.
    Every method raises httpx.HTTPStatusError when the devnet refuses the request.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        r = self._http.post(path, json=body)
        r.raise_for_status()
        return r.json()

    def _get(self, route: str, **params: Any) -> Any:
        r = self._http.get(route, params={k: v for k, v in params.items() if v is not None})
        r.raise_for_status()
        return r.json()

    def fund(
        self,
        address: str,
        usdc: Decimal | str | float | None = None,
        token: str | int | None = None,
        amount: Decimal | str | float | None = None,
        perp_usdc: Decimal | str | float | None = None,
    ) -> dict[str, str]:
        """Credit `usdc` USDC, `amount` of `token` (name like "UBTC", or index) and/or `perp_usdc`
        USDC in the perp account to `address`; returns its spot balances {token: total}."""
        body: dict[str, Any] = {"address": address}
        if usdc is not None:
            body["usdc"] = str(usdc)
        if perp_usdc is not None:
            body["perpUsdc"] = str(perp_usdc)
        if token is not None:
            body["token"], body["amount"] = token, str(amount)
        out: dict[str, str] = self._post("/devnet/fund", body)["balances"]
        return out

    def balances(self, address: str) -> dict[str, Any]:
        """{"address", "balances": {token: total}, "holds": {token: hold}} (decimal strings)."""
        out: dict[str, Any] = self._get("/devnet/balances", address=address)
        return out

    def set_price(self, coin_or_symbol: str, px: Decimal | str | float, pin: bool = False) -> Decimal:
        """Move the mid of a pair (`@142`, `UBTC`, `PURR/USDC`) to `px` now; the walk carries on from
        there, or stays exactly at `px` with pin=True. Returns the new mid."""
        return Decimal(
            self._post("/devnet/price", {"coin": coin_or_symbol, "px": str(px), "pin": pin})["mid"]
        )

    def shock(self, coin_or_symbol: str, pct: float) -> Decimal:
        """Multiply a pair's price by (1 + pct/100) from now on (persists); returns the new mid."""
        return Decimal(self._post("/devnet/shock", {"coin": coin_or_symbol, "pct": pct})["mid"])

    def replay(self, coin_or_symbol: str, csv: str | None, anchor: str = "end") -> Decimal:
        """Replay candles from CSV text `t,o,h,l,c[,v]` (see docs/devnet.md); None clears. Returns the mid."""
        return Decimal(
            self._post("/devnet/replay", {"coin": coin_or_symbol, "csv": csv, "anchor": anchor})["mid"]
        )

    def orders(self, user: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        """Every order received (oldest first): time, user, signer, nonce, cloid, coin, oid, order
        (the wire dict), result (its status in the response) and status (orderStatus's)."""
        out: list[dict[str, Any]] = self._get("/devnet/orders", user=user, since=since)
        return out

    def actions(self, user: str | None = None, since: int | None = None) -> list[dict[str, Any]]:
        """Every /exchange action (oldest first): time, type, user, signer, nonce, status, response."""
        out: list[dict[str, Any]] = self._get("/devnet/actions", user=user, since=since)
        return out

    def requests(self, path: str | None = None, type: str | None = None) -> list[dict[str, Any]]:
        """The request log of /info (type, body) and CoinGecko calls (type, query), oldest first."""
        out: list[dict[str, Any]] = self._get("/devnet/requests", path=path, type=type)
        return out

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._http.delete("/devnet/requests").raise_for_status()

    def reset(self) -> None:
        """Forget accounts, orders, nonces, agents, logs, price overrides and faults."""
        self._post("/devnet/reset", {})

    def faults(self, **spec: Any) -> list[dict[str, Any]]:
        """Add one fault rule, e.g. faults(kind="error", path="/exchange", count=2, status=502),
        faults(kind="latency", ms=100, jitter_ms=20), faults(kind="429", count=3),
        faults(kind="hang", hang_ms=5000, types=["order"]), faults(kind="drop", path="/exchange", count=1).
        Returns the active rules."""
        out: list[dict[str, Any]] = self._post("/devnet/faults", spec)
        return out

    def list_faults(self) -> list[dict[str, Any]]:
        """The active fault rules."""
        out: list[dict[str, Any]] = self._get("/devnet/faults")
        return out

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._http.delete("/devnet/faults").raise_for_status()

    def time(self) -> int:
        """The exchange clock, Unix ms."""
        return int(self._get("/devnet/clock")["ms"])

    def set_clock(self, ms: int | None) -> int:
        """Freeze the exchange clock at `ms` (None: follow wall time again); returns the clock."""
        return int(self._post("/devnet/clock", {"ms": ms})["ms"])

    def dust(self, user: str, coin: str, sz: str, px: str, time_ms: int | None = None) -> dict[str, Any]:
        """Record a spot dust conversion of `sz` of `coin` at `px` for `user` (trade id 0)."""
        body: dict[str, Any] = {"user": user, "coin": coin, "sz": sz, "px": px}
        if time_ms is not None:
            body["timeMs"] = time_ms
        return dict(self._post("/devnet/dust", body))

    def maker_rate(self, user: str, rate: str) -> dict[str, Any]:
        """Set `user`'s maker fee rate (a fraction; negative is a rebate) for resting orders that fill."""
        return dict(self._post("/devnet/maker-rate", {"user": user, "rate": rate}))

    def fill_paging(
        self, keep: str | None = None, order: str | None = None, cap: int | None = None
    ) -> dict[str, Any]:
        """How ``userFillsByTime`` answers a full window: its ``keep`` = "newest" (default) or
        "earliest" ``cap`` (default 2000) fills, ``order`` = "asc" (default) or "desc"; None leaves a
        setting as it is. Returns the settings now in force."""
        body = {k: v for k, v in (("keep", keep), ("order", order), ("cap", cap)) if v is not None}
        out: dict[str, Any] = self._post("/devnet/fill-paging", body)
        return out

    def fills(self, user: str) -> list[dict[str, Any]]:
        """Every fill the devnet holds for `user` (its newest 10 000), oldest first."""
        out: list[dict[str, Any]] = self._get("/devnet/fills", user=user)
        return out

    def inject_fills(
        self,
        user: str,
        coin: str,
        count: int,
        sz: str,
        px: str,
        start_ms: int | None = None,
        step_ms: int = 0,
        per_order: int = 1,
    ) -> dict[str, Any]:
        """Record `count` buy fills of `sz` at `px` for `user` without validation (fast history)."""
        body: dict[str, Any] = {
            "user": user,
            "coin": coin,
            "count": count,
            "sz": sz,
            "px": px,
            "stepMs": step_ms,
            "perOrder": per_order,
        }
        if start_ms is not None:
            body["startMs"] = start_ms
        out: dict[str, Any] = self._post("/devnet/fills", body)
        return out

    def save(self) -> None:
        """Write the --state file now."""
        self._post("/devnet/save", {})


class _Base:
    url: str
    _admin: DevnetAdmin | None = None

    @property
    def admin(self) -> DevnetAdmin:
        """A DevnetAdmin for this devnet (closed on exit)."""
        if self._admin is None:
            self._admin = DevnetAdmin(self.url)
        return self._admin

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class DevnetThread(_Base):
    """A devnet served from a background thread on a free 127.0.0.1 port; `.url`, `.admin`.

    Rate limiting is off by default here (tests); pass rate_limit=True to test it.
    """

    def __init__(
        self,
        seed: int = 0,
        fund: dict[str, Decimal] | None = None,
        rate_limit: bool = False,
        universe: Path | None = None,
        state: Path | None = None,
    ) -> None:
        self._kwargs: dict[str, Any] = {
            "seed": seed,
            "fund": fund,
            "rate_limit": rate_limit,
            "universe": universe,
            "state": state,
        }
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""

    def _run(self) -> None:
        from dcactl.devnet.server import create_app, run_app

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def started(url: str) -> None:
                self.url = url
                self._ready.set()

            await run_app(create_app(**self._kwargs), "127.0.0.1", 0, started, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    def start(self) -> Self:
        """Start serving; returns once the port is open. Raises RuntimeError if it could not start."""
        self._thread = threading.Thread(target=self._run, name="devnet", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None or not self.url:
            raise RuntimeError(f"devnet did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        """Stop serving (state saved when configured) and join the thread."""
        self._close_admin()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class DevnetProcess(_Base):
    """A devnet in a subprocess (`python -m dcactl.devnet --port 0 ...`); `.url`, `.admin`, `.pid`.

    Rate limiting is off by default; `kill()` sends SIGKILL (no state saved), `stop()` SIGTERM.
    """

    def __init__(
        self,
        seed: int = 0,
        fund: dict[str, Decimal] | None = None,
        rate_limit: bool = False,
        universe: Path | None = None,
        state: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        python: str = sys.executable,
    ) -> None:
        self.cmd = [python, "-m", "dcactl.devnet", "--host", host, "--port", str(port), "--seed", str(seed)]
        for addr, amount in (fund or {}).items():
            self.cmd += ["--fund", f"{addr}={amount}"]
        if not rate_limit:
            self.cmd.append("--no-rate-limit")
        if universe is not None:
            self.cmd += ["--universe", str(universe)]
        if state is not None:
            self.cmd += ["--state", str(state)]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Self:
        """Spawn the server and wait for its URL line. Raises RuntimeError when it exits instead."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = _URL.search(line)
        if m is None:
            self.stop()
            raise RuntimeError(f"devnet did not start: {line!r}")
        self.url = m.group(1)
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (state saved); returns the exit code."""
        self._close_admin()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL the server (nothing saved after the last periodic save)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
