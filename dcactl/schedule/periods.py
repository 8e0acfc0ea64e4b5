"""Schedules, periods, due checks, the run lock, and cron/systemd text.

**Periods** (PRODUCT.md, "Semantics users rely on"). A schedule cuts time into half-open periods
``[start, end)``:

- ``hour``, ``day``, ``week``, ``month``: calendar periods in the configured time zone. Weeks are ISO
  weeks (they start on Monday). Boundaries are local wall-clock times (every ``:00``, midnight,
  Monday midnight, the 1st at midnight) mapped to instants with :mod:`zoneinfo`:

  - a wall time that occurs once is that instant;
  - a wall time that occurs twice (clocks going back) is its *first* occurrence — except for ``hour``,
    where both occurrences are boundaries, so the repeated hour is two one-hour periods (fold-aware);
  - a wall time that never occurs (clocks going forward) is the instant the clocks jump past it.

  So a day in Europe/Berlin lasts 23 or 25 hours on DST days, and months follow the calendar.
- ``<N>h``, ``<N>d``, ``<N>w``: fixed intervals of N × 3600/86400/604800 seconds anchored at the Unix
  epoch (1970-01-01T00:00:00Z, a Thursday), independent of the time zone. ``1d`` is a UTC day, not a
  local one; ``1w`` runs Thursday to Thursday (UTC); use ``week`` for ISO weeks.

**Period ids** are the period's start instant in ISO-8601 UTC, whole seconds, ``Z`` suffix:
``2026-11-23T00:00:00Z`` (:attr:`Period.id`, :func:`parse_period_id`). A forced buy has a period of
its own, ``forced:<instant>`` (:func:`forced_period_id`), with the instant in the same form plus
milliseconds when it has any (``forced:2026-11-24T08:15:02.123Z``).

**Due rule.** An asset is due iff ``now`` is at or after the *end of the recorded period* of its last
buy **and** that buy happened before the start of the current period. The second clause gives "at
most one buy per period"; the first makes sure a change of ``every`` or ``timezone`` can never allow a
second buy inside the period in which the last buy was recorded. Forced buys are never passed as
``last_buy``: they live outside the schedule and neither consume nor block a period.

All instants are timezone-aware; naive datetimes are rejected with ValueError.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dcactl.errors import LockTimeout, UsageError

__all__ = [
    "DueCheck",
    "LastBuy",
    "LockTimeout",
    "Period",
    "RunLock",
    "Schedule",
    "forced_period_id",
    "is_due",
    "lock_path_for",
    "missed_periods",
    "parse_every",
    "parse_period_id",
    "period_of",
]

Unit = Literal["hour", "day", "week", "month"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIXED_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}
_FIXED_UNIT_NAMES = {"h": "hour", "d": "day", "w": "week"}
_CALENDAR: tuple[Unit, ...] = ("hour", "day", "week", "month")
_EVERY_RE = re.compile(r"^([1-9][0-9]{0,5})([hdw])$")
MAX_FIXED_SECONDS = 366 * 86400
"""The longest fixed interval (8784h, 366d, 52w): longer ones are typos, and their periods would run
past the calendar's end (year 9999) within a few thousand weeks."""


