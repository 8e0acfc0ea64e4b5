"""Shared fixtures: every test runs with its own home, config and data dirs (tests never touch ~)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every path dcactl might use at a per-test temporary directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DCACTL_HOME", str(home / "dcactl"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("DCACTL_LOCK_DIR", str(home / "locks"))  # the account locks of this test only
    for var in ("DCACTL_CONFIG", "DCACTL_DB", "DCACTL_KEY", "DCACTL_CRASH_AT"):
        monkeypatch.delenv(var, raising=False)
    from dcactl.cli import output

    # the global flags and cached consoles live in module state: every test starts from the defaults
    monkeypatch.setattr(output, "OPTIONS", output.OutputOptions())
    output.reset_consoles()
    return home


# --- CLI and devnet helpers shared by the integration tests --------------------------------------

import json  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402


@dataclass
class CliResult:
    """What one in-process ``dcactl`` invocation did: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as the one JSON document ``--json`` promises."""
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``dcactl ARGS`` in-process through the real entry point (error boundary included)."""
    from dcactl.cli import output
    from dcactl.cli.app import main

    def invoke(*args: str) -> CliResult:
        output.reset_consoles()
        output.OPTIONS.json = output.OPTIONS.quiet = output.OPTIONS.verbose = False
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return invoke


@pytest.fixture
def devnet() -> Iterator[Any]:
    """A fresh devnet (seed 11, rate limit off) in a background thread on a free loopback port."""
    from dcactl.devnet.control import DevnetThread

    with DevnetThread(seed=11) as d:
        yield d
