"""Shared pieces of the Slack benchmarks: servers in child processes, signed bodies, statistics.

Every server runs in its own spawned process, bound to 127.0.0.1 on a free port, and stops by
itself when told to (a message on its pipe) or when its lifetime runs out, whichever comes first.
The load generators run in the parent, so they never share an event loop with a server.

The servers:
- `serve_baseline`: a bare slack-bolt AsyncApp whose `/finops` listener only acks;
- `serve_fake_slack`: the tests' FakeSlack Web API, optionally with enforced rate limits, plus a
  small control app (`/urls`, `/stats`, `/responses`, `/updates`, `/calls`, `/answered`) through
  which the parent reads what the bot sent;
- `serve_bot`: the bot's own `create_app(...)` pointed at the fake (optionally with more
  settings), plus `/bench/state` (acked work still running, log records per level, event-loop
  lag), `/bench/reset` (lag figures) and `/bench/outbox` (outbox rows per status).

Optional diagnosis of the bot process: BENCH_PROFILE=<file> (cProfile of the main thread) and
BENCH_ASYNCIO_DEBUG=1 (asyncio logs every callback that holds the loop > 50 ms to slack-bot.log).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tests.*` (FakeSlack, signing helpers) is not an installed package

from tests.slack_signing import (  # noqa: E402
    block_actions_body,
    event_body,
    sign,
    slash_command_body,
)

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TEAM = "TBENCH0001"
ADMIN = "UADMIN"
PATH = "/slack/events"
RESULTS = Path(__file__).resolve().parent / "results"
START_TIMEOUT = 60.0  # seconds for a child to report its port
STOP_TIMEOUT = 40.0  # seconds for a child to stop after being told (the bot drains for <= 20 s)

__all__ = [
    "ADMIN",
    "PATH",
    "SECRET",
    "TEAM",
    "CpuMeter",
    "Server",
    "UrlPool",
    "admin_command",
    "block_actions_body",
    "block_texts",
    "bot_idle",
    "child_server",
    "cpu_seconds",
    "event_body",
    "get_json",
    "git_state",
    "percentiles",
    "post_signed",
    "response_kind",
    "serve_apps",
    "serve_baseline",
    "serve_bot",
    "serve_fake_slack",
    "slash_command_body",
    "tally_of",
    "wait_for_quiet_machine",
    "wait_until",
    "write_json",
]


# -- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds, from latencies in seconds."""
    ordered = sorted(latencies)
    shown = {f"p{p}": percentile(ordered, p) for p in (50, 95, 99)}
    shown["max"] = ordered[-1] if ordered else 0.0
    return {name: round(value * 1000, 2) for name, value in shown.items()}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far, every core (Linux /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used during a measurement, in % of one core (the machine has 2: 200 % is all):
    by each named child process, by this process (the load generator), and by everything else
    on the machine; other people's test runs on a shared machine show up as `others`."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return now | {"loadgen": time.process_time(), "machine": machine_cpu_seconds()}

    def start(self) -> None:
        self._start, self._wall = self._now(), time.monotonic()

    def percent(self) -> dict[str, float]:
        used = {k: v - self._start[k] for k, v in self._now().items()}
        wall = time.monotonic() - self._wall
        machine = used.pop("machine")
        used["others"] = max(0.0, machine - sum(used.values()))
        return {name: round(100 * seconds / wall, 1) for name, seconds in used.items()}


async def wait_for_quiet_machine(
    within: float, busy_below: float = 15.0, window: float = 5.0
) -> dict[str, float]:
    """Wait (at most `within` s) until the whole machine is busy less than `busy_below` % of
    one core over `window` s (other people's test runs share it); the last window's figure."""
    started = time.monotonic()
    while True:
        before, at = machine_cpu_seconds(), time.monotonic()
        await asyncio.sleep(window)
        busy = 100 * (machine_cpu_seconds() - before) / (time.monotonic() - at)
        waited = time.monotonic() - started
        if busy < busy_below or waited >= within:
            return {"busy_percent": round(busy, 1), "waited_s": round(waited, 1)}


# -- reading what the bot sent ----------------------------------------------------------------

_TALLY_LINE = re.compile(r"^(\d+)\. (.*?): ([\d,]+) votes?\b", re.MULTILINE)


def block_texts(blocks: list[dict[str, Any]] | None) -> str:
    """The text of every section and context block, one per line."""
    texts = []
    for block in blocks or []:
        if block.get("type") == "section":
            texts.append((block.get("text") or {}).get("text", ""))
        elif block.get("type") == "context":
            texts += [element.get("text", "") for element in block.get("elements", [])]
    return "\n".join(texts)


def tally_of(text: str) -> dict[int, int]:
    """Option -> votes from a poll message's lines `1. A: 667 votes (...)`."""
    return {int(m[1]): int(m[3].replace(",", "")) for m in _TALLY_LINE.finditer(text)}


def response_kind(text: str) -> str:
    """A coarse label for a private answer, to check the background work did its job."""
    if "something went wrong" in text:
        return "error"
    for kind, marker in (
        ("win logged", "Logged win #"),
        ("rate limited", "in the last hour"),
        ("wins list", "Wins this week"),
        ("vote recorded", "Your vote is"),
        ("vote changed", "Changed your vote"),
        ("poll created", " is up. Votes:"),
    ):
        if marker in text:
            return kind
    return "help" if "help" in text.lower() else "other"


# -- child processes --------------------------------------------------------------------------


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] += 1


