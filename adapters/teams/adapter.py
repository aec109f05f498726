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
from adapters.teams.turns import InvokeAnswer, TeamsTurns, error_answer
from bot.core import Bot
from bot.directory import Directory
from bot.intake import Intake
from bot.settings import Settings

log = logging.getLogger(__name__)
PATH = "/api/messages"
KEY_REFRESH_SECONDS = 12 * 3600  # botbuilder refetches after 24 h, blocking; we do it sooner
KEY_RETRY_SECONDS = 60
KEYS_WAIT_SECONDS = 10.0  # a request right after start-up waits this long for the keys
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
        self.turns = TeamsTurns(
            bot, intake, names=self.names, sender=self.sender, directory=self.directory
        )
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
            return error_answer(
                401,
                "this bot has no MicrosoftAppId; set it (or, for local testing "
                "only, FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1)",
            )
        if "application/json" not in request.headers.get("Content-Type", ""):
            return error_answer(400, "Content-Type must be application/json")
        try:
            body = await request.json()
            activity = Activity().deserialize(body)
        except Exception:
            return error_answer(400, "the body is not a Bot Framework activity")
        if not isinstance(body, dict) or not activity.type:
            return error_answer(400, "the body is not a Bot Framework activity")
        if self.settings.microsoft_app_id:
            if not _channel_token(request.headers.get("Authorization", "")):
                log.warning("refused a Teams activity: not a Bot Framework channel token")
                return error_answer(401, "unauthorized")
            try:  # right after start-up, let the keys arrive rather than fetch them blocking
                async with asyncio.timeout(KEYS_WAIT_SECONDS):
                    await self.keys_ready.wait()
            except TimeoutError:
                return error_answer(503, "starting up; try again")
        try:
            # Authenticate first, on our own: for bad tokens (expired, malformed, unknown key,
            # no header) botbuilder raises many exception types that would otherwise be 500s.
            identity = await self.cloud.bot_framework_authentication.authenticate_request(
                activity, request.headers.get("Authorization", "")
            )
        except Exception as error:
            log.warning("refused a Teams activity: %s", type(error).__name__)
            return error_answer(401, "unauthorized")
        if self.settings.microsoft_app_id and not host_allowed(
            activity.service_url or "", self.settings.teams_service_url_allowlist
        ):
            # A genuine token may name any service URL; answering there would send the bot's
            # own token to it, and storing it would redirect later proactive messages.
            log.warning("refused a Teams activity: its service URL is not on the allow-list")
            return error_answer(403, "service URL not allowed")
        return await self._take(identity, activity, body)

    async def _take(
        self, identity: AuthenticateRequestResult, activity: Activity, body: dict[str, Any]
    ) -> web.Response:
        """Store the activity, answer at once, and run its turn in the background."""
        return await self.turns.take(
            body,
            invoke=activity.type == ActivityTypes.invoke,
            start=lambda row, answered: self._turn(identity, activity, row, answered=answered),
        )

    async def _turn(
        self,
        identity: AuthenticateRequestResult,
        activity: Activity,
        row: int | None,
        *,
        answered: asyncio.Future[InvokeAnswer | None] | None = None,
    ) -> None:
        logic = functools.partial(self._on_turn, inbox_row=row)
        try:
            response = await self.cloud.process_activity(identity, activity, logic)
        except Exception:  # after authentication, only our own code can fail
            log.exception("Teams turn failed")
            response = None
        if answered is not None and not answered.done():
            answered.set_result(response)

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
        reference = json.dumps(TurnContext.get_conversation_reference(turn.activity).serialize())

        async def answer_invoke(body: dict[str, Any]) -> None:
            response = InvokeResponse(status=200, body=body)
            await turn.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

        await self.turns.on_turn(
            turn, raw, reference=reference, inbox_row=inbox_row, answer_invoke=answer_invoke
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
