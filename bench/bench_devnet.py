"""Benchmark the devnet: requests/s for `allMids` and for pre-signed single-order actions.

Run:  .venv/bin/python bench/bench_devnet.py [--requests 4000] [--orders 2000] [--concurrency 8]

Starts `python -m dcactl.devnet --no-rate-limit` as a subprocess (DevnetProcess), funds a
throwaway key, signs every order action beforehand (coincurve over the EIP-712 digest, checked
against the SDK's signature once), then fires them over a few keep-alive connections (aiohttp).
Targets: ≥ 1000 info req/s, ≥ 300 signed orders/s; 5000 daily candles computed cold < 2.5 s and
from the cache < 0.5 s (these two were once wall-clock asserts in the test run; they are measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal
from typing import Any

import aiohttp
from coincurve import PrivateKey
from eth_account import Account
from hyperliquid.utils.signing import sign_l1_action

from dcactl.devnet.control import DevnetProcess
from dcactl.devnet.signing import l1_action_hash, l1_digest


def _sign(key: PrivateKey, action: dict[str, Any], nonce: int) -> dict[str, Any]:
    sig = key.sign_recoverable(l1_digest(l1_action_hash(action, nonce, None, None)), hasher=None)
    return {
        "r": hex(int.from_bytes(sig[:32], "big")),
        "s": hex(int.from_bytes(sig[32:64], "big")),
        "v": sig[64] + 27,
    }


async def _fire(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, dict[int, int], list[Any]]:
    codes: dict[int, int] = {}
    replies: list[Any] = []
    queue = list(reversed(bodies))
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, headers={"Content-Type": "application/json"}) as s:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with s.post(url, data=body) as r:
                    codes[r.status] = codes.get(r.status, 0) + 1
                    replies.append(await r.json(content_type=None))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, codes, replies


def main() -> int:
    """Run both measurements and print them with the command line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=4_000)
    ap.add_argument("--orders", type=int, default=2_000)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    print("command:", " ".join([sys.executable, *sys.argv]))
    wallet = Account.create()
    key = PrivateKey(bytes(wallet.key))
    with DevnetProcess(seed=1, rate_limit=False, fund={wallet.address: Decimal(10_000_000)}) as dn:
        mids_body = json.dumps({"type": "allMids"}).encode()
        asyncio.run(_fire(dn.url + "/info", [mids_body] * 200, a.concurrency))  # warm-up
        dt, codes, _ = asyncio.run(_fire(dn.url + "/info", [mids_body] * a.requests, a.concurrency))
        info_rps = a.requests / dt
        print(f"allMids: {a.requests} requests in {dt:.2f} s = {info_rps:,.0f} req/s  codes={codes}")

        mid = Decimal(json.loads(_post_sync(dn.url + "/info", mids_body))["@142"])
        px = str(int(mid * Decimal("1.05")))
        nonce0 = int(time.time() * 1000)
        t0 = time.perf_counter()
        bodies = []
        for i in range(a.orders):
            action = {
                "type": "order",
                "orders": [
                    {
                        "a": 10142,
                        "b": True,
                        "p": px,
                        "s": "0.00012",
                        "r": False,
                        "t": {"limit": {"tif": "Ioc"}},
                    }
                ],
                "grouping": "na",
            }
            sig = _sign(key, action, nonce0 + i)
            if i == 0:
                assert sig == sign_l1_action(wallet, action, None, nonce0, None, False), "signature mismatch"
            bodies.append(
                json.dumps(
                    {"action": action, "nonce": nonce0 + i, "signature": sig, "vaultAddress": None}
                ).encode()
            )
        print(f"pre-signed {a.orders} order actions in {time.perf_counter() - t0:.2f} s (not timed below)")
        dt, codes, replies = asyncio.run(_fire(dn.url + "/exchange", bodies, a.concurrency))
        order_rps = a.orders / dt
        filled = sum(1 for r in replies if "filled" in json.dumps(r))
        errs = [r for r in replies if r.get("status") != "ok"]
        print(
            f"orders: {a.orders} signed single-order actions in {dt:.2f} s = {order_rps:,.0f} orders/s "
            f" codes={codes} filled={filled} rejected_actions={len(errs)}"
        )
        if errs:
            print("  first rejection:", errs[0])
    cold, warm = _candle_speed()
    print(f"candles: 5000 daily candles cold {cold:.2f} s (target < 2.5, ratio {cold / 2.5:.2f}), "
          f"cached {warm:.3f} s (target < 0.5, ratio {warm / 0.5:.2f})")
    ok = info_rps >= 1_000 and order_rps >= 300 and cold < 2.5 and warm < 0.5
    print(
        f"targets: info ≥ 1000 req/s {'met' if info_rps >= 1_000 else 'MISSED'}; "
        f"orders ≥ 300/s {'met' if order_rps >= 300 else 'MISSED'}"
    )
    return 0 if ok else 1


def _candle_speed() -> tuple[float, float]:
    """Seconds to compute 5000 daily candles of a fresh series, then the same again (cached)."""
    from dcactl.devnet.candles import candle_snapshot
    from dcactl.devnet.prices import Series

    s = Series(0, 142, 100_000, 0.5, 1e-5)
    now = 1_795_000_000_000
    t0 = time.perf_counter()
    candle_snapshot(s, "@142", "1d", 0, now, now, 5)
    t1 = time.perf_counter()
    candle_snapshot(s, "@142", "1d", 0, now, now, 5)
    return t1 - t0, time.perf_counter() - t1


def _post_sync(url: str, body: bytes) -> str:
    import httpx

    with httpx.Client() as c:
        return c.post(url, content=body, headers={"Content-Type": "application/json"}).text


if __name__ == "__main__":
    sys.exit(main())
