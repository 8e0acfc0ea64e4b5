"""One self-contained HTML page: ``report`` (the ledger) and ``backtest --html`` (strategies).

Charts are drawn by matplotlib (imported lazily) as inline SVG: no script, style sheet, font or image
is fetched from anywhere, so the file opens offline, attached to a mail or from any static server.
Text stays text (``svg.fonttype = none``), coordinates are rounded to a tenth of a point and long
series are simplified, which keeps a year of three assets near 100 KB. Each buy marker carries an SVG
``<title>`` (its size, price and USDC), which browsers show on hover. Colours are mid-tones on a
transparent background, readable in light and dark mode; the page's own colours follow
``prefers-color-scheme``.

Pure: :func:`report_page` and :func:`backtest_page` take plain values and return the HTML text. Each
chart is drawn by a function of those values alone; the pages hand them all to ``draw`` (by default
one after the other), so a caller may draw them elsewhere — the commands pass
:func:`dcactl.beside.in_halves`, which draws half of them in a forked child on a second core — and
get the same page.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from dcactl.models import Fill, StrategyCurve
    from dcactl.reports.report import AssetSeries, ReportData

    Draw = Callable[[Sequence[Callable[[], str]]], list[str]]
    """Draws every chart of a page: ``[chart() for chart in charts]``, in order, however computed."""


def in_order(charts: Sequence[Callable[[], str]]) -> list[str]:
    """The default :data:`Draw`: each chart drawn here, one after the other."""
    return [chart() for chart in charts]

MAX_MARKERS = 250
"""Above this many buys in one chart, buys are drawn per week (then per month), each marker the sum."""
PALETTE = ("#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899",
           "#f97316", "#14b8a6")
NEUTRAL = "#8a8f98"
QUOTE = "USDC"
REAL = ("dcactl", "external", "imported")
"""The sources of real fills (paper is never mixed in)."""

CSS = """
:root { --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d0d7de; --bad: #cf222e; --ok: #1a7f37;
        --warn: #9a6700; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --bad: #ff7b72; --ok: #3fb950;
          --warn: #d29922; }
}
body { background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
       sans-serif; margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.4rem; margin: .5rem 0 0; } h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
p.meta { color: var(--muted); margin: .2rem 0 1rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin: .5rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .5rem; text-align: right;
         vertical-align: top; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
th { color: var(--muted); font-weight: 600; }
.neg { color: var(--bad); } .pos { color: var(--ok); } .warn { color: var(--warn); }
figure.chart { margin: .5rem 0 1.2rem; } figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .85rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 0 1.5rem; }
"""


# ---- series (pure) -------------------------------------------------------------------------------

def _units(f: Fill) -> Decimal:
    """Units a fill adds (a buy, net of a fee paid in the base token) or removes (a sell)."""
    if f.side == "B":
        return f.size - (f.fee if f.fee_token != QUOTE else Decimal(0))
    return -f.size


def _usd(f: Fill) -> Decimal:
    """USDC a fill puts in (a buy, with a fee paid in USDC) or takes out (a sell)."""
    fee = f.fee if f.fee_token == QUOTE else Decimal(0)
    return f.size * f.price + fee if f.side == "B" else -(f.size * f.price - fee)


def average_cost_steps(fills: Sequence[Fill]) -> list[tuple[datetime, Decimal]]:
    """After each fill (oldest first): USDC invested / units held, the average-cost line's steps."""
    units = invested = Decimal(0)
    out = []
    for f in sorted(fills, key=lambda x: x.time):
        units += _units(f)
        invested += _usd(f)
        if units > 0:
            out.append((f.time, invested / units))
    return out


