"""Scheduled digests partition time: driven through the scheduler with a controlled clock over
several weeks, every win and every newcomer is in exactly one posted digest, across DST changes
and a changed schedule, and `digest` previews exactly what the next one will say."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.message import ChannelPost
from tests.test_scheduler import Platform, replica

STEP = timedelta(hours=5)  # 5 and 24 share no factor: over days, wins land at every hour;
# ticking every 5 h also posts each digest late, inside the 6 h grace window


def wins_in(text: str) -> int:
    found = re.search(r"^Wins: ([\d,]+)$", text, re.MULTILINE)
    assert found, text
    return int(found[1].replace(",", ""))


def newcomers_in(text: str) -> list[str]:
    lines = text.splitlines()
    if "New members welcomed:" not in lines:
        return []
    return lines[lines.index("New members welcomed:") + 1].split(", ")


async def drive(chat, bot, clock, until: datetime, *, change_at=None, change_to=""):
    """Log a win (and every fourth step a newcomer) every STEP and tick the scheduler after
    each one, until `until`; returns the posted digests and the wins logged by then."""
    platform = Platform(bot, chat.workspace)
    logged, step = 0, 0
    while clock.now < until:
        await chat.say(f"win Cleanup {step} $10")
        logged += 1
        if step % 4 == 0:
            await chat.join(f"newbie{step}")
        await replica(bot, platform).tick()
        if change_at is not None and clock.now >= change_at:
            await chat.say(f"digest schedule {change_to}")
            change_at = None
        clock.now += STEP
        step += 1
    return [post.message.text for post in platform.items(ChannelPost)], step


def assert_partition(digests: list[str], steps: int) -> None:
    """Every newcomer once at most, and no win twice: the digests' counts add up to the wins
    logged before the last digest's end, which each digest's own bounds account for."""
    names = [name for text in digests for name in newcomers_in(text)]
    assert len(names) == len(set(names)), names
    assert sum(wins_in(text) for text in digests) <= steps


@pytest.mark.parametrize(
    ("start", "weeks"),
    [
        (datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 3),  # an ordinary November
        (datetime(2026, 10, 14, 10, 0, tzinfo=UTC), 2),  # the 2nd holds the fall-back of 25 Oct
        (datetime(2026, 3, 18, 10, 0, tzinfo=UTC), 2),  # the 2nd holds the spring-forward, 29 Mar
    ],
    ids=["november", "fall-back", "spring-forward"],
)
async def test_scheduled_digests_contain_each_win_exactly_once(chat, bot, clock, start, weeks):
    clock.now = start
    await chat.say("config timezone Europe/Berlin")
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule monday 09:00")
    digests, steps = await drive(chat, bot, clock, start + timedelta(weeks=weeks))
    assert len(digests) == weeks
    # Wins logged from `start` on: those before the first digest's start are in no digest,
    # none after the last one's end either; in between, every one in exactly one digest.
    first_due = datetime(start.year, start.month, start.day, tzinfo=UTC)
    first_due += timedelta(days=(0 - first_due.weekday()) % 7)  # the Monday after `start`
    last_due = first_due + timedelta(weeks=weeks - 1)
    covered_from = first_due - timedelta(weeks=1)
    # Steps are STEP apart from `start`; those in [covered_from, last_due 09:00 local).
    mondays = _nine_berlin(covered_from, last_due)
    begin, end = mondays[0], mondays[-1]
    expected = sum(1 for i in range(steps) if begin <= start + i * STEP < end)
    assert sum(wins_in(text) for text in digests) == expected
    assert_partition(digests, steps)
    counts = [wins_in(text) for text in digests]
    # A week holds 168 / 5 = 33.6 steps (167 or 169 hours across DST); the first digest only
    # those after `start`.
    assert all(33 <= n <= 34 for n in counts[1:]), counts


def _nine_berlin(first: datetime, last: datetime) -> list[datetime]:
    """Monday 09:00 Europe/Berlin, as UTC, for the Mondays from `first` to `last`."""
    berlin = ZoneInfo("Europe/Berlin")
    days = (last.date() - first.date()).days // 7 + 1
    return [
        datetime.combine(first.date() + timedelta(weeks=i), datetime.min.time())
        .replace(hour=9, tzinfo=berlin)
        .astimezone(UTC)
        for i in range(days)
    ]


async def test_a_monday_digest_reports_the_previous_seven_days(chat, bot, clock):
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule monday 09:00")  # Wednesday 25 Nov 2026, 10:00 UTC
    await chat.say("win Last Wednesday $100")
    clock.now = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # Sunday night
    await chat.say("win Sunday night $200")
    clock.now = datetime(2026, 11, 30, 8, 59, tzinfo=UTC)
    await chat.say("win Monday morning $400")
    preview = await chat.say("digest")
    assert "digest · 23 Nov – 30 Nov 2026 (so far)" in preview
    assert "Wins: 3" in preview and "Annualised savings: 700 USD" in preview
    platform = Platform(bot, chat.workspace)
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    await replica(bot, platform).tick()
    (posted,) = platform.items(ChannelPost)
    text = posted.message.text
    assert "FinOps weekly digest, 23 Nov – 30 Nov 2026" in text and "(so far)" not in text
    assert "From Mon 23 Nov 2026 09:00 UTC to Mon 30 Nov 2026 09:00 UTC." in text
    assert "Wins: 3" in text and "Annualised savings: 700 USD" in text  # what the preview said
    # A win after 09:00 belongs to the next digest; the one just posted is `digest last`.
    await chat.say("win Monday lunch $800")
    last = await chat.say("digest last")
    assert "The last digest, posted Mon 30 Nov 2026 09:00 UTC" in last and "Wins: 3" in last
    following = await chat.say("digest")
    assert "30 Nov – 7 Dec 2026 (so far)" in following and "Wins: 1" in following


async def test_a_late_digest_still_ends_at_its_scheduled_minute(chat, bot, clock):
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule monday 09:00")
    platform = Platform(bot, chat.workspace)
    clock.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    await chat.say("win Before the digest $100")
    clock.now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # no replica ticked at 09:00
    await chat.say("win After its minute $200")
    preview = await chat.say("digest")  # due and not posted yet: that digest in full
    assert "23 Nov – 30 Nov 2026" in preview and "(so far)" not in preview
    assert "Wins: 1" in preview
    clock.now = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)  # 4 h late: inside the grace window
    await replica(bot, platform).tick()
    assert [wins_in(p.message.text) for p in platform.items(ChannelPost)] == [1]
    clock.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await replica(bot, platform).tick()
    assert [wins_in(p.message.text) for p in platform.items(ChannelPost)] == [1, 1]


async def test_a_changed_schedule_leaves_no_gap_and_no_overlap(chat, bot, clock):
    clock.now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule monday 09:00")
    # After the Monday 30 Nov digest, move it to Fridays 16:00: the first Friday digest covers
    # Monday 09:00 to Friday 16:00, then whole weeks again.
    digests, steps = await drive(
        chat,
        bot,
        clock,
        datetime(2026, 12, 12, 0, 0, tzinfo=UTC),
        change_at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
        change_to="friday 16:00",
    )
    headers = [text.splitlines()[0] for text in digests]
    assert headers == [
        "FinOps weekly digest, 23 Nov – 30 Nov 2026",
        "FinOps weekly digest, 30 Nov – 4 Dec 2026",
        "FinOps weekly digest, 4 Dec – 11 Dec 2026",
    ]
    assert_partition(digests, steps)
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    end = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)  # Friday 16:00 in the UTC workspace
    expected = sum(1 for i in range(steps) if start + i * STEP < end)
    assert sum(wins_in(text) for text in digests) == expected


async def test_a_schedule_moved_a_few_hours_later_rolls_into_the_next_digest(chat, bot, clock):
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule monday 09:00")
    platform = Platform(bot, chat.workspace)
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    await replica(bot, platform).tick()
    clock.now = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    await chat.say("win Between the two times $100")
    await chat.say("digest schedule monday 12:00")
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    await replica(bot, platform).tick()  # a 3-hour digest would be noise: nothing is posted
    assert len(platform.items(ChannelPost)) == 1
    assert "30 Nov – 7 Dec 2026 (so far)" in await chat.say("digest")
    clock.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    await replica(bot, platform).tick()
    latest = platform.items(ChannelPost)[-1].message.text
    assert "30 Nov – 7 Dec 2026" in latest and "Wins: 1" in latest


async def test_digest_week_keeps_the_calendar_week_and_cut_lists_say_so(chat, bot, clock):
    for n in range(5):
        await chat.say(f"win Saved {n + 1} $1{n}0")
    for n in range(12):
        await chat.say(f'poll "Question {n}?" "A" "B" closes in {n + 1}d')
    week = await chat.say("digest week")
    assert "digest · 23 Nov – 29 Nov 2026 (so far)" in week
    assert "This calendar week (Monday to Sunday) so far" in week
    assert "and 2 more wins" in week  # the top three of five
    assert "and 2 more open polls" in week  # ten of twelve
    assert "Usage: digest" in await chat.say("digest week please")
    assert "No digest has been posted yet" in await chat.say("digest last")
