"""A fake of Slack's Socket Mode endpoint, served over real HTTP and WebSocket on 127.0.0.1.

One small aiohttp app plays both parts Slack plays for a Socket Mode app:

* `POST /api/apps.connections.open` with the app-level token (`Authorization: Bearer xapp-...`)
  answers `{"ok": true, "url": "ws://127.0.0.1:<port>/link/?ticket=..."}`, as Slack does;
* the WebSocket at that URL greets each connection with `hello`, then carries the envelopes the
  test `send`s and records the `{"envelope_id": ...}` acks the app sends back.

Every other `/api/<method>` is forwarded unchanged to an upstream Web API (a `FakeSlack`'s
`api_url`), so an app configured with this server's `api_url` as its `SLACK_API_URL` reaches both
Slack's Socket Mode endpoint and the fake Web API, and FakeSlack records the Web API calls.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any, TypeVar

from aiohttp import ClientSession, ClientTimeout, WSCloseCode, WSMsgType, web

from tests.fakes.server import LocalServer

T = TypeVar("T")
ENVELOPE_TYPES = {"slash_commands", "events_api", "interactive"}
FORWARDED_REQUEST_HEADERS = ("Authorization", "Content-Type")
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Retry-After")


class FakeSocketMode(LocalServer):
    """Slack's Socket Mode endpoint, in front of the Web API at `upstream` (e.g. FakeSlack)."""

    def __init__(
        self, upstream: str | None = None, *, app_token: str = "xapp-test", app_id: str = "A0001"
    ) -> None:
        super().__init__()
        self.upstream = upstream  # a Web API base URL ending in `/`, e.g. `FakeSlack.api_url`
        self.app_token = app_token
        self.app_id = app_id
        self.connections_opened = 0  # successful apps.connections.open calls
        self.hellos = 0  # WebSocket connections greeted, reconnections included
        self.sent: dict[str, dict[str, Any]] = {}  # envelope id -> envelope, in sending order
        self.acks: dict[str, dict[str, Any]] = {}  # envelope id -> the ack message received
        self.received: list[Any] = []  # every message the app sent, acks or not
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._ids = itertools.count(1)
        self._session: ClientSession | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._connections_open)
        app.router.add_route("*", "/api/{method}", self._forward)
        app.router.add_get("/link/", self._link)
        return app

    async def start(self) -> None:
        await super().start()
        self._session = ClientSession(timeout=ClientTimeout(total=30))

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await super().close()

    @property
    def api_url(self) -> str:
        """The Web API base URL to give the app (`SLACK_API_URL`)."""
        return f"{self.base_url}/api/"

    @property
    def connected(self) -> int:
        """How many WebSocket connections are open now."""
        return sum(1 for socket in self._sockets if not socket.closed)

    # -- test controls ---------------------------------------------------------------------------

    async def send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> str:
        """Send an envelope on the newest connection (waiting for one); returns its envelope_id."""
        if envelope_type not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {envelope_type!r}")
        await self.wait_connected(timeout=timeout)
        envelope_id = f"{uuid.uuid4()}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            # Slack sets it where the ack may carry a response (commands, some interactions).
            "accepts_response_payload": (
                envelope_type != "events_api"
                if accepts_response_payload is None
                else accepts_response_payload
            ),
        }
        if envelope_type == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        self.sent[envelope_id] = envelope
        await self._newest_socket().send_str(json.dumps(envelope))
        return envelope_id

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to reconnect, as Slack does every few hours (`type: disconnect`)."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        await self._newest_socket().send_str(json.dumps(message))

    async def wait_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """The app's ack for `envelope_id` (e.g. `{"envelope_id": ...}`), waiting for it."""
        acks = await self._wait(
            lambda: [self.acks[envelope_id]] if envelope_id in self.acks else [],
            1,
            timeout,
            f"the ack of envelope {envelope_id}",
        )
        return acks[0]

    async def wait_connected(
        self,
        hellos: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until `hellos` connections were greeted in all and one of them is still open."""

        def ready() -> list[bool]:
            return [True] if self.hellos >= hellos and self.connected else []

        await self._wait(ready, 1, timeout, f"{hellos} connection(s)")

    async def wait_disconnected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no connection is open (the app closed its side)."""
        await self._wait(lambda: [] if self.connected else [True], 1, timeout, "no connection")

    def state(self) -> str:
        return (
            f"connections opened: {self.connections_opened}, hellos: {self.hellos}, "
            f"open now: {self.connected}, acks: {len(self.acks)}"
        )

    def _newest_socket(self) -> web.WebSocketResponse:
        open_sockets = [socket for socket in self._sockets if not socket.closed]
        if not open_sockets:
            raise RuntimeError("no Socket Mode connection is open")
        return open_sockets[-1]

    # -- HTTP and WebSocket ----------------------------------------------------------------------

    async def _connections_open(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if scheme.lower() != "bearer" or not token.startswith("xapp-"):
            return web.json_response({"ok": False, "error": "not_allowed_token_type"})
        if token != self.app_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        ticket = f"{next(self._ids)}-{uuid.uuid4().hex}"
        self._tickets.add(ticket)
        self.connections_opened += 1
        link = self.base_url.replace("http://", "ws://", 1)
        url = f"{link}/link/?ticket={ticket}&app_id={self.app_id}"
        return web.json_response({"ok": True, "url": url})

    async def _link(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        self.hellos += 1
        await socket.send_str(json.dumps(self._hello()))
        self._changed.set()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    data = message.data
                self.received.append(data)
                if isinstance(data, dict) and data.get("envelope_id") in self.sent:
                    self.acks.setdefault(data["envelope_id"], data)
                self._changed.set()
        finally:
            self._sockets.remove(socket)
            self._changed.set()
        return socket

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": self.connected,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    async def _forward(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if self.upstream is None or self._session is None:
            return web.json_response({"ok": False, "error": "unknown_method", "req_method": method})
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k))}
        async with self._session.request(
            request.method,
            self.upstream + method,
            params=request.query,
            data=await request.read(),
            headers=headers,
        ) as answer:
            body = await answer.read()
            back = {k: v for k in FORWARDED_RESPONSE_HEADERS if (v := answer.headers.get(k))}
            return web.Response(status=answer.status, body=body, headers=back)
