"""Slack edge cases, in the shapes of bolt-python's own test payloads (tests/scenario_tests:
`member_joined_channel` for the bot's own user, `team_join`, `view_submission`, block actions),
sent signed to the real `/slack/events` endpoint; the fake Web API sees what the bot asks."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import texts
from tests.slack_signing import BOT_USER_ID, block_actions_body
from tests.test_slack import SlackHarness, slack  # noqa: F401
from tests.test_slack_socket_mode import SocketHarness, socket_mode  # noqa: F401

FORM = "application/x-www-form-urlencoded"


def payload(data: dict[str, Any] | list[Any] | str) -> str:
    return "payload=" + quote(data if isinstance(data, str) else json.dumps(data))


def clicked(team: str, **changes: Any) -> dict[str, Any]:
    """A block_actions payload (bolt's shape), with `changes` applied."""
    body = block_actions_body(
        action_id="poll.vote:0", value="1:1", team_id=team, response_url="http://127.0.0.1:9/r"
    )
    from urllib.parse import unquote

    data = json.loads(unquote(body[len("payload=") :]))
    data.update(changes)
    return data


def event_callback(team: str, event: dict[str, Any], event_id: str) -> str:
    return json.dumps(
        {
            "token": "verification_token",
            "team_id": team,
            "api_app_id": "A111",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1599616881,
            "authed_users": ["W111"],
        }
    )


def malformed_bodies(team: str) -> list[tuple[str, str, str]]:
    """(what, body, content type): signed, but not what Slack sends."""
    no_user = clicked(team)
    no_user.pop("user")
    return [
        ("payload=not-json", "payload=not-json", FORM),
        ("actions: []", payload(clicked(team, actions=[])), FORM),
        ("a click without a user", payload(no_user), FORM),
        ("a click by user ''", payload(clicked(team, user={"id": "", "name": "x"})), FORM),
        ("a payload that is a list", payload([1, 2]), FORM),
        (
            "view_submission without view",
            payload(
                {
                    "type": "view_submission",
                    "team": {"id": team, "domain": "workspace-domain"},
                    "user": {"id": "W111", "username": "primary-owner", "team_id": team},
                    "api_app_id": "A111",
                    "token": "verification_token",
                    "trigger_id": "111.222.valid",
                }
            ),
            FORM,
        ),
        (
            "team_join with a string user",
            event_callback(team, {"type": "team_join", "user": "W111"}, "EvBad1"),
            "application/json",
        ),
        (
            "member_joined_channel without user",
            event_callback(team, {"type": "member_joined_channel", "channel": "C111"}, "EvBad2"),
            "application/json",
        ),
        (
            "app_home_opened without user",
            event_callback(team, {"type": "app_home_opened", "tab": "home"}, "EvBad3"),
            "application/json",
        ),
        (
            "an event_callback without event",
            event_callback(team, None, "EvBad4"),
            "application/json",
        ),  # type: ignore[arg-type]
        ("a JSON list", "[]", "application/json"),
        ("a slash command without user_id", f"command=%2Ffinops&text=help&team_id={team}", FORM),
    ]


async def test_signed_but_malformed_bodies_are_400_with_one_log_line(
    slack: SlackHarness,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
):
    for what, body, content_type in malformed_bodies(slack.team):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = await slack.post(body, content_type=content_type)
            await slack.settled()
        assert response.status == 400, what
        assert "malformed request" in (await response.json())["error"], what
        refused = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(refused) == 1 and "malformed Slack request" in refused[0].getMessage(), what
        assert all(r.exc_info is None for r in caplog.records), what  # no traceback
        assert "Traceback" not in caplog.text, what
    assert slack.fake.calls == []  # no users.info(user=""), no vote, no answer
    assert slack.fake.responses == []


async def _community(slack: SlackHarness) -> None:  # noqa: F811
    await slack.command("config community-channel <#C42|finops>")


def welcomes(slack: SlackHarness) -> list[str]:  # noqa: F811
    return [
        p.params["channel"]
        for p in slack.fake.calls_to("chat.postMessage")
        if "Welcome" in p.params["text"]
    ]


def joined(team: str, user: str) -> dict[str, Any]:
    return {
        "type": "member_joined_channel",
        "user": user,
        "channel": "C42",
        "channel_type": "C",
        "team": team,
        "inviter": "U222",
    }


async def test_the_bot_joining_the_community_channel_sends_nothing(slack: SlackHarness):  # noqa: F811
    await _community(slack)
    assert await slack.event(joined(slack.team, BOT_USER_ID), "EvSelf1") == 200
    await slack.settled()
    assert welcomes(slack) == []
    assert slack.fake.calls_to("users.info") == []  # known from auth.test: not even looked up


async def test_bots_and_deactivated_people_are_never_welcomed(slack: SlackHarness):  # noqa: F811
    await _community(slack)
    slack.fake.users["UAPP"] = {"name": "deploybot", "is_bot": True}
    slack.fake.users["UGONE"] = {"name": "gone", "deleted": True}
    slack.fake.users["UNEW"] = {"name": "nia", "profile": {"display_name": "Nia"}}
    for n, user in enumerate(["UAPP", "UGONE", BOT_USER_ID, "UNEW"]):
        assert await slack.event(joined(slack.team, user), f"EvJoin{n}") == 200
    await slack.settled()
    assert welcomes(slack) == ["UNEW"]
    assert len(slack.fake.calls_to("auth.test")) == 1  # asked once, then remembered


async def test_team_join_of_a_bot_or_deactivated_account_sends_nothing(slack: SlackHarness):  # noqa: F811
    await slack.command("config welcome-workspace-joins on")
    for n, user in enumerate(
        [
            {"id": "UAPP2", "team_id": slack.team, "name": "ci", "is_bot": True},
            {"id": "UGONE2", "team_id": slack.team, "name": "old", "deleted": True},
            {"id": BOT_USER_ID, "team_id": slack.team, "name": "finops"},
            {
                "id": "UNEW2",
                "team_id": slack.team,
                "name": "ola",
                "profile": {"display_name": "Ola"},
            },
        ]
    ):
        assert await slack.event({"type": "team_join", "user": user}, f"EvTeam{n}") == 200
    await slack.settled()
    assert welcomes(slack) == ["UNEW2"]


async def test_socket_mode_acks_every_envelope_even_unhandled_or_malformed(
    socket_mode: SocketHarness,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
):
    """bolt acks only what a listener handled; Slack redelivers the rest. Every envelope is
    acked, a malformed one with a single log line and nothing done."""
    team = socket_mode.team
    sent = [
        # an event nobody listens to, an interaction nobody handles
        json.loads(event_callback(team, {"type": "reaction_added", "user": "U1"}, "EvS1")),
        {"type": "shortcut", "callback_id": "nobody", "user": {"id": "U1"}, "team": {"id": team}},
        # malformed
        json.loads(event_callback(team, {"type": "team_join", "user": "W111"}, "EvS2")),
        clicked(team, actions=[]),
        json.loads(event_callback(team, {"type": "member_joined_channel"}, "EvS3")),
    ]
    kinds = ["events_api", "interactive", "events_api", "interactive", "events_api"]
    with caplog.at_level(logging.INFO):
        envelopes = [await socket_mode.socket.send(k, p) for k, p in zip(kinds, sent, strict=True)]
        for envelope in envelopes:
            assert (await socket_mode.socket.wait_ack(envelope, timeout=5))["envelope_id"]
        await socket_mode.settled()
    assert "Traceback" not in caplog.text
    malformed = [r for r in caplog.records if "malformed Socket Mode envelope" in r.getMessage()]
    assert len(malformed) == 3
    assert socket_mode.fake.calls == []


async def test_channel_tokens_are_categories_in_wins_and_channels_in_decisions(
    slack: SlackHarness,  # noqa: F811
):
    """Slack turns a typed `#rightsizing` into `<#C77|rightsizing>` when a channel has that
    name: it is still the category, in `win` and in `wins`; a decision shows `#name`."""
    answer = await slack.command("win Rightsized VMs $300/mo <#C77|rightsizing>")
    assert "Logged win" in answer["text"]
    [celebration] = [p.params for p in slack.fake.calls_to("chat.postMessage")]
    shown = texts(celebration)
    assert "Usage Optimization" in shown and "<#C77" not in shown and "&lt;#C77" not in shown
    listed = await slack.command("wins all <#C77|rightsizing>")
    assert "Wins all time in #usage-optimization" in listed["text"]
    assert "Rightsized VMs" in listed["text"] and "is not a period" not in listed["text"]
    await slack.command('decide "Move <#C12|finops> reviews to weekly"')
    decisions = (await slack.command("decisions"))["text"]
    assert "Move #finops reviews to weekly" in decisions and "C12" not in decisions


async def test_a_code_fence_in_one_win_does_not_turn_the_next_into_code(
    slack: SlackHarness,  # noqa: F811
):
    await slack.command("win Fixed ```rm -rf /tmp/cache $5", user="U21", name="eve")
    await slack.command("win Deleted idle disks $400/mo", user="U22", name="bob")
    listed = await slack.command("wins")
    sections = [b["text"]["text"] for b in listed["blocks"] if b["type"] == "section"]
    lines = "\n".join(sections)
    assert "Deleted idle disks" in lines and "Fixed" in lines
    assert "```" not in lines  # the fence is broken; every entry shows as typed
    assert "`\u200b`\u200b`rm -rf" in lines


async def test_a_line_starting_a_multi_line_quote_is_shown_as_typed(
    slack: SlackHarness,  # noqa: F811
):
    """`>>>` at the start of a line quotes the rest of the text in Slack: it is broken up."""
    await slack.command("win >>> Quoted all the rest $5", user="U23", name="eve")
    [post] = slack.fake.calls_to("chat.postMessage")[:1]
    sections = [b["text"]["text"] for b in post.params["blocks"] if "text" in b]
    assert sections[1] == "&gt;\u200b&gt;\u200b&gt; Quoted all the rest"


async def test_button_text_limit_counts_the_text_as_shown(slack: SlackHarness):  # noqa: F811
    option = "Savings plans & reserved instances for all production databases in 2027!!!!"
    assert len(option) == 75
    await slack.command(f'poll "Which commitments?" "{option}" "Spot & more"')
    [post] = slack.fake.calls_to("chat.postMessage")
    labels = [
        e["text"]["text"]
        for b in post.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert labels == [option.replace("&", "&amp;"), "Spot &amp; more"]  # whole, escaped once
