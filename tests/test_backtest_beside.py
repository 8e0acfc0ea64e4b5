"""Strategies replayed beside this process (dcactl.beside): the forked child's answer comes
back whole, a child that fails leaves the work to this process, and a backtest split between the two
gives exactly the figures and curves of one process."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcactl import beside as beside_module
from dcactl.backtest import run as backtest_run
from dcactl.backtest.results import Costs
from dcactl.backtest.run import BacktestRequest, _halves, run_backtest_csv
from dcactl.backtest.variants import Strategy
from dcactl.beside import Beside, beside
from dcactl.session import load


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child is only forked with a second core to run on: pretend, whatever runs the tests."""
    monkeypatch.setattr(beside_module, "cores", lambda: 2)


def test_the_childs_answer_comes_back_whole() -> None:
    parent = os.getpid()
    with beside(lambda: {"pid": os.getpid(), "amounts": [D("0.1") * n for n in range(5000)]}) as child:
        assert child is not None
        got = child.result()
    assert got is not None and got["pid"] != parent  # computed in another process
    assert got["amounts"] == [D("0.1") * n for n in range(5000)]  # past a pipe's buffer, exact
    assert child.result() is None  # asked once


def _die() -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 1


def _fail() -> int:
    raise ValueError("in the child")


@pytest.mark.parametrize("work", [_die, _fail])
def test_a_child_that_fails_says_so_with_none(work: Any) -> None:
    with beside(work) as child:
        assert child is not None
        assert child.result() is None


def test_no_child_without_a_second_core_or_when_not_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    with beside(lambda: 1, enabled=False) as child:
        assert child is None
    monkeypatch.setattr(beside_module, "cores", lambda: 1)
    with beside(lambda: 1) as child:
        assert child is None


def test_the_child_leaves_without_running_the_parents_exit(tmp_path: Path) -> None:
    """No buffered output flushed twice, no atexit handler: the file holds what this process wrote,
    once."""
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        f.write("written once")  # buffered, not flushed, when the child is forked
        with beside(lambda: 7) as child:
            assert child is not None and child.result() == 7
    assert out.read_text() == "written once"


def test_leaving_early_kills_and_reaps_the_child() -> None:
    """An error (or Ctrl-C) in the parent before it asks: the child is stopped, not left running."""
    with pytest.raises(RuntimeError), beside(lambda: __import__("time").sleep(60)) as child:
        assert child is not None
        pid = child._pid
        raise RuntimeError("the parent failed")
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already: no such child


def _strategy(name: str, kind: str) -> Strategy:
    return Strategy(name, kind, None)  # type: ignore[arg-type]  # _halves reads names and kinds only


def test_halves_keep_the_baselines_here_and_send_the_first_rules_there() -> None:
    names = lambda ss: [s.name for s in ss]  # noqa: E731
    order = [_strategy("plain", "plain"), _strategy("portfolio", "portfolio")]
    order += [_strategy(f"v{n}", "variant") for n in range(7)] + [_strategy("lump-sum", "lump-sum")]
    here, there = _halves(order)
    assert names(here) == ["plain", "lump-sum", "v4", "v5", "v6"]
    assert names(there) == ["portfolio", "v0", "v1", "v2", "v3"]
    here, there = _halves([order[0], order[1], order[-1]])
    assert (names(here), names(there)) == (["plain", "lump-sum"], ["portfolio"])
    assert _halves([order[1]]) == ([order[1]], [])  # one strategy: nothing to share


def _walk_csv(path: Path, assets: int, days: int) -> Path:
    rng = np.random.default_rng(3)
    rows = ["time,asset,open,high,low,close"]
    start = datetime(2023, 1, 2, tzinfo=UTC)
    for k in range(assets):
        closes = 100 * (k + 1) * np.exp(np.cumsum(rng.normal(0, 0.03, days)))
        opens = np.concatenate([[closes[0]], closes[:-1]])
        for i in range(days):
            o, c = opens[i], closes[i]
            day = start + timedelta(days=i)
            rows.append(f"{day:%Y-%m-%d},A{k},{o:.4f},{max(o, c):.4f},{min(o, c):.4f},{c:.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _config(tmp_path: Path, body: str) -> Any:
    path = tmp_path / "p.toml"
    path.write_text(body)
    return load(path)


@pytest.mark.parametrize("curves", [True, False])
def test_a_backtest_split_between_two_processes_is_one_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, curves: bool
) -> None:
    """The child replays the first half of the rules' strategies and its answer is used; every
    strategy's figures, skips and curve equal those of one process replaying them all."""
    body = '[settings]\nnetwork = "devnet"\n' + "".join(
        f'[assets.A{k}]\namount = 50\nevery = "week"\n[assets.A{k}.rsi]\n' for k in range(3)
    )
    config = _config(tmp_path, body)
    prices = _walk_csv(tmp_path / "prices.csv", 3, 400)
    request = BacktestRequest(
        start=datetime(2023, 6, 1, tzinfo=UTC), end=datetime(2024, 1, 30, tzinfo=UTC),
        sets=("rsi.overbought=60,70,80",), costs=Costs(), prices=prices, curves=curves,
    )
    answers: list[Any] = []
    result = Beside.result

    def spy(self: Beside[Any], timeout: float | None = None) -> Any:
        answers.append(result(self, timeout))
        return answers[-1]

    monkeypatch.setattr(Beside, "result", spy)
    here: list[str] = []  # what this process replayed (the child's calls stay in the child)
    replay_each = backtest_run._replay_each

    def replayed(request: Any, runs: Any, *rest: Any) -> Any:
        here.extend(s.name for s in runs)
        return replay_each(request, runs, *rest)

    monkeypatch.setattr(backtest_run, "_replay_each", replayed)
    split = run_backtest_csv(config, request)
    assert len(answers) == 1 and answers[0] is not None  # the child's own answer was used
    assert sorted(answers[0]) == ["portfolio", "rsi.overbought=60", "rsi.overbought=70"]
    assert sorted(here) == ["lump-sum", "plain", "rsi.overbought=80"]  # and not replayed again here
    alone = run_backtest_csv(config, BacktestRequest(**{**request.__dict__, "beside": False}))
    assert len(answers) == 1  # no child this time
    assert [r.to_json() for r in split.results] == [r.to_json() for r in alone.results]
    assert [r.curve for r in split.results] == [r.curve for r in alone.results]
    assert all((r.curve is not None) == curves for r in split.results)
    if curves:
        assert all(r.curve is not None and r.curve.points for r in split.results)


