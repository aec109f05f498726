"""The Slack app in Socket Mode: no signing secret, envelopes over a WebSocket, Web API out.

The bot connects with slack_bolt's AsyncSocketModeHandler to a fake Socket Mode endpoint that
forwards every other Web API call to FakeSlack, so the same fake sees what the bot sends.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest
from aiohttp.test_utils import TestClient

from bot.settings import Settings
from bot.tasks import TaskTracker
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_socket import FakeSocketMode
from tests.helpers import TEST_SECRET_KEY, outbox_settled, running_bot, texts
from tests.slack_signing import block_actions_body, event_body, sign, slash_command_body

ADMIN = "UADMIN"
START_TIMEOUT = 20  # connecting retries forever on failure: bound the wait


class SocketHarness:
    """Talks to the bot the way Slack does in Socket Mode; sees what it sent the Web API."""

    def __init__(
        self,
        client: TestClient,
        fake: FakeSlack,
        socket: FakeSocketMode,
        tasks: TaskTracker,
        team: str,
    ) -> None:
        self.client, self.fake, self.socket, self.tasks, self.team = (
            client,
            fake,
            socket,
            tasks,
            team,
        )

    async def command(
        self, text: str, user: str = ADMIN, name: str = "ada", channel: str = "C1"
    ) -> tuple[str, str]:
        """Send `/finops <text>` as a slash_commands envelope; returns (envelope id, response URL).

        The payload carries the fields of the HTTP slash command, as JSON strings."""
        url = self.fake.response_url()
        form = slash_command_body(
            text=text,
            user_id=user,
            user_name=name,
            team_id=self.team,
            channel_id=channel,
            response_url=url,
        )
        payload = dict(parse_qsl(form, keep_blank_values=True))
        return await self.socket.send("slash_commands", payload), url

    async def answered(self, text: str, **who: str) -> dict[str, Any]:
        """Run a command to the end; returns the private answer sent to its response URL."""
        envelope_id, url = await self.command(text, **who)
        await self.socket.wait_ack(envelope_id, timeout=5)
        await self.settled()
        answers = [r for r in self.fake.responses if r["url"] == url]
        return answers[-1] if answers else {}

    async def settled(self) -> None:
        """Wait for the acked work and for everything it queued to reach the fake."""
        await self.tasks.drain(10)
        await outbox_settled(self.client, "slack", self.team)

    async def event(self, event: dict[str, Any], event_id: str) -> str:
        payload = json.loads(event_body(event, event_id=event_id, team_id=self.team))
        return await self.socket.send("events_api", payload)

    async def click(self, value: str, user: str, name: str, action_id: str = "poll.vote:0") -> str:
        form = block_actions_body(
            action_id=action_id,
            value=value,
            user_id=user,
            user_name=name,
            team_id=self.team,
            response_url=self.fake.response_url(),
        )
        payload = json.loads(unquote(form.removeprefix("payload=")))
        return await self.socket.send("interactive", payload)


@pytest.fixture
async def socket_mode(database_url: str) -> AsyncIterator[SocketHarness]:
    team = "T" + uuid.uuid4().hex[:10].upper()
    async with FakeSlack(team_id=team) as fake, FakeSocketMode(fake.api_url) as socket:
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            FINOPS_ADMINS=ADMIN,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_APP_TOKEN=socket.app_token,
            SLACK_SIGNING_SECRET="",  # Socket Mode only
            SLACK_API_URL=socket.api_url,
            _env_file=None,
        )
        assert settings.slack_enabled
        # Starting the app runs the cleanup_ctx that connects Socket Mode.
        async with running_bot(settings, start_timeout=START_TIMEOUT) as (client, tasks):
            await socket.wait_connected(timeout=5)
            yield SocketHarness(client, fake, socket, tasks, team)


async def test_connects_with_the_app_token_and_is_greeted(socket_mode: SocketHarness):
    # One call checks the token at start-up (a refused token fails fast), one connects.
    assert socket_mode.socket.connections_opened == 2
    assert socket_mode.socket.hellos == 1 and socket_mode.socket.connected == 1
    # apps.connections.open went to the Socket Mode endpoint, never to the Web API fake.
    assert socket_mode.fake.calls == []


async def test_win_command_is_acked_celebrated_and_confirmed(socket_mode: SocketHarness):
    envelope_id, url = await socket_mode.command(
        "win Deleted idle disks $400/mo", user="U10", name="ivy"
    )
    ack = await socket_mode.socket.wait_ack(envelope_id, timeout=5)
    assert ack == {"envelope_id": envelope_id}  # a bare ack: the answer goes to response_url
    await socket_mode.settled()

    posts = socket_mode.fake.calls_to("chat.postMessage")
    celebration = next(p for p in posts if p.params["channel"] == "C1")
    assert "Deleted idle disks" in texts(celebration.params)
    assert "4,800 USD a year" in texts(celebration.params)
    assert celebration.params["blocks"][0]["type"] == "header"
    assert celebration.headers["Authorization"] == f"Bearer {socket_mode.fake.bot_token}"

    private = [r for r in socket_mode.fake.responses if r["url"] == url]
    assert len(private) == 1
    assert private[0]["response_type"] == "ephemeral"
    assert re.search(r"Logged win #\d+", private[0]["text"])


async def test_http_events_endpoint_is_not_mounted_without_a_signing_secret(
    socket_mode: SocketHarness,
):
    body = slash_command_body(
        text="win Not over HTTP $5",
        team_id=socket_mode.team,
        response_url=socket_mode.fake.response_url(),
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, "")}
    response = await socket_mode.client.post("/slack/events", data=body.encode(), headers=headers)
    assert response.status == 404
    health = await socket_mode.client.get("/healthz")
    assert health.status == 200
    await socket_mode.settled()
    assert socket_mode.fake.calls == [] and socket_mode.fake.responses == []


async def test_ack_does_not_wait_for_a_slow_slack(socket_mode: SocketHarness):
    socket_mode.fake.delay = 2.0  # every Web API answer takes 2 s
    started = time.monotonic()
    envelope_id, _ = await socket_mode.command("win Quick ack $5")
    await socket_mode.socket.wait_ack(envelope_id, timeout=1.5)
    assert time.monotonic() - started < 1.5
    assert len(socket_mode.tasks) == 1  # the work is still running after the ack
    await socket_mode.tasks.drain(20)
    assert socket_mode.fake.calls_to("chat.postMessage")


async def test_home_opened_event_publishes_the_home_tab(socket_mode: SocketHarness):
    await socket_mode.answered("win Deleted idle disks $400/mo", user="U10", name="ivy")
    opened = {"type": "app_home_opened", "user": "U10", "tab": "home", "channel": "D10"}
    envelope_id = await socket_mode.event(opened, "Ev0100")
    assert socket_mode.socket.sent[envelope_id]["accepts_response_payload"] is False
    ack = await socket_mode.socket.wait_ack(envelope_id, timeout=5)
    assert ack == {"envelope_id": envelope_id}
    await socket_mode.settled()
    view = socket_mode.fake.calls_to("views.publish")[-1].params
    assert view["user_id"] == "U10" and view["view"]["type"] == "home"
    assert "Deleted idle disks" in texts(view["view"])


async def test_poll_vote_is_acked_and_updates_the_poll(socket_mode: SocketHarness):
    answer = await socket_mode.answered('poll "Adopt a tagging policy?" "Yes" "No"')
    poll_id = re.search(r"Poll #(\d+)", answer["text"])[1]
    envelope_id = await socket_mode.click(f"{poll_id}:1", "U5", "dan")
    ack = await socket_mode.socket.wait_ack(envelope_id, timeout=5)
    assert ack == {"envelope_id": envelope_id}
    await socket_mode.settled()
    updates = socket_mode.fake.calls_to("chat.update")
    assert updates and "1. Yes: 1 vote (dan)" in texts(updates[-1].params["blocks"])


async def test_reconnects_when_slack_asks_and_keeps_acking(socket_mode: SocketHarness):
    await socket_mode.socket.disconnect("refresh_requested")
    await socket_mode.socket.wait_connected(hellos=2, timeout=10)
    # The start-up token check, the first connection, and a fresh URL for the new connection.
    assert socket_mode.socket.connections_opened == 3
    answer = await socket_mode.answered("win After reconnect $5")
    assert re.search(r"Logged win #\d+", answer["text"])


async def test_stopping_the_app_closes_the_connection(socket_mode: SocketHarness):
    await socket_mode.client.close()
    await socket_mode.socket.wait_disconnected(timeout=5)
    # Closed for good: no reconnection after the start-up check and the one connection.
    assert socket_mode.socket.hellos == 1 and socket_mode.socket.connections_opened == 2


async def test_a_refused_app_token_fails_start_up_instead_of_hanging(database_url: str):
    async with (
        FakeSlack() as fake,
        FakeSocketMode(upstream=fake.api_url, app_token="xapp-test") as socket,
    ):
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY=TEST_SECRET_KEY,
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_APP_TOKEN="xapp-wrong",
            SLACK_API_URL=socket.api_url,
            _env_file=None,
        )
        with pytest.raises(RuntimeError, match="Slack refused SLACK_APP_TOKEN"):
            async with running_bot(settings, start_timeout=START_TIMEOUT):
                pass
