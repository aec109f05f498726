"""An in-process fake of Slack's Web API and response URLs, served over real HTTP on 127.0.0.1.

It follows Slack's documented behaviour rather than our bot's expectations, so that the adapter's
tests catch the mistakes real Slack would punish: errors come back as HTTP 200 with
`{"ok": false, "error": ...}`, chat.update needs the DM id (not the user id), history omits
message metadata unless `include_all_metadata` is set, rate limits answer 429 with Retry-After
(injected once with `fail_next`, or enforced with `limit`: a token bucket per method), and
`refuse_next` makes a method answer `{"ok": false, "error": ...}`. Files are shared in Slack's
three steps: files.getUploadURLExternal gives an upload URL on this server, the bytes are POSTed
there (`fail_next("upload", ...)` fails that step), files.completeUploadExternal shares them.

State changes and the call record happen when a request arrives; the answer is sent after `delay`,
so a slow Slack that times the client out has still posted the message, as the real one would.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.server import LocalServer

Result = dict[str, Any]
T = TypeVar("T")

# Fields Slack accepts as JSON text in form bodies, and the error it gives when one is malformed.
JSON_FIELDS = {
    "blocks": "invalid_blocks",
    "attachments": "invalid_attachments",
    "metadata": "invalid_metadata_format",
    "view": "invalid_arguments",
    "files": "invalid_arguments",  # files.completeUploadExternal
}
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_VIEW_TITLE, MAX_PRIVATE_METADATA, MAX_CALLBACK_ID = 24, 3000, 255
MAX_VIEW_BYTES = 250_000  # views.open refuses larger views with view_too_large
MAX_TEXT, MAX_MARKDOWN_TEXT = 40_000, 12_000
RESPONSE_URL_USES = 5  # Slack honours a response_url up to five times
HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT = 100, 999


class SlackError(Exception):
    """A request Slack answers with `{"ok": false, "error": <error>}`."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Call:
    """One Web API request as the fake received it (JSON-text fields already decoded)."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    ok: bool
    status: int = 200
    error: str | None = None


@dataclass
class _Bucket:
    """A token bucket: `burst` calls at most at once, refilled at `rate` calls a second."""

    rate: float
    burst: float
    tokens: float
    at: float  # time.monotonic() of the last refill

    def take(self, now: float) -> int:
        """0 if a call may go now (a token is used), else Slack's Retry-After: whole
        seconds until a token is back, at least 1."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return max(1, math.ceil((1 - self.tokens) / self.rate))