# --- schedules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A parsed ``every`` value.

    Calendar schedules have ``unit`` set and ``fixed_seconds`` None; fixed ones the reverse.
    ``text`` is the canonical spelling (``"week"``, ``"3d"``).
    """

    text: str
    unit: Unit | None = None
    fixed_seconds: int | None = None

    @property
    def is_calendar(self) -> bool:
        """True for hour/day/week/month in the configured zone."""
        return self.unit is not None

    @property
    def noun(self) -> str:
        """How a reason names one period: ``"week"``, ``"3-day period"``."""
        if self.unit is not None:
            return self.unit
        n, letter = int(self.text[:-1]), self.text[-1]
        return f"{n}-{_FIXED_UNIT_NAMES[letter]} period"


def parse_every(text: str) -> Schedule:
    """Parse ``hour | day | week | month | "<N>h" | "<N>d" | "<N>w"`` (N a positive integer, the
    interval at most :data:`MAX_FIXED_SECONDS`).

    Surrounding spaces and case are ignored. Raises ValueError naming the accepted forms otherwise.
    """
    if not isinstance(text, str):
        raise ValueError(f"every must be a string, got {type(text).__name__}")
    norm = text.strip().lower()
    if norm in _CALENDAR:
        return Schedule(text=norm, unit=norm)
    match = _EVERY_RE.match(norm)
    if match:
        n, letter = int(match.group(1)), match.group(2)
        if n * _FIXED_UNIT_SECONDS[letter] > MAX_FIXED_SECONDS:
            longest = MAX_FIXED_SECONDS // _FIXED_UNIT_SECONDS[letter]
            raise ValueError(
                f"schedule {norm!r} is longer than a year: at most {longest}{letter}"
                ' (or "month" for a monthly buy)'
            )
        return Schedule(text=f"{n}{letter}", fixed_seconds=n * _FIXED_UNIT_SECONDS[letter])
    named = repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text):,} characters)"
    spoken = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}
    hint = spoken.get(norm, norm.rstrip("s") if norm.rstrip("s") in _CALENDAR else None)
    tail = f'; did you mean "{hint}"?' if hint else ""
    raise ValueError(
        f"unknown schedule {named}{tail}: use hour, day, week, month, or a fixed interval such as "
        '"12h", "3d", "2w" (a positive whole number followed by h, d or w)'
    )


# --- periods -------------------------------------------------------------------------------------


def _iso(t: datetime) -> str:
    """``2026-11-23T00:00:00Z``; milliseconds are added only when present."""
    t = t.astimezone(UTC)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)`` of one schedule; both ends UTC-aware datetimes."""

    start: datetime
    end: datetime

    @property
    def id(self) -> str:
        """The start instant, ISO-8601 UTC with a ``Z`` (``2026-11-23T00:00:00Z``)."""
        return _iso(self.start)

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end


def parse_period_id(period_id: str) -> datetime:
    """The start instant (UTC-aware) of a period id made by :attr:`Period.id`.

    Raises ValueError for anything else (including ``forced:`` ids).
    """
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", period_id):
        raise ValueError(f"not a period id: {period_id!r}")
    return datetime.fromisoformat(period_id.replace("Z", "+00:00")).astimezone(UTC)


def forced_period_id(now: datetime) -> str:
    """The period id of a ``--force`` buy at ``now``: ``forced:2026-11-24T08:15:02.123Z``."""
    _require_aware(now)
    return f"forced:{_iso(now)}"


def _require_aware(t: datetime, what: str = "instant") -> None:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {t!r}")


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)") from exc


