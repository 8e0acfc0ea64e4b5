"""`sync` pages correctly whichever fills the exchange keeps of a full ``userFillsByTime`` window (its
earliest or its most recent, oldest or newest first: sources disagree, hyperliquid-api.md §7), and a
plain `sync` picks up a fill that became visible after a newer one was synced.

The devnet's page cap is set to a handful of fills (``/devnet/fill-paging``) and sync's own
``PAGE_CAP`` to the same, so a window is full without thousands of fills."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support import write_portfolio

from dcactl.ingest.sync import CURSOR, LOOKBACK_MS, fill_id, sync_fills
from dcactl.ledger import Ledger, codec
from dcactl.models import Fill

ME = "0x" + "c3" * 20
OTHER = "0x" + "d4" * 20
ASSETS = '[assets.BTC]\namount = 10\nevery = "day"\n[assets.ETH]\namount = 10\nevery = "day"\n'
CAP = 5
"""The page cap of these tests, on the devnet and in sync alike."""


@pytest.fixture
def portfolio(tmp_path: Path, devnet: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A paper portfolio whose account is ME; request pacing off (the devnet's rate limit is off);
    sync and the devnet both capped at CAP fills an answer."""
    monkeypatch.setattr("dcactl.session.HL_WEIGHT_PER_MINUTE", None)
    monkeypatch.setattr("dcactl.ingest.sync.PAGE_CAP", CAP)
    assert devnet.admin.fill_paging(cap=CAP)["cap"] == CAP
    return write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS, settings=f'account = "{ME}"')


def _sync(cli: Any, cfg: Path, *args: str) -> dict[str, Any]:
    res = cli("--config", str(cfg), "--json", "sync", *args)
    assert res.code == 0, res.err
    out: dict[str, Any] = res.json()
    return out


def _stored(tmp_path: Path, devnet: Any) -> list[Fill]:
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=ME) as ledger:
        return ledger.fills()


def _key(tid: str, pair: str, time_ms: int, size: Any, price: Any) -> tuple[str, str, int, str, str]:
    return (tid, pair, time_ms, codec.text(size), codec.text(price))


