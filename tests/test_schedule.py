"""Schedules, periods (DST, month ends, epoch anchor), due checks, the run lock, cron/systemd text."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcactl.errors import ExitCode, LockTimeout
from dcactl.schedule.periods import (
    LastBuy,
    Period,
    RunLock,
    Schedule,
    forced_period_id,
    is_due,
    lock_path_for,
    missed_periods,
    parse_every,
    parse_period_id,
    period_of,
)

REPO = Path(__file__).resolve().parent.parent


def z(text: str) -> datetime:
    """An aware UTC datetime from ``2026-11-23T09:00`` (no suffix needed)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def p(every: str, instant: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    period = period_of(parse_every(every), z(instant), tz)
    return period.start, period.end


# --- parse_every ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hour", Schedule("hour", unit="hour")),
        ("day", Schedule("day", unit="day")),
        (" Week ", Schedule("week", unit="week")),
        ("month", Schedule("month", unit="month")),
        ("12h", Schedule("12h", fixed_seconds=12 * 3600)),
        ("3d", Schedule("3d", fixed_seconds=3 * 86400)),
        ("2W", Schedule("2w", fixed_seconds=14 * 86400)),
        ("1h", Schedule("1h", fixed_seconds=3600)),
    ],
)
def test_parse_every_accepts(text: str, expected: Schedule) -> None:
    """Every documented schedule spelling parses to the expected Schedule."""
    assert parse_every(text) == expected


@pytest.mark.parametrize("text", ["", "daily", "0d", "-3d", "3", "d", "3 d", "1.5h", "3m", "03d", "weeks"])
def test_parse_every_rejects(text: str) -> None:
    """Anything else is a ValueError naming the accepted forms."""
    with pytest.raises(ValueError, match="use hour, day, week, month"):
        parse_every(text)


def test_schedule_nouns() -> None:
    """Reasons name periods as users say them."""
    assert parse_every("week").noun == "week"
    assert parse_every("3d").noun == "3-day period"
    assert parse_every("12h").noun == "12-hour period"


# --- hand-computed periods -----------------------------------------------------------------------


def test_iso_week_of_new_year_2026() -> None:
    """The ISO week of Thu 2026-01-01 starts Mon 2025-12-29 and ends Mon 2026-01-05."""
    assert p("week", "2026-01-01T12:00") == (z("2025-12-29T00:00"), z("2026-01-05T00:00"))
    assert period_of(parse_every("week"), z("2026-01-01T12:00"), "UTC").id == "2025-12-29T00:00:00Z"


def test_week_in_zone() -> None:
    """A Berlin week starts at Monday midnight CET, i.e. Sunday 23:00 UTC."""
    assert p("week", "2025-12-28T23:30", "Europe/Berlin") == (z("2025-12-28T23:00"), z("2026-01-04T23:00"))


@pytest.mark.parametrize(
    ("instant", "tz", "start", "end"),
    [
        ("2028-02-29T12:00", "UTC", "2028-02-01T00:00", "2028-03-01T00:00"),  # leap February
        ("2027-02-28T23:59", "UTC", "2027-02-01T00:00", "2027-03-01T00:00"),
        ("2026-12-31T23:59", "UTC", "2026-12-01T00:00", "2027-01-01T00:00"),  # year rollover
        ("2028-02-29T23:30", "Europe/Berlin", "2028-02-29T23:00", "2028-03-31T22:00"),  # already March
        ("2026-03-15T00:00", "Europe/Berlin", "2026-02-28T23:00", "2026-03-31T22:00"),  # DST inside
        ("2026-01-31T23:00", "Europe/Berlin", "2026-01-31T23:00", "2026-02-28T23:00"),  # start exactly
    ],
)
def test_month_periods(instant: str, tz: str, start: str, end: str) -> None:
    """Calendar months end where the calendar says, in the zone, across leap years and DST."""
    assert p("month", instant, tz) == (z(start), z(end))


