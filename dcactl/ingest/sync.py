"""``dcactl sync``: the account's exchange fills → the ledger, exactly once each.

Hyperliquid's ``userFillsByTime`` returns at most 2000 fills with startTime ≤ time ≤ endTime, and
keeps only an account's 10,000 most recent fills. Sources disagree on *which* 2000 of a fuller window
it returns (the earliest, or the most recent) and in which order (fact sheet §7), so sync assumes
neither: each answer is sorted, and a window whose answer is full is split in two at the answer's
median time, left half first, until every window's answer is complete. Windows are finished in time
order, so the stored cursor (per network and account) only ever moves past fills that are all stored.
Every plain sync starts :data:`LOOKBACK_MS` before the cursor, so a fill that became visible after a
newer one is still picked up; the overlap costs nothing (fills are deduplicated by their id: the
trade id, or for trade-id-0 dust conversions the oid, time, coin and size — :func:`fill_id`; never
the oid alone, which would lose partial fills). Spot fills only (coin ``@N`` or ``BASE/QUOTE``);
perp fills are ignored. Fills are matched to our order intents by cloid, else oid (source ``dcactl``,
with the intent's period); the rest are ``external``. Imported legacy fills that turn out to be
exchange fills are then marked superseded (never counted twice).

Requests: one for a window of fewer than 2000 fills (PAGE_CAP); one of N ≥ 2000 fills costs about
2·N/1000 + 1 in all, whichever 2000 the exchange returns: each full answer is split at its median,
and one half holds only about 1000 of the answer's fills (the later half when the exchange kept the
window's newest, the earlier when it kept its earliest), so it comes back whole: a full request and a
whole one per 1000 fills, then the last window. Many fills sharing a millisecond at a split can add a
few more (tests/test_sync_paging.py counts 13 requests for 9 fills at a cap of 3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dcactl.errors import UsageError
from dcactl.ledger import Ledger, codec
from dcactl.models import DUST_REASON, Fill, from_ms, iso_utc

if TYPE_CHECKING:
    from dcactl.session import Session

PAGE_CAP = 2000
"""The exchange's maximum number of fills per ``userFillsByTime`` response."""
HISTORY_CAP = 10_000
"""The exchange keeps only this many of an account's most recent fills."""
DUST_DIR = "Spot Dust Conversion"
"""The ``dir`` of a fill the exchange made itself, converting a dust balance into USDC (trade id 0)."""
CURSOR = "sync.fills_ms"
"""Ledger cursor: the newest fill time (ms) stored by a sync; the next sync starts a lookback before it."""
LOOKBACK_MS = 3_600_000
"""A plain sync rescans this much before its cursor: a fill the exchange shows only after newer ones
(seconds late in practice) is still found. An hour of a DCA account's fills is one request."""

FetchPage = Callable[[int, int | None], Awaitable[list[dict[str, Any]]]]


@dataclass
class SyncReport:
    """What one sync did. Counts are of fills (not orders).

    ``seen``: fills the exchange returned (every coin, page overlaps included); ``spot``: distinct
    spot fills among them; ``inserted``: new rows; ``duplicates``: distinct spot fills the ledger
    already held; ``perp_ignored``; ``external``: inserted fills not made by dcactl; ``matched``:
    inserted fills matched to our intents; ``matched_imports``: imported legacy fills found to be
    exchange fills (now superseded); ``start_ms``/``cursor_ms``: where paging started and the stored
    cursor after it (Unix ms); ``warnings``: one line each.
    """

    pages: int = 0
    seen: int = 0
    spot: int = 0
    inserted: int = 0
    duplicates: int = 0
    perp_ignored: int = 0
    external: int = 0
    matched: int = 0
    matched_imports: int = 0
    malformed: int = 0
    start_ms: int = 0
    cursor_ms: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``sync --json`` document (times as ISO-8601 UTC)."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("start_ms", "cursor_ms")}
        out["start"] = iso_utc(from_ms(self.start_ms))
        out["cursor"] = None if self.cursor_ms is None else iso_utc(from_ms(self.cursor_ms))
        return out


def is_spot(coin: str) -> bool:
    """Spot pairs are named ``@<pair index>`` or ``BASE/QUOTE`` (``PURR/USDC``); perps by bare name."""
    return coin.startswith("@") or "/" in coin


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    # Floats would only come from a misbehaving server; repr() is their exact shortest text.
    return Decimal(repr(value) if isinstance(value, float) else str(value))


