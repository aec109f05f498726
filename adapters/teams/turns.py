"""What Teams traffic does once it is authenticated, whichever SDK carries it: storing an
activity and answering at once (an invoke waits a little for its turn), and what a turn does
with it (commands, card actions, joins, installs). Used by both Teams adapters
(adapters/teams/, botbuilder; adapters/teams_agents/, the Microsoft 365 Agents SDK), which
give it the activity as Teams sent it (JSON), its conversation reference, and how to answer
an invoke; `turn` is the SDK's TurnContext, handed on to the sender and the name lookups.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

from adapters.teams import translate
from bot.core import Bot
from bot.directory import Directory
from bot.events import ActionEvent, Actor, CommandEvent, MemberJoinedEvent, Place
from bot.features.onboarding import introduction
from bot.intake import Intake, NotStored
from bot.message import Message, Outcome

log = logging.getLogger(__name__)
# How long an activity waits to be stored before it is answered anyway (it is worked when
# the write lands), and how long an invoke waits for its turn before a holding answer:
# well inside the ~15 s Bot Framework waits, and quick for the person clicking.
STORE_SECONDS = 0.8
INVOKE_HOLD_SECONDS = 0.8
HOLDING = "Got it: working on it. The card updates in a moment."
NOT_SAVED = "Not saved: the bot could not store this just now. Please try again in a minute."
MESSAGE, INVOKE = "message", "invoke"  # activity types, as both SDKs spell them
CONVERSATION_UPDATE, INSTALLATION_UPDATE = "conversationUpdate", "installationUpdate"


class InvokeAnswer(Protocol):
    """The SDK's InvokeResponse, as far as the HTTP answer needs it."""

    status: int
    body: Any


class Names(Protocol):
    async def name_of(self, turn: Any, tenant: str, member_id: str) -> str: ...

    async def channel_name(self, turn: Any, tenant: str, team: str, *, channel: str) -> str: ...

    def remember(self, tenant: str, member_id: str, name: str) -> None: ...


class Sender(Protocol):
    async def deliver(self, outcome: Outcome, actor: Actor, turn: Any) -> None: ...

    async def in_turn(self, turn: Any, message: Message) -> object: ...


# Runs an activity's turn: (inbox row, where to put an invoke's answer) -> the turn's work.
StartTurn = Callable[
    [int | None, "asyncio.Future[InvokeAnswer | None] | None"], Coroutine[Any, Any, None]
]


