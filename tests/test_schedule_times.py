"""Weekly schedules across daylight saving time (bot/recurrence_times.py): the local time holds,
a time the clocks skip still runs that week, once, and a time they repeat runs once.

The changes used: Europe/Berlin 2026-03-29 02:00 -> 03:00 and 2026-10-25 03:00 -> 02:00;
America/New_York 2026-03-08 02:00 -> 03:00 and 2026-11-01 02:00 -> 01:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.message import ChannelPost
from bot.recurrence_times import Weekly, last_due, next_run, period_key, weekly
from tests.test_scheduler import Platform, replica

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
MONDAY, SUNDAY = 0, 6
SECOND = timedelta(seconds=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(moment: datetime, schedule: Weekly) -> datetime:
    return moment.astimezone(schedule.zone)


def runs(schedule: Weekly, start: datetime, count: int) -> list[datetime]:
    found = [next_run(schedule, start)]
    while len(found) < count:
        found.append(next_run(schedule, found[-1] + SECOND))
    return found


def ticks(schedule: Weekly, start: datetime, end: datetime) -> dict[str, datetime]:
    """What a scheduler ticking every minute from `start` to `end` runs, as `_digests` decides:
    each period key, with the first tick that found it due."""
    ran: dict[str, datetime] = {}
    now = start
    while now <= end:
        due = last_due(schedule, now)
        if due is not None and due >= start:
            ran.setdefault(period_key(schedule, due), now)
        now += timedelta(minutes=1)
    return ran


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        (BERLIN, utc(2026, 3, 20), [utc(2026, 3, 23, 8), utc(2026, 3, 30, 7)]),
        (BERLIN, utc(2026, 10, 15), [utc(2026, 10, 19, 7), utc(2026, 10, 26, 8)]),
        (NEW_YORK, utc(2026, 2, 28), [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13)]),
        (NEW_YORK, utc(2026, 10, 24), [utc(2026, 10, 26, 13), utc(2026, 11, 2, 14)]),
    ],
    ids=["berlin-spring", "berlin-fall", "new-york-spring", "new-york-fall"],
)
def test_monday_0900_stays_0900_local_across_a_change(zone, start, expected):
    schedule = weekly(MONDAY, "09:00", zone)
    found = runs(schedule, start, 2)
    assert found == expected  # the UTC instant moves by the hour the clocks moved
    assert all(r.tzinfo == UTC for r in found)
    assert [local(r, schedule).time() for r in found] == [time(9, 0)] * 2
    assert [local(r, schedule).weekday() for r in found] == [MONDAY] * 2
    assert [last_due(schedule, r) for r in found] == found


@pytest.mark.parametrize(
    ("zone", "start", "skipped_day_run"),
    [
        (BERLIN, utc(2026, 3, 20), utc(2026, 3, 29, 1, 30)),  # 03:30 CEST
        (NEW_YORK, utc(2026, 2, 28), utc(2026, 3, 8, 7, 30)),  # 03:30 EDT
    ],
    ids=["berlin", "new-york"],
)
def test_a_time_the_clocks_skip_runs_that_week_once_after_the_jump(zone, start, skipped_day_run):
    schedule = weekly(SUNDAY, "02:30", zone)  # 02:30 does not exist on the spring-forward day
    before, on_the_day, after = runs(schedule, start, 3)
    assert on_the_day == skipped_day_run
    assert local(on_the_day, schedule).replace(tzinfo=None) == datetime.combine(
        on_the_day.astimezone(schedule.zone).date(), time(3, 30)
    )  # as long after the jump as 02:30 is after 02:00
    assert local(before, schedule).time() == local(after, schedule).time() == time(2, 30)
    night = ticks(schedule, on_the_day - timedelta(hours=12), on_the_day + timedelta(hours=12))
    assert night == {period_key(schedule, on_the_day): on_the_day}  # once


@pytest.mark.parametrize(
    ("zone", "at", "first", "key"),
    [
        (BERLIN, "02:30", utc(2026, 10, 25, 0, 30), "2026-10-25T02:30:00+02:00"),
        (NEW_YORK, "01:30", utc(2026, 11, 1, 5, 30), "2026-11-01T01:30:00-04:00"),
    ],
    ids=["berlin", "new-york"],
)
def test_a_time_the_clocks_repeat_runs_once_at_the_first(zone, at, first, key):
    schedule = weekly(SUNDAY, at, zone)  # the clocks show `at` twice on the fall-back day
    second = first + timedelta(hours=1)
    assert local(second, schedule).replace(tzinfo=None) == local(first, schedule).replace(
        tzinfo=None
    )
    night = ticks(schedule, first - timedelta(hours=12), first + timedelta(hours=12))
    assert night == {key: first}  # one period key: not again at the second `at`
    assert last_due(schedule, second + timedelta(minutes=30)) == first
    assert next_run(schedule, first + SECOND) == first + timedelta(days=7, hours=1)


@pytest.mark.parametrize(
    ("weekday", "at", "zone"),
    [
        (MONDAY, "09:00", BERLIN),
        (SUNDAY, "02:30", BERLIN),
        (SUNDAY, "01:30", NEW_YORK),
        (SUNDAY, "02:30", NEW_YORK),
        (SUNDAY, "02:15", "Australia/Lord_Howe"),  # a half-hour change, far from Europe's dates
    ],
)
def test_last_due_and_next_run_agree_for_a_year(weekday, at, zone):
    schedule = weekly(weekday, at, zone)
    year = runs(schedule, utc(2026, 1, 1), 53)
    for run, following in pairwise(year):
        assert next_run(schedule, run) == run and last_due(schedule, run) == run
        assert next_run(schedule, run + SECOND) == following
        assert last_due(schedule, following - SECOND) == run  # nothing in between
        # A week later in local time: the next local date of that weekday.
        assert local(following, schedule).date() == local(run, schedule).date() + timedelta(7)
        assert timedelta(days=7, hours=-1) <= following - run <= timedelta(days=7, hours=1)


@settings(max_examples=300, deadline=None)
@given(
    weekday=st.integers(0, 6),
    at=st.times().map(lambda t: f"{t.hour:02d}:{t.minute:02d}"),
    zone=st.sampled_from([BERLIN, NEW_YORK, "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]),
    now=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
)
def test_any_moment_lies_between_a_last_run_and_the_next(weekday, at, zone, now):
    schedule = weekly(weekday, at, zone)
    last, upcoming = last_due(schedule, now), next_run(schedule, now)
    assert last is not None and last <= now <= upcoming  # weekly: one always lies in 8 days
    assert upcoming == last or next_run(schedule, last + timedelta(microseconds=1)) == upcoming
    assert local(last, schedule).weekday() == local(upcoming, schedule).weekday() == weekday


def test_period_keys_are_the_ones_the_ledger_always_had():
    schedule = weekly(MONDAY, "09:00", BERLIN)
    assert period_key(schedule, utc(2026, 3, 30, 7)) == "2026-03-30T09:00:00+02:00"
    assert period_key(schedule, utc(2026, 3, 23, 8)) == "2026-03-23T09:00:00+01:00"


async def digest_times(chat, bot, clock, until: datetime) -> list[datetime]:
    """Tick every 15 minutes from the clock's time to `until`; when each digest was posted."""
    platform = Platform(bot, chat.workspace)
    posted_at: list[datetime] = []
    while clock.now < until:
        await replica(bot, platform).tick()
        posted_at += [clock.now] * (len(platform.items(ChannelPost)) - len(posted_at))
        clock.now += timedelta(minutes=15)
    return posted_at


async def test_the_scheduler_posts_a_repeated_time_once(chat, bot, clock):
    clock.now = utc(2026, 10, 24, 12)
    await chat.say("config digest-channel #finops-digest")
    answer = await chat.say("digest schedule sunday 02:30 Europe/Berlin")
    assert "next: Sun 25 Oct 2026 02:30 Europe/Berlin" in answer
    posted_at = await digest_times(chat, bot, clock, until=utc(2026, 10, 25, 6))
    assert posted_at == [utc(2026, 10, 25, 0, 30)]  # the first 02:30, not the second


async def test_the_scheduler_posts_a_skipped_time_once_after_the_jump(chat, bot, clock):
    clock.now = utc(2026, 3, 28, 12)
    await chat.say("config digest-channel #finops-digest")
    answer = await chat.say("digest schedule sunday 02:30 Europe/Berlin")
    assert "next: Sun 29 Mar 2026 03:30 Europe/Berlin" in answer
    posted_at = await digest_times(chat, bot, clock, until=utc(2026, 3, 29, 6))
    assert posted_at == [utc(2026, 3, 29, 1, 30)]  # 03:30 CEST
    assert local(posted_at[0], weekly(SUNDAY, "02:30", BERLIN)).time() == time(3, 30)
