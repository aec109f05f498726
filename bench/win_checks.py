"""Verified savings at scale: 10,000 scoped wins checked against two years of daily aggregates.

    .venv/bin/python bench/win_checks.py [--wins 10000] [--groups-per-day 400]
                                         [--databases sqlite,postgresql]

1. Fills a scratch database (migrated by the bot's own `upgrade`) with bench/cost_kpis.py's
   730 days of `cost_day` rows (`--groups-per-day` a day: 40 services, 150 sub-accounts, 10
   regions), `cost_detail_day` rows for one scope tag key (20 values in 4 services) and 50
   tracked resources a day, and `--wins` monthly wins logged over those two years, each
   scoped as people would scope them: 55 % one service, 15 % a service in a region, 10 % a
   sub-account, 10 % a tag value, 5 % a tag value in a service, 5 % a resource.
2. Runs the scheduler's own step once (`Scheduler._win_checks`): every due check read and
   measured in one read-only transaction, then `Bot.run_scheduled` with `win_checks.post_due`
   per 200 checks (each a claiming transaction: the run ledger, the checks, the celebration
   updates and DMs in the outbox), each write timed.
Prints the total, the longest write transaction and the checks recorded, and writes
bench/results/win_checks.json. Goal: under 10 s, no write transaction over 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.cost_kpis import DAYS, LAST_DAY, fill  # noqa: E402
from bot.core import Bot  # noqa: E402
from bot.scheduler import Scheduler  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage import money  # noqa: E402
from storage.engine import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import CostDetailDay, Win, WinCheck, WinCredit, WinScope  # noqa: E402
from tests.helpers import (  # noqa: E402
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
)

TAG_VALUES, TAG_SERVICES, RESOURCES = 20, 4, 50


async def fill_detail(database: Database, workspace_id: int) -> int:
    """The kept tag values and resources (CostDetailDay) over the same 730 days."""
    rng = random.Random(5)
    rows = []
    for offset in range(DAYS):
        day = LAST_DAY - timedelta(days=offset)
        base = {
            "workspace_id": workspace_id,
            "day": day,
            "provider": "AWS",
            "currency": "USD",
            "billing_account": "payer",
            "billing_period": day.replace(day=1),
            "sub_account": "account-0",
            "service_category": "Compute",
            "region": "region-0",
            "consumed_unit": "Hours",
            "row_count": 24,
        }
        for value in range(TAG_VALUES):
            for service in range(TAG_SERVICES):
                cost = round(rng.uniform(50, 500) * 10**9)
                rows.append(
                    {
                        **base,
                        "service": f"service-{service}",
                        "kind": "tag",
                        "key": "team",
                        "value": f"team-{value}",
                        "effective_nanos": cost,
                        "consumed_nanos": 24 * 10**9,
                    }
                )
        for resource in range(RESOURCES):
            cost = round(rng.uniform(1, 50) * 10**9)
            rows.append(
                {
                    **base,
                    "service": "service-0",
                    "kind": "resource",
                    "key": "",
                    "value": f"i-{resource:017x}",
                    "effective_nanos": cost,
                    "consumed_nanos": 24 * 10**9,
                }
            )
    for i in range(0, len(rows), 5_000):
        async with database.session() as session:
            batch = [money.stored(r, ("effective", "consumed")) for r in rows[i : i + 5_000]]
            await session.exec(insert(CostDetailDay), params=batch)  # type: ignore[call-overload]
    async with database.session() as session:
        await (await session.connection()).execute(text("ANALYZE"))
    return len(rows)


async def add_wins(database: Database, workspace_id: int, count: int) -> None:
    rng = random.Random(3)
    first = datetime.combine(LAST_DAY - timedelta(days=DAYS - 31), datetime.min.time(), UTC)
    span = (DAYS - 62) * 86400  # baselines inside the data; the newest wins not yet due
    async with database.session() as session:
        wins = [
            {
                "workspace_id": workspace_id,
                "author_id": f"U{i % 300}",
                "author_name": f"person {i % 300}",
                "text": f"bench win {i}",
                "amount_minor": 10_000 * (1 + i % 50),
                "currency": "USD",
                "recurrence": "monthly",
                "annualised_minor": 120_000 * (1 + i % 50),
                "created_at": first + timedelta(seconds=rng.randrange(span)),
            }
            for i in range(count)
        ]
        ids = list(
            (await session.exec(insert(Win).returning(Win.id), params=wins)).scalars()  # type: ignore[call-overload]
        )
        credits, scopes = [], []
        for i, win_id in enumerate(ids):
            credits.append({"win_id": win_id, "user_id": f"U{i % 300}", "user_name": "p"})
            kind = rng.random()
            team = ("tag", f"team=team-{rng.randrange(TAG_VALUES)}")
            if kind < 0.55:
                terms = [("service", f"service-{rng.randrange(40)}")]
            elif kind < 0.7:
                terms = [
                    ("service", f"service-{rng.randrange(40)}"),
                    ("region", f"region-{rng.randrange(10)}"),
                ]
            elif kind < 0.8:
                terms = [("account", f"account-{rng.randrange(150)}")]
            elif kind < 0.9:
                terms = [team]
            elif kind < 0.95:
                terms = [team, ("service", f"service-{rng.randrange(TAG_SERVICES)}")]
            else:
                terms = [("resource", f"i-{rng.randrange(RESOURCES):017x}")]
            scopes += [(win_id, d, v) for d, v in terms]
        await session.exec(insert(WinCredit), params=credits)  # type: ignore[call-overload]
        await session.exec(  # type: ignore[call-overload]
            insert(WinScope),
            params=[{"win_id": w, "dimension": d, "value": v} for w, d, v in scopes],
        )


async def measure(url: str, wins: int, groups: int) -> dict[str, float | int]:
    database = Database(url)
    try:
        await upgrade(database)
        workspace_id = await fill(database, groups)
        print(f"  {await fill_detail(database, workspace_id):,} detail rows")
        await add_wins(database, workspace_id, wins)
        settings = Settings(DATABASE_URL=url, FINOPS_SECRET_KEY=TEST_SECRET_KEY, _env_file=None)
        now = datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), UTC)
        bot = Bot(settings, database, clock=lambda: now)
        writes: list[float] = []
        claim_and_write = bot.run_scheduled

        async def timed_write(*args, **kwargs):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return await claim_and_write(*args, **kwargs)
            finally:
                writes.append(time.perf_counter() - began)

        bot.run_scheduled = timed_write  # type: ignore[method-assign]
        scheduler = Scheduler(bot, {"console"})
        started = time.perf_counter()
        ran = await scheduler._win_checks()  # one tick's step: read and measure, then write
        total = time.perf_counter() - started
        assert ran == [f"win-checks:{workspace_id}"], ran
        runs = len(writes)
        reads = [total - sum(writes)]  # the state counts, the read and the measuring
        async with database.reading() as session:
            recorded = (await session.exec(select(func.count()).select_from(WinCheck))).scalar_one()
        return {
            "wins": wins,
            "checks": int(recorded),
            "runs": runs,
            "total_s": round(total, 2),
            "read_and_measure_s": round(sum(reads), 2),
            "writes_s": round(sum(writes), 2),
            "longest_write_ms": round(max(writes, default=0) * 1000, 1),
        }
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wins", type=int, default=10_000)
    parser.add_argument("--groups-per-day", type=int, default=400)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    report: dict[str, dict] = {}
    for name in args.databases.split(","):
        print(f"{name}:")
        if name == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="win-checks-"))
            url = f"sqlite:///{folder / 'bench.db'}"
            report[name] = asyncio.run(measure(url, args.wins, args.groups_per_day))
        else:
            url = asyncio.run(create_postgres_database())
            try:
                report[name] = asyncio.run(measure(url, args.wins, args.groups_per_day))
            finally:
                asyncio.run(drop_postgres_database(url))
        print(f"  {report[name]}")
    out = ROOT / "bench" / "results" / "win_checks.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