def _quiet_logging(name: str) -> Counter[str]:
    """WARNING and above only, into bench/results/<name>.log (a flood of tracebacks on the
    terminal would slow the server and hide the results); returns live counts per level."""
    RESULTS.mkdir(exist_ok=True)
    logging.basicConfig(
        level=logging.WARNING,
        filename=RESULTS / f"{name}.log",
        filemode="w",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    counter = _CountingHandler()
    logging.getLogger().addHandler(counter)
    return counter.counts


async def _serve(
    apps: list[web.Application], conn: Connection, lifetime: float, ready: dict[str, Any]
) -> None:
    """Serve `apps` on free loopback ports, report them, run until told to stop or timed out."""
    runners = []
    try:
        ports = []
        for app in apps:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            ports.append(runner.addresses[0][1])
        conn.send({"ports": ports, "pid": os.getpid(), **ready})
        await asyncio.to_thread(conn.poll, lifetime)  # a "stop" message, or the lifetime is up
    finally:
        for runner in reversed(runners):  # the bot's cleanup drains its tasks (<= 20 s)
            await runner.cleanup()


async def serve_apps(apps: list[web.Application], conn: Connection, lifetime: float) -> None:
    """For a benchmark's own child process: serve `apps` as the servers here do."""
    await _serve(apps, conn, lifetime, {})


def serve_baseline(conn: Connection, lifetime: float, process_before_response: bool) -> None:
    """Child: a bare bolt AsyncApp (bolt's own signature check on), `/finops` only acks."""
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    _quiet_logging("slack-baseline")

    # bolt needs a token or an authorize function; this constant one is what the bot uses too,
    # so neither side calls auth.test.
    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=TOKEN)

    async def main() -> None:
        bolt = AsyncApp(
            signing_secret=SECRET,
            authorize=authorize,
            process_before_response=process_before_response,
        )

        @bolt.command("/finops")
        async def finops(ack: Callable[[], Awaitable[None]]) -> None:
            await ack()

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await bolt.async_dispatch(await to_bolt_request(request))
            )

        app = web.Application()
        app.router.add_post(PATH, events)
        await _serve([app], conn, lifetime, {})

    asyncio.run(main())