def to_fill(raw: Mapping[str, Any], asset: str, intent: tuple[str, str] | None) -> Fill:
    """One raw ``userFillsByTime`` dict → a :class:`Fill` (exact decimals from the strings).

    ``intent`` is (cloid, period) of our intent when the fill is ours (source ``dcactl``), else the
    fill is ``external``. Raises ValueError/KeyError on a malformed fill.
    """
    side = raw["side"]
    if side not in ("B", "A"):
        raise ValueError(f"side {side!r}")
    raw_cloid = raw.get("cloid")
    return Fill(
        time=codec.from_us(int(raw["time"]) * 1000),
        asset=asset,
        pair=str(raw["coin"]),
        side=side,
        size=_decimal(raw["sz"]),
        price=_decimal(raw["px"]),
        fee=_decimal(raw.get("fee", "0")),
        fee_token=str(raw.get("feeToken") or "USDC"),
        tid=fill_id(raw),
        source="dcactl" if intent else "external",
        oid=None if raw.get("oid") is None else int(raw["oid"]),
        cloid=intent[0] if intent else (str(raw_cloid) if raw_cloid else None),
        hash=raw.get("hash") or None,
        period=intent[1] if intent else None,
        reason=DUST_REASON if raw.get("dir") == DUST_DIR else None,
    )


def fill_id(raw: Mapping[str, Any]) -> str:
    """The ledger's identity of a raw fill: its trade id; for the exchange's own fills that carry
    trade id 0 (spot dust conversions, several per account), ``0:<oid>:<time ms>:<coin>:<size>``, so
    each is kept once and none is lost (PRODUCT.md "Every fill is kept"). Raises KeyError/ValueError
    on a malformed fill."""
    tid = str(raw["tid"])
    if tid.strip() not in ("0", "0.0", ""):
        return tid
    size = codec.text(_decimal(raw["sz"]))
    oid = "" if raw.get("oid") is None else str(int(raw["oid"]))
    return f"0:{oid}:{int(raw['time'])}:{raw['coin']}:{size}"


class _IntentIndex:
    """Our intents by cloid and oid (loaded once per sync), to tell our fills from external ones."""

    def __init__(self, ledger: Ledger) -> None:
        rows = ledger.intent_keys()
        self.by_cloid = {r[0].lower(): (r[0], r[1]) for r in rows}
        self.by_oid = {int(r[2]): (r[0], r[1]) for r in rows if r[2] is not None}

    def match(self, raw: Mapping[str, Any]) -> tuple[str, str] | None:
        cloid = raw.get("cloid")
        if isinstance(cloid, str) and cloid.lower() in self.by_cloid:
            return self.by_cloid[cloid.lower()]
        oid = raw.get("oid")
        if isinstance(oid, int) and oid in self.by_oid:
            return self.by_oid[oid]
        return None


