"""Fan-out: N welcome DMs through a rate-limited fake Slack, and `/finops` acks meanwhile.

    .venv/bin/python bench/fanout.py [--n 10000] [--rate 100] [--burst B] [--database URL]
                                     [--concurrency 32] [--probe-rate 20] [--quiet 10]
                                     [--api-delay S] [--wait-quiet S] [--timeout S] [--quick]

FakeSlack (its own process) enforces a token bucket on chat.postMessage: `--rate` calls a
second, `--burst` at once (HTTP 429 with Retry-After beyond that). The bot (its own process,
SQLite by default) runs with FINOPS_OUTBOX_SLACK_RATE = `--rate`. An admin turns on
`welcome-workspace-joins`; then `--n` signed `team_join` events for distinct people are sent
over HTTP as fast as the bot acks them (`--concurrency` in flight), and each should become one
welcome DM, delivered by the bot's outbox worker. A third process (the probe) sends a signed
`/finops help` every 1/`--probe-rate` s, open loop (latency counts from when it was due): for
`--quiet` seconds before the fan-out, and again from the first join event to the last DM.

Measured: the time from the first event to the N-th DM at the fake against the minimum the
limit allows (N/rate), DMs per person (duplicates and missing must both be 0), the 429s, the
intake of the events, and the help acks (and answers) quiet vs during the fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from harness import (
    PATH,
    TEAM,
    CpuMeter,
    Server,
    UrlPool,
    admin_command,
    bench_environment,
    bot_idle,
    child_server,
    event_body,
    get_json,
    git_state,
    percentiles,
    post_signed,
    serve_apps,
    serve_bot,
    slash_command_body,
    wait_for_quiet_machine,
    wait_until,
    write_json,
)

METHOD = "chat.postMessage"
USERS = "UJ{:06d}"  # the newcomers: UJ000001 ...
PROBE_USERS = 500  # help askers rotate over these (UP0001 ...)
SAMPLE_EVERY = 2.0  # seconds between timeline samples during the fan-out


class Meter(CpuMeter):
    """CpuMeter, with the PostgreSQL server's processes apart from `others`."""

    def _now(self) -> dict[str, float]:
        return super()._now() | {"postgres": postgres_cpu_seconds()}


