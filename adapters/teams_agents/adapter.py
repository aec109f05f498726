"""Teams on the Microsoft 365 Agents SDK (FINOPS_TEAMS_SDK=agents), at /api/messages.

The same behaviour as adapters/teams/adapter.py (botbuilder): an authenticated activity is
stored in the inbox and answered at once (201), its turn runs in the background and replies
through the Bot Framework connector; an invoke (Action.Execute) waits for its turn, so long,
then gets a holding answer. Unfinished: see NOTES.md beside this file.

The Agents SDK's `CloudAdapter.process` runs a request as anonymous unless a JWT middleware ran
first, and an app-wide middleware would refuse our other routes: the token is validated here,
on this route only (auth.py), and the turn is run with `process_activity(claims, activity,
callback)`. The SDK's default `on_turn_error` would send the exception's text to the person
and swallow it: it is removed, so failures reach our logs and the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import (
    AgentAuthConfiguration,
    ChannelServiceClientFactoryBase,
    ClaimsIdentity,
    RestChannelServiceClientFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.authorization import AuthTypes, Connections
from pydantic import ValidationError

from adapters.teams import translate
from adapters.teams.sending import TeamsTransport, host_allowed
from adapters.teams_agents.auth import ChannelKeys, ChannelTokenValidator, Refused
from adapters.teams_agents.deliver import AgentsSender, reference_json
from adapters.teams_agents.names import AgentsMemberNames
from bot.core import Bot
from bot.directory import Directory
from bot.events import ActionEvent, Actor, CommandEvent, MemberJoinedEvent, Place
from bot.features.onboarding import introduction
from bot.intake import Intake, NotStored
from bot.message import Outcome
from bot.settings import Settings

log = logging.getLogger(__name__)
PATH = "/api/messages"
KEYS_WAIT_SECONDS = 10.0  # a request right after start-up waits this long for the keys
STORE_SECONDS = 0.8  # as adapters/teams/adapter.py
INVOKE_HOLD_SECONDS = 0.8
HOLDING = "Got it: working on it. The card updates in a moment."
NOT_SAVED = "Not saved: the bot could not store this just now. Please try again in a minute."


def local_trial(settings: Settings) -> bool:
    """Unauthenticated local mode: no app id, FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1."""
    return not settings.microsoft_app_id and settings.teams_allow_unauthenticated


def connection_settings(settings: Settings) -> AgentAuthConfiguration:
    """The bot's outbound identity, from the conventional Bot Framework settings."""
    if settings.microsoft_app_type == "UserAssignedMSI":
        return AgentAuthConfiguration(
            auth_type=AuthTypes.user_managed_identity,
            client_id=settings.microsoft_app_id,
            tenant_id=settings.microsoft_app_tenant_id or None,
        )
    tenant = (
        settings.microsoft_app_tenant_id
        if settings.microsoft_app_type == "SingleTenant"
        else "botframework.com"  # a multi-tenant bot's tokens come from Bot Framework's tenant
    )
    return AgentAuthConfiguration(
        auth_type=AuthTypes.client_secret,
        client_id=settings.microsoft_app_id or None,
        tenant_id=tenant or None,
        client_secret=settings.microsoft_app_password or None,
    )


def default_connections(settings: Settings) -> Connections:
    from microsoft_agents.authentication.msal import MsalConnectionManager

    return MsalConnectionManager(
        connections_configurations={"SERVICE_CONNECTION": connection_settings(settings)}
    )


