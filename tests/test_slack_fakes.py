"""The fake Slack Web API and the signing helpers behave like Slack, checked with the real SDK."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_api import FakeSlack
from tests.helpers import shared_path
from tests.slack_signing import block_actions_body, event_body, sign, slash_command_body

METADATA = {"event_type": "finops_win", "event_payload": {"win_id": 7}}


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


# -- signing helpers ---------------------------------------------------------------------------


def test_sign_reproduces_slacks_published_vector() -> None:
    vector = json.loads(shared_path("samples/slack/signing_test_vector.json").read_text())
    body = shared_path("samples/slack/signing_test_vector_body.txt").read_bytes()
    assert body == vector["raw_body"].encode()  # the exact bytes, no trailing newline

    headers = sign(body, vector["signing_secret"], int(vector["x_slack_request_timestamp"]))

    assert headers == {
        "X-Slack-Request-Timestamp": vector["x_slack_request_timestamp"],
        "X-Slack-Signature": vector["x_slack_signature"],
    }
    assert sign(body.decode(), vector["signing_secret"], 1531420618) == headers


def test_sign_defaults_to_now_and_satisfies_slack_sdks_verifier() -> None:
    body = slash_command_body(text="help", response_url="http://127.0.0.1:1/response/1")
    headers = sign(body, "s3cret")

    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    stale = FixedClock(time.time() + 301)  # Slack's replay window is 300 s
    assert not SignatureVerifier("s3cret", clock=stale).is_valid_request(body, headers)


def test_slash_command_body_has_slacks_fields() -> None:
    sample = parse_qs(shared_path("samples/slack/slash_command_body.txt").read_text())
    body = slash_command_body(
        text="win Rightsized dev VMs $3,200/mo <@U2|bob> & more",
        response_url="http://127.0.0.1:1/response/3",
    )
    fields = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}

    # Enterprise fields appear only on Enterprise Grid installs.
    assert {k for k in sample if not k.startswith("enterprise_")} <= fields.keys()
    assert "command=%2Ffinops" in body
    assert fields["text"] == "win Rightsized dev VMs $3,200/mo <@U2|bob> & more"
    assert fields["response_url"] == "http://127.0.0.1:1/response/3"
    assert (fields["user_id"], fields["team_id"], fields["channel_id"]) == ("U1", "T0001", "C1")


def test_block_actions_body_matches_slacks_encoding() -> None:
    sample_body = shared_path("samples/slack/block_actions_body.txt").read_text()
    sample = json.loads(shared_path("samples/slack/block_actions_payload.json").read_text())
    assert json.loads(parse_qs(sample_body)["payload"][0]) == sample  # how Slack encodes it

    body = block_actions_body(
        action_id="poll_vote", value="3:2", response_url="http://127.0.0.1:1/response/9"
    )
    assert body.startswith("payload=")
    payload = json.loads(parse_qs(body)["payload"][0])

    assert sample.keys() <= payload.keys()
    assert sample["actions"][0].keys() <= payload["actions"][0].keys()
    assert payload["actions"][0]["action_id"] == "poll_vote"
    assert payload["actions"][0]["value"] == "3:2"
    assert payload["container"]["message_ts"] == "1700000000.000100"
    assert payload["user"]["id"] == "U1" and payload["team"]["id"] == "T0001"


def test_event_body_is_an_event_callback_envelope() -> None:
    event = {"type": "member_joined_channel", "user": "U7", "channel": "C1"}
    envelope = json.loads(event_body(event, event_id="Ev0001"))

    sample = json.loads(
        shared_path("samples/slack/member_joined_channel_event_slack_docs.json").read_text()
    )
    assert sample.keys() <= envelope.keys()
    assert envelope["type"] == "event_callback"
    assert (envelope["event_id"], envelope["team_id"], envelope["event"]) == (
        "Ev0001",
        "T0001",
        event,
    )
    assert abs(envelope["event_time"] - time.time()) < 5


# -- the fake Web API with slack_sdk ------------------------------------------------------------


async def test_auth_test_answers_like_a_single_workspace_bot(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    response = await client.auth_test()

    assert response["ok"] and response["user_id"] == "UBOT" and response["team_id"] == "T0001"
    assert response["bot_id"] and response["url"].startswith("https://")
    call = slack.calls_to("auth.test")[0]
    assert call.ok and call.headers["Authorization"] == "Bearer xoxb-test"


async def test_post_then_update_keeps_the_latest_message(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi", "verbatim": True}}]
    first = await client.chat_postMessage(channel="C1", text="hi", blocks=blocks, metadata=METADATA)
    second = await client.chat_postMessage(channel="C1", text="again")

    assert first["channel"] == "C1" and abs(float(first["ts"]) - time.time()) < 60
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["metadata"] == METADATA and first["message"]["blocks"] == blocks

    updated = await client.chat_update(channel="C1", ts=first["ts"], text="edited")

    assert updated["ts"] == first["ts"] and updated["text"] == "edited"
    latest = slack.messages[("C1", first["ts"])]
    assert latest["text"] == "edited" and latest["blocks"] == blocks  # omitted fields are kept
    assert latest["metadata"] == METADATA


async def test_update_of_an_unknown_message_or_by_user_id_is_not_found(
    client: AsyncWebClient,
) -> None:
    posted = await client.chat_postMessage(channel="U5", text="welcome")
    assert posted["channel"] == "DU5"  # posting to a user id lands in the DM

    for channel, ts in (("U5", posted["ts"]), ("DU5", "1.000001")):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_update(channel=channel, ts=ts, text="x")
        assert raised.value.response["error"] == "message_not_found"


async def test_post_needs_a_channel_and_content(client: AsyncWebClient) -> None:
    with pytest.warns(UserWarning, match="text"), pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1")  # slack_sdk only warns; Slack refuses
    assert raised.value.response["error"] == "no_text"
    bad_metadata = {"event_type": "x"}
    for kwargs, error in (
        ({"channel": "", "text": "x"}, "channel_not_found"),
        ({"channel": "C1", "text": "x", "metadata": bad_metadata}, "invalid_metadata_format"),
        ({"channel": "C1", "text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(**kwargs)
        assert raised.value.response["error"] == error


async def test_form_encoded_json_fields_are_decoded(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "divider"}]
    data = {"channel": "C2", "text": "t", "blocks": json.dumps(blocks)}
    response = await client.api_call("chat.postMessage", data=data)

    assert response["message"]["blocks"] == blocks
    assert slack.calls_to("chat.postMessage")[0].params["blocks"] == blocks


async def test_open_a_dm_and_look_up_users(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.users["U1"] = {"name": "alice", "real_name": "Alice", "profile": {"display_name": "al"}}

    opened = await client.conversations_open(users="U1")
    again = await client.conversations_open(users=["U1"])
    user = await client.users_info(user="U1")

    assert opened["channel"]["id"] == "DU1" and again["already_open"]
    assert user["user"]["id"] == "U1" and user["user"]["profile"]["display_name"] == "al"
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U404")
    assert raised.value.response["error"] == "user_not_found"


async def test_history_is_newest_first_and_hides_metadata_unless_asked(
    client: AsyncWebClient,
) -> None:
    stamps = [
        (await client.chat_postMessage(channel="C1", text=f"m{i}", metadata=METADATA))["ts"]
        for i in range(3)
    ]
    await client.chat_postMessage(channel="C9", text="elsewhere")

    plain = await client.conversations_history(channel="C1")
    rich = await client.conversations_history(channel="C1", include_all_metadata=True, limit=2)
    newer = await client.conversations_history(channel="C1", oldest=stamps[0])

    assert [m["ts"] for m in plain["messages"]] == stamps[::-1]
    assert all("metadata" not in m for m in plain["messages"])
    assert [m["text"] for m in rich["messages"]] == ["m2", "m1"] and rich["has_more"]
    assert rich["messages"][0]["metadata"] == METADATA
    assert [m["text"] for m in newer["messages"]] == ["m2", "m1"]


async def test_ephemeral_join_and_home_tab(slack: FakeSlack, client: AsyncWebClient) -> None:
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    joined = await client.conversations_join(channel="C1")
    view = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
    }
    published = await client.views_publish(user_id="U1", view=view)

    assert ephemeral["message_ts"] and slack.ephemerals[0]["user"] == "U1"
    assert joined["channel"]["id"] == "C1"
    assert published["view"]["id"] and slack.views["U1"]["blocks"] == view["blocks"]
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_join(channel="DU1")
    assert raised.value.response["error"] == "method_not_supported_for_channel_type"


async def test_bad_tokens_and_unknown_methods_are_refused(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert raised.value.response["error"] == "invalid_auth"
    async with (
        aiohttp.ClientSession() as session,
        session.post(slack.api_url + "auth.test") as response,
    ):
        assert response.status == 200 and (await response.json())["error"] == "not_authed"
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).api_call("x.y")
    assert raised.value.response["error"] == "unknown_method"
    assert [call.ok for call in slack.calls] == [False, False, False]


# -- failure injection --------------------------------------------------------------------------


async def test_rate_limit_raises_429_with_retry_after(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="hi")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"
    assert raised.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]
    assert [c.ok for c in slack.calls_to("chat.postMessage")] == [False, True]
    assert slack.calls_to("chat.postMessage")[0].params["text"] == "hi"
    assert len(slack.messages) == 1  # the refused post was not kept


async def test_rate_limit_retry_handler_waits_retry_after(slack: FakeSlack) -> None:
    client = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.fail_next("chat.postMessage", retry_after=1)

    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]

    refused, accepted = slack.calls_to("chat.postMessage")
    assert accepted.at - refused.at >= 1.0


async def test_enforced_rate_limit_is_a_token_bucket_per_method(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.limit("chat.postMessage", 10, burst=2)
    slack.limit("auth.test", 0.25)  # one call, then a token every 4 s

    for n in range(2):  # the burst
        assert (await client.chat_postMessage(channel="C1", text=f"hi {n}"))["ok"]
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="over")
    assert (raised.value.response.status_code, raised.value.response["error"]) == (
        429,
        "ratelimited",
    )
    assert raised.value.response.headers["Retry-After"] == "1"  # whole seconds, at least 1
    assert (await client.conversations_open(users="U1"))["ok"]  # other methods: no limit
    await asyncio.sleep(0.15)  # 1.5 tokens back at 10/s
    assert (await client.chat_postMessage(channel="C1", text="later"))["ok"]

    assert (await client.auth_test())["ok"]
    with pytest.raises(SlackApiError) as raised:
        await client.auth_test()
    assert raised.value.response.headers["Retry-After"] == "4"

    posts = slack.calls_to("chat.postMessage")
    assert [(c.ok, c.status, c.error) for c in posts] == [
        (True, 200, None),
        (True, 200, None),
        (False, 429, "ratelimited"),
        (True, 200, None),
    ]
    assert posts[2].params["text"] == "over"  # recorded, but not posted
    assert sorted(m["text"] for m in slack.messages.values()) == ["hi 0", "hi 1", "later"]
    with pytest.raises(ValueError):
        slack.limit("chat.update", 0)


async def test_server_errors_answer_html(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail_next("chat.update", status=503, times=2)

    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            await client.chat_update(channel="C1", ts="1.0", text="x")
        assert raised.value.response.status_code == 503
    with pytest.raises(ValueError):
        slack.fail_next("chat.update", status=404)
    assert [c.status for c in slack.calls_to("chat.update")] == [503, 503]


async def test_delay_and_wait_for(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.delay = 0.2
    started = time.monotonic()
    await client.chat_postMessage(channel="C1", text="slow")

    assert time.monotonic() - started >= 0.2
    assert len(await slack.wait_for("chat.postMessage", ok=True)) == 1
    with pytest.raises(TimeoutError, match=r"chat\.update"):
        await slack.wait_for("chat.update", timeout=0.1)


# -- response URLs ------------------------------------------------------------------------------


async def test_response_urls_record_bodies_and_expire_after_five_uses(slack: FakeSlack) -> None:
    url = slack.response_url()
    assert url != slack.response_url() and url.startswith("http://127.0.0.1:")
    webhook = AsyncWebhookClient(url)

    for n in range(5):
        response = await webhook.send(text=f"reply {n}", response_type="ephemeral")
        assert (response.status_code, response.body) == (200, "ok")
    sixth = await webhook.send(text="too many")

    assert sixth.status_code == 404
    assert [r["text"] for r in await slack.wait_for_responses(5)] == [
        f"reply {n}" for n in range(5)
    ]
    assert slack.responses[0]["url"] == url and slack.responses[0]["response_type"] == "ephemeral"


async def test_views_open_needs_a_trigger_and_a_valid_modal(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Check-in"},
        "callback_id": "checkin.submit",
        "private_metadata": "key",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    assert opened["view"]["id"] and opened["view"]["private_metadata"] == "key"
    assert slack.modals == [opened["view"]]
    for trigger, view, error in [
        ("1.2.abc", modal, "exchanged_trigger_id"),  # a trigger opens one view
        ("", modal, "invalid_arguments"),
        ("1.2.def", {**modal, "type": "home"}, "invalid_arguments"),
        ("1.2.ghi", {**modal, "blocks": modal["blocks"] * 101}, "invalid_arguments"),
        (
            "1.2.jkl",
            {**modal, "title": {"type": "plain_text", "text": "x" * 25}},
            "invalid_arguments",
        ),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await client.views_open(trigger_id=trigger, view=view)
        assert refused.value.response["error"] == error
    assert len(slack.modals) == 1
