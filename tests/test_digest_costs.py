"""The weekly digest with cloud cost: imported FOCUS data gives it a cost section and the
12-week chart, delivered to the fake Slack (the PNG uploaded in the post's thread) and the
fake Bot Framework (an Image in the card), over real HTTP."""

from __future__ import annotations

import base64
import csv
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from app.server import BOT, DATABASE
from bot.costs.chart import render_png
from bot.costs.importer import run_import
from bot.events import system_actor
from bot.features import digest
from bot.parsing.billing import span_label
from storage import workspaces
from storage.models import ChartImage
from tests.helpers import texts
from tests.schema_validation import validate_adaptive_card
from tests.test_chart_delivery import (  # noqa: F401  (fixtures)
    PNG_SIGNATURE,
    PUBLIC_URL,
    card_schema,
    images,
    teams_factory,
)
from tests.test_focus_import import HEADER, row
from tests.test_slack import SlackHarness, slack  # noqa: F401
from tests.test_teams import keys, openid  # noqa: F401

WEEKS = 12


def today() -> date:
    return datetime.now(UTC).date()


def twelve_weeks_of_costs(folder: Path) -> tuple[Path, Decimal]:
    """One AWS usage row a day for the last 12 weeks up to today (UTC), today's day still
    being billed; returns the file and the effective cost of the latest seven complete days
    (the seven days before today), which is what the digest reports."""
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=WEEKS - 1)
    rows, this_week = [], Decimal(0)
    day = first
    while day <= today:
        cost = Decimal(100 + (day - first).days % 9 * 25) + Decimal("0.35")
        stamp = f"{day:%Y-%m-%d}T00:00:00Z"
        end = f"{day + timedelta(days=1):%Y-%m-%d}T00:00:00Z"
        rows.append(row(str(cost), ChargePeriodStart=stamp, ChargePeriodEnd=end))
        if today - timedelta(days=7) <= day < today:
            this_week += cost
        day += timedelta(days=1)
    path = folder / "focus.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path, this_week


async def import_for(client, platform: str, external_id: str, path: Path) -> int:  # type: ignore[no-untyped-def]
    database = client.server.app[DATABASE]
    async with database.session() as session:
        ws = await workspaces.workspace_id(session, platform, external_id)
    await run_import(database, [path], ws, scope=f"{platform}:{external_id}")
    return ws


async def test_slack_digest_has_the_cost_section_and_the_chart_in_its_thread(
    slack: SlackHarness,  # noqa: F811
    tmp_path: Path,
) -> None:
    path, this_week = twelve_weeks_of_costs(tmp_path)
    ws = await import_for(slack.client, "slack", slack.team, path)
    await slack.command("win Rightsized 40 dev VMs $3,200/mo #rightsizing", channel="C42")
    answer = await slack.command("digest post", channel="C42")
    assert "Posted the digest for" in answer["text"]
    [post] = [
        p
        for p in slack.fake.calls_to("chat.postMessage")
        if "FinOps weekly digest" in texts(p.params)
    ]
    shown = texts(post.params["blocks"])
    window = span_label(today() - timedelta(days=7), today())
    assert f"Cloud cost · {window}" in shown
    assert "The latest 7 complete days of imported data" in shown
    assert f"{this_week:,.2f} USD" in shown  # the seven days' effective cost, to the cent
    assert "Data freshness: the latest charge ended" in shown
    assert "Cost, last 12 weeks" in shown  # the sparkline fallback
    [(channel, ts)] = [
        key
        for key, message in slack.fake.messages.items()
        if "FinOps weekly digest" in texts(message)
    ]
    [shared] = slack.fake.shared_files
    assert (shared["channel_id"], shared["thread_ts"]) == (channel, ts)
    [uploaded] = shared["files"]
    assert uploaded["data"].startswith(PNG_SIGNATURE)
    # The same picture is kept for /charts (Teams and the dashboard).
    async with slack.client.server.app[DATABASE].reading() as session:
        [stored] = (
            await session.exec(select(ChartImage).where(ChartImage.workspace_id == ws))
        ).all()
    assert stored.png == uploaded["data"]
    response = await slack.client.get(f"/charts/{stored.token}.png")
    assert response.status == 200 and await response.read() == uploaded["data"]


