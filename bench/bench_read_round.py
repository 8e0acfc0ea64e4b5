"""What one read round of a 20-asset run costs the client, by HTTP client (issue 17).

Run:  .venv/bin/python bench/bench_read_round.py [--latency-ms 100] [--repeat 9]

A warm live run of 20 assets reads, in one concurrent round, 60 ``orderStatus`` (each due asset's
period cloids: exactly once), 20 ``l2Book`` and one ``spotClearinghouseState``: 81 POSTs to /info.
This sends the same 81 requests at once to a devnet (``python -m dcactl.devnet``, its own process)
that adds ``--latency-ms`` to each, and prints, per client, the round's wall time and the CPU time
this process spent on it (medians of ``--repeat`` rounds, a new client per round, as in a run):

- ``dcactl``: :class:`dcactl.http.JsonHttp`, what a run uses (httpx, plus pacing off, the trace
  that tells when requests are written, JSON with Decimals, the server's clock);
- ``httpx``: a bare ``httpx.AsyncClient`` (the design card's HTTP client), given a TLS context with
  no certificates as dcactl gives an ``http`` URL (by default it would load the CA bundle, ~20 ms);
- ``aiohttp``: aiohttp's client (the devnet's server library);
- ``asyncio``: one ``asyncio.open_connection`` per request and a hand-written HTTP/1.1 request,
  the floor for 81 connections from Python on this machine.

The wall time above the latency is what the round adds to a run's 3 × latency; it comes mostly from
the client's CPU time, since the 81 requests are written and their answers read by one thread.
On the 2-core machine the goal of a 20-asset run (0.6 s, issue 17) left about 0.1 s for this round
beyond its latency; compare the figures with that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from dcactl.devnet.control import DevnetProcess


def _bodies(meta: dict[str, Any], account: str) -> list[dict[str, Any]]:
    coins = [f"@{pair['index']}" for pair in meta["universe"][:20]]
    bodies: list[dict[str, Any]] = [
        {"type": "orderStatus", "user": account, "oid": f"0x{i:032x}"} for i in range(60)
    ]
    bodies += [{"type": "l2Book", "coin": c} for c in coins]
    bodies.append({"type": "spotClearinghouseState", "user": account})
    return bodies


async def _dcactl(url: str, bodies: list[dict[str, Any]]) -> None:
    from dcactl.http import JsonHttp

    async with JsonHttp(url, service="Hyperliquid", timeout=10) as http:
        await asyncio.gather(*(http.post_json("/info", b, retry=False, what="bench") for b in bodies))


async def _httpx(url: str, bodies: list[dict[str, Any]]) -> None:
    import ssl

    import httpx

    no_trust = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # an http URL: nothing to verify, nothing loaded
    async with httpx.AsyncClient(base_url=url, timeout=10, verify=no_trust) as http:
        answers = await asyncio.gather(*(http.post("/info", json=b) for b in bodies))
    assert all(a.status_code == 200 for a in answers)


async def _aiohttp(url: str, bodies: list[dict[str, Any]]) -> None:
    import aiohttp

    async with aiohttp.ClientSession(url) as http:

        async def one(body: dict[str, Any]) -> bytes:
            async with http.post("/info", json=body) as answer:
                assert answer.status == 200
                return await answer.read()

        await asyncio.gather(*(one(b) for b in bodies))


async def _asyncio(url: str, bodies: list[dict[str, Any]]) -> None:
    parts = urlsplit(url)

    async def one(body: dict[str, Any]) -> bytes:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        data = json.dumps(body).encode()
        writer.write(b"POST /info HTTP/1.1\r\nHost: %b\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%b"
                     % (parts.netloc.encode(), len(data), data))
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200")
        return answer

    await asyncio.gather(*(one(b) for b in bodies))


CLIENTS: dict[str, Callable[[str, list[dict[str, Any]]], Awaitable[None]]] = {
    "dcactl": _dcactl, "httpx": _httpx, "aiohttp": _aiohttp, "asyncio": _asyncio,
}


def _round(client: Callable[[str, list[dict[str, Any]]], Awaitable[None]], url: str,
           bodies: list[dict[str, Any]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(client(url, bodies))
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    with DevnetProcess(seed=7) as dn:
        import httpx

        meta = httpx.post(f"{dn.url}/info", json={"type": "spotMeta"}, timeout=10).json()
        bodies = _bodies(meta, "0x" + "ab" * 20)
        dn.admin.faults(kind="latency", ms=args.latency_ms)
        for client in CLIENTS.values():  # each client's modules imported, its first round not counted
            _round(client, dn.url, bodies)
        print(f"# one read round of a 20-asset run: {len(bodies)} POSTs at once, devnet latency "
              f"{args.latency_ms} ms, medians of {args.repeat} rounds (clients alternated)")
        print(f"{'client':>8} | {'wall s':>7} {'over latency s':>14} | {'client CPU s':>12} "
              f"{'CPU / request ms':>16}")
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in CLIENTS}
        for _ in range(args.repeat):
            for name, client in CLIENTS.items():
                runs[name].append(_round(client, dn.url, bodies))
        for name, rounds in runs.items():
            wall = statistics.median(w for w, _ in rounds)
            cpu = statistics.median(c for _, c in rounds)
            print(f"{name:>8} | {wall:7.3f} {wall - args.latency_ms / 1000:14.3f} | {cpu:12.3f} "
                  f"{cpu / len(bodies) * 1000:16.2f}")


if __name__ == "__main__":
    main()