@pytest.mark.parametrize(
    ("every", "instant", "tz", "start", "end", "hours"),
    [
        # Berlin spring forward, Sun 2026-03-29 02:00 CET → 03:00 CEST: a 23-hour day.
        ("day", "2026-03-29T12:00", "Europe/Berlin", "2026-03-28T23:00", "2026-03-29T22:00", 23),
        # Berlin fall back, Sun 2026-10-25 03:00 CEST → 02:00 CET: a 25-hour day.
        ("day", "2026-10-25T12:00", "Europe/Berlin", "2026-10-24T22:00", "2026-10-25T23:00", 25),
        # New York spring forward Sun 2026-03-08 02:00 EST → 03:00 EDT.
        ("day", "2026-03-08T12:00", "America/New_York", "2026-03-08T05:00", "2026-03-09T04:00", 23),
        # New York fall back Sun 2026-11-01 02:00 EDT → 01:00 EST.
        ("day", "2026-11-01T12:00", "America/New_York", "2026-11-01T04:00", "2026-11-02T05:00", 25),
        # Berlin: local 01:00-02:00 CET is followed directly by 03:00 CEST; each hour lasts one hour.
        ("hour", "2026-03-29T00:30", "Europe/Berlin", "2026-03-29T00:00", "2026-03-29T01:00", 1),
        ("hour", "2026-03-29T01:30", "Europe/Berlin", "2026-03-29T01:00", "2026-03-29T02:00", 1),
        # Berlin: local 02:00-03:00 happens twice; two separate one-hour periods (fold-aware).
        ("hour", "2026-10-25T00:30", "Europe/Berlin", "2026-10-25T00:00", "2026-10-25T01:00", 1),
        ("hour", "2026-10-25T01:30", "Europe/Berlin", "2026-10-25T01:00", "2026-10-25T02:00", 1),
        # New York: 01:00 EDT (05:00Z) and 01:00 EST (06:00Z) are two periods.
        ("hour", "2026-11-01T05:59", "America/New_York", "2026-11-01T05:00", "2026-11-01T06:00", 1),
        ("hour", "2026-11-01T06:00", "America/New_York", "2026-11-01T06:00", "2026-11-01T07:00", 1),
        # New York: 01:00 EST (06:00Z) is followed by 03:00 EDT (07:00Z).
        ("hour", "2026-03-08T06:30", "America/New_York", "2026-03-08T06:00", "2026-03-08T07:00", 1),
        # Kolkata is UTC+05:30: local hours start at half past UTC hours.
        ("hour", "2026-11-23T10:10", "Asia/Kolkata", "2026-11-23T09:30", "2026-11-23T10:30", 1),
        # Lord Howe moves by 30 minutes: Sun 2026-04-05 at 02:00 LHDT (+11, Sat 15:00Z) clocks go back to
        # 01:30 LHST (+10:30). Boundaries 01:00 (14:00Z) and 02:00 (15:30Z) each occur once, so the
        # 01:00 hour lasts 90 minutes.
        ("hour", "2026-04-04T14:45", "Australia/Lord_Howe", "2026-04-04T14:00", "2026-04-04T15:30", 1.5),
    ],
)
def test_dst_periods(every: str, instant: str, tz: str, start: str, end: str, hours: float) -> None:
    """Hours and days follow the zone's clock changes (hand-computed from the tz rules)."""
    got = p(every, instant, tz)
    assert got == (z(start), z(end))
    assert (got[1] - got[0]) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("every", "instant", "start", "end"),
    [
        ("3d", "1970-01-01T00:00", "1970-01-01T00:00", "1970-01-04T00:00"),
        ("3d", "1970-01-05T12:00", "1970-01-04T00:00", "1970-01-07T00:00"),
        ("3d", "1969-12-31T23:00", "1969-12-29T00:00", "1970-01-01T00:00"),  # before the epoch
        # 2026-11-23 is day 20780 after the epoch; 20780 = 3 × 6926 + 2 → period from day 20778.
        ("3d", "2026-11-23T10:00", "2026-11-21T00:00", "2026-11-24T00:00"),
        ("12h", "2026-11-23T13:00", "2026-11-23T12:00", "2026-11-24T00:00"),
        ("12h", "2026-11-23T11:59", "2026-11-23T00:00", "2026-11-23T12:00"),
        # The epoch is a Thursday, so 1w periods run Thursday to Thursday (UTC).
        ("1w", "2026-11-23T10:00", "2026-11-19T00:00", "2026-11-26T00:00"),
        ("5h", "1970-01-01T04:59", "1970-01-01T00:00", "1970-01-01T05:00"),
        ("5h", "1970-01-01T05:00", "1970-01-01T05:00", "1970-01-01T10:00"),
    ],
)
def test_fixed_periods_anchor_at_epoch(every: str, instant: str, start: str, end: str) -> None:
    """Fixed intervals are anchored at 1970-01-01T00:00Z whatever the zone."""
    for tz in ("UTC", "Europe/Berlin", "Asia/Kolkata"):
        assert p(every, instant, tz) == (z(start), z(end))