def _wall(u: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall time of instant ``u``."""
    return u.astimezone(zone).replace(tzinfo=None)


def _instant(naive: datetime, zone: ZoneInfo, fold: int = 0) -> datetime:
    """The UTC instant of a local wall time (see the module docstring for gaps and folds).

    ``fold`` picks the occurrence of a repeated wall time (0 first, 1 second); a wall time that does
    not exist maps to the instant the clocks jump past it.
    """
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    lo, hi = min(first, second), max(first, second)
    if _wall(lo, zone) == naive and _wall(hi, zone) == naive:  # repeated: clocks went back
        return lo if fold == 0 else hi
    # Skipped: clocks went forward. Find the first instant whose wall time is past ``naive``;
    # tz transitions fall on whole seconds, so a binary search on seconds is exact.
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= naive:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _truncate(wall: datetime, unit: Unit) -> datetime:
    if unit == "hour":
        return wall.replace(minute=0, second=0, microsecond=0)
    day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _advance(wall: datetime, unit: Unit) -> datetime:
    if unit == "hour":
        return wall + timedelta(hours=1)
    if unit == "day":
        return wall + timedelta(days=1)
    if unit == "week":
        return wall + timedelta(days=7)
    if wall.month == 12:
        return wall.replace(year=wall.year + 1, month=1)
    return wall.replace(month=wall.month + 1)


def _boundaries(wall: datetime, unit: Unit, zone: ZoneInfo) -> list[datetime]:
    """The instants of the boundary at naive local wall time ``wall`` (two for a repeated hour)."""
    first = _instant(wall, zone, 0)
    if unit != "hour":
        return [first]
    second = _instant(wall, zone, 1)
    return [first] if second == first else [first, second]


def period_of(schedule: Schedule, instant: datetime, tz: str | ZoneInfo) -> Period:
    """The period of ``schedule`` that contains ``instant`` (aware), in zone ``tz`` (IANA name).

    Raises ValueError for a naive instant or an unknown zone.
    """
    _require_aware(instant)
    zone = _zone(tz)
    instant = instant.astimezone(UTC)
    if schedule.fixed_seconds is not None:
        length = timedelta(seconds=schedule.fixed_seconds)
        start = EPOCH + ((instant - EPOCH) // length) * length
        return Period(start, start + length)
    unit = schedule.unit
    assert unit is not None
    t0 = _truncate(_wall(instant, zone), unit)
    # Boundaries around the instant: the truncated wall time, one unit before (in case the instant
    # sits in the repeat of a fold that began in the previous unit) and up to two units after.
    walls = [_truncate(t0 - timedelta(hours=1) if unit == "hour" else t0 - timedelta(days=1), unit), t0]
    walls += [_advance(walls[-1], unit)]
    walls += [_advance(walls[-1], unit)]
    cuts = sorted({b for w in walls for b in _boundaries(w, unit, zone)})
    start = max(b for b in cuts if b <= instant)
    end = min(b for b in cuts if b > instant)
    return Period(start, end)


def _period_after(schedule: Schedule, period: Period, zone: ZoneInfo) -> Period:
    return period_of(schedule, period.end, zone)


# --- due checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LastBuy:
    """The last scheduled (non-forced) buy of an asset: its instant and its *recorded* period.

    The recorded period is the one stored with the buy in the ledger, under the schedule and zone in
    force then; ``period_start``/``period_end`` are UTC-aware.
    """

    at: datetime
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class DueCheck:
    """Whether an asset is due now, and why.

    ``next_due`` is ``now`` when due, else the earliest instant at which it becomes due (UTC).
    ``reason`` is one sentence for ``plan``/``status``.
    """

    due: bool
    period: Period
    next_due: datetime
    reason: str


def _human(t: datetime) -> str:
    """``Mon 2026-11-30 00:00 UTC``."""
    return t.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")


def _earliest_due(schedule: Schedule, zone: ZoneInfo, last: LastBuy) -> datetime:
    """The first instant at which a buy is allowed again after ``last``."""
    return max(last.period_end.astimezone(UTC), period_of(schedule, last.at, zone).end)


def is_due(schedule: Schedule, tz: str | ZoneInfo, now: datetime, last_buy: LastBuy | None) -> DueCheck:
    """Apply the due rule (module docstring) at ``now`` given the last non-forced buy, if any."""
    _require_aware(now, "now")
    zone = _zone(tz)
    now = now.astimezone(UTC)
    current = period_of(schedule, now, zone)
    noun = schedule.noun
    if last_buy is None:
        reason = f"never bought; due in the current {noun} (from {_human(current.start)})"
        return DueCheck(True, current, now, reason)
    for t, what in (
        (last_buy.at, "last buy time"),
        (last_buy.period_start, "period start"),
        (last_buy.period_end, "period end"),
    ):
        _require_aware(t, what)
    at = last_buy.at.astimezone(UTC)
    after_recorded = now >= last_buy.period_end
    before_current = at < current.start
    next_due = _earliest_due(schedule, zone, last_buy)
    if after_recorded and before_current:
        return DueCheck(
            True,
            current,
            now,
            f"last bought {_human(at)}, before this {noun} (from {_human(current.start)}); due",
        )
    if not before_current:
        reason = f"bought {_human(at)} in the current {noun}; next due {_human(next_due)}"
    else:
        reason = (
            f"bought {_human(at)} in a period recorded until {_human(last_buy.period_end)} "
            f"(schedule or time zone changed since); next due {_human(next_due)}"
        )
    return DueCheck(False, current, max(next_due, now), reason)


def missed_periods(schedule: Schedule, tz: str | ZoneInfo, last_buy: LastBuy | None, now: datetime) -> int:
    """How many whole periods ended, after a buy became allowed again, with no buy since ``last_buy``.

    Only reported (``status``): dcactl never catches up. 0 when there is no last buy (nothing to
    compare with) or when the current period is the first one allowed.
    """
    _require_aware(now, "now")
    if last_buy is None:
        return 0
    zone = _zone(tz)
    now = now.astimezone(UTC)
    allowed = _earliest_due(schedule, zone, last_buy)
    if now <= allowed:
        return 0
    if schedule.fixed_seconds is not None:
        length = timedelta(seconds=schedule.fixed_seconds)
        first = period_of(schedule, allowed, zone)
        current = period_of(schedule, now, zone)
        return (current.start - first.start) // length
    count = 0
    period = period_of(schedule, allowed, zone)
    while period.end <= now:
        count += 1
        period = _period_after(schedule, period, zone)
    return count


def passed_periods(
    schedule: Schedule, tz: str | ZoneInfo, last_buy: LastBuy | None, now: datetime, limit: int = 1000
) -> list[Period]:
    """The whole periods that ended, after a buy became allowed again, with no buy since ``last_buy``
    (the periods :func:`missed_periods` counts), oldest first, at most the newest ``limit``."""
    _require_aware(now, "now")
    if last_buy is None:
        return []
    zone = _zone(tz)
    now = now.astimezone(UTC)
    allowed = _earliest_due(schedule, zone, last_buy)
    out: list[Period] = []
    period = period_of(schedule, allowed, zone)
    if schedule.fixed_seconds is not None:  # jump to the last ``limit`` of a long gap at once
        length = timedelta(seconds=schedule.fixed_seconds)
        skip = (period_of(schedule, now, zone).start - period.start) // length - limit
        if skip > 0:
            period = period_of(schedule, period.start + skip * length, zone)
    while period.end <= now and now > allowed:
        out.append(period)
        period = _period_after(schedule, period, zone)
    return out[-limit:]


# --- run lock ------------------------------------------------------------------------------------


def lock_path_for(db_path: Path) -> Path:
    """The lock file of a ledger: ``<ledger>.lock`` in the same directory."""
    return db_path.with_name(db_path.name + ".lock")


class RunLock:
    """An exclusive ``fcntl.flock`` on a lock file, held for the duration of a ``with`` block.

    Waits up to ``wait_s`` seconds (polling every ``poll_s``), then raises
    :class:`~dcactl.errors.LockTimeout` naming the lock file and, when known, the holder's pid and
    start time (the holder writes ``pid=<pid> started=<ISO UTC>`` into the file). The lock dies with
    its process, so a crash never leaves it stuck; the file itself is left in place on purpose
    (deleting it would let two runs lock two different files).
    """

    def __init__(self, path: Path, wait_s: float, *, poll_s: float = 0.05) -> None:
        self.path = Path(path)
        self.wait_s = max(0.0, float(wait_s))
        self.poll_s = poll_s
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockTimeout after ``wait_s`` seconds."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held by this RunLock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            blocker = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            why = f"{blocker} is a file, not a folder" if blocker is not None else exc.strerror or exc
            raise UsageError(f"{self.path}: cannot create the run lock: {why}") from exc
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    raise LockTimeout(
                        f"another dcactl run holds the lock {self.path}{holder}; "
                        f"gave up after {self.wait_s:g} s (lock_wait)"
                    ) from None
                time.sleep(self.poll_s)
        with contextlib.suppress(OSError):  # the holder line only informs; a full disk must not stop us here
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid={os.getpid()} started={_iso(datetime.now(UTC))}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Clear the holder line and drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @staticmethod
    def _holder(fd: int) -> str:
        with contextlib.suppress(OSError):
            text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
            if "pid" in fields:
                since = f", started {fields['started']}" if "started" in fields else ""
                return f" (pid {fields['pid']}{since})"
        return ""

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
