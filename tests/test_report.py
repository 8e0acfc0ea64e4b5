"""`dcactl report` and `backtest --html`'s page: one offline HTML file, the right numbers, the size caps,
and a real headless browser that renders every chart with no console error and no network."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import PAPER_TRIO, write_portfolio

from dcactl.models import BacktestBuy, CurvePoint, Fill, StrategyCurve
from dcactl.reports.html import average_cost_steps, backtest_page, group_buys, report_page, value_curve
from dcactl.reports.report import AssetSeries, ReportData
from dcactl.reports.stats import StatusRow, totals
from dcactl.reports.views import StatusReport

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
T0 = datetime(2025, 1, 1, tzinfo=UTC)

ASSETS = PAPER_TRIO


def _fill(asset: str, t: datetime, size: str, price: str, fee: str = "0", fee_token: str = "X",
          source: str = "dcactl", side: str = "B") -> Fill:
    return Fill(time=t, asset=asset, pair=f"{asset}/USDC", side=side, size=D(size), price=D(price),  # type: ignore[arg-type]
                fee=D(fee), fee_token=fee_token, tid=f"{asset}{t.timestamp()}{size}", source=source)  # type: ignore[arg-type]


def external_refs(page: str) -> list[str]:
    """Every src/href/url() in the page that would make the browser fetch something."""
    refs = re.findall(r'\b(?:src|href|xlink:href)\s*=\s*["\']([^"\']*)["\']', page)
    refs += re.findall(r"url\(\s*['\"]?([^'\")]*)", page)
    refs += re.findall(r"@import\s+['\"]?([^'\";]*)", page)
    return [r for r in refs if not r.startswith("#")]


# ---- pure series ---------------------------------------------------------------------------------

def test_average_cost_steps_by_hand() -> None:
    """Two buys: 1 unit at 100 (fee 0.01 unit), then 1 unit at 200 (fee 0.5 USDC) → 100/0.99, then
    300.5/1.99; a fee in the base token lowers the units, a fee in USDC raises the cost."""
    fills = [_fill("A", T0, "1", "100", "0.01", "A"),
             _fill("A", T0 + timedelta(days=1), "1", "200", "0.5", "USDC")]
    steps = average_cost_steps(fills)
    assert steps == [(T0, D(100) / D("0.99")), (T0 + timedelta(days=1), D("300.5") / D("1.99"))]


def test_value_curve_by_hand() -> None:
    """Day 1 buys 2 A at 10; day 2's close 12 values them 24 (invested 20); paper never mixed in."""
    d1, d2 = T0, T0 + timedelta(days=1)
    series = AssetSeries("A", [(d1, D(11)), (d2, D(12))],
                         [_fill("A", d1 + timedelta(hours=3), "2", "10"),
                          _fill("A", d1 + timedelta(hours=4), "5", "10", source="paper")])
    assert value_curve([series], ("dcactl",)) == [(d1, D(22), D(20)), (d2, D(24), D(20))]
    assert value_curve([series], ("paper",)) == [(d1, D(55), D(50)), (d2, D(60), D(50))]
    assert value_curve([series], ("external",)) == []


def test_group_buys_keeps_each_buy_until_too_many() -> None:
    """Up to 250 buys one marker each; 400 daily buys become one marker per ISO week with sums."""
    few = [_fill("A", T0 + timedelta(days=i), "1", "10") for i in range(3)]
    assert [(m[1], m[2], m[4]) for m in group_buys(few)] == [(D(1), D(10), 1)] * 3
    many = [_fill("A", T0 + timedelta(days=i), "1", str(10 + i % 7)) for i in range(400)]
    marks = group_buys(many)
    assert len(marks) <= 250 and sum(m[4] for m in marks) == 400
    full_week = next(m for m in marks if m[4] == 7)
    assert full_week[1] == 7 and full_week[2] == sum(D(10 + i) for i in range(7))
    assert full_week[3] == full_week[2] / 7


# ---- synthetic pages: content, offline, size -----------------------------------------------------

def _walk(n: int, start: float, seed: int) -> list[float]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return list(start * np.exp(np.cumsum(rng.normal(0, 0.03, n))))


