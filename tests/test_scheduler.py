"""Scheduled work: the weekly digest, poll deadlines and reminders, exactly once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.core import Bot
from bot.message import ChannelPost, DirectMessage, Update
from bot.outbox import OutboxWorker
from bot.platform import Delivery
from bot.scheduler import Scheduler
from storage.models import Schedule
from storage.workspaces import workspace_id
from tests.conftest import Chat
from tests.helpers import number


class Platform:
    """Stands in for Slack or Teams at the far end of the outbox: records what was delivered
    to this test's workspace (other tests' workspaces share the database)."""

    conversation_interval = 0.0
    workspace_rate = 0.0

    def __init__(self, bot: Bot, workspace: str) -> None:
        self.sent: list[ChannelPost | DirectMessage | Update] = []
        self.outbox = OutboxWorker(
            bot.database, bot.view, {"console": self}, clock=bot.clock, workspace=workspace
        )

    async def send(self, delivery: Delivery) -> str:
        assert delivery.message is not None
        if delivery.kind == "dm":
            self.sent.append(DirectMessage(delivery.message, delivery.user_id, delivery.name))
        else:
            self.sent.append(
                ChannelPost(
                    delivery.message, delivery.conversation, delivery.name, delivery.subject
                )
            )
        return f"m{delivery.id}"

    async def edit(self, delivery: Delivery, conversation: str, message_id: str, message) -> None:
        self.sent.append(Update(delivery.subject))

    async def find_sent(self, delivery: Delivery) -> str | None:
        return None

    def items(self, kind: type) -> list:
        return [item for item in self.sent if isinstance(item, kind)]


class Replica(Scheduler):
    """A scheduler plus the outbox worker that delivers what it queued."""

    def __init__(self, bot: Bot, platform: Platform, **options) -> None:
        super().__init__(bot, {"console"}, **options)
        self.platform = platform

    async def tick(self) -> list[str]:
        ran = await super().tick()
        await self.platform.outbox.drain()
        return ran


def replica(bot: Bot, platform: Platform, **options) -> Scheduler:
    return Replica(bot, platform, **options)


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
    platform = Platform(bot, chat.workspace)
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
    platform = Platform(bot, chat.workspace)
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
    platform = Platform(bot, chat.workspace)
    await replica(bot, platform).tick()
    assert platform.sent == []


async def test_poll_closes_at_its_deadline_and_results_are_posted_once(chat, bot, clock):
    poll_id = number(r"Poll #(\d+) is up", await chat.say('poll "Q?" "A" "B" closes in 2h'))
    await chat.say(f"vote {poll_id} 2", user="bob")
    platform = Platform(bot, chat.workspace)
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
    platform = Platform(bot, chat.workspace)
    await replica(bot, platform).tick()
    assert platform.sent == []  # 30 h ahead: not yet
    clock.now += timedelta(hours=7)
    assert f"poll-remind:{poll_id}" in await replica(bot, platform).tick()
    assert f"poll-remind:{poll_id}" not in await replica(bot, platform).tick()  # once only
    assert sorted(dm.user_id for dm in platform.items(DirectMessage)) == ["li", "sam"]
    clock.now += timedelta(hours=24)
    await replica(bot, platform).tick()
    assert len(platform.items(DirectMessage)) == 2  # none after the poll closed


async def test_a_polls_own_reminder_lead_is_honoured_once(chat, bot, clock):
    await chat.say("committee add @li engineering")
    answer = await chat.say('poll "Budget?" "A" "B" committee closes in 10h remind 2h')
    poll_id = number(r"Poll #(\d+) is up", answer)
    platform = Platform(bot, chat.workspace)
    clock.now += timedelta(hours=7, minutes=59)  # inside the default 24 h, before its own 2 h
    assert f"poll-remind:{poll_id}" not in await replica(bot, platform).tick()
    assert platform.items(DirectMessage) == []
    clock.now += timedelta(minutes=1)  # remind_at
    assert f"poll-remind:{poll_id}" in await replica(bot, platform).tick()
    assert f"poll-remind:{poll_id}" not in await replica(bot, platform).tick()
    reminders = platform.items(DirectMessage)
    assert [dm.user_id for dm in reminders] == ["li"] and "Budget?" in reminders[0].message.text
    clock.now += timedelta(hours=2, seconds=1)
    assert f"poll-close:{poll_id}" in await replica(bot, platform).tick()
    assert len(platform.items(DirectMessage)) == 1


async def test_remind_off_sends_no_reminder(chat, bot, clock):
    await chat.say("committee add @li engineering")
    answer = await chat.say('poll "Budget?" "A" "B" committee closes in 3h remind off')
    poll_id = number(r"Poll #(\d+) is up", answer)
    platform = Platform(bot, chat.workspace)
    for _ in range(4):
        await replica(bot, platform).tick()
        clock.now += timedelta(hours=1)
    assert platform.items(DirectMessage) == []
    assert len(platform.items(ChannelPost)) == 1  # the results, at the deadline
    assert f"poll-close:{poll_id}" not in await replica(bot, platform).tick()


async def test_no_reminder_once_the_poll_is_closed(chat, bot, clock):
    await chat.say("committee add @li engineering")
    late = number(
        r"Poll #(\d+) is up",
        await chat.say('poll "Late?" "A" "B" committee closes in 4h remind 2h'),
    )
    closed = number(
        r"Poll #(\d+) is up",
        await chat.say('poll "Closed?" "A" "B" committee closes in 4h remind 2h'),
    )
    await chat.say(f"poll close {closed}")
    platform = Platform(bot, chat.workspace)
    clock.now += timedelta(hours=5)  # no replica ran between remind_at and the deadline
    ran = await replica(bot, platform).tick()
    assert f"poll-close:{late}" in ran and f"poll-remind:{late}" not in ran
    # Poll jobs only: tests share the database, so another test's workspace may have the
    # closed poll's number as its id (`win-checks:7`).
    assert not any(job.startswith("poll-") and job.endswith(f":{closed}") for job in ran)
    assert platform.items(DirectMessage) == []


async def test_follow_ups_on_day_7_and_day_30_once_each(chat, bot, clock):
    await chat.join("newbie")
    await chat.say("config followup-30-message Thirty days in: come to the next committee call!")
    platform = Platform(bot, chat.workspace)
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
    platform = Platform(bot, chat.workspace)
    clock.now += timedelta(days=7, minutes=1)
    await replica(bot, platform).tick()
    assert platform.items(DirectMessage) == []


async def test_a_failing_job_delays_no_other_job_in_the_same_tick(chat, bot, clock, caplog):
    """A digest whose stored schedule no longer parses (a zone removed from tzdata, say)
    fails in every tick; the poll deadline and another workspace's digest due in the same
    tick still run, and the failure is logged in full once, then one line per tick."""
    other = Chat(bot, f"{chat.workspace}-b")
    for each in (chat, other):
        await each.say("config digest-channel #finops-digest")
        await each.say("digest schedule wednesday 11:00")
    poll_id = number(r"Poll #(\d+) is up", await chat.say('poll "Q?" "A" "B" closes in 1h'))
    async with bot.database.session() as session:
        await session.execute(
            update(Schedule)
            .where(Schedule.workspace_id == await workspace_id(session, "console", chat.workspace))
            .values(timezone="Mars/Olympus_Mons")
        )
    clock.now += timedelta(hours=1, minutes=1)
    platform, other_platform = Platform(bot, chat.workspace), Platform(bot, other.workspace)
    scheduler = replica(bot, platform)
    ran = await scheduler.tick()
    await other_platform.outbox.drain()
    assert f"poll-close:{poll_id}" in ran
    assert any(job.startswith("digest:") for job in ran)  # the other workspace's
    assert "Q?" in platform.items(ChannelPost)[0].message.text
    assert len(other_platform.items(ChannelPost)) == 1
    await scheduler.tick()
    failures = [r for r in caplog.records if "scheduled job digest:" in r.getMessage()]
    assert [r.levelname for r in failures] == ["ERROR", "WARNING"]
    assert "ref " in failures[0].getMessage() and failures[0].exc_info is not None
