"""The dashboard's time to first byte for a workspace with 100,000 wins.

    .venv/bin/python bench/dashboard.py [--wins 100000] [--requests 50] [--long-periods 10]
                                        [--keep DIR]

1. Makes a scratch SQLite database (migrated by the bot's own `upgrade`) and fills one workspace
   with bulk inserts: the wins spread over the last two years (one or two categories and one to
   three people each, 10% cost avoidance, 10% in EUR, 1% undone), 30 polls with votes (a third
   anonymous), five committee members, five metrics, 40 decisions and 100 archived digests.
2. Starts `finops-bot serve` on 127.0.0.1 in a child process (no platform credentials).
3. Over real HTTP (a new connection per request, as a browser opening a link does), sends
   `GET /healthz` (the baseline) and `GET /dashboard?t=<signed link>` alternately, and records
   the time to the first byte of the answer and to its last byte; `&period=year` and
   `&period=all` too (fewer requests: their leaderboard reads every credit of the period).
   Then the wins CSV export, twice.
Prints p50/p95 per target and writes bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert  # noqa: E402

from bot import message_json  # noqa: E402
from bot.dashboard.links import LinkSigner  # noqa: E402
from bot.message import Divider, Fields, Header, Message, Text  # noqa: E402
from storage.engine import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    CommitteeMember,
    Decision,
    DigestArchive,
    Metric,
    Poll,
    PollOption,
    Setting,
    Vote,
    Win,
    WinCredit,
    WinTag,
    Workspace,
)
from storage.secret import load_voter_key  # noqa: E402

SECRET = "bench-Wq7nE2sR9yT4uI1oP6aS3dF8gH0jK5lZxC4vB"
PLATFORM, TEAM = "slack", "TBENCH0001"
NOW = datetime.now(UTC).replace(microsecond=0)
TAGS = [
    ("usage-optimization", True),
    ("rate-optimization", True),
    ("allocation", True),
    ("licensing-saas", True),
    ("kubernetes", False),
    ("storage", False),
]
RESULTS = Path(__file__).resolve().parent / "results"


def populate(url: str, wins: int, seed: int = 7) -> None:
    """One workspace with `wins` wins and everything else the page shows, in bulk."""
    import asyncio

    async def migrate() -> None:
        database = Database(url)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(migrate())
    rng = random.Random(seed)
    people = [(f"U{i:05d}", f"Person {i}") for i in range(60)]
    engine = create_engine(url)
    span = timedelta(days=730).total_seconds()
    with engine.begin() as connection:
        ws = connection.execute(
            insert(Workspace).values(platform=PLATFORM, external_id=TEAM, created_at=NOW)
        ).inserted_primary_key[0]
        connection.execute(
            insert(Setting),
            [
                {"workspace_id": ws, "key": "currency", "value": "USD"},
                {"workspace_id": ws, "key": "timezone", "value": "Europe/Paris"},
            ],
        )
        win_rows, tag_rows, credit_rows = [], [], []
        for n in range(1, wins + 1):
            author_id, author_name = rng.choice(people)
            created = NOW - timedelta(seconds=span * (wins - n) / wins)
            recurrence = rng.choice(("monthly", "monthly", "annual", "one-time"))
            amount = rng.randrange(50, 20_000) * 100
            win_rows.append(
                {
                    "id": n,
                    "workspace_id": ws,
                    "author_id": author_id,
                    "author_name": author_name,
                    "text": f"Win number {n}: rightsized a fleet of instances",
                    "amount_minor": amount,
                    "currency": "EUR" if rng.random() < 0.1 else "USD",
                    "recurrence": recurrence,
                    "annualised_minor": amount * 12 if recurrence == "monthly" else amount,
                    "avoidance": rng.random() < 0.1,
                    "conversation_id": "CWINS",
                    "created_at": created,
                    "undone_at": created if rng.random() < 0.01 else None,
                    "undone_by": None,
                }
            )
            for tag, capability in rng.sample(TAGS, rng.choice((1, 1, 2))):
                tag_rows.append({"win_id": n, "tag": tag, "capability": capability})
            credited = {author_id: author_name}
            for user_id, name in rng.sample(people, rng.choice((0, 1, 2))):
                credited[user_id] = name
            credit_rows += [
                {"win_id": n, "user_id": u, "user_name": name} for u, name in credited.items()
            ]
        for table, rows in ((Win, win_rows), (WinTag, tag_rows), (WinCredit, credit_rows)):
            for start in range(0, len(rows), 20_000):
                connection.execute(insert(table), rows[start : start + 20_000])
        # The daily totals the bot keeps as wins are logged (migration 0009's backfill).
        connection.exec_driver_sql(
            "INSERT INTO win_day (workspace_id, day, currency, avoidance, wins, "
            "annualised_minor) SELECT workspace_id, substr(created_at, 1, 10), currency, "
            "avoidance, count(*), sum(annualised_minor) FROM win WHERE undone_at IS NULL "
            "GROUP BY workspace_id, substr(created_at, 1, 10), currency, avoidance"
        )
        _polls(connection, ws, rng, people)
        connection.execute(
            insert(CommitteeMember),
            [
                {"workspace_id": ws, "user_id": u, "user_name": name, "persona": persona}
                for (u, name), persona in zip(
                    people,
                    ("practitioner", "engineering", "finance", "product", "procurement"),
                    strict=False,
                )
            ],
        )
        connection.execute(
            insert(Metric),
            [
                {
                    "workspace_id": ws,
                    "name": name,
                    "value": Decimal(rng.randrange(100, 1000)) / 10,
                    "unit": unit,
                    "recorded_by": "U00000",
                    "recorded_at": NOW - timedelta(days=7 * k),
                }
                for name, unit in (
                    ("coverage", "%"),
                    ("untagged-share", "%"),
                    ("waste", "USD"),
                    ("utilisation", "%"),
                    ("latency", "ms"),
                )
                for k in range(20)
            ],
        )
        connection.execute(
            insert(Decision),
            [
                {
                    "workspace_id": ws,
                    "text": f"Decision {k}: tag every production resource",
                    "decided_by": "U00001",
                    "decided_by_name": "Person 1",
                    "decided_at": NOW - timedelta(days=9 * k),
                }
                for k in range(40)
            ],
        )
        digest = message_json.dumps(
            Message(
                text="FinOps weekly digest",
                blocks=(
                    Header("FinOps weekly digest"),
                    Fields((("Wins this week", "960"), ("Annualised savings", "1,234,567 USD"))),
                    Divider(),
                    Text("Top wins\n" + "\n".join(f"#{k} A big win" for k in range(3))),
                ),
            )
        )
        monday = NOW.date() - timedelta(days=NOW.weekday())
        connection.execute(
            insert(DigestArchive),
            [
                {
                    "workspace_id": ws,
                    "week_start": monday - timedelta(weeks=k),
                    "posted_at": NOW - timedelta(weeks=k),
                    "message": digest,
                }
                for k in range(100)
            ],
        )
    engine.dispose()


def _polls(connection, ws: int, rng: random.Random, people: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    for k in range(1, 31):
        anonymous = k % 3 == 0
        poll_id = connection.execute(
            insert(Poll).values(
                workspace_id=ws,
                creator_id="U00000",
                creator_name="Person 0",
                question=f"Poll {k}: adopt the tagging policy?",
                anonymous=anonymous,
                committee=k % 4 == 0,
                created_at=NOW - timedelta(days=10 * (30 - k)),
                closed_at=None if k > 27 else NOW - timedelta(days=10 * (30 - k) - 3),
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(PollOption),
            [{"poll_id": poll_id, "position": p, "label": f"Option {p}"} for p in (1, 2, 3)],
        )
        connection.execute(
            insert(Vote),
            [
                {
                    "poll_id": poll_id,
                    "voter": f"h{poll_id}-{u}" if anonymous else u,
                    "position": rng.randrange(1, 4),
                    "voter_name": None if anonymous else name,
                }
                for u, name in people
            ],
        )


def machine_busy(window: float = 5.0) -> float:
    """How busy the whole machine was over `window` s, in % of one core (Linux /proc/stat)."""

    def busy_seconds() -> float:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    before, at = busy_seconds(), time.monotonic()
    time.sleep(window)
    return 100 * (busy_seconds() - before) / (time.monotonic() - at)


def wait_for_quiet(within: float, below: float = 15.0) -> tuple[float, float]:
    """Wait at most `within` s for other people's work on the shared machine to stop (less
    than `below` % of a core busy over 5 s); (the last figure, seconds waited)."""
    started = time.monotonic()
    while True:
        busy = machine_busy()
        if busy < below or time.monotonic() - started >= within:
            return round(busy, 1), round(time.monotonic() - started, 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(port: int, path: str) -> tuple[int, float, float, int]:
    """GET `path` on a new connection: (status, ms to the first byte, ms to the last, bytes)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        first = connection.recv(65536)
        first_byte = time.perf_counter()
        received = [first]
        while chunk := connection.recv(65536):
            received.append(chunk)
    done = time.perf_counter()
    body = b"".join(received)
    status = int(body.split(b" ", 2)[1])
    return status, (first_byte - started) * 1000, (done - started) * 1000, len(body)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def wait_for(port: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if fetch(port, "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the bot did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wins", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="per target (default 50)")
    parser.add_argument(
        "--long-periods", type=int, default=10, help="requests for period=year and =all"
    )
    parser.add_argument(
        "--keep", help="make the database in this folder and keep it (reused when it is there)"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="after filling the database, wait up to this long for a quiet machine",
    )
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="finops-dashboard-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    if (folder / "bench.db").exists():  # --keep DIR of an earlier run: the same data again
        print(f"reusing {folder / 'bench.db'}")
    else:
        started = time.perf_counter()
        populate(url, args.wins)
        print(f"populated {args.wins:,} wins in {time.perf_counter() - started:.1f} s ({folder})")
    if args.wait_quiet:
        busy, waited = wait_for_quiet(args.wait_quiet)
        print(f"machine {busy} % busy (of one core) after waiting {waited} s")
    signer = LinkSigner(load_voter_key(SECRET, url), timedelta(hours=12))
    token = signer.sign(PLATFORM, TEAM)[0]
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "FINOPS_SECRET_KEY": SECRET,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "MicrosoftAppId"):
        environment.pop(key, None)
    results: dict[str, object] = {
        "wins": args.wins,
        "requests": args.requests,
        "long_period_requests": args.long_periods,
        "load_average_before": os.getloadavg(),
        "busy_percent_before": round(machine_busy(2.0), 1),  # others' work, before ours
    }
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=environment)
    try:
        wait_for(port)
        targets = {
            "healthz": "/healthz",
            "dashboard": f"/dashboard?t={token}",
            "dashboard-year": f"/dashboard?t={token}&period=year",
            "dashboard-all": f"/dashboard?t={token}&period=all",
        }
        first = fetch(port, targets["dashboard"])  # the first request after the start
        results["first_dashboard_ms"] = {"ttfb": round(first[1], 1), "total": round(first[2], 1)}
        for path in targets.values():  # warm-up
            fetch(port, path)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        sizes: dict[str, int] = {}
        for round_ in range(args.requests):  # interleaved, so machine noise hits every target
            for name, path in targets.items():
                if name.startswith("dashboard-") and round_ >= args.long_periods:
                    continue
                status, ttfb, total, size = fetch(port, path)
                assert status == 200, (name, status)
                samples[name].append((ttfb, total))
                sizes[name] = size
        export = [fetch(port, f"/dashboard/wins.csv?t={token}") for _ in range(2)]
        results["targets"] = {
            name: {
                "ttfb_ms": summary([t for t, _ in values]),
                "total_ms": summary([t for _, t in values]),
                "bytes": sizes[name],
            }
            for name, values in samples.items()
        }
        results["wins_csv"] = {
            "total_ms": summary([e[2] for e in export]),
            "bytes": export[-1][3],
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["load_average"] = os.getloadavg()
    results["busy_percent_after"] = round(machine_busy(2.0), 1)
    results["date"] = date.today().isoformat()
    print(f"first /dashboard after start: {results['first_dashboard_ms']}")
    print(
        f"{'target':<16} {'ttfb p50':>9} {'ttfb p95':>9} {'total p50':>10} "
        f"{'total p95':>10} {'bytes':>8}"
    )
    for name, figures in results["targets"].items():  # type: ignore[union-attr]
        print(
            f"{name:<16} {figures['ttfb_ms']['p50']:>9} {figures['ttfb_ms']['p95']:>9} "
            f"{figures['total_ms']['p50']:>10} {figures['total_ms']['p95']:>10} "
            f"{figures['bytes']:>8}"
        )
    print(f"wins.csv ({args.wins:,} wins): {results['wins_csv']}")
    print(
        f"machine busy (% of one core, over 2 s): {results['busy_percent_before']} before, "
        f"{results['busy_percent_after']} after; load average after: {results['load_average']}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