async def test_slack_digest_preview_has_the_sparkline_but_uploads_nothing(
    slack: SlackHarness,  # noqa: F811
    tmp_path: Path,
) -> None:
    path, _ = twelve_weeks_of_costs(tmp_path)
    await import_for(slack.client, "slack", slack.team, path)
    answer = await slack.command("digest", channel="C42")
    assert "Cloud cost · " in texts(answer) and "Cost, last 12 weeks" in texts(answer)
    assert slack.fake.shared_files == []


async def test_without_cost_data_the_digest_has_no_cost_section(
    slack: SlackHarness,  # noqa: F811
) -> None:
    answer = await slack.command("digest", channel="C42")
    assert "FinOps weekly digest" in texts(answer)
    assert "Cloud cost" not in texts(answer)


async def test_teams_scheduled_digest_shows_the_chart_in_its_card(
    teams_factory,  # noqa: F811
    card_schema,  # noqa: F811
    tmp_path: Path,
) -> None:
    path, this_week = twelve_weeks_of_costs(tmp_path)
    for public_url in (PUBLIC_URL, ""):
        async with teams_factory(public_url) as teams:
            assert await teams.say("config digest-channel here") == 201
            await import_for(teams.client, "teams", teams.tenant, path)
            bot = teams.client.server.app[BOT]
            actor = system_actor("teams", teams.tenant)
            period = uuid.uuid4().hex[:12]
            assert await bot.run_scheduled(
                actor,
                digest.scheduled_post,
                bot.clock(),
                job="digest:test",
                period=period,
                owner="test",
                prepare=digest.prepare_scheduled,
            )
            await teams.settled()
            [card] = [c for c in teams.cards() if "FinOps weekly digest" in json.dumps(c)]
            shown = json.dumps(card, ensure_ascii=False)
            assert "Cloud cost · " in shown and f"{this_week:,.2f} USD" in shown
            [image] = images(card)
            if public_url:
                assert image["url"].startswith(f"{PUBLIC_URL}/charts/")
                response = await teams.client.get(image["url"].removeprefix(PUBLIC_URL))
                assert (await response.read()).startswith(PNG_SIGNATURE)
            else:  # no public URL: the PNG travels inside the card
                prefix = "data:image/png;base64,"
                assert image["url"].startswith(prefix)
                assert base64.b64decode(image["url"][len(prefix) :]).startswith(PNG_SIGNATURE)
            assert "weekly effective cloud cost" in image["altText"]
            assert validate_adaptive_card(card, card_schema) == []
            assert len(json.dumps(card)) < 28_000  # Teams' message size limit


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the one writer lock
async def test_the_digest_draws_its_chart_while_no_writer_waits(  # type: ignore[no-untyped-def]
    chat, bot, database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """On SQLite one write transaction at a time runs: the chart (up to a second of drawing)
    is drawn before the scheduled run is claimed, and before `digest post`'s transaction, so
    no other command waits for it."""
    path, _ = twelve_weeks_of_costs(tmp_path)
    await chat.say("config digest-channel #finops")
    async with database.session() as session:
        ws = await workspaces.workspace_id(session, "console", chat.workspace)
    await run_import(database, [path], ws, scope=f"console:{chat.workspace}")
    writer_busy: list[bool] = []

    def drawing(*args, **kwargs):  # type: ignore[no-untyped-def]
        writer_busy.append(database._writer.locked())  # the in-process writer lock (SQLite)
        return render_png(*args, **kwargs)

    monkeypatch.setattr(digest, "render_png", drawing)
    assert await bot.run_scheduled(
        chat.actor(),
        digest.scheduled_post,
        bot.clock(),
        job="digest:test",
        period=uuid.uuid4().hex[:12],
        owner="test",
        prepare=digest.prepare_scheduled,
    )
    assert "Posted the digest for" in await chat.say("digest post")  # the command too
    assert writer_busy == [False, False]
    async with database.reading() as session:
        stored = (await session.exec(select(ChartImage).where(ChartImage.workspace_id == ws))).all()
    assert [s.png[:8] for s in stored] == [PNG_SIGNATURE] * 2  # drawn outside, kept
    # The same probe sees the lock when drawing happens inside a write transaction.
    async with database.session():
        drawing([date(2026, 1, 5)], [Decimal(1)], [Decimal(0)], currency="USD")
    assert writer_busy == [False, False, True]
