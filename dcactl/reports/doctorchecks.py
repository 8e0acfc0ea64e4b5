"""The checks behind ``dcactl doctor``, as pure functions of what was read: each returns a :class:`Check`.

Nothing here does I/O except :func:`key_check` (it loads the key through :mod:`dcactl.config.keys`) and
:func:`keyring_problem` (it asks the keyring library for its backend). A read that failed arrives
as the :class:`~dcactl.errors.DcactlError` it raised, and the check says it could not check.
Thresholds are module constants so the README and the tests quote the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal

from dcactl.cli.output import fmt_usd
from dcactl.errors import DcactlError, ResolveError, SecretError
from dcactl.models import RUNWAY_WARN_PERIODS
from dcactl.reports.stats import largest_amount, runway

if TYPE_CHECKING:
    from dcactl.config.keys import Signer
    from dcactl.config.schema import AssetConfig, Config
    from dcactl.market.data import Quote
    from dcactl.models import Market
    from dcactl.run.sizing import NoOrder, Order
    from dcactl.venues.base import Agent, ServerProbe

Status = Literal["ok", "warn", "fail", "skip"]

AGENT_EXPIRY_WARN = timedelta(days=7)
"""An agent (API wallet) expiring sooner than this is a warning."""
CLOCK_WARN_S = Decimal(2)
"""Clock skew (seconds) above which doctor warns: cron timing and period boundaries drift."""
SLOW_S = 2.0
"""A probe slower than this (seconds) is a warning."""
MIN_NOTIONAL = Decimal(10)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Check:
    """One doctor line: ``status`` ok/warn/fail/skip, a one-line ``detail`` and, when not ok, a ``fix``."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"name", "status", "detail", "fix"}`` (fix null when there is nothing to do)."""
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def not_checked(name: str, error: DcactlError, fix: str | None = None) -> Check:
    """A failed check whose read failed: the error says why."""
    return Check(name, "fail", f"not checked: {error}", fix or "see the connectivity line")


# --- config and key ------------------------------------------------------------------------------


def config_check(config: Config) -> Check:
    """The file loaded (a broken one never gets this far: it exits 2 with its errors)."""
    enabled = sum(1 for a in config.assets if a.enabled)
    s = config.settings
    return Check(
        "config", "ok",
        f"{config.path}: {len(config.assets)} assets ({enabled} enabled), mode {s.mode}, "
        f"network {s.network_id}",
    )


_DESKTOP_BACKENDS = ("SecretService", "kwallet", "libsecret")


def keyring_problem() -> tuple[str, str | None] | None:
    """Why a ``keyring:`` key cannot be used without a desktop session: (status, detail), or None.

    ``fail`` when the package is missing or its backend is the fail/null one; ``warn`` when the
    backend is a desktop service reached through a session bus, which cron jobs do not have.
    """
    try:
        import keyring
    except ImportError:
        return "fail", "the keyring package is not installed (pip install 'dcactl[keyring]')"
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend config raises anything
        return "fail", f"the keyring backend cannot be loaded ({type(exc).__name__})"
    module = type(backend).__module__
    name = f"{module}.{type(backend).__name__}"
    if module.endswith((".fail", ".null")):
        return "fail", f"no usable keyring backend ({name}), as under cron without a desktop session"
    if any(part in module for part in _DESKTOP_BACKENDS):
        return "warn", (f"the {name} keyring needs a desktop session bus, which cron jobs do not have; "
                        "check that `dcactl doctor` passes from cron too")
    return None


def _key_fix(source: str, message: str) -> str:
    kind, _, rest = source.partition(":")
    if kind == "file" and "group or others" in message:
        return f"chmod 600 {rest}"
    if kind == "file":
        return f"write the 64-hex-digit key to {rest} (chmod 600), or fix settings.key"
    if kind == "env":
        return (f"set {rest} in the environment dcactl runs in (cron/systemd do not read your shell's "
                "profile), or use a file: key with mode 600")
    if kind == "keyring" and "no entry" in message:
        return f"store it: keyring set dcactl {rest}; or use a file: key with mode 600"
    if kind == "keyring":
        return "use a file: key with mode 600 (cron has no desktop session to unlock a keyring)"
    return 'set settings.key to env:VAR, file:PATH or keyring:NAME'


