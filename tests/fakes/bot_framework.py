"""An in-process fake of the Bot Framework connector (Teams' `serviceUrl`), on 127.0.0.1.

botbuilder's real ConnectorClient talks to it: put `connector.service_url` in the activity's
`serviceUrl` (and in the inbound token's `serviceurl` claim). It follows the Bot Connector REST API
and Teams' documented answers rather than our bot's expectations:
- every call needs `Authorization: Bearer <token>`, else 401 (the token is recorded per call),
  unless `anonymous` (a local connector, for a bot without an app id);
- create conversation answers `{"id": "a:1..."}` (+ `activityId` when an activity was sent along),
  the same id again for the same user and tenant, as Teams reopens the existing 1:1 chat;
- sends and replies answer 201 `{"id": "<activity id>"}`; a reply may name any activity id (a
  CloudAdapter proactive send replies to its continuation event's random id); update answers
  200 `{"id": ...}`; updating or deleting an activity the fake never saw answers 404
  `ActivityNotFoundInConversation` (seed older ones with `add_activity`);
- member lookups (`GET .../members`, `.../members/{id}`) answer from `members` (404
  `MemberNotFoundInConversation` for someone else); a team's channel list (`GET
  v3/teams/{id}/conversations`) answers from `channels` (404 for a team the bot is not in);
- `fail_next` injects Teams' error answers: 429 with Retry-After, 403 blocked/uninstalled bot in
  its two documented shapes (see BLOCKED_BY_USER and MESSAGE_WRITES_BLOCKED), 412, 5xx.

A call is recorded, and its effect applied, when it arrives; the answer is sent after `delay`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from aiohttp import web

from tests.fakes.server import LocalServer

Kind = Literal[
    "create_conversation",
    "send",
    "reply",
    "update",
    "delete",
    "get_members",
    "get_member",
    "get_channels",
]
# What `fail_next` and `wait_for` accept: a kind, "post" (send or reply) or "*" (any call).
KindPattern = Kind | Literal["post", "*"]
KINDS: tuple[Kind, ...] = get_args(Kind)
_GROUPS: dict[str, frozenset[str]] = {"post": frozenset({"send", "reply"}), "*": frozenset(KINDS)}

# Error bodies Teams documents ("Status codes from bot conversational APIs", msteams-docs). Most
# use the Bot Framework ErrorResponse envelope, which botbuilder deserialises into
# `ErrorResponseException.error.error.code`.
BLOCKED_BY_USER = {
    "error": {
        "code": "ConversationBlockedByUser",
        "message": "User blocked the conversation with the bot.",
    }
}
# The shape msteams-docs shows for a proactive message to a user who blocked or uninstalled the bot
# ("send-proactive-messages", 403 subCode MessageWritesBlocked). Not an ErrorResponse envelope:
# botbuilder's `exc.error.error` is None; the subCode is only in `exc.response.text`.
MESSAGE_WRITES_BLOCKED = {
    "errorCode": 209,
    "message": json.dumps(
        {
            "subCode": "MessageWritesBlocked",
            "details": "Thread is blocked from message writes.",
            "errorCode": None,
            "errorSubCode": None,
        },
        indent=2,
    ).replace("\n", "\r\n"),
}
NOT_INSTALLED = {
    "error": {
        "code": "ForbiddenOperationException",
        "message": "Bot is not installed in user's personal scope",
    }
}
BOT_NOT_IN_ROSTER = {
    "error": {
        "code": "BotNotInConversationRoster",
        "message": "The bot is not part of the conversation roster.",
    }
}
BOT_DISABLED_BY_ADMIN = {
    "error": {"code": "BotDisabledByAdmin", "message": "The tenant admin disabled this bot"}
}
DEFAULT_ERROR_BODIES: dict[int, dict[str, Any]] = {
    400: {"error": {"code": "BadArgument", "message": "Invalid request payload."}},
    401: {"message": "Authorization has been denied for this request."},
    403: BLOCKED_BY_USER,
    404: {"error": {"code": "ConversationNotFound", "message": "Conversation not found."}},
    412: {
        "error": {
            "code": "PreconditionFailed",
            "message": "Precondition failed, please try again.",
        }
    },
    413: {"error": {"code": "MessageSizeTooBig", "message": "Message size too large."}},
    429: {"error": {"code": "Throttled", "message": "Too many requests."}},
    500: {"error": {"code": "ServiceError", "message": "Internal server error."}},
    502: {"error": {"code": "ServiceError", "message": "Service dependency issue."}},
}
ACTIVITY_NOT_FOUND = {
    "error": {"code": "ActivityNotFoundInConversation", "message": "Conversation not found."}
}
UNAUTHORIZED = DEFAULT_ERROR_BODIES[401]


@dataclass
class Call:
    """One request as the fake received it."""

    method: str  # HTTP method
    path: str  # decoded path, e.g. /v3/conversations/a:1x/activities/17000
    json: Any  # request body (None when absent or not JSON)
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    status: int  # the status the fake answered
    kind: Kind
    conversation_id: str | None
    activity_id: str | None  # from the path (reply, update, delete)
    token: str | None  # the bearer token, None when the header was missing or not Bearer


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    body: Any


class FakeConnector(LocalServer):
    """The Bot Framework connector a Teams bot replies to: `async with FakeConnector() as fake:`."""

    def __init__(self, *, expected_token: str | None = None, anonymous: bool = False) -> None:
        """`expected_token`: when set, any other bearer token is refused with 401.
        `anonymous`: calls without a token are accepted too, as the local connectors of the
        Microsoft 365 Agents Playground and the Bot Framework Emulator accept a bot that has no
        app id."""
        super().__init__()
        self.expected_token = expected_token
        self.anonymous = anonymous
        self.delay = 0.0
        self.calls: list[Call] = []
        # conversation id -> activity id -> the activity as last sent or updated
        self.activities: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.deleted: list[tuple[str, str]] = []  # (conversation id, activity id)
        self.members: dict[str, list[dict[str, Any]]] = {}  # conversation id -> members
        # team id -> its channels, as GET v3/teams/{id}/conversations lists them ({"id", "name"};
        # the General channel, whose id is the team's, has no name)
        self.channels: dict[str, list[dict[str, Any]]] = {}
        self._failures: defaultdict[str, deque[_Failure]] = defaultdict(deque)
        self._activity_ids = itertools.count(1_700_000_100_001)  # Teams ids: epoch millis

    # -- lifecycle -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        conversation = "/v3/conversations/{conversation_id}"
        app.router.add_post("/v3/conversations", self._handler("create_conversation"))
        app.router.add_post(conversation + "/activities", self._handler("send"))
        app.router.add_post(conversation + "/activities/{activity_id}", self._handler("reply"))
        app.router.add_put(conversation + "/activities/{activity_id}", self._handler("update"))
        app.router.add_delete(conversation + "/activities/{activity_id}", self._handler("delete"))
        app.router.add_get(conversation + "/members", self._handler("get_members"))
        app.router.add_get(conversation + "/members/{member_id}", self._handler("get_member"))
        app.router.add_get("/v3/teams/{team_id}/conversations", self._handler("get_channels"))
        return app

    @property
    def service_url(self) -> str:
        """`http://127.0.0.1:<port>/`: with the trailing slash, as Teams' serviceUrl has one."""
        return self.base_url + "/"

    # -- test controls ---------------------------------------------------------------------------

    def calls_to(self, kind: KindPattern) -> list[Call]:
        kinds = _kinds(kind)
        return [call for call in self.calls if call.kind in kinds]

    def fail_next(
        self,
        path_kind: KindPattern,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        body: Any = None,
    ) -> None:
        """Answer the next `times` calls of `path_kind` with `status` and nothing else happens.

        `body` defaults to the documented Teams body for the status (403: ConversationBlockedByUser;
        pass MESSAGE_WRITES_BLOCKED, NOT_INSTALLED, ... for the others). `Retry-After` is sent on
        429 and 503 unless `retry_after` is None. "post" and "*" queue one shared failure list.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next needs an error status, not {status}")
        default = DEFAULT_ERROR_BODIES.get(status)  # 503 and 504 come without a body
        failure = _Failure(status, retry_after, default if body is None else body)
        self._failures[path_kind].extend([failure] * times)

    # A `timeout` argument (ASYNC109) keeps test code short: `await fake.wait_for("reply", 1, 2)`.
    async def wait_for(
        self,
        kind: KindPattern,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        status: int | None = None,
    ) -> list[Call]:
        """Wait until `count` calls of `kind` arrived (only those answered `status` if given)."""

        def found() -> list[Call]:
            return [c for c in self.calls_to(kind) if status is None or c.status == status]

        return await self._wait(found, count, timeout, f"{count} {kind} call(s)")

    def state(self) -> str:
        return f"calls so far: {[f'{c.method} {c.kind} {c.status}' for c in self.calls]}"

    def add_activity(self, conversation_id: str, activity: dict[str, Any]) -> str:
        """Seed an activity (say, a card sent before the test), so it can be updated or deleted."""
        activity_id = str(activity.get("id") or next(self._activity_ids))
        self.activities[conversation_id][activity_id] = {**activity, "id": activity_id}
        return activity_id

    def sent(self, conversation_id: str) -> list[dict[str, Any]]:
        """The activities currently in a conversation (after updates and deletes), oldest first."""
        return list(self.activities.get(conversation_id, {}).values())

    # -- HTTP ------------------------------------------------------------------------------------

    def _handler(self, kind: Kind) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(kind, request)

        return handle

    async def _handle(self, kind: Kind, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        token = _bearer_token(request.headers.get("Authorization", ""))
        conversation_id = request.match_info.get("conversation_id")
        activity_id = request.match_info.get("activity_id")

        headers: dict[str, str] = {}
        refused = token is None and not self.anonymous
        if refused or (
            token is not None and self.expected_token is not None and token != self.expected_token
        ):
            status, answer = 401, UNAUTHORIZED  # checked first: a refused call uses no failure
        elif (failure := self._next_failure(kind)) is not None:
            status, answer = failure.status, failure.body
            if failure.retry_after is not None and failure.status in (429, 503):
                headers["Retry-After"] = str(failure.retry_after)
        else:
            status, answer = self._apply(kind, request, body)

        self.calls.append(
            Call(
                method=request.method,
                path=request.path,
                json=body,
                headers=dict(request.headers),
                at=at,
                status=status,
                kind=kind,
                conversation_id=conversation_id,
                activity_id=activity_id,
                token=token,
            )
        )
        self._changed.set()
        await asyncio.sleep(self.delay)
        if answer is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(answer, status=status, headers=headers)

    def _next_failure(self, kind: Kind) -> _Failure | None:
        for key in (kind, "post" if kind in _GROUPS["post"] else None, "*"):
            if key is not None and self._failures.get(key):
                return self._failures[key].popleft()
        return None

    def _apply(self, kind: Kind, request: web.Request, body: Any) -> tuple[int, Any]:
        match kind:
            case "create_conversation":
                return self._create_conversation(body)
            case "send" | "reply":
                return self._post_activity(request.match_info["conversation_id"], body)
            case "update":
                return self._update(request, body)
            case "delete":
                return self._delete(request)
            case "get_members":
                return 200, self.members.get(request.match_info["conversation_id"], [])
            case "get_member":
                return self._get_member(request)
            case "get_channels":
                found = self.channels.get(request.match_info["team_id"])
                if found is None:  # the bot is not in that team
                    return 404, {"error": {"code": "NotFound", "message": "Team not found."}}
                return 200, {"conversations": found}
        raise AssertionError(f"unhandled kind {kind}")

    def _create_conversation(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, DEFAULT_ERROR_BODIES[400]
        members = body.get("members") or []
        channel_data = body.get("channelData") or {}
        # botbuilder-python serialises ConversationParameters.tenant_id as "tenantID"
        top_level = {key.lower(): value for key, value in body.items()}
        tenant = top_level.get("tenantid") or (channel_data.get("tenant") or {}).get("id")
        if not tenant:
            return 400, _bad_argument("A tenant id is required to create a conversation.")
        if body.get("isGroup"):
            channel = (channel_data.get("channel") or {}).get("id")
            if not channel or not isinstance(body.get("activity"), dict):
                return 400, _bad_argument("A channel conversation needs a channel and an activity.")
            first = str(next(self._activity_ids))
            conversation_id = f"{channel};messageid={first}"
        else:
            if len(members) != 1 or not (members[0] or {}).get("id"):
                return 400, _bad_argument("A personal conversation needs exactly one member.")
            digest = hashlib.sha256(f"{tenant}|{members[0]['id']}".encode()).hexdigest()[:40]
            conversation_id = f"a:1{digest}"
        result: dict[str, Any] = {"id": conversation_id}
        if isinstance(body.get("activity"), dict):
            result["activityId"] = self._store(conversation_id, body["activity"])
        self.members.setdefault(conversation_id, list(members))
        return 201, result

    def _post_activity(self, conversation_id: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not body.get("type"):
            return 400, _bad_argument("Activity type is required.")
        return 201, {"id": self._store(conversation_id, body)}

    def _update(self, request: web.Request, body: Any) -> tuple[int, Any]:
        conversation_id = request.match_info["conversation_id"]
        activity_id = request.match_info["activity_id"]
        if activity_id not in self.activities.get(conversation_id, {}):
            return 404, ACTIVITY_NOT_FOUND
        if not isinstance(body, dict) or not body.get("type"):
            return 400, _bad_argument("Activity type is required.")
        self.activities[conversation_id][activity_id] = {**body, "id": activity_id}
        return 200, {"id": activity_id}

    def _delete(self, request: web.Request) -> tuple[int, Any]:
        conversation_id = request.match_info["conversation_id"]
        activity_id = request.match_info["activity_id"]
        if self.activities.get(conversation_id, {}).pop(activity_id, None) is None:
            return 404, ACTIVITY_NOT_FOUND
        self.deleted.append((conversation_id, activity_id))
        return 200, None

    def _get_member(self, request: web.Request) -> tuple[int, Any]:
        member_id = request.match_info["member_id"]
        for member in self.members.get(request.match_info["conversation_id"], []):
            if member_id in (member.get("id"), member.get("aadObjectId")):
                return 200, member
        return 404, {"error": {"code": "MemberNotFoundInConversation", "message": "Not found."}}

    def _store(self, conversation_id: str, activity: dict[str, Any]) -> str:
        activity_id = str(next(self._activity_ids))
        self.activities[conversation_id][activity_id] = {**activity, "id": activity_id}
        return activity_id


def _kinds(pattern: KindPattern) -> frozenset[str]:
    return _GROUPS.get(pattern, frozenset({pattern}))


def _bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _bad_argument(message: str) -> dict[str, Any]:
    return {"error": {"code": "BadArgument", "message": message}}
