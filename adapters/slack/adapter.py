"""Slack wiring: bolt's AsyncApp behind our own signature check, on the bot's aiohttp app.

Every request is stored in the inbox (bot/intake.py) before bolt acks it; each listener then
acks and hands the neutral event to a tracked task, which forgets the stored request when it
is done. The ack waits for that one insert and never for the work or the Web API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import shape, translate
from adapters.slack.deliver import Origin, ResponseURLs, SlackReplies, SlackTransport
from adapters.slack.render import form_modal
from adapters.slack.verify import verify
from bot.core import Bot
from bot.events import Actor, Event
from bot.intake import Intake, NotStored
from bot.message import Message, Text
from bot.settings import Settings
from bot.tasks import TaskTracker

log = logging.getLogger(__name__)
PATH = "/slack/events"
CONNECT_TIMEOUT = 30.0  # seconds for the Socket Mode handshake at start-up
# The outbox's Web API calls: slack_sdk applies no timeout of its own to a session it is
# given, so the session carries them. A call must end well inside the outbox lease, or
# another replica takes the row over while the first call may still post.
CALL_SECONDS, CALL_CONNECT_SECONDS = 20.0, 5.0


def call_timeout(lease_seconds: float) -> ClientTimeout:
    """Connect, read and total limits for one Web API call: 20 s at most (5 s to connect),
    and never more than a quarter of the lease."""
    total = min(CALL_SECONDS, lease_seconds / 4)
    connect = min(CALL_CONNECT_SECONDS, total)
    return ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=total)


def _no_payload_debug(record: logging.LogRecord) -> bool:
    """slack_sdk's DEBUG log repeats every request and response with its text (people's
    messages, who gets a poll reminder): never let it through."""
    return record.levelno > logging.DEBUG


SDK_LOG = logging.getLogger("slack_sdk.web.async_base_client")  # what our clients log through
SDK_LOG.addFilter(_no_payload_debug)
FORM_SUBMISSION = "checkin.submit"  # modal callback ids (a form's submit action id)
NOT_SAVED = (
    "Not saved: the bot could not store your request just now (its database did not answer "
    "in time). Nothing was done; please try again in a minute."
)
NO_FORM = (
    "There is nothing to answer right now: no committee meeting is scheduled or there are no "
    "check-in questions. `checkin list` shows them."
)


def web_client(
    settings: Settings, *, retry_rate_limits: bool = True, session: ClientSession | None = None
) -> AsyncWebClient:
    # Never slack_sdk's default connection-error retry: it could post a message twice.
    # Replies retry 429s after Retry-After; the outbox's client retries nothing itself.
    # Without a `session`, slack_sdk opens (and closes) a connection for every call.
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=20,
        session=session,
        logger=SDK_LOG,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
        if retry_rate_limits
        else [],
    )


class SlackAdapter:
    """Slack over HTTP (Events API, signed requests) or Socket Mode; see bot/platform.py."""

    platform = translate.PLATFORM

    def __init__(
        self,
        settings: Settings,
        *,
        bot: Bot,
        intake: Intake,
        tasks: TaskTracker,
        connects_socket_mode: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.intake = intake
        self.tasks = tasks
        self.clock = clock
        self.client = web_client(settings)
        self.responses = ResponseURLs()
        self.replies = SlackReplies(self.client, self.responses)
        self.transport = SlackTransport(
            web_client(settings, retry_rate_limits=False),
            self.responses,
            settings.outbox_slack_workspace_rate,
        )
        self._socket_mode: Any = None
        # False in a worker process (`finops-bot work`): the serving process has the socket.
        self.connects_socket_mode = connects_socket_mode
        self._http: ClientSession | None = None
        self._bot_user_id: str | None = None  # from auth.test, asked once
        self._bot_user_lock = asyncio.Lock()
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
            request_verification_enabled=False,  # done in handle_http, see verify.py
            process_before_response=True,  # listeners only ack and spawn: nothing is lost
            authorize=self._authorizer(),
            logger=logging.getLogger("slack_bolt"),
        )
        self._listen()
        intake.replays[translate.PLATFORM] = self._replay

    # -- lifecycle ---------------------------------------------------------------------------
    def mount(self, app: web.Application) -> None:
        if self.settings.slack_signing_secret:  # Socket Mode alone has no HTTP endpoint
            app.router.add_post(PATH, self.handle_http)

    async def start(self) -> None:
        # The outbox sends in bulk: one connection pool for all its calls.
        self._http = ClientSession(timeout=call_timeout(self.settings.outbox_lease_seconds))
        self.transport.client = web_client(
            self.settings, retry_rate_limits=False, session=self._http
        )
        if self.settings.slack_app_token and self.connects_socket_mode:
            await self._connect_socket_mode()

    async def _connect_socket_mode(self) -> None:
        token = self.settings.slack_app_token
        # slack_sdk retries a refused token forever; ask once first so a wrong token fails
        # start-up with a clear message instead of hanging it.
        probe = AsyncWebClient(token=token, base_url=self.settings.slack_api_url, timeout=20)
        try:
            await probe.apps_connections_open(app_token=token)
        except SlackApiError as error:
            if error.response.status_code != 429:
                raise RuntimeError(
                    f"Slack refused SLACK_APP_TOKEN ({error.response.get('error')}); it must be "
                    "an app-level token (xapp-...) with the connections:write scope"
                ) from error
        self._socket_mode = _AckingSocketModeHandler(self.app, token, self)
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await self._socket_mode.connect_async()
        log.info("Slack connected through Socket Mode")

    async def stop_intake(self) -> None:
        """Take no new work (Socket Mode); HTTP intake stops with the server itself."""
        if self._socket_mode is not None:
            await self._socket_mode.close_async()
            self._socket_mode = None

    async def close(self) -> None:
        await self.responses.close()
        if self._http is not None:
            await self._http.close()

    # -- HTTP --------------------------------------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = verify(self.settings.slack_signing_secret, request.headers, body, now=self.clock)
        if problem is not None:
            # Never log the body: it may be an attacker's, or carry someone's message.
            log.warning("refused a Slack request from %s: %s", request.remote, problem)
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        problem = shape.http_problem(text, request.headers.get("Content-Type", ""))
        if problem is not None:  # signed, but not something Slack sends: one line, no body
            log.warning("refused a malformed Slack request: %s", problem)
            return web.json_response({"error": f"malformed request: {problem}"}, status=400)
        content_type = request.headers.get("Content-Type", "")
        body_fields = parse_body(text, content_type)
        kind = translate.request_kind(body_fields)
        if kind is None:  # Slack's own checks: bolt answers them, nothing to keep
            bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers={})
            return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))
        payload = json.dumps({"mode": "http", "content_type": content_type, "body": text})
        try:
            row = await self.store(body_fields, payload)
        except NotStored:
            return self._not_saved_http(kind, body_fields)
        if row is None or not self.intake.works_here:
            # A retry of a request already stored, or stored for a worker process: bolt's
            # own ack to a listener is this empty 200 as well.
            return web.Response(status=200)
        headers: dict[str, str | Sequence[str]] = {"Content-Type": content_type}
        response = await self.dispatch_stored(AsyncBoltRequest(body=text, headers=headers), row)
        return await to_aiohttp_response(response)

    async def store(self, body: dict[str, Any], payload: str) -> int | None:
        """Store a request before its ack (see bot/intake.py), within the intake deadline."""
        try:
            async with asyncio.timeout(self.settings.inbox_intake_seconds):
                return await self.intake.store(
                    translate.PLATFORM,
                    translate.delivery_id(body),
                    payload,
                    # Slack sends an event again after a 503: its retry must find it here.
                    keep_if_late=translate.request_kind(body) == "event",
                    hand_off=not self.intake.works_here,
                )
        except TimeoutError as error:
            raise NotStored("timeout") from error

    def _not_saved_http(self, kind: str, body: dict[str, Any]) -> web.Response:
        """The database did not take the request. Events: a 503, so Slack sends them again.
        A command: its answer says so. A click or form: a 503 (Slack shows it failed) and a
        note to the person through the response URL, which needs no database."""
        if kind == "command":
            return web.json_response({"response_type": "ephemeral", "text": NOT_SAVED})
        if kind == "interaction" and body.get("response_url"):
            origin = Origin(translate.action_event(body, {}).actor, "", body["response_url"])
            self.tasks.spawn(self.replies.reply(origin, Message(NOT_SAVED, (Text(NOT_SAVED),))))
        return web.json_response({"error": "not stored; try again"}, status=503)

    async def dispatch_stored(self, request: AsyncBoltRequest, row: int) -> Any:
        """Run bolt's listeners on a stored request; its listener takes the row (`_taken`)
        and forgets it once its work is done. A request no listener took is forgotten now."""
        slot = _Row(row)
        request.context["inbox"] = slot
        try:
            response = await self.app.async_dispatch(request)
        finally:
            if slot.row is not None:
                self.intake.forget(slot.take())
        return response

    async def _replay(self, row: int, payload: str) -> None:
        """Work a stored request again (its first replica died before finishing it)."""
        stored = json.loads(payload)
        if stored["mode"] == "socket_mode":
            request = AsyncBoltRequest(mode="socket_mode", body=stored["body"])
        else:
            headers = {"Content-Type": stored["content_type"]}
            request = AsyncBoltRequest(body=stored["body"], headers=headers)
        await self.dispatch_stored(request, row)

    def _authorizer(self) -> Callable[..., Any]:
        token = self.settings.slack_bot_token

        # bolt passes arguments by name; a single-workspace token needs no auth.test call on
        # the request path (bolt's default would make one before the first ack).
        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

        return authorize

    # -- listeners ---------------------------------------------------------------------------
    def _listen(self) -> None:
        app = self.app

        @app.command("/finops")
        async def on_command(ack, body: dict, context) -> None:
            await ack()
            event = translate.command_event(body)
            origin = Origin(event.actor, body.get("channel_id", ""), body.get("response_url", ""))
            self._spawn(_taken(context), event, origin)

        # Votes and "Record as decision" under a closed committee poll's results.
        @app.action({"action_id": re.compile(r"^(poll\.vote|decision\.from_poll)(:\d+)?$")})
        async def on_vote(  # noqa: PLR0917 (slack-bolt injects only getfullargspec().args)
            ack, body: dict, action: dict, context
        ) -> None:
            await ack()
            event = translate.action_event(body, action)
            origin = Origin(event.actor, event.place.conversation_id, body.get("response_url", ""))
            from_home = (body.get("container") or {}).get("type") == "view"
            row = _taken(context)
            work = self._handle(event, origin, refresh_home=from_home, inbox_row=row)
            self._work(row, work, name="vote")

        @app.action({"action_id": re.compile(r"^checkin\.open(:\d+)?$")})
        async def on_open_form(  # noqa: PLR0917 (slack-bolt injects only getfullargspec().args)
            ack, body: dict, action: dict, context
        ) -> None:
            await ack()
            # The trigger_id expires 3 s after the click: not behind the capped work queue.
            row = _taken(context)
            self._work(row, self._open_form(body, action), name="open-form", at_once=True)

        @app.view(FORM_SUBMISSION)
        async def on_form(ack, body: dict, context) -> None:
            await ack()  # closes the modal; the answer comes as a DM
            event = translate.view_submission_event(body)
            self._spawn(_taken(context), event, Origin(event.actor))  # no response_url: a DM

        @app.event("member_joined_channel")
        async def on_member_joined(ack, body: dict, context) -> None:
            await ack()
            row = _taken(context)
            self._work(row, self._member_joined(body, row), name="member-joined", background=True)

        @app.event("team_join")
        async def on_team_join(ack, body: dict, context) -> None:
            await ack()
            row = _taken(context)
            self._work(row, self._team_join(body, row), name="team-join", background=True)

        @app.event("app_home_opened")
        async def on_home(  # noqa: PLR0917 (slack-bolt injects only getfullargspec().args)
            ack, body: dict, event: dict, context
        ) -> None:
            await ack()
            if event.get("tab", "home") == "home":
                actor = Actor(translate.PLATFORM, body.get("team_id", ""), event.get("user", ""))
                self._work(_taken(context), self.publish_home(actor), name="home")

    async def _open_form(self, body: dict, action: dict) -> None:
        """A form's opener was clicked: the person's current form (pre-filled) as a modal."""
        event = translate.action_event(body, action)
        origin = Origin(event.actor, event.place.conversation_id, body.get("response_url", ""))
        name = event.action_id.partition(".")[0]  # `checkin.open` opens the `checkin` view
        form = await self.bot.view(event.actor, name)
        modal = form_modal(form) if form is not None else None
        if form is None or modal is None:
            await self.replies.reply(origin, Message(NO_FORM, (Text(NO_FORM),)))
            return
        try:
            await self.client.views_open(trigger_id=body.get("trigger_id", ""), view=modal)
        except SlackApiError as error:  # e.g. expired_trigger_id: Slack was too slow for us
            data = error.response.data
            problem = data.get("error") if isinstance(data, dict) else None
            log.warning("views.open failed: %s", problem or f"HTTP {error.response.status_code}")
            # The form's text instead: it says which commands answer the questions.
            await self.replies.reply(origin, Message(form.text, (Text(form.text),)))

    def _spawn(
        self, row: int | None, event: Event, origin: Origin, *, background: bool = False
    ) -> None:
        """Work a person waits for, or (`background`) events nobody is watching."""
        work = self._handle(event, origin, inbox_row=row)
        self._work(row, work, name=type(event).__name__, background=background)

    def intake_works_here(self) -> bool:
        return self.intake.works_here

    def _key(self, row: int | None) -> str | None:
        """The key a stored request's answer is recorded under (bot/core.py)."""
        return self.intake.key_of(row)

    def _work(
        self,
        row: int | None,
        work: Any,
        *,
        name: str,
        background: bool = False,
        at_once: bool = False,
    ) -> None:
        """Work on an acked request (stored as inbox `row`), forgotten when done."""
        self.intake.work(row, work, name, background=background, at_once=at_once)

    async def _handle(
        self,
        event: Event,
        origin: Origin,
        *,
        refresh_home: bool = False,
        inbox_row: int | None = None,
    ) -> None:
        # What it sends on its own is in the outbox; the replies are ours to deliver.
        outcome = await self.bot.handle(event, inbox_key=self._key(inbox_row))
        await self.replies.deliver(outcome, origin)
        if refresh_home:
            await self.publish_home(origin.actor)

    async def _member_joined(self, body: dict, row: int | None) -> None:
        user = body["event"]["user"]  # a user id: checked in shape.py
        if user == await self.bot_user_id():
            return  # the bot itself was added to a channel: nobody to welcome
        found = await self._user(user)
        if found is not None and not translate.is_person(found):
            log.info("not welcoming %s: a bot or a deactivated account", user)
            return
        name = translate.display_name(found) if found is not None else ""
        event = translate.member_joined_event(body, name)
        await self._handle(event, Origin(event.actor, event.place.conversation_id), inbox_row=row)

    async def _team_join(self, body: dict, row: int | None) -> None:
        user = body["event"]["user"]  # a user object: checked in shape.py
        if not translate.is_person(user) or user.get("id") == await self.bot_user_id():
            log.info("not welcoming %s: a bot or a deactivated account", user.get("id"))
            return
        event = translate.team_join_event(body)
        await self._handle(event, Origin(event.actor), inbox_row=row)

    async def bot_user_id(self) -> str | None:
        """The bot's own user id, from `auth.test`, asked once (again only after a failure)."""
        if self._bot_user_id is None:
            async with self._bot_user_lock:
                if self._bot_user_id is None:
                    try:
                        found = await self.client.auth_test()
                        self._bot_user_id = str(found.get("user_id") or "")
                    except Exception:
                        log.warning("auth.test failed; the bot's own user id is unknown for now")
        return self._bot_user_id or None

    async def _user(self, user_id: str) -> dict[str, Any] | None:
        """users.info's `user`, or None when Slack does not say."""
        try:
            found = await self.client.users_info(user=user_id)
        except Exception:  # a name is a nicety; the welcome still goes out
            log.info("users.info failed for %s; welcoming without a name", user_id)
            return None
        user = found.get("user")
        return user if isinstance(user, dict) else None

    async def _name_of(self, user_id: str) -> str:
        found = await self._user(user_id) if user_id else None
        return translate.display_name(found) if found is not None else ""

    async def publish_home(self, actor: Actor) -> None:
        """Queue the person's home tab: the outbox publishes it (views.publish), retrying a
        failure with backoff like any send, instead of logging it and giving up."""
        if not actor.display_name:
            actor = Actor(
                actor.platform,
                actor.workspace_id,
                actor.user_id,
                await self._name_of(actor.user_id),
            )
        await self.bot.queue_home(actor)


