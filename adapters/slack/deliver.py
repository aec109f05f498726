"""Sending an Outcome to Slack: replies, posts, DMs, and coalesced in-place updates."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import message_payload
from bot.coalesce import UpdateCoalescer
from bot.core import Bot
from bot.events import Actor
from bot.message import Audience, ChannelPost, DirectMessage, Message, Outcome, Reply, Update
from bot.tasks import TaskTracker

log = logging.getLogger(__name__)
NOT_POSTABLE = {"not_in_channel", "channel_not_found", "is_archived"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the event came from: who, which conversation, and how to answer privately."""

    actor: Actor
    channel_id: str = ""
    response_url: str = ""


class SlackSender:
    def __init__(self, client: AsyncWebClient, bot: Bot, tasks: TaskTracker) -> None:
        self.client = client
        self.bot = bot
        self.updates = UpdateCoalescer(bot, tasks, self._edit)
        self._http: ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def deliver(self, outcome: Outcome, origin: Origin) -> None:
        """Send every item; one failure (a DM to someone who left) does not stop the rest."""
        for item in outcome.items:
            try:
                await self._send(item, origin)
            except Exception:
                log.exception("could not deliver a %s to Slack", type(item).__name__)

    async def _send(self, item, origin: Origin) -> None:  # type: ignore[no-untyped-def]
        match item:
            case Reply(message=message, audience=audience):
                await self.reply(origin, message, public=audience is Audience.CONVERSATION)
            case ChannelPost(message=message, channel_id=channel, subject=subject):
                channel = channel or origin.channel_id
                ts = await self._post_or_respond(channel, message, origin)
                if subject and ts:
                    await self.bot.remember_post(origin.actor, subject, channel, ts)
            case DirectMessage(message=message, user_id=user):
                await self.direct(user, message)
            case Update(subject=subject):
                self.updates.request(origin.actor, subject)

    async def reply(self, origin: Origin, message: Message, *, public: bool = False) -> None:
        payload = {
            **message_payload(message),
            "response_type": "in_channel" if public else "ephemeral",
            "replace_original": False,  # after a button click, never overwrite the poll itself
        }
        if origin.response_url:
            await self._post_response_url(origin.response_url, payload)
        elif public and origin.channel_id:
            await self.post(origin.channel_id, message)
        elif origin.channel_id:
            await self.client.chat_postEphemeral(
                channel=origin.channel_id, user=origin.actor.user_id, **message_payload(message)
            )
        else:  # a click in the Home tab: no conversation to answer in
            await self.direct(origin.actor.user_id, message)

    async def _post_or_respond(self, channel: str, message: Message, origin: Origin) -> str | None:
        """Post; where the bot may not post (a private channel it was not invited to, a DM
        between people), answer in the conversation through the command's response_url."""
        try:
            return await self.post(channel, message)
        except SlackApiError as error:
            code = error.response.get("error")
            if code not in NOT_POSTABLE or channel != origin.channel_id or not origin.response_url:
                raise
            log.info("cannot post in %s (%s); answering through response_url", channel, code)
            await self.reply(origin, message, public=True)
            return None

    async def post(self, channel: str, message: Message) -> str | None:
        response = await self.client.chat_postMessage(channel=channel, **message_payload(message))
        return response.get("ts")

    async def direct(self, user_id: str, message: Message) -> None:
        opened = await self.client.conversations_open(users=user_id)
        await self.post(opened["channel"]["id"], message)

    async def _edit(self, _actor: Actor, channel: str, ts: str, message: Message) -> None:
        await self.client.chat_update(channel=channel, ts=ts, **message_payload(message))

    async def _post_response_url(self, url: str, payload: dict) -> None:
        if self._http is None:
            self._http = ClientSession(timeout=ClientTimeout(total=10))
        async with self._http.post(url, json=payload) as response:
            if response.status >= 300:
                log.warning("response_url answered HTTP %s", response.status)
