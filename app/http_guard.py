"""What every HTTP request meets before its handler: slow or greedy clients cannot hold the
server (finding 7 of the hardening issue: 300 bodies that never arrived made `/healthz` and
signed commands time out)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)
BODY_SECONDS = 5.0  # a request's body must arrive within this; Slack and Teams send at once


@web.middleware
async def body_deadline(request: web.Request, handler: Any) -> web.StreamResponse:
    """Read every request body first, within BODY_SECONDS, so a client that sends headers and
    then nothing (or a trickle) cannot hold a connection and a handler for ever: it gets a
    408 and the connection is closed. Handlers then read the cached body."""
    if request.body_exists:
        try:
            async with asyncio.timeout(BODY_SECONDS):
                await request.read()
        except TimeoutError:
            log.warning("closed a request from %s: its body did not arrive", request.remote)
            response = web.json_response(
                {"error": "the request body did not arrive in time"},
                status=408,
                headers={"Connection": "close"},
            )
            await response.prepare(request)
            await response.write_eof()
            if request.protocol is not None:  # no lingering read of what never comes
                request.protocol.force_close()
            return response
    return await handler(request)


def per_client_limit(limit: int) -> Any:
    """At most `limit` requests in flight per client address (0: no limit); the next gets a
    429 at once with Retry-After, so one client's slow or stuck requests cannot take every
    handler. Behind a reverse proxy every request has the proxy's address: raise the limit
    there or set it to 0 and let the proxy limit per client."""
    in_flight: Counter[str] = Counter()

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        client = request.remote or ""
        if limit and in_flight[client] >= limit:
            log.warning("refused a request from %s: %d already in flight", client, limit)
            return web.json_response(
                {"error": "too many requests in flight from this address"},
                status=429,
                headers={"Retry-After": "1"},
            )
        in_flight[client] += 1
        try:
            return await handler(request)
        finally:
            in_flight[client] -= 1
            if not in_flight[client]:
                del in_flight[client]

    return middleware