def postgres_cpu_seconds() -> float:
    """CPU used so far by the PostgreSQL server: its live processes, plus what its exited
    backends used (counted in the postmaster's children time once it has reaped them)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                stats[int(comm.parent.name)] = (comm.parent / "stat").read_text()
        except (OSError, ValueError):
            continue  # gone meanwhile
    total = 0.0
    for stat in stats.values():
        fields = stat.rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(fields[1]) not in stats:  # the postmaster: its parent is not postgres
            total += (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime
    return total


# -- the probe: /finops help at a steady rate, in its own process -----------------------------


class Probe:
    """Open-loop `/finops help`: request i is due at start + i/rate, whatever happened before;
    its latency counts from that moment."""

    def __init__(self, session: aiohttp.ClientSession, url: str, pool: UrlPool) -> None:
        self.session, self.url, self.pool = session, url, pool
        self.sequence = itertools.count()
        self.stop = asyncio.Event()
        self.records: list[dict[str, Any]] = []

    async def one(self, due: float) -> None:
        i = next(self.sequence)
        response_url = await self.pool.take()
        body = slash_command_body(
            text="help",
            user_id=f"UP{i % PROBE_USERS + 1:04d}",
            user_name=f"asker{i % PROBE_USERS + 1:04d}",
            team_id=TEAM,
            channel_id="CPROBE",
            channel_name="finops-probe",
            response_url=response_url,
        )
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        try:
            status, _ = await post_signed(self.session, self.url, body)
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.records.append(
            {"due": due, "latency": time.monotonic() - due, "status": status, "url": response_url}
        )

    async def run(self, rate: float, seconds: float | None) -> list[dict[str, Any]]:
        """Until `seconds` have passed, or (None) until `stop` is set."""
        self.records, self.stop = [], asyncio.Event()
        started = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        for i in itertools.count():
            due = started + i / rate
            if (seconds is not None and due - started >= seconds) or self.stop.is_set():
                break
            # Build and sign shortly before the due time, and never sleep past a stop.
            if due - time.monotonic() > 0.05:
                try:
                    async with asyncio.timeout(due - time.monotonic() - 0.05):
                        await self.stop.wait()
                    break
                except TimeoutError:
                    pass
            task = asyncio.create_task(self.one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        return sorted(self.records, key=lambda r: r["due"])


def serve_probe(conn: Any, lifetime: float, bot_url: str, fake_base: str) -> None:
    """Child: the probe, driven over HTTP: `POST /run?rate=&seconds=` (answers when done),
    `POST /start?rate=` then `POST /stop` (answers with the records)."""

    async def main() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            pool = UrlPool(session, fake_base, batch=2000)
            await pool.fill(pool.batch)
            probe = Probe(session, bot_url, pool)
            running: list[asyncio.Task[list[dict[str, Any]]]] = []

            async def run(request: web.Request) -> web.Response:
                rate, seconds = float(request.query["rate"]), float(request.query["seconds"])
                return web.json_response(await probe.run(rate, seconds))

            async def start(request: web.Request) -> web.Response:
                running.append(asyncio.create_task(probe.run(float(request.query["rate"]), None)))
                return web.json_response({})

            async def stop(request: web.Request) -> web.Response:
                probe.stop.set()
                return web.json_response(await running.pop())

            app = web.Application()
            app.router.add_post("/run", run)
            app.router.add_post("/start", start)
            app.router.add_post("/stop", stop)
            await serve_apps([app], conn, lifetime)

    asyncio.run(main())


# -- the fan-out ------------------------------------------------------------------------------


def team_join_body(i: int) -> str:
    """The Events API envelope Slack sends when person i joins the workspace."""
    user = USERS.format(i)
    event = {
        "type": "team_join",
        "user": {
            "id": user,
            "team_id": TEAM,
            "name": f"newcomer{i}",
            "real_name": f"Newcomer {i}",
            "deleted": False,
            "is_bot": False,
            "profile": {"display_name": f"newcomer{i}", "real_name": f"Newcomer {i}"},
        },
        "event_ts": f"{time.time():.6f}",
        "cache_ts": int(time.time()),
    }
    return event_body(event, event_id=f"EvFANOUT{i:06d}", team_id=TEAM)


async def intake(
    session: aiohttp.ClientSession, url: str, n: int, concurrency: int
) -> dict[str, Any]:
    """Send the N join events, at most `concurrency` in flight, each as soon as a slot frees."""
    numbers = iter(range(1, n + 1))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failed: list[int] = []
    first_sent = time.monotonic()

    async def worker() -> None:
        for i in numbers:
            try:
                status, took = await post_signed(
                    session, url, team_join_body(i), content_type="application/json"
                )
            except (aiohttp.ClientError, TimeoutError):
                status, took = 0, 0.0
            statuses[status] += 1
            if status == 200:
                latencies.append(took)
            else:
                failed.append(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    last_ack = time.monotonic()
    return {
        "first_sent": first_sent,
        "last_ack": last_ack,
        "seconds": round(last_ack - first_sent, 2),
        "events_per_s": round(n / (last_ack - first_sent), 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "ack_latency_ms": percentiles(latencies),
        "not_acked": failed[:20],
    }


async def sample(
    control: aiohttp.ClientSession, bot: Server, fake: Server, started: float
) -> dict[str, Any]:
    """One timeline point: DMs at the fake, outbox rows per status, acked work still queued."""
    delivered = await get_json(control, f"{fake.base}/count", method=METHOD)
    outbox = await get_json(control, f"{bot.base}/bench/outbox")
    state = await get_json(control, f"{bot.base}/bench/state")
    return {
        "t": round(time.monotonic() - started, 1),
        "dms": delivered["ok"],
        "outbox": outbox,
        "queued_rows": sum(outbox.values()),
        "bot_tasks": state["tasks"],
    }


def help_summary(records: list[dict[str, Any]], answered: dict[str, float]) -> dict[str, Any]:
    acked = [r for r in records if r["status"] == 200]
    answers = [answered[r["url"]] - r["due"] for r in acked if r["url"] in answered]
    return {
        "sent": len(records),
        "acked_200": len(acked),
        "ack_ms": percentiles([r["latency"] for r in acked]),
        "acks_over_100ms": sum(r["latency"] > 0.1 for r in acked),
        "answered": len(answers),
        "answer_ms": percentiles(answers),
    }


def dm_report(
    calls: list[dict[str, Any]], n: int, first_event: float, rate: float, burst: int
) -> dict[str, Any]:
    ok = [c for c in calls if c["ok"]]
    per_user = Counter(c["channel"] for c in ok)
    expected = {USERS.format(i) for i in range(1, n + 1)}
    outbox_ids = Counter(c["outbox_id"] for c in ok)
    times = sorted(c["at"] for c in ok)
    nth = times[n - 1] - first_event if len(times) >= n else None
    minimum = n / rate
    # Steady delivery rate: between the 10th and the 90th percentile DM.
    lo, hi = times[len(times) // 10] if times else 0, times[len(times) * 9 // 10] if times else 0
    steady = (len(times) * 8 // 10) / (hi - lo) if hi > lo else None
    return {
        "dms_ok": len(ok),
        "people_with_a_dm": len(per_user.keys() & expected),
        "duplicates": sum(count - 1 for count in per_user.values() if count > 1),
        "missing": len(expected - per_user.keys()),
        "unexpected_recipients": len(per_user.keys() - expected),
        "outbox_ids_sent_twice": sum(1 for k, v in outbox_ids.items() if k is not None and v > 1),
        "calls": len(calls),
        "answered_429": sum(c["status"] == 429 for c in calls),
        "other_failures": Counter(
            str(c["error"] or c["status"]) for c in calls if not c["ok"] and c["status"] != 429
        ),
        "first_dm_after_s": round(times[0] - first_event, 2) if times else None,
        "nth_dm_after_s": round(nth, 2) if nth is not None else None,
        "theoretical_minimum_s": round(minimum, 2),
        "minimum_with_burst_s": round(max(0, n - burst) / rate, 2),
        "ratio_to_minimum": round(nth / minimum, 3) if nth is not None else None,
        "steady_dms_per_s": round(steady, 1) if steady else None,
        # DMs delivered in each second after the first event (the pacing, as the fake saw it).
        "per_second": list(
            Counter(int(t - first_event) for t in times).get(s, 0)
            for s in range(int(times[-1] - first_event) + 1 if times else 0)
        ),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    code = git_state()  # now: the servers import the code as it is when they start
    quiet_machine = await wait_for_quiet_machine(args.wait_quiet) if args.wait_quiet else None
    limits = {METHOD: (args.rate, args.burst)}
    overrides = {"FINOPS_OUTBOX_SLACK_RATE": args.rate}
    async with bench_environment(args.database, args.concurrency, limits, args.api_delay) as env:
        database_url, fake, session, control = env.database_url, env.fake, env.session, env.control
        api_url = fake.info["api_url"]
        with (
            child_server("bot", serve_bot, database_url, api_url, overrides) as bot,
            child_server("probe", serve_probe, bot.base + PATH, fake.base) as probe,
        ):
            answer = await admin_command(control, bot, fake, "config welcome-workspace-joins on")
            if "is now on" not in answer.get("text", ""):
                raise RuntimeError(f"unexpected answer to the config command: {answer}")
            slow = aiohttp.ClientTimeout(total=None)

            async def probe_post(path: str, **params: Any) -> Any:
                query = {k: str(v) for k, v in params.items()}
                async with control.post(probe.base + path, params=query, timeout=slow) as reply:
                    reply.raise_for_status()
                    return await reply.json()

            await probe_post("/run", rate=args.probe_rate, seconds=1)  # warm-up, not recorded
            await bot_idle(control, bot, 60)
            meter = Meter(bot=bot.pid, fake_slack=fake.pid, probe=probe.pid)
            meter.start()
            quiet = await probe_post("/run", rate=args.probe_rate, seconds=args.quiet)
            quiet_cpu = meter.percent()
            await bot_idle(control, bot, 60)
            async with control.post(f"{bot.base}/bench/reset") as response:
                response.raise_for_status()

            # The fan-out: joins as fast as acked; the probe runs until the N-th DM.
            meter.start()
            await probe_post("/start", rate=args.probe_rate)
            started = time.monotonic()
            timeline: list[dict[str, Any]] = []
            sending = asyncio.create_task(
                intake(session, bot.base + PATH, args.n, args.concurrency)
            )
            while not sending.done():
                await asyncio.wait({sending}, timeout=SAMPLE_EVERY)
                timeline.append(await sample(control, bot, fake, started))
            joins = sending.result()
            intake_cpu = meter.percent()
            at_intake_end = timeline[-1]

            async def all_delivered() -> bool:
                timeline.append(await sample(control, bot, fake, started))
                return timeline[-1]["dms"] >= args.n

            done = await wait_until(all_delivered, args.timeout, interval=SAMPLE_EVERY)
            fanout_cpu = meter.percent()
            during = await probe_post("/stop")
            state = await get_json(control, f"{bot.base}/bench/state")
            # The probe's help answers queued behind the joins: let them arrive (bounded).
            drained = await bot_idle(control, bot, args.timeout)
            await asyncio.sleep(1.0)  # a last delivery round, then the final counts
            outbox = await get_json(control, f"{bot.base}/bench/outbox")
            calls = await get_json(control, f"{fake.base}/calls", method=METHOD)
            answered = await get_json(control, f"{fake.base}/answered")
            final_state = await get_json(control, f"{bot.base}/bench/state")

    dms = dm_report(calls, args.n, joins["first_sent"], args.rate, args.burst)
    joins_handled = next((p["t"] for p in timeline if p["queued_rows"] >= args.n), None)
    first = joins["first_sent"]
    gc_long = state["gc_pauses"]["over_50ms"]
    handled_at = first + joins_handled if joins_handled is not None else float("inf")
    phases = {  # the help probe's requests by what the bot was doing when they were due
        "intake (events arriving)": (first, joins["last_ack"]),
        "joins still being handled": (joins["last_ack"], handled_at),
        "only DMs left to send": (handled_at, float("inf")),
    }
    by_phase = {
        name: help_summary([r for r in during if lo <= r["due"] < hi], answered)
        for name, (lo, hi) in phases.items()
    }
    return {
        "config": {
            "code": code,
            "n": args.n,
            "rate_limit_per_s": args.rate,
            "burst": args.burst,
            "FINOPS_OUTBOX_SLACK_RATE": args.rate,
            "database": database_url.split(":", 1)[0],
            "intake_concurrency": args.concurrency,
            "probe_rate_per_s": args.probe_rate,
            "quiet_seconds": args.quiet,
            "api_delay_s": args.api_delay,
            "machine_before_start": quiet_machine,
        },
        "completed": done is not None,
        "dms": dms,
        "intake": {
            **{k: v for k, v in joins.items() if k not in ("first_sent", "last_ack")},
            "bot_tasks_queued_at_last_ack": at_intake_end["bot_tasks"],
            "outbox_rows_at_last_ack": at_intake_end["queued_rows"],
            "all_joins_handled_after_s": joins_handled,  # every welcome in the outbox
            "cpu_percent": intake_cpu,
        },
        "help_quiet": help_summary(quiet, answered) | {"cpu_percent": quiet_cpu},
        "help_during_fanout": help_summary(during, answered) | {"cpu_percent": fanout_cpu},
        "help_during_fanout_by_phase": by_phase,
        "bot": {
            "loop_lag_ms_during_fanout": state["loop_lag_ms"],
            "loop_stalls_over_100ms": state["loop_blocked_over_100ms"],
            # [seconds after the first event, ms] of each stall > 100 ms, and of each GC > 50 ms
            "loop_stalls": [[round(at - first, 2), ms] for at, ms in state["loop_stalls"]],
            "gc_pauses": state["gc_pauses"]
            | {"over_50ms": [[round(at - first, 2), ms] for at, ms in gc_long]},
            "drained_after_last_dm_s": None if drained is None else round(drained, 2),
            "outbox_final": outbox,
            "log_records": final_state["log_records"],
        },
        "timeline": timeline,
    }


def tables(report: dict[str, Any]) -> str:
    c, d, i = report["config"], report["dms"], report["intake"]
    quiet, during = report["help_quiet"], report["help_during_fanout"]
    lag = report["bot"]["loop_lag_ms_during_fanout"]
    rows = [
        ("DMs delivered (HTTP 200 at the fake)", f"{d['dms_ok']:,} of {c['n']:,}"),
        ("duplicates / missing", f"{d['duplicates']} / {d['missing']}"),
        (
            f"first event → {c['n']:,}th DM",
            f"{d['nth_dm_after_s']} s" if d["nth_dm_after_s"] is not None else "**not reached**",
        ),
        (
            f"theoretical minimum N/R ({c['n']:,}/{c['rate_limit_per_s']:g})",
            f"{d['theoretical_minimum_s']} s ({d['minimum_with_burst_s']} s counting the burst "
            f"of {c['burst']})",
        ),
        ("ratio to the minimum", d["ratio_to_minimum"]),
        ("steady delivery rate (10th–90th percentile DM)", f"{d['steady_dms_per_s']} DMs/s"),
        ("first DM after the first event", f"{d['first_dm_after_s']} s"),
        ("chat.postMessage calls / answered 429", f"{d['calls']:,} / {d['answered_429']}"),
        (
            "intake: events acked",
            f"{i['statuses']} in {i['seconds']} s ({i['events_per_s']}/s), ack p50 / p99 / max "
            + "{p50} / {p99} / {max} ms".format(**i["ack_latency_ms"]),
        ),
        (
            "intake: joins still queued in the bot at the last ack",
            f"{i['bot_tasks_queued_at_last_ack']:,} (welcomes in the outbox: "
            f"{i['outbox_rows_at_last_ack']:,})",
        ),
        ("every welcome in the outbox after", f"{i['all_joins_handled_after_s']} s"),
        (
            "bot event-loop lag during the fan-out (ms)",
            "p99 {p99}, max {max}".format(**lag)
            + f"; stalls > 100 ms: {report['bot']['loop_stalls_over_100ms']}",
        ),
        (
            "bot GC pauses (gen 2): count, max ms",
            "{count}, {max_ms}".format(**report["bot"]["gc_pauses"]["gen2"]),
        ),
        ("outbox at the end", report["bot"]["outbox_final"]),
    ]
    lines = ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    lines += [
        "",
        "| `/finops help` | sent | acked | ack p50 ms | ack p99 ms | ack max ms | acks > 100 ms "
        "| answer p50 ms | answer p99 ms | bot CPU | PostgreSQL CPU | others' CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    shown = [("quiet", quiet), ("during the fan-out", during)]
    shown += [(f"… {name}", h) for name, h in report["help_during_fanout_by_phase"].items()]
    for name, h in shown:
        a, ans, cpu = h["ack_ms"], h["answer_ms"], h.get("cpu_percent")
        lines.append(
            f"| {name} | {h['sent']} | {h['acked_200']} | {a['p50']} | {a['p99']} | {a['max']} "
            f"| {h['acks_over_100ms']} | {ans['p50']} | {ans['p99']} "
            + (
                f"| {cpu['bot']} % | {cpu['postgres']} % | {cpu['others']} % |"
                if cpu
                else "| | | |"
            )
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="newcomers, one DM each")
    parser.add_argument("--rate", type=float, default=100.0, help="chat.postMessage limit, /s")
    parser.add_argument(
        "--burst", type=int, default=0, help="the limit's bucket size (default: one second's worth)"
    )
    parser.add_argument(
        "--database", "--database-url", default="", help="default: SQLite in a temp dir"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="join events in flight")
    parser.add_argument("--probe-rate", type=float, default=20.0, help="/finops help per second")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds measured before")
    parser.add_argument("--timeout", type=float, default=0.0, help="default: 3 N/R + 120 s")
    parser.add_argument(
        "--api-delay", type=float, default=0.0, help="seconds the fake takes to answer each call"
    )
    parser.add_argument("--quick", action="store_true", help="N=1000: a fast check")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="first wait up to this many seconds for the machine to be quiet (< 15 %% busy)",
    )
    args = parser.parse_args()
    if args.quick:
        args.n = 1000
    if not (1 <= args.n <= 99_999 and args.rate > 0 and args.burst >= 0):
        parser.error("--n must be in [1, 99999], --rate > 0, --burst >= 0")
    args.burst = args.burst or max(1, int(args.rate))
    args.timeout = args.timeout or 3 * args.n / args.rate + 120
    return args


if __name__ == "__main__":
    args = parse_args()
    report = asyncio.run(main(args))
    path = write_json("fanout.json", report)
    print(tables(report))
    if report["dms"]["other_failures"]:
        print(f"\nother chat.postMessage failures: {json.dumps(report['dms']['other_failures'])}")
    print(f"\nJSON: {path}")
    dms = report["dms"]
    sys.exit(0 if report["completed"] and dms["duplicates"] == dms["missing"] == 0 else 1)
