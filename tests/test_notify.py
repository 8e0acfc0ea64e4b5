"""Notifications and the heartbeat ([notify]) against a local HTTP receiver started by the test:
what is sent, when, that it never changes a run, and that no key or token is ever in it."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from live_support import funded_wallet, key_hex, live_portfolio
from support import config_problems, write_portfolio

from dcactl.notify.deliver import Target, scrub
from dcactl.notify.messages import Holding, Missed, missed_message, run_messages

ASSETS = """
[assets.BTC]
amount = 100
every = "day"
[assets.LINK]
amount = 15
every = "week"
coingecko_id = "no-such-coin"
"""


@dataclass
class Receiver:
    """A local HTTP server that records every POST; paths starting /bad answer 500, /hang never answer
    before ``hang_s``."""

    port: int
    hits: list[tuple[str, str]] = field(default_factory=list)
    hang_s: float = 30.0

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [p for p, _ in self.hits]

    def bodies(self, prefix: str) -> list[str]:
        return [b for p, b in self.hits if p.startswith(prefix)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A notification and heartbeat receiver on a free loopback port."""
    box: list[Receiver] = []
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            box[0].hits.append((self.path, body))
            if self.path.startswith("/hang"):
                release.wait(box[0].hang_s)
            code = 500 if self.path.startswith("/bad") else 200
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.append(Receiver(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def _notify(receiver: Receiver, urls: list[str], *, events: str = '["failed", "missed"]',
            timeout: float = 5) -> str:
    quoted = ", ".join(json.dumps(u) for u in urls)
    return (f"\n[notify]\nurls = [{quoted}]\nevents = {events}\n"
            f'heartbeat = "http://{receiver.url}/hb"\ntimeout = {timeout}\n')


def test_failing_asset_is_notified_with_its_reason_and_heartbeat_sees_the_exit_code(
    tmp_path: Path, devnet: Any, cli: Any, receiver: Receiver
) -> None:
    """LINK fails (unknown CoinGecko id): one `failed` message naming it and the reason; BTC's buy is
    not sent (filled is not a wanted event); the heartbeat sees /start, then /1 with the summary."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url,
                          ASSETS + _notify(receiver, [f"json://{receiver.url}/msg"]))
    res = cli("--config", str(cfg), "--json", "run")
    assert res.code == 1
    assert receiver.paths() == ["/hb/start", "/msg", "/hb/1"]
    (message,) = [json.loads(b) for b in receiver.bodies("/msg")]
    assert message["title"] == "dcactl: LINK buy failed"
    assert "no-such-coin" in message["message"] and "period" in message["message"]
    assert "Next:" in message["message"]
    (summary,) = receiver.bodies("/hb/1")
    assert summary.startswith(f"dcactl paper run {res.json()['run_id']}: exit 1")
    assert "LINK failed" in summary and "BTC paper" in summary


def test_filled_carries_running_totals(tmp_path: Path, devnet: Any, cli: Any, receiver: Receiver) -> None:
    """With `filled` wanted, each buy is a message with size, price, USDC and the asset's totals."""
    body = ASSETS.replace('coingecko_id = "no-such-coin"\n', "")
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url,
                          body + _notify(receiver, [f"json://{receiver.url}/msg"], events='["filled"]'))
    res = cli("--config", str(cfg), "--json", "buy", "BTC")
    assert res.code == 0, res.err
    (r,) = res.json()["results"]
    (message,) = [json.loads(b) for b in receiver.bodies("/msg")]
    assert message["title"] == "dcactl: bought BTC"
    text = message["message"]
    assert f"bought {r['size']} at" in text and f"for {D(r['usd_filled']):,.2f} USDC on paper" in text
    units = D(r["size"]) - D(r["fee"])
    assert f"Totals: {units.normalize():f} held" in text


def test_a_broken_receiver_changes_nothing(tmp_path: Path, devnet: Any, cli: Any, receiver: Receiver) -> None:
    """A receiver answering 500 and one that hangs: the buys and the exit code are as without
    [notify]; the run ends once the notify timeout (1 s) passes; each failure is one warning."""
    receiver.hang_s = 60
    body = ASSETS.replace('coingecko_id = "no-such-coin"\n', "")
    urls = [f"json://{receiver.url}/bad", f"json://{receiver.url}/hang"]
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url,
                          body + _notify(receiver, urls, events='["filled"]', timeout=1))
    started = time.monotonic()
    res = cli("--config", str(cfg), "--json", "run")
    elapsed = time.monotonic() - started
    assert res.code == 0, res.err
    assert {r["status"] for r in res.json()["results"]} == {"paper"}
    assert elapsed < 30, "a hanging receiver must not hold the run"
    assert "notification to notify.urls[0] (json) failed" in res.err
    # either our 1 s bound or apprise's own timeout (given the same 1 s) ends the hanging delivery
    assert "notification to notify.urls[1] (json) failed" in res.err