class TeamsTurns:
    def __init__(
        self,
        bot: Bot,
        intake: Intake,
        *,
        names: Names,
        sender: Sender,
        directory: Directory,
    ) -> None:
        self.bot, self.intake = bot, intake
        self.names, self.sender, self.directory = names, sender, directory

    # -- HTTP --------------------------------------------------------------------------------
    async def take(self, body: dict[str, Any], *, invoke: bool, start: StartTurn) -> web.Response:
        """Store the activity, answer at once, and run its turn in the background."""
        conversation = (body.get("conversation") or {}).get("id", "")
        delivery = f"{conversation}:{body['id']}" if body.get("id") else None
        try:
            async with asyncio.timeout(STORE_SECONDS):
                # Late, a message is still worked once stored (Teams may not send it again);
                # an invoke is given up: its answer below says "not saved".
                row = await self.intake.store(
                    translate.PLATFORM,
                    delivery,
                    json.dumps(body),
                    keep_if_late=not invoke,
                    # A worker process takes it, except an invoke: its answer is ours to give.
                    hand_off=not invoke and not self.intake.works_here,
                )
        except TimeoutError:
            if invoke:
                return invoke_answer(NOT_SAVED)
            log.warning("answered a Teams activity before the database stored it (slow)")
            return web.Response(status=201)
        except NotStored:
            return (
                invoke_answer(NOT_SAVED) if invoke else error_answer(503, "not stored; try again")
            )
        if row is None:  # Bot Framework sent it again while the first is being worked
            return invoke_answer("Done.") if invoke else web.Response(status=201)
        if not invoke and not self.intake.works_here:
            return web.Response(status=201)  # stored for a worker process
        answered: asyncio.Future[InvokeAnswer | None] = asyncio.get_running_loop().create_future()
        self.intake.work(row, start(row, answered), "teams-turn")
        if not invoke:
            return web.Response(status=201)
        try:
            async with asyncio.timeout(INVOKE_HOLD_SECONDS):
                response = await asyncio.shield(answered)
        except TimeoutError:
            return invoke_answer(HOLDING)
        if response is None:
            return invoke_answer("Sorry, something went wrong on our side.")
        return web.json_response(response.body, status=response.status)

    # -- turns -------------------------------------------------------------------------------
    async def on_turn(
        self,
        turn: Any,
        raw: dict[str, Any],
        *,
        reference: str,
        inbox_row: int | None,
        answer_invoke: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """One turn: `raw` is the activity as Teams sent it, `reference` its conversation
        reference (JSON, for later proactive sends), `answer_invoke` puts an Action.Execute's
        answer in the SDK's invoke response."""
        actor = translate.actor_of(raw)
        for person in translate.people_named(raw):
            self.names.remember(actor.workspace_id, *person)
        channel = (raw.get("channelData") or {}).get("channel") or {}
        if channel.get("id") and channel.get("name"):
            self.names.remember(actor.workspace_id, "channel:" + channel["id"], channel["name"])
        await self._remember(raw, actor, reference)
        kind = raw.get("type")
        key = self.intake.key_of(inbox_row)  # the stored request's answer is kept under it
        if kind == MESSAGE:
            event: ActionEvent | CommandEvent | None = translate.submit_event(raw)
            if event is None:
                command = translate.command_event(raw)
                conversation = raw.get("conversation", {}).get("id", "")
                event = CommandEvent(
                    command.actor,
                    command.place,
                    command.text,
                    event_id=f"{conversation}:{raw.get('id', '')}"[:100],
                )
            place = await self._named_place(turn, event.place, actor.workspace_id)
            event = dataclasses.replace(event, place=place)
            outcome = await self.bot.handle(event, inbox_key=key)
            await self.sender.deliver(outcome, actor, turn)
        elif kind == INVOKE and raw.get("name") == "adaptiveCard/action":
            await self._execute(raw, key, answer_invoke)
        elif kind == CONVERSATION_UPDATE:
            if translate.bot_was_added(raw):
                await self._introduce(turn, actor, raw)
            for joined in translate.members_added(raw):
                joined = await self._named(turn, joined)
                await self.sender.deliver(await self.bot.handle(joined), joined.actor, None)
        elif kind == INSTALLATION_UPDATE and raw.get("action") == "add":
            await self._introduce(turn, actor, raw)

    async def _named_place(self, turn: Any, place: Place, tenant: str) -> Place:
        """A team channel with its name: message activities carry only the channel's id."""
        if place.conversation_name or not place.team_id or place.is_direct:
            return place
        name = await self.names.channel_name(
            turn, tenant, place.team_id, channel=place.conversation_id
        )
        return dataclasses.replace(place, conversation_name=name) if name else place

    async def _named(self, turn: Any, joined: MemberJoinedEvent) -> MemberJoinedEvent:
        """The newcomer with their display name (membersAdded carries ids only)."""
        person = joined.actor
        if person.display_name:
            return joined
        name = await self.names.name_of(turn, person.workspace_id, person.user_id)
        return dataclasses.replace(joined, actor=dataclasses.replace(person, display_name=name))

    async def _execute(
        self,
        raw: dict[str, Any],
        key: str | None,
        answer_invoke: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """Action.Execute must be answered in the same turn: the reply text goes in the invoke
        response; the card update comes from the outbox."""
        event = translate.execute_event(raw)
        outcome = (
            await self.bot.handle(event, inbox_key=key)
            if event
            else Outcome().reply("Unknown action.")
        )
        answer = " ".join(r.message.text for r in outcome.replies()) or "Done."
        await answer_invoke(_message_answer(answer))

    async def _introduce(self, turn: Any, actor: Actor, raw: dict[str, Any]) -> None:
        where = translate.channel_id(raw.get("conversation", {}).get("id", ""))
        if await self.directory.first_time(actor, f"intro:{where}"):
            await self.sender.in_turn(turn, introduction())

    async def _remember(self, raw: dict[str, Any], actor: Actor, reference: str) -> None:
        """Refresh the stored addresses from this authenticated activity."""
        service_url = raw.get("serviceUrl", "")
        conversation = raw.get("conversation") or {}
        channel = translate.channel_id(conversation.get("id", ""))
        entries = {
            channel: (reference, service_url),
            "tenant": (json.dumps({"serviceUrl": service_url}), service_url),
        }
        personal = conversation.get("conversationType") in (None, "personal")
        if personal:
            entries[f"user:{actor.user_id}"] = (reference, service_url)
        # A channel's reference follows its latest message (posts go to its thread); a 1:1
        # chat's and the tenant's are rewritten only when new or moved to another service URL.
        await self.directory.save(
            actor, entries, refresh=frozenset() if personal else frozenset({channel})
        )


def _message_answer(text: str) -> dict[str, Any]:
    """An Action.Execute answer: a message Teams shows in place of the card's response."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}


def invoke_answer(text: str) -> web.Response:
    return web.json_response(_message_answer(text))


def error_answer(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