class FakeSlack(LocalServer):
    """A fake Slack workspace: `AsyncWebClient(token=..., base_url=fake.api_url)` talks to it."""

    def __init__(
        self, *, bot_token: str = "xoxb-test", team_id: str = "T0001", bot_user_id: str = "UBOT"
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = "B0001"
        self.app_id = "A0001"
        self.team_name = "FinOps Test"
        self.team_domain = "finops-test"
        self.delay = 0.0
        # Seconds before a call or response counts as arrived: a client that goes away in
        # that time (a killed bot) never reached Slack, and nothing of it is recorded.
        self.arrival_delay = 0.0
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []  # {"channel", "user", "message"}
        self.views: dict[str, dict[str, Any]] = {}  # user id -> published Home tab view
        self.modals: list[dict[str, Any]] = []  # views opened with views.open, oldest first
        self._exchanged: set[str] = set()  # trigger ids already used: each opens one view
        self.joined: set[str] = set()
        self.opened: set[str] = set()
        self._failures: defaultdict[str, deque[tuple[int, int]]] = defaultdict(deque)
        self._hangs: defaultdict[str, deque[float]] = defaultdict(deque)
        self._stalled = 0  # calls being held by `hang_next` right now
        self._refusals: defaultdict[str, deque[str]] = defaultdict(deque)  # see refuse_next
        # Files: file id -> {"filename", "length", "alt_txt", "data" (None until uploaded)}
        self.files: dict[str, dict[str, Any]] = {}
        self._upload_keys: dict[str, str] = {}  # upload URL key -> file id
        self.shared_files: list[dict[str, Any]] = []  # completed uploads, see _complete_upload
        self._limits: dict[str, _Bucket] = {}  # method -> enforced rate limit (see `limit`)
        self._response_uses: dict[str, int] = {}  # response URL path id -> times used
        self._last_ts = 0  # microseconds; Slack's ts is the Unix time of the post
        self._ids = itertools.count(1)
        self._handlers: dict[str, Callable[[dict[str, Any]], Result]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "conversations.open": self._open,
            "conversations.join": self._join,
            "conversations.history": self._history,
            "users.info": self._user_info,
            "views.publish": self._publish_view,
            "views.open": self._open_view,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    # -- lifecycle -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_post("/upload/{key}", self._upload)
        return app

    @property
    def api_url(self) -> str:
        """The Web API base URL; slack_sdk appends the method name."""
        return f"{self.base_url}/api/"

    def response_url(self) -> str:
        """A fresh response URL, as Slack puts in slash command and interaction payloads."""
        key = str(next(self._ids))
        self._response_uses[key] = 0
        return f"{self.base_url}/response/{key}"

    # -- test controls ---------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with a rate limit (429) or a server error."""
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"fail_next supports 429 and 5xx, not {status}")
        # `method` "upload" fails the POST of a file's bytes to its upload URL.
        self._failures[method].extend([(status, retry_after)] * times)

    def hang_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Stall the next `times` calls of `method` for `seconds` before Slack sees them (a
        network stall on the way): a call whose client is still waiting then is carried out
        and answered; one whose client hung up meanwhile is dropped, never carried out
        (recorded with the error `client_gone`)."""
        self._hangs[method].extend([seconds] * times)

    async def stalls_over(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until no call is held by `hang_next` (each has been dropped or carried out)."""
        await self._wait(lambda: [] if self._stalled else [True], 1, timeout, "stalls to end")

    def refuse_next(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 200 `{"ok": false, "error"}`, as
        Slack refuses a call it understood (e.g. `not_in_channel`); nothing is carried out."""
        self._refusals[method].extend([error] * times)

    def limit(self, method: str, per_second: float, *, burst: int | None = None) -> None:
        """Enforce a rate limit on `method` for the workspace, as Slack's tiers do: a token
        bucket holding `burst` calls (default: one second's worth, at least 1), full at first
        and refilled at `per_second`. A call over the limit is answered HTTP 429 with a
        Retry-After in whole seconds (at least 1), recorded as failed, and not carried out.
        Calls refused by `fail_next` do not use tokens."""
        if per_second <= 0 or (burst is not None and burst < 1):
            raise ValueError("per_second must be > 0 and burst >= 1")
        size = float(burst if burst is not None else max(1, math.floor(per_second)))
        self._limits[method] = _Bucket(per_second, size, size, time.monotonic())

    # A `timeout` argument (ASYNC109) keeps test code short: `await slack.wait_for("x", 2)`.
    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        ok: bool | None = None,
    ) -> list[Call]:
        """Wait until `count` calls of `method` (only answered-OK or failed ones if `ok` is set)."""

        def found() -> list[Call]:
            return [c for c in self.calls_to(method) if ok is None or c.ok is ok]

        return await self._wait(found, count, timeout, f"{count} {method} call(s)")

    async def wait_for_responses(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait until `count` bodies were POSTed to response URLs."""
        return await self._wait(lambda: self.responses, count, timeout, f"{count} response(s)")

    def state(self) -> str:
        seen = [f"{c.method}{'' if c.ok else '!'}" for c in self.calls]
        return f"calls so far: {seen}; responses: {len(self.responses)}"

    # -- HTTP ------------------------------------------------------------------------------------

    async def _arrived(self, request: web.Request) -> bool:
        """False when the client went away during `arrival_delay`. A client that goes away is
        noticed within 20 ms, so a killed replica's calls do not hold the fake's shutdown (which
        waits for its handlers) for the rest of the delay."""
        until = time.monotonic() + self.arrival_delay
        while time.monotonic() < until:
            if request.transport is None or request.transport.is_closing():
                return False
            await asyncio.sleep(min(0.02, until - time.monotonic()))
        return not (request.transport is None or request.transport.is_closing())

    async def _api(self, request: web.Request) -> web.Response:
        if not await self._arrived(request):
            return web.Response(status=499)
        at = time.monotonic()
        method = request.match_info["method"]
        if hangs := self._hangs.get(method):
            self._stalled += 1
            try:
                held = await _read_params(request)
                until = time.monotonic() + hangs.popleft()
                while time.monotonic() < until:
                    if request.transport is None or request.transport.is_closing():
                        gone = Call(
                            method, held, dict(request.headers), at, False, 0, "client_gone"
                        )
                        self.calls.append(gone)
                        return web.Response(status=499)
                    await asyncio.sleep(0.02)  # the body stays cached: read again below
            finally:
                self._stalled -= 1
                self._changed.set()
        failures = self._failures.get(method)
        status, retry_after = failures.popleft() if failures else (200, 0)
        bucket = self._limits.get(method)
        if status == 200 and bucket is not None and (wait := bucket.take(at)):
            status, retry_after = 429, wait
        params: dict[str, Any] = {}
        try:
            params = await _read_params(request)  # read even when failing, so the record shows it
            result = self._dispatch(method, params, request) if status == 200 else {}
        except SlackError as failure:
            result = {"ok": False, "error": failure.error}
        if status == 200:
            response, error = web.json_response(result), result.get("error")
        else:
            response = _failure(status, retry_after)
            error = "ratelimited" if status == 429 else f"http_{status}"
        self.calls.append(
            Call(method, params, dict(request.headers), at, error is None, status, error)
        )
        self._changed.set()
        await asyncio.sleep(self.delay)
        return response

    def _dispatch(self, method: str, params: dict[str, Any], request: web.Request) -> Result:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not token.strip():
            raise SlackError("not_authed")
        if scheme.lower() != "bearer" or token.strip() != self.bot_token:
            raise SlackError("invalid_auth")
        handler = self._handlers.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if refusals := self._refusals.get(method):
            raise SlackError(refusals.popleft())
        return {"ok": True, **handler(params)}

    async def _response(self, request: web.Request) -> web.Response:
        if not await self._arrived(request):
            return web.Response(status=499)
        response = await self._accept_response(request)
        await asyncio.sleep(self.delay)  # recorded on arrival, answered late: as for API calls
        return response

    async def _accept_response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        uses = self._response_uses.get(key)
        if uses is None:
            return web.Response(status=404, text="no_service")
        if uses >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        try:
            body = json.loads(await request.text())
        except ValueError:  # not JSON, or not UTF-8
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self._response_uses[key] = uses + 1
        self.responses.append({**body, "url": f"{self.base_url}/response/{key}"})
        self._changed.set()
        return web.Response(text="ok")  # Slack answers response URLs with text/plain "ok"

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2 of a file upload: the bytes, POSTed to the URL files.getUploadURLExternal
        gave (no token: the URL is the credential). Slack answers text/plain `OK - <size>`."""
        at = time.monotonic()
        key = request.match_info["key"]
        data = await request.read()
        failures = self._failures.get("upload")
        status, retry_after = failures.popleft() if failures else (200, 0)
        file_id = self._upload_keys.get(key)
        if status != 200:
            response = _failure(status, retry_after)
        elif file_id is None:
            status, response = 404, web.Response(status=404, text="invalid_upload_url")
        else:
            self.files[file_id]["data"] = data
            response = web.Response(text=f"OK - {len(data)}")
        self.calls.append(
            Call(
                "upload",
                {"key": key, "length": len(data)},
                dict(request.headers),
                at,
                status == 200,
                status,
                None if status == 200 else f"http_{status}",
            )
        )
        self._changed.set()
        await asyncio.sleep(self.delay)
        return response

    # -- methods ---------------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> Result:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": "finops",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> Result:
        channel = _required(params, "channel", "channel_not_found")
        if channel[0] in "UW":  # Slack posts to the bot's DM with that user
            channel = "D" + channel
        message = self._message(params)
        if "thread_ts" in params:
            message["thread_ts"] = str(params["thread_ts"])
        self.messages[(channel, message["ts"])] = message
        return {"channel": channel, "ts": message["ts"], "message": message}

    def _update(self, params: dict[str, Any]) -> Result:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        old = self.messages.get((channel, ts))
        if old is None:  # includes a user id given instead of the DM id, as on Slack
            raise SlackError("message_not_found")
        # Fields left out keep their old value (Slack's documented chat.update behaviour).
        message = {**old, **_content(params), "edited": {"user": self.bot_user_id, "ts": ts}}
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _post_ephemeral(self, params: dict[str, Any]) -> Result:
        channel = _required(params, "channel", "channel_not_found")
        user = _required(params, "user", "user_not_in_channel")
        message = self._message(params)
        self.ephemerals.append({"channel": channel, "user": user, "message": message})
        return {"message_ts": message["ts"]}

    def _open(self, params: dict[str, Any]) -> Result:
        users = params.get("users") or []
        if isinstance(users, str):
            users = [user.strip() for user in users.split(",") if user.strip()]
        if not users:
            if params.get("channel"):
                return {"channel": {"id": str(params["channel"])}}
            raise SlackError("users_list_not_supplied")
        if len(users) > 8:
            raise SlackError("too_many_users")
        channel = "D" + users[0] if len(users) == 1 else "G" + "".join(sorted(users))
        result: Result = {"channel": {"id": channel}}
        if channel in self.opened:
            result |= {"no_op": True, "already_open": True}
        self.opened.add(channel)
        return result

    def _join(self, params: dict[str, Any]) -> Result:
        channel = _required(params, "channel", "channel_not_found")
        if channel[0] in "DG":
            raise SlackError("method_not_supported_for_channel_type")
        result: Result = {"channel": {"id": channel, "is_channel": True, "is_member": True}}
        if channel in self.joined:
            result["warning"] = "already_in_channel"
        self.joined.add(channel)
        return result

    def _history(self, params: dict[str, Any]) -> Result:
        channel = _required(params, "channel", "channel_not_found")
        try:
            limit = int(params.get("limit") or HISTORY_DEFAULT_LIMIT)
        except ValueError:
            raise SlackError("invalid_limit") from None
        limit = min(max(limit, 1), HISTORY_MAX_LIMIT)
        oldest = _ts(params.get("oldest"), Decimal(0), "invalid_ts_oldest")
        cursor = params.get("cursor")  # our cursor is the last ts returned: older ones follow
        latest = _ts(cursor or params.get("latest"), Decimal("inf"), "invalid_ts_latest")
        inclusive = _flag(params.get("inclusive")) and not cursor
        with_metadata = _flag(params.get("include_all_metadata"))

        def wanted(ts: Decimal, message: dict[str, Any]) -> bool:
            if message.get("thread_ts", message["ts"]) != message["ts"]:
                return False  # thread replies stay out of channel history
            return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

        stamped = [(Decimal(ts), m) for (ch, ts), m in self.messages.items() if ch == channel]
        found = sorted((i for i in stamped if wanted(*i)), key=lambda i: i[0], reverse=True)
        page = [
            {k: v for k, v in message.items() if with_metadata or k != "metadata"}
            for _, message in found[:limit]
        ]
        has_more = len(found) > limit
        return {
            "messages": page,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": page[-1]["ts"] if has_more else ""},
        }

    def _user_info(self, params: dict[str, Any]) -> Result:
        user = str(params.get("user") or "")
        profile = self.users.get(user)
        if profile is None and user == self.bot_user_id:
            profile = {"name": "finops", "real_name": "finops", "is_bot": True}
        if profile is None:
            raise SlackError("user_not_found")
        return {
            "user": {"id": user, "team_id": self.team_id, "deleted": False, "is_bot": False}
            | profile
        }

    def _publish_view(self, params: dict[str, Any]) -> Result:
        user = str(params.get("user_id") or "")
        view = params.get("view")
        if not user or not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError("invalid_arguments")
        blocks = view.get("blocks")
        if not _valid_blocks(blocks, MAX_VIEW_BLOCKS):
            raise SlackError("invalid_arguments")
        old = self.views.get(user)
        if params.get("hash") and old is not None and params["hash"] != old["hash"]:
            raise SlackError("hash_conflict")
        view_id = old["id"] if old else f"V{next(self._ids):010d}"
        published = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "home",
            "blocks": blocks,
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:20],
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        self.views[user] = published
        return {"view": published}

    def _open_view(self, params: dict[str, Any]) -> Result:
        """views.open: a modal for the person whose interaction gave the trigger_id (Slack
        answers `invalid_arguments` without one; a trigger opens one view only)."""
        trigger = str(params.get("trigger_id") or "").strip()
        view = params.get("view")
        if not trigger or not isinstance(view, dict) or view.get("type") != "modal":
            raise SlackError("invalid_arguments")
        if trigger in self._exchanged:
            raise SlackError("exchanged_trigger_id")
        title = view.get("title") or {}
        if not (
            _valid_blocks(view.get("blocks"), MAX_VIEW_BLOCKS)
            and isinstance(title, dict)
            and title.get("type") == "plain_text"
            and 0 < len(str(title.get("text") or "")) <= MAX_VIEW_TITLE
            and len(str(view.get("private_metadata") or "")) <= MAX_PRIVATE_METADATA
            and len(str(view.get("callback_id") or "")) <= MAX_CALLBACK_ID
        ):
            raise SlackError("invalid_arguments")
        if len(json.dumps(view)) > MAX_VIEW_BYTES:
            raise SlackError("view_too_large")
        self._exchanged.add(trigger)
        view_id = f"V{next(self._ids):010d}"
        opened = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "title": title,
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view["blocks"],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": hashlib.sha1(json.dumps(view, sort_keys=True).encode()).hexdigest()[:20],
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        self.modals.append(opened)
        return {"view": opened}

    def _upload_url(self, params: dict[str, Any]) -> Result:
        """files.getUploadURLExternal: a file id and a one-off upload URL on this server."""
        filename = str(params.get("filename") or "").strip()
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            raise SlackError("invalid_arguments") from None
        if not filename or length <= 0:
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._ids):010d}"
        key = hashlib.sha1(f"{file_id}:{time.monotonic()}".encode()).hexdigest()
        self._upload_keys[key] = file_id
        self.files[file_id] = {
            "filename": filename,
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "data": None,
        }
        return {"upload_url": f"{self.base_url}/upload/{key}", "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any]) -> Result:
        """files.completeUploadExternal: shares uploaded files in `channel_id` (in the thread of
        `thread_ts` when given). Recorded in `shared_files` with each file's bytes."""
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments")
        shared = []
        for entry in entries:
            found = self.files.get(str(entry.get("id") if isinstance(entry, dict) else ""))
            if found is None or found["data"] is None:
                raise SlackError("file_not_found")
            shared.append({"id": entry["id"], "title": entry.get("title"), **found})
        channel = str(params.get("channel_id") or "")
        thread_ts = str(params.get("thread_ts") or "")
        if thread_ts and (channel, thread_ts) not in self.messages:
            raise SlackError("invalid_thread_ts")
        record = {
            "channel_id": channel,
            "thread_ts": thread_ts,
            "initial_comment": params.get("initial_comment"),
            "files": shared,
        }
        self.shared_files.append(record)
        return {
            "files": [
                {"id": f["id"], "name": f["filename"], "title": f["title"] or f["filename"]}
                for f in shared
            ]
        }

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        content = _content(params)
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "ts": self._next_ts(),
            "text": "",
            **content,
        }

    def _next_ts(self) -> str:
        """The wall-clock time, as Slack stamps posts (unique and increasing, as there)."""
        micros = self._last_ts = max(int(time.time() * 1_000_000), self._last_ts + 100)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus a JSON or form body; JSON-text fields decoded as Slack does."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        params.update(body)
    elif request.can_read_body:
        params.update(await request.post())
    for name, error in JSON_FIELDS.items():
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except json.JSONDecodeError:
                raise SlackError(error) from None
    return params


def _content(params: dict[str, Any]) -> dict[str, Any]:
    """The message fields of a post or update, validated like Slack does."""
    content: dict[str, Any] = {}
    if "text" in params:
        content["text"] = str(params["text"])
        if len(content["text"]) > MAX_TEXT:
            raise SlackError("msg_too_long")
    if "markdown_text" in params:  # Slack's newer alternative to text + blocks
        content["markdown_text"] = str(params["markdown_text"])
        if len(content["markdown_text"]) > MAX_MARKDOWN_TEXT:
            raise SlackError("msg_too_long")
    if "blocks" in params:
        if not _valid_blocks(params["blocks"], MAX_MESSAGE_BLOCKS):
            raise SlackError("invalid_blocks")
        content["blocks"] = params["blocks"]
    if "attachments" in params:
        if not isinstance(params["attachments"], list):
            raise SlackError("invalid_attachments")
        content["attachments"] = params["attachments"]
    if "metadata" in params:
        metadata = params["metadata"]
        if not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_format")
        content["metadata"] = metadata
    if not any(content.get(k) for k in ("text", "markdown_text", "blocks", "attachments")):
        raise SlackError("no_text")
    return content


def _valid_blocks(blocks: Any, limit: int) -> bool:
    return (
        isinstance(blocks, list)
        and len(blocks) <= limit
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    )


def _required(params: dict[str, Any], name: str, error: str) -> str:
    value = str(params.get(name) or "").strip()
    if not value:
        raise SlackError(error)
    return value


def _ts(value: Any, default: Decimal, error: str) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else default
    except ArithmeticError:
        raise SlackError(error) from None


def _flag(value: Any) -> bool:
    """Slack's boolean arguments arrive as true/1 in forms or as JSON booleans."""
    return value is True or str(value).lower() in ("true", "1")


def _failure(status: int, retry_after: int) -> web.Response:
    if status == 429:
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )
    # Slack's edge answers server errors with an HTML page, not the API's JSON.
    return web.Response(
        status=status,
        text=f"<html><body><h1>{status} Server Error</h1></body></html>",
        content_type="text/html",
    )