def test_naive_datetime_and_bad_zone_rejected() -> None:
    """A naive instant or an unknown zone is a ValueError, never a guess."""
    with pytest.raises(ValueError, match="timezone-aware"):
        period_of(parse_every("day"), datetime(2026, 1, 1), "UTC")
    with pytest.raises(ValueError, match="unknown time zone"):
        period_of(parse_every("day"), z("2026-01-01T00:00"), "Mars/Olympus")
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(parse_every("day"), "UTC", datetime(2026, 1, 1), None)


def test_period_ids() -> None:
    """Period ids are the start instant in ISO-8601 UTC with Z and round-trip; forced ids stand apart."""
    period = Period(z("2026-11-23T00:00"), z("2026-11-30T00:00"))
    assert period.id == "2026-11-23T00:00:00Z"
    assert parse_period_id(period.id) == period.start
    assert forced_period_id(z("2026-11-24T08:15:02.123456")) == "forced:2026-11-24T08:15:02.123Z"
    assert forced_period_id(z("2026-11-24T08:15:02")) == "forced:2026-11-24T08:15:02Z"
    with pytest.raises(ValueError):
        parse_period_id("forced:2026-11-24T08:15:02Z")
    with pytest.raises(ValueError):
        parse_period_id("2026-11-24 08:15:02")


# --- due checks ----------------------------------------------------------------------------------


def bought(every: str, at: str, tz: str = "UTC") -> LastBuy:
    """The LastBuy of a buy at ``at`` recorded under schedule ``every`` in ``tz``."""
    period = period_of(parse_every(every), z(at), tz)
    return LastBuy(z(at), period.start, period.end)


def test_due_when_never_bought() -> None:
    """With no last buy, an asset is due at once."""
    check = is_due(parse_every("week"), "UTC", z("2026-11-25T10:00"), None)
    assert check.due
    assert check.period.id == "2026-11-23T00:00:00Z"
    assert check.next_due == z("2026-11-25T10:00")
    assert check.reason.startswith("never bought")


def test_not_due_twice_in_a_week() -> None:
    """A weekly buy on Monday blocks the rest of that week, with the documented reason."""
    week = parse_every("week")
    last = bought("week", "2026-11-23T09:00")
    check = is_due(week, "UTC", z("2026-11-25T10:00"), last)
    assert not check.due
    assert check.next_due == z("2026-11-30T00:00")
    assert check.reason == (
        "bought Mon 2026-11-23 09:00 UTC in the current week; next due Mon 2026-11-30 00:00 UTC"
    )
    assert not is_due(week, "UTC", z("2026-11-29T23:59:59"), last).due
    after = is_due(week, "UTC", z("2026-11-30T00:00"), last)
    assert after.due and after.period.id == "2026-11-30T00:00:00Z"


def test_changing_week_to_day_waits_for_recorded_week() -> None:
    """Switching every from week to day does not allow a buy before the recorded week ends."""
    last = bought("week", "2026-11-23T09:00")
    check = is_due(parse_every("day"), "UTC", z("2026-11-24T10:00"), last)
    assert not check.due
    assert check.next_due == z("2026-11-30T00:00")
    assert "schedule or time zone changed" in check.reason
    assert is_due(parse_every("day"), "UTC", z("2026-11-30T00:00"), last).due


def test_changing_day_to_week_waits_for_next_week() -> None:
    """Switching every from day to week counts the earlier daily buy as this week's buy."""
    last = bought("day", "2026-11-24T09:00")
    check = is_due(parse_every("week"), "UTC", z("2026-11-26T10:00"), last)
    assert not check.due
    assert check.next_due == z("2026-11-30T00:00")
    assert check.reason.startswith("bought Tue 2026-11-24 09:00 UTC in the current week")


