"""The HTTP server: one aiohttp application that serves every platform's endpoint, the
dashboard and the health check, with the parts it runs built and started in order."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Literal

from aiohttp import web
from sqlalchemy import text

from app.database import opened
from app.http_guard import body_deadline, per_client_limit
from app.platforms import configured_adapters
from app.workers import WorkerProcesses
from bot.core import Bot
from bot.costs import routes as chart_routes
from bot.dashboard import routes as dashboard_routes
from bot.intake import Intake
from bot.outbox import OutboxWorker
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.tasks import TaskTracker
from storage.engine import Database

log = logging.getLogger(__name__)
SHUTDOWN_GRACE = 20.0  # seconds to finish acked work before the process exits
BOT = web.AppKey("bot", Bot)
TASKS = web.AppKey("tasks", TaskTracker)
SCHEDULER = web.AppKey("scheduler", Scheduler)
DATABASE = web.AppKey("database", Database)
OUTBOX = web.AppKey("outbox", OutboxWorker)
INTAKE = web.AppKey("intake", Intake)
Role = Literal["all", "intake", "worker"]
WORKER_POLL_SECONDS = 0.05  # how often a worker process looks for new requests


def create_app(
    settings: Settings,
    *,
    tasks: TaskTracker | None = None,
    teams_credentials: Any = None,
    role: Role = "all",
) -> web.Application:
    """The HTTP application: `/healthz` and the dashboard (`/dashboard`), plus `/slack/events`
    and `/api/messages` when Slack and Teams are configured. `teams_credentials` replaces
    botbuilder's outbound token source (tests use it to talk to a fake connector).

    `role`: "all" does everything in this process; "intake" (`serve` with FINOPS_WORKERS)
    stores and acknowledges requests and starts the worker processes; "worker" (`finops-bot
    work`, not served over HTTP) works the stored requests, the outbox and the schedules.

    The parts are built here, in dependency order, each whole from its constructor: the
    database (it connects at start-up), the bot (it refuses a missing or weak secret key
    before anything is written), the intake, the adapters, the outbox and the scheduler."""
    app = web.Application(
        middlewares=[per_client_limit(settings.max_requests_per_client), body_deadline]
    )
    tasks = TaskTracker() if tasks is None else tasks
    database = Database(settings.database_url)
    bot = Bot(settings, database)
    intake = Intake(
        database,
        bot.voter_key,
        tasks,
        lease=timedelta(seconds=settings.inbox_lease_seconds),
        max_attempts=settings.inbox_max_attempts,
        works_here=role != "intake",
        poll_seconds=WORKER_POLL_SECONDS if role == "worker" else None,
    )
    adapters = configured_adapters(
        settings,
        bot=bot,
        intake=intake,
        tasks=tasks,
        in_worker=role == "worker",
        teams_credentials=teams_credentials,
    )
    transports = {adapter.platform: adapter.transport for adapter in adapters}
    outbox = OutboxWorker(
        database,
        bot.view,
        transports,
        clock=bot.clock,
        max_attempts=settings.outbox_max_attempts,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    bot.on_queued.append(outbox.wake)  # a transaction that queued messages committed
    # Without Slack or Teams (a local trial), the scheduler runs for the console: its posts
    # wait in the outbox until a console prints them (adapters/console).
    scheduler = Scheduler(
        bot,
        set(transports) or {"console"},
        tick_seconds=settings.scheduler_tick_seconds,
        grace=timedelta(hours=settings.digest_grace_hours),
    )
    workers = WorkerProcesses(settings.workers) if role == "intake" else None
    app[TASKS], app[DATABASE], app[BOT] = tasks, database, bot
    app[INTAKE], app[OUTBOX], app[SCHEDULER] = intake, outbox, scheduler
    for adapter in adapters:
        adapter.mount(app)
    if not settings.teams_enabled:
        app.router.add_post("/api/messages", teams_not_configured)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        async with opened(database, migrate=True):
            for adapter in adapters:
                await adapter.start()
            await intake.start()
            if workers is not None:  # the work, the outbox and the schedules run over there
                await workers.start()
            else:
                if transports:
                    outbox.start()
                scheduler.start()
            # What start-up built lives as long as the process: keep it out of every later
            # full garbage collection (each one stalled the loop for 100-200 ms in a burst).
            gc.freeze()
            yield
            if workers is not None:
                await workers.stop()
            await scheduler.stop()
            for adapter in adapters:  # stop taking work, finish what was acked, then close
                await adapter.stop_intake()
            try:
                await tasks.drain(grace=SHUTDOWN_GRACE)
            except TimeoutError:
                log.error(
                    "shutting down with %d acknowledged events not handled; they stay in "
                    "the inbox for the next replica",
                    len(tasks),
                )
            await intake.stop()
            await outbox.stop()  # what is still queued waits in the outbox for any replica
            for adapter in adapters:
                await adapter.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", healthz)
    dashboard_routes.mount(app, settings, BOT)  # always: it needs no platform credentials
    chart_routes.mount(app, BOT)  # /charts/<token>.png, for Teams cards and the dashboard
    return app


async def teams_not_configured(_request: web.Request) -> web.Response:
    """Without an app id, Teams traffic cannot be authenticated, so none is accepted."""
    return web.json_response(
        {
            "error": "Teams is not configured: set MicrosoftAppId (and MicrosoftAppPassword, "
            "MicrosoftAppTenantId)"
        },
        status=401,
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: 200 when the database answers, 503 otherwise."""
    try:
        async with request.app[DATABASE].engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
