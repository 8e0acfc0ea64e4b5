"""Running dcactl on a timer: a crontab line or a systemd service + timer pair, printed or installed.

``--install`` is idempotent: the crontab gains the line once (an identical line is never added
twice), and the systemd units are written to the user unit directory and the timer enabled.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from dcactl.errors import DcactlError, UsageError


def _abs(path: str | os.PathLike[str], what: str) -> str:
    text = os.fspath(path)
    if any(c in text for c in "\n\r\0"):
        raise ValueError(f"{what} path contains a line break or NUL: {text!r}")
    return os.path.abspath(text)


def cron_line(
    dcactl_path: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    db_path: str | os.PathLike[str],
    every_minutes: int = 15,
) -> str:
    """One crontab line that runs ``dcactl run`` every ``every_minutes`` (1..60) minutes.

    Paths are made absolute and shell-quoted. ``--quiet`` makes dcactl silent on success, so cron
    mails only on failure; nothing is redirected (errors must reach that mail). ``%`` is special in
    crontab (it starts stdin), so a path containing it is refused with ValueError, as are line breaks.
    """
    if not 1 <= every_minutes <= 60:
        raise ValueError(f"every_minutes must be between 1 and 60, got {every_minutes}")
    paths = [_abs(dcactl_path, "dcactl"), _abs(config_path, "config"), _abs(db_path, "ledger")]
    for p in paths:
        if "%" in p:
            raise ValueError(f"cron cannot run a command whose path contains '%': {p}")
    minute = "0" if every_minutes == 60 else ("*" if every_minutes == 1 else f"*/{every_minutes}")
    exe, cfg, db = (shlex.quote(p) for p in paths)
    return f"{minute} * * * * {exe} --config {cfg} --db {db} --quiet run"


_SYSTEMD_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+,=-]+$")


def _systemd_quote(arg: str) -> str:
    """Quote one ExecStart argument: ``%`` → ``%%`` (specifiers), ``$`` → ``$$``, C-style escapes."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_PLAIN.match(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(
    dcactl_path: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    db_path: str | os.PathLike[str],
    on_calendar: str = "*:0/15",
    env_file: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """``{"dcactl.service": ..., "dcactl.timer": ...}``: a oneshot service and its timer.

    The timer has ``Persistent=true`` (a run missed while the machine was off happens at boot). The
    service does not pass ``--quiet``: the journal keeps one record per run. Paths are made absolute
    and quoted for systemd (``%`` and ``$`` escaped).
    """
    if any(c in on_calendar for c in "\n\r\0"):
        raise ValueError(f"OnCalendar contains a line break: {on_calendar!r}")
    exe, cfg, db = (
        _systemd_quote(_abs(p, what))
        for p, what in ((dcactl_path, "dcactl"), (config_path, "config"), (db_path, "ledger"))
    )
    service = (
        "[Unit]\n"
        "Description=dcactl: recurring spot buys on Hyperliquid\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        + (f"EnvironmentFile={_systemd_quote(_abs(env_file, 'environment file'))}\n" if env_file else "")
        + f"ExecStart={exe} --config {cfg} --db {db} run\n"
    )
    timer = (
        "[Unit]\n"
        "Description=Run dcactl (recurring spot buys) on a timer\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={on_calendar}\n"
        "Persistent=true\n"
        "Unit=dcactl.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {"dcactl.service": service, "dcactl.timer": timer}


def install_cron(line: str) -> str:
    """Add ``line`` to the invoking user's crontab unless it is already there; returns a note.

    Raises UsageError when ``crontab`` is not installed, DcactlError when it refuses the table.
    """
    crontab = shutil.which("crontab")
    if crontab is None:
        raise UsageError(
            "crontab is not installed here; add this line by hand or use `dcactl schedule systemd`"
        )
    current = subprocess.run([crontab, "-l"], capture_output=True, text=True, check=False)
    existing = current.stdout if current.returncode == 0 else ""
    if line in existing.splitlines():
        return "the crontab already has this line; nothing changed"
    table = existing + ("" if not existing or existing.endswith("\n") else "\n") + line + "\n"
    done = subprocess.run([crontab, "-"], input=table, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DcactlError(f"crontab refused the new table: {done.stderr.strip() or done.returncode}")
    return f"added to your crontab: {line}"


def systemd_user_dir() -> Path:
    """Where user units live: ``$XDG_CONFIG_HOME/systemd/user`` (default ``~/.config/systemd/user``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "systemd" / "user"


def install_systemd(units: dict[str, str], unit_dir: Path | None = None) -> list[str]:
    """Write ``units`` into the user unit directory and enable the timer with ``systemctl --user``.

    Returns notes for the user. Where ``systemctl`` is missing (or has no user session) the files
    are still written and the notes give the commands to run.
    """
    target = unit_dir or systemd_user_dir()
    target.mkdir(parents=True, exist_ok=True)
    notes = []
    for name, text in units.items():
        (target / name).write_text(text)
        notes.append(f"wrote {target / name}")
    commands = [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "dcactl.timer"],
    ]
    if shutil.which("systemctl") is None:
        return [*notes, "systemctl not found; run: " + " && ".join(" ".join(c) for c in commands)]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return [
                *notes,
                f"`{' '.join(command)}` failed ({done.stderr.strip()}); run it in your user session",
            ]
    return [*notes, "enabled dcactl.timer (systemctl --user list-timers shows it)"]


def env_sources(sources: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (config key, variable name) of every ``env:`` source among ``sources``."""
    return [(key, src.split(":", 1)[1]) for key, src in sources if src.startswith("env:")]


def cron_key_advice(sources: list[tuple[str, str]]) -> list[str]:
    """What a cron job will not be able to read, one line each with the fix: cron starts jobs with an
    almost empty environment, so an ``env:`` source is unset there even when the shell has it."""
    out = []
    for key, var in env_sources(sources):
        out.append(
            f"{key} reads ${var}, which cron jobs do not have: put the secret in a mode-600 file and use "
            f'"file:/path/to/it" (or "keyring:NAME"), or set {var}=... on its own line above the job '
            "in crontab -e"
        )
    return out


def systemd_env_file() -> Path:
    """The environment file the systemd service reads: ``<config dir>/dcactl/dcactl.env``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dcactl" / "dcactl.env"


def systemd_key_advice(sources: list[tuple[str, str]], env_file: Path, installed: bool) -> list[str]:
    """For ``env:`` sources: the service reads them from ``env_file`` (an ``EnvironmentFile=`` line);
    says whether it was written (``installed``) or how to write it."""
    names = [var for _, var in env_sources(sources)]
    if not names:
        return []
    if installed:
        return [f"wrote {', '.join(names)} to {env_file} (mode 600), which the service reads; update it "
                "there when the secret changes"]
    return [f"the service reads {', '.join(names)} from {env_file} (EnvironmentFile=): create it with mode "
            f"600 and lines {' '.join(n + '=...' for n in names)}, or run dcactl schedule systemd --install "
            "with them set"]


def write_env_file(path: Path, names: list[str]) -> None:
    """Write ``NAME=value`` for each variable (from this process's environment) to ``path`` with mode
    600, created that way (never readable by others, not even briefly). Raises UsageError when a
    variable is not set here (its value is never shown)."""
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise UsageError(f"{', '.join(missing)} not set in this shell: set it, then run "
                         "dcactl schedule systemd --install again (its value goes to a mode-600 file)")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for n in names:
        value = os.environ[n]
        if any(c in value for c in "\n\r\0"):
            raise UsageError(f"{n} holds a line break; systemd cannot read it from an environment file")
        lines.append(f"{n}={value}\n")
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(lines))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