def key_check(source: str | None, live: bool, load: Callable[[], Signer]) -> tuple[Check, Signer | None]:
    """Load the key named by ``source`` with ``load`` (``Session.signer``); never shows the key."""
    if not source:
        if live:
            fix = 'set settings.key = "file:PATH"'
            return Check("key", "fail", "live mode needs a key source", fix), None
        return Check("key", "skip", "paper mode needs no key"), None
    warning: str | None = None
    if source.startswith("keyring:"):
        problem = keyring_problem()
        if problem is not None and problem[0] == "fail":
            return Check("key", "fail", f"key {source}: {problem[1]}", _key_fix(source, "unreachable")), None
        warning = problem[1] if problem is not None else None
    try:
        signer = load()
    except SecretError as exc:
        return Check("key", "fail", str(exc), _key_fix(source, str(exc))), None
    detail = f"loaded from {source} (signer {signer.address})"
    if source.startswith("env:") and warning is None:
        var = source.split(":", 1)[1]
        warning = (f"a cron job will not have ${var} (dcactl schedule cron says how; schedule systemd "
                   "--install writes it to a mode-600 EnvironmentFile)")
        fix = 'for cron, use key = "file:PATH" (mode 600), or set the variable in the crontab'
        return Check("key", "warn", f"{detail}; {warning}", fix), signer
    if warning:
        return Check("key", "warn", f"{detail}; {warning}", _key_fix(source, "unreachable")), signer
    return Check("key", "ok", detail), signer


# --- account -------------------------------------------------------------------------------------


def agent_check(
    signer: str, account: str, role: Mapping[str, Any] | DcactlError, agents: Sequence[Agent] | DcactlError,
    now: datetime,
) -> Check:
    """Whether ``signer`` may trade for ``account``: it is the account, or an approved agent of it
    (``userRole`` of the signer, or the account's ``extraAgents``); warns within
    :data:`AGENT_EXPIRY_WARN` of the agent's expiry and fails after it."""
    signer, account = signer.lower(), account.lower()
    if signer == account:
        return Check("account", "ok", f"the signer is the account {account}")
    listed = None
    if not isinstance(agents, DcactlError):
        listed = next((a for a in agents if a.address == signer), None)
    role_master = None
    if not isinstance(role, DcactlError) and role.get("role") == "agent":
        role_master = str((role.get("data") or {}).get("user") or "").lower()
    if listed is None and role_master != account:
        if isinstance(role, DcactlError) and isinstance(agents, DcactlError):
            return not_checked("account", role)
        other = f" (it is an agent of {role_master})" if role_master else ""
        return Check(
            "account", "fail",
            f"signer {signer} is not the account {account} nor an approved agent of it{other}",
            "approve it in the Hyperliquid UI (API), or set settings.key to the account's own key",
        )
    name = f" '{listed.name}'" if listed is not None and listed.name else ""
    detail = f"signer {signer} is an approved agent{name} of {account}"
    until = listed.valid_until if listed is not None else None
    if until is None:
        return Check("account", "ok", f"{detail}, no expiry known")
    when = until.strftime("%Y-%m-%d %H:%M UTC")
    renew = "approve a new API wallet in the Hyperliquid UI (API) and point settings.key at it"
    if until <= now:
        return Check("account", "fail", f"{detail}, but it expired on {when}", renew)
    if until - now < AGENT_EXPIRY_WARN:
        return Check("account", "warn", f"{detail}; it expires on {when}", renew)
    return Check("account", "ok", f"{detail}, valid until {when}")


# --- balance and runway --------------------------------------------------------------------------


def smallest_amount(asset: AssetConfig) -> tuple[Decimal, str]:
    """The least one buy may spend (USDC) and its name in the config."""
    if asset.sizing.kind == "volatility" and asset.sizing.min is not None:
        return asset.sizing.min, "sizing.min"
    return asset.amount, "amount"


def balance_check(
    account: str,
    available: Decimal | DcactlError,
    perp: Decimal | DcactlError,
    live_assets: Sequence[AssetConfig],
) -> Check:
    """Spot USDC (total − hold) against the buys of every live asset.

    One round is every live asset buying once (its largest amount); runway counts whole rounds and
    days at the nominal spend per day. Fails under one round, warns under :data:`RUNWAY_WARN_PERIODS`;
    when spot is short and the perp account holds USDC, the fix says to move it.
    """
    if isinstance(available, DcactlError):
        return not_checked("balance", available)
    head = f"{fmt_usd(available)} USDC available in spot"
    if not live_assets:
        return Check("balance", "ok", f"{head}; no live asset to buy")
    way = runway(available, live_assets)
    one_round, per_day, periods, days = way.one_round, way.per_day, way.periods, way.days
    detail = (f"{head}; one period of every live asset costs {fmt_usd(one_round)} USDC: runway {periods} "
              f"periods, about {days} days at {fmt_usd(per_day)} USDC/day")
    status: Status = "fail" if periods < 1 else "warn" if periods < RUNWAY_WARN_PERIODS else "ok"
    if status == "ok":
        return Check("balance", status, detail)
    need = one_round * RUNWAY_WARN_PERIODS - available
    if isinstance(perp, Decimal) and perp > 0:
        fix = (f"move USDC from perp to spot (usdClassTransfer in the UI): {fmt_usd(perp)} USDC "
               "is withdrawable in the perp account")
    else:
        fix = f"deposit at least {fmt_usd(need)} USDC to {account} (spot) for {RUNWAY_WARN_PERIODS} periods"
    return Check("balance", status, detail, fix)


