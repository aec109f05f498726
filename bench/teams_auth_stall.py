"""Teams: how long other requests stall while botbuilder fetches its token-signing keys.

    .venv/bin/python bench/teams_auth_stall.py [--delay 1.5] [--interval 0.05]

botbuilder 4.17 validates every inbound JWT with keys it fetches from an OpenID metadata URL
with a blocking `requests.get` (no timeout) inside async code: on the first request, and again
whenever the cached keys are a day old (`_OpenIdMetadata._refresh`). The bot fetches them in a
thread at start-up and every 12 h instead (`TeamsAdapter._refresh_keys_forever`). Here the
metadata and the JWKS each take `--delay` seconds to answer, and one run measures:

- `baseline`: a bare botbuilder `CloudAdapter` app (a "pong" bot and a trivial `/ping`); its
  first authenticated activity triggers the fetch;
- `bot`: the bot's `create_app(...)`; the activity is sent once the start-up refresher has
  fetched the keys (start-up is timed and `/healthz` is pinged meanwhile as well);
- `bot-cold`: the same, but the activity is sent the moment the server listens, while the
  refresher is still fetching: what the first Teams request after a (re)start meets;
- `bot-slow-token`: keys already fetched; the OUTBOUND token acquisition is made as blocking
  as MSAL's (a synchronous `requests.get` of `--delay` s per credentials object, standing in
  for MSAL's tenant discovery + token POST, which cannot be served on 127.0.0.1), and two
  activities are sent: does the reply's token acquisition stall the loop, and on every turn?
- `bot-emulator-issuer`: the bot configured as in production (no
  FINOPS_TEAMS_OPENID_METADATA_URL, so botbuilder's public-cloud authentication), its two
  metadata URLs (channel, Emulator) pointed at the slow server by patching botbuilder's
  `AuthenticationConstants` in that process only; keys fetched by the refresher; then, twice,
  a forged token (any RSA key) whose unverified `iss` is an Emulator issuer: botbuilder
  validates it against the Emulator metadata URL, which the refresher does not prefetch.

During each activity an open-loop client in this process sends `GET /ping` (baseline) or
`GET /healthz` (bot) every `--interval` s, whether or not earlier ones were answered. The
window starts when the activity is sent and lasts until its answer and the reply at the fake
connector have both arrived, and at least `--min-window` s (default 2 x delay + 0.5 s, the
length of the baseline's stall) so that a fast answer is compared over the same span.
Each server runs in its own spawned process; the slow OpenID server (threads), the fake
Teams connector and the load generator run here. Everything is on 127.0.0.1.
Results: a Markdown table on stdout, JSON in bench/results/teams_auth_stall.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import logging
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tests.*` (OpenID server, fake connector) is not installed

from tests.fakes.bot_framework import FakeConnector  # noqa: E402
from tests.teams_auth import (  # noqa: E402
    BOT_FRAMEWORK_ISSUER,
    TEST_APP_ID,
    TEST_APP_PASSWORD,
    TEST_OUTBOUND_TOKEN,
    TEST_TENANT_ID,
    OpenIdServer,
    StaticTokenCredentials,
    StaticTokenCredentialsFactory,
    TestKeys,
    bearer,
    mint_token,
)

RESULTS = Path(__file__).resolve().parent / "results"
OUTPUT = RESULTS / "teams_auth_stall.json"
START_TIMEOUT = 60.0  # seconds for a child to report its port
STOP_TIMEOUT = 40.0  # seconds for a child to stop (the bot drains its tasks for <= 20 s)
LIFETIME = 300.0  # a child stops by itself after this long, whatever happens
KEYS_TIMEOUT = 60.0  # seconds to wait for the bot's start-up refresher
REPLY_TIMEOUT = 60.0  # seconds to wait for an activity's answer and reply
IDLE = 0.5  # seconds of pings before each activity, for reference
TAIL = 0.3  # seconds of pings after the window, so late answers are seen
MAX_PINGS = 4000  # hard bound per pinger (a few minutes at the default interval)
STALLED = 0.1  # a ping slower than this counts as stalled


# -- the slow OpenID endpoint (this process, its own threads) ----------------------------------


@dataclass
class Served:
    path: str
    started: float  # time.monotonic(), system-wide on Linux: comparable across processes
    finished: float


class SlowOpenIdServer(OpenIdServer):
    """The tests' OpenIdServer, but every answer takes `delay` seconds (slept in the handler
    thread, as a slow login.botframework.com would make botbuilder's `requests.get` wait).
    Its metadata URL carries `?run=<uuid>`: botbuilder caches metadata per URL class-wide.
    It also serves `/token`, the stand-in for MSAL's round trips (bot-slow-token)."""

    def __init__(self, *keys: TestKeys, delay: float) -> None:
        super().__init__(*keys)
        self.delay = delay
        self.run = uuid.uuid4().hex
        self.served: list[Served] = []

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openidconfiguration?run={self.run}"

    @property
    def emulator_metadata_url(self) -> str:
        """A second metadata URL on this server (login.botframework.com's own path)."""
        return f"{self.base_url}/v1/.well-known/openidconfiguration?run={self.run}-emulator"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token?run={self.run}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler_class()
        owner = self

        class SlowHandler(base):
            def do_GET(self) -> None:
                started = time.monotonic()
                path = self.path.split("?", 1)[0]
                time.sleep(owner.delay)  # this thread only: botbuilder's caller waits
                if path == "/token":
                    self._json({"access_token": TEST_OUTBOUND_TOKEN, "expires_in": 3599})
                else:
                    super().do_GET()
                owner.served.append(Served(path, started, time.monotonic()))

        return SlowHandler


