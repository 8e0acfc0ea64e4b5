"""Timers: the crontab line and systemd units (text), and installing them idempotently."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dcactl.schedule.timers import cron_line, install_cron, install_systemd, systemd_units


def test_cron_line() -> None:
    """The cron line uses absolute quoted paths, --quiet, global options first, and no redirection."""
    line = cron_line("/opt/dca tool/bin/dcactl", "/home/u/portfolio.toml", "/home/u/ledger.db")
    assert line == (
        "*/15 * * * * '/opt/dca tool/bin/dcactl' --config /home/u/portfolio.toml "
        "--db /home/u/ledger.db --quiet run"
    )
    assert ">" not in line and "2>&1" not in line
    assert cron_line("/x/dcactl", "/c", "/d", every_minutes=60).startswith("0 * * * * ")
    assert cron_line("/x/dcactl", "/c", "/d", every_minutes=1).startswith("* * * * * ")


def test_cron_line_makes_paths_absolute_and_refuses_percent(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """Relative paths become absolute; '%' (special to cron) and bad intervals are refused."""
    monkeypatch.chdir(tmp_path)
    line = cron_line("/x/dcactl", "portfolio.toml", "db.sqlite")
    assert f"--config {tmp_path}/portfolio.toml" in line
    with pytest.raises(ValueError, match="%"):
        cron_line("/x/dcactl", "/home/u/100%.toml", "/d")
    with pytest.raises(ValueError):
        cron_line("/x/dcactl", "/c", "/d", every_minutes=0)


def test_systemd_units() -> None:
    """A oneshot service with quoted absolute paths and a persistent timer."""
    units = systemd_units("/opt/dca tool/bin/dcactl", "/home/u/p%.toml", "/home/u/$db")
    service, timer = units["dcactl.service"], units["dcactl.timer"]
    assert "Type=oneshot\n" in service
    assert (
        'ExecStart="/opt/dca tool/bin/dcactl" --config "/home/u/p%%.toml" --db "/home/u/$$db" run\n'
    ) in service
    assert "OnCalendar=*:0/15\n" in timer
    assert "Persistent=true\n" in timer
    assert "WantedBy=timers.target\n" in timer
    hourly = systemd_units("/a", "/b", "/c", on_calendar="hourly")["dcactl.timer"]
    assert hourly.count("OnCalendar=") == 1 and "OnCalendar=hourly\n" in hourly


def test_install_cron_adds_the_line_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--install adds the line to the crontab, and a second install leaves it unchanged."""
    table = tmp_path / "table"
    fake = tmp_path / "bin" / "crontab"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-l" ]; then [ -f {table} ] && cat {table} || exit 1; else cat > {table}; fi\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    table.write_text("0 3 * * * backup\n")
    line = cron_line("/x/dcactl", "/c", "/d")
    assert install_cron(line).startswith("added")
    assert install_cron(line).startswith("the crontab already has")
    assert table.read_text() == f"0 3 * * * backup\n{line}\n"


def test_install_systemd_writes_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--install writes both units; without systemctl the notes give the commands to run."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    notes = install_systemd(systemd_units("/a", "/b", "/c"), tmp_path / "units")
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == ["dcactl.service", "dcactl.timer"]
    assert "systemctl --user enable --now dcactl.timer" in notes[-1]


def test_cron_key_advice_for_each_key_source() -> None:
    """env: sources get a warning with the fix (cron has no such variable); file:/keyring: do not."""
    from dcactl.schedule.timers import cron_key_advice

    advice = cron_key_advice([("settings.key", "env:DCACTL_KEY"), ("notify.urls[0]", "file:/k/url"),
                              ("notify.heartbeat", "keyring:hb"), ("settings.coingecko_key", "env:CG")])
    assert len(advice) == 2
    assert advice[0].startswith("settings.key reads $DCACTL_KEY, which cron jobs do not have")
    assert '"file:/path/to/it"' in advice[0] and "crontab -e" in advice[0]
    assert advice[1].startswith("settings.coingecko_key reads $CG")
    assert cron_key_advice([("settings.key", "file:/k")]) == []


def test_systemd_env_file_is_mode_600_and_read_by_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--install with env: sources: the variables go to a mode-600 file named by EnvironmentFile=;
    a variable missing from the shell is refused without writing anything."""
    from dcactl.errors import UsageError
    from dcactl.schedule.timers import systemd_key_advice, write_env_file

    env_file = tmp_path / "cfg" / "dcactl" / "dcactl.env"
    monkeypatch.setenv("DCACTL_KEY", "0x" + "ab" * 32)
    monkeypatch.delenv("DCACTL_NOPE", raising=False)
    with pytest.raises(UsageError, match="DCACTL_NOPE not set"):
        write_env_file(env_file, ["DCACTL_KEY", "DCACTL_NOPE"])
    assert not env_file.exists()
    write_env_file(env_file, ["DCACTL_KEY"])
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == f"DCACTL_KEY=0x{'ab' * 32}\n"
    service = systemd_units("/x/dcactl", "/c", "/d", env_file=env_file)["dcactl.service"]
    assert f"EnvironmentFile={env_file}\n" in service
    assert service.index("EnvironmentFile=") < service.index("ExecStart=")
    assert "EnvironmentFile" not in systemd_units("/x/dcactl", "/c", "/d")["dcactl.service"]
    sources = [("settings.key", "env:DCACTL_KEY")]
    assert "create it with mode 600" in systemd_key_advice(sources, env_file, installed=False)[0]
    assert systemd_key_advice([("settings.key", "file:/k")], env_file, installed=False) == []
