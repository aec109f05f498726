"""Cost KPIs over imported FOCUS aggregates, on SQLite and PostgreSQL: every formula against
hand-computed values, the traffic lights, the `cost` command through the console, the digest
section, the chart series and the dashboard tiles.

Installation-wide rows (workspace None) would be seen by every test sharing the database, so
tests that need them work in a transaction that is rolled back (`scratch`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commands import Request
from bot.costs import kpis
from bot.costs.kpis import TARGETS, CostReport, Kpi, Light, NoDataInPeriod
from bot.dashboard import data as dashboard_data
from bot.features import cost as cost_feature
from bot.message import Audience, Fields, Reply
from bot.parsing.billing import Period, parse_owner_tags
from storage import cost_kpis, costs, workspaces
from storage.engine import Database
from storage.models import CostImport

SEP = date(2024, 9, 1)
OCT = date(2024, 10, 1)


def nanos(amount: str) -> int:
    return int(Decimal(amount).scaleb(9))


def row(
    day: date,
    *,
    effective: str,
    billed: str | None = None,
    listed: str | None = None,
    contracted: str | None = None,
    currency: str = "USD",
    service: str = "Amazon EC2",
    sub_account: str = "prod",
    category: str = "Compute",
    charge: str = "Usage",
    pricing: str = "Standard",
    status: str = "",
    commitment: str = "",
    tagged: bool = True,
    owner: str = "team-a",
    **override: Any,
) -> dict[str, Any]:
    """One aggregate row; savings as the importer keeps them (bot/costs/reader.py): negotiated
    where both prices are positive, commitment where ContractedCost is, purchases never."""
    eff = nanos(effective)
    lst = nanos(listed if listed is not None else effective)
    con = nanos(contracted if contracted is not None else effective)
    not_purchase = charge != "Purchase"
    values = {
        "day": day,
        "provider": "AWS",
        "currency": currency,
        "billing_account": "acme",
        "sub_account": sub_account,
        "service_category": category,
        "service": service,
        "region": "us-east-1",
        "charge_category": charge,
        "pricing_category": pricing,
        "commitment_status": status,
        "commitment_id": commitment,
        "tagged": tagged,
        "owner": owner,
        "row_count": 1,
        "billed_nanos": nanos(billed if billed is not None else effective),
        "effective_nanos": eff,
        "list_nanos": lst,
        "contracted_nanos": con,
        "negotiated_nanos": lst - con if not_purchase and con > 0 and lst > 0 else 0,
        "commitment_nanos": con - eff if not_purchase and con > 0 else 0,
    }
    return values | override


async def put(session: AsyncSession, workspace_id: int | None, rows: Iterable[dict]) -> None:
    """Add rows (each call a part of the month's data: nothing is replaced)."""
    rows = [{"billing_period": r["day"].replace(day=1), **r} for r in rows]
    await costs.replace_deliveries(session, workspace_id, (), rows=rows)


async def new_workspace(session: AsyncSession) -> int:
    return await workspaces.workspace_id(session, "console", f"ws-{uuid.uuid4().hex[:12]}")


class _RolledBack(Exception):
    pass


@contextlib.asynccontextmanager
async def scratch(database: Database) -> AsyncIterator[AsyncSession]:
    """A transaction that is always rolled back."""
    with contextlib.suppress(_RolledBack):
        async with database.session() as session:
            yield session
            raise _RolledBack


def september(day: int = 3) -> list[dict[str, Any]]:
    """One workspace's September, every KPI's case in it (USD unless said otherwise)."""
    d = date(2024, 9, day)
    return [
        # on demand compute
        row(d, effective="100"),
        # a commitment: 75 used (list and contracted 100), 25 unused (no prices)
        row(
            d,
            effective="75",
            billed="0",
            listed="100",
            contracted="100",
            pricing="Committed",
            status="Used",
            commitment="ri-1",
        ),
        row(
            d,
            effective="25",
            billed="0",
            listed="0",
            contracted="0",
            pricing="Committed",
            status="Unused",
            commitment="ri-1",
        ),
        # its purchase: amortised away (effective 0) but with a list cost
        row(
            d,
            effective="0",
            billed="100",
            listed="300",
            contracted="100",
            charge="Purchase",
            commitment="ri-1",
        ),
        # spot: left out of coverage
        row(d, effective="30", listed="100", contracted="100", pricing="Dynamic"),
        # untagged storage with a negotiated discount
        row(
            d,
            effective="50",
            listed="60",
            contracted="50",
            service="Amazon S3",
            category="Storage",
            tagged=False,
            owner="",
        ),
        # a negative credit; its savings columns filled naively, to prove they are not counted
        row(
            d,
            effective="-3",
            billed="-2.6137",
            listed="-2.6137",
            contracted="-3",
            charge="Credit",
            pricing="Other",
            tagged=False,
            owner="",
            negotiated_nanos=nanos("0.3863"),
        ),
        # tagged, but no owner tag
        row(
            d,
            effective="20",
            listed="25",
            contracted="22",
            service="Amazon RDS",
            category="Databases",
            sub_account="data",
            owner="",
        ),
        # another currency, never added in
        row(d, effective="12.34", currency="EUR"),
    ]


def tax_row(day: date) -> dict[str, Any]:
    return row(
        day,
        effective="10",
        listed="0",
        contracted="0",
        charge="Tax",
        category="Other",
        tagged=False,
        owner="",
    )


# Hand-computed from `september()` plus the installation's tax row (10 USD, untagged).
EXPECTED = {
    "billed": "307.3863",  # 100 + 0 + 0 + 100 + 30 + 50 - 2.6137 + 20 + 10
    "effective": "307",  # 100 + 75 + 25 + 0 + 30 + 50 - 3 + 20 + 10
    "listed": "682.3863",  # 100 + 100 + 0 + 300 + 100 + 60 - 2.6137 + 25 + 0
    "contracted": "469",  # 100 + 100 + 0 + 100 + 100 + 50 - 3 + 22 + 0
    "usage_effective": "300",  # usage rows only: no purchase, credit or tax
    "usage_list": "385",  # what was consumed at list price; the unused row consumed nothing
    # Coverage in on-demand equivalent (ListCost): the used commitment row's 100 of the
    # eligible 100 on demand + 100 covered; spot and the unused row are not eligible usage.
    "coverage_used": "100",
    "coverage_eligible": "200",
    "commitment_used": "75",
    "commitment_unused": "25",
    "commitment_effective": "100",  # 75 + 25 + the purchase's 0
    "untagged": "50",  # usage rows only: the untagged credit and tax are not resources
    "ownerless": "70",  # 50 + 20
    "negotiated_savings": "13",  # S3 60 - 50, RDS 25 - 22; the credit's 0.3863 is not usage
    # used 100 - 75, spot 100 - 30, RDS 22 - 20, and the unused row's -25: wasted money
    "commitment_savings": "72",
}


async def test_window_totals_every_formula_and_scope(database: Database):
    async with scratch(database) as session:
        ws, other = await new_workspace(session), await new_workspace(session)
        await put(session, ws, september())
        await put(session, ws, [row(date(2024, 8, 31), effective="1000")])  # before
        await put(session, ws, [row(OCT, effective="1000")])  # after: the end is exclusive
        await put(session, other, [row(date(2024, 9, 3), effective="5000")])  # not ours
        tax = tax_row(date(2024, 9, 30))
        await put(session, None, [tax])

        totals = await cost_kpis.window_totals(session, ws, start=SEP, end=OCT)
        assert set(totals) == {"USD", "EUR"}
        usd = totals["USD"]
        for name, amount in EXPECTED.items():
            assert getattr(usd, name) == nanos(amount), name
        assert usd.total_savings == nanos("85")
        assert totals["EUR"].effective == nanos("12.34")

        # the installation alone sees its own rows only
        installation = await cost_kpis.window_totals(session, None, start=SEP, end=OCT)
        assert set(installation) == {"USD"} and installation["USD"].effective == nanos("10")
        # the other workspace sees the installation's tax and its own row, none of ours
        theirs = await cost_kpis.window_totals(session, other, start=SEP, end=OCT)
        assert theirs["USD"].effective == nanos("5010")


async def test_report_kpis_against_hand_computed_values(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(session, ws, september())
        await put(session, ws, [tax_row(date(2024, 9, 30))])
        await put(session, ws, [row(date(2024, 8, 5), effective="200", billed="250")])
        now = datetime(2024, 10, 2, 12, tzinfo=UTC)
        report = await kpis.build_report(
            session, ws, Period.month_of(SEP), now=now, owner_tags=True
        )

    assert isinstance(report, CostReport)
    assert report.currency == "USD" and report.others == {"EUR": nanos("12.34")}
    assert not report.partial and report.compared == "Sep 2024 vs Aug 2024"
    # ESR: 1 - 300 / 385 over usage only (with the purchase it would be 1 - 300 / 685)
    assert report.esr.value == Decimal("22.1")
    # coverage: 100 / 200 in on-demand equivalent (weighted by discounted cost it would be
    # 75 / 200, with the unused row 75 / 225, with spot 75 / 330)
    assert report.coverage.value == Decimal("50.0")
    assert report.utilisation.value == Decimal("75.0")
    assert report.waste.value == Decimal("25.0")
    assert report.untagged.value == Decimal("16.7")  # 50 / 300, usage rows only
    assert report.unallocated.value == Decimal("23.3")  # 70 / 300
    assert report.allocation.value == Decimal("76.7")
    assert report.allocation.light is Light.CRAWL
    assert report.effective_change == kpis.Change(nanos("107"), Decimal("53.5"))  # 307 vs 200
    assert report.billed_change == kpis.Change(nanos("57.3863"), Decimal("23.0"))  # vs 250
    assert report.totals.negotiated_savings == nanos("13")
    assert report.categories[0] == ("Compute", nanos("227"))  # 100 + 75 + 25 + 0 + 30 - 3
    assert [(c.commitment_id, c.used, c.unused) for c in report.commitments] == [
        ("ri-1", nanos("75"), nanos("25"))
    ]
    assert report.freshness.value is None  # no import recorded


async def test_allocation_without_owner_tags_is_the_tagged_share(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(session, ws, september())
        report = await kpis.build_report(
            session, ws, Period.month_of(SEP), now=datetime.now(UTC), owner_tags=False
        )
    assert isinstance(report, CostReport)
    assert report.untagged.value == Decimal("16.7")  # 50 / 300, usage rows only
    assert report.allocation.value == Decimal("83.3") and report.unallocated.value is None


async def test_spec_commitment_example_utilisation_and_waste(database: Database):
    """FOCUS 1.2 commitment discount usage scenario 3: 0.75 used and 0.25 unused."""
    async with scratch(database) as session:
        ws = await new_workspace(session)
        d = date(2023, 1, 1)
        await put(
            session,
            ws,
            [
                row(
                    d,
                    effective="0.75",
                    billed="0",
                    pricing="Committed",
                    status="Used",
                    commitment="cd-1",
                ),
                row(
                    d,
                    effective="0.25",
                    billed="0",
                    pricing="Committed",
                    status="Unused",
                    commitment="cd-1",
                ),
            ],
        )
        report = await kpis.build_report(
            session, ws, Period.month_of(d), now=datetime.now(UTC), owner_tags=True
        )
        uses = await cost_kpis.commitment_utilisation(
            session, ws, start=d, end=d + timedelta(days=1), currency="USD"
        )
    assert isinstance(report, CostReport)
    assert report.utilisation.value == Decimal("75.0") and report.waste.value == Decimal("25.0")
    assert report.utilisation.light is Light.BELOW and report.waste.light is Light.BELOW
    assert uses == [cost_kpis.CommitmentUse("cd-1", nanos("0.75"), nanos("0.25"))]


async def test_zero_denominators_are_not_applicable(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        # storage only, without a list price or commitment; credits larger than the cost
        await put(
            session,
            ws,
            [
                row(SEP, effective="5", listed="0", contracted="0", category="Storage"),
                row(SEP, effective="-8", charge="Credit", category="Storage", listed="0"),
            ],
        )
        report = await kpis.build_report(
            session, ws, Period.month_of(SEP), now=datetime.now(UTC), owner_tags=True
        )
    assert isinstance(report, CostReport)
    for kpi in (report.esr, report.coverage, report.utilisation, report.waste):
        assert kpi.value is None and kpi.light is None and kpi.judged == "n/a"
    # shares count usage rows only, so the larger credit cannot push them past 0-100 %
    assert report.untagged.value == Decimal("0.0") and report.allocation.value == Decimal("100.0")
    assert report.effective_change.percent is None  # nothing the month before
    message = cost_feature.report_message(report).text
    assert "Effective savings rate: n/a" in message and "MoM n/a" in message


def test_ratio_and_change_edge_cases():
    assert kpis.ratio(1, 0) is None and kpis.ratio(1, -5) is None
    assert kpis.ratio(0, 7) == Decimal("0.0")
    assert kpis.ratio(2, 3) == Decimal("66.7")
    assert str(kpis.ratio(-1, 10**12)) == "0.0"  # never "-0.0"
    assert kpis.Change.between(5, 0) == kpis.Change(5, None)
    assert kpis.Change.between(nanos("-5"), nanos("-10")) == kpis.Change(
        nanos("5"), Decimal("50.0")
    )
    assert kpis.Change.between(0, nanos("4")).shown("USD") == "-4.00 USD (-100.0 %)"
    assert kpis.Change.between(nanos("3"), 0).shown("USD") == "+3.00 USD (new)"


def test_money_formatting():
    assert kpis.format_cost(nanos("12345.675"), "USD") == "12,345.68 USD"
    assert kpis.format_cost(nanos("12345"), "USD") == "12,345.00 USD"
    assert kpis.format_cost(nanos("-0.001"), "USD") == "0.00 USD"
    assert kpis.format_cost(nanos("1234.5"), "JPY") == "1,235 JPY"
    assert kpis.format_cost(nanos("7"), "USD", signed=True) == "+7.00 USD"
    assert kpis.format_cost(nanos("7"), "") == "7.00"


@pytest.mark.parametrize(
    ("key", "value", "level"),
    [
        ("allocation", "69.9", Light.BELOW),
        ("allocation", "70", Light.CRAWL),
        ("allocation", "84.9", Light.CRAWL),
        ("allocation", "85", Light.WALK),
        ("allocation", "90", Light.WALK),
        ("allocation", "90.1", Light.RUN),
        ("coverage", "59.9", Light.BELOW),
        ("coverage", "60", Light.CRAWL),
        ("coverage", "75", Light.CRAWL),
        ("coverage", "75.1", Light.WALK),
        ("coverage", "80", Light.WALK),
        ("coverage", "80.1", Light.RUN),
        ("utilisation", "79.9", Light.BELOW),
        ("utilisation", "80", Light.CRAWL),
        ("utilisation", "90", Light.WALK),
        ("utilisation", "94.9", Light.WALK),
        ("utilisation", "95", Light.RUN),
        ("waste", "20.1", Light.BELOW),
        ("waste", "20", Light.CRAWL),
        ("waste", "10", Light.WALK),
        ("waste", "5.1", Light.WALK),
        ("waste", "5", Light.RUN),
        ("esr", "9.9", Light.BELOW),
        ("esr", "10", Light.CRAWL),
        ("esr", "20", Light.WALK),
        ("esr", "30", Light.RUN),
        ("freshness", "7.1", Light.BELOW),
        ("freshness", "7", Light.CRAWL),
        ("freshness", "3", Light.WALK),
        ("freshness", "1.1", Light.WALK),
        ("freshness", "1", Light.RUN),
    ],
)
def test_traffic_light_boundaries(key: str, value: str, level: Light):
    assert TARGETS[key].level(Decimal(value)) is level


def test_each_kpi_shows_its_level_and_the_next_target():
    assert Kpi("coverage", Decimal("72.4")).judged == "72.4 % 🟠 Crawl (Walk > 75 %)"
    assert Kpi("coverage", Decimal("81.0")).judged == "81.0 % 🟢 Run (> 80 %)"
    assert Kpi("allocation", Decimal("50.0")).judged == "50.0 % 🔴 below Crawl (Crawl ≥ 70 %)"
    assert Kpi("esr", Decimal("22.1")).judged == "22.1 % 🟡 Walk (Run ≥ 30 %)"
    assert Kpi("waste", Decimal("12.0")).judged == "12.0 % 🟠 Crawl (Walk ≤ 10 %)"
    freshness = Kpi("freshness", Decimal("1.4"), "days")
    assert freshness.judged == "1.4 days 🟡 Walk (Run ≤ 1 day)"
    assert Kpi("", Decimal("3.0")).judged == "3.0 %"  # a share without targets


async def test_the_currency_most_rows_are_in_is_reported(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(
            session,
            ws,
            [
                row(SEP, effective="100", currency="USD", row_count=3),
                row(SEP, effective="1234.56", currency="EUR", row_count=4),
                row(SEP, effective="5", currency="", row_count=4),  # a tie: the named one
            ],
        )
        report = await kpis.build_report(
            session, ws, Period.month_of(SEP), now=datetime.now(UTC), owner_tags=False
        )
    assert isinstance(report, CostReport) and report.currency == "EUR"
    assert report.others == {"USD": nanos("100"), "": nanos("5")}
    text = cost_feature.report_message(report).text
    assert "Effective cost (amortised): 1,234.56 EUR" in text
    assert "Also 100.00 USD, 5.00 (no currency) not included" in text


async def test_top_movers_by_service_and_sub_account(database: Database):
    aug, sep = date(2024, 8, 10), date(2024, 9, 10)
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(
            session,
            ws,
            [
                row(aug, effective="100", service="EC2", sub_account="a"),
                row(sep, effective="150", service="EC2", sub_account="a"),
                row(aug, effective="80", service="S3", sub_account="b"),
                row(sep, effective="20", service="S3", sub_account="b"),
                row(sep, effective="30", service="RDS", sub_account="c"),
                row(aug, effective="10", service="Lambda", sub_account="a"),
                row(sep, effective="10", service="Lambda", sub_account="a"),
                row(aug, effective="5", service="CloudFront", sub_account="c"),
                row(sep, effective="999", service="EC2", currency="EUR"),  # another currency
                row(date(2024, 7, 31), effective="999", service="S3"),  # outside both
            ],
        )
        by_service = await cost_kpis.top_movers(
            session,
            ws,
            "service",
            start=SEP,
            end=OCT,
            previous_start=date(2024, 8, 1),
            previous_end=SEP,
            currency="USD",
        )
        by_account = await cost_kpis.top_movers(
            session,
            ws,
            "sub_account",
            start=SEP,
            end=OCT,
            previous_start=date(2024, 8, 1),
            previous_end=SEP,
            currency="USD",
            limit=5,
        )
    assert [(m.name, m.current, m.previous) for m in by_service] == [
        ("S3", nanos("20"), nanos("80")),
        ("EC2", nanos("150"), nanos("100")),
        ("RDS", nanos("30"), 0),
    ]
    assert [(m.name, m.change) for m in by_account] == [
        ("b", nanos("-60")),
        ("a", nanos("50")),
        ("c", nanos("25")),  # RDS 30 - CloudFront 5
    ]


async def test_month_to_date_is_compared_with_as_many_days(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(
            session,
            ws,
            [
                row(date(2026, 10, 5), effective="40"),
                row(date(2026, 10, 24), effective="60"),
                row(date(2026, 10, 25), effective="500"),  # after the 24th: not compared
                row(date(2026, 11, 2), effective="80"),
                row(date(2026, 11, 24), effective="70"),
            ],
        )
        now = datetime(2026, 11, 25, 10, tzinfo=UTC)
        report = await kpis.build_report(
            session, ws, Period.month_of(now.date()), now=now, owner_tags=False
        )
    assert isinstance(report, CostReport) and report.partial
    assert (report.start, report.end) == (date(2026, 11, 1), date(2026, 11, 25))
    assert (report.previous_start, report.previous_end) == (date(2026, 10, 1), date(2026, 10, 25))
    assert report.compared == "1–24 Nov 2026 vs 1–24 Oct 2026"
    assert report.effective_change == kpis.Change(nanos("50"), Decimal("50.0"))  # 150 vs 100


async def test_weekly_series_freshness_and_days(database: Database):
    async with scratch(database) as session:
        ws, other = await new_workspace(session), await new_workspace(session)
        monday = date(2024, 9, 2)
        await put(
            session,
            ws,
            [
                row(monday - timedelta(days=1), effective="1"),  # the week before
                row(monday, effective="2"),
                row(monday + timedelta(days=6), effective="3"),  # Sunday: same week
                row(monday + timedelta(days=7), effective="4"),
                row(monday + timedelta(days=20), effective="5"),
                row(monday + timedelta(days=21), effective="6"),  # after the last week
                row(monday, effective="70", currency="EUR"),
            ],
        )
        weeks, values = await kpis.chart_series(
            session, ws, "USD", last_monday=monday + timedelta(days=14), weeks=3
        )
        assert weeks == [monday, monday + timedelta(days=7), monday + timedelta(days=14)]
        assert values == [Decimal("5"), Decimal("4"), Decimal("5")]
        assert await cost_kpis.day_span(session, ws) == (
            monday - timedelta(days=1),
            monday + timedelta(days=21),
        )
        assert await cost_kpis.latest_day(session, ws) == monday + timedelta(days=21)
        assert await cost_kpis.freshness(session, ws) is None

        def imported(scope: int | None, end: datetime) -> CostImport:
            return CostImport(
                workspace_id=scope,
                provider="AWS",
                first_day=monday,
                last_day=monday,
                row_count=1,
                period_end=end,
                source="x.csv",
            )

        mine = datetime(2024, 9, 23, tzinfo=UTC)
        await costs.record_import(session, imported(None, datetime(2024, 9, 20, tzinfo=UTC)))
        await costs.record_import(session, imported(ws, mine))
        await costs.record_import(session, imported(other, datetime(2024, 9, 30, tzinfo=UTC)))
        assert await cost_kpis.freshness(session, ws) == mine
        assert await cost_kpis.freshness(session, None) == datetime(2024, 9, 20, tzinfo=UTC)
        report = await kpis.build_report(
            session,
            ws,
            Period.week_of(monday),
            now=datetime(2024, 9, 24, 12, tzinfo=UTC),
            owner_tags=False,
        )
    assert isinstance(report, CostReport)
    assert report.freshness.value == Decimal("1.5") and report.freshness.light is Light.WALK
    assert report.compared == "week of 2 Sep 2024 vs week of 26 Aug 2024"


async def test_the_day_index_serves_the_window_filter(database: Database):
    """`day >= :start AND day < :end AND (workspace_id IS NULL OR workspace_id = :ws)` can use
    ix_cost_day_day_workspace_id (PostgreSQL is told not to scan the table if it can help it:
    its planner prefers a scan on a table this small)."""
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(session, ws, september())
        postgres = session.bind.dialect.name == "postgresql"  # type: ignore[union-attr]
        if postgres:
            await session.exec(text("SET LOCAL enable_seqscan = off"))  # type: ignore[call-overload]
        explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
        sql = (
            f"{explain} SELECT currency, sum(effective_nanos) FROM cost_day "
            "WHERE day >= :start AND day < :end "
            "AND (workspace_id IS NULL OR workspace_id = :ws) GROUP BY currency"
        )
        result = await session.exec(  # type: ignore[call-overload]
            text(sql), params={"start": SEP, "end": OCT, "ws": ws}
        )
        plan = "\n".join(" ".join(str(c) for c in r) for r in result.all())
    assert "ix_cost_day_day_workspace_id" in plan, plan


# --- the `cost` command --------------------------------------------------------------------


async def console_workspace(database: Database, workspace: str) -> int:
    async with database.session() as session:
        return await workspaces.workspace_id(session, "console", workspace)


async def store_rows(database: Database, workspace_id: int, rows: list[dict]) -> None:
    async with database.session() as session:
        await put(session, workspace_id, rows)


async def test_cost_for_a_month(chat, database: Database, workspace: str):
    ws = await console_workspace(database, workspace)
    await store_rows(database, ws, [*september(), row(date(2024, 8, 3), effective="200")])
    outcome = await chat.outcome("cost 2024-09")
    [reply] = outcome.items
    assert isinstance(reply, Reply) and reply.audience is Audience.ASKER
    [fields] = [b for b in reply.message.blocks if isinstance(b, Fields)]
    assert len(fields.pairs) <= 10
    answer = await chat.say("cost 2024-09")
    assert "== Cloud cost · Sep 2024 (data for 1–3 Sep 2024) ==" in answer
    assert "Effective cost (amortised): 297.00 USD, MoM +97.00 USD (+48.5 %)" in answer
    assert "Billed cost (invoiced): 297.39 USD, MoM +97.39 USD (+48.7 %)" in answer
    assert "Effective savings rate: 22.1 % 🟡 Walk (Run ≥ 30 %)" in answer
    assert "Commitment coverage (compute): 50.0 % 🔴 below Crawl (Crawl ≥ 60 %)" in answer
    assert "Commitment utilisation: 75.0 % 🔴 below Crawl (Crawl ≥ 80 %)" in answer
    assert "Commitment waste: 25.0 % 🔴 below Crawl (Crawl ≤ 20 %)" in answer
    # no owner tags configured: allocation is the tagged share, 1 - 47 / 297
    assert "Tagged cost (allocation): 83.3 % 🟠 Crawl (Walk ≥ 85 %)" in answer
    assert "Untagged / unallocated: 16.7 % / n/a" in answer
    assert "Savings: negotiated 13.00 USD, commitment 72.00 USD, total 85.00 USD" in answer
    # the data ends on the 3rd: compared with as many days of August
    assert "Changes are month over month: 1–3 Sep 2024 vs 1–3 Aug 2024." in answer
    assert "Top service category: Compute, 227.00 USD (76.4 % of effective cost)" in answer
    assert (
        "Top movers by service: Amazon S3 +50.00 USD (new); Amazon EC2 +27.00 USD (+13.5 %); "
        "Amazon RDS +20.00 USD (new)"
    ) in answer
    assert "Also 12.34 EUR not included" in answer
    assert "Source: FinOps Foundation, FinOps Framework (CC BY 4.0)" in answer

    assert "cost-owner-tags is now team, cost-center" in await chat.say(
        "config cost-owner-tags team, cost-center, Team"
    )
    answer = await chat.say("cost 2024-09")
    assert "Allocated to an owner: 76.7 % 🟠 Crawl (Walk ≥ 85 %)" in answer  # 1 - 67 / 297
    assert "Untagged / unallocated: 16.7 % / 23.3 %" in answer


async def test_cost_last_week_in_the_workspace_time_zone(chat, clock, database, workspace):
    ws = await console_workspace(database, workspace)
    await store_rows(
        database,
        ws,
        [
            row(date(2026, 11, 16), effective="100", service="EC2"),
            row(date(2026, 11, 22), effective="50", service="S3"),
            row(date(2026, 11, 23), effective="400", service="EC2"),  # the week after
            row(date(2026, 11, 9), effective="120", service="EC2"),
        ],
    )
    answer = await chat.say("cost last week")  # Wednesday 25 Nov 2026, UTC
    assert "== Cloud cost · week of 16 Nov 2026 ==" in answer
    assert "Effective cost (amortised): 150.00 USD, WoW +30.00 USD (+25.0 %)" in answer
    assert "Changes are week over week: week of 16 Nov 2026 vs week of 9 Nov 2026." in answer

    # Sunday noon in UTC is already Monday on Kiritimati (UTC+14): last week is 23-29 Nov
    await chat.say("config timezone Pacific/Kiritimati")
    clock.now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    answer = await chat.say("cost last week")
    assert "week of 23 Nov 2026" in answer and "400.00 USD" in answer
    answer = await chat.say("cost this week")
    assert "No cloud cost data for week of 30 Nov 2026" in answer
    assert "runs from 9 Nov 2026 to 23 Nov 2026" in answer


@pytest.mark.parametrize("bad", ["cost yesterday", "cost 2024-13", "cost 24-09", "cost 2024-09-01"])
async def test_a_bad_period_answers_with_the_usage(chat, bad: str):
    answer = await chat.say(bad)
    assert "is not a period" in answer and "e.g. `cost 2024-09`" in answer, answer
    assert "Usage: cost [this week|last week|this month|last month|YYYY-MM]" in answer
    assert "Traceback" not in answer and "went wrong" not in answer


async def test_cost_without_data_says_how_to_import(chat, workspace):
    answer = await chat.say("cost")
    assert "No cloud cost data yet" in answer
    assert "finops-bot focus import PATH" in answer and f"--workspace console:{workspace}" in answer


async def test_owner_tags_setting_is_checked(chat):
    assert "Usage: config" in await chat.say("config cost-owner-tags , ,")
    assert "Usage: config" in await chat.say("config cost-owner-tags " + "x" * 129)
    assert "Only an admin" in await chat.say("config cost-owner-tags team", user="bob")
    assert parse_owner_tags(' "cost center" , team,TEAM ') == "cost center, team"


# --- the digest section, the chart series and the dashboard tiles -----------------------------


def request(chat, session: AsyncSession, workspace_id: int, settings, now: datetime) -> Request:
    return Request(
        actor=chat.actor(),
        place=chat.place,
        session=session,
        workspace_id=workspace_id,
        config={},
        settings=settings,
        now=now,
        admins=frozenset(),
        voter_key=b"k",
    )


async def test_digest_section(chat, database: Database, workspace: str, settings):
    ws = await console_workspace(database, workspace)
    now = datetime(2024, 9, 10, 9, tzinfo=UTC)
    async with database.session() as session:
        req = request(chat, session, ws, settings, now)
        assert await cost_feature.digest_section(req, date(2024, 9, 9)) is None
        await put(session, ws, september())
        section = await cost_feature.digest_section(req, date(2024, 9, 9))
        assert section is not None
        # the latest seven days of data end on the 3rd, the data's last day
        assert section.heading == "Cloud cost · 28 Aug–3 Sep 2024"
        assert section.window_start == date(2024, 8, 28)
        [fields] = [b for b in section.blocks if isinstance(b, Fields)]
        assert len(fields.pairs) <= 6
        assert ("Effective savings rate", "22.1 % 🟡 Walk (Run ≥ 30 %)") in fields.pairs
        lines = section.lines
        assert (
            "Cloud cost (effective): 297.00 USD, vs the 7 days before n/a (no data before)" in lines
        )
        assert "The latest 7 complete days of imported data, compared with 21–27 Aug 2024." in lines
        assert any(line.startswith("Data freshness: n/a") for line in lines)
        # a digest of a time before the first day of data has no cost part
        assert await cost_feature.digest_section(req, date(2024, 8, 31)) is None


async def test_cost_data_three_days_late_is_shown_with_its_age(chat, clock, database: Database):
    """Data ending three days ago (Sunday 22 Nov, the clock on Wednesday 25 Nov 10:00 UTC):
    the digest's cost part, `cost` and the dashboard tiles show it and how old it is."""
    ws = await console_workspace(database, chat.workspace)
    days = [date(2026, 11, 9) + timedelta(days=i) for i in range(14)]  # 9-22 Nov
    async with database.session() as session:
        await put(session, ws, [row(d, effective="10" if d.day < 16 else "12") for d in days])
        session.add(
            CostImport(
                workspace_id=ws,
                provider="AWS",
                first_day=days[0],
                last_day=days[-1],
                row_count=14,
                period_end=datetime(2026, 11, 23, tzinfo=UTC),
                imported_at=datetime(2026, 11, 24, tzinfo=UTC),
                source="focus.csv",
            )
        )
    answer = await chat.say("digest")
    assert "Cloud cost · 16–22 Nov 2026" in answer
    assert "Cloud cost (effective): 84.00 USD, vs the 7 days before +14.00 USD (+20.0 %)" in answer
    assert "The latest 7 complete days of imported data, compared with 9–15 Nov 2026." in answer
    assert "the latest charge ended 23 Nov 2026 00:00 UTC, 2.4 days" in answer
    answer = await chat.say("cost")
    assert "== Cloud cost · Nov 2026 (data for 1–22 Nov 2026) ==" in answer
    assert "2.4 days" in answer
    async with database.reading() as session:
        tiles = await dashboard_data.cost_tiles(session, ws, clock.now)
    assert tiles[0].name == "Cloud cost, 1–22 Nov 2026" and tiles[0].value == "154.00 USD"
    assert tiles[-1].name == "Data freshness" and tiles[-1].value == "2.4 days"

    # On 1 December nothing goes blank: `cost` and the tiles still show November.
    clock.now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert "== Cloud cost · Nov 2026 (data for 1–22 Nov 2026) ==" in await chat.say("cost")
    assert "No cloud cost data for Dec 2026" in await chat.say("cost this month")
    async with database.reading() as session:
        tiles = await dashboard_data.cost_tiles(session, ws, clock.now)
    assert tiles[0].name == "Cloud cost, 1–22 Nov 2026"


async def test_cost_this_month_on_the_5th_compares_like_for_like(chat, clock, database):
    """Data through today, the 5th: today is still being billed, so 1-4 Dec against 1-4 Nov."""
    ws = await console_workspace(database, chat.workspace)
    november = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    december = [date(2026, 12, 1) + timedelta(days=i) for i in range(5)]
    async with database.session() as session:
        await put(session, ws, [row(d, effective="10") for d in november])
        await put(session, ws, [row(d, effective="11") for d in december])
    clock.now = datetime(2026, 12, 5, 15, tzinfo=UTC)
    answer = await chat.say("cost this month")
    assert "== Cloud cost · Dec 2026 (data for 1–4 Dec 2026) ==" in answer
    assert "Effective cost (amortised): 44.00 USD, MoM +4.00 USD (+10.0 %)" in answer
    assert "1–4 Dec 2026 vs 1–4 Nov 2026" in answer
    assert "Dec 2026 (data for 1–4 Dec 2026)" in await chat.say("cost")


async def test_dashboard_cost_tiles(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        now = datetime(2024, 9, 20, 12, tzinfo=UTC)
        assert await dashboard_data.cost_tiles(session, ws, now) == []
        await put(session, ws, [*september(), row(date(2024, 8, 3), effective="200")])
        tiles = await dashboard_data.cost_tiles(session, ws, now)
    assert [t.name for t in tiles] == [
        "Cloud cost, 1–3 Sep 2024",
        "Effective savings rate",
        "Commitment coverage",
        "Untagged cost",
        "Data freshness",
    ]
    assert tiles[0].value == "297.00 USD" and tiles[0].change.startswith("▲ MoM +")
    assert tiles[1].value == "22.1 %" and tiles[1].change == "🟡 Walk (Run ≥ 30 %)"
    assert tiles[3].change == "83.3 % allocated 🟠 Crawl (Walk ≥ 85 %)"


def test_no_data_in_period_is_reported_apart():
    gap = NoDataInPeriod(Period.month_of(date(2030, 1, 5)), SEP, OCT)
    assert cost_feature.gap_text(gap).startswith("No cloud cost data for Jan 2030")


async def test_a_change_that_rounds_to_nothing_is_no_mover(database: Database):
    async with scratch(database) as session:
        ws = await new_workspace(session)
        await put(session, ws, [row(date(2024, 9, 10), effective="0.001", service="Tiny")])
        movers = await cost_kpis.top_movers(
            session,
            ws,
            "service",
            start=SEP,
            end=OCT,
            previous_start=date(2024, 8, 1),
            previous_end=SEP,
            currency="USD",
        )
    assert movers == []