def _portfolio(n_assets: int, days: int, every_days: int) -> ReportData:
    """``n_assets`` assets with ``days`` daily closes and a buy of 50 USDC every ``every_days`` days."""
    now = T0 + timedelta(days=days)
    assets, rows = [], []
    for k in range(n_assets):
        prices = _walk(days, 100 * (k + 1), k)
        closes = [(T0 + timedelta(days=i), D(f"{p:.2f}")) for i, p in enumerate(prices)]
        fills = [_fill(f"A{k}", T0 + timedelta(days=i, hours=1), f"{50 / prices[i]:.6f}", f"{prices[i]:.2f}",
                       f"{0.0007 * 50 / prices[i]:.8f}", f"A{k}") for i in range(0, days, every_days)]
        assets.append(AssetSeries(f"A{k}", closes, fills))
        units = sum((f.size - f.fee for f in fills), D(0))
        invested = sum((f.size * f.price for f in fills), D(0))
        mid = closes[-1][1]
        rows.append(StatusRow(f"A{k}", "dcactl", units, invested, invested, invested / units, D(0),
                              units * mid, units * mid - invested, D(0), len(fills), fills[0].time,
                              fills[-1].time, mid))
    status = StatusReport(now, "devnet", "0xabc", rows, totals(rows), {})
    return ReportData(now, "devnet", "0xabc", T0, status, assets, [])


def test_report_page_small_portfolio_size_and_content() -> None:
    """3 assets × a year of daily closes, weekly buys: under 150 KB, no external reference, one chart
    per asset plus allocation and value, a hover title on each buy."""
    data = _portfolio(3, 365, 7)
    page = report_page(data)
    size = len(page.encode())
    print(f"report, 3 assets x 1 year: {size / 1024:.0f} KB")
    assert size <= 150 * 1024
    assert external_refs(page) == []
    assert "<script" not in page and "<link" not in page
    charts = re.findall(r'data-chart="([^"]+)"', page)
    assert charts == ["allocation", "value-real", "asset-A0", "asset-A1", "asset-A2"]
    first = data.assets[0].fills[0]
    assert f"{first.size.normalize():f} A0 at {first.price:,.2f}" in page
    assert page.count("<title>") == 1 + sum(len(a.fills) for a in data.assets)


def test_report_page_large_portfolio_size() -> None:
    """20 assets × 5 years of daily closes with weekly buys stays under 1.5 MB."""
    page = report_page(_portfolio(20, 5 * 365, 7))
    size = len(page.encode())
    print(f"report, 20 assets x 5 years: {size / 1024:.0f} KB")
    assert size <= 1.5 * 1024 * 1024
    assert external_refs(page) == []


def _curves() -> tuple[dict[str, Any], list[StrategyCurve]]:
    pts = tuple(CurvePoint(T0 + timedelta(days=i), D(100 * i + 5 * i), D(100 * i)) for i in range(1, 31))
    buys = tuple(BacktestBuy(T0 + timedelta(days=i), "BTC", D(100), D("0.001"), D(100000))
                 for i in range(1, 31))
    doc = {"from": "2025-01-01", "to": "2025-01-31", "fee_bps": 7, "slippage_bps": 5, "strategies": [
        {"name": name, "invested_usd": "3000", "value_usd": "3150", "pnl_usd": "150", "pnl_pct": "5",
         "xirr_pct": "80.1", "max_drawdown_pct": "-2.5", "fees_usd": "2.1", "buys": 30, "skips": 0}
        for name in ("portfolio", "plain")]}
    return doc, [StrategyCurve("portfolio", pts, buys), StrategyCurve("plain", pts, buys)]


def test_backtest_page_draws_each_strategy() -> None:
    """backtest --html's page: the figures table, the overlay, one buys chart per strategy, offline."""
    doc, curves = _curves()
    page = backtest_page(doc, curves)
    assert re.findall(r'data-chart="([^"]+)"', page) == ["strategies", "buys-portfolio", "buys-plain"]
    assert page.count("<td class=\"text\">portfolio</td>") == 1 and "80.10" in page
    assert external_refs(page) == []
    assert "0.001 BTC at 100,000.00 for 100.00 USDC" in page