def serve_fake_slack(
    conn: Connection,
    lifetime: float,
    limits: dict[str, tuple[float, int]] | None = None,
    delay: float = 0.0,
) -> None:
    """Child: FakeSlack (ports[0] is unused directly; api_url is reported) + control app.
    `limits`: method -> (calls per second, burst), enforced by the fake (HTTP 429); `delay`:
    seconds before every Web API and response URL answer (a distant Slack)."""
    from tests.fakes.slack_api import FakeSlack

    _quiet_logging("slack-fake")

    class TimedFakeSlack(FakeSlack):
        """Also notes when each response URL was first answered (time.monotonic())."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.answered_at: dict[str, float] = {}

        def build_app(self) -> web.Application:
            app = super().build_app()

            @web.middleware
            async def timed(request: web.Request, handler: Any) -> web.StreamResponse:
                at = time.monotonic()
                response = await handler(request)
                if request.path.startswith("/response/") and response.status == 200:
                    self.answered_at.setdefault(f"{self.base_url}{request.path}", at)
                return response

            app.middlewares.append(timed)
            return app

    async def main() -> None:
        async with TimedFakeSlack(bot_token=TOKEN, team_id=TEAM) as fake:
            for method, (per_second, burst) in (limits or {}).items():
                fake.limit(method, per_second, burst=burst)
            fake.delay = delay

            async def urls(request: web.Request) -> web.Response:
                count = min(int(request.query.get("n", "1000")), 20_000)
                return web.json_response([fake.response_url() for _ in range(count)])

            async def stats(request: web.Request) -> web.Response:
                methods = Counter(call.method for call in fake.calls)
                failed = Counter(call.method for call in fake.calls if not call.ok)
                kinds = Counter(response_kind(r.get("text", "")) for r in fake.responses)
                return web.json_response(
                    {
                        "calls": dict(methods),
                        "failed_calls": dict(failed),
                        "responses": len(fake.responses),
                        "response_kinds": dict(kinds),
                        "monotonic": time.monotonic(),
                    }
                )

            async def responses(request: web.Request) -> web.Response:
                url = request.query["url"]
                return web.json_response([r for r in fake.responses if r["url"] == url])

            async def updates(request: web.Request) -> web.Response:
                # chat.update calls in arrival order; `at` is time.monotonic() in this process,
                # the same clock as the parent's on Linux (CLOCK_MONOTONIC is system-wide).
                found = [
                    {
                        "at": call.at,
                        "ok": call.ok,
                        "error": call.error,
                        "text": call.params.get("text", ""),
                        "blocks_text": block_texts(call.params.get("blocks")),
                    }
                    for call in fake.calls_to("chat.update")
                ]
                return web.json_response(found)

            async def calls(request: web.Request) -> web.Response:
                # Every call of one method, in arrival order: what a DM fan-out is checked with.
                found = [
                    {
                        "at": call.at,
                        "ok": call.ok,
                        "status": call.status,
                        "error": call.error,
                        "channel": str(call.params.get("channel", "")),
                        "outbox_id": _outbox_id(call.params.get("metadata")),
                    }
                    for call in fake.calls_to(request.query["method"])
                ]
                return web.json_response(found)

            async def answered(request: web.Request) -> web.Response:
                # Response URL -> when it was first answered (time.monotonic() here).
                return web.json_response(fake.answered_at)

            async def count(request: web.Request) -> web.Response:
                # Cheap progress check: answered-OK calls of one method.
                method = request.query["method"]
                ok = sum(1 for call in fake.calls if call.method == method and call.ok)
                return web.json_response({"ok": ok, "monotonic": time.monotonic()})

            async def reset(request: web.Request) -> web.Response:
                # Forget what earlier targets sent, so the next one is checked on its own.
                fake.calls.clear()
                fake.responses.clear()
                fake.answered_at.clear()
                return web.json_response({})

            control = web.Application()
            control.router.add_get("/reset", reset)
            control.router.add_get("/calls", calls)
            control.router.add_get("/answered", answered)
            control.router.add_get("/count", count)
            control.router.add_get("/urls", urls)
            control.router.add_get("/stats", stats)
            control.router.add_get("/responses", responses)
            control.router.add_get("/updates", updates)
            await _serve([control], conn, lifetime, {"api_url": fake.api_url})

    asyncio.run(main())


def _outbox_id(metadata: Any) -> int | None:
    """The outbox id the bot puts in a message's metadata, if any."""
    if not isinstance(metadata, dict):
        return None
    found = (metadata.get("event_payload") or {}).get("outbox_id")
    return int(found) if isinstance(found, int | str) and str(found).isdigit() else None


