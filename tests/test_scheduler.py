"""Scheduled work: the weekly digest, poll deadlines and reminders, exactly once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core import Bot
from bot.events import Actor
from bot.message import ChannelPost, DirectMessage, Outcome, Update
from bot.scheduler import Scheduler
from tests.helpers import number


class Platform:
    """Stands in for Slack or Teams: records what the scheduler asks it to send to this test's
    workspace (other tests' workspaces share the database and may have due work too)."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self.sent: list[tuple[Actor, Outcome]] = []

    async def deliver(self, actor: Actor, outcome: Outcome) -> None:
        if actor.workspace_id == self.workspace:
            self.sent.append((actor, outcome))

    def items(self, kind: type) -> list:
        return [i for _, outcome in self.sent for i in outcome.items if isinstance(i, kind)]


def replica(bot: Bot, platform: Platform, **options) -> Scheduler:
    return Scheduler(bot, {"console": platform.deliver}, **options)


async def test_schedule_commands(chat, clock):
    assert "not scheduled" in await chat.say("digest schedule")
    answer = await chat.say("digest schedule monday 09:00 Europe/Paris")
    assert "every Monday at 09:00 Europe/Paris; next: Mon 30 Nov 2026 09:00" in answer
    assert "Only an admin" in await chat.say("digest schedule friday 17:00", user="bob")
    assert "is off" in await chat.say("digest off")
    assert "not scheduled" in await chat.say("digest schedule")
    for bad in [
        "digest schedule funday 09:00",
        "digest schedule monday 25:00",
        "digest schedule monday 09:00 Mars/Base",
        "digest schedule monday",
    ]:
        assert "Usage: digest" in await chat.say(bad), bad


async def test_digest_posts_once_per_week_across_replicas(chat, bot, clock):
    await chat.say("config digest-channel #finops-digest")
    await chat.say("win Deleted idle disks $400/mo")
    await chat.say("digest schedule wednesday 11:00")  # the clock: Wednesday 10:00 UTC
    platform = Platform(chat.workspace)
    first, second = replica(bot, platform), replica(bot, platform)
    await first.tick()
    await second.tick()
    assert platform.sent == []  # not due yet
    clock.now += timedelta(hours=1, minutes=1)
    for scheduler in (first, second, first):
        await scheduler.tick()
    posts = platform.items(ChannelPost)
    assert [p.channel_id for p in posts] == ["finops-digest"]  # once, by one replica
    assert "4,800 USD" in posts[0].message.text
    clock.now += timedelta(days=7)
    await second.tick()
    await first.tick()
    assert len(platform.items(ChannelPost)) == 2  # next week's, once


async def test_a_missed_digest_is_posted_within_the_grace_window_only(chat, bot, clock):
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule wednesday 10:30")
    platform = Platform(chat.workspace)
    clock.now += timedelta(hours=3)  # no replica ran at 10:30; one starts at 13:00
    await replica(bot, platform).tick()
    assert len(platform.items(ChannelPost)) == 1
    clock.now = datetime(2026, 12, 9, 20, 0, tzinfo=UTC)  # 9.5 h late: past the 6 h grace
    await replica(bot, platform).tick()
    await replica(bot, platform).tick()  # skipped once, never posted later
    assert len(platform.items(ChannelPost)) == 1


async def test_a_new_schedule_does_not_post_for_a_time_already_past(chat, bot, clock):
    await chat.say("config digest-channel #finops-digest")
    await chat.say("digest schedule wednesday 09:00")  # an hour ago
    platform = Platform(chat.workspace)
    await replica(bot, platform).tick()
    assert platform.sent == []


async def test_poll_closes_at_its_deadline_and_results_are_posted_once(chat, bot, clock):
    poll_id = number(r"Poll #(\d+) is up", await chat.say('poll "Q?" "A" "B" closes in 2h'))
    await chat.say(f"vote {poll_id} 2", user="bob")
    platform = Platform(chat.workspace)
    await replica(bot, platform).tick()
    assert platform.sent == []
    clock.now += timedelta(hours=2, seconds=1)
    assert f"poll-close:{poll_id}" in await replica(bot, platform).tick()
    assert f"poll-close:{poll_id}" not in await replica(bot, platform).tick()
    results = platform.items(ChannelPost)
    assert len(results) == 1 and "2. B: 1 vote" in results[0].message.text
    assert "(closed)" in results[0].message.text
    assert [u.subject for u in platform.items(Update)] == [f"poll:{poll_id}"]


async def test_reminders_reach_only_committee_members_who_have_not_voted(chat, bot, clock):
    for person, persona in [("maria", "finance"), ("li", "engineering"), ("sam", "product")]:
        await chat.say(f"committee add @{person} {persona}")
    answer = await chat.say('poll "Budget?" "A" "B" committee closes in 30h')
    poll_id = number(r"Poll #(\d+) is up", answer)
    await chat.say(f"vote {poll_id} 1", user="maria")
    platform = Platform(chat.workspace)
    await replica(bot, platform).tick()
    assert platform.sent == []  # 30 h ahead: not yet
    clock.now += timedelta(hours=7)
    assert f"poll-remind:{poll_id}" in await replica(bot, platform).tick()
    assert f"poll-remind:{poll_id}" not in await replica(bot, platform).tick()  # once only
    assert sorted(dm.user_id for dm in platform.items(DirectMessage)) == ["li", "sam"]
    clock.now += timedelta(hours=24)
    await replica(bot, platform).tick()
    assert len(platform.items(DirectMessage)) == 2  # none after the poll closed


async def test_follow_ups_on_day_7_and_day_30_once_each(chat, bot, clock):
    await chat.join("newbie")
    await chat.say("config followup-30-message Thirty days in: come to the next committee call!")
    platform = Platform(chat.workspace)
    await replica(bot, platform).tick()
    assert platform.items(DirectMessage) == []
    clock.now += timedelta(days=7, minutes=1)
    await replica(bot, platform).tick()
    await replica(bot, platform).tick()
    dms = platform.items(DirectMessage)
    assert [dm.user_id for dm in dms] == ["newbie"] and "a week ago" in dms[0].message.text
    clock.now += timedelta(days=23)
    await replica(bot, platform).tick()
    assert "Thirty days in" in platform.items(DirectMessage)[-1].message.text
    assert len(platform.items(DirectMessage)) == 2


async def test_follow_ups_can_be_turned_off(chat, bot, clock):
    await chat.join("newbie")
    await chat.say("config followups off")
    platform = Platform(chat.workspace)
    clock.now += timedelta(days=7, minutes=1)
    await replica(bot, platform).tick()
    assert platform.items(DirectMessage) == []