def test_pages_drawn_in_halves_are_the_pages_drawn_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands draw half the charts in a forked child (dcactl.beside.in_halves): the very same
    bytes as drawing them one after the other, for both pages."""
    from dcactl import beside

    monkeypatch.setattr(beside, "cores", lambda: 2)  # a child only with a second core: pretend
    forks: list[int] = []
    fork = beside.beside

    def counted(*args: Any, **kwargs: Any) -> Any:
        forks.append(1)
        return fork(*args, **kwargs)

    monkeypatch.setattr(beside, "beside", counted)
    data = _portfolio(4, 200, 7)
    assert report_page(data, beside.in_halves) == report_page(data)
    doc, curves = _curves()
    assert backtest_page(doc, curves, beside.in_halves) == backtest_page(doc, curves)
    assert len(forks) == 2, "each page drew half its charts in a child"


# ---- the command against the devnet ---------------------------------------------------------------

def test_report_command_writes_the_ledger(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """Paper buys on the devnet, then `report`: the file holds the status numbers of `status --json`,
    a price chart per bought asset with the devnet's candles, the run log; --json names the file."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS)
    assert cli("--config", str(cfg), "run").code == 0
    out = tmp_path / "r.html"
    res = cli("--config", str(cfg), "--json", "report", "--output", str(out))
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["written"] == str(out) and doc["bytes"] == len(out.read_bytes())
    assert doc["assets"] == ["BTC", "ETH", "LINK"]
    page = out.read_text()
    status = cli("--config", str(cfg), "--json", "status").json()
    for row in status["assets"]:
        assert f"<td class=\"\">{D(row['units']).normalize():f}</td>" in page
    assert re.findall(r'data-chart="(asset-[^"]+)"', page) == ["asset-BTC", "asset-ETH", "asset-LINK"]
    assert page.count("price (daily close)") == 3, "every asset has its price line from the candle cache"
    assert "BTC paper" in page and external_refs(page) == []
    assert cli("--config", str(cfg), "report", "--output", str(tmp_path)).code == 2
    assert cli("--config", str(cfg), "report", "--since", "yesterday").code == 2


# ---- a real browser --------------------------------------------------------------------------------

def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser() -> Any:
    """Headless Debian Chromium through chromedriver, with every network request refused."""
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are required in CI (.ci/run installs them)")
        pytest.skip("chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,2200"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(found[1]))
    try:
        yield driver
    finally:
        driver.quit()


def test_report_renders_in_a_real_browser(tmp_path: Path, devnet: Any, cli: Any, browser: Any) -> None:
    """The report opened from disk in headless Chromium with the network cut: no console error, every
    chart drawn with a real size, a hover title on a buy; a screenshot is kept in test-artifacts/."""
    from selenium.webdriver.common.by import By

    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS)
    assert cli("--config", str(cfg), "run").code == 0
    out = tmp_path / "r.html"
    assert cli("--config", str(cfg), "report", "-o", str(out)).code == 0
    with pytest.raises(httpx.HTTPError):  # the browser's proxy really goes nowhere
        httpx.get("http://127.0.0.1:9", timeout=2)
    browser.get(out.as_uri())
    figures = browser.find_elements(By.CSS_SELECTOR, "figure.chart")
    names = [f.get_attribute("data-chart") for f in figures]
    assert names == ["allocation", "value-paper", "asset-BTC", "asset-ETH", "asset-LINK"]
    for figure in figures:
        svg = figure.find_element(By.TAG_NAME, "svg")
        assert svg.size["width"] > 300 and svg.size["height"] > 100, figure.get_attribute("data-chart")
        assert len(svg.find_elements(By.TAG_NAME, "path")) > 5
    titles = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure[data-chart=\"asset-BTC\"] use title'))"
        ".map(t => t.textContent)")
    assert len(titles) == 1 and "BTC at" in titles[0] and "USDC (paper)" in titles[0]
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "report.png"))


def test_backtest_page_renders_in_a_real_browser(tmp_path: Path, browser: Any) -> None:
    """backtest --html's page in headless Chromium: both strategy charts drawn, no console error."""
    from selenium.webdriver.common.by import By

    doc, curves = _curves()
    out = tmp_path / "b.html"
    out.write_text(backtest_page(doc, curves))
    browser.get(out.as_uri())
    figures = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")
    assert len(figures) == 3 and all(f.size["height"] > 100 for f in figures)
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "backtest.png"))


def test_sparkline_by_hand() -> None:
    """Lowest value → ▁, highest → █, linear between; flat series sit mid-height; <2 values: nothing."""
    from dcactl.cli.render import sparkline

    assert sparkline([D(1), D(8), D("4.5")]) == "▁█▄"
    assert sparkline([D(3), D(3)]) == "▄▄"
    assert sparkline([D(3)]) == ""


def test_status_shows_a_30_day_trend_when_wide(tmp_path: Path, devnet: Any, cli: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """After `plan` cached the candles: `status` at 200 columns has a 30-day sparkline per asset; at 100
    columns it does not; `status --json` never carries it."""
    body = ASSETS + '[assets.BTC.rsi]\nperiod = 14\n'
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, body)
    assert cli("--config", str(cfg), "plan").code == 0
    monkeypatch.setenv("COLUMNS", "200")
    wide = cli("--config", str(cfg), "status")
    assert "30 days" in wide.out
    btc = next(line for line in wide.out.splitlines() if "│ BTC" in line)
    assert len(re.findall("[▁▂▃▄▅▆▇█]", btc)) == 30
    monkeypatch.setenv("COLUMNS", "100")
    assert "30 days" not in cli("--config", str(cfg), "status").out
    assert "trend" not in cli("--config", str(cfg), "--json", "status").out