def test_changing_timezone_west_never_buys_twice_in_recorded_day() -> None:
    """UTC day bought at 01:00Z; in Los Angeles a new day starts 08:00Z, still inside the recorded one."""
    last = bought("day", "2026-11-23T01:00", "UTC")
    day = parse_every("day")
    check = is_due(day, "America/Los_Angeles", z("2026-11-23T09:00"), last)
    assert not check.due
    assert check.next_due == z("2026-11-24T00:00")
    assert is_due(day, "America/Los_Angeles", z("2026-11-24T00:00"), last).due


def test_changing_timezone_east_waits_for_the_zone_day() -> None:
    """UTC day bought at 23:30Z; in Tokyo that instant is already the next day, so wait for 15:00Z."""
    last = bought("day", "2026-11-23T23:30", "UTC")
    check = is_due(parse_every("day"), "Asia/Tokyo", z("2026-11-24T02:00"), last)
    assert not check.due
    assert check.next_due == z("2026-11-24T15:00")
    assert is_due(parse_every("day"), "Asia/Tokyo", z("2026-11-24T15:00"), last).due


def test_missed_periods_counts_only_ended_periods() -> None:
    """Days 21, 22 and 23 passed without a buy after a buy on the 20th: three missed, no catch-up."""
    last = bought("day", "2026-11-20T10:00")
    day = parse_every("day")
    assert missed_periods(day, "UTC", last, z("2026-11-24T05:00")) == 3
    assert missed_periods(day, "UTC", last, z("2026-11-21T05:00")) == 0
    assert missed_periods(day, "UTC", None, z("2026-11-24T05:00")) == 0


def test_missed_fixed_periods() -> None:
    """12h periods [12h,24h), [24h,36h), [36h,48h) after a buy at 01:00 on day one were missed."""
    last = bought("12h", "1970-01-01T01:00")
    assert missed_periods(parse_every("12h"), "UTC", last, z("1970-01-03T01:00")) == 3


def test_missed_periods_after_schedule_change() -> None:
    """After week → day, the days before the recorded week ends are not counted as missed."""
    last = bought("week", "2026-11-23T09:00")
    assert missed_periods(parse_every("day"), "UTC", last, z("2026-12-02T12:00")) == 2  # Nov 30, Dec 1


# --- properties ----------------------------------------------------------------------------------

ZONES = [
    "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
    "America/Santiago", "Pacific/Chatham", "America/Havana", "America/Sao_Paulo", "Antarctica/Troll",
    "Asia/Tehran", "Asia/Kathmandu", "Pacific/Apia",
]
EVERIES = ["hour", "day", "week", "month", "1h", "12h", "1d", "3d", "1w", "2w", "7h"]
instants = st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2045, 1, 1),
                        timezones=st.just(UTC))


@settings(max_examples=300)
@given(instant=instants, every=st.sampled_from(EVERIES), tz=st.sampled_from(ZONES))
def test_periods_contain_and_tile(instant: datetime, every: str, tz: str) -> None:
    """The period contains the instant, its neighbours touch it exactly, and its id round-trips."""
    schedule = parse_every(every)
    period = period_of(schedule, instant, tz)
    assert period.start <= instant < period.end
    assert period.start.tzinfo is UTC and period.end.tzinfo is UTC
    assert period_of(schedule, period.start, tz) == period
    assert period_of(schedule, period.end - timedelta(microseconds=1), tz) == period
    assert period_of(schedule, period.end, tz).start == period.end
    assert period_of(schedule, period.start - timedelta(microseconds=1), tz).end == period.start
    assert parse_period_id(period.id) == period.start
    assert timedelta(minutes=30) <= period.end - period.start <= timedelta(days=32)