def test_a_failed_child_leaves_its_strategies_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the child fail, this process replays its strategies itself: the same figures."""
    body = '[settings]\nnetwork = "devnet"\n[assets.A0]\namount = 50\nevery = "week"\n[assets.A0.rsi]\n'
    config = _config(tmp_path, body)
    prices = _walk_csv(tmp_path / "prices.csv", 1, 300)
    request = BacktestRequest(start=datetime(2023, 4, 1, tzinfo=UTC), end=datetime(2023, 10, 1, tzinfo=UTC),
                              sets=("rsi.oversold=20,40",), prices=prices)
    alone = run_backtest_csv(config, BacktestRequest(**{**request.__dict__, "beside": False}))
    parent = os.getpid()
    replay_each = backtest_run._replay_each

    def fails_in_the_child(*args: Any) -> Any:
        if os.getpid() != parent:
            os._exit(3)
        return replay_each(*args)

    monkeypatch.setattr(backtest_run, "_replay_each", fails_in_the_child)
    split = run_backtest_csv(config, request)
    assert [r.to_json() for r in split.results] == [r.to_json() for r in alone.results]
    assert [r.curve for r in split.results] == [r.curve for r in alone.results]


def test_a_child_silent_past_its_deadline_is_killed_and_reaped() -> None:
    """A child that never answers (stuck, say, on a lock another thread held at the fork) costs the
    deadline, not the command: None, and the child is gone."""
    with beside(lambda: signal.pause()) as child:
        assert child is not None
        pid = child._pid
        got = child.result(timeout=0.3)
        assert got is None
        with pytest.raises(ChildProcessError):  # reaped already: no zombie left behind
            os.waitpid(pid, os.WNOHANG)
    with beside(lambda: 7) as child:  # one that answers in time is not cut short by a deadline
        assert child is not None
        assert child.result(timeout=30) == 7


def test_a_stuck_child_leaves_its_strategies_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay waits for its child a bounded time: a child that hangs is killed past it and its
    strategies replayed here, with the same figures."""
    body = '[settings]\nnetwork = "devnet"\n[assets.A0]\namount = 50\nevery = "week"\n[assets.A0.rsi]\n'
    config = _config(tmp_path, body)
    prices = _walk_csv(tmp_path / "prices.csv", 1, 300)
    request = BacktestRequest(start=datetime(2023, 4, 1, tzinfo=UTC), end=datetime(2023, 10, 1, tzinfo=UTC),
                              sets=("rsi.oversold=20,40",), prices=prices, curves=False)
    alone = run_backtest_csv(config, BacktestRequest(**{**request.__dict__, "beside": False}))
    parent = os.getpid()
    replay_each = backtest_run._replay_each

    def hangs_in_the_child(*args: Any) -> Any:
        if os.getpid() != parent:
            signal.pause()
        return replay_each(*args)

    monkeypatch.setattr(backtest_run, "_replay_each", hangs_in_the_child)
    monkeypatch.setattr(beside_module, "GRACE_S", 0.3)
    monkeypatch.setattr(beside_module, "FACTOR", 0.0)
    split = run_backtest_csv(config, request)
    assert [r.to_json() for r in split.results] == [r.to_json() for r in alone.results]


def test_in_halves_gives_every_result_in_order_the_first_half_from_a_child() -> None:
    """in_halves(jobs) == [job() for job in jobs]; the first half is computed in another process."""
    parent = os.getpid()
    jobs = [lambda n=n: (n * n, os.getpid()) for n in range(7)]
    got = beside_module.in_halves(jobs)
    assert [v for v, _ in got] == [n * n for n in range(7)]
    assert {pid for _, pid in got[:3]} != {parent} and len({pid for _, pid in got[:3]}) == 1
    assert {pid for _, pid in got[3:]} == {parent}
    assert beside_module.in_halves(jobs, enabled=False) == [(n * n, parent) for n in range(7)]
    assert beside_module.in_halves(jobs[:1]) == [(0, parent)]  # one job: no child for it
    assert beside_module.in_halves([]) == []


def test_in_halves_does_a_failed_childs_half_itself() -> None:
    parent = os.getpid()

    def job(n: int) -> int:
        if os.getpid() != parent:
            os._exit(5)
        return n

    assert beside_module.in_halves([lambda n=n: job(n) for n in range(5)]) == list(range(5))