def value_curve(
    assets: Sequence[AssetSeries], sources: Iterable[str]
) -> list[tuple[datetime, Decimal, Decimal]]:
    """Per day with a close (from the first fill of ``sources`` on): (day, value at that day's close,
    USDC invested so far), summed over assets. An asset without a close that day keeps its last one."""
    wanted = set(sources)
    days = sorted({d for a in assets for d, _ in a.closes})
    fills = sorted((f for a in assets for f in a.fills if f.source in wanted), key=lambda f: f.time)
    if not fills or not days:
        return []
    close_of = {a.asset: dict(a.closes) for a in assets}
    units: dict[str, Decimal] = {}
    last_close: dict[str, Decimal] = {}
    invested = Decimal(0)
    i = 0
    out = []
    for day in days:
        end = day.timestamp() + 86_400
        while i < len(fills) and fills[i].time.timestamp() < end:
            f = fills[i]
            units[f.asset] = units.get(f.asset, Decimal(0)) + _units(f)
            invested += _usd(f)
            i += 1
        for asset, closes in close_of.items():
            if day in closes:
                last_close[asset] = closes[day]
        if i == 0:
            continue
        value = sum((u * last_close[a] for a, u in units.items() if a in last_close), Decimal(0))
        out.append((day, value, invested))
    return out


def group_buys(fills: Sequence[Fill]) -> list[tuple[datetime, Decimal, Decimal, Decimal, int]]:
    """Markers for the buys: (time, size, USDC, average price, number of buys); one per buy, or per
    ISO week / month when there are more than :data:`MAX_MARKERS`."""
    buys = sorted((f for f in fills if f.side == "B"), key=lambda f: f.time)

    def bucket(f: Fill, how: str) -> Any:
        if how == "week":
            year, week, _ = f.time.isocalendar()
            return (year, week)
        return (f.time.year, f.time.month) if how == "month" else f.time

    for how in ("each", "week", "month"):
        groups: dict[Any, list[Fill]] = {}
        for f in buys:
            groups.setdefault(bucket(f, how), []).append(f)
        if len(groups) <= MAX_MARKERS or how == "month":
            out = []
            for group in groups.values():
                size = sum((f.size for f in group), Decimal(0))
                usd = sum((f.size * f.price for f in group), Decimal(0))
                out.append((group[0].time, size, usd, usd / size if size else Decimal(0), len(group)))
            return out
    return []


# ---- drawing ---------------------------------------------------------------------------------------

def _rc() -> Any:  # matplotlib types rc keys as a Literal; these are all valid
    return {
        "svg.fonttype": "none", "svg.hashsalt": "dcactl", "font.size": 9, "font.family": "sans-serif",
        "text.color": NEUTRAL, "axes.labelcolor": NEUTRAL, "axes.edgecolor": NEUTRAL,
        "xtick.color": NEUTRAL, "ytick.color": NEUTRAL, "axes.facecolor": "none",
        "figure.facecolor": "none", "savefig.facecolor": "none", "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.color": NEUTRAL, "grid.alpha": 0.25,
        "path.simplify_threshold": 0.5, "legend.frameon": False, "lines.linewidth": 1.4,
    }


def _figure(height: float = 2.6) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.6, height), layout="constrained")
    return fig, fig.add_subplot()


def _dates(ax: Any) -> None:
    import matplotlib.dates

    mdates: Any = matplotlib.dates  # its locators are untyped
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _legend(ax: Any) -> None:
    """The legend above the plot, never over the data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, fontsize=8, borderaxespad=0.2,
              handlelength=1.6, columnspacing=1.2)


_NUMBER = re.compile(r"(-?\d+\.\d)\d+")
_USE = re.compile(r"<use [^>]*?/>")


def _svg(fig: Any, tooltips: Mapping[str, Sequence[str]] = {}) -> str:
    """The figure as inline SVG: no XML prolog or metadata, numbers rounded, a ``<title>`` in each
    marker of the artists whose gid is a key of ``tooltips`` (in drawing order)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\sd="([^"]*)"', lambda m: ' d="' + _NUMBER.sub(r"\1", m.group(1)) + '"', text)
    text = re.sub(r'(x|y)="(-?\d+\.\d)\d*"', r'\1="\2"', text)
    for gid, titles in tooltips.items():
        start = text.find(f'<g id="{gid}"')
        if start < 0:
            continue
        end = text.index("</g>", start)
        items = iter(titles)

        def add_title(m: re.Match[str], items: Any = items) -> str:
            title = next(items, None)
            if title is None:
                return m.group(0)
            return m.group(0)[:-2] + f"><title>{html.escape(title)}</title></use>"

        text = text[:start] + _USE.sub(add_title, text[start:end]) + text[end:]
    return text


