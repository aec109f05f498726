"""`committee meeting`: the steering committee's meeting rhythm, and the times derived from it.

Before each meeting the bot asks every member their check-in (`checkin-lead` before, default
24 h), reminds those who have not answered once (halfway between the check-in and the agenda),
and posts the agenda to `committee-channel` (`agenda-lead` before, default 1 h).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import channels
from bot import recurrence_times as times
from bot.commands import Request
from bot.message import Outcome
from bot.parsing import UsageError
from bot.parsing.when import (
    describe,
    describe_duration,
    parse_clock,
    parse_duration,
    parse_timezone,
    parse_weekday,
)
from storage import audit, schedules
from storage import committee as seats
from storage.models import Schedule

KIND = "committee"
DEFAULT_CHECKIN_LEAD, DEFAULT_AGENDA_LEAD = "24h", "1h"


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting: when it starts, its ledger/answer key, and when its steps are due."""

    schedule: Schedule
    rhythm: times.Meetings
    starts: datetime  # aware UTC
    checkin_at: datetime
    remind_at: datetime
    agenda_at: datetime

    @property
    def key(self) -> str:
        return times.period_key(self.rhythm.weekly, self.starts)

    def previous(self) -> datetime | None:
        return times.previous_meeting(self.rhythm, self.starts)


def rhythm_of(schedule: Schedule) -> times.Meetings:
    return times.meetings(
        schedule.weekday,
        schedule.at,
        schedule.timezone,
        cadence=schedule.cadence,
        anchor=schedule.anchor,
    )


def _agenda_place(req: Request) -> str:
    """Where the agenda goes, or, with no `committee-channel` yet, how to say where."""
    channel = channels.configured(req.config, "committee-channel")
    if channel is None:
        return (
            "once an admin sets where: `config committee-channel #channel` (not set yet, so "
            "none is posted; `committee agenda` shows it)."
        )
    return f"in {channel.shown}."


def leads(config: dict[str, str]) -> tuple[timedelta, timedelta]:
    checkin = parse_duration(config.get("checkin-lead", DEFAULT_CHECKIN_LEAD))
    agenda = parse_duration(config.get("agenda-lead", DEFAULT_AGENDA_LEAD))
    return checkin, min(agenda, checkin)


def meeting_at(schedule: Schedule, config: dict[str, str], starts: datetime) -> Meeting:
    checkin, agenda = leads(config)
    checkin_at, agenda_at = starts - checkin, starts - agenda
    return Meeting(
        schedule,
        rhythm_of(schedule),
        starts,
        checkin_at,
        checkin_at + (agenda_at - checkin_at) / 2,
        agenda_at,
    )


def next_meeting(schedule: Schedule, config: dict[str, str], now: datetime) -> Meeting:
    """The first meeting that has not started at `now`."""
    starts = times.next_meeting(rhythm_of(schedule), now + timedelta(seconds=1))
    return meeting_at(schedule, config, starts)


async def upcoming(req: Request) -> Meeting | None:
    schedule = await schedules.find(req.session, req.workspace_id, KIND)
    if schedule is None or not schedule.enabled:
        return None
    return next_meeting(schedule, req.config, req.now)


async def require_upcoming(req: Request) -> Meeting:
    meeting = await upcoming(req)
    if meeting is None:
        raise UsageError(
            "no committee meeting is scheduled; an admin sets one with "
            "`committee meeting tuesday 15:00 weekly`"
        )
    return meeting


async def meeting_command(req: Request, words: list[str]) -> Outcome:
    """`committee meeting [<weekday> <HH:MM> [weekly|biweekly|monthly] [zone] | off]`; setting
    them is for admins (declared with the `committee` command)."""
    if not words:
        return await _show(req)
    if [w.lower() for w in words] == ["off"]:
        return await _off(req)
    if len(words) < 2 or len(words) > 4:
        raise UsageError(
            "give a weekday and a time, e.g. `committee meeting tuesday 15:00 biweekly`",
            command="committee",
        )
    weekday, at = parse_weekday(words[0]), parse_clock(words[1])
    cadence, timezone = "weekly", req.tz.key
    for word in words[2:]:
        if word.lower() in times.CADENCES:
            cadence = word.lower()
        else:
            timezone = parse_timezone(word).key
    rhythm = times.meetings(weekday, at, timezone, cadence="weekly", anchor=None)
    first = times.next_meeting(rhythm, req.now)
    await schedules.save(
        req.session,
        req.workspace_id,
        KIND,
        weekday=weekday,
        at=at,
        timezone=timezone,
        enabled=True,
        by=req.actor.user_id,
        now=req.now,
        cadence=cadence,
        anchor=first.astimezone(rhythm.weekly.zone).date(),
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="committee.meeting",
        subject=KIND,
        detail=f"{weekday} {at} {cadence} {timezone}",
    )
    return await _show(req)


async def _off(req: Request) -> Outcome:
    current = await schedules.find(req.session, req.workspace_id, KIND)
    if current is None or not current.enabled:
        return Outcome().reply("No committee meeting is scheduled.")
    await schedules.save(
        req.session,
        req.workspace_id,
        KIND,
        weekday=current.weekday,
        at=current.at,
        timezone=current.timezone,
        enabled=False,
        by=req.actor.user_id,
        now=req.now,
        cadence=current.cadence,
        anchor=current.anchor,
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="committee.meeting.off",
        subject=KIND,
    )
    return Outcome().reply("Committee meetings are off: no more check-ins or agendas.")


async def _show(req: Request) -> Outcome:
    meeting = await upcoming(req)
    if meeting is None:
        return Outcome().reply(
            "No committee meeting is scheduled. Admins: "
            "`committee meeting <weekday> <HH:MM> [weekly|biweekly|monthly] [time zone]`."
        )
    s, zone = meeting.schedule, meeting.rhythm.weekly.zone
    every = {
        "weekly": "every",
        "biweekly": "every other",
        "monthly": "the first",
    }[s.cadence]
    day = times.WEEKDAY_NAMES[s.weekday]
    suffix = " of the month" if s.cadence == "monthly" else ""
    members = await seats.members(req.session, req.workspace_id)
    expected = ", ".join(m.user_name for m in members) or "nobody yet (`committee add @person`)"
    checkin, agenda = leads(req.config)
    lines = [
        f"The steering committee meets {every} {day}{suffix} at {s.at} {s.timezone}.",
        f"Next meeting: {describe(meeting.starts, zone)}.",
        f"Expected: {expected}.",
        f"Members get the check-in questions {describe_duration(checkin)} before (and one "
        f"reminder); the agenda is posted {describe_duration(agenda)} before, "
        + _agenda_place(req),
    ]
    return Outcome().reply("\n".join(lines))