# -- the servers (child processes) --------------------------------------------------------------


def _child_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(processName)s %(levelname)s %(message)s")


def _keys_fetched(metadata_url: str) -> bool:
    """Whether botbuilder's class-wide cache holds keys for `metadata_url` in this process."""
    from botframework.connector.auth import JwtTokenExtractor

    metadata = JwtTokenExtractor.metadataCache.get(metadata_url)
    return metadata is not None and metadata.last_updated > datetime.min


async def _serve(app: web.Application, conn: Connection, lifetime: float, began: float) -> None:
    """Serve `app` on a free loopback port, report it, run until told to stop or timed out."""
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()  # runs the app's start-up (the bot: migrations, adapters)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        conn.send({"port": port, "pid": os.getpid(), "app_setup_s": time.monotonic() - began})
        await asyncio.to_thread(conn.poll, lifetime)  # a "stop" message, or the lifetime is up
    finally:
        await runner.cleanup()


def serve_baseline(conn: Connection, lifetime: float, metadata_url: str) -> None:
    """Child: botbuilder as its samples use it: CloudAdapter.process on /api/messages, a bot
    that answers "pong", and a trivial GET /ping."""
    from botbuilder.core import Bot, TurnContext
    from botbuilder.integration.aiohttp import (
        CloudAdapter,
        ConfigurationBotFrameworkAuthentication,
    )

    from tests.teams_auth import teams_config

    _child_logging()

    class PongBot(Bot):
        async def on_turn(self, context: TurnContext) -> None:
            if context.activity.type == "message":
                await context.send_activity("pong")

    async def main() -> None:
        began = time.monotonic()
        # teams_config only reads these two attributes of its OpenIdServer argument
        openid: Any = SimpleNamespace(metadata_url=metadata_url, issuer=BOT_FRAMEWORK_ISSUER)
        credentials = StaticTokenCredentialsFactory()
        adapter = CloudAdapter(
            ConfigurationBotFrameworkAuthentication(
                teams_config(openid), credentials_factory=credentials
            )
        )
        bot = PongBot()

        async def messages(request: web.Request) -> web.StreamResponse:
            return await adapter.process(request, bot) or web.Response(status=201)

        async def ping(request: web.Request) -> web.Response:
            return web.Response(text="pong")

        async def state(request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "keys_fetched": _keys_fetched(metadata_url),
                    "credentials_created": len(credentials.requests),
                }
            )

        app = web.Application()
        app.router.add_post("/api/messages", messages)
        app.router.add_get("/ping", ping)
        app.router.add_get("/bench/state", state)
        await _serve(app, conn, lifetime, began)

    asyncio.run(main())