def test_no_key_or_token_in_any_message_or_warning(
    tmp_path: Path, devnet: Any, cli: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live run that fails (no USDC): the messages, heartbeat bodies, stdout and stderr hold neither
    the signing key nor the notify URL's token (read from env:, and failing with a 500)."""
    wallet = funded_wallet(devnet, None)
    key = key_hex(wallet)
    monkeypatch.setenv("DCACTL_KEY", key)
    token = "tok9d8f7e6a5b4c3"
    monkeypatch.setenv("DCACTL_NOTIFY_URL", f"json://{receiver.url}/bad/{token}")
    cfg = live_portfolio(tmp_path / "p.toml", devnet.url, "[assets.BTC]\namount = 20\nevery = \"day\"\n",
                         wallet.address, settings="")
    cfg.write_text(cfg.read_text() + _notify(receiver, ["env:DCACTL_NOTIFY_URL", f"json://{receiver.url}/ok"]))
    res = cli("--config", str(cfg), "-v", "run")
    assert res.code == 1
    sent = "\n".join(b for _, b in receiver.hits)
    assert any(p == "/ok" for p in receiver.paths()) and "BTC buy failed" in sent
    for text, where in ((sent, "messages"), (res.out, "stdout"), (res.err, "stderr")):
        for needle in (key, key.upper(), "0x" + key):
            assert needle not in text, f"key in {where}"
    assert token not in res.out + res.err
    assert "notify.urls[0] (json from env:) failed" in res.err


def test_notify_test_reports_each_target(tmp_path: Path, devnet: Any, cli: Any, receiver: Receiver) -> None:
    """`notify test`: a message to each URL and a plain heartbeat ping; one failing → exit 1, JSON
    says which; an unset env: source is reported by name, never by value."""
    urls = [f"json://{receiver.url}/msg", f"json://{receiver.url}/bad", "env:DCACTL_NO_SUCH_VAR"]
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url, ASSETS + _notify(receiver, urls))
    res = cli("--config", str(cfg), "--json", "notify", "test")
    assert res.code == 1
    doc = res.json()
    assert doc["ok"] is False
    status = {d["target"]: d["status"] for d in doc["deliveries"]}
    assert status == {
        "notify.urls[2]": "failed",
        "notify.urls[0] (json)": "ok",
        "notify.urls[1] (json)": "failed",
        "notify.heartbeat (http)": "ok",
    }
    unset = next(d for d in doc["deliveries"] if d["target"] == "notify.urls[2]")
    assert "DCACTL_NO_SUCH_VAR is not set" in unset["detail"]
    assert sorted(receiver.paths()) == ["/bad", "/hb", "/msg"]
    (message,) = [json.loads(b) for b in receiver.bodies("/msg")]
    assert message["title"] == "dcactl: test notification"


def test_notify_test_quiet_and_without_notify(
    tmp_path: Path, devnet: Any, cli: Any, receiver: Receiver
) -> None:
    """All targets fine and -q: nothing printed, exit 0; no [notify] at all: exit 2 with one line."""
    cfg = write_portfolio(tmp_path / "p.toml", devnet.url,
                          ASSETS + _notify(receiver, [f"json://{receiver.url}/msg"]))
    res = cli("--config", str(cfg), "-q", "notify", "test")
    assert (res.code, res.out, res.err) == (0, "", "")
    bare = write_portfolio(tmp_path / "bare.toml", devnet.url, ASSETS)
    res = cli("--config", str(bare), "notify", "test")
    assert res.code == 2 and res.err.count("\n") == 1 and "no [notify] table" in res.err


