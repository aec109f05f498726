"""Slow or greedy clients cannot hold the server: at most FINOPS_MAX_REQUESTS_PER_CLIENT
requests in flight per client address, the next one refused at once with a 429, while other
addresses are served as usual. Real sockets against the real app."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.settings import Settings
from tests.helpers import TEST_SECRET_KEY, running_bot


async def test_one_address_cannot_take_every_handler(database_url: str):
    settings = Settings(
        DATABASE_URL=database_url,
        FINOPS_SECRET_KEY=TEST_SECRET_KEY,
        FINOPS_MAX_REQUESTS_PER_CLIENT="3",
        _env_file=None,
    )
    async with running_bot(settings) as (client, _tasks):
        server = client.server
        stalled = []
        for _ in range(3):  # headers announcing a body, then nothing: each holds a handler
            reader, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(
                b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
                b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
            )
            await writer.drain()
            stalled.append((reader, writer))
        await asyncio.sleep(0.2)  # the server has read their headers
        refused = await client.get("/healthz")
        assert refused.status == 429 and refused.headers["Retry-After"] == "1"
        # Another address is served meanwhile.
        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=other) as session:
            url = f"http://{server.host}:{server.port}/healthz"
            async with session.get(url) as response:
                assert response.status == 200
        for reader, writer in stalled:  # cut off after the body deadline, slots given back
            answer = await asyncio.wait_for(reader.read(), 60)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
            writer.close()
        assert (await client.get("/healthz")).status == 200
