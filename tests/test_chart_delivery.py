"""The digest's chart: drawn as a small deterministic PNG, carried by a neutral `Chart` block,
uploaded to Slack in the post's thread, shown in Teams cards (hosted or inline), served at
/charts/<token>.png, and always backed by its text sparkline.

Deliveries go the real way: a scheduled run queues a ChannelPost in the outbox (with the
chart stored in the same transaction), and the running app's outbox worker sends it over real
HTTP to the fake Slack Web API or the fake Bot Framework connector.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.console.render import render_message
from adapters.slack.deliver import CHART_FILENAME
from adapters.slack.render import blocks_for
from adapters.teams.render import MAX_DATA_URI_BASE64, card, chart_url
from app.server import BOT, DATABASE
from bot.commands import Request
from bot.costs.chart import draw, new_token, render_png, week_label
from bot.costs.routes import TOKEN
from bot.dashboard.data import DigestPage
from bot.dashboard.render import digest_page
from bot.events import Actor, system_actor
from bot.message import Chart, Divider, Header, Message, Outcome, Text
from bot.message_json import dumps, loads
from bot.settings import Settings
from bot.wording import sparkline
from storage import costs, workspaces
from storage import outbox as outbox_store
from tests.helpers import TEST_SECRET_KEY, running_bot, texts
from tests.schema_validation import validate_adaptive_card
from tests.test_slack import SlackHarness, slack  # noqa: F401  (the running app + fake Slack)
from tests.test_teams import TeamsHarness, keys, openid, running_teams, sdk  # noqa: F401

WEEKS = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(12)]
COST = [Decimal("41250.18") + Decimal(1375 * (i % 5)) - Decimal(610 * (i % 3)) for i in range(12)]
SAVINGS = [Decimal(4800 * i) + Decimal("0.5") for i in range(12)]
ALT = "Effective cloud cost per week and the wins' annualised savings, last 12 weeks (USD)"
PUBLIC_URL = "https://finops.example.com"
CHANNEL_TEAMS = "19:general-synthetic@thread.tacv2"  # the shared samples' channel
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def png() -> bytes:
    return render_png(WEEKS, COST, SAVINGS, currency="USD")


def a_chart(png: bytes, token: str | None = None) -> Chart:
    return Chart(
        png=png,
        alt=ALT,
        sparkline=f"Effective cost {sparkline(COST)}",
        token=new_token() if token is None else token,
    )


def digest(chart: Chart) -> Message:
    return Message("FinOps weekly digest", (Header("FinOps weekly digest"), Text("3 wins"), chart))


async def queue_post(
    client: TestClient, actor: Actor, message: Message, channel: str, *, store: bool = True
) -> None:
    """Post `message` in `channel` the way the weekly digest does: a scheduled run that stores
    its charts and queues the post in one transaction; the app's outbox worker sends it."""

    async def work(req: Request, _argument: Any) -> Outcome:
        for block in message.blocks:
            if store and isinstance(block, Chart) and block.token:
                await costs.save_chart(req.session, block.token, req.workspace_id, png=block.png)
        return Outcome().post(message, channel, channel_name="finops")

    bot = client.server.app[BOT]
    period = uuid.uuid4().hex[:20]
    assert await bot.run_scheduled(actor, work, None, job="chart-test", period=period, owner="test")


# -- the chart itself -----------------------------------------------------------------------------


def test_sparkline_places_each_value_between_the_lowest_and_the_highest():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([Decimal("10.5"), Decimal("0"), Decimal("21")]) == "▅▁█"
    assert sparkline([0.0, 100.0, 50.0]) == "▁█▅"
    assert sparkline([Decimal(7)] * 4) == "▄▄▄▄"  # flat: the middle, not the floor
    assert sparkline([3]) == "▄"
    assert sparkline([]) == ""


def test_the_png_is_small_deterministic_and_800_by_360(png: bytes):
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (800, 360)
    assert len(png) < 40_000, len(png)
    assert render_png(WEEKS, COST, SAVINGS, currency="USD") == png  # same input, same bytes
    assert render_png(WEEKS, COST, SAVINGS, currency="EUR") != png
    assert b"tEXt" not in png and b"tIME" not in png  # no software name, no timestamp