async def _loop_lag(
    lags: list[float], tick: float = 0.01, stalls: list[tuple[float, float]] | None = None
) -> None:
    """How late a 10 ms sleep wakes up: the time the event loop was busy with something else
    (an ack waiting behind it waits as long). `stalls` gets (time.monotonic(), lag) of each
    lag over 100 ms."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(tick)
        lags.append(max(0.0, time.perf_counter() - started - tick))
        if stalls is not None and lags[-1] > 0.1:
            stalls.append((time.monotonic(), lags[-1]))
        if len(lags) > 1_000_000:  # bounded memory for very long runs
            del lags[: len(lags) // 2]


class _GcPauses:
    """A gc callback: how long the collector stopped the process, per generation."""

    def __init__(self) -> None:
        self._started = 0.0
        self.clear()

    def clear(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.long: list[tuple[float, float]] = []  # (time.monotonic(), seconds) of > 50 ms

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        self.pauses[info["generation"]].append(took)
        if took > 0.05:
            self.long.append((time.monotonic(), took))

    def summary(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            f"gen{gen}": {
                "count": len(pauses),
                "total_ms": round(sum(pauses) * 1000, 1),
                "max_ms": round(max(pauses, default=0.0) * 1000, 1),
            }
            for gen, pauses in self.pauses.items()
        }
        shown["over_50ms"] = [[round(at, 3), round(took * 1000, 1)] for at, took in self.long]
        return shown


def serve_bot(
    conn: Connection,
    lifetime: float,
    database_url: str,
    api_url: str,
    overrides: dict[str, Any] | None = None,
    code_root: str | None = None,
) -> None:
    """Child: the bot's HTTP app, Slack mounted at /slack/events, Web API = the fake.
    `overrides`: more settings by their environment names, e.g. FINOPS_OUTBOX_SLACK_RATE.
    `code_root`: serve the bot's code from this checkout instead (an earlier commit, see
    `checkout`), so two versions are measured side by side in one run."""
    if code_root:
        sys.path.insert(0, code_root)
    from app.server import DATABASE, create_app
    from bot.settings import Settings
    from bot.tasks import TaskTracker
    from storage import outbox

    log_counts = _quiet_logging("slack-bot")

    async def main() -> None:
        environment = {
            "DATABASE_URL": database_url,
            # required with PostgreSQL, and strong
            "FINOPS_SECRET_KEY": "bench-Wq7nE2sR9yT4uI1oP6aS3dF8gH0jK5lZxC4vB",
            "FINOPS_ADMINS": ADMIN,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url,
            "LOG_LEVEL": "WARNING",
            **{name: str(value) for name, value in (overrides or {}).items()},
        }
        os.environ.update(environment)  # worker processes (FINOPS_WORKERS) read it
        settings = Settings(**environment, _env_file=None)
        tasks = TaskTracker()
        # With FINOPS_WORKERS this process only stores and acks (code that has the roles).
        roles = {"role": "intake"} if int(environment.get("FINOPS_WORKERS", "0")) else {}
        app = create_app(settings, tasks=tasks, **roles)
        lags: list[float] = []
        stalls: list[tuple[float, float]] = []
        collections = _GcPauses()
        gc.callbacks.append(collections)
        if os.environ.get("BENCH_ASYNCIO_DEBUG"):  # diagnosis: log callbacks that block > 50 ms
            asyncio.get_running_loop().set_debug(True)
            asyncio.get_running_loop().slow_callback_duration = 0.05
        monitor = asyncio.create_task(_loop_lag(lags, stalls=stalls))

        async def state(request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "tasks": len(tasks),
                    "log_records": dict(log_counts),
                    "loop_lag_ms": percentiles(lags),
                    "loop_blocked_over_100ms": sum(lag > 0.1 for lag in lags),
                    "loop_stalls": [[round(at, 3), round(lag * 1000, 1)] for at, lag in stalls],
                    "gc_pauses": collections.summary(),
                }
            )

        async def reset(request: web.Request) -> web.Response:
            lags.clear()
            stalls.clear()
            collections.clear()
            return web.json_response({})

        async def outbox_counts(request: web.Request) -> web.Response:
            async with request.app[DATABASE].session() as session:
                return web.json_response(await outbox.counts(session))

        app.router.add_get("/bench/state", state)  # bench-only routes, added from outside
        app.router.add_post("/bench/reset", reset)
        app.router.add_get("/bench/outbox", outbox_counts)
        try:
            await _serve([app], conn, lifetime, {})
        finally:
            monitor.cancel()

    profile_path = os.environ.get("BENCH_PROFILE")  # optional: cProfile the bot process
    if not profile_path:
        asyncio.run(main())
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(main())
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


@contextmanager
def checkout(ref: str) -> Iterator[str]:
    """A detached worktree of `ref` (e.g. the commit before a change), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="finops-bench-code-") as tmp:
        tree = str(Path(tmp) / "tree")
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", tree, ref], check=True
        )
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree])


