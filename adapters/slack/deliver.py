"""Sending to Slack: replies to the asker (in the request's task) and the outbox's transport.

Replies go at once through the command's response_url or as ephemeral messages. Everything the
bot sends on its own (posts, DMs, poll updates) comes from the outbox worker through
`SlackTransport`, whose posts carry the outbox id in message metadata: after an attempt whose
fate is unknown (a timeout, a dead replica) the channel's history is checked before resending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import escape, home_view, message_payload
from bot.events import Actor
from bot.message import Audience, Chart, Message, Outcome
from bot.platform import Delivery, NotDelivered, RateLimited, Undeliverable

log = logging.getLogger(__name__)
NOT_POSTABLE = {"not_in_channel", "channel_not_found", "is_archived"}
# Errors Slack gives for trouble on its side: the message may or may not have been posted.
UNKNOWN_FATE = {"internal_error", "fatal_error", "request_timeout", "service_unavailable"}
METADATA_TYPE = "finops_outbox"
HISTORY_SLACK_SECONDS = 60  # look this far before the row's creation (clock skew)
CHART_FILENAME = "finops-digest-chart.png"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the event came from: who, which conversation, and how to answer privately."""

    actor: Actor
    channel_id: str = ""
    response_url: str = ""


class ResponseURLs:
    """POSTs to response URLs (a shared HTTP session, opened on first use)."""

    def __init__(self) -> None:
        self._http: ClientSession | None = None

    async def post(self, url: str, payload: dict[str, Any]) -> bool:
        if self._http is None:
            self._http = ClientSession(timeout=ClientTimeout(total=10))
        async with self._http.post(url, json=payload) as response:
            if response.status >= 300:
                log.warning("response_url answered HTTP %s", response.status)
            return response.status < 300

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class SlackReplies:
    """Answers to the person who asked, sent while handling their request."""

    def __init__(self, client: AsyncWebClient, responses: ResponseURLs) -> None:
        self.client = client
        self.responses = responses

    async def deliver(self, outcome: Outcome, origin: Origin) -> None:
        for reply in outcome.replies():
            try:
                await self.reply(
                    origin, reply.message, public=reply.audience is Audience.CONVERSATION
                )
            except Exception:
                log.exception("could not answer on Slack")

    async def reply(self, origin: Origin, message: Message, *, public: bool = False) -> None:
        payload = {
            **message_payload(message),
            "response_type": "in_channel" if public else "ephemeral",
            "replace_original": False,  # after a button click, never overwrite the poll itself
        }
        if origin.response_url:
            await self.responses.post(origin.response_url, payload)
        elif public and origin.channel_id:
            await self.client.chat_postMessage(
                channel=origin.channel_id, **message_payload(message)
            )
        elif origin.channel_id:
            await self.client.chat_postEphemeral(
                channel=origin.channel_id, user=origin.actor.user_id, **message_payload(message)
            )
        else:  # a click in the Home tab: no conversation to answer in
            await self.client.chat_postMessage(
                channel=origin.actor.user_id, **message_payload(message)
            )