def _as_held(fills: list[Fill]) -> list[tuple[str, str, int, str, str]]:
    """Ledger rows as (fill id, pair, time ms, size, price), sorted."""
    return sorted(_key(f.tid, f.pair, codec.to_us(f.time) // 1000, f.size, f.price) for f in fills)


def _devnet_held(devnet: Any, user: str) -> list[tuple[str, str, int, str, str]]:
    """The devnet's own fills of ``user`` (its whole kept history), as :func:`_as_held` lists rows."""
    return sorted(
        _key(fill_id(f), f["coin"], f["time"], Decimal(f["sz"]), Decimal(f["px"]))
        for f in devnet.admin.fills(user)
    )


def _history(devnet: Any, t: int) -> int:
    """31 fills of ME within about a second, shaped to cut pages of 5 everywhere: stepped fills,
    partial fills of one order, 3 and 4 fills sharing a millisecond, two trade-id-0 dust conversions
    in one millisecond, a second coin; and a few of OTHER's at the same instants. Returns the count."""
    a = devnet.admin
    n = 0
    for coin, count, step, per in [
        ("UBTC", 7, 100, 1),
        ("UETH", 4, 0, 2),
        ("UBTC", 6, 37, 3),
        ("UETH", 3, 0, 1),
        ("UBTC", 9, 11, 1),
    ]:
        last = a.inject_fills(ME, coin, count, "0.0001" if coin == "UBTC" else "0.003",
                              "100000" if coin == "UBTC" else "3500", start_ms=t, step_ms=step,
                              per_order=per)["lastTime"]
        a.inject_fills(OTHER, coin, 2, "0.0001", "100000" if coin == "UBTC" else "3500", start_ms=t,
                       step_ms=step)
        n += count
        t = last + 50
    a.dust(ME, "UBTC", "0.00000042", "99999.123", time_ms=t)
    a.dust(ME, "UETH", "0.0000007", "3499.77", time_ms=t)
    return n + 2


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("keep", ["newest", "earliest"])
def test_every_fill_is_synced_once_whichever_fills_a_full_window_keeps(
    tmp_path: Path, devnet: Any, cli: Any, portfolio: Path, keep: str, order: str
) -> None:
    """(a) "newest" — the devnet answers a full window with its most recent 5 fills (paging forward
    from the last time seen skipped all but those); (b) "earliest"; each answered oldest or newest
    first. The ledger holds exactly the devnet's fills of ME, each once; a second plain sync and a
    --full one add nothing and count what they re-read as duplicates, not new."""
    devnet.admin.fill_paging(keep=keep, order=order)
    total = _history(devnet, devnet.admin.time() - 60_000)
    held = _devnet_held(devnet, ME)
    assert len(held) == total == 31

    report = _sync(cli, portfolio)
    assert (report["inserted"], report["spot"], report["duplicates"]) == (total, total, 0)
    assert report["warnings"] == [] and report["pages"] > total // CAP  # full answers were split
    stored = _stored(tmp_path, devnet)
    assert len({f.tid for f in stored}) == len(stored) == total
    assert _as_held(stored) == held, "the ledger's rows are the devnet's fills of this account"
    assert sum(1 for f in stored if f.tid.startswith("0:")) == 2, "both dust conversions, told apart"
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=ME) as ledger:
        assert ledger.get_cursor(CURSOR) == max(h[2] for h in held)

    again = _sync(cli, portfolio)  # all of it lies within the lookback before the cursor
    assert (again["inserted"], again["duplicates"], again["warnings"]) == (0, total, [])
    full = _sync(cli, portfolio, "--full")
    assert (full["inserted"], full["duplicates"]) == (0, total)
    assert _as_held(_stored(tmp_path, devnet)) == held


def test_a_fill_that_shows_up_after_a_newer_one_is_synced_by_a_plain_sync(
    tmp_path: Path, devnet: Any, cli: Any, portfolio: Path
) -> None:
    """(c) 8 fills are synced; then the exchange shows a fill 10 s older than the cursor (late) and
    one newer. A plain sync (no --since/--full) rescans the lookback before its cursor: it stores
    both, reports 2 inserted and the 8 it re-read as duplicates, and moves the cursor to the newest.
    A fill older than the lookback is left to --since. (The devnet keeps a full window's earliest
    fills here, which paging forward handles, so only the late fill is at stake.)"""
    devnet.admin.fill_paging(keep="earliest")
    t = devnet.admin.time() - 120_000
    devnet.admin.inject_fills(ME, "UBTC", 8, "0.0001", "100000", start_ms=t, step_ms=1_000)
    first = _sync(cli, portfolio)
    assert first["inserted"] == 8
    devnet.admin.inject_fills(ME, "UBTC", 1, "0.0002", "100000", start_ms=t - 10_000)  # late
    devnet.admin.inject_fills(ME, "UETH", 1, "0.003", "3500", start_ms=t + 9_000)  # new
    second = _sync(cli, portfolio)
    assert (second["inserted"], second["duplicates"], second["warnings"]) == (2, 8, [])
    assert _as_held(_stored(tmp_path, devnet)) == _devnet_held(devnet, ME)
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=ME) as ledger:
        assert ledger.get_cursor(CURSOR) == t + 9_000

    ancient = t + 9_000 - LOOKBACK_MS - 1
    devnet.admin.inject_fills(ME, "UBTC", 1, "0.0003", "100000", start_ms=ancient)
    assert _sync(cli, portfolio)["inserted"] == 0
    since = datetime.fromtimestamp(ancient / 1000, UTC) - timedelta(seconds=1)
    assert _sync(cli, portfolio, "--since", since.isoformat())["inserted"] == 1
    assert _as_held(_stored(tmp_path, devnet)) == _devnet_held(devnet, ME)


# --- (d) sync_fills by hand, against an exchange that keeps a full window's most recent fills ----

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
NOW = datetime(2026, 1, 1, 1, tzinfo=UTC)
END = T0 + 3_600_000  # NOW in ms


class NewestThree:
    """userFillsByTime keeping the most recent 3 fills of a window, newest first; logs requests."""

    def __init__(self, fills: list[dict[str, Any]]) -> None:
        self.fills = fills
        self.requests: list[tuple[int, int]] = []

    async def fetch_page(self, start: int, end: int | None) -> list[dict[str, Any]]:
        assert end is not None
        self.requests.append((start - T0 if start else 0, end - T0))
        hits = [f for f in self.fills if start <= f["time"] <= end]
        return [dict(f) for f in hits[-3:][::-1]]


def _raw(
    offset: int, tid: int, coin: str = "@142", sz: str = "0.001", oid: int | None = None
) -> dict[str, Any]:
    """A raw spot fill at T0 + offset ms; trade id 0 makes it a dust conversion."""
    dust = tid == 0
    return {
        "coin": coin, "px": "100000.0", "sz": sz, "side": "A" if dust else "B", "time": T0 + offset,
        "startPosition": "0.0", "dir": "Spot Dust Conversion" if dust else "Buy", "closedPnl": "0.0",
        "hash": "0x" + f"{tid:064x}", "oid": oid if oid is not None else 900 + tid, "crossed": True,
        "fee": "0.0", "tid": tid, "feeToken": "USDC",
    }


