"""`finops-bot focus import`: the official FOCUS sample, the spec's commitment scenarios and
generated exports (CSV, gzip, Parquet), on SQLite and PostgreSQL.

Money is checked against an independent computation with the csv module and Decimal."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import os
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmodel import col, func, select

from adapters.console.adapter import ConsoleSession
from app.cli import main
from bot.core import Bot
from bot.costs import kpis, watch
from bot.costs.importer import ExportRefused, export_files, run_import
from bot.parsing.billing import Period
from bot.scheduler import Scheduler
from bot.settings import Settings
from storage import money, workspaces
from storage.engine import Database
from storage.models import CostDay, CostImport
from tests.helpers import (
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
    migrate,
    shared_path,
)

SAMPLE = ("focus", "focus_sample_1.0_1000rows.csv")
MEASURES = ("billed_nanos", "effective_nanos", "list_nanos", "contracted_nanos")


@pytest.fixture(params=["sqlite", "postgresql"])
def own_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A database of the test's own: installation-wide cost data is seen by every workspace,
    so it must not meet other tests' data."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'costs.db'}"
        asyncio.run(migrate(url))
        yield url
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails under CI) without a server
    url = asyncio.run(create_postgres_database())
    asyncio.run(migrate(url))
    yield url
    asyncio.run(drop_postgres_database(url))


def independent_totals(path: Path, month: str) -> dict[str, Decimal]:
    """The sample's totals by the csv module and Decimal, nothing of ours, and the two rate
    KPIs by the FinOps Foundation's definitions (../shared/reference/finops.md), in percent
    with one decimal."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    by_category: dict[str, Decimal] = defaultdict(Decimal)

    def amount(value: str) -> Decimal:
        return Decimal(0) if value in ("", "NULL") else Decimal(value)

    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            if not row["ChargePeriodStart"].startswith(month):
                continue
            effective, listed = amount(row["EffectiveCost"]), amount(row["ListCost"])
            totals["billed"] += Decimal(row["BilledCost"])
            totals["effective"] += effective
            by_category[row["ServiceCategory"]] += effective
            if row["ChargeCategory"].lower() != "usage":
                continue
            status = row["CommitmentDiscountStatus"].lower()
            totals["paid"] += effective  # unused commitment too: it was paid for
            if status != "unused":  # what was consumed, at list price
                totals["consumed"] += listed
                eligible = row["ServiceCategory"].lower() == "compute"
                if eligible and row["PricingCategory"].lower() != "dynamic":
                    totals["eligible"] += listed
                    totals["covered"] += listed if status == "used" else Decimal(0)
    totals["top_category"] = max(by_category, key=by_category.__getitem__)  # type: ignore[assignment]
    one = Decimal("0.1")
    totals["esr"] = (100 - totals["paid"] * 100 / totals["consumed"]).quantize(one, ROUND_HALF_UP)
    totals["coverage"] = (totals["covered"] * 100 / totals["eligible"]).quantize(one, ROUND_HALF_UP)
    return totals


def cents(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):,}"


async def snapshot(database: Database) -> list[tuple]:
    async with database.reading() as session:
        rows = await session.exec(
            select(CostDay).order_by(col(CostDay.day), col(CostDay.provider), col(CostDay.id))
        )
        return sorted(
            (
                r.workspace_id,
                r.day,
                r.provider,
                r.service,
                r.sub_account,
                r.charge_category,
                r.owner,
                r.tagged,
                *(money.amount(r, m.removesuffix("_nanos")) for m in MEASURES),
            )
            for r in rows
        )


async def workspace_id(database: Database, external_id: str) -> int:
    async with database.session() as session:
        return await workspaces.workspace_id(session, "console", external_id)


# --- the official sample -------------------------------------------------------------------