@asynccontextmanager
async def fresh_database(database_url: str, tmp: str, name: str) -> AsyncIterator[str]:
    """A new, empty database for one target: a SQLite file in `tmp`, or on the PostgreSQL
    server of `database_url` a database of its own, dropped afterwards."""
    if not database_url.startswith("postgres"):
        yield f"sqlite:///{tmp}/{name}.db"
        return
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.engine import async_url

    server = async_url(database_url)
    database = f"bench_{name}_{os.getpid()}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        await connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield server.set(database=database).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


@dataclass
class Server:
    """A running child server, as the parent sees it."""

    name: str
    base: str
    pid: int
    info: dict[str, Any]


@contextmanager
def child_server(
    name: str, target: Callable[..., None], *args: Any, lifetime: float = 1800.0
) -> Iterator[Server]:
    """Start `target(conn, lifetime, *args)` in a spawned process; stop it on exit. `lifetime`
    is a safety net: the child stops by itself after that many seconds whatever happens."""
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=target, args=(child, lifetime, *args), name=name, daemon=True
    )
    process.start()
    try:
        if not parent.poll(START_TIMEOUT):
            raise RuntimeError(f"{name} did not start within {START_TIMEOUT:.0f} s")
        info = parent.recv()
        yield Server(name, f"http://127.0.0.1:{info['ports'][0]}", info["pid"], info)
    finally:
        if process.is_alive():
            parent.send("stop")
            process.join(STOP_TIMEOUT)
        if process.is_alive():  # only our own child, by its handle
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)


# -- the parent's side ------------------------------------------------------------------------


@dataclass
class Bench:
    """What every benchmark starts from: a database, a fake Slack, and two HTTP clients."""

    database_url: str
    fake: Server
    session: aiohttp.ClientSession  # the load, at most `connections` at once
    control: aiohttp.ClientSession  # setup and checks, never counted