def _chart(name: str, svg: str, caption: str) -> str:
    return (f'<figure class="chart" data-chart="{html.escape(name)}">{svg}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _f(x: Decimal) -> float:
    return float(x)


def _fmt(x: Decimal | None, places: int = 2) -> str:
    return "-" if x is None else f"{x:,.{places}f}"


def _num(x: Decimal) -> str:
    """A size or unit count exactly, without exponent or trailing zeros (as the ledger holds it)."""
    return f"{x.normalize():f}"


def asset_chart(series: AssetSeries, color: str) -> str:
    """Price (daily closes), each buy marked (size, price and USDC on hover), the average-cost line;
    real and paper buys apart."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        fig, ax = _figure()
        if series.closes:
            ax.plot([d for d, _ in series.closes], [_f(c) for _, c in series.closes], color=color,
                    label="price (daily close)")
        tips: dict[str, list[str]] = {}
        for kind, sources, marker in (("real", REAL, "o"), ("paper", ("paper",), "D")):
            fills = [f for f in series.fills if f.source in sources]
            if not fills:
                continue
            marks = group_buys(fills)
            gid = f"buys-{kind}"
            ax.plot([m[0] for m in marks], [_f(m[3]) for m in marks], marker, color=NEUTRAL if kind == "paper"
                    else "#111827", markerfacecolor=color, markersize=4.5, linestyle="none", gid=gid,
                    label=f"{kind} buys")
            tips[gid] = [
                f"{m[0]:%Y-%m-%d}: {f'{m[4]} buys, ' if m[4] > 1 else ''}{_num(m[1])} {series.asset} "
                f"at {_fmt(m[3])} for {_fmt(m[2])} USDC ({kind})" for m in marks
            ]
            steps = average_cost_steps(fills)
            if steps:
                end = series.closes[-1][0] if series.closes else steps[-1][0]
                xs = [t for t, _ in steps] + [max(end, steps[-1][0])]
                ys = [_f(c) for _, c in steps] + [_f(steps[-1][1])]
                ax.step(xs, ys, where="post", color=color, linestyle="--", linewidth=1.1,
                        alpha=0.8 if kind == "real" else 0.5, label=f"average cost ({kind})")
        ax.set_ylabel("USDC")
        _dates(ax)
        _legend(ax)
        return _svg(fig, tips)


def value_chart(points: Sequence[tuple[datetime, Decimal, Decimal]], label: str, color: str) -> str:
    """Value at each day's close against USDC invested so far."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        fig, ax = _figure()
        xs = [p[0] for p in points]
        dots = "o" if len(points) < 3 else None  # a new plan: one or two marks are still worth seeing
        ax.plot(xs, [_f(p[1]) for p in points], color=color, marker=dots, label=f"value ({label})")
        ax.plot(xs, [_f(p[2]) for p in points], color=NEUTRAL, linestyle="--", drawstyle="steps-post",
                label="invested")
        ax.set_ylabel("USDC")
        _dates(ax)
        _legend(ax)
        return _svg(fig)


def allocation_chart(rows: Sequence[tuple[str, Decimal]]) -> str:
    """Current value per asset and source, as horizontal bars with the share of the total."""
    import matplotlib

    total = sum((v for _, v in rows), Decimal(0))
    with matplotlib.rc_context(_rc()):
        fig, ax = _figure(max(1.4, 0.32 * len(rows) + 0.6))
        names = [n for n, _ in rows][::-1]
        values = [_f(v) for _, v in rows][::-1]
        bars = ax.barh(names, values, color=[PALETTE[i % len(PALETTE)] for i in range(len(rows))][::-1])
        labels = [f"{v:,.2f} ({(v / total * 100) if total else 0:.1f}%)" for _, v in rows][::-1]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=8, color=NEUTRAL)
        ax.set_xlabel("USDC at current prices")
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.25)
        return _svg(fig)


# ---- pages -------------------------------------------------------------------------------------------

def _page(title: str, meta: str, body: Sequence[str]) -> str:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(meta)}</p>"
            + "".join(body) + "</body></html>\n")