async def test_sample_cost_report_matches_an_independent_computation(own_url: str) -> None:
    sample = shared_path(*SAMPLE)
    expected = independent_totals(sample, "2024-09")
    settings = Settings(
        DATABASE_URL=own_url, FINOPS_ADMINS="ada", FINOPS_SECRET_KEY=TEST_SECRET_KEY, _env_file=None
    )
    database = Database(own_url)
    try:
        summary = await run_import(database, [sample])
        assert summary.rows_read == 1000 and not summary.skipped
        assert set(summary.providers) == {"AWS", "Microsoft", "Oracle"}
        bot = Bot(settings, database, clock=lambda: datetime(2024, 10, 2, 9, tzinfo=UTC))
        answer = "\n".join(await ConsoleSession(bot, "ada", "acme").say("cost 2024-09"))
        assert cents(expected["billed"]) in answer, answer
        assert cents(expected["effective"]) in answer, answer
        assert str(expected["top_category"]) in answer, answer
        assert f"Effective savings rate: {expected['esr']} %" in answer, answer
        assert f"Commitment coverage (compute): {expected['coverage']} %" in answer, answer
        before = await snapshot(database)

        again = await run_import(database, [sample])  # the same export once more
        assert again.rows_read == 1000
        assert await snapshot(database) == before
        repeat = "\n".join(await ConsoleSession(bot, "ada", "acme").say("cost 2024-09"))
        assert repeat == answer
        # The installation's bill: another workspace sees the same figures.
        other = "\n".join(await ConsoleSession(bot, "bob", "globex").say("cost 2024-09"))
        assert cents(expected["effective"]) in other
    finally:
        await database.dispose()


async def test_sample_quirks_are_normalised(database: Database, workspace: str) -> None:
    ws = await workspace_id(database, workspace)
    await run_import(database, [shared_path(*SAMPLE)], ws)
    async with database.reading() as session:
        mine = col(CostDay.workspace_id) == ws
        categories = set(
            (await session.exec(select(CostDay.charge_category).where(mine).distinct())).all()
        )
        pricing = set(
            (await session.exec(select(CostDay.pricing_category).where(mine).distinct())).all()
        )
        credits = money.join(
            *(
                await session.exec(
                    select(
                        func.sum(CostDay.effective_units), func.sum(CostDay.effective_nanos)
                    ).where(mine, CostDay.charge_category == "Credit")
                )
            ).one()
        )
        tagged = (
            await session.exec(select(func.count()).where(mine, col(CostDay.tagged).is_(True)))
        ).one()
    assert categories == {"Usage", "Adjustment", "Credit"}
    assert pricing <= {"Standard", "Committed", "Other", ""}
    assert credits < 0  # the negative credit is kept, not dropped
    assert tagged > 0


# --- refusals --------------------------------------------------------------------------------