def test_the_chart_draws_twelve_weeks_of_cost_and_savings():
    figure = draw(WEEKS, COST, SAVINGS, currency="USD")
    axes = figure.axes[0]
    assert axes.get_title(loc="left") == "Last 12 weeks"
    labels = [label.get_text() for label in axes.get_xticklabels()]
    assert labels == [week_label(w) for w in WEEKS]
    assert labels[0] == "07 Sep" and labels[-1] == "23 Nov"
    assert len(axes.patches) == 12  # one bar a week
    assert [bar.get_height() for bar in axes.patches] == [float(c) for c in COST]
    lines = [line for ax in figure.axes for line in ax.get_lines()]
    assert len(lines) == 1 and list(lines[0].get_ydata()) == [float(s) for s in SAVINGS]
    assert "USD" in " ".join(ax.get_ylabel() for ax in figure.axes)


def test_savings_far_from_the_cost_scale_get_their_own_axis():
    shared = draw(WEEKS, COST, SAVINGS, currency="USD")  # 52,800 beside ~45,000: one scale
    assert len(shared.axes) == 1 and shared.axes[0].get_ylabel() == "Amount (USD)"
    apart = draw(WEEKS, [c * 100 for c in COST], SAVINGS, currency="USD")
    assert len(apart.axes) == 2
    assert [ax.get_ylabel() for ax in apart.axes] == [
        "Effective cost (USD)",
        "Annualised savings (USD)",
    ]


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        render_png(WEEKS, COST[:-1], SAVINGS, currency="USD")


def test_tokens_are_random_and_fit_the_route():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(TOKEN.fullmatch(token) for token in tokens)


def test_a_chart_survives_the_json_round_trip(png: bytes):
    message = digest(a_chart(png))
    text = dumps(message)
    stored = json.loads(text)["blocks"][2]
    assert stored["type"] == "Chart" and base64.b64decode(stored["png"]) == png
    assert loads(text) == message
    untokened = Message("x", (Chart(png=b"\x00\xff", alt="a", sparkline="▁█"),))
    assert loads(dumps(untokened)) == untokened


# -- rendering on each surface ------------------------------------------------------------------


def test_slack_shows_the_sparkline_escaped_in_a_section(png: bytes):
    chart = Chart(png=png, alt=ALT, sparkline="Cost <!channel> & co ▁▅█")
    [block] = [b.to_dict() for b in blocks_for(chart)]
    assert block["type"] == "section"
    assert block["text"] == {
        "type": "mrkdwn",
        "text": "Cost &lt;!channel&gt; &amp; co ▁▅█",
        "verbatim": True,
    }


def test_the_console_shows_the_sparkline_and_says_what_the_chart_is(png: bytes):
    shown = render_message(digest(a_chart(png)))
    assert f"Effective cost {sparkline(COST)}\n  (chart: {ALT})" in shown


def test_the_console_does_not_say_chart_twice(png: bytes):
    chart = replace(a_chart(png), alt="Chart: weekly effective cloud cost")
    shown = render_message(digest(chart))
    assert "(Chart: weekly effective cloud cost)" in shown and "chart: Chart" not in shown


def test_teams_picks_the_hosted_copy_an_inline_copy_or_none(png: bytes):
    chart = a_chart(png, token="t" * 32)
    assert chart_url(chart, PUBLIC_URL) == f"{PUBLIC_URL}/charts/{'t' * 32}.png"
    assert chart_url(chart, "") == "data:image/png;base64," + base64.b64encode(png).decode()
    untokened = a_chart(png, token="")
    assert chart_url(untokened, PUBLIC_URL).startswith("data:image/png;base64,")
    limit = MAX_DATA_URI_BASE64 // 4 * 3  # the largest PNG whose base64 fits
    assert chart_url(a_chart(b"x" * limit), "") is not None
    assert chart_url(a_chart(b"x" * (limit + 1)), "") is None


def test_the_digest_archive_page_shows_the_hosted_picture_and_the_sparkline(png: bytes):
    chart = Chart(png=png, alt='Cost & "savings" <chart>', sparkline="Cost ▁▅█", token="k" * 32)
    page = DigestPage("Slack · T1", "Week of 07 Sep 2026", "Mon 7 Sep 2026 09:00", (chart,))
    html = digest_page(page, "signed", "/finops", expires="tomorrow")
    assert (
        f'<img src="/finops/charts/{"k" * 32}.png" '
        'alt="Cost &amp; &#34;savings&#34; &lt;chart&gt;"' in html
    )
    assert "Cost ▁▅█" in html
    untokened = DigestPage(page.workspace, page.week, page.posted, (a_chart(png, token=""),))
    html = digest_page(untokened, "signed", "", expires="tomorrow")
    assert "<img" not in html and sparkline(COST) in html


# -- Slack: the post, then the picture in its thread ---------------------------------------------