@settings(max_examples=200)
@given(
    start=instants,
    steps=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=3 * 86400),  # seconds to the next cron firing
            st.sampled_from(EVERIES),
            st.sampled_from(ZONES),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_is_due_never_buys_twice_in_a_period(start: datetime, steps: list[tuple[int, str, str]]) -> None:
    """Whatever the firing times and changes of every/timezone, no buy lands in the period of the last."""
    now = start
    last: LastBuy | None = None
    for seconds, every, tz in steps:
        now += timedelta(seconds=seconds)
        schedule = parse_every(every)
        check = is_due(schedule, tz, now, last)
        assert now in check.period
        if last is None:
            assert check.due
        if not check.due:
            assert check.next_due > now
            assert is_due(schedule, tz, check.next_due, last).due
            continue
        if last is not None:
            assert now >= last.period_end  # not inside the recorded period of the last buy
            assert last.at < check.period.start  # not a second buy in the current period
        last = LastBuy(now, check.period.start, check.period.end)
        assert not is_due(schedule, tz, now, last).due
        assert not is_due(schedule, tz, check.period.end - timedelta(microseconds=1), last).due


# --- run lock ------------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dcactl.schedule.periods import RunLock
    with RunLock(Path(sys.argv[1]), 5):
        print("locked", flush=True)
        sys.stdin.read()  # hold until the parent closes our stdin
    """
)
CONTENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dcactl.errors import LockTimeout
    from dcactl.schedule.periods import RunLock
    try:
        with RunLock(Path(sys.argv[1]), 0.3):
            print("acquired")
    except LockTimeout as exc:
        print("LockTimeout:", exc)
    """
)


def _python(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPO, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, **kw,  # type: ignore[call-overload]
    )


def test_lock_between_two_processes(tmp_path: Path) -> None:
    """While one OS process holds the lock, another times out with LockTimeout naming file and pid."""
    lock = lock_path_for(tmp_path / "ledger.sqlite")
    assert lock == tmp_path / "ledger.sqlite.lock"
    with _python(HOLDER, str(lock)) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "locked"
            contender = subprocess.run(
                [sys.executable, "-c", CONTENDER, str(lock)], cwd=REPO, text=True,
                capture_output=True, timeout=60, check=True,
            )
            assert contender.stdout.startswith("LockTimeout:")
            assert str(lock) in contender.stdout
            assert f"pid {holder.pid}" in contender.stdout
            with pytest.raises(LockTimeout, match="another dcactl run holds the lock") as info, \
                    RunLock(lock, 0):
                pass
            assert info.value.exit_code == ExitCode.TEMPORARY
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
    assert holder.returncode == 0
    with RunLock(lock, 5):
        assert f"pid={os.getpid()}" in lock.read_text()
    assert lock.read_text() == ""  # released: no stale holder line


def test_lock_released_when_holder_dies(tmp_path: Path) -> None:
    """A killed holder never leaves the lock stuck: the kernel drops the flock with the process."""
    lock = tmp_path / "x.lock"
    with _python(HOLDER, str(lock)) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        holder.kill()
        holder.wait(timeout=60)
    with RunLock(lock, 10):
        pass


def test_lock_is_exclusive_within_a_process(tmp_path: Path) -> None:
    """Two RunLocks on one file exclude each other even in one process; release is idempotent."""
    lock = tmp_path / "sub" / "ledger.lock"
    first = RunLock(lock, 0)
    first.acquire()
    with pytest.raises(LockTimeout):
        RunLock(lock, 0.1).acquire()
    first.release()
    first.release()
    with RunLock(lock, 0):
        pass


@pytest.mark.parametrize("every", ["day", "week", "month", "hour", "3d", "12h"])
def test_passed_periods_are_the_ones_missed_periods_counts(every: str) -> None:
    """passed_periods lists exactly the periods missed_periods counts, consecutive and ended by now."""
    from datetime import UTC, datetime, timedelta

    from dcactl.schedule.periods import LastBuy, missed_periods, parse_every, passed_periods, period_of

    schedule = parse_every(every)
    bought = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    own = period_of(schedule, bought, "Europe/Berlin")
    last = LastBuy(bought, own.start, own.end)
    for later in (timedelta(hours=5), timedelta(days=3), timedelta(days=40)):
        now = bought + later
        passed = passed_periods(schedule, "Europe/Berlin", last, now)
        assert len(passed) == missed_periods(schedule, "Europe/Berlin", last, now)
        assert all(p.end <= now for p in passed)
        assert all(a.end == b.start for a, b in itertools.pairwise(passed))
