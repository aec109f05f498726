"""The outbox: queued with the change, delivered once, paced, retried, dead-lettered.

Driven through the console (the platform-neutral path) with a recording transport; the Slack
and Teams transports are tested against their fakes in test_slack.py and test_teams.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from adapters.console.adapter import PLACE
from bot.events import Actor, JoinScope, MemberJoinedEvent
from bot.outbox import OutboxWorker
from bot.platform import Delivery, NotDelivered, RateLimited, Undeliverable
from bot.scheduler import Scheduler
from storage import outbox as store
from storage.models import OutboxMessage, Workspace


class Recorder:
    """A platform at the far end of the outbox: records deliveries, or fails as told."""

    def __init__(self, interval: float = 0.0, rate: float = 0.0) -> None:
        self.conversation_interval = interval
        self.workspace_rate = rate
        self.sent: list[Delivery] = []
        self.failures: list[Exception] = []  # raised by the next sends, in order
        self.lands_anyway = False  # a failure after the platform accepted the message
        self.asked: list[int] = []

    async def send(self, delivery: Delivery) -> str:
        if self.failures:
            error = self.failures.pop(0)
            if self.lands_anyway:
                self.sent.append(delivery)
            raise error
        self.sent.append(delivery)
        await asyncio.sleep(0)
        return f"m{delivery.id}"

    async def edit(self, delivery: Delivery, conversation: str, message_id: str, message) -> None:
        self.sent.append(delivery)

    async def find_sent(self, delivery: Delivery) -> str | None:
        self.asked.append(delivery.id)
        found = [d for d in self.sent if d.id == delivery.id]
        return f"m{delivery.id}" if found else None


async def join(chat, user: str) -> None:
    """Someone joins the community; their welcome DM is queued, not yet delivered."""
    actor = Actor("console", chat.workspace, user, user)
    await chat.bot.handle(MemberJoinedEvent(actor, PLACE, scope=JoinScope.COMMUNITY))


def worker(bot, workspace: str, recorder: Recorder, **options) -> OutboxWorker:
    return OutboxWorker(
        bot.database,
        bot.view,
        {"console": recorder},
        clock=bot.clock,
        workspace=workspace,
        **options,
    )


async def rows(bot, workspace: str) -> list[OutboxMessage]:
    async with bot.database.session() as session:
        statement = (
            select(OutboxMessage)
            .join(Workspace, Workspace.id == OutboxMessage.workspace_id)
            .where(Workspace.external_id == workspace)
            .order_by(OutboxMessage.id)
        )
        return list((await session.exec(statement)).all())


async def test_messages_are_queued_with_the_change_and_delivered_once(chat, bot):
    await chat.outcome("config wins-channel #finops-wins")
    await chat.outcome("win Deleted idle disks $400/mo <@bob|bob>")
    queued = await rows(bot, chat.workspace)
    assert [(r.kind, r.conversation, r.status) for r in queued] == [
        ("post", "finops-wins", "pending"),
        ("dm", "user:bob", "pending"),
    ]
    recorder = Recorder()
    assert await worker(bot, chat.workspace, recorder).drain() == 2
    assert await worker(bot, chat.workspace, recorder).drain() == 0
    assert [d.kind for d in recorder.sent] == ["post", "dm"]
    assert "Deleted idle disks" in recorder.sent[0].message.text
    assert {r.status for r in await rows(bot, chat.workspace)} == {"sent"}


async def test_a_refused_command_queues_nothing(chat, bot):
    await chat.outcome("win")  # nothing to log: a usage answer
    await chat.outcome('poll "Only one option?" "Yes"')
    assert await rows(bot, chat.workspace) == []


async def test_two_workers_never_deliver_one_row_twice(chat, bot):
    for n in range(12):
        await join(chat, f"newcomer{n}")  # a welcome DM each
    recorder = Recorder()
    first = worker(bot, chat.workspace, recorder, owner="replica-1", concurrency=4)
    second = worker(bot, chat.workspace, recorder, owner="replica-2", concurrency=4)
    await asyncio.gather(first.drain(), second.drain())
    assert sorted(d.id for d in recorder.sent) == sorted({d.id for d in recorder.sent})
    assert len(recorder.sent) == 12


async def test_a_conversation_is_paced_but_others_are_not(chat, bot, clock):
    await chat.outcome("config wins-channel #wins")
    await chat.outcome("win One $5")
    await chat.outcome("win Two $5")
    await join(chat, "newcomer")
    recorder = Recorder(interval=1.0)
    outbox = worker(bot, chat.workspace, recorder)
    await outbox.drain()
    assert [d.conversation for d in recorder.sent] == ["wins", "user:newcomer"]
    clock.now += timedelta(seconds=0.5)
    assert await outbox.drain() == 0  # the channel's second post waits its turn
    clock.now += timedelta(seconds=0.6)
    await outbox.drain()
    assert [d.conversation for d in recorder.sent][-1] == "wins"
    assert "Two" in recorder.sent[-1].message.text


async def test_rate_limit_waits_for_retry_after_and_costs_no_attempt(chat, bot, clock):
    await join(chat, "newcomer")
    recorder = Recorder()
    recorder.failures = [RateLimited(30)]
    outbox = worker(bot, chat.workspace, recorder)
    await outbox.drain()
    [row] = await rows(bot, chat.workspace)
    assert (row.status, row.attempts, row.uncertain) == ("pending", 0, False)
    assert row.not_before == clock.now + timedelta(seconds=30)
    clock.now += timedelta(seconds=29)
    assert await outbox.drain() == 0
    clock.now += timedelta(seconds=1)
    outbox._paces.clear()  # this test's clock is fake; the in-process pause is real time
    await outbox.drain()
    assert len(recorder.sent) == 1 and recorder.asked == []


async def test_failures_back_off_then_die_and_can_be_queued_again(chat, bot, clock):
    await join(chat, "newcomer")
    recorder = Recorder()
    recorder.failures = [NotDelivered("HTTP 412")] * 3
    outbox = worker(bot, chat.workspace, recorder, max_attempts=3)
    delays = []
    for attempt in range(1, 4):
        await outbox.drain()
        [row] = await rows(bot, chat.workspace)
        assert row.attempts == attempt
        delays.append(row.not_before - clock.now)
        clock.now = row.not_before
    assert row.status == "dead" and "412" in row.last_error
    assert timedelta(seconds=1) <= delays[0] <= timedelta(seconds=3)  # 2 s with jitter
    assert delays[1] >= timedelta(seconds=2)  # doubled
    async with bot.database.session() as session:
        assert await store.retry_dead(session, [row.id], clock.now) == 1
    await outbox.drain()
    assert len(recorder.sent) == 1
    assert (await rows(bot, chat.workspace))[0].status == "sent"


async def test_an_undeliverable_message_is_dead_at_once(chat, bot):
    await join(chat, "newcomer")
    recorder = Recorder()
    recorder.failures = [Undeliverable("channel_not_found")]
    await worker(bot, chat.workspace, recorder).drain()
    [row] = await rows(bot, chat.workspace)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "channel_not_found")


async def test_a_timeout_that_did_deliver_is_found_and_not_sent_again(chat, bot, clock):
    await join(chat, "newcomer")
    recorder = Recorder()
    recorder.failures = [TimeoutError("no answer in 20 s")]
    recorder.lands_anyway = True  # the platform had posted it before the client gave up
    outbox = worker(bot, chat.workspace, recorder)
    await outbox.drain()
    [row] = await rows(bot, chat.workspace)
    assert (row.status, row.uncertain) == ("pending", True)
    clock.now = row.not_before
    await outbox.drain()
    assert recorder.asked == [row.id]
    assert len(recorder.sent) == 1  # recognised, not posted twice
    [row] = await rows(bot, chat.workspace)
    assert (row.status, row.message_id) == ("sent", f"m{row.id}")


async def test_a_dead_replicas_claim_is_taken_over_when_its_lease_ends(chat, bot, clock):
    await join(chat, "newcomer")
    recorder = Recorder()
    dead = worker(bot, chat.workspace, Recorder(), owner="dead", lease=timedelta(minutes=2))
    async with bot.database.session() as session:  # claimed, then the replica died
        [claimed] = await store.claim(
            session,
            "console",
            clock.now,
            owner=dead.owner,
            lease=dead.lease,
            interval=timedelta(0),
            limit=10,
            workspace=chat.workspace,
        )
    alive = worker(bot, chat.workspace, recorder, owner="alive")
    assert await alive.drain() == 0  # the lease still runs
    clock.now += timedelta(minutes=2)
    await alive.drain()
    assert recorder.asked == [claimed.row.id]  # uncertain: asked the platform first
    assert [d.id for d in recorder.sent] == [claimed.row.id]
    async with bot.database.session() as session:  # the dead replica cannot settle it now
        assert not await store.settle(session, claimed.row.id, "dead", status="sent", now=clock.now)


async def test_a_burst_of_votes_queues_one_update(chat, bot):
    answer = await chat.say('poll "Pick one" "A" "B"')
    poll_id = answer.split("Poll #")[1].split()[0].strip(".:")
    for voter in ("li", "sam", "kim", "ola"):
        await chat.outcome(f"vote {poll_id} 1", user=voter)
    updates = [r for r in await rows(bot, chat.workspace) if r.kind == "update"]
    assert [(u.subject, u.status) for u in updates] == [(f"poll:{poll_id}", "pending")]
    recorder = Recorder()
    await worker(bot, chat.workspace, recorder).drain()
    assert [d.kind for d in recorder.sent] == ["update"]


async def test_two_replicas_queuing_one_update_at_once_leave_one_waiting(chat, bot, clock):
    """Each transaction sees no waiting update for the subject; the database keeps one."""
    async with bot.database.session() as session:
        ws = Workspace(platform="console", external_id=chat.workspace)
        session.add(ws)
        await session.flush()
        workspace_id = ws.id or 0
    started = asyncio.Event()

    async def queue() -> None:
        async with bot.database.session() as session:
            await started.wait()
            update = store.Queued("update", "poll:7", subject="poll:7")
            dm = store.Queued("dm", "user:li", "{}")
            await store.add(session, workspace_id, [update, update, dm], now=clock.now)

    racing = [asyncio.create_task(queue()) for _ in range(2)]
    started.set()
    await asyncio.gather(*racing)
    queued = await rows(bot, chat.workspace)
    assert sorted(r.kind for r in queued) == ["dm", "dm", "update"]  # DMs are never merged
    async with bot.database.session() as session:  # once it is being sent, a new one may wait
        [waiting] = [r for r in queued if r.kind == "update"]
        waiting.status = "sending"
        session.add(waiting)
    async with bot.database.session() as session:
        await store.add(session, workspace_id, [store.Queued("update", "poll:7")], now=clock.now)
    updates = [r.status for r in await rows(bot, chat.workspace) if r.kind == "update"]
    assert sorted(updates) == ["pending", "sending"]


async def test_delivered_rows_are_forgotten_after_a_week_dead_ones_are_kept(chat, bot, clock):
    await join(chat, "newcomer")
    await join(chat, "leaver")
    recorder = Recorder()
    recorder.failures = [Undeliverable("user_not_found")]
    await worker(bot, chat.workspace, recorder).drain()
    clock.now += timedelta(days=6)
    await Scheduler(bot, {"console"}).tick()  # prunes delivered rows older than 7 days
    assert len(await rows(bot, chat.workspace)) == 2
    clock.now += timedelta(days=2)
    await Scheduler(bot, {"console"}).tick()  # prunes delivered rows older than 7 days
    assert [r.status for r in await rows(bot, chat.workspace)] == ["dead"]
