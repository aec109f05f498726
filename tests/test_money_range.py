"""Large bills stay exact: amounts up to 10^15 currency units a row, and sums far beyond
what 64-bit billionths hold, on SQLite and PostgreSQL (storage/money.py); an amount that
cannot be stored is refused whole, with the row count, and nothing is imported."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlmodel import select

from bot.costs.importer import run_import
from bot.costs.reader import ExportRefused
from storage import money
from storage.engine import Database
from storage.migrate import alembic_config, upgrade
from storage.models import CostDay
from tests.test_focus_import import count, row, totals, workspace_id, write_csv
from tests.test_storage import empty_database_url  # noqa: F401  (a fixture)

INT64 = 2**63 - 1


def idr(amount: str, day: int = 2) -> dict[str, str]:
    stamp = f"2024-09-{day:02d}T00:00:00Z"
    return row(amount, ListCost=amount, ContractedCost=amount, BillingCurrency="IDR",
               ChargePeriodStart=stamp, ChargePeriodEnd=stamp.replace("T00", "T01"))  # fmt: skip


@pytest.mark.parametrize(
    "amount",
    ["10000000000", "1000000000000000.123456789", "-1000000000000000.5"],
    ids=["10-bn-IDR", "10^15-to-the-billionth", "negative-10^15"],
)
async def test_an_amount_beyond_64_bit_billionths_is_stored_exactly(
    database: Database, workspace: str, tmp_path: Path, amount: str
) -> None:
    ws = await workspace_id(database, workspace)
    await run_import(database, [write_csv(tmp_path / "idr.csv", [idr(amount)])], ws)
    nanos = int(Decimal(amount).scaleb(9))
    assert abs(nanos) > INT64  # what one BIGINT of billionths could not hold
    got = await totals(database, ws)
    assert got["billed_nanos"] == got["effective_nanos"] == got["list_nanos"] == nanos


async def test_a_month_of_a_large_idr_bill_sums_and_reports_exactly(
    chat, database: Database, tmp_path: Path
) -> None:
    """12 bn IDR over September (400 m a day, one rupiah more on the 1st): each row fits
    64-bit billionths, their sum (1.2 × 10^19) does not; `cost` adds it up to the rupiah."""
    rows = [idr("400000001" if day == 1 else "400000000", day) for day in range(1, 31)]
    ws = await workspace_id(database, chat.workspace)
    await run_import(database, [write_csv(tmp_path / "month.csv", rows)], ws)
    answer = await chat.say("cost 2024-09")
    assert "Effective cost (amortised): 12,000,000,001 IDR" in answer, answer
    assert "Traceback" not in answer and "went wrong" not in answer


async def test_an_amount_no_column_can_hold_is_refused_and_nothing_is_imported(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    ws = await workspace_id(database, workspace)
    await run_import(database, [write_csv(tmp_path / "ok.csv", [idr("5")])], ws)
    beyond = [idr("10000000000000000000"), idr("10000000000000000000"), idr("1", day=3)]
    with pytest.raises(ExportRefused, match=r"2 rows sum to an amount beyond .* nothing was"):
        await run_import(database, [write_csv(tmp_path / "huge.csv", beyond)], ws)
    with pytest.raises(ExportRefused):  # more digits than an exact decimal holds
        await run_import(database, [write_csv(tmp_path / "wild.csv", [idr("1" + "0" * 25)])], ws)
    assert await count(database, ws) == 1  # the earlier import, untouched
    assert (await totals(database, ws))["billed_nanos"] == 5 * 10**9


async def test_the_migration_splits_stored_billionths_exactly(
    empty_database_url: str,  # noqa: F811
) -> None:
    """Rows stored before 0014 (one BIGINT of billionths each) keep their exact amounts."""
    values = {
        "billed": -1_500_000_001,
        "effective": 9_000_000_000_000_000_001,
        "list": 999_999_999,
        "contracted": 0,
        "negotiated": -7,
        "commitment": 10**9,
    }
    texts = ("provider", "currency", "billing_account", "sub_account", "service_category",
             "service", "region", "charge_category", "pricing_category", "commitment_status",
             "commitment_id", "owner")  # fmt: skip
    old = {
        **dict.fromkeys(texts, "x"),
        "id": 1,
        "day": date(2024, 9, 1),
        "billing_period": date(2024, 9, 1),
        "tagged": True,
        "row_count": 1,
        **{f"{name}_nanos": value for name, value in values.items()},
    }
    cost_day = sa.table("cost_day", *(sa.column(name) for name in old))

    def before(connection) -> None:  # type: ignore[no-untyped-def]
        down = ScriptDirectory.from_config(alembic_config()).get_revision("0014")
        command.upgrade(alembic_config(connection), down.down_revision)
        connection.execute(cost_day.insert().values(**old))

    database = Database(empty_database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(before)
        await upgrade(database)
        async with database.reading() as session:
            stored = (await session.exec(select(CostDay))).one()
    finally:
        await database.dispose()
    assert {name: money.amount(stored, name) for name in values} == values
    assert (stored.billed_units, stored.billed_nanos) == (-1, -500_000_001)
    assert stored.effective_units == 9_000_000_000 and stored.effective_nanos == 1


def test_split_and_join_are_inverse() -> None:
    for total in (0, 1, -1, 10**9, -(10**9), 10**24 + 7, -(10**24) - 7, 123_456_789):
        units, nanos = money.split(total)
        assert money.join(units, nanos) == total
        assert abs(nanos) < 10**9 and (units == 0 or nanos == 0 or (units > 0) == (nanos > 0))