class SlackTransport:
    """The outbox's way to Slack. Its client retries nothing by itself: rate limits and
    failures go back to the outbox, which waits, backs off, or checks before resending."""

    conversation_interval = 1.0  # chat.postMessage: about one message a second per channel

    def __init__(
        self, client: AsyncWebClient, responses: ResponseURLs, workspace_rate: float
    ) -> None:
        self.client = client
        self.responses = responses
        self.workspace_rate = workspace_rate

    async def send(self, delivery: Delivery) -> str:
        assert delivery.message is not None
        if delivery.kind == "home":
            try:
                await self.client.views_publish(
                    user_id=delivery.user_id, view=home_view(delivery.message)
                )
            except SlackApiError as error:
                raise _classified(error) from error
            return ""
        # A user id as the channel posts in the bot's DM with that person, no conversations.open.
        channel = delivery.user_id if delivery.kind == "dm" else delivery.conversation
        metadata = {"event_type": METADATA_TYPE, "event_payload": {"outbox_id": delivery.id}}
        try:
            response = await self.client.chat_postMessage(
                channel=channel, metadata=metadata, **message_payload(delivery.message)
            )
        except SlackApiError as error:
            if _code(error) in NOT_POSTABLE and delivery.fallback_url:
                return await self._answer_instead(delivery, _code(error))
            raise _classified(error) from error
        ts = str(response.get("ts") or "")
        charts = [block for block in delivery.message.blocks if isinstance(block, Chart)]
        if charts and ts:  # a DM's post answers with the DM's channel id, which uploads need
            await self._upload_charts(str(response.get("channel") or channel), ts, charts)
        return ts

    async def _upload_charts(self, channel: str, ts: str, charts: list[Chart]) -> None:
        """Each chart's PNG as a file in the post's thread (files.getUploadURLExternal, the
        bytes, files.completeUploadExternal: slack_sdk's files_upload_v2). Best effort: the
        post already holds the sparkline, so a failure is logged, never raised (raising would
        make the outbox post the message again)."""
        for chart in charts:
            try:
                await self.client.files_upload_v2(
                    file=chart.png,
                    filename=CHART_FILENAME,
                    title=chart.alt[:250] or CHART_FILENAME,
                    alt_txt=chart.alt[:1000] or None,
                    initial_comment=escape(chart.alt) or None,  # message text: escaped
                    channel=channel,
                    thread_ts=ts,
                )
            except Exception as error:
                # No traceback, no message: they can hold the upload URL (a credential).
                reason = type(error).__name__
                if isinstance(error, SlackApiError):
                    reason = _code(error) or f"HTTP {error.response.status_code}"
                log.warning(
                    "could not upload a chart to Slack in %s (%s); the post keeps its text",
                    channel,
                    reason,
                )

    async def _answer_instead(self, delivery: Delivery, code: str) -> str:
        """The bot may not post there (a private channel it is not in, a DM between people):
        answer in the conversation through the command's response_url instead."""
        assert delivery.message is not None
        log.info(
            "cannot post in %s (%s); answering through response_url", delivery.conversation, code
        )
        payload = {
            **message_payload(delivery.message),
            "response_type": "in_channel",
            "replace_original": False,
        }
        if not await self.responses.post(delivery.fallback_url, payload):
            raise Undeliverable(f"{code}, and the response_url was refused")
        return ""

    async def edit(
        self, delivery: Delivery, conversation: str, message_id: str, *, message: Message
    ) -> None:
        try:
            await self.client.chat_update(
                channel=conversation, ts=message_id, **message_payload(message)
            )
        except SlackApiError as error:
            raise _classified(error) from error

    async def find_sent(self, delivery: Delivery) -> str | None:
        """Our earlier post of this row, recognised by the outbox id in its metadata."""
        if delivery.kind in ("update", "home"):
            return None  # an edit or a home tab is idempotent: doing it again is harmless
        try:
            channel = delivery.conversation
            if delivery.kind == "dm":
                opened = await self.client.conversations_open(users=delivery.user_id)
                channel = opened["channel"]["id"]
            history = await self.client.conversations_history(
                channel=channel,
                oldest=str(delivery.created_at.timestamp() - HISTORY_SLACK_SECONDS),
                include_all_metadata=True,
                limit=200,
            )
        except SlackApiError as error:
            if _code(error) == "ratelimited" or error.response.status_code == 429:
                raise _classified(error) from error
            # e.g. missing_scope without the history scopes: resend, as documented
            log.warning(
                "could not check Slack history for outbox %s: %s", delivery.id, _code(error)
            )
            return None
        messages: list[dict[str, Any]] = history.get("messages", [])
        for message in messages:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_TYPE and str(payload.get("outbox_id")) == str(
                delivery.id
            ):
                return str(message.get("ts", ""))
        return None


def _code(error: SlackApiError) -> str:
    response = error.response
    return str(response.get("error", "") if isinstance(response.data, dict) else "")


def _classified(error: SlackApiError) -> Exception:
    """Slack's answer as the outbox understands it."""
    status = error.response.status_code
    if status == 429:
        try:
            retry_after = float(error.response.headers.get("Retry-After", 1))
        except (TypeError, ValueError):
            retry_after = 1.0
        return RateLimited(retry_after)
    if status >= 500 or _code(error) in UNKNOWN_FATE:
        return error  # it may have been posted: retried as uncertain
    if status != 200:
        return NotDelivered(f"HTTP {status}")
    return Undeliverable(_code(error) or "refused")