def caps_check(
    assets: Sequence[AssetConfig], per_run: Decimal | None, per_day: Decimal | None
) -> Check | None:
    """Whether the caps let a day's due buys through: on a day when every enabled asset is due (a
    Monday for weekly ones beside daily ones) they spend the sum of their largest amounts; above a cap,
    the later ones in config order are skipped with "cap" that day, every such day. None without caps."""
    if per_run is None and per_day is None:
        return None
    wanted = sum((largest_amount(a) for a in assets), Decimal(0))
    limits = [(name, cap) for name, cap in (("max_usd_per_run", per_run), ("max_usd_per_day", per_day))
              if cap is not None]
    over = [(name, cap) for name, cap in limits if wanted > cap]
    if not over:
        caps = ", ".join(f"{name} {fmt_usd(cap)}" for name, cap in limits)
        return Check("caps", "ok", f"a day when every asset is due buys up to {fmt_usd(wanted)} USDC: "
                                   f"within {caps}")
    name, cap = over[0]
    return Check("caps", "warn", f"a day when every asset is due wants up to {fmt_usd(wanted)} USDC, over "
                                 f"{name} {fmt_usd(cap)}: the later assets in config order are skipped "
                                 "(\"cap\") on such days",
                 f"raise settings.{name} to at least {fmt_usd(wanted)}, or lower the amounts")


# --- markets -------------------------------------------------------------------------------------


def min_order(price: Decimal, sz_decimals: int) -> Decimal:
    """The smallest order value (USDC) at ``price`` whose size on the ``sz_decimals`` grid reaches 10 USDC."""
    step = Decimal(1).scaleb(-sz_decimals)
    size = (MIN_NOTIONAL / price).quantize(step, rounding=ROUND_CEILING)
    return (size * price).quantize(CENT, rounding=ROUND_UP)


def market_check(
    asset: AssetConfig,
    market: Market | DcactlError,
    quote: Quote | DcactlError | None,
    max_slippage_bps: int,
    margin: Decimal,
) -> Check:
    """How ``asset`` resolves, and whether its smallest buy is still an order after rounding.

    The minimum shown is at the limit price dcactl would send (the book's fill price plus ``margin``,
    capped at mid × (1 + bps)), so it is what ``run`` would face right now.
    """
    from dcactl.run.sizing import Order, round_order

    name = f"market {asset.symbol}"
    if isinstance(market, ResolveError):
        return Check(name, "fail", str(market), f"set assets.{asset.symbol}.coingecko_id, .pair or .venue")
    if isinstance(market, DcactlError):
        return not_checked(name, market)
    if market.listed:
        where = f"{market.coin} (asset {market.asset_id}, szDecimals {market.sz_decimals})"
        where = where if market.venue == "hyperliquid" else f"paper on the {where} book"
    else:
        where = f"paper (coingecko {market.coingecko_id})"
    if quote is None or isinstance(quote, DcactlError):
        return Check(name, "fail", f"{where}: no price: {quote}", "see the connectivity line")
    amount, key = smallest_amount(asset)
    order = round_order(market, quote, amount, max_slippage_bps, margin)
    price = _limit_near_minimum(market, quote, order, max_slippage_bps, margin)
    minimum = min_order(price, market.sz_decimals)
    if isinstance(order, Order):
        thin = _too_thin(market, quote, largest_amount(asset), max_slippage_bps, margin)
        if thin is not None:
            return Check(
                name, "fail", f"{where}: {thin}",
                f"lower assets.{asset.symbol}.amount, raise settings.max_slippage_bps, or set "
                f"assets.{asset.symbol}.pair to a deeper market",
            )
        return Check(name, "ok", f"{where}: min order {minimum} USDC at {price:,f}; your {key} {amount:f} OK")
    return Check(
        name, "fail",
        f"{where}: min order {minimum} USDC at {price:,f}; your {key} {amount:f} is too small: "
        f"{order.reason}",
        f"raise assets.{asset.symbol}.{key} to at least {minimum} USDC (a little more leaves room for "
        "price moves)",
    )


