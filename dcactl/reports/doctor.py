"""``dcactl doctor``: the preflight a user runs before trusting dcactl with money.

:func:`run_doctor` reads everything it needs in two concurrent rounds — (1) a probe of the API
(latency, server clock), spot metadata, the account's spot and perp USDC, the signer's role and the
account's agents; (2) every asset's book and one CoinGecko request for the paper assets — then
hands the answers to the pure checks of :mod:`dcactl.reports.doctorchecks`. A failed read never raises: it
becomes a failing line. :func:`render_doctor` prints the table (or ``--json``:
``{"checks": [{"name", "status", "detail", "fix"}], "ok": bool}``); the exit code is 1 when any
check failed (warnings and skips do not fail).

Checks: config, key, account, balance (and runway), one ``market <ASSET>`` line per enabled asset,
clock, connectivity (Hyperliquid; CoinGecko only when a paper asset is priced there), ledger, notify
(the [notify] URLs parse and their sources resolve; nothing is sent).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from dcactl.errors import DcactlError, ExitCode
from dcactl.models import Market, utcnow
from dcactl.reports.doctorchecks import (
    Check,
    agent_check,
    balance_check,
    caps_check,
    clock_check,
    config_check,
    connectivity_check,
    key_check,
    ledger_check,
    market_check,
)

if TYPE_CHECKING:
    from dcactl.config.keys import Signer
    from dcactl.session import Session
    from dcactl.venues.base import ServerProbe

__all__ = ["Check", "DoctorReport", "local_now", "render_doctor", "run_doctor"]

T = TypeVar("T")


def local_now() -> datetime:
    """The local clock doctor compares with the exchange's (a seam: tests skew it)."""
    return datetime.now(UTC)


