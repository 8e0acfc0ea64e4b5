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
    for var in ("DCACTL_CONFIG", "DCACTL_DB", "DCACTL_KEY", "DCACTL_CRASH_AT"):
        monkeypatch.delenv(var, raising=False)
    return home