async def test_slack_gets_the_post_then_the_png_in_its_thread(
    slack: SlackHarness,  # noqa: F811
    png: bytes,
):
    chart = a_chart(png)
    await queue_post(slack.client, system_actor("slack", slack.team), digest(chart), "C42")
    await slack.settled()
    [post] = slack.fake.calls_to("chat.postMessage")
    assert post.params["channel"] == "C42"
    assert chart.sparkline in texts(post.params["blocks"])
    [(channel, ts)] = list(slack.fake.messages)
    [shared] = slack.fake.shared_files
    assert (shared["channel_id"], shared["thread_ts"]) == (channel, ts) == ("C42", ts)
    assert shared["initial_comment"] == ALT
    [uploaded] = shared["files"]
    assert uploaded["data"] == png and uploaded["length"] == len(png)
    assert uploaded["filename"] == CHART_FILENAME and uploaded["title"] == ALT
    assert uploaded["alt_txt"] == ALT
    for call in slack.fake.calls_to("files.getUploadURLExternal") + slack.fake.calls_to(
        "files.completeUploadExternal"
    ):
        assert call.ok and call.headers["Authorization"] == f"Bearer {slack.fake.bot_token}"
    assert await statuses(slack.client, slack.team) == ["sent"]


async def test_a_direct_message_uploads_into_the_dm_channel(
    slack: SlackHarness,  # noqa: F811
    png: bytes,
):
    async def work(req: Request, _argument: Any) -> Outcome:
        return Outcome().dm(digest(a_chart(png, token="")), "U77", "gus")

    bot = slack.client.server.app[BOT]
    actor = system_actor("slack", slack.team)
    assert await bot.run_scheduled(
        actor, work, None, job="chart-test", period=uuid.uuid4().hex[:20], owner="t"
    )
    await slack.settled()
    [(channel, ts)] = list(slack.fake.messages)
    assert channel == "DU77"  # the user id posts in the DM; the upload needs the DM's id
    [shared] = slack.fake.shared_files
    assert (shared["channel_id"], shared["thread_ts"]) == (channel, ts)


FAILURES: dict[str, Callable[[Any], None]] = {
    # An install made before files:write was added to the manifest.
    "no scope": lambda fake: fake.refuse_next("files.getUploadURLExternal", "missing_scope"),
    "upload refused": lambda fake: fake.fail_next("upload", status=500),
    "completion failed": lambda fake: fake.fail_next("files.completeUploadExternal", status=503),
    "rate limited": lambda fake: fake.fail_next("files.getUploadURLExternal", status=429),
}


