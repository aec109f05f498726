"""The digest's cost KPI query over two years of daily aggregates, on SQLite and PostgreSQL.

    .venv/bin/python bench/cost_kpis.py [--groups-per-day 400] [--runs 60]
                                        [--databases sqlite,postgresql]

1. Fills a scratch database (migrated by the bot's own `upgrade`) with 730 days of `cost_day`
   rows, `--groups-per-day` a day (3 providers, 40 services, 150 sub-accounts, commitments,
   tags), as `focus import` would leave them, plus another workspace's rows to filter out;
   ANALYZE afterwards, as autovacuum would.
2. Times, each in its own read-only transaction, `--runs` times:
   - baseline: `SELECT sum(effective_units), sum(effective_nanos)` over the same week and
     scope (an amount is stored as its two parts, storage/money.py), the least any KPI
     query must read;
   - the digest's cost part: `build_report` for the latest week (every KPI, movers,
     freshness) and the 12-week chart series;
   - `cost` for the latest month (the longest window the command shows).
Prints p50/p95 in milliseconds and writes bench/results/cost_kpis.json. Goal: the digest's KPI
query under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.costs import kpis  # noqa: E402
from bot.parsing.billing import Period  # noqa: E402
from storage import cost_kpis, money  # noqa: E402
from storage.costs import MONEY, visible_to  # noqa: E402
from storage.engine import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import CostDay, Workspace  # noqa: E402
from tests.helpers import create_postgres_database, drop_postgres_database  # noqa: E402

LAST_DAY = date(2026, 11, 22)  # a Sunday: the latest whole week
DAYS = 730


def aggregates(groups: int, rng: random.Random, workspace_id: int | None) -> list[dict]:
    providers = ["AWS", "Microsoft", "Google Cloud"]
    categories = ("Compute", "Storage", "Databases", "Networking")
    services = [(f"service-{i}", categories[i % 4]) for i in range(40)]
    accounts = [f"account-{i}" for i in range(150)]
    rows = []
    for d in range(DAYS):
        day = LAST_DAY - timedelta(days=d)
        for _ in range(groups):
            service, category = rng.choice(services)
            effective = rng.randrange(1, 5_000) * 10**7
            committed = rng.random() < 0.1
            status = "Used" if rng.random() < 0.9 else "Unused"
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "day": day,
                    "billing_period": day.replace(day=1),
                    "provider": rng.choice(providers),
                    "currency": "USD",
                    "billing_account": "billing-1",
                    "sub_account": rng.choice(accounts),
                    "service_category": category,
                    "service": service,
                    "region": f"region-{rng.randrange(10)}",
                    "charge_category": "Usage",
                    "pricing_category": "Committed" if committed else "Standard",
                    "commitment_status": status if committed else "",
                    "commitment_id": f"ri-{rng.randrange(20)}" if committed else "",
                    "tagged": rng.random() < 0.7,
                    "owner": f"team-{rng.randrange(12)}" if rng.random() < 0.6 else "",
                    "row_count": 24,
                    "billed_nanos": 0 if committed else effective,
                    "effective_nanos": effective,
                    "list_nanos": effective * 13 // 10,
                    "contracted_nanos": effective * 11 // 10,
                    "negotiated_nanos": effective * 2 // 10,
                    "commitment_nanos": effective // 10,
                }
            )
    return rows


async def fill(database: Database, groups: int) -> int:
    rng = random.Random(7)
    async with database.session() as session:
        ids = []
        for name in ("bench", "other"):
            workspace = Workspace(platform="console", external_id=name)
            session.add(workspace)
            await session.flush()
            ids.append(workspace.id)
    started = time.perf_counter()
    for owner, share in ((None, groups), (ids[1], max(groups // 10, 1))):
        rows = aggregates(share, rng, owner)
        for i in range(0, len(rows), 5_000):
            async with database.session() as session:
                batch = [money.stored(r, MONEY) for r in rows[i : i + 5_000]]
                await session.exec(insert(CostDay), params=batch)  # type: ignore[call-overload]
    async with database.session() as session:
        connection = await session.connection()
        await connection.execute(text("ANALYZE"))
        total = (await connection.execute(text("SELECT count(*) FROM cost_day"))).scalar_one()
    print(f"  {total:,} aggregate rows in {time.perf_counter() - started:.0f} s")
    return ids[0]


async def timed(database: Database, runs: int, work) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        async with database.reading() as session:
            await work(session)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(url: str, groups: int, runs: int) -> dict[str, dict[str, float]]:
    database = Database(url)
    try:
        await upgrade(database)
        ws = await fill(database, groups)
        week = Period.week_of(LAST_DAY)
        month = Period.month_of(LAST_DAY)
        now = datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), UTC)

        async def baseline(session) -> None:  # type: ignore[no-untyped-def]
            await session.exec(
                select(func.sum(CostDay.effective_units), func.sum(CostDay.effective_nanos)).where(
                    CostDay.day >= week.start, CostDay.day < week.end, visible_to(ws)
                )
            )

        async def digest(session) -> None:  # type: ignore[no-untyped-def]
            # What the digest reads: the week's report (digest_section) and the chart's
            # 12 weeks (bot/features/digest.py cost_chart).
            report = await kpis.build_report(session, ws, week, now=now, owner_tags=True)
            assert isinstance(report, kpis.CostReport)
            first = week.start - timedelta(weeks=11)
            await cost_kpis.weekly_effective_by_currency(session, ws, first, weeks=12)

        async def cost_month(session) -> None:  # type: ignore[no-untyped-def]
            report = await kpis.build_report(session, ws, month, now=now, owner_tags=True)
            assert isinstance(report, kpis.CostReport)

        results = {}
        for name, work in (
            ("baseline: one SUM over the week", baseline),
            ("digest: week KPIs + 12-week series", digest),
            ("cost: month KPIs", cost_month),
        ):
            await timed(database, 3, work)  # warm the caches and the connection pool
            samples = await timed(database, runs, work)
            results[name] = {
                "p50_ms": statistics.median(samples),
                "p95_ms": statistics.quantiles(samples, n=20)[18],
            }
        return results
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups-per-day", type=int, default=400)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    report: dict[str, dict] = {}
    for name in args.databases.split(","):
        print(f"{name}:")
        if name == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="cost-kpis-"))
            report[name] = asyncio.run(
                measure(f"sqlite:///{folder / 'bench.db'}", args.groups_per_day, args.runs)
            )
        else:
            url = asyncio.run(create_postgres_database())
            try:
                report[name] = asyncio.run(measure(url, args.groups_per_day, args.runs))
            finally:
                asyncio.run(drop_postgres_database(url))
    print("\n| database | query | p50 ms | p95 ms |\n|---|---|---:|---:|")
    for database, results in report.items():
        for query, r in results.items():
            print(f"| {database} | {query} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} |")
    out = ROOT / "bench" / "results" / "cost_kpis.json"
    out.parent.mkdir(exist_ok=True)
    summary = {"groups_per_day": args.groups_per_day, "days": DAYS, "results": report}
    out.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