def test_cli_refuses_a_non_focus_csv_and_changes_nothing(
    own_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", own_url)
    monkeypatch.setenv("FINOPS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    good = write_csv(tmp_path / "good.csv", [row()])
    assert main(["focus", "import", str(good)]) == 0
    database = Database(own_url)
    before = asyncio.run(snapshot_and_dispose(database))
    capsys.readouterr()

    bad = tmp_path / "invoice.csv"
    bad.write_text("Date,Amount,Service\n2024-09-01,12.50,EC2\n")
    assert main(["focus", "import", str(bad)]) == 1
    error = capsys.readouterr().err
    assert "invoice.csv is not a FOCUS cost export" in error
    for column in ("BilledCost", "EffectiveCost", "ChargeCategory", "ChargePeriodStart"):
        assert column in error
    assert "Nothing was imported" in error and "Traceback" not in error
    # A good file with a bad one: refused together, before anything is written.
    assert (
        main(["focus", "import", str(write_csv(tmp_path / "more.csv", [row(cost="9")])), str(bad)])
        == 1
    )
    assert asyncio.run(snapshot_and_dispose(Database(own_url))) == before


async def snapshot_and_dispose(database: Database) -> list[tuple]:
    try:
        return await snapshot(database)
    finally:
        await database.dispose()


async def test_a_cost_that_is_not_a_number_refuses_the_file(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    rows = [row(), row(cost="twelve")]
    with pytest.raises(ExportRefused, match=r"not a number|twelve"):
        await run_import(database, [write_csv(tmp_path / "x.csv", rows)], ws)
    assert await count(database, ws) == 0


def test_cli_usage_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("FINOPS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.chdir(tmp_path)
    assert main(["focus", "import"]) == 2
    assert main(["focus", "import", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0  # focus import never migrates (only db upgrade does)
    assert main(["focus", "import", "--workspace", "slack:TNOPE", str(tmp_path)]) == 2
    assert "no workspace slack:TNOPE" in capsys.readouterr().err


# --- generated exports -----------------------------------------------------------------------

HEADER = [
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "BillingCurrency",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "PricingCategory",
    "CommitmentDiscountStatus",
    "CommitmentDiscountId",
    "Tags",
    "x_Extra",
]


def row(cost: str = "1.25", effective: str | None = None, **values: str) -> dict[str, str]:
    base = {
        "BilledCost": cost,
        "EffectiveCost": cost if effective is None else effective,
        "ListCost": "2.00",
        "ContractedCost": "1.50",
        "ChargeCategory": "Usage",
        "ChargePeriodStart": "2024-09-02T10:00:00Z",
        "ChargePeriodEnd": "2024-09-02T11:00:00Z",
        "ProviderName": "AWS",
        "BillingCurrency": "USD",
        "ServiceCategory": "Compute",
        "ServiceName": "Amazon EC2",
        "SubAccountId": "111",
        "SubAccountName": "payments",
        "PricingCategory": "Standard",
        "CommitmentDiscountStatus": "NULL",
        "CommitmentDiscountId": "",
        "Tags": '{"team": "core"}',
        "x_Extra": "ignored",
    }
    base.update(values)
    return base


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.getvalue().encode()))
    else:
        path.write_text(text.getvalue())
    return path


async def count(database: Database, ws: int) -> int:
    async with database.reading() as session:
        return (
            await session.exec(
                select(func.count()).select_from(CostDay).where(CostDay.workspace_id == ws)
            )
        ).one()


async def totals(database: Database, ws: int) -> dict[str, int]:
    """The workspace's sums of MEASURES, each amount joined from its two stored parts."""
    async with database.reading() as session:
        rows = (await session.exec(select(CostDay).where(CostDay.workspace_id == ws))).all()

    def value(row: CostDay, measure: str) -> int:
        if measure == "row_count":
            return row.row_count
        return money.amount(row, measure.removesuffix("_nanos"))

    return {measure: sum(value(row, measure) for row in rows) for measure in MEASURES}


async def test_real_export_oddities_are_tolerated(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    async with database.session() as session:
        await workspaces.set_setting(session, ws, "cost-owner-tags", value="team, cost-center")
    header = [h.lower() if h == "BilledCost" else h for h in HEADER]  # header case varies
    rows = [
        row(),
        row(ChargeCategory="usage", PricingCategory="STANDARD"),  # case variants
        row(Tags='{" cost-center": "fin-42"}'),  # a key with a leading space
        row(Tags="NULL"),
        row(Tags="{}"),
        row(Tags="not json"),
        row(
            cost="-3.00", effective="-3.00", ChargeCategory="Credit", ListCost="", ContractedCost=""
        ),
        row(ChargePeriodStart="yesterday"),  # skipped, with its reason
        row(ChargeCategory=""),  # skipped too
        row(ServiceCategory="", ServiceName="NULL", SubAccountName="", PricingCategory="null"),
    ]
    for r in rows:
        r["billedcost"] = r.pop("BilledCost")
    summary = await run_import(database, [write_csv(tmp_path / "odd.csv", rows, header)], ws)
    assert summary.rows_read == 10
    assert summary.skipped == {
        "ChargePeriodStart empty or not a date-time": 1,
        "ChargeCategory empty": 1,
    }
    assert summary.notes == {"Tags not valid JSON (counted as untagged)": 1}
    async with database.reading() as session:
        found = (await session.exec(select(CostDay).where(CostDay.workspace_id == ws))).all()
    owners: dict[tuple[str, bool], int] = defaultdict(int)
    for r in found:
        owners[(r.owner, r.tagged)] += r.row_count
        assert r.charge_category in ("Usage", "Credit")
        assert r.pricing_category in ("Standard", "")
    # NULL, {} and the bad JSON are untagged; " cost-center" is read as cost-center.
    assert owners == {("core", True): 4, ("fin-42", True): 1, ("", False): 3}
    assert (await totals(database, ws))["billed_nanos"] == int((Decimal("1.25") * 7 - 3) * 10**9)


@pytest.mark.parametrize("fmt", ["csv.gz", "parquet"])
async def test_gzip_and_parquet_read_like_csv(database: Database, tmp_path: Path, fmt: str) -> None:
    rows = [
        row(cost=f"{i}.{i:02d}", ChargePeriodStart=f"2024-09-{1 + i % 28:02d} 0{i % 10}:00:00")
        for i in range(60)
    ]
    plain_ws = await workspace_id(database, f"plain-{fmt}-{os.getpid()}-{id(rows)}")
    other_ws = await workspace_id(database, f"other-{fmt}-{os.getpid()}-{id(rows)}")
    await run_import(database, [write_csv(tmp_path / "a.csv", rows)], plain_ws)
    if fmt == "csv.gz":
        path = write_csv(tmp_path / "a.csv.gz", rows)
    else:
        path = tmp_path / "a.parquet"
        table = pa.table({h: [r[h] for r in rows] for h in HEADER})
        table = table.set_column(  # money as doubles, starts as timestamps: as tools write them
            table.schema.get_field_index("BilledCost"),
            "BilledCost",
            pa.array([float(r["BilledCost"]) for r in rows]),
        )
        stamps = [datetime.fromisoformat(r["ChargePeriodStart"]) for r in rows]
        table = table.set_column(
            table.schema.get_field_index("ChargePeriodStart"),
            "ChargePeriodStart",
            pa.array(stamps, pa.timestamp("us")),
        )
        pq.write_table(table, path)
    await run_import(database, [path], other_ws)
    assert await totals(database, other_ws) == await totals(database, plain_ws)
    assert await count(database, other_ws) == await count(database, plain_ws)


async def test_focus_1_4_provider_column_and_reimport_replaces_days(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    header = [h if h != "ProviderName" else "ServiceProviderName" for h in HEADER]
    first = [dict(row(), ServiceProviderName="Google Cloud") for _ in range(3)]
    await run_import(database, [write_csv(tmp_path / "p1.csv", first, header)], ws)
    assert (await totals(database, ws))["billed_nanos"] == 3_750_000_000
    # A corrected export of the same day: replaces it, does not add to it.
    corrected = [dict(row(cost="2.00"), ServiceProviderName="Google Cloud")]
    await run_import(database, [write_csv(tmp_path / "p2.csv", corrected, header)], ws)
    assert (await totals(database, ws))["billed_nanos"] == 2_000_000_000
    # Another provider's export of the same day leaves Google's alone.
    await run_import(database, [write_csv(tmp_path / "aws.csv", [row(cost="1.00")])], ws)
    assert (await totals(database, ws))["billed_nanos"] == 3_000_000_000
    async with database.reading() as session:
        logged = (await session.exec(select(CostImport).where(CostImport.workspace_id == ws))).all()
    assert [i.provider for i in logged] == ["Google Cloud", "Google Cloud", "AWS"]
    assert logged[-1].period_end == datetime(2024, 9, 2, 11, tzinfo=UTC)


async def test_a_large_generated_export_stays_exact(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    """200,000 rows with eleven-decimal costs, folded into a bounded number of daily
    aggregates: each aggregate is its rows' exact sum rounded to the billionth, so the total
    is off by at most half a billionth per aggregate, and exact to the cent."""
    ws = await workspace_id(database, workspace)
    path = tmp_path / "big.csv.gz"
    expected = Decimal(0)
    with gzip.open(path, "wt", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(200_000):
            cost = Decimal(i % 9973) / Decimal(10**11) + Decimal(i % 7)
            expected += cost
            day = 1 + i % 30
            writer.writerow(
                [
                    cost, cost, "", "", "Usage", f"2024-09-{day:02d}T{i % 24:02d}:00:00Z",
                    f"2024-09-{day:02d}T{i % 24:02d}:59:59Z", ("AWS", "Microsoft")[i % 2],
                    "USD", "Compute", f"svc-{i % 20}", f"acct-{i % 50}", "", "Standard",
                    "", "", json.dumps({"team": f"t{i % 5}", "resource": f"r{i}"}), "x",
                ]
            )  # fmt: skip
    summary = await run_import(database, [path], ws)
    assert summary.rows_read == 200_000
    stored = await count(database, ws)
    assert stored <= 30 * 20 * 50  # day x service x account at most, not one per input row
    billed = Decimal((await totals(database, ws))["billed_nanos"]).scaleb(-9)
    assert abs(billed - expected) <= Decimal("0.5e-9") * stored
    assert billed.quantize(Decimal("0.01")) == expected.quantize(Decimal("0.01"))


# --- the specification's commitment scenarios ------------------------------------------------


async def test_spec_commitment_scenarios_import(database: Database, workspace: str) -> None:
    folder = shared_path("focus", "spec_v1.2_examples")
    expected = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as file:
            data = [r for r in csv.DictReader(file) if r.get("ChargeCategory")]
        expected[path.name] = (
            len(data),
            sum(Decimal(r["EffectiveCost"]) for r in data),
            sum(Decimal(r["BilledCost"]) for r in data),
        )
    for name, (rows_in, effective, billed) in expected.items():
        ws = await workspace_id(database, f"{workspace}-{name[:20]}")
        summary = await run_import(database, [folder / name], ws)
        assert summary.rows_read == rows_in, name
        got = await totals(database, ws)
        assert got["effective_nanos"] == int(effective.scaleb(9)), name
        assert got["billed_nanos"] == int(billed.scaleb(9)), name


# --- watched directories ---------------------------------------------------------------------


async def test_watched_folder_imports_all_parts_when_one_changes(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    folder = tmp_path / "exports" / "2024-09"
    folder.mkdir(parents=True)
    write_csv(folder / "part-1.csv", [row(cost="1.00")])
    write_csv(folder / "part-2.csv", [row(cost="2.00")])
    await watch.add(database, tmp_path / "exports", ws)
    try:
        assert len(await watch.scan(database)) == 1
        assert (await totals(database, ws))["billed_nanos"] == 3_000_000_000
        assert await watch.scan(database) == []  # nothing changed: nothing imported
        write_csv(folder / "part-2.csv", [row(cost="5.00")])  # the provider rewrote one part
        os.utime(folder / "part-2.csv", ns=(1, 2_000_000_000_000_000_000))
        assert len(await watch.scan(database)) == 1
        assert (await totals(database, ws))["billed_nanos"] == 6_000_000_000  # 1 + 5, both parts
    finally:
        await watch.remove(database, tmp_path / "exports")


NO_FLEX = "without_commitment_discount_flexibility"


@pytest.mark.parametrize(
    ("scenario", "utilisation", "waste"),
    [
        ("commitment_discount_usage_scenario_3.csv", "75.0", "25.0"),
        (f"one_hundred_percent_utilization_{NO_FLEX}.csv", "100.0", "0.0"),
        (f"zero_percent_utilization_{NO_FLEX}.csv", "0.0", "100.0"),
    ],
)  # fmt: skip
async def test_spec_scenarios_give_the_spec_utilisation(
    database: Database, workspace: str, scenario: str, utilisation: str, waste: str
) -> None:
    ws = await workspace_id(database, workspace)
    await run_import(database, [shared_path("focus", "spec_v1.2_examples", scenario)], ws)
    async with database.reading() as session:
        report = await kpis.build_report(
            session,
            ws,
            Period.month_of(date(2023, 1, 1)),
            now=datetime(2023, 2, 1, tzinfo=UTC),
            owner_tags=False,
        )
    assert isinstance(report, kpis.CostReport)
    assert report.utilisation.value == Decimal(utilisation)
    assert report.waste.value == Decimal(waste)


async def test_the_scheduler_imports_new_exports_in_watched_folders(
    bot: Bot, database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    write_csv(tmp_path / "part-1.csv", [row(cost="4.00")])
    await watch.add(database, tmp_path, ws)
    try:
        ran = await Scheduler(bot, {"console"}).tick()
        assert any(job.startswith("focus-import:") for job in ran)
        assert (await totals(database, ws))["billed_nanos"] == 4_000_000_000
        scheduler = Scheduler(bot, {"console"})
        write_csv(tmp_path / "part-2.csv", [row(cost="1.00")])
        assert await scheduler.tick() != []  # a replica's first tick looks at once
        write_csv(tmp_path / "part-3.csv", [row(cost="2.00")])
        assert await scheduler.tick() == []  # then only every FINOPS_FOCUS_WATCH_MINUTES
        assert (await totals(database, ws))["billed_nanos"] == 5_000_000_000
    finally:
        await watch.remove(database, tmp_path)


# --- issue 14 findings ---------------------------------------------------------------------


async def test_a_date_that_is_not_iso_8601_is_skipped_not_stored_as_another_year(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    rows = [
        row(),
        row(ChargePeriodStart="4/1/25", ChargePeriodEnd="4/2/25"),  # M/D/YY: was the year 4 AD
        row(ChargePeriodStart="01/04/2025", ChargePeriodEnd="02/04/2025"),  # D/M/Y
        row(ChargePeriodStart="2024-09-03", ChargePeriodEnd="2024-09-04"),  # a date alone is ISO
    ]
    summary = await run_import(database, [write_csv(tmp_path / "dates.csv", rows)], ws)
    assert summary.skipped == {"ChargePeriodStart empty or not a date-time": 2}
    async with database.reading() as session:
        days = set(
            (await session.exec(select(CostDay.day).where(CostDay.workspace_id == ws))).all()
        )
    assert days == {date(2024, 9, 2), date(2024, 9, 3)}


async def test_a_focus_1_0_preview_file_is_refused_clearly(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    header = ["Provider" if h == "ProviderName" else h for h in HEADER]
    rows = [{**r, "Provider": r.pop("ProviderName")} for r in [row()]]
    with pytest.raises(ExportRefused, match=r"1\.0-preview.*Provider"):
        await run_import(database, [write_csv(tmp_path / "preview.csv", rows, header)], ws)
    assert await count(database, ws) == 0


async def test_upper_case_extensions_are_found_in_a_folder(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "EXPORT.CSV", [row(cost="3.00")])
    assert export_files([folder]) == [folder / "EXPORT.CSV"]
    summary = await run_import(database, export_files([folder]), ws)
    assert summary.rows_read == 1
    assert (await totals(database, ws))["billed_nanos"] == 3 * 10**9


async def test_freshness_comes_from_usage_rows_not_monthly_tax(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    rows = [
        row(),  # usage ending 2024-09-02 11:00
        row(
            ChargeCategory="Tax",
            ChargePeriodStart="2024-09-01T00:00:00Z",
            ChargePeriodEnd="2024-10-01T00:00:00Z",
        ),
    ]
    await run_import(database, [write_csv(tmp_path / "tax.csv", rows)], ws)
    async with database.reading() as session:
        ends = (
            await session.exec(select(CostImport.period_end).where(CostImport.workspace_id == ws))
        ).all()
    assert [end.replace(tzinfo=None) for end in ends] == [datetime(2024, 9, 2, 11)]


async def test_a_header_repeated_in_another_case_is_refused_by_name(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    path = write_csv(tmp_path / "twice.csv", [row()], [*HEADER, "billedcost"])
    with pytest.raises(ExportRefused, match=r"twice\.csv: the column billedcost appears twice"):
        await run_import(database, [path], ws)
    assert await count(database, ws) == 0


@pytest.mark.parametrize("shape", ["map", "struct"])
async def test_parquet_tags_as_map_or_struct_are_read_like_json(
    database: Database, workspace: str, tmp_path: Path, shape: str
) -> None:
    ws = await workspace_id(database, workspace)
    async with database.session() as session:
        await workspaces.set_setting(session, ws, "cost-owner-tags", value="team")
    rows = [row(), row()]
    table = pa.table({h: [r[h] for r in rows] for h in HEADER if h != "Tags"})
    if shape == "map":
        tags = pa.array([[("team", "core")], []], pa.map_(pa.string(), pa.string()))
    else:
        tags = pa.array([{"team": "core"}, {"team": None}])
    pq.write_table(table.append_column("Tags", tags), tmp_path / "tags.parquet")
    await run_import(database, [tmp_path / "tags.parquet"], ws)
    async with database.reading() as session:
        found = (await session.exec(select(CostDay).where(CostDay.workspace_id == ws))).all()
    owners = {(r.owner, r.tagged): r.row_count for r in found}
    assert owners[("core", True)] == 1


async def test_a_longer_billing_currency_is_kept_whole(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    rows = [row(cost="4.00"), row(cost="1.00", BillingCurrency="USDC")]
    await run_import(database, [write_csv(tmp_path / "usdc.csv", rows)], ws)
    async with database.reading() as session:
        found = (await session.exec(select(CostDay).where(CostDay.workspace_id == ws))).all()
    by_currency = {r.currency: money.amount(r, "billed") for r in found}
    assert by_currency == {"USD": 4 * 10**9, "USDC": 10**9}


DELIVERY = [*HEADER, "BillingAccountId", "BillingPeriodStart"]


def billed(day: str, cost: str, account: str = "payer-1", period: str = "2024-09-01") -> dict:
    start = f"2024-{day}T10:00:00Z"
    return row(
        cost=cost,
        ChargePeriodStart=start,
        ChargePeriodEnd=start.replace("T10", "T11"),
        BillingAccountId=account,
        BillingPeriodStart=f"{period}T00:00:00Z",
    )


async def by_day(database: Database, ws: int) -> dict[tuple[str, date], int]:
    async with database.reading() as session:
        found = (await session.exec(select(CostDay).where(CostDay.workspace_id == ws))).all()
    days: dict[tuple[str, date], int] = defaultdict(int)
    for r in found:
        days[(r.billing_account, r.day)] += money.amount(r, "billed") // 10**9
    return dict(days)


async def test_a_correction_billed_in_october_leaves_septembers_export_whole(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    sep = [billed("09-10", "100"), billed("09-11", "50")]
    await run_import(database, [write_csv(tmp_path / "sep.csv", sep, DELIVERY)], ws)
    # October's export carries a correction dated 10 September, billed in October.
    octo = [billed("10-01", "7", period="2024-10-01"), billed("09-10", "-5", period="2024-10-01")]
    await run_import(database, [write_csv(tmp_path / "oct.csv", octo, DELIVERY)], ws)
    assert await by_day(database, ws) == {
        ("payer-1", date(2024, 9, 10)): 95,
        ("payer-1", date(2024, 9, 11)): 50,
        ("payer-1", date(2024, 10, 1)): 7,
    }


async def test_two_payer_accounts_imported_separately_both_stay(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    first = [billed("09-02", "3000", account="payer-1")]
    second = [billed("09-02", "1200", account="payer-2")]
    await run_import(database, [write_csv(tmp_path / "a.csv", first, DELIVERY)], ws)
    summary = await run_import(database, [write_csv(tmp_path / "b.csv", second, DELIVERY)], ws)
    assert "  replaced AWS billing account payer-2, billing period 2024-09" in summary.lines()
    assert sum((await by_day(database, ws)).values()) == 4200


async def test_a_watched_folder_with_one_sub_folder_per_payer_keeps_both(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    """`focus import --watch` over exports/payer-1 and exports/payer-2: each sub-folder is
    imported as its own delivery, and neither replaces the other's account."""
    ws = await workspace_id(database, workspace)
    exports = tmp_path / "exports"
    for account, cost in (("payer-1", "3000"), ("payer-2", "1200")):
        (exports / account).mkdir(parents=True)
        write_csv(exports / account / "part-1.csv", [billed("09-02", cost, account)], DELIVERY)
    await watch.add(database, exports, ws)
    try:
        assert len(await watch.scan(database)) == 2
        assert await by_day(database, ws) == {
            ("payer-1", date(2024, 9, 2)): 3000,
            ("payer-2", date(2024, 9, 2)): 1200,
        }
        # payer-2 re-delivers its September: payer-1's rows stay as they were.
        write_csv(
            exports / "payer-2" / "part-1.csv", [billed("09-03", "1300", "payer-2")], DELIVERY
        )
        os.utime(exports / "payer-2" / "part-1.csv", ns=(1, 2_000_000_000_000_000_000))
        assert len(await watch.scan(database)) == 1
        assert sum((await by_day(database, ws)).values()) == 4300
    finally:
        await watch.remove(database, exports)


async def test_a_restated_period_leaves_no_stale_day(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    first = [billed("09-29", "10"), billed("09-30", "20")]
    restated = [billed("09-29", "30")]  # the charge of the 30th moved to the 29th
    await run_import(database, [write_csv(tmp_path / "a.csv", first, DELIVERY)], ws)
    await run_import(database, [write_csv(tmp_path / "b.csv", restated, DELIVERY)], ws)
    assert await by_day(database, ws) == {("payer-1", date(2024, 9, 29)): 30}