FAILED_STEP = {
    "no scope": "files.getUploadURLExternal",
    "upload refused": "upload",
    "completion failed": "files.completeUploadExternal",
    "rate limited": "files.getUploadURLExternal",
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_failed_upload_leaves_the_post_sent_once(
    slack: SlackHarness,  # noqa: F811
    png: bytes,
    failure: str,
    caplog: pytest.LogCaptureFixture,
):
    FAILURES[failure](slack.fake)
    caplog.set_level(logging.DEBUG)
    await queue_post(slack.client, system_actor("slack", slack.team), digest(a_chart(png)), "C42")
    await slack.settled()
    assert len(slack.fake.calls_to("chat.postMessage")) == 1
    assert slack.fake.shared_files == []
    assert [c.method for c in slack.fake.calls if not c.ok] == [FAILED_STEP[failure]]
    assert await statuses(slack.client, slack.team) == ["sent"]
    warnings = [r for r in caplog.records if r.name == "adapters.slack.deliver"]
    assert any("could not upload a chart" in r.getMessage() for r in warnings)
    ours = "\n".join(r.getMessage() for r in warnings)
    assert slack.fake.bot_token not in ours and "/upload/" not in ours


async def statuses(client: TestClient, team: str) -> list[str]:
    async with client.server.app[DATABASE].session() as session:
        rows = await outbox_store.listing(session)
    return [row.status for row, workspace in rows if workspace.external_id == team]


# -- Teams: the picture in the card ---------------------------------------------------------------


@pytest.fixture
def teams_factory(
    database_url: str,
    keys,  # noqa: F811
    openid,  # noqa: F811
    shared_dir,
    sdk: str,  # noqa: F811
) -> Callable[[str], AbstractAsyncContextManager[TeamsHarness]]:
    """A running Teams bot (as tests/test_teams.py's, on each SDK), with FINOPS_PUBLIC_URL as
    given."""

    def start(public_url: str) -> AbstractAsyncContextManager[TeamsHarness]:
        return running_teams(
            database_url,
            keys,
            openid.metadata_url,
            shared_dir,
            sdk=sdk,
            FINOPS_PUBLIC_URL=public_url,
        )

    return start


async def chart_card(teams: TeamsHarness, chart: Chart) -> dict[str, Any]:
    """Post a digest holding `chart` in the samples' channel; the card Teams received."""
    assert await teams.say("help") == 201  # the bot learns the channel's address
    await queue_post(
        teams.client, system_actor("teams", teams.tenant), digest(chart), CHANNEL_TEAMS
    )
    await teams.settled()
    cards = [
        call.json["attachments"][0]["content"]
        for call in teams.connector.calls_to("post")
        if call.conversation_id.startswith(CHANNEL_TEAMS)
        and chart.sparkline in json.dumps(call.json, ensure_ascii=False)
    ]
    assert len(cards) == 1, teams.texts()
    return cards[0]


def images(card_json: dict[str, Any]) -> list[dict[str, Any]]:
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Image":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card_json)
    return found


@pytest.fixture
def card_schema(shared_dir):
    return shared_dir / "schemas/adaptive-card-1.5/adaptive-card.schema.json"


async def test_teams_links_the_hosted_chart_when_the_public_url_is_set(
    teams_factory, png: bytes, card_schema
):
    chart = a_chart(png)
    async with teams_factory(PUBLIC_URL) as teams:
        received = await chart_card(teams, chart)
        [image] = images(received)
        assert image["url"] == f"{PUBLIC_URL}/charts/{chart.token}.png"
        assert image["altText"] == ALT
        assert validate_adaptive_card(received, card_schema) == []
        # The URL's path is served by the same app, with the stored bytes.
        response = await teams.client.get(image["url"].removeprefix(PUBLIC_URL))
        assert response.status == 200 and await response.read() == png


async def test_teams_inlines_a_small_chart_without_a_public_url(
    teams_factory, png: bytes, card_schema
):
    chart = a_chart(png)
    async with teams_factory("") as teams:
        received = await chart_card(teams, chart)
    [image] = images(received)
    assert image["url"].startswith("data:image/png;base64,")
    assert base64.b64decode(image["url"].partition(",")[2]) == png
    assert chart.sparkline in json.dumps(received, ensure_ascii=False)
    assert validate_adaptive_card(received, card_schema) == []


async def test_teams_shows_only_the_sparkline_for_a_chart_too_big_to_inline(
    teams_factory, card_schema
):
    big = PNG_SIGNATURE + bytes(range(256)) * 80  # base64 well over the 20,000 characters
    chart = a_chart(big)
    async with teams_factory("") as teams:
        received = await chart_card(teams, chart)
    assert images(received) == []
    assert chart.sparkline in json.dumps(received, ensure_ascii=False)
    assert validate_adaptive_card(received, card_schema) == []


def test_a_chart_card_is_valid_after_a_divider(png: bytes, card_schema):
    rendered = card(Message("x", (Divider(), a_chart(png))), PUBLIC_URL)
    assert rendered["body"][0]["type"] == "Container" and rendered["body"][0]["separator"]
    assert validate_adaptive_card(rendered, card_schema) == []


# -- GET /charts/<token>.png ----------------------------------------------------------------------


@pytest.fixture
async def web(database_url: str) -> AsyncIterator[TestClient]:
    settings = Settings(
        DATABASE_URL=database_url, FINOPS_SECRET_KEY=TEST_SECRET_KEY, _env_file=None
    )
    async with running_bot(settings) as (client, _tasks):
        yield client


async def stored(client: TestClient, png: bytes) -> str:
    token = new_token()
    async with client.server.app[DATABASE].session() as session:
        workspace = await workspaces.workspace_id(session, "console", f"ws-{uuid.uuid4().hex}")
        await costs.save_chart(session, token, workspace, png=png)
    return token


async def test_a_stored_chart_is_served_as_an_immutable_png(web: TestClient, png: bytes):
    token = await stored(web, png)
    response = await web.get(f"/charts/{token}.png")
    assert response.status == 200
    assert await response.read() == png
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/charts/{unknown}.png",  # well formed, never stored
        "/charts/short.png",
        "/charts/{token}.png.png",
        "/charts/{token}%2E.png",
        "/charts/" + "a" * 65 + ".png",
        "/charts/{token}'--.png",
        "/charts/{token}",
    ],
)
async def test_an_unknown_or_malformed_token_is_404(web: TestClient, png: bytes, path: str):
    token = await stored(web, png)
    response = await web.get(path.format(token=token, unknown=new_token()))
    assert response.status == 404
    assert response.headers.get("Cache-Control") != "public, max-age=31536000, immutable"
