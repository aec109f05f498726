"""The dashboard's HTTP routes, mounted on the bot's aiohttp application by `create_app`
whatever platforms are configured (so `finops-bot serve` without credentials serves it).

    GET /dashboard?t=<token>[&period=week|month|quarter|year|all]   the page
    GET /dashboard/digests/<id>?t=<token>                            one archived digest
    GET /dashboard/wins.csv?t=<token>, /dashboard/polls.csv?t=<token> the exports
    GET /dashboard/static/dashboard.css                              the stylesheet (no data)
    GET /favicon.ico, /dashboard/static/favicon.svg                  the icon (an SVG, no data)

Every route but the stylesheet and the icon checks the signed link first; without a valid
one the answer is 403 with a short page that names no workspace. Reads use read-only transactions.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard import data, exports, render
from bot.dashboard.links import Grant, LinkRefused, LinkSigner
from bot.parsing.when import describe
from bot.settings import Settings
from storage import screens, workspaces

if TYPE_CHECKING:
    from bot.core import Bot

log = logging.getLogger(__name__)
# No caching anywhere, no referrer (the link is in the URL), no framing, no scripts at all.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
PLATFORM_NAMES = {"slack": "Slack", "teams": "Microsoft Teams", "console": "Console"}
SAFE_PARAMETERS = frozenset({"period"})  # shown in the access log; every other value is not
_SHOWN = re.compile(r"[A-Za-z0-9_.-]{1,20}")


def redact(path_qs: str) -> str:
    """A request path fit for logs: every query value but a short `period` replaced, however
    it is spelt (`?%74=…` is `?t=…` to the server; `?t%3D…` has no `=` at all), and path
    parameters (`;t=…`) dropped, so no dashboard token ever reaches a log."""
    path, question, query = path_qs.partition("?")
    path, semicolon, _ = path.partition(";")
    shown = path + (";[redacted]" if semicolon else "")
    if not question:
        return shown
    pairs = []
    for pair in re.split(r"[&;]", query):
        raw_key, equals, value = pair.partition("=")
        key = unquote_plus(raw_key)
        if not equals or not _SHOWN.fullmatch(raw_key):
            pairs.append("[redacted]")
        elif key in SAFE_PARAMETERS and _SHOWN.fullmatch(value):
            pairs.append(pair)
        else:
            pairs.append(f"{raw_key}=[redacted]")
    return f"{shown}?{'&'.join(pairs)}"


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's access log without dashboard tokens (they grant access until they expire)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            redact(request.path_qs),
            response.status,
            time * 1000,
        )


class DashboardRoutes:
    def __init__(self, settings: Settings, bot_key: web.AppKey[Bot]) -> None:
        self.settings = settings
        self.bot_key = bot_key
        # The path of FINOPS_PUBLIC_URL, for links behind a reverse proxy that strips it.
        self.prefix = urlsplit(settings.base_url).path.rstrip("/")
        self._signer: LinkSigner | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/dashboard", self.page)
        app.router.add_get(r"/dashboard/digests/{digest:\d{1,18}}", self.digest)
        app.router.add_get("/dashboard/wins.csv", self.wins_csv)
        app.router.add_get("/dashboard/polls.csv", self.polls_csv)
        app.router.add_get("/dashboard/static/dashboard.css", self.css)
        app.router.add_get("/dashboard/static/favicon.svg", self.favicon)
        app.router.add_get("/favicon.ico", self.favicon)

    def signer(self, bot: Bot) -> LinkSigner:
        if self._signer is None:
            lifetime = timedelta(hours=self.settings.dashboard_link_hours)
            self._signer = LinkSigner(bot.voter_key, lifetime, lambda: bot.clock())
        return self._signer

    def _check(self, request: web.Request) -> tuple[Bot, Grant, str]:
        """The bot, the link's grant and the token; raises `LinkRefused` for a missing,
        forged, altered or expired link."""
        bot = request.app[self.bot_key]
        token = request.query.get("t", "")
        return bot, self.signer(bot).check(token), token

    @staticmethod
    async def _workspace(session: AsyncSession, grant: Grant) -> int:
        found = await workspaces.find(session, grant.platform, grant.external_id)
        if found is None:  # signed with our key, for a workspace this database does not hold
            raise LinkRefused("invalid")
        if grant.screen is not None:  # a screen link opens the page until it is revoked
            screen = await screens.get(session, found, grant.screen)
            if screen is None:
                raise LinkRefused("invalid")
            if screen.revoked_at is not None:
                raise LinkRefused("revoked")
        return found

    def _denied(self, reason: str) -> web.Response:
        return web.Response(
            text=render.denied_page(reason, self.prefix),
            status=403,
            content_type="text/html",
            headers=SECURITY_HEADERS,
        )

    def _expires(self, grant: Grant, tz: str = "UTC") -> str:
        """When the link expires, or "" for a screen link (valid until revoked)."""
        return "" if grant.expires_at is None else describe(grant.expires_at, ZoneInfo(tz))

    @staticmethod
    async def _used(bot: Bot, grant: Grant) -> None:
        """A screen link's "last used", written at most every few minutes; never fatal."""
        if grant.screen is None:
            return
        try:
            async with bot.database.session() as session:
                await screens.touch(session, grant.screen, bot.clock())
        except Exception:  # a busy database must not blank the wall
            log.warning("could not note the use of screen link %s", grant.screen, exc_info=True)

    async def page(self, request: web.Request) -> web.Response:
        period = request.query.get("period", data.DEFAULT_PERIOD)
        try:
            bot, grant, token = self._check(request)
            async with bot.database.reading() as session:
                workspace_id = await self._workspace(session, grant)
                board = await data.gather(
                    session, workspace_id, _label(grant), period=period, now=bot.clock()
                )
        except LinkRefused as refused:
            return self._denied(refused.reason)
        await self._used(bot, grant)
        html = render.dashboard_page(
            board,
            token,
            self.prefix,
            expires=self._expires(grant, board.timezone),
            screen=grant.screen,
        )
        return web.Response(text=html, content_type="text/html", headers=SECURITY_HEADERS)

    async def digest(self, request: web.Request) -> web.Response:
        try:
            bot, grant, token = self._check(request)
            async with bot.database.reading() as session:
                workspace_id = await self._workspace(session, grant)
                page = await data.digest_page(
                    session,
                    workspace_id,
                    _label(grant),
                    digest_id=int(request.match_info["digest"]),
                )
                config = await workspaces.settings(session, workspace_id)
        except LinkRefused as refused:
            return self._denied(refused.reason)
        if page is None:
            raise web.HTTPNotFound(text="No such digest.", headers=SECURITY_HEADERS)
        expires = self._expires(grant, config.get("timezone", "UTC"))
        return web.Response(
            text=render.digest_page(page, token, self.prefix, expires=expires),
            content_type="text/html",
            headers=SECURITY_HEADERS,
        )

    async def wins_csv(self, request: web.Request) -> web.StreamResponse:
        return await self._csv(request, "wins")

    async def polls_csv(self, request: web.Request) -> web.StreamResponse:
        return await self._csv(request, "polls")

    async def _csv(self, request: web.Request, kind: str) -> web.StreamResponse:
        try:
            bot, grant, _ = self._check(request)
            async with bot.database.reading() as session:
                workspace_id = await self._workspace(session, grant)
        except LinkRefused as refused:
            return self._denied(refused.reason)
        name = re.sub(
            r"[^A-Za-z0-9._-]", "_", f"finops-{kind}-{grant.platform}-{grant.external_id}"
        )
        response = web.StreamResponse(
            headers={
                **SECURITY_HEADERS,
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name[:120]}.csv"',
            }
        )
        await response.prepare(request)
        await response.write(exports.BOM.encode())
        async for chunk in exports.batches(kind, bot.database, workspace_id):
            await response.write(chunk.encode())
        await response.write_eof()
        return response

    async def favicon(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=render.favicon(),
            content_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    async def css(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=render.stylesheet(),
            content_type="text/css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )


def _label(grant: Grant) -> str:
    return f"{PLATFORM_NAMES.get(grant.platform, grant.platform)} · {grant.external_id}"


def mount(app: web.Application, settings: Settings, bot_key: web.AppKey[Bot]) -> None:
    DashboardRoutes(settings, bot_key).mount(app)
