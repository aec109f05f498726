"""Slack ack latency and throughput: a bare slack-bolt app vs. the bot, same load, one run.

    .venv/bin/python bench/slack_ack.py [--seconds 10] [--concurrency 32] [--database-url URL]
                                        [--rate R] [--before REF] [--workers N]

Both targets get the same load from this process: by default closed loop (an aiohttp client
keeping `--concurrency` requests in flight for `--seconds`), or with `--rate R` open loop (R
requests/s, at most `--concurrency` in flight), after `--warmup` unrecorded requests; the same
command mix, each body freshly signed with a fresh response URL. Each server runs alone
(one after the other) in its own process; a FakeSlack Web API runs in a third process.
Latency is the time to the HTTP response, i.e. the ack Slack waits for (3 s budget).
For the bot, the background work is then awaited and checked against what was acked.
With `--before REF` the bot as it was at commit REF is measured too, in the same run, from a
worktree of that commit (each bot on a fresh database of its own); with `--workers N` the bot
with FINOPS_WORKERS=N too (the serving process only stores and acks; its background check is
then not meaningful, since the work happens in the worker processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import tempfile
import time
from collections import Counter
from typing import Any

import aiohttp
from harness import (
    PATH,
    TEAM,
    CpuMeter,
    Server,
    UrlPool,
    bench_environment,
    bot_idle,
    checkout,
    child_server,
    fresh_database,
    get_json,
    git_state,
    percentiles,
    post_signed,
    serve_baseline,
    serve_bot,
    slash_command_body,
    write_json,
)

# The command mix, in order, repeated: half wins, a quarter listings, a quarter help.
MIX = (
    "win Deleted idle disks $400/mo",
    "wins",
    "win Rightsized 12 dev VMs $1,200/mo #rightsizing",
    "help",
)
USERS = 5000  # rotate authors so the per-person win limit (20 an hour) is never reached
MAX_REQUESTS = 1_000_000  # a hard stop besides the clock


class Load:
    """One client's load: closed loop (`concurrency` workers, each sending the next command
    when answered) or open loop (paced at `rate`, at most `concurrency` in flight)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, pool: UrlPool) -> None:
        self.session, self.url, self.pool = session, url, pool
        self.sequence = itertools.count()
        self.acked: Counter[str] = Counter()  # HTTP 200 per command word, warm-up included

    async def one(self) -> tuple[int, float]:
        i = next(self.sequence)
        text = MIX[i % len(MIX)]
        body = slash_command_body(
            text=text,
            user_id=f"U{i % USERS + 1:05d}",
            user_name=f"user{i % USERS + 1:05d}",
            team_id=TEAM,
            channel_id="CBENCH",
            channel_name="finops-bench",
            response_url=await self.pool.take(),
        )
        try:
            status, seconds = await post_signed(self.session, self.url, body)
        except (aiohttp.ClientError, TimeoutError):
            return 0, 0.0  # counted as an error; no latency recorded
        if status == 200:
            self.acked[text.split()[0]] += 1
        return status, seconds

    async def warm_up(self, concurrency: int, count: int) -> None:
        """Unrecorded requests first (connections, bolt's first dispatch, the database)."""
        warm = itertools.count()

        async def worker() -> None:
            while next(warm) < count:
                await self.one()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def run(self, concurrency: int, seconds: float, rate: float = 0.0) -> dict[str, Any]:
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < deadline and sum(statuses.values()) < MAX_REQUESTS:
                status, took = await self.one()
                statuses[status] += 1
                if status == 200:
                    latencies.append(took)

        gate = asyncio.Semaphore(concurrency)

        async def paced(due: float) -> None:
            # Open loop: request i is due at start + i/rate whatever happened before; its
            # latency counts from that moment, so waiting for a free slot is included.
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            async with gate:
                status, _ = await self.one()
            statuses[status] += 1
            if status == 200:
                latencies.append(time.monotonic() - due)

        started = time.monotonic()
        if rate > 0:
            count = min(int(rate * seconds), MAX_REQUESTS)
            await asyncio.gather(*(paced(started + i / rate) for i in range(count)))
        else:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        requests = sum(statuses.values())
        return {
            "requests": requests,
            "seconds": round(elapsed, 2),
            "throughput_rps": round(requests / elapsed, 1),
            "errors": requests - statuses[200],
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "latency_ms": percentiles(latencies),
        }


