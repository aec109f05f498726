"""`GET /charts/<token>.png`: the digest charts the bot stored (storage/costs.py), for Teams
cards (which fetch pictures by URL) and the dashboard's digest archive.

The token is random (bot/costs/chart.py `new_token`), so the URL is the only way to a chart,
as a Slack file link is. A chart never changes once stored: clients may cache it for a year.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from storage import costs

if TYPE_CHECKING:
    from bot.core import Bot

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
FOUND_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
# A miss is not cached: nothing is published before it is stored, but a proxy need not know.
MISSING_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def mount(app: web.Application, bot_key: web.AppKey[Bot]) -> None:
    async def chart(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not TOKEN.fullmatch(token):  # checked before any query
            raise web.HTTPNotFound(text="No such chart.", headers=MISSING_HEADERS)
        async with request.app[bot_key].database.reading() as session:
            png = await costs.chart(session, token)
        if png is None:
            raise web.HTTPNotFound(text="No such chart.", headers=MISSING_HEADERS)
        return web.Response(body=png, content_type="image/png", headers=FOUND_HEADERS)

    app.router.add_get("/charts/{token}.png", chart)