class AgentsTeamsAdapter:
    """Teams through the Microsoft 365 Agents SDK's CloudAdapter; see bot/platform.py."""

    platform = translate.PLATFORM

    def __init__(
        self,
        settings: Settings,
        *,
        bot: Bot,
        intake: Intake,
        connections: Connections | None = None,
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.intake = intake
        if settings.log_level != "DEBUG":  # the SDK logs every send and token request at INFO
            logging.getLogger("microsoft_agents").setLevel(logging.WARNING)
        self.factory: ChannelServiceClientFactoryBase = RestChannelServiceClientFactory(
            connections or default_connections(settings)
        )
        self.cloud = CloudAdapter(channel_service_client_factory=self.factory)
        self.cloud.on_turn_error = None  # the SDK's would tell the person the exception's text
        self.keys = ChannelKeys(settings.teams_openid_metadata_url)
        self.validator = ChannelTokenValidator(settings.microsoft_app_id, self.keys)
        self.directory = Directory(bot.database, clock=bot.clock)
        self.sender = AgentsSender(
            self.cloud,
            self.factory,
            settings.microsoft_app_id,
            directory=self.directory,
            extra_hosts=settings.teams_service_url_allowlist,
            public_url=settings.public_url,
            allow_loopback=local_trial(settings),
        )
        self.transport = TeamsTransport(self.sender, settings.outbox_teams_tenant_rate)
        self.names = AgentsMemberNames()
        self._background: list[asyncio.Task[None]] = []
        intake.replays[translate.PLATFORM] = self._replay

    def mount(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.handle_http)

    async def start(self) -> None:
        log.warning(
            "Teams runs on the Microsoft 365 Agents SDK (FINOPS_TEAMS_SDK=agents): new, proven by "
            "the test suite and the Agents Playground, not yet by a real tenant "
            "(adapters/teams_agents/NOTES.md)"
        )
        if not self.settings.microsoft_app_id:
            log.warning(
                "Teams: FINOPS_TEAMS_ALLOW_UNAUTHENTICATED is set and there is no "
                "MicrosoftAppId: /api/messages accepts UNAUTHENTICATED traffic, and messages "
                "may go to service URLs on this machine (localhost). Use this only with the "
                "Microsoft 365 Agents Playground or the Bot Framework Emulator on a private "
                "machine."
            )
            return
        self._background.append(asyncio.create_task(self.keys.keep_fresh()))

    async def stop_intake(self) -> None:
        """HTTP intake stops with the server; nothing else to stop first."""

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- HTTP --------------------------------------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.Response:
        if not self.settings.microsoft_app_id and not self.settings.teams_allow_unauthenticated:
            return _error(
                401,
                "this bot has no MicrosoftAppId; set it (or, for local testing "
                "only, FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1)",
            )
        if "application/json" not in request.headers.get("Content-Type", ""):
            return _error(400, "Content-Type must be application/json")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not a Bot Framework activity")
        if not isinstance(body, dict):
            return _error(400, "the body is not a Bot Framework activity")
        service_url = body.get("serviceUrl")
        service_url = service_url if isinstance(service_url, str) else ""
        if self.settings.microsoft_app_id:
            # Authenticated before the SDK's Activity model sees the body: it logs every body
            # it refuses at ERROR, with a traceback (NOTES.md), which nobody unauthenticated
            # should be able to cause.
            identity = await self._authenticated(request, service_url, body.get("channelId"))
            if isinstance(identity, web.Response):
                return identity
            if not host_allowed(service_url, self.settings.teams_service_url_allowlist):
                # A genuine token may name any service URL; answering there would send the
                # bot's own token to it, and storing it would redirect later messages.
                log.warning("refused a Teams activity: its service URL is not on the allow-list")
                return _error(403, "service URL not allowed")
        else:
            identity = ClaimsIdentity()  # the local trial: anonymous, and so are its replies
        try:
            activity = Activity.model_validate(body)
        except ValidationError:
            return _error(400, "the body is not a Bot Framework activity")
        if not activity.type:
            return _error(400, "the body is not a Bot Framework activity")
        return await self._take(identity, activity, body)

    async def _authenticated(
        self, request: web.Request, service_url: str, channel: object
    ) -> ClaimsIdentity | web.Response:
        header = request.headers.get("Authorization", "")
        try:
            if not self.keys.ready.is_set():
                # Right after start-up: refuse what is no channel token at all at once, and
                # let a real one wait for the keys.
                self.validator.validate_shape(header)
                async with asyncio.timeout(KEYS_WAIT_SECONDS):
                    await self.keys.ready.wait()
            # The endorsement names the base channel: `msteams` also for `msteams:<sub>`.
            base_channel = str(channel).split(":", 1)[0] if isinstance(channel, str) else ""
            return self.validator.validate(header, service_url=service_url, channel_id=base_channel)
        except Refused as refused:
            log.warning("refused a Teams activity: %s", refused)
            return _error(401, "unauthorized")
        except TimeoutError:
            return _error(503, "starting up; try again")

    async def _take(
        self, identity: ClaimsIdentity, activity: Activity, body: dict[str, Any]
    ) -> web.Response:
        """Store the activity, answer at once, and run its turn in the background."""
        invoke = activity.type == ActivityTypes.invoke
        conversation = (body.get("conversation") or {}).get("id", "")
        delivery = f"{conversation}:{body['id']}" if body.get("id") else None
        try:
            async with asyncio.timeout(STORE_SECONDS):
                row = await self.intake.store(
                    translate.PLATFORM,
                    delivery,
                    json.dumps(body),
                    keep_if_late=not invoke,
                    hand_off=not invoke and not self.intake.works_here,
                )
        except TimeoutError:
            if invoke:
                return _invoke_answer(NOT_SAVED)
            log.warning("answered a Teams activity before the database stored it (slow)")
            return web.Response(status=201)
        except NotStored:
            return _invoke_answer(NOT_SAVED) if invoke else _error(503, "not stored; try again")
        if row is None:  # Bot Framework sent it again while the first is being worked
            return _invoke_answer("Done.") if invoke else web.Response(status=201)
        if not invoke and not self.intake.works_here:
            return web.Response(status=201)  # stored for a worker process
        answered: asyncio.Future[InvokeResponse | None] = asyncio.get_running_loop().create_future()
        self.intake.work(row, self._turn(identity, activity, row, answered=answered), "teams-turn")
        if not invoke:
            return web.Response(status=201)
        try:
            async with asyncio.timeout(INVOKE_HOLD_SECONDS):
                response = await asyncio.shield(answered)
        except TimeoutError:
            return _invoke_answer(HOLDING)
        if response is None:
            return _invoke_answer("Sorry, something went wrong on our side.")
        return web.json_response(response.body, status=response.status)

    async def _turn(
        self,
        identity: ClaimsIdentity,
        activity: Activity,
        row: int | None,
        *,
        answered: asyncio.Future[InvokeResponse | None] | None = None,
    ) -> None:
        logic = functools.partial(self._on_turn, inbox_row=row)
        try:
            response = await self.cloud.process_activity(identity, activity, logic)
        except Exception:  # after authentication, only our own code can fail
            log.exception("Teams turn failed")
            response = None
        if answered is not None and not answered.done():
            answered.set_result(response)

    def _key(self, row: int | None) -> str | None:
        return self.intake.key_of(row)

    async def _replay(self, row: int, payload: str) -> None:
        """Work a stored activity again (its replica died, or its write was late). The turn
        runs as the bot itself, as a proactive message does: the channel's token is gone."""
        activity = Activity.model_validate(json.loads(payload))
        self.intake.work(row, self._turn(self.sender.bot_identity(), activity, row), "teams-replay")

    # -- turns -------------------------------------------------------------------------------
    async def _on_turn(self, turn: TurnContext, inbox_row: int | None = None) -> None:
        # The Agents SDK's pydantic Activity keeps mentions (`mentioned`, `text`) and
        # channelData as sent: its JSON is the activity Teams sent (NOTES.md).
        raw: dict[str, Any] = turn.activity.model_dump(
            by_alias=True, exclude_unset=True, mode="json"
        )
        actor = translate.actor_of(raw)
        for person in translate.people_named(raw):
            self.names.remember(actor.workspace_id, *person)
        channel = (raw.get("channelData") or {}).get("channel") or {}
        if channel.get("id") and channel.get("name"):
            self.names.remember(actor.workspace_id, "channel:" + channel["id"], channel["name"])
        await self._remember(turn, raw, actor)
        kind = turn.activity.type
        if kind == ActivityTypes.message:
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
            outcome = await self.bot.handle(event, inbox_key=self._key(inbox_row))
            await self.sender.deliver(outcome, actor, turn)
        elif kind == ActivityTypes.invoke and turn.activity.name == "adaptiveCard/action":
            await self._execute(turn, raw, actor, inbox_row=inbox_row)
        elif kind == ActivityTypes.conversation_update:
            if translate.bot_was_added(raw):
                await self._introduce(turn, actor, raw)
            for joined in translate.members_added(raw):
                joined = await self._named(turn, joined)
                await self.sender.deliver(await self.bot.handle(joined), joined.actor, None)
        elif kind == ActivityTypes.installation_update and raw.get("action") == "add":
            await self._introduce(turn, actor, raw)

    async def _named_place(self, turn: TurnContext, place: Place, tenant: str) -> Place:
        """A team channel with its name: message activities carry only the channel's id."""
        if place.conversation_name or not place.team_id or place.is_direct:
            return place
        name = await self.names.channel_name(
            turn, tenant, place.team_id, channel=place.conversation_id
        )
        return dataclasses.replace(place, conversation_name=name) if name else place

    async def _named(self, turn: TurnContext, joined: MemberJoinedEvent) -> MemberJoinedEvent:
        """The newcomer with their display name (membersAdded carries ids only)."""
        person = joined.actor
        if person.display_name:
            return joined
        name = await self.names.name_of(turn, person.workspace_id, person.user_id)
        return dataclasses.replace(joined, actor=dataclasses.replace(person, display_name=name))

    async def _execute(
        self, turn: TurnContext, raw: dict[str, Any], actor: Actor, *, inbox_row: int | None
    ) -> None:
        """Action.Execute must be answered in the same turn: the reply text goes in the invoke
        response; the card update comes from the outbox."""
        event = translate.execute_event(raw)
        outcome = (
            await self.bot.handle(event, inbox_key=self._key(inbox_row))
            if event
            else Outcome().reply("Unknown action.")
        )
        answer = " ".join(r.message.text for r in outcome.replies()) or "Done."
        body = {
            "statusCode": 200,
            "type": "application/vnd.microsoft.activity.message",
            "value": answer,
        }
        # Kept in the turn's state by the SDK (never sent): process_activity returns it.
        await turn.send_activity(
            Activity(
                type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body)
            )
        )

    async def _introduce(self, turn: TurnContext, actor: Actor, raw: dict[str, Any]) -> None:
        where = translate.channel_id(raw.get("conversation", {}).get("id", ""))
        if await self.directory.first_time(actor, f"intro:{where}"):
            await self.sender.in_turn(turn, introduction())

    async def _remember(self, turn: TurnContext, raw: dict[str, Any], actor: Actor) -> None:
        """Refresh the stored addresses from this authenticated activity."""
        reference = json.dumps(reference_json(turn.activity.get_conversation_reference()))
        service_url = raw.get("serviceUrl", "")
        conversation = raw.get("conversation") or {}
        entries = {
            translate.channel_id(conversation.get("id", "")): (reference, service_url),
            "tenant": (json.dumps({"serviceUrl": service_url}), service_url),
        }
        personal = conversation.get("conversationType") in (None, "personal")
        if personal:
            entries[f"user:{actor.user_id}"] = (reference, service_url)
        channel = translate.channel_id(conversation.get("id", ""))
        await self.directory.save(
            actor, entries, refresh=frozenset() if personal else frozenset({channel})
        )


def _invoke_answer(text: str) -> web.Response:
    """An Action.Execute answer: a message Teams shows in place of the card's response."""
    body = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}
    return web.json_response(body)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