@asynccontextmanager
async def bench_environment(
    database_url: str,
    connections: int,
    limits: dict[str, tuple[float, int]] | None = None,
    api_delay: float = 0.0,
) -> AsyncIterator[Bench]:
    """A fresh SQLite file unless `database_url` is given, and FakeSlack in its own process
    (with `limits`: method -> (calls per second, burst) enforced there, and `api_delay`)."""
    with tempfile.TemporaryDirectory(prefix="finops-bench-") as tmp:
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=connections)
        with child_server("fake-slack", serve_fake_slack, limits, api_delay) as fake:
            async with (
                aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
                aiohttp.ClientSession(timeout=timeout) as control,
            ):
                yield Bench(database_url or f"sqlite:///{tmp}/bench.db", fake, session, control)


async def get_json(session: aiohttp.ClientSession, address: str, /, **params: str) -> Any:
    async with session.get(address, params=params) as response:
        response.raise_for_status()
        return await response.json()


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: str,
    content_type: str = "application/x-www-form-urlencoded",  # Events API: application/json
) -> tuple[int, float]:
    """POST a body signed now, as Slack would; returns (HTTP status, seconds to the response)."""
    headers = {"Content-Type": content_type, **sign(body, SECRET)}
    started = time.perf_counter()
    async with session.post(url, data=body.encode(), headers=headers) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def admin_command(
    session: aiohttp.ClientSession,
    bot: Server,
    fake: Server,
    text: str,
    channel: str = "CBENCH",
    within: float = 60.0,
) -> dict[str, Any]:
    """Run `/finops <text>` as the admin (FINOPS_ADMINS); the private answer it got."""
    [url] = await get_json(session, f"{fake.base}/urls", n="1")
    body = slash_command_body(
        text=text,
        user_id=ADMIN,
        user_name="ada",
        team_id=TEAM,
        channel_id=channel,
        response_url=url,
    )
    status, _ = await post_signed(session, bot.base + PATH, body)
    if status != 200:
        raise RuntimeError(f"/finops {text} was answered HTTP {status}")
    answers: list[dict[str, Any]] = []

    async def answered() -> bool:
        answers[:] = await get_json(session, f"{fake.base}/responses", url=url)
        return bool(answers)

    if await wait_until(answered, within) is None:
        raise RuntimeError(f"no answer to /finops {text} within {within:.0f} s")
    return answers[-1]


async def wait_until(
    check: Callable[[], Awaitable[bool]], within: float, interval: float = 0.25
) -> float | None:
    """Poll `check` until true; the seconds it took, or None after `within` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(interval)
    return None


async def bot_idle(session: aiohttp.ClientSession, bot: Server, within: float) -> float | None:
    """Wait until the bot has no acked work left running; seconds it took, None if it didn't."""

    async def idle() -> bool:
        return (await get_json(session, f"{bot.base}/bench/state"))["tasks"] == 0

    return await wait_until(idle, within)


class UrlPool:
    """Fresh FakeSlack response URLs (one per request, as Slack gives), fetched in batches."""

    def __init__(self, session: aiohttp.ClientSession, control: str, batch: int = 5000) -> None:
        self.session, self.control, self.batch = session, control, batch
        self.urls: list[str] = []
        self._refill: asyncio.Task[None] | None = None

    async def fill(self, count: int) -> None:
        self.urls += await get_json(self.session, f"{self.control}/urls", n=str(count))

    async def take(self) -> str:
        if len(self.urls) < self.batch // 2 and self._refill is None:
            self._refill = asyncio.create_task(self._fill_in_background())
        while not self.urls and self._refill is not None:
            await asyncio.shield(self._refill)
        return self.urls.pop()

    async def _fill_in_background(self) -> None:
        try:
            await self.fill(self.batch)
        finally:
            self._refill = None


def git_state() -> str:
    """The commit measured, and whether the bot's code had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!bench", ":!BENCHMARKS.md"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    ignore = RESULTS / ".gitignore"  # shared with other benchmarks: only add what is missing
    kept = ignore.read_text().split() if ignore.exists() else []
    missing = [pattern for pattern in ("*.json", "*.log", "*.prof") if pattern not in kept]
    if missing:
        with ignore.open("a") as handle:
            handle.write("".join(f"{pattern}\n" for pattern in missing))
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