def _table(columns: Sequence[str], rows: Iterable[Sequence[Any]], text_columns: Iterable[str] = ()) -> str:
    texts = set(text_columns)
    head = "".join(f'<th class="{"text" if c in texts else ""}">{html.escape(c)}</th>' for c in columns)
    body = []
    for row in rows:
        cells = []
        for column, cell in zip(columns, row, strict=True):
            css = "text" if column in texts else ""
            if isinstance(cell, tuple):  # (text, css class)
                cell, extra = cell
                css = f"{css} {extra}".strip()
            cells.append(f'<td class="{css}">{html.escape("-" if cell is None else str(cell))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _signed(x: Decimal | None, suffix: str = "") -> tuple[str, str]:
    if x is None:
        return "-", ""
    return f"{x:+,.2f}{suffix}", "neg" if x < 0 else "pos" if x > 0 else ""


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")



def report_page(data: ReportData, draw: Draw = in_order) -> str:
    """The ``report`` page: status table, allocation, value against invested (real and paper apart),
    one price chart per asset with its buys and average cost, and the last runs with their reasons.
    ``draw`` draws the charts (see the module's docstring)."""
    from dcactl.reports.runlog import describe

    s = data.status
    body = ["<h2>Status</h2>", _table(
        ["asset", "source", "units", "invested", "avg cost", "fees", "value", "PnL", "PnL %", "buys",
         "last buy", "next due"],
        ([r.asset, r.source, _num(r.units), _fmt(r.invested_usd), _fmt(r.avg_cost),
          "unknown" if r.fees_all_unknown else _fmt(r.fees_usd) + (" + unknown" if r.fees_unknown else ""),
          _fmt(r.value_usd), _signed(r.pnl_usd), _signed(r.pnl_pct, "%"), r.buys, _when(r.last_buy),
          _when(r.next_due)] for r in s.rows),
        ["source", "last buy", "next due"],
    )]
    body.append(_table(["source", "invested", "value", "PnL", "PnL %", "buys"], (
        [name, _fmt(t.invested_usd), _fmt(t.value_usd), _signed(t.pnl_usd), _signed(t.pnl_pct, "%"), t.buys]
        for name, t in s.totals.items()), ["source"]))
    held = [(f"{r.asset} ({r.source})", r.value_usd) for r in s.rows if r.value_usd and r.value_usd > 0]
    top: list[tuple[str, Callable[[], str], str]] = []  # (name, chart, caption) in page order
    if held:
        shares = [(n, v) for n, v in held if v is not None]
        top.append(("allocation", _bind(allocation_chart, shares),
                    "Value of each holding at current prices (real and paper apart)."))
    for label, sources, color in (("real", REAL, PALETTE[0]), ("paper", ("paper",), PALETTE[4])):
        points = value_curve(data.assets, sources)
        if points:
            top.append((f"value-{label}", _bind(value_chart, points, label, color),
                        f"{label.capitalize()} holdings valued at each day's close, against the USDC put "
                        "in so far."))
    assets = [(f"asset-{series.asset}", _bind(asset_chart, series, PALETTE[i % len(PALETTE)]),
               f"{series.asset}: daily close, buys (hover for size and price) and the average cost."
               + ("" if series.closes else " No price history could be read for it."))
              for i, series in enumerate(data.assets)]
    drawn = iter(draw([chart for _, chart, _ in top + assets]))
    body.append("<h2>Allocation and value</h2><div class=\"grid\">")
    body += [_chart(name, next(drawn), caption) for name, _, caption in top]
    body.append("</div><h2>Assets</h2><div class=\"grid\">")
    body += [_chart(name, next(drawn), caption) for name, _, caption in assets]
    body.append("</div><h2>Last runs</h2>")
    if data.runs:
        body.append(_table(["started", "command", "mode", "exit", "what happened"], (
            [_when(e.started_at), e.command, e.mode,
             ("never ended", "neg") if e.ended_at is None else (e.exit_code, "neg" if e.failed else ""),
             "; ".join(([f"stopped: {e.error}"] if e.error else [])
                       + [describe(r) for r in e.results if r.get("status") != "not_due"])
             or "nothing due"]
            for e in data.runs), ["command", "mode", "what happened"]))
    else:
        body.append("<p>No runs recorded yet.</p>")
    meta = (f"{data.network} · {data.account} · as of {_when(data.as_of)} UTC · charts from "
            f"{data.since:%Y-%m-%d} · values in USDC")
    return _page("dcactl report", meta, body)


def backtest_page(document: Mapping[str, Any], curves: Sequence[StrategyCurve], draw: Draw = in_order) -> str:
    """The ``backtest --html`` page: every strategy's value and invested curves overlaid, each
    strategy's buys, and the table of figures of ``document`` (``backtest --json``). ``draw`` draws
    the charts (see the module's docstring)."""
    body = ["<h2>Figures</h2>", _table(
        ["strategy", "invested", "value", "PnL", "PnL %", "XIRR %", "max drawdown %", "fees", "buys",
         "skips"],
        ([s["name"], _fmt(Decimal(s["invested_usd"])), _fmt(Decimal(s["value_usd"])),
          _signed(Decimal(s["pnl_usd"])), _signed(_dec(s.get("pnl_pct")), "%"),
          _signed(_dec(s.get("xirr_pct")), "%"), _fmt(_dec(s.get("max_drawdown_pct"))),
          _fmt(Decimal(s["fees_usd"])), s["buys"], s["skips"]] for s in document.get("strategies", [])),
        ["strategy"],
    )]
    charts = [_bind(_overlay_chart, curves)]
    charts += [_bind(_buys_chart, curve, PALETTE[i % len(PALETTE)]) for i, curve in enumerate(curves)]
    overlay, *buys = draw(charts)
    body += ["<h2>Value against invested</h2>",
             _chart("strategies", overlay, "Each strategy's value at the daily close (solid) and the USDC "
                                           "it had put in (dotted).")]
    body.append("<h2>Buys</h2><div class=\"grid\">")
    for curve, svg in zip(curves, buys, strict=True):
        body.append(_chart(f"buys-{curve.name}", svg, f"{curve.name}: {len(curve.buys)} buys, USDC per buy "
                                                      "(hover for asset, size, price)."))
    body.append("</div>")
    meta = (f"{document.get('from', '')} to {document.get('to', '')} · fee {document.get('fee_bps')} bps · "
            f"slippage {document.get('slippage_bps')} bps · values in USDC")
    return _page("dcactl backtest", meta, body)


def _overlay_chart(curves: Sequence[StrategyCurve]) -> str:
    """Every strategy's value (solid) and invested (dotted) curve, one colour each."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        fig, ax = _figure(3.2)
        for i, curve in enumerate(curves):
            color = PALETTE[i % len(PALETTE)]
            xs = [p.time for p in curve.points]
            ax.plot(xs, [_f(p.value_usd) for p in curve.points], color=color, label=curve.name)
            ax.plot(xs, [_f(p.invested_usd) for p in curve.points], color=color, linestyle=":", linewidth=1)
        ax.set_ylabel("USDC (dotted: invested)")
        _dates(ax)
        _legend(ax)
        return _svg(fig)


def _bind(chart: Callable[..., str], *args: Any) -> Callable[[], str]:
    """``chart`` with its arguments, to be drawn later (by :data:`Draw`)."""
    return lambda: chart(*args)


def _buys_chart(curve: StrategyCurve, color: str) -> str:
    import matplotlib

    with matplotlib.rc_context(_rc()):
        fig, ax = _figure(2.2)
        buys = sorted(curve.buys, key=lambda b: b.time)
        if len(buys) > MAX_MARKERS * 4:  # very long sweeps: the USDC per day, drawn as one line
            per_day: dict[Any, Decimal] = {}
            for b in buys:
                per_day[b.time.date()] = per_day.get(b.time.date(), Decimal(0)) + b.usd
            ax.plot(list(per_day), [_f(v) for v in per_day.values()], ".", color=color, markersize=2)
            tips: dict[str, list[str]] = {}
        else:
            ax.plot([b.time for b in buys], [_f(b.usd) for b in buys], "o", color=color, markersize=3.5,
                    linestyle="none", gid="buys")
            tips = {"buys": [f"{b.time:%Y-%m-%d}: {_num(b.size)} {b.asset} at {_fmt(b.price)} for "
                                     f"{_fmt(b.usd)} USDC" for b in buys]}
        ax.set_ylabel("USDC per buy")
        _dates(ax)
        return _svg(fig, tips)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