class _Row:
    """The inbox row of a request being dispatched, until its listener takes it."""

    def __init__(self, row: int) -> None:
        self.row: int | None = row

    def take(self) -> int | None:
        row, self.row = self.row, None
        return row


def _taken(context: Any) -> int | None:
    """The listener takes its request's inbox row: its work forgets it when done."""
    slot = context.get("inbox")
    return slot.take() if isinstance(slot, _Row) else None


class _AckingSocketModeHandler(AsyncSocketModeHandler):
    """bolt's handler acks only what a listener handled: Slack redelivers anything else (an
    event nobody listens to, a malformed envelope) again and again. Every envelope is acked
    here once it is stored in the inbox; a malformed one is logged in one line and not
    dispatched. One the database does not take is not acked (Slack sends it again), except a
    command, which is answered "not saved"."""

    def __init__(self, app: AsyncApp, token: str, adapter: SlackAdapter) -> None:
        super().__init__(app, token)
        self.adapter = adapter

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        problem = shape.socket_problem(req.type, req.payload)
        if problem is not None:
            log.warning("acked a malformed Socket Mode envelope without handling it: %s", problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        started = time.time()
        body = req.payload if isinstance(req.payload, dict) else {}
        row = None
        if translate.request_kind(body) is not None:
            payload = json.dumps({"mode": "socket_mode", "body": body})
            try:
                row = await self.adapter.store(body, payload)
            except NotStored:
                if translate.request_kind(body) == "command":
                    answer = {"response_type": "ephemeral", "text": NOT_SAVED}
                    await client.send_socket_mode_response(
                        SocketModeResponse(envelope_id=req.envelope_id, payload=answer)
                    )
                return  # not acked: Slack sends it again
            if row is None or not self.adapter.intake_works_here():
                # A redelivery of an envelope being worked on, or one for a worker process.
                await client.send_socket_mode_response(
                    SocketModeResponse(envelope_id=req.envelope_id)
                )
                return
        try:
            bolt_request = AsyncBoltRequest(
                mode="socket_mode", body=req.payload, headers=build_headers(req)
            )
            if row is None:
                response = await self.app.async_dispatch(bolt_request)
            else:
                response = await self.adapter.dispatch_stored(bolt_request, row)
        except Exception:
            log.exception("a Socket Mode envelope failed")
            response = None
        if response is not None and response.status == 200:
            await send_async_response(client, req, response, started)
        else:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
