"""The composition root: one aiohttp application that serves every platform's endpoint."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text

from bot.core import Bot
from bot.settings import Settings
from storage.engine import Database
from storage.migrate import upgrade

log = logging.getLogger(__name__)
BOT = web.AppKey("bot", Bot)
DATABASE = web.AppKey("database", Database)


def create_app(settings: Settings) -> web.Application:
    app = web.Application()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        app[BOT] = Bot(settings, database)  # refuses a missing secret key before any write
        revision = await upgrade(database)
        log.info("database ready at schema revision %s", revision)
        app[DATABASE] = database
        yield
        await database.dispose()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", healthz)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Liveness and readiness: 200 when the database answers, 503 otherwise."""
    try:
        async with request.app[DATABASE].engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