async def measure(
    server: Server,
    fake: Server,
    session: aiohttp.ClientSession,
    pool: UrlPool,
    args: argparse.Namespace,
) -> tuple[dict[str, Any], Load]:
    load = Load(session, server.base + PATH, pool)
    await load.warm_up(args.concurrency, args.warmup)
    if server.name == "bot":  # start the timed run with no backlog, and lag figures afresh
        await bot_idle(session, server, args.drain_timeout)
        async with session.post(f"{server.base}/bench/reset") as response:
            response.raise_for_status()
    meter = CpuMeter(server=server.pid, fake_slack=fake.pid)
    meter.start()
    result = await load.run(args.concurrency, args.seconds, args.rate)
    # A load generator near 100 % means the target may be faster than measured; `others`
    # is CPU taken by unrelated processes on this machine during the measurement.
    result["cpu_percent"] = meter.percent()
    return result, load


async def background_check(
    bot: Server, fake: Server, control: aiohttp.ClientSession, load: Load, within: float
) -> dict[str, Any]:
    """Wait (bounded) for the bot's acked work to finish, then compare with what was acked."""
    state = await get_json(control, f"{bot.base}/bench/state")
    backlog = state["tasks"]
    meter = CpuMeter(bot=bot.pid, fake_slack=fake.pid)
    meter.start()
    drained = await bot_idle(control, bot, within)
    stats = await get_json(control, f"{fake.base}/stats")
    logged = (await get_json(control, f"{bot.base}/bench/state"))["log_records"]
    acked = sum(load.acked.values())
    return {
        "tasks_left_when_load_stopped": backlog,
        "loop_lag_ms_during_load": state["loop_lag_ms"],
        "loop_blocked_over_100ms_during_load": state["loop_blocked_over_100ms"],
        "drain_seconds": None if drained is None else round(drained, 2),
        "drain_cpu_percent": meter.percent(),
        "acked_commands": acked,
        "acked_wins": load.acked["win"],
        "response_url_posts": stats["responses"],
        "response_kinds": stats["response_kinds"],
        "chat_postMessage": stats["calls"].get("chat.postMessage", 0),
        "web_api_failures": stats["failed_calls"],
        "bot_log_records": logged,  # WARNING and above, details in bench/results/slack-bot.log
        "complete": stats["responses"] == acked
        and stats["calls"].get("chat.postMessage", 0) == load.acked["win"]
        and "error" not in stats["response_kinds"],
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        "| target | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms "
        "| server CPU | load-gen CPU | other processes' CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lat, cpu = r["latency_ms"], r["cpu_percent"]
        rows.append(
            f"| {name} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | {lat['p50']} "
            f"| {lat['p95']} | {lat['p99']} | {lat['max']} | {cpu['server']} % "
            f"| {cpu['loadgen']} % | {cpu['others']} % |"
        )
    return "\n".join(rows)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    code = git_state()  # now: the servers import the code as it is when they start
    async with bench_environment(args.database_url, args.concurrency) as env:
        database_url, fake, session, control = env.database_url, env.fake, env.session, env.control
        pool = UrlPool(control, fake.base)
        await pool.fill(pool.batch)
        results: dict[str, dict[str, Any]] = {}
        with child_server("baseline", serve_baseline, not args.bolt_default_ack) as base:
            results["baseline (bare bolt)"], _ = await measure(base, fake, session, pool, args)
        if args.before:
            with checkout(args.before) as tree, tempfile.TemporaryDirectory() as tmp:
                async with fresh_database(database_url, tmp, "before") as url:
                    api_url = fake.info["api_url"]
                    with child_server("bot", serve_bot, url, api_url, None, tree) as before:
                        name = f"bot at {args.before}"
                        results[name], _ = await measure(before, fake, session, pool, args)
                        await bot_idle(control, before, args.drain_timeout)
        if args.workers:
            name = f"bot, {args.workers} worker process(es)"
            overrides = {"FINOPS_WORKERS": args.workers}
            with tempfile.TemporaryDirectory() as tmp:
                async with fresh_database(database_url, tmp, "workers") as url:
                    api_url = fake.info["api_url"]
                    with child_server("bot", serve_bot, url, api_url, overrides) as split:
                        results[name], _ = await measure(split, fake, session, pool, args)
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            async with fresh_database(database_url, tmp, "bot") as url:
                await get_json(control, f"{fake.base}/reset")
                with child_server("bot", serve_bot, url, fake.info["api_url"]) as bot:
                    results["bot"], load = await measure(bot, fake, session, pool, args)
                    background = await background_check(
                        bot, fake, control, load, args.drain_timeout
                    )
                # The bot has stopped (its own shutdown drains for up to 20 s): what was
                # acked and never answered at all is lost.
                answered = (await get_json(control, f"{fake.base}/stats"))["responses"]
        background["answers_after_bot_shutdown"] = answered
        background["acked_never_answered"] = background["acked_commands"] - answered
    base_r, bot_r = results["baseline (bare bolt)"], results["bot"]
    return {
        "config": {
            "code": code,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "rate_rps": args.rate or "closed loop",
            "warmup_requests": args.warmup,
            "database": database_url.split(":", 1)[0],
            "baseline_process_before_response": not args.bolt_default_ack,
            "mix": list(MIX),
        },
        "results": results,
        "bot_vs_baseline": {
            "throughput_ratio": round(bot_r["throughput_rps"] / base_r["throughput_rps"], 3),
            "p99_diff_ms": round(bot_r["latency_ms"]["p99"] - base_r["latency_ms"]["p99"], 2),
        },
        "bot_background": background,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per target")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="open loop: this many requests/s in total, at most --concurrency in flight "
        "(default 0: closed loop, as fast as answers come back)",
    )
    parser.add_argument("--warmup", type=int, default=200, help="unrecorded requests first")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument(
        "--before", default="", help="also measure the bot at this git commit, in the same run"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also measure the bot with FINOPS_WORKERS=N (serve stores and acks; N worker "
        "processes do the work), in the same run",
    )
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="seconds, at most")
    parser.add_argument(
        "--bolt-default-ack",
        action="store_true",
        help="baseline with bolt's default process_before_response=False "
        "(default: True, as the bot uses)",
    )
    args = parser.parse_args()
    if not (0 < args.seconds <= 600 and 1 <= args.concurrency <= 1000):
        parser.error("--seconds must be in (0, 600], --concurrency in [1, 1000]")
    if not 0 <= args.rate * args.seconds <= 200_000:
        parser.error("--rate x --seconds must be at most 200,000 requests")
    return args


if __name__ == "__main__":
    args = parse_args()
    report = asyncio.run(main(args))
    print(table(report["results"]))
    ratio = report["bot_vs_baseline"]
    print(
        f"\nbot/baseline throughput: {ratio['throughput_ratio']}; "
        f"p99 bot - baseline: {ratio['p99_diff_ms']:+} ms "
        f"({report['config']['database']}, concurrency {args.concurrency}, "
        f"{f'{args.rate:g} req/s paced' if args.rate else 'closed loop'}, {args.seconds:g} s)"
    )
    b = report["bot_background"]
    print(
        f"bot background: {b['tasks_left_when_load_stopped']} tasks pending when the load "
        f"stopped, drained in {b['drain_seconds']} s (CPU % {b['drain_cpu_percent']}); "
        f"{b['acked_commands']} commands acked, "
        f"{b['response_url_posts']} response_url answers {b['response_kinds']}; "
        f"{b['acked_wins']} wins acked, {b['chat_postMessage']} chat.postMessage; "
        f"Web API failures {b['web_api_failures']}; bot log records {b['bot_log_records']} "
        f"(bench/results/slack-bot.log); complete: {b['complete']}; after the bot shut down: "
        f"{b['answers_after_bot_shutdown']} answers, {b['acked_never_answered']} acked "
        "commands never answered"
    )
    print(
        f"bot event-loop lag during the load (ms): {b['loop_lag_ms_during_load']}, "
        f"{b['loop_blocked_over_100ms_during_load']} stalls > 100 ms"
    )
    print(f"JSON: {write_json('slack_ack.json', report)}")
