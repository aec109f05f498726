"""Teams: how long Bot Framework waits for the bot's HTTP answer when the database is slow.

    .venv/bin/python bench/teams_slow_db.py [--delays 0,0.5,2] [--activities 5] [--before REF]
                                            [--database-url postgresql://...]

Bot Framework gives up on a bot after about 15 s, and the goal here is an answer in under 1 s
whatever the database does. PostgreSQL is reached through a TCP proxy in this process that
holds every chunk the bot sends for `delay` seconds before passing it on, so each database
round trip takes `delay` longer. For each delay, the bot (a spawned process, `create_app` as
tests/test_teams.py configures it, against the fake connector and token issuer of the tests)
gets `--activities` personal-chat `win ...` messages one after the other, and the script
records for each: the HTTP answer time, and when the reply reached the fake connector. With
`--before REF` the bot at that commit is measured too, in the same run (its own database).
Results: a Markdown table on stdout, JSON in bench/results/teams_slow_db.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import checkout, fresh_database, git_state, write_json  # noqa: E402
from teams_auth_stall import child_server, message  # noqa: E402
from teams_auth_stall import serve_bot as serve_teams_bot  # noqa: E402

from tests.fakes.bot_framework import FakeConnector  # noqa: E402
from tests.teams_auth import TEST_APP_ID, OpenIdServer, TestKeys, bearer, mint_token  # noqa: E402

REPLY_TIMEOUT = 120.0


class SlowProxy:
    """A TCP proxy to PostgreSQL that delays what the client sends by `delay` seconds."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.delay = 0.0
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> SlowProxy:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(
            self._pipe(reader, up_writer, slow=True), self._pipe(up_reader, writer, slow=False)
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, slow: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if slow and self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        writer.close()


def serve_at(conn: Any, lifetime: float, code_root: str, *args: Any) -> None:
    """Child: `serve_teams_bot` with the bot's code from `code_root` (an earlier commit)."""
    if code_root:
        sys.path.insert(0, code_root)
    serve_teams_bot(conn, lifetime, *args)


async def measure(
    name: str,
    code_root: str,
    database_url: str,
    proxy: SlowProxy,
    delays: list[float],
    count: int,
    openid: OpenIdServer,
    keys: TestKeys,
) -> list[dict[str, Any]]:
    proxied = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    url = proxied.render_as_string(hide_password=False)
    results = []
    async with (
        FakeConnector() as connector,
        child_server(name, serve_at, code_root, openid.metadata_url, url, "", "") as bot,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http,
    ):
        for delay in delays:
            proxy.delay = delay
            answers, replies = [], []
            for _ in range(count):
                activity = message(connector.service_url)
                tag = uuid.uuid4().hex[:8]
                activity["text"] = f"win Deleted idle disks {tag} $400/mo"
                token = mint_token(keys, app_id=TEST_APP_ID, service_url=connector.service_url)
                headers = {**bearer(token), "Content-Type": "application/json"}
                sent = time.monotonic()
                async with http.post(
                    bot.base + "/api/messages", data=json.dumps(activity), headers=headers
                ) as response:
                    await response.read()
                answers.append(time.monotonic() - sent)
                replies.append(await _reply(connector, tag) - sent)
            proxy.delay = 0.0
            results.append(
                {
                    "target": name,
                    "delay_s": delay,
                    "status": response.status,
                    "answer_s": _summary(answers),
                    "reply_s": _summary(replies),
                }
            )
            print(f"{name} delay {delay:g} s: {results[-1]}", flush=True)
    return results


async def _reply(connector: FakeConnector, tag: str) -> float:
    """When the bot's answer to the win tagged `tag` reached the connector."""
    async with asyncio.timeout(REPLY_TIMEOUT):
        while True:
            for call in connector.calls_to("post"):
                if tag in json.dumps(call.json):
                    return call.at
            await asyncio.sleep(0.01)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "min": round(ordered[0], 3),
        "median": round(ordered[len(ordered) // 2], 3),
        "max": round(ordered[-1], 3),
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| target | database delay per round trip | HTTP answer median / max s "
        "| reply at the connector median / max s |",
        "|---|--:|--:|--:|",
    ]
    for r in results:
        a, p = r["answer_s"], r["reply_s"]
        rows.append(
            f"| {r['target']} | {r['delay_s']:g} s | {a['median']} / {a['max']} "
            f"| {p['median']} / {p['max']} |"
        )
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    code = git_state()
    delays = [float(d) for d in args.delays.split(",")]
    keys = TestKeys()
    server = make_url(args.database_url)
    results: list[dict[str, Any]] = []
    with OpenIdServer(keys) as openid, tempfile.TemporaryDirectory() as tmp:
        async with SlowProxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
            if args.before:
                with checkout(args.before) as tree:
                    async with fresh_database(args.database_url, tmp, "teams_before") as url:
                        name = f"bot at {args.before}"
                        results += await measure(
                            name, tree, url, proxy, delays, args.activities, openid, keys
                        )
            async with fresh_database(args.database_url, tmp, "teams_bot") as url:
                results += await measure(
                    "bot", "", url, proxy, delays, args.activities, openid, keys
                )
    return {
        "config": {"code": code, "delays": delays, "activities": args.activities},
        "results": results,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delays", default="0,0.5,2", help="seconds per round trip, comma-separated"
    )
    parser.add_argument("--activities", type=int, default=5, help="messages per delay")
    parser.add_argument("--before", default="", help="also measure the bot at this commit")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server to use (a database of its own is made per target)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    report = asyncio.run(main(parse_args()))
    print(table(report["results"]))
    print(f"JSON: {write_json('teams_slow_db.json', report)}")