class SlowTokenCredentials(StaticTokenCredentials):
    """Outbound credentials as blocking as botbuilder's MicrosoftAppCredentials: the first
    `get_access_token` of each object does a synchronous HTTP round trip (MSAL's token cache
    belongs to the MSAL app, which belongs to the credentials object), later ones are cached."""

    fetches = 0  # across all objects, in this process

    def __init__(self, app_id: str, token: str, url: str, **kwargs: Any) -> None:
        super().__init__(app_id, token, **kwargs)
        self.url = url
        self.cached: str | None = None

    def get_access_token(self, force_refresh: bool = False) -> str:
        import requests

        self.token_requests += 1
        if self.cached is None or force_refresh:
            response = requests.get(self.url, timeout=60)
            response.raise_for_status()
            self.cached = response.json()["access_token"]
            SlowTokenCredentials.fetches += 1
        return self.cached


class SlowTokenCredentialsFactory(StaticTokenCredentialsFactory):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> StaticTokenCredentials:
        await super().create_credentials(app_id, oauth_scope, login_endpoint, validate_authority)
        return SlowTokenCredentials(
            app_id, self.token, self.url, tenant_id=self.tenant_id, oauth_scope=oauth_scope
        )


def serve_bot(
    conn: Connection,
    lifetime: float,
    metadata_url: str,
    database_url: str,
    token_url: str,
    emulator_url: str,
) -> None:
    """Child: the bot's own `create_app(...)`, configured as tests/test_teams.py does, plus a
    bench-only GET /bench/state. With `token_url`, outbound tokens are SlowTokenCredentials'.
    With `emulator_url`, the production configuration instead: no metadata URL setting, and
    botbuilder's public-cloud constants patched (in this process) to the local slow server."""
    from botframework.connector.auth import AuthenticationConstants

    from app.server import create_app
    from bot.settings import Settings
    from bot.tasks import TaskTracker

    _child_logging()
    override = metadata_url
    if emulator_url:  # read at call time by botbuilder and by adapters.teams.metadata_url()
        AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = metadata_url
        AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = emulator_url
        override = ""

    async def main() -> None:
        began = time.monotonic()
        settings = Settings(
            DATABASE_URL=database_url,
            FINOPS_SECRET_KEY="bench-Wq7nE2sR9yT4uI1oP6aS3dF8gH0jK5lZxC4vB",
            MicrosoftAppId=TEST_APP_ID,
            MicrosoftAppPassword=TEST_APP_PASSWORD,
            MicrosoftAppTenantId=TEST_TENANT_ID,
            FINOPS_TEAMS_OPENID_METADATA_URL=override,
            FINOPS_TEAMS_SERVICE_URL_ALLOWLIST="127.0.0.1",
            LOG_LEVEL="WARNING",
            _env_file=None,
        )
        credentials = (
            SlowTokenCredentialsFactory(token_url) if token_url else StaticTokenCredentialsFactory()
        )
        app = create_app(settings, tasks=TaskTracker(), teams_credentials=credentials)

        async def state(request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "keys_fetched": _keys_fetched(metadata_url),
                    "emulator_keys_fetched": bool(emulator_url) and _keys_fetched(emulator_url),
                    "credentials_created": len(credentials.requests),
                    "token_fetches": SlowTokenCredentials.fetches,
                }
            )

        app.router.add_get("/bench/state", state)  # bench-only, added from outside
        await _serve(app, conn, lifetime, began)

    asyncio.run(main())


@dataclass
class Server:
    name: str
    base: str
    pid: int
    started: float  # time.monotonic() when the process was started
    listening: float  # time.monotonic() when the parent learnt its port
    app_setup_s: float  # the child's own view: create_app .. listening