def test_broken_config_still_pings_the_heartbeat(tmp_path: Path, cli: Any, receiver: Receiver) -> None:
    """A portfolio that does not load: exit 2, and the heartbeat gets /start then /2 with the error."""
    cfg = tmp_path / "p.toml"
    cfg.write_text('[settings]\nmode = "paper"\n[assets.BTC]\namount = "x"\nevery = "day"\n'
                   f'[notify]\nheartbeat = "http://{receiver.url}/hb"\n')
    res = cli("--config", str(cfg), "run")
    assert res.code == 2
    assert receiver.paths() == ["/hb/start", "/hb/2"]
    assert "assets.BTC.amount" in receiver.bodies("/hb/2")[0]


def test_missed_period_is_notified_once(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """BTC bought today, then (clock injected) three days later: two daily periods passed without a
    buy; `collect` makes one `missed` message, and none the next time for the same periods."""
    import asyncio

    from dcactl.models import utcnow
    from dcactl.notify.hooks import collect, missed_now
    from dcactl.session import open_session

    cfg = write_portfolio(tmp_path / "p.toml", devnet.url,
                          '[assets.BTC]\namount = 20\nevery = "day"\n[notify]\nurls = ["json://x/y"]\n')
    assert cli("--config", str(cfg), "run").code == 0
    later = utcnow() + timedelta(days=3)

    async def go() -> tuple[list[Any], list[Any], list[Any]]:
        async with open_session(cfg, None) as session:
            missed = missed_now(session, later)
            first = collect(session, {"mode": "paper", "results": []}, later)
            second = collect(session, {"mode": "paper", "results": []}, later)
            return missed, first, second

    missed, first, second = asyncio.run(go())
    (m,) = missed
    assert (m.asset, m.count) == ("BTC", 2)
    assert [x.title for x in first] == ["dcactl: BTC missed 2 periods"]
    assert second == []

    # a period whose run recorded why it did not buy (a rule's skip) is not missed
    from dcactl.ledger import Ledger

    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    with Ledger.open(tmp_path / "ledger.db", network=devnet.url, account=None) as ledger:
        ledger.begin_run("skip1", utcnow(), "paper", "run")
        ledger.end_run("skip1", utcnow(), {"results": [
            {"asset": "BTC", "status": "skipped", "period": tomorrow, "reason": "RSI(14) 80 ≥ overbought 70"}
        ]}, 0)

    async def again() -> list[Any]:
        async with open_session(cfg, None) as session:
            return missed_now(session, later)

    (m,) = asyncio.run(again())
    assert m.count == 1, "the skipped day has its reason in the run log"


def test_messages_by_hand() -> None:
    """run_messages on a hand-made run document: each wanted event, its words and numbers."""
    doc = {"mode": "live", "results": [
        {"asset": "BTC", "status": "filled", "size": "0.001", "avg_price": "95000.5", "usd_filled": "95.0005",
         "fee": "0.0000007", "fee_token": "UBTC", "period": "2026-03-02T00:00:00Z"},
        {"asset": "ETH", "status": "skipped", "usd_requested": "50", "reason": "cap: 0 USDC left",
         "period": "p"},
        {"asset": "SOL", "status": "failed", "reason": "temporary: HTTP 503", "period": "p"},
        {"asset": "AVAX", "status": "not_due", "period": "p"},
    ]}
    held = {"BTC": Holding(D("0.0029993"), D("285.10"), D("95056.17"))}
    msgs = run_messages(doc, ["failed", "skipped", "filled"], held)
    assert [m.event for m in msgs] == ["filled", "skipped", "failed"]
    assert msgs[0].body == ("BTC: bought 0.001 at 95,000.50 for 95.00 USDC filled, fee 0.0000007 UBTC "
                            "(period 2026-03-02T00:00:00Z). Totals: 0.0029993 held, 285.10 USDC invested, "
                            "average cost 95,056.17.")
    assert msgs[1].body.startswith(
        "ETH (live, period p): the buy of 50.00 USDC was skipped: cap: 0 USDC left."
    )
    assert "the next run buys it if the cap leaves room" in msgs[1].body
    assert msgs[2].body == ("SOL (live, period p): the buy failed: temporary: HTTP 503. "
                            "Next: the next run tries again (the period stays due).")
    assert run_messages(doc, ["missed"]) == []
    miss = missed_message(Missed("SOL", 1, "2026-03-01T00:00:00+00:00", None))
    assert miss.title == "dcactl: SOL missed 1 period"


def test_scrub_hides_every_part_of_a_url() -> None:
    """Token-like parts of a URL (path, user, password, query values) never survive in a detail."""
    url = "tgram://123456:ABCdefGHI@987654/?token=zzz999"
    text = "failed for 123456:ABCdefGHI chat 987654 token zzz999"
    assert "ABCdefGHI" not in scrub(text, [url]) and "987654" not in scrub(text, [url])
    assert "zzz999" not in scrub(text, [url])
    assert "ABCdefGHI" not in repr(Target("notify.urls[0] (tgram)", url))


def test_notify_config_errors_never_echo_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad [notify] values: one line each naming the key; the URL (with its token) is never shown."""
    monkeypatch.chdir(tmp_path)
    problems = config_problems(
        '[settings]\nmode = "paper"\n[assets.BTC]\namount = 10\nevery = "day"\n'
        '[notify]\nurls = ["secret-token-123", "json://ok/x"]\nevents = ["fill"]\n'
        'heartbeat = "ftp://hb/secret-456"\nsummary = "weekly"\ntimout = 3\n'
    )
    joined = "\n".join(problems)
    assert "secret-token-123" not in joined and "secret-456" not in joined
    assert any("notify.urls[0]" in p for p in problems)
    assert any("notify.events[0]" in p and 'did you mean "filled"' in p for p in problems)
    assert any("notify.heartbeat" in p for p in problems)
    assert any("notify.summary" in p and 'did you mean "week"' in p for p in problems)
    assert any("notify.timout" in p and "did you mean `timeout`" in p for p in problems)


def test_digest_once_per_new_period(tmp_path: Path, devnet: Any, cli: Any) -> None:
    """summary = "day": the first run of the next day (clock injected) makes one digest of the day
    that ended (runs, buys, totals by source); a second call the same day makes none."""
    import asyncio

    from dcactl.models import utcnow
    from dcactl.notify.hooks import digest
    from dcactl.session import open_session

    cfg = write_portfolio(tmp_path / "p.toml", devnet.url,
                          '[assets.BTC]\namount = 20\nevery = "day"\n'
                          '[notify]\nurls = ["json://x/y"]\nsummary = "day"\n')
    assert cli("--config", str(cfg), "run").code == 0
    assert cli("--config", str(cfg), "run").code == 0

    async def go() -> tuple[Any, Any, Any]:
        async with open_session(cfg, None) as session:
            today = await digest(session, utcnow())
            tomorrow = utcnow() + timedelta(days=1)
            return today, await digest(session, tomorrow), await digest(session, tomorrow)

    today, first, again = asyncio.run(go())
    assert today is None, "no digest for the day that is still going"
    assert first is not None and again is None
    assert first.title.startswith("dcactl: your day (")
    assert first.body.splitlines()[0] == "2 runs (0 ended badly); 1 buys, 0 skips, 0 failures."
    assert "paper: invested" in first.body and "Next due: BTC" in first.body
    report = first.body.splitlines()[-1]
    assert report.startswith("Report (charts, offline HTML): ")
    page = Path(report.split(": ", 1)[1])
    assert page.parent == tmp_path / "reports" and 'data-chart="asset-BTC"' in page.read_text()


def test_run_under_an_empty_environment_fails_at_once_and_is_notified(
    tmp_path: Path, devnet: Any, receiver: Receiver
) -> None:
    """`env -i dcactl run` (cron's environment) with key = env:DCACTL_KEY: exit 2 at once with the key
    error on stderr, before anything is due-checked; the heartbeat sees /start and /2, the failure is
    sent to the notification URL, and the run log has it."""
    import subprocess
    import sys

    from eth_account import Account

    account = Account.create().address
    cfg = write_portfolio(
        tmp_path / "p.toml", devnet.url, "[assets.BTC]\namount = 20\nevery = \"day\"\n",
        settings=f'mode = "live"\naccount = "{account}"\nkey = "env:DCACTL_KEY"',
    )
    cfg.write_text(cfg.read_text() + _notify(receiver, [f"json://{receiver.url}/msg"]))
    proc = subprocess.run(["env", "-i", f"DCACTL_HOME={tmp_path / 'home'}", sys.executable, "-m", "dcactl",
                           "--config", str(cfg), "run"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "dcactl: error: key env:DCACTL_KEY: the environment variable DCACTL_KEY is not set"
    ]
    assert receiver.paths() == ["/hb/start", "/msg", "/hb/2"]
    (message,) = [json.loads(b) for b in receiver.bodies("/msg")]
    assert message["title"] == "dcactl: run stopped" and "DCACTL_KEY is not set" in message["message"]