async def sync_fills(
    ledger: Ledger,
    fetch_page: FetchPage,
    coin_to_asset: Mapping[str, str],
    *,
    since: datetime | None = None,
    full: bool = False,
    now: datetime,
) -> SyncReport:
    """Page the account's fills into ``ledger``; see the module docstring.

    ``fetch_page(start_ms, end_ms)`` returns raw ``userFillsByTime`` dicts (the caller binds the
    master account, so other accounts' fills never enter); it may raise the venue's errors
    (ExchangeUnavailable, RateLimited, ...), which propagate — pages already stored stay stored
    and the cursor points at the last one, so the next sync resumes. ``coin_to_asset`` maps spot
    pair names (``@142``) to dcactl symbols; an unmapped spot coin is stored with its pair name as
    asset, so nothing is lost. ``since`` (a re-scan from that instant) or ``full`` (from the
    beginning) re-read history; neither adds a fill twice. ``now`` bounds the scan (endTime).
    """
    report = SyncReport()
    cursor = ledger.get_cursor(CURSOR)
    if since is not None:
        start = codec.to_us(since) // 1000
    elif full or cursor is None:
        start = 0
    else:
        start = max(0, cursor - LOOKBACK_MS)
    report.start_ms = start
    end = codec.to_us(now) // 1000
    intents = _IntentIndex(ledger)
    seen_ids: set[str] = set()
    held: set[str] = set()  # distinct fills of every coin the exchange returned
    newest = cursor
    first_time: int | None = None
    windows = [(start, end)]  # a stack: the left (older) half is always taken first
    while windows:
        lo, hi = windows.pop()
        answer = await fetch_page(lo, hi)
        # only fills inside the window count: a server that ignores endTime (and answers the window's
        # earliest fills and later ones) must not look full forever and split the window to the ms
        page = sorted((f for f in answer if lo <= int(f.get("time", lo)) <= hi), key=lambda f: int(f["time"]))
        report.pages += 1
        report.seen += len(page)
        held.update(_safe_id(f) for f in page)
        if len(page) >= PAGE_CAP and lo < hi:
            # some 2000 of this window (which ones depends on the exchange): split at the median
            mid = min(max(int(page[len(page) // 2]["time"]), lo), hi - 1)
            windows += [(mid + 1, hi), (lo, mid)]
            continue
        if len(page) >= PAGE_CAP:
            report.warnings.append(
                f"{len(page)} fills share the instant {iso_utc(from_ms(lo))}; fills beyond the"
                f" exchange's {PAGE_CAP}-per-request cap at that instant may be missing"
            )
        if page and (first_time is None or int(page[0]["time"]) < first_time):
            first_time = int(page[0]["time"])
        fills = _page_fills(page, coin_to_asset, intents, seen_ids, report)
        known = ledger.known_tids([f.tid for f in fills])
        new = [f for f in fills if f.tid not in known]
        report.inserted += ledger.add_fills(new)
        report.duplicates += len(fills) - len(new)
        report.external += sum(1 for f in new if f.source == "external")
        report.matched += sum(1 for f in new if f.source == "dcactl")
        last = int(page[-1]["time"]) if page else None
        if last is not None and (newest is None or last > newest):
            newest = last  # every window before this one is complete: all fills up to here are stored
            ledger.set_cursor(CURSOR, newest)
    report.cursor_ms = newest
    # Only an account at the cap can have lost older fills (``seen`` counts page overlaps twice).
    needed_from = cursor if since is None and not full and cursor is not None else report.start_ms
    if first_time is not None and first_time > needed_from and len(held) >= HISTORY_CAP:
        report.warnings.append(
            f"the exchange's history starts at {iso_utc(from_ms(first_time))}, after the requested start"
            f" {iso_utc(from_ms(report.start_ms))}: it keeps only the {HISTORY_CAP:,} most recent fills,"
            " so any older fills are no longer held and cannot be synced"
        )
    report.matched_imports = ledger.match_imports()
    return report


def _page_fills(
    page: list[dict[str, Any]],
    coin_to_asset: Mapping[str, str],
    intents: _IntentIndex,
    seen_tids: set[str],
    report: SyncReport,
) -> list[Fill]:
    """The spot fills of one page not already seen in this sync, as Fills."""
    out: list[Fill] = []
    for raw in page:
        coin = str(raw.get("coin", ""))
        if not is_spot(coin):
            report.perp_ignored += 1
            continue
        tid = _safe_id(raw)
        if tid in seen_tids:
            continue  # the overlapping boundary of the previous page
        try:
            fill = to_fill(raw, coin_to_asset.get(coin, coin), intents.match(raw))
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            report.malformed += 1
            if report.malformed <= 3:
                report.warnings.append(f"skipped a malformed fill (tid {tid}): {exc!r}")
            continue
        seen_tids.add(tid)
        report.spot += 1
        out.append(fill)
    return out


def _safe_id(raw: Mapping[str, Any]) -> str:
    """:func:`fill_id`, or the raw trade id text for a fill too malformed to name (skipped later)."""
    try:
        return fill_id(raw)
    except (KeyError, ValueError, TypeError, InvalidOperation):
        return str(raw.get("tid"))


async def sync_account(session: Session, *, since: datetime | None = None, full: bool = False) -> SyncReport:
    """Sync the configured account's fills from its exchange into the ledger (``dcactl sync``).

    Fills are named by the configured assets' pairs first, then by every USDC spot pair's ticker.
    Raises UsageError when no account is configured (paper mode without an address).
    """
    from dcactl.market.data import load_spot_meta
    from dcactl.market.resolve import coin_to_symbol, resolve_markets
    from dcactl.models import Market, utcnow

    account = session.config.settings.account
    if not account:
        raise UsageError(
            f"{session.config.path}: settings.account: sync needs the account whose fills to read"
        )
    now = utcnow()
    meta, _ = await load_spot_meta(session.hl, session.ledger, now)
    names = coin_to_symbol(meta)
    for market in resolve_markets(session.config.assets, meta).values():
        if isinstance(market, Market) and market.coin:
            names[market.coin] = market.symbol

    async def fetch_page(start_ms: int, end_ms: int | None) -> list[dict[str, Any]]:
        return [dict(f) for f in await session.hl.user_fills_by_time(account.lower(), start_ms, end_ms)]

    return await sync_fills(session.ledger, fetch_page, names, since=since, full=full, now=now)