@contextlib.asynccontextmanager
async def child_server(name: str, target: Callable[..., None], *args: Any) -> AsyncIterator[Server]:
    """Start `target(conn, LIFETIME, *args)` in a spawned process; stop it (by its handle) on
    exit."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, LIFETIME, *args), name=name, daemon=True)
    started = time.monotonic()
    process.start()
    try:
        if not await asyncio.to_thread(parent.poll, START_TIMEOUT):
            raise RuntimeError(f"{name} did not start within {START_TIMEOUT:.0f} s")
        info = parent.recv()
        yield Server(
            name,
            f"http://127.0.0.1:{info['port']}",
            info["pid"],
            started,
            time.monotonic(),
            info["app_setup_s"],
        )
    finally:
        if process.is_alive():
            parent.send("stop")
            await asyncio.to_thread(process.join, STOP_TIMEOUT)
        if process.is_alive():
            process.terminate()
            await asyncio.to_thread(process.join, 5)


# -- load and statistics --------------------------------------------------------------------------


@dataclass
class Ping:
    sent: float
    latency: float
    status: int  # 0: no answer


@dataclass
class Pinger:
    """Open loop: a GET every `interval` s, whether or not the earlier ones were answered."""

    http: aiohttp.ClientSession
    url: str
    interval: float
    samples: list[Ping] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _inflight: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=REPLY_TIMEOUT)

    async def _run(self) -> None:
        began = time.monotonic()
        for n in range(MAX_PINGS):
            task = asyncio.create_task(self._one())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            await asyncio.sleep(max(0.0, began + (n + 1) * self.interval - time.monotonic()))

    async def _one(self) -> None:
        sent = time.monotonic()
        try:
            async with self.http.get(self.url) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.samples.append(Ping(sent, time.monotonic() - sent, status))

    def between(self, start: float, end: float) -> list[Ping]:
        return [p for p in self.samples if start <= p.sent <= end]


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def stats(pings: list[Ping]) -> dict[str, Any]:
    latencies = sorted(p.latency for p in pings)
    shown = {f"p{p}_ms": round(percentile(latencies, p) * 1000, 1) for p in (50, 99)}
    return {
        "pings": len(pings),
        **shown,
        "max_ms": round((latencies[-1] if latencies else 0.0) * 1000, 1),
        f"over_{STALLED * 1000:.0f}ms": sum(lat > STALLED for lat in latencies),
        "failed": sum(p.status != 200 for p in pings),
    }


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        response.raise_for_status()
        return await response.json()


def message(service_url: str) -> dict[str, Any]:
    """A personal-chat "help" message from a synthetic user, shaped like Teams' samples."""
    return {
        "type": "message",
        "id": uuid.uuid4().hex,
        "timestamp": datetime.now(UTC).isoformat(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {
            "id": "29:1user-bench-synthetic",
            "aadObjectId": "00000000-0000-4000-8000-00000000b001",
            "name": "Bench User",
        },
        "recipient": {"id": f"28:{TEST_APP_ID}", "name": "FinOps"},
        "conversation": {
            "id": "a:1personal-bench-synthetic",
            "conversationType": "personal",
            "tenantId": TEST_TENANT_ID,
        },
        "channelData": {"tenant": {"id": TEST_TENANT_ID}},
        "text": "help",
        "locale": "en-US",
    }


# -- one target ---------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    kind: str  # "baseline" or "bot"
    description: str
    wait_for_keys: bool = True  # bot: send the activity only once the refresher has the keys
    slow_token: bool = False
    emulator_issuer: bool = False  # production configuration, forged Emulator-issuer tokens
    activities: int = 1


TARGETS = (
    Target("baseline", "baseline", "botbuilder CloudAdapter; the first activity fetches keys"),
    Target(
        "bot",
        "bot",
        "create_app; activities after the start-up refresher fetched the keys",
        activities=2,
    ),
    Target(
        "bot-cold",
        "bot",
        f"create_app; activity sent {IDLE} s after it listens (refresher still fetching)",
        wait_for_keys=False,
    ),
    Target(
        "bot-slow-token",
        "bot",
        "create_app, keys fetched; outbound token as blocking as MSAL's (simulated)",
        slow_token=True,
        activities=2,
    ),
    Target(
        "bot-emulator-issuer",
        "bot",
        "production config, keys fetched; forged token with an Emulator issuer (expect 401)",
        emulator_issuer=True,
        activities=2,
    ),
)
# An issuer botbuilder's EmulatorValidation accepts (emulator_validation.py, Auth v3.1 1.0).
EMULATOR_ISSUER = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"


async def send_activity(
    http: aiohttp.ClientSession,
    server: Server,
    ping_url: str,
    connector: FakeConnector,
    keys: TestKeys,
    interval: float,
    min_window: float,
    issuer: str | None = None,
) -> dict[str, Any]:
    """Send one activity while pinging; the window ends when its answer and reply are in, and
    lasts at least `min_window` seconds."""
    posts_before = len(connector.calls_to("post"))
    activity = message(connector.service_url)
    extra = {} if issuer is None else {"issuer": issuer}
    token = mint_token(keys, app_id=TEST_APP_ID, service_url=connector.service_url, **extra)
    headers = {**bearer(token), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as pings_http:
        pinger = Pinger(pings_http, ping_url, interval)
        pinger.start()
        try:
            await asyncio.sleep(IDLE)
            sent = time.monotonic()
            async with http.post(
                server.base + "/api/messages", data=json.dumps(activity).encode(), headers=headers
            ) as response:
                await response.read()
                status = response.status
            answered = time.monotonic()
            replied = None
            if status < 300:  # a refused activity gets no turn, so no reply
                with contextlib.suppress(TimeoutError):
                    calls = await connector.wait_for("post", posts_before + 1, REPLY_TIMEOUT)
                    replied = calls[posts_before].at
            end = max(answered, replied or answered, sent + min_window)
            await asyncio.sleep(max(0.0, end - time.monotonic()) + TAIL)
        finally:
            await pinger.stop()
    return {
        "status": status,
        "answer_s": round(answered - sent, 3),
        "reply_at_connector_s": None if replied is None else round(replied - sent, 3),
        "window_s": round(end - sent, 3),
        "during": stats(pinger.between(sent, end)),
        "idle_before": stats(pinger.between(sent - IDLE, sent - 1e-9)),
        "_sent": sent,
    }


async def run_target(
    target: Target, keys: TestKeys, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    delay, interval = args.delay, args.interval
    result: dict[str, Any] = {"target": target.name, "description": target.description}
    with SlowOpenIdServer(keys, delay=delay) as openid:
        async with FakeConnector() as connector, aiohttp.ClientSession() as http:
            if target.kind == "baseline":
                launch = child_server(target.name, serve_baseline, openid.metadata_url)
                ping_path = "/ping"
            else:
                database_url = f"sqlite:///{workdir / (target.name + '.db')}"
                token_url = openid.token_url if target.slow_token else ""
                emulator_url = openid.emulator_metadata_url if target.emulator_issuer else ""
                launch = child_server(
                    target.name,
                    serve_bot,
                    openid.metadata_url,
                    database_url,
                    token_url,
                    emulator_url,
                )
                ping_path = "/healthz"
            async with launch as server:
                ping_url = server.base + ping_path
                result["process_to_listening_s"] = round(server.listening - server.started, 3)
                result["app_setup_s"] = round(server.app_setup_s, 3)
                if target.kind == "bot" and target.wait_for_keys:
                    result["startup"] = await wait_for_keys(http, server, ping_url, interval)
                state = await get_json(http, server.base + "/bench/state")
                result["keys_fetched_before_first_activity"] = state["keys_fetched"]
                result["activities"] = []
                # a forged token: signed by a key the OpenID server does not publish
                signer = TestKeys(kid="forged") if target.emulator_issuer else keys
                issuer = EMULATOR_ISSUER if target.emulator_issuer else None
                for _ in range(target.activities):
                    measured = await send_activity(
                        http, server, ping_url, connector, signer, interval, args.min_window, issuer
                    )
                    result["activities"].append(measured)
                state = await get_json(http, server.base + "/bench/state")
                result["credentials_created"] = state["credentials_created"]
                if target.slow_token:
                    result["outbound_token_fetches"] = state["token_fetches"]
                if target.emulator_issuer:
                    result["emulator_keys_fetched_after"] = state["emulator_keys_fetched"]
            first = result["activities"][0]["_sent"]
            result["openid_requests"] = [
                {
                    "path": s.path,
                    "started_s": round(s.started - first, 3),  # relative to the 1st activity
                    "finished_s": round(s.finished - first, 3),
                }
                for s in sorted(openid.served, key=lambda s: s.started)
            ]
    for activity in result["activities"]:
        del activity["_sent"]
    return result


async def wait_for_keys(
    http: aiohttp.ClientSession, server: Server, ping_url: str, interval: float
) -> dict[str, Any]:
    """From listening until the refresher has the keys, pinging /healthz all along."""
    async with aiohttp.ClientSession() as pings_http:
        pinger = Pinger(pings_http, ping_url, interval)
        pinger.start()
        try:
            deadline = time.monotonic() + KEYS_TIMEOUT
            while not (await get_json(http, server.base + "/bench/state"))["keys_fetched"]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no keys after {KEYS_TIMEOUT:.0f} s")
                await asyncio.sleep(0.02)
            ready = time.monotonic()
            await asyncio.sleep(TAIL)
        finally:
            await pinger.stop()
    return {
        "keys_ready_after_listening_s": round(ready - server.listening, 3),
        "keys_ready_after_process_start_s": round(ready - server.started, 3),
        "healthz_while_fetching": stats(pinger.between(server.listening, ready)),
    }


# -- report -------------------------------------------------------------------------------------


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| target | activity | HTTP | answer (s) | pings in window | p50 (ms) | p99 (ms) "
        "| max (ms) | pings > 100 ms | max idle (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for n, activity in enumerate(result["activities"], 1):
            during, idle = activity["during"], activity["idle_before"]
            rows.append(
                f"| {result['target']} | {n} | {activity['status']} | {activity['answer_s']:.2f} "
                f"| {during['pings']} | {during['p50_ms']:.1f} | {during['p99_ms']:.1f} "
                f"| {during['max_ms']:.1f} | {during['over_100ms']} | {idle['max_ms']:.1f} |"
            )
    lines = ["\n".join(rows), ""]
    for result in results:
        startup = result.get("startup")
        line = (
            f"- {result['target']}: process start -> listening "
            f"{result['process_to_listening_s']:.2f} s (app setup {result['app_setup_s']:.2f} s)"
        )
        if startup:
            fetching = startup["healthz_while_fetching"]
            line += (
                f"; keys ready {startup['keys_ready_after_listening_s']:.2f} s after listening; "
                f"/healthz meanwhile: {fetching['pings']} pings, p99 {fetching['p99_ms']:.1f} ms,"
                f" max {fetching['max_ms']:.1f} ms"
            )
        fetches = [r["path"] for r in result["openid_requests"]]
        line += f"; OpenID/token requests served: {len(fetches)} ({', '.join(fetches)})"
        line += f"; credentials objects created: {result['credentials_created']}"
        lines.append(line)
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    keys = TestKeys()
    chosen = [t for t in TARGETS if not args.only or t.name in args.only]
    results = []
    with tempfile.TemporaryDirectory(prefix="teams-auth-stall-") as workdir:
        for target in chosen:
            print(f"running {target.name} ...", file=sys.stderr, flush=True)
            results.append(await run_target(target, keys, args, Path(workdir)))
    return {
        "benchmark": "teams_auth_stall",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": {
            name: importlib.metadata.version(name)
            for name in ("botbuilder-core", "botframework-connector", "msrest", "msal", "aiohttp")
        },
        "settings": {
            "delay_per_openid_response_s": args.delay,
            "ping_interval_s": args.interval,
            "min_window_s": args.min_window,
            "idle_before_s": IDLE,
            "tail_s": TAIL,
        },
        "targets": results,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delay", type=float, default=1.5, help="seconds each OpenID/JWKS answer takes"
    )
    parser.add_argument(
        "--interval", type=float, default=0.05, help="seconds between pings (open loop)"
    )
    parser.add_argument(
        "--min-window", type=float, help="shortest window in seconds (default 2 x delay + 0.5)"
    )
    parser.add_argument(
        "--only", nargs="*", choices=[t.name for t in TARGETS], help="run only these targets"
    )
    parser.add_argument("--out", type=Path, default=OUTPUT, help="where to write the JSON")
    args = parser.parse_args()
    if not (0 < args.delay <= 30 and 0.005 <= args.interval <= 1):
        parser.error("--delay must be in (0, 30] and --interval in [0.005, 1]")
    if args.min_window is None:
        args.min_window = 2 * args.delay + 0.5
    if not 0 <= args.min_window <= 60:
        parser.error("--min-window must be in [0, 60]")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    report = asyncio.run(main(arguments))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report["targets"]))
    print(f"\nJSON written to {arguments.out}")
