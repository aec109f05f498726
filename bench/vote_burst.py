"""A vote burst: 2,000 distinct people click a poll button within 10 seconds.

    .venv/bin/python bench/vote_burst.py [--voters 2000] [--seconds 10] [--waves 0]
                                         [--database-url URL]

The poll is created with a signed `/finops poll "Q?" "A" "B" "C"`; then voter i (U00001 ...)
clicks option (i mod 3) + 1 at start + i x seconds/voters (or, with `--waves K`, in K
simultaneous waves one window/K apart). Every click is a signed `block_actions` POST with its own
response URL. The bot runs in a child process, the FakeSlack Web API in another; this process
sends the clicks and, once the bot's background work is done (bounded wait), reads what the
bot sent: the chat.update calls (count, spacing, tally) and a final `poll results` answer.
Latency counts from the moment a click was due, so any queueing in this client is included.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
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
    admin_command,
    bench_environment,
    block_actions_body,
    block_texts,
    bot_idle,
    child_server,
    get_json,
    git_state,
    percentiles,
    post_signed,
    serve_bot,
    tally_of,
    write_json,
)

OPTIONS = ("A", "B", "C")
CHANNEL = "CVOTES"
ACK_BUDGET = 3.0  # seconds Slack waits for an ack
UPDATE_INTERVAL_GOAL = 1.0  # at most one chat.update per second (tier 3)
_VOTERS = re.compile(r"([\d,]+) voters?\b")


async def command(
    session: aiohttp.ClientSession, bot: Server, fake: Server, text: str, within: float = 60.0
) -> dict[str, Any]:
    """Run `/finops <text>` as the admin in the votes channel; the private answer."""
    return await admin_command(session, bot, fake, text, channel=CHANNEL, within=within)


def tally_summary(text: str) -> dict[str, Any]:
    counts = tally_of(text)
    voters = _VOTERS.findall(text)
    return {
        "by_option": {OPTIONS[k - 1]: v for k, v in sorted(counts.items())},
        "votes": sum(counts.values()),
        "voters_shown": int(voters[-1].replace(",", "")) if voters else None,
    }


async def burst(
    session: aiohttp.ClientSession, bot: Server, poll_id: int, urls: list[str], args: Any
) -> list[dict[str, float]]:
    """Send every click at its due time; one record per click."""
    start = time.monotonic() + 0.5  # time to build every body; each is signed when sent
    window = args.seconds

    def due(i: int) -> float:  # i is 0-based
        if args.waves:
            return start + (i * args.waves // args.voters) * window / args.waves
        return start + i * window / args.voters

    async def click(i: int) -> dict[str, float]:
        option = i % len(OPTIONS) + 1
        body = block_actions_body(
            action_id=f"poll.vote:{option - 1}",
            value=f"{poll_id}:{option}",
            user_id=f"U{i + 1:05d}",
            user_name=f"user{i + 1:05d}",
            team_id=TEAM,
            channel_id=CHANNEL,
            response_url=urls[i],
        )
        when = due(i)
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        try:
            status, _ = await post_signed(session, bot.base + PATH, body)
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        done = time.monotonic()
        return {"status": status, "due": when, "acked_at": done, "latency": done - when}

    return await asyncio.gather(*(click(i) for i in range(args.voters)))


def update_report(
    updates: list[dict[str, Any]], first_due: float, last_ack: float, voters: int
) -> dict[str, Any]:
    ok = [u for u in updates if u["ok"]]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(ok)]
    complete = next((u for u in ok if tally_summary(u["blocks_text"])["votes"] == voters), None)
    final = ok[-1] if ok else None
    return {
        "chat_update_calls": len(updates),
        "chat_update_failed": len(updates) - len(ok),
        "min_gap_s": round(min(gaps), 3) if gaps else None,
        "gaps_under_1s": sum(gap < UPDATE_INTERVAL_GOAL - 0.01 for gap in gaps),
        "final_update_tally": tally_summary(final["blocks_text"]) if final else None,
        # The top-level `text` (notification / screen-reader fallback) of the same update.
        "final_update_fallback_text_tally": tally_summary(final["text"]) if final else None,
        "final_update_fallback_text_chars": len(final["text"]) if final else None,
        "complete_tally_after_last_ack_s": (
            round(complete["at"] - last_ack, 2) if complete else None
        ),
        "last_update_after_last_ack_s": round(final["at"] - last_ack, 2) if final else None,
        # Each update: seconds since the first click was due, and the votes it showed.
        "timeline": [
            [round(u["at"] - first_due, 3), tally_summary(u["blocks_text"])["votes"]]
            for u in updates
        ],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    code = git_state()  # now: the servers import the code as it is when they start
    async with bench_environment(args.database_url, args.connections) as env:
        database_url, fake, session, control = env.database_url, env.fake, env.session, env.control
        with child_server("bot", serve_bot, database_url, fake.info["api_url"]) as bot:
            created = await command(control, bot, fake, 'poll "Q?" "A" "B" "C"')
            found = re.search(r"Poll #(\d+)", created.get("text", ""))
            if found is None:
                raise RuntimeError(f"unexpected answer to the poll command: {created}")
            poll_id = int(found[1])
            await bot_idle(control, bot, 60)  # the poll is posted and remembered
            pool = UrlPool(control, fake.base)
            await pool.fill(args.voters)
            async with control.post(f"{bot.base}/bench/reset") as response:
                response.raise_for_status()
            meter = CpuMeter(bot=bot.pid, fake_slack=fake.pid)
            meter.start()
            clicks = await burst(session, bot, poll_id, pool.urls, args)
            burst_cpu = meter.percent()
            state = await get_json(control, f"{bot.base}/bench/state")
            last_ack = max(c["acked_at"] for c in clicks)
            meter.start()
            drained = await bot_idle(control, bot, args.drain_timeout)
            drain_cpu = meter.percent()
            drain_state = await get_json(control, f"{bot.base}/bench/state")
            updates = await get_json(control, f"{fake.base}/updates")
            stats = await get_json(control, f"{fake.base}/stats")
            results = await command(control, bot, fake, f"poll results {poll_id}")
    statuses = Counter(c["status"] for c in clicks)
    acked = [c for c in clicks if c["status"] == 200]
    expected = Counter(OPTIONS[i % len(OPTIONS)] for i in range(args.voters))
    report_updates = update_report(updates, min(c["due"] for c in clicks), last_ack, args.voters)
    return {
        "config": {
            "code": code,
            "voters": args.voters,
            "window_s": args.seconds,
            "pattern": f"{args.waves} waves" if args.waves else "evenly spread",
            "client_connections": args.connections,
            "database": database_url.split(":", 1)[0],
        },
        "poll_id": poll_id,
        "clicks": {
            "sent": len(clicks),
            "acked_200": statuses[200],
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "sent_over_s": round(max(c["due"] for c in clicks) - min(c["due"] for c in clicks), 2),
            "ack_latency_ms": percentiles([c["latency"] for c in acked]),
            "acks_over_3s": sum(c["latency"] > ACK_BUDGET for c in acked),
        },
        "background": {
            "tasks_pending_after_last_ack": state["tasks"],
            "drained_after_last_ack_s": None if drained is None else round(drained, 2),
            "vote_answers": stats["response_kinds"],
            "web_api_failures": stats["failed_calls"],
            "bot_log_records": drain_state["log_records"],
            "loop_lag_ms_during_burst": state["loop_lag_ms"],
            "loop_stalls_over_100ms_during_burst": state["loop_blocked_over_100ms"],
            # % of one core (2 cores: 200 %); `others` = unrelated processes on the machine
            "cpu_percent_during_burst": burst_cpu,
            "cpu_percent_while_draining": drain_cpu,
        },
        "updates": report_updates,
        "expected_tally": dict(sorted(expected.items())),
        "final_update_matches_expected": (report_updates["final_update_tally"] or {}).get(
            "by_option"
        )
        == dict(sorted(expected.items())),
        "poll_results_answer": tally_summary(block_texts(results.get("blocks"))),
    }


def summary(report: dict[str, Any], voters: int) -> str:
    c, u, b = report["clicks"], report["updates"], report["background"]
    final = u["final_update_tally"] or {"votes": None, "by_option": {}}
    answer = report["poll_results_answer"]

    def verdict(good: bool) -> str:
        return "yes" if good else "**NO**"

    rows = [
        ("clicks sent", f"{c['sent']} over {c['sent_over_s']} s", "", ""),
        ("HTTP 200 acks", c["acked_200"], voters, verdict(c["acked_200"] == voters)),
        ("ack p50 / p99 / max (ms)", "{p50} / {p99} / {max}".format(**c["ack_latency_ms"]), "", ""),
        ("acks over 3 s", c["acks_over_3s"], 0, verdict(c["acks_over_3s"] == 0)),
        (
            "votes in the final chat.update",
            f"{final['votes']} {final['by_option']}",
            voters,
            verdict(final["votes"] == voters),
        ),
        (
            "votes in `poll results`",
            f"{answer['votes']} ({answer['voters_shown']} voters shown)",
            voters,
            verdict(answer["votes"] == voters),
        ),
        ("chat.update calls", u["chat_update_calls"], "", ""),
        (
            "min gap between chat.updates (s)",
            u["min_gap_s"],
            ">= ~1",
            verdict(u["min_gap_s"] is None or u["min_gap_s"] >= 0.95),
        ),
        ("full tally shown, after the last ack (s)", u["complete_tally_after_last_ack_s"], "", ""),
        ("background drained, after the last ack (s)", b["drained_after_last_ack_s"], "", ""),
    ]
    lines = ["| metric | value | goal | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {value} | {goal} | {met} |" for name, value, goal, met in rows]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=2000, help="distinct people (<= 99,999)")
    parser.add_argument("--seconds", type=float, default=10.0, help="window for every click")
    parser.add_argument("--waves", type=int, default=0, help="K simultaneous waves (0: even)")
    parser.add_argument("--connections", type=int, default=256, help="client connection limit")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds, at most")
    args = parser.parse_args()
    if not (1 <= args.voters <= 20_000 and 0 < args.seconds <= 600 and args.waves >= 0):
        parser.error("--voters must be in [1, 20000], --seconds in (0, 600], --waves >= 0")
    return args


if __name__ == "__main__":
    args = parse_args()
    report = asyncio.run(main(args))
    print(summary(report, args.voters))
    b, u = report["background"], report["updates"]
    print(
        f"\nvote answers {b['vote_answers']}; Web API failures {b['web_api_failures']}; "
        f"bot log records {b['bot_log_records']} (bench/results/slack-bot.log)"
    )
    print(
        f"fallback `text` of the final update: {u['final_update_fallback_text_chars']} chars, "
        f"tally readable there: {u['final_update_fallback_text_tally']}"
    )
    print(
        f"bot event-loop lag during the burst (ms): {b['loop_lag_ms_during_burst']}, "
        f"{b['loop_stalls_over_100ms_during_burst']} stalls > 100 ms"
    )
    print(
        f"CPU % of one core, burst: {b['cpu_percent_during_burst']}; "
        f"draining: {b['cpu_percent_while_draining']}"
    )
    print(f"JSON: {write_json('vote_burst.json', report)}")
