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
from adapters.teams.turns import InvokeAnswer, TeamsTurns, error_answer
from adapters.teams_agents.auth import ChannelKeys, ChannelTokenValidator, Refused
from adapters.teams_agents.deliver import AgentsSender, reference_json
from adapters.teams_agents.names import AgentsMemberNames
from bot.core import Bot
from bot.directory import Directory
from bot.intake import Intake
from bot.settings import Settings

log = logging.getLogger(__name__)
PATH = "/api/messages"
KEYS_WAIT_SECONDS = 10.0  # a request right after start-up waits this long for the keys


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
        self.turns = TeamsTurns(
            bot, intake, names=self.names, sender=self.sender, directory=self.directory
        )
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
            return error_answer(
                401,
                "this bot has no MicrosoftAppId; set it (or, for local testing "
                "only, FINOPS_TEAMS_ALLOW_UNAUTHENTICATED=1)",
            )
        if "application/json" not in request.headers.get("Content-Type", ""):
            return error_answer(400, "Content-Type must be application/json")
        try:
            body = await request.json()
        except ValueError:
            return error_answer(400, "the body is not a Bot Framework activity")
        if not isinstance(body, dict):
            return error_answer(400, "the body is not a Bot Framework activity")
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
                return error_answer(403, "service URL not allowed")
        else:
            identity = ClaimsIdentity()  # the local trial: anonymous, and so are its replies
        try:
            activity = Activity.model_validate(body)
        except ValidationError:
            return error_answer(400, "the body is not a Bot Framework activity")
        if not activity.type:
            return error_answer(400, "the body is not a Bot Framework activity")
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
            return error_answer(401, "unauthorized")
        except TimeoutError:
            return error_answer(503, "starting up; try again")

    async def _take(
        self, identity: ClaimsIdentity, activity: Activity, body: dict[str, Any]
    ) -> web.Response:
        """Store the activity, answer at once, and run its turn in the background."""
        return await self.turns.take(
            body,
            invoke=activity.type == ActivityTypes.invoke,
            start=lambda row, answered: self._turn(identity, activity, row, answered=answered),
        )

    async def _turn(
        self,
        identity: ClaimsIdentity,
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
        activity = Activity.model_validate(json.loads(payload))
        self.intake.work(row, self._turn(self.sender.bot_identity(), activity, row), "teams-replay")

    # -- turns -------------------------------------------------------------------------------
    async def _on_turn(self, turn: TurnContext, inbox_row: int | None = None) -> None:
        # The Agents SDK's pydantic Activity keeps mentions (`mentioned`, `text`) and
        # channelData as sent: its JSON is the activity Teams sent (NOTES.md).
        raw: dict[str, Any] = turn.activity.model_dump(
            by_alias=True, exclude_unset=True, mode="json"
        )
        reference = json.dumps(reference_json(turn.activity.get_conversation_reference()))

        async def answer_invoke(body: dict[str, Any]) -> None:
            # Kept in the turn's state by the SDK (never sent): process_activity returns it.
            response = InvokeResponse(status=200, body=body)
            await turn.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

        await self.turns.on_turn(
            turn, raw, reference=reference, inbox_row=inbox_row, answer_invoke=answer_invoke
        )