@dataclass
class DoctorReport:
    """Every check, in display order."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings are fine)."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        """``FAILED`` (1) when any check failed, else ``OK``."""
        return ExitCode.OK if self.ok else ExitCode.FAILED

    def check(self, name: str) -> Check:
        """The check called ``name``. Raises KeyError."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """``{"checks": [...], "ok": bool}``."""
        return {"checks": [c.to_json() for c in self.checks], "ok": self.ok}


async def _try(awaitable: Awaitable[T]) -> T | DcactlError:
    """The result, or the DcactlError it raised (anything else is a bug and propagates)."""
    try:
        return await awaitable
    except DcactlError as exc:
        return exc


async def _timed(awaitable: Awaitable[Any]) -> float | DcactlError:
    started = time.monotonic()
    result = await _try(awaitable)
    return result if isinstance(result, DcactlError) else time.monotonic() - started


async def _probe(session: Session) -> tuple[ServerProbe | DcactlError, datetime]:
    """One probe, and the local clock at its middle."""
    before = local_now()
    probe = await _try(session.hl.probe())
    after = local_now()
    return probe, before + (after - before) / 2


async def _nothing() -> None:
    return None


async def _constant(value: T) -> T:
    return value


async def _quotes(
    session: Session, markets: list[Market], fallback_ids: list[str]
) -> tuple[dict[str, Any], float | DcactlError | None]:
    """Books of listed markets and one timed CoinGecko request for the unlisted ones, concurrently.

    ``fallback_ids`` are asked instead when no market resolved to CoinGecko (metadata unavailable),
    so CoinGecko's connectivity is still checked. Returns symbol → Quote or error, and the CoinGecko
    latency (s), its error, or None when no paper asset needs it.
    """
    from dcactl.market.data import book_quote, quotes_from_prices

    listed = [m for m in markets if m.listed]
    unlisted = [m for m in markets if not m.listed and m.coingecko_id]
    ids = sorted({m.coingecko_id or "" for m in unlisted}) or sorted(set(fallback_ids))
    started = time.monotonic()

    async def cg() -> tuple[Any, float]:
        answer = await _try(session.cg.simple_price(ids))
        return answer, time.monotonic() - started

    books, (prices, elapsed) = await asyncio.gather(
        asyncio.gather(*(_try(book_quote(session.hl, m)) for m in listed)),
        cg() if ids else _constant((None, 0.0)),
    )
    quotes: dict[str, Any] = dict(zip((m.symbol for m in listed), books, strict=True))
    if not ids:
        return quotes, None
    if isinstance(prices, DcactlError):
        quotes.update(dict.fromkeys((m.symbol for m in unlisted), prices))
        return quotes, prices
    quotes.update(quotes_from_prices(unlisted, prices))
    return quotes, elapsed


def _signer(session: Session) -> Signer:
    return session.signer


async def run_doctor(session: Session) -> DoctorReport:
    """Run every check against ``session``'s config, ledger and exchange; never raises for a failed
    read (it becomes a failing line). Assets are checked when enabled."""
    from dcactl.ledger.migrations import MIGRATIONS
    from dcactl.market.data import load_spot_meta
    from dcactl.market.resolve import resolve_markets
    from dcactl.run.core import PRICE_MARGIN

    config, settings = session.config, session.config.settings
    report = DoctorReport([config_check(config)])
    key_line, signer = key_check(settings.key, session.live, lambda: _signer(session))
    report.checks.append(key_line)
    account = settings.account.lower() if settings.account else None
    wants_account = account is not None and (session.live or settings.key is not None)
    check_agent = wants_account and signer is not None and account is not None and signer.address != account

    probe_task = _probe(session)
    meta_task = _try(load_spot_meta(session.hl, session.ledger, utcnow()))
    balances_task = _try(session.hl.spot_balances(account)) if session.live and account else _nothing()
    perp_task = _try(session.hl.perp_balance(account)) if session.live and account else _nothing()
    role_task = _try(session.hl.user_role(signer.address)) if check_agent and signer else _nothing()
    agents_task = _try(session.hl.extra_agents(account)) if check_agent and account else _nothing()
    (probe, local_mid), meta, balances, perp, role, agents = await asyncio.gather(
        probe_task, meta_task, balances_task, perp_task, role_task, agents_task
    )

    if not wants_account or account is None:
        report.checks.append(Check("account", "skip", "paper mode needs no key"))
    elif signer is None:
        report.checks.append(Check("account", "skip", "not checked: the key did not load"))
    else:
        role_answer = role if role is not None else {}
        report.checks.append(agent_check(signer.address, account, role_answer, agents or [], utcnow()))

    enabled = [a for a in config.assets if a.enabled]
    resolved: dict[str, Market | DcactlError]
    meta_warning: str | None = None
    if isinstance(meta, DcactlError):
        resolved = dict.fromkeys((a.symbol for a in enabled), meta)
    else:
        meta_doc, meta_warning = meta
        resolved = dict(resolve_markets(enabled, meta_doc))

    if session.live and account:
        live_assets = [a for a in enabled if not _is_paper(a, resolved.get(a.symbol))]
        usdc = balances if isinstance(balances, DcactlError) else _usdc(balances)
        perp_usdc = perp if perp is not None else Decimal(0)
        report.checks.append(balance_check(account, usdc, perp_usdc, live_assets))
    else:
        report.checks.append(Check("balance", "skip", "paper mode spends no USDC"))

    caps = caps_check(enabled, settings.max_usd_per_run, settings.max_usd_per_day)
    if caps is not None:
        report.checks.append(caps)

    markets = [m for m in resolved.values() if isinstance(m, Market)]
    fallback_ids = _paper_ids(enabled) if isinstance(meta, DcactlError) else []
    quotes, cg_latency = await _quotes(session, markets, fallback_ids)
    for a in enabled:
        market = resolved[a.symbol]
        quote = quotes.get(a.symbol) if isinstance(market, Market) else None
        report.checks.append(market_check(a, market, quote, settings.max_slippage_bps, PRICE_MARGIN))
    if meta_warning:
        report.checks.append(Check("spot metadata", "warn", meta_warning, "see the connectivity line"))

    report.checks.append(clock_check(probe, local_mid))
    latency = probe if isinstance(probe, DcactlError) else probe.latency_s
    report.checks.append(connectivity_check("connectivity hyperliquid", settings.api_url, latency))
    if cg_latency is not None:
        cg_line = connectivity_check("connectivity coingecko", settings.coingecko_base_url, cg_latency)
        report.checks.append(cg_line)

    ledger = session.ledger
    report.checks.append(
        ledger_check(
            session.db_path,
            ledger.migrations(),
            MIGRATIONS[-1][0],
            ledger.open_intents(),
            ledger.fill_count(),
        )
    )
    from dcactl.notify.hooks import notify_check

    report.checks.append(Check("notify", *notify_check(config.notify)))
    return report


def _is_paper(asset: Any, market: Market | DcactlError | None) -> bool:
    """Paper assets spend no USDC; an unresolved one counts as live unless the config says paper."""
    if isinstance(market, Market):
        return market.venue == "paper"
    return bool(asset.venue == "paper")


def _paper_ids(assets: list[Any]) -> list[str]:
    """CoinGecko ids of assets that may be paper when metadata could not be read (not forced to
    Hyperliquid, with an id from the config or dcactl's table)."""
    from dcactl.market.coingecko import COINGECKO_IDS

    ids = (a.coingecko_id or COINGECKO_IDS.get(a.symbol) for a in assets if a.venue != "hyperliquid")
    return [i for i in ids if i]


def _usdc(balances: Any) -> Decimal:
    usdc = balances.get("USDC") if isinstance(balances, dict) else None
    return usdc.available if usdc is not None else Decimal(0)


_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def render_doctor(report: DoctorReport) -> None:
    """The checks as a table on stdout (``--json``: one document). ``--quiet`` shows only the lines
    that are not ok, so a healthy system prints nothing."""
    from rich.table import Table
    from rich.text import Text

    from dcactl.cli import output

    if output.OPTIONS.json:
        output.print_json(report.to_json())
        return
    rows = [c for c in report.checks if not output.OPTIONS.quiet or c.status in ("warn", "fail")]
    if not rows:
        return
    table = Table(title="dcactl doctor", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    fixes = any(c.fix for c in rows)  # no empty column when nothing needs fixing: the details get its room
    if fixes:
        table.add_column("fix", overflow="fold")
    for c in rows:
        cells = [Text(c.name), Text(c.status, style=_STYLE[c.status]), Text(c.detail)]
        table.add_row(*cells, *([Text(c.fix or "")] if fixes else []))
    console = output.out()
    console.print(table)
    failed = sum(1 for c in report.checks if c.status == "fail")
    warned = sum(1 for c in report.checks if c.status == "warn")
    if failed or warned or not output.OPTIONS.quiet:
        summary = "all checks passed" if not failed and not warned else f"{failed} failed, {warned} warnings"
        console.print(summary, markup=False)