def test_sync_fills_pages_an_exchange_that_keeps_the_most_recent_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(d) 9 fills at T0 + 10, 20, 20, 30, 40, 50, 60, 60, 70 ms (the two at 60 are dust conversions,
    trade id 0), an exchange keeping a full window's newest 3, newest first. By hand:

        (0, END)   → 60 60 70, full: split at its median 60       → (0, 60) then (61, END)
        (0, 60)    → 50 60 60, full: median 60, at most END − 1… → (0, 59) then (60, 60)
        (0, 59)    → 30 40 50, full: median 40                    → (0, 40) then (41, 59)
        (0, 40)    → 20 30 40, full: median 30                    → (0, 30) then (31, 40)
        (0, 30)    → 20 20 30, full: median 20                    → (0, 20) then (21, 30)
        (0, 20)    → 10 20 20, full: median 20, window ends at 20 → (0, 19) then (20, 20)
        (0, 19) → 10;  (20, 20) → 20 20;  (21, 30) → 30;  (31, 40) → 40;  (41, 59) → 50;
        (60, 60) → 60 60;  (61, END) → 70

    13 requests (2·N/(cap/2) + 1 with N = 9, cap = 3), all 9 fills stored once, cursor T0 + 70.
    Paging forward from the last time seen would have stored 60, 60, 70 only."""
    monkeypatch.setattr("dcactl.ingest.sync.PAGE_CAP", 3)
    fills = [_raw(10, 1), _raw(20, 2), _raw(20, 3), _raw(30, 4), _raw(40, 5), _raw(50, 6),
             _raw(60, 0, sz="0.0000004", oid=77), _raw(60, 0, coin="@151", sz="0.00002", oid=78),
             _raw(70, 9)]
    ex = NewestThree(fills)
    with Ledger.open(tmp_path / "l.db", network="devnet", account="0xabc") as ledger:
        report = asyncio.run(sync_fills(ledger, ex.fetch_page, {"@142": "BTC", "@151": "ETH"}, now=NOW))
        assert ex.requests == [
            (0, END - T0), (0, 60), (0, 59), (0, 40), (0, 30), (0, 20),
            (0, 19), (20, 20), (21, 30), (31, 40), (41, 59), (60, 60), (61, END - T0),
        ]
        assert (report.pages, report.inserted, report.duplicates, report.warnings) == (13, 9, 0, [])
        assert report.seen == 6 * 3 + 1 + 2 + 1 + 1 + 1 + 2 + 1  # six full answers, then the rest
        stored = sorted(ledger.fills(), key=lambda f: (f.time, f.tid))
        assert [codec.to_us(f.time) // 1000 - T0 for f in stored] == [10, 20, 20, 30, 40, 50, 60, 60, 70]
        assert {f.tid for f in stored} == {"1", "2", "3", "4", "5", "6", "9",
                                           "0:77:1767225600060:@142:0.0000004",
                                           "0:78:1767225600060:@151:0.00002"}
        assert ledger.get_cursor(CURSOR) == T0 + 70

        # a plain sync again: it starts LOOKBACK_MS before the cursor (before T0 here), so it reads
        # all 9 again in the same 13 requests and counts them as duplicates, none as new
        ex.requests.clear()
        again = asyncio.run(sync_fills(ledger, ex.fetch_page, {"@142": "BTC", "@151": "ETH"}, now=NOW))
        assert again.start_ms == T0 + 70 - LOOKBACK_MS
        assert (again.pages, again.inserted, again.duplicates) == (13, 0, 9)
        assert ledger.fill_count() == 9


def test_a_server_that_ignores_the_window_end_cannot_make_sync_spin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A double answering the earliest 3 fills from the window's start whatever its end (as a proxy
    dropping endTime would): only fills inside the window count, so a window whose answer runs past
    its end is complete, and sync ends with every fill stored once (it used to split the window down
    to the millisecond, one request each, and never end in practice)."""
    monkeypatch.setattr("dcactl.ingest.sync.PAGE_CAP", 3)
    fills = [_raw(10 * i, i) for i in range(1, 10)]
    requests: list[tuple[int, int]] = []

    async def earliest_three(start: int, end: int | None) -> list[dict[str, Any]]:
        requests.append((start - T0 if start else 0, (end or 0) - T0))
        return [dict(f) for f in fills if f["time"] >= start][:3]

    with Ledger.open(tmp_path / "l.db", network="devnet", account="0xabc") as ledger:
        report = asyncio.run(sync_fills(ledger, earliest_three, {"@142": "BTC"}, now=NOW))
        assert report.inserted == 9 and ledger.fill_count() == 9
        assert len(requests) < 40, requests
