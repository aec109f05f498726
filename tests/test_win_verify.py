"""Verified savings end to end on generated FOCUS exports: one service's cost drops by a known
amount on the day a win is logged, amid noise and growth elsewhere; `win verify` finds the
drop within its band, says "not seen" for a service whose cost did not fall, and waits while
the data does not cover day 30. Through the console, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import col, select

from app.server import BOT
from bot import message_json
from bot.costs.importer import run_import
from bot.scheduler import Scheduler
from storage import workspaces
from storage.models import OutboxMessage, WinCheck
from tests.helpers import texts
from tests.test_digest_costs import import_for
from tests.test_focus_import import row, write_csv
from tests.test_slack import SlackHarness, slack  # noqa: F401  (the fixture)
from tests.test_teams import TeamsHarness, keys, openid, sdk, teams  # noqa: F401  (fixtures)

ADMIN = "ada"  # tests/conftest.py: the console user
WIN_DAY = date(2026, 6, 1)
DROP = Decimal(100)  # a day, on Amazon EC2, from the win's day on
KNOWN_MONTHLY = DROP * Decimal("30.4")


def bill(folder: Path, last_day: date, seed: int = 11) -> Path:
    """Amazon EC2 at 1,000 a day (noise 40) falling to 900 on WIN_DAY; Amazon S3 growing by 5
    a day throughout; Amazon RDS flat at 300 (noise 20). One row per service and day."""
    rng = random.Random(seed)
    rows = []
    day = WIN_DAY - timedelta(days=45)
    while day <= last_day:
        ec2 = Decimal(1000) - (DROP if day >= WIN_DAY else 0) + Decimal(round(rng.gauss(0, 40), 2))
        s3 = Decimal(500) + 5 * (day - WIN_DAY).days
        rds = Decimal(300) + Decimal(round(rng.gauss(0, 20), 2))
        start, end = f"{day:%Y-%m-%d}T00:00:00Z", f"{day + timedelta(days=1):%Y-%m-%d}T00:00:00Z"
        for service, category, cost in (
            ("Amazon EC2", "Compute", ec2),
            ("Amazon S3", "Storage", s3),
            ("Amazon RDS", "Databases", rds),
        ):
            rows.append(
                row(
                    str(cost),
                    ChargePeriodStart=start,
                    ChargePeriodEnd=end,
                    ServiceName=service,
                    ServiceCategory=category,
                )
            )
        day += timedelta(days=1)
    return write_csv(folder / f"focus-{last_day}.csv", rows)


async def imported(chat, database, path: Path) -> None:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        ws = await workspaces.workspace_id(session, "console", chat.workspace)
    await run_import(database, [path], ws, scope=f"console:{chat.workspace}")


def logged(reply: str) -> int:
    match = re.search(r"Logged win #(\d+)|`win verify (\d+)`", reply)
    assert match, reply
    return int(match[1] or match[2])


def realised(reply: str, checkpoint: int) -> tuple[Decimal, Decimal, str]:
    line = next(line for line in reply.splitlines() if line.startswith(f"Day {checkpoint} "))
    match = re.search(r"realised ([-\d,.]+) USD/mo ± ([\d,.]+) USD.*: (.*)\.$", line)
    assert match, line
    return Decimal(match[1].replace(",", "")), Decimal(match[2].replace(",", "")), match[3]


async def test_a_known_drop_is_verified_within_its_band_and_a_flat_service_is_not_seen(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=65)))
    clock.now = datetime.combine(WIN_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    answer = await chat.say(
        'win Rightsized the EC2 fleet $3,040/mo #rightsizing on service:"amazon ec2"'
    )
    assert 'Scoped to service:"Amazon EC2"' in answer  # the data's own spelling
    fleet = logged(answer)
    tuned = logged(await chat.say('win Tuned the databases $500/mo on service:"Amazon RDS"'))

    shown = await chat.say(f"win verify {fleet}")
    assert "Baseline: 1,0" in shown and "over 30 days" in shown
    for checkpoint in (30, 60):
        amount, band, verdict = realised(shown, checkpoint)
        assert abs(amount - KNOWN_MONTHLY) <= band, (amount, band)
        assert verdict.endswith("seen in the bill") and "not seen" not in verdict
    assert "% of the claim" in shown
    assert "Day 90 (" in shown and "waits for data up to" in shown

    amount, band, verdict = realised(await chat.say(f"win verify {tuned}"), 30)
    assert abs(amount) <= band and verdict == "not seen in the bill"


async def test_the_check_waits_while_the_data_does_not_cover_day_30(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=20)))
    clock.now = datetime.combine(WIN_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    fleet = logged(await chat.say('win Rightsized the EC2 fleet $3,040/mo on service:"Amazon EC2"'))
    shown = await chat.say(f"win verify {fleet}")
    [day_30] = [line for line in shown.splitlines() if line.startswith("Day 30 (")]
    assert day_30 == (
        "Day 30 (2 Jun–1 Jul 2026): waits for data up to 1 Jul 2026 "
        "(imported data ends 21 Jun 2026)."
    )


async def test_a_scope_matching_no_imported_cost_is_refused_and_nothing_is_logged(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=5)))
    answer = await chat.say('win Rightsized $3,040/mo on service:"Amazon EC3"')
    assert "No imported cost has service 'Amazon EC3'; the nearest in the data: Amazon EC2" in (
        answer
    )
    assert "Logged win" not in answer
    assert "none yet" in await chat.say("wins all")
    fleet = logged(await chat.say("win Rightsized the EC2 fleet $3,040/mo"))
    assert "has no scope" in await chat.say(f"win verify {fleet}")
    no_region = await chat.say(f"win scope {fleet} region:eu-west-1")  # none in the data
    assert "No imported cost has region 'eu-west-1'" in no_region
    assert 'scoped to service:"Amazon S3"' in await chat.say(
        f"win scope {fleet} service:'Amazon S3'"
    )
    assert "or an admin can scope it" in await chat.say(
        f"win scope {fleet} service:S3", user="U_SOMEONE_ELSE"
    )
    edited = await chat.say(f'win edit {fleet} $3,100/mo on service:"amazon ec2"')
    assert 'scoped to service:"Amazon EC2"' in edited
    assert 'is scoped to service:"Amazon EC2"' in await chat.say(f"win scope {fleet}")
    assert "has no scope now" in await chat.say(f"win scope {fleet} none")


async def test_the_scheduler_checks_each_due_win_once_and_updates_its_celebration(  # type: ignore[no-untyped-def]
    chat, bot, database, clock, tmp_path: Path
):
    clock.now = datetime.combine(WIN_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=5)))
    fleet = logged(
        await chat.say('win Rightsized the EC2 fleet $3,040/mo on service:"Amazon EC2" @jane')
    )
    flat = logged(await chat.say('win Tuned the databases $500/mo on service:"Amazon RDS"'))
    scheduler = Scheduler(bot, {"console"})
    job = f"win-checks:{await workspace_row(chat, database)}"
    await scheduler.tick()
    assert await checks_recorded(database, fleet) == []  # day 30 is not in the data yet

    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=35)))  # re-delivered
    assert job in await scheduler.tick()
    assert await checks_recorded(database, fleet) == [(30, "seen")]
    assert await checks_recorded(database, flat) == [(30, "not seen")]
    await Scheduler(bot, {"console"}).tick()  # another replica: finds nothing new to record
    assert job not in await scheduler.tick()  # and then nothing changed: not even a read

    celebration = await bot.view(chat.actor(), f"win:{fleet}")
    assert celebration is not None
    assert re.search(
        r"realised [\d,.]+ USD/mo ± [\d,.]+ USD at day 30 \(\d+ % of the claim\)",
        message_json.dumps(celebration),
    )
    flat_card = await bot.view(chat.actor(), f"win:{flat}")
    assert flat_card is not None and "not seen in the bill at day 30" in message_json.dumps(
        flat_card
    )
    rows = await outbox_rows(database, await workspace_row(chat, database))
    assert sorted(r for r in rows if r[0] == "update") == sorted(
        [("update", f"win:{fleet}", ""), ("update", f"win:{flat}", "")]
    )
    told = sorted(r[1] for r in rows if r[0] == "dm" and "is in the bill" in r[2])
    assert told == sorted([f"user:{ADMIN}", "user:jane"])  # the people credited, once each

    # Claimed beside verified wherever wins are shown; the verified ones ranked apart.
    listed = await chat.say("wins all")
    claimed_and_verified = (
        rf"#{fleet} Rightsized.*3,040 USD/mo.* · verified: realised [\d,.]+ USD/mo"
    )
    assert re.search(claimed_and_verified, listed)
    assert f"#{flat} " in listed and "verified: not seen in the bill at day 30" in listed
    ranked = await chat.say("leaderboard verified all")
    assert "verified savings" in ranked and "1 verified win" in ranked
    assert "jane: " in ranked and ranked.count("realised") == 2  # the two credited, not flat
    assert "Savings checked against the bill" in await chat.say("digest")
    await chat.say("committee meeting thursday 15:00 weekly UTC")
    agenda = await chat.say("committee agenda")
    assert "Wins whose savings were not seen in the bill" in agenda
    not_seen = agenda.split("Wins whose savings were not seen in the bill")[1].split("Metrics")[0]
    assert f"#{flat} Tuned the databases" in not_seen and f"#{fleet} " not in not_seen


async def workspace_row(chat, database) -> int:  # type: ignore[no-untyped-def]
    async with database.reading() as session:
        found = await workspaces.find(session, "console", chat.workspace)
    assert found is not None
    return found


async def checks_recorded(database, win_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    async with database.reading() as session:
        rows = await session.exec(
            select(WinCheck).where(WinCheck.win_id == win_id).order_by(col(WinCheck.checkpoint))
        )
        return [(r.checkpoint, r.verdict) for r in rows.all()]


async def outbox_rows(database, workspace_id: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    async with database.reading() as session:
        rows = await session.exec(
            select(OutboxMessage).where(OutboxMessage.workspace_id == workspace_id)
        )
        found = []
        for r in rows.all():
            if r.kind == "update":
                found.append((r.kind, r.subject, ""))
            elif r.kind == "dm":
                found.append((r.kind, r.conversation, json.loads(r.payload)["message"]["text"]))
        return found


async def test_on_slack_the_check_updates_the_celebration_and_dms_once(  # type: ignore[no-untyped-def]
    slack: SlackHarness,  # noqa: F811
    tmp_path: Path,
):
    """Over real HTTP against the fake Slack: the celebration is edited in place with the
    verified figure, the person credited gets one DM, the agenda lists the win not seen once,
    and a second tick (or replica) sends nothing more."""
    bot = slack.client.server.app[BOT]
    bot.clock = lambda: (
        datetime.combine(WIN_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    )
    await import_for(slack.client, "slack", slack.team, bill(tmp_path, WIN_DAY + timedelta(days=5)))
    await slack.command("config wins-channel <#C42|wins>")
    fleet = logged(
        (await slack.command('win Rightsized the EC2 fleet $3,040/mo on service:"Amazon EC2"'))[
            "text"
        ]
    )
    flat = logged(
        (await slack.command('win Tuned the databases $500/mo on service:"Amazon RDS"'))["text"]
    )
    await import_for(
        slack.client, "slack", slack.team, bill(tmp_path, WIN_DAY + timedelta(days=35))
    )
    for _ in range(3):  # the checks, then nothing new: once however often it ticks
        await Scheduler(bot, {"slack"}).tick()
        await slack.settled()
    edits = [c for c in slack.fake.calls_to("chat.update") if "Verified" in texts(c.params)]
    assert len([e for e in edits if f"#{fleet}" in texts(e.params)]) == 1
    assert re.search(r"realised [\d,.]+ USD/mo ± [\d,.]+ USD at day 30", texts(edits[0].params))
    assert len([e for e in edits if f"#{flat}" in texts(e.params)]) == 1
    told = [
        c for c in slack.fake.calls_to("chat.postMessage") if "is in the bill" in texts(c.params)
    ]
    assert len(told) == 1 and f"win #{fleet}" in texts(told[0].params)
    await slack.command("committee meeting thursday 15:00 weekly UTC")
    agenda = (await slack.command("committee agenda"))["text"]
    assert agenda.count("Wins whose savings were not seen in the bill") == 1
    section = agenda.split("Wins whose savings were not seen in the bill:")[1].split("Metrics:")[0]
    assert section.count(f"#{flat} Tuned the databases") == 1 and f"#{fleet} " not in section


async def test_on_teams_the_check_updates_the_card_in_place_and_dms_once(  # type: ignore[no-untyped-def]
    teams: TeamsHarness,  # noqa: F811
    tmp_path: Path,
):
    """Over real HTTP against the fake Bot Framework connector, on both Teams SDKs."""
    bot = teams.client.server.app[BOT]
    bot.clock = lambda: (
        datetime.combine(WIN_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    )
    await import_for(
        teams.client, "teams", teams.tenant, bill(tmp_path, WIN_DAY + timedelta(days=5))
    )
    assert await teams.say('win Rightsized the EC2 fleet $3,040/mo on service:"Amazon EC2"') == 201
    fleet = logged(teams.texts())
    channel = "19:general-synthetic@thread.tacv2"
    [card_id] = [a["id"] for a in teams.connector.sent(channel) if a.get("attachments")]
    await import_for(
        teams.client, "teams", teams.tenant, bill(tmp_path, WIN_DAY + timedelta(days=35))
    )
    for _ in range(3):  # the check, then nothing new
        await Scheduler(bot, {"teams"}).tick()
        await teams.settled()
    updates = teams.connector.calls_to("update")
    assert [u.activity_id for u in updates] == [card_id]  # the celebration, once, in place
    assert re.search(r"realised [\d,.]+ USD/mo ± [\d,.]+ USD at day 30", texts(updates[0].json))
    told = [c for c in teams.connector.calls if "is in the bill" in texts(c.json)]
    assert len(told) == 1 and f"win #{fleet}" in texts(told[0].json)