def _too_thin(market: Market, quote: Quote, usd: Decimal, bps: int, margin: Decimal) -> str | None:
    """Why the book cannot fill a buy of ``usd`` within ``max_slippage_bps`` (an IOC would fill only
    part of it every period), else None."""
    from dcactl.run.sizing import Order, round_order
    from dcactl.venues.paper import price_to_fill

    if not market.listed or market.venue != "hyperliquid":
        return None
    order = round_order(market, quote, usd, bps, margin)
    if not isinstance(order, Order):
        return None
    size, limit = order.size, order.limit_px
    needed = price_to_fill(quote.asks, size)
    if needed is not None and needed <= limit:
        return None
    depth = sum((lv.px * lv.sz for lv in quote.asks if lv.px <= limit), Decimal(0))
    return (f"the book holds only {fmt_usd(depth)} USDC of asks up to {limit:,f} (mid + {bps} bps); a buy of "
            f"{usd:f} USDC would fill only in part")


PROBE_AMOUNTS = (Decimal(25), Decimal(100), Decimal(1000), Decimal(10000))
"""USDC budgets tried to learn the limit price of a small order when the configured one is skipped."""


def _limit_near_minimum(
    market: Market, quote: Quote, order: Order | NoOrder, bps: int, margin: Decimal
) -> Decimal:
    """The limit price (USDC) dcactl would send for the configured order, or for the smallest probe
    budget that makes an order when the configured one does not (the limit depends on the size)."""
    from dcactl.run.sizing import UNLISTED_PRICE_QUANTUM, Order, round_order
    from dcactl.venues.paper import quote_price
    from dcactl.venues.rounding import round_price

    for attempt in (order, *(round_order(market, quote, usd, bps, margin) for usd in PROBE_AMOUNTS)):
        if isinstance(attempt, Order):
            return attempt.limit_px
    if market.listed:
        return round_price(quote.mid * (1 + Decimal(bps) / 10000), market.sz_decimals)
    return quote_price(quote.mid).quantize(UNLISTED_PRICE_QUANTUM)


# --- clock and connectivity ----------------------------------------------------------------------


def clock_check(probe: ServerProbe | DcactlError, local_mid: datetime) -> Check:
    """Skew between the local clock at the middle of the probe and the server's ``Date`` header.

    ``Date`` has whole seconds, so the server's clock lies in [Date, Date + 1 s): the skew reported
    is the smallest one consistent with that (0 when the window holds the local time).
    """
    if isinstance(probe, DcactlError):
        return not_checked("clock", probe)
    if probe.server_time is None:
        return Check("clock", "warn", "the exchange sent no Date header; skew unknown",
                     "keep the clock synchronised (NTP: timedatectl set-ntp true); orders are then timed on"
                     " the local clock alone")
    from dcactl.http import nearest_skew, skew_bounds
    from dcactl.run.reconcile import CLOCK_REFUSE_S, NTP_FIX

    skew = Decimal(str(nearest_skew(*skew_bounds(local_mid, local_mid, probe.server_time)).total_seconds()))
    skew = skew.quantize(Decimal("0.1"))
    if skew == 0:
        return Check("clock", "ok", "local clock matches the exchange's (within the 1 s of its Date header)")
    ahead = "ahead of" if skew > 0 else "behind"
    detail = f"local clock at least {abs(skew)} s {ahead} the exchange's"
    if abs(skew) <= CLOCK_WARN_S:
        return Check("clock", "ok", detail)
    failing = abs(skew) > Decimal(str(CLOCK_REFUSE_S))
    if failing:
        detail += f"; run places no order beyond {CLOCK_REFUSE_S:.0f} s"
    fix = f"synchronise the clock ({NTP_FIX})"
    return Check("clock", "fail" if failing else "warn", detail, fix)


def connectivity_check(name: str, url: str, latency_s: float | DcactlError) -> Check:
    """One probe's latency (seconds) or why it failed."""
    if isinstance(latency_s, DcactlError):
        return Check(name, "fail", f"{url} unreachable: {latency_s}",
                     "check the network, settings.network / coingecko_url, proxies and firewalls")
    detail = f"{url} answered in {latency_s * 1000:.0f} ms"
    if latency_s > SLOW_S:
        return Check(name, "warn", f"{detail} (slow)", "check the network; settings.request_timeout")
    return Check(name, "ok", detail)


def ledger_check(
    path: Any, applied: Sequence[str], latest: str, open_intents: Sequence[Any], fills: int
) -> Check:
    """Ledger path, schema and unresolved intents (an intent whose order's fate is not known yet)."""
    schema = applied[-1] if applied else "none"
    head = f"{path}: schema {schema}{' (current)' if schema == latest else ''}, {fills} fills"
    if not open_intents:
        return Check("ledger", "ok", f"{head}, no open intents")
    shown = ", ".join(f"{i.asset} {i.period}" for i in open_intents[:3])
    more = f" +{len(open_intents) - 3} more" if len(open_intents) > 3 else ""
    return Check("ledger", "warn", f"{head}, {len(open_intents)} open intents ({shown}{more})",
                 "run `dcactl run` to resolve them")
