"""Teams wiring: botbuilder's CloudAdapter behind our own request checks at /api/messages.

An authenticated activity is stored in the inbox (bot/intake.py) and answered at once (201);
the turn then runs in the background and replies through the Bot Framework connector, so the
HTTP answer never waits for the database or Teams. An invoke (a card's Action.Execute) must
carry its answer in the HTTP response: it waits for the turn, but only so long, then gets a
holding answer while the turn finishes (the card updates through the outbox).

Authentication cannot be switched off by accident: with an app id every activity is validated
by botbuilder; without one, traffic is refused unless FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1.
SDK failures on bad input (malformed or expired tokens, missing content type) become 400/401,
never 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from typing import Any

import jwt
from aiohttp import web
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    GovernmentConstants,
    JwtTokenExtractor,
)

from adapters.teams import translate
from adapters.teams.credentials import WarmCredentialsFactory
from adapters.teams.deliver import TeamsSender, TeamsTransport, host_allowed
from adapters.teams.names import MemberNames
from bot.core import Bot
from bot.directory import Directory
from bot.events import ActionEvent, Actor, CommandEvent, MemberJoinedEvent, Place
from bot.features.onboarding import introduction
from bot.intake import Intake, NotStored
from bot.message import Outcome
from bot.settings import Settings

log = logging.getLogger(__name__)
PATH = "/api/messages"
KEY_REFRESH_SECONDS = 12 * 3600  # botbuilder refetches after 24 h, blocking; we do it sooner
KEY_RETRY_SECONDS = 60
KEYS_WAIT_SECONDS = 10.0  # a request right after start-up waits this long for the keys
# How long an activity waits to be stored before it is answered anyway (it is worked when
# the write lands), and how long an invoke waits for its turn before a holding answer:
# well inside the ~15 s Bot Framework waits, and quick for the person clicking.
STORE_SECONDS = 0.8
INVOKE_HOLD_SECONDS = 0.8
HOLDING = "Got it: working on it. The card updates in a moment."
NOT_SAVED = "Not saved: the bot could not store this just now. Please try again in a minute."
# Teams' channel tokens come from these issuers only; any other (Emulator, skills) would make
# botbuilder fetch another key set, blocking, before refusing it.
CHANNEL_ISSUERS = {
    AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
    GovernmentConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
}


class BotFrameworkConfig:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password
        # Emulator mode (no app id, explicitly allowed) has no tenant: botbuilder's multi-tenant
        # path is the one that accepts an empty app id.
        self.APP_TYPE = settings.microsoft_app_type if settings.microsoft_app_id else "MultiTenant"
        self.APP_TENANTID = settings.microsoft_app_tenant_id
        if settings.teams_openid_metadata_url:
            # Any TO_* attribute switches botbuilder to its "parameterized" mode, which does not
            # fall back to public-cloud values: give them all. The metadata URL needs the issuer
            # beside it, or every token is refused (platforms.md).
            constants = AuthenticationConstants
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.teams_openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = constants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = settings.teams_openid_metadata_url
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = constants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = constants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + (
                settings.microsoft_app_tenant_id or "botframework.com"
            )
            self.OAUTH_URL = constants.OAUTH_URL


def local_trial(settings: Settings) -> bool:
    """Unauthenticated local mode: no app id, FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1."""
    return not settings.microsoft_app_id and settings.teams_allow_unauthenticated


def metadata_url(settings: Settings) -> str:
    return (
        settings.teams_openid_metadata_url
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    )


class TeamsAdapter:
    """Teams through Bot Framework (botbuilder's CloudAdapter); see bot/platform.py."""

    platform = translate.PLATFORM

    def __init__(
        self,
        settings: Settings,
        *,
        bot: Bot,
        intake: Intake,
        credentials_factory: Any = None,
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.intake = intake
        config = BotFrameworkConfig(settings)
        self.credentials = WarmCredentialsFactory(
            credentials_factory or ConfigurationServiceClientCredentialFactory(config)
        )
        authentication = ConfigurationBotFrameworkAuthentication(
            config, credentials_factory=self.credentials
        )
        self.cloud = CloudAdapter(authentication)
        self.directory = Directory(bot.database, clock=bot.clock)
        self.sender = TeamsSender(
            self.cloud,
            settings.microsoft_app_id,
            self.directory,
            extra_hosts=settings.teams_service_url_allowlist,
            public_url=settings.public_url,
            allow_loopback=local_trial(settings),
        )
        self.transport = TeamsTransport(self.sender, settings.outbox_teams_tenant_rate)
        self.names = MemberNames()  # display names Teams leaves out (membersAdded)
        self.keys_ready = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        intake.replays[translate.PLATFORM] = self._replay

    def mount(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.handle_http)

    async def start(self) -> None:
        self._background.append(asyncio.create_task(self.credentials.keep_fresh()))
        if not self.settings.microsoft_app_id:
            self.keys_ready.set()
            log.warning(
                "Teams: FINOPS_TEAMS_ALLOW_UNAUTHENTICATED is set and there is no "
                "MicrosoftAppId: /api/messages accepts UNAUTHENTICATED traffic, and messages "
                "may go to service URLs on this machine (localhost). Use this only with the "
                "Microsoft 365 Agents Playground or the Bot Framework Emulator on a private "
                "machine."
            )
            return
        self._background.append(asyncio.create_task(self._refresh_keys_forever()))

    async def stop_intake(self) -> None:
        """HTTP intake stops with the server; nothing else to stop first."""

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refresh_keys_forever(self) -> None:
        """botbuilder fetches signing keys with a blocking `requests.get` (no timeout) inside
        the request path once they are a day old. Fetching them in a thread, at start-up and
        twice a day, keeps that blocking call off the event loop."""
        metadata = JwtTokenExtractor.get_open_id_metadata(metadata_url(self.settings))
        while True:
            try:
                await asyncio.to_thread(asyncio.run, metadata._refresh())
            except Exception:
                log.warning(
                    "could not fetch the Bot Framework signing keys; retrying in %d s",
                    KEY_RETRY_SECONDS,
                    exc_info=True,
                )
                await asyncio.sleep(KEY_RETRY_SECONDS)
                continue
            self.keys_ready.set()
            await asyncio.sleep(KEY_REFRESH_SECONDS)

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
            activity = Activity().deserialize(body)
        except Exception:
            return _error(400, "the body is not a Bot Framework activity")
        if not isinstance(body, dict) or not activity.type:
            return _error(400, "the body is not a Bot Framework activity")
        if self.settings.microsoft_app_id:
            if not _channel_token(request.headers.get("Authorization", "")):
                log.warning("refused a Teams activity: not a Bot Framework channel token")
                return _error(401, "unauthorized")
            try:  # right after start-up, let the keys arrive rather than fetch them blocking
                async with asyncio.timeout(KEYS_WAIT_SECONDS):
                    await self.keys_ready.wait()
            except TimeoutError:
                return _error(503, "starting up; try again")
        try:
            # Authenticate first, on our own: for bad tokens (expired, malformed, unknown key,
            # no header) botbuilder raises many exception types that would otherwise be 500s.
            identity = await self.cloud.bot_framework_authentication.authenticate_request(
                activity, request.headers.get("Authorization", "")
            )
        except Exception as error:
            log.warning("refused a Teams activity: %s", type(error).__name__)
            return _error(401, "unauthorized")
        if self.settings.microsoft_app_id and not host_allowed(
            activity.service_url or "", self.settings.teams_service_url_allowlist
        ):
            # A genuine token may name any service URL; answering there would send the bot's
            # own token to it, and storing it would redirect later proactive messages.
            log.warning("refused a Teams activity: its service URL is not on the allow-list")
            return _error(403, "service URL not allowed")
        return await self._take(identity, activity, body)

    async def _take(
        self, identity: AuthenticateRequestResult, activity: Activity, body: dict[str, Any]
    ) -> web.Response:
        """Store the activity, answer at once, and run its turn in the background."""
        invoke = activity.type == ActivityTypes.invoke
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
        identity: AuthenticateRequestResult,
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
        """The key a stored request's answer is recorded under (bot/core.py)."""
        return self.intake.key_of(row)

    async def _replay(self, row: int, payload: str) -> None:
        """Work a stored activity again (its replica died, or its write was late). The turn
        runs as the bot itself, as a proactive message does: the channel's token is gone."""
        activity = Activity().deserialize(json.loads(payload))
        authentication = self.cloud.bot_framework_authentication
        claims = self.cloud.create_claims_identity(self.settings.microsoft_app_id)
        identity = AuthenticateRequestResult()
        identity.claims_identity = claims
        identity.audience = authentication.get_originating_audience()
        identity.connector_factory = authentication.create_connector_factory(claims)
        self.intake.work(row, self._turn(identity, activity, row), "teams-replay")

    # -- turns -------------------------------------------------------------------------------
    async def _on_turn(self, turn: TurnContext, inbox_row: int | None = None) -> None:
        raw: dict[str, Any] = turn.activity.serialize()
        if turn.activity.entities:
            # botbuilder keeps a mention's `mentioned` and `text` only in the Entity's
            # additional_properties, which serialize() drops: without them no @mention (the
            # bot's own included) could be recognised.
            raw["entities"] = [
                {**(getattr(entity, "additional_properties", None) or {}), **entity.serialize()}
                for entity in turn.activity.entities
            ]
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
        reference = json.dumps(TurnContext.get_conversation_reference(turn.activity).serialize())
        service_url = raw.get("serviceUrl", "")
        conversation = raw.get("conversation") or {}
        entries = {
            translate.channel_id(conversation.get("id", "")): (reference, service_url),
            "tenant": (json.dumps({"serviceUrl": service_url}), service_url),
        }
        personal = conversation.get("conversationType") in (None, "personal")
        if personal:
            entries[f"user:{actor.user_id}"] = (reference, service_url)
        # A channel's reference follows its latest message (posts go to its thread); a 1:1
        # chat's and the tenant's are rewritten only when new or moved to another service URL.
        channel = translate.channel_id(conversation.get("id", ""))
        await self.directory.save(
            actor, entries, refresh=frozenset() if personal else frozenset({channel})
        )


def _channel_token(header: str) -> bool:
    """A bearer JWT whose (unverified) issuer is a Bot Framework channel and that expires: a
    cheap pre-check; botbuilder then verifies it for real."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    # botbuilder checks `exp` only when present: a token without one would never expire.
    return claims.get("iss") in CHANNEL_ISSUERS and isinstance(claims.get("exp"), int | float)


def _invoke_answer(text: str) -> web.Response:
    """An Action.Execute answer: a message Teams shows in place of the card's response."""
    body = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}
    return web.json_response(body)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
