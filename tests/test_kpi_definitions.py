"""The KPIs as the FinOps Foundation defines them, on small generated FOCUS exports imported
through the real importer, on SQLite and PostgreSQL, each figure against a hand computation
written beside it (`../shared/reference/finops.md`, the FinOps KPI library):

- effective savings rate = 1 - what was paid for usage (unused commitment included) / the
  on-demand equivalent (ListCost) of the usage actually consumed: negative when commitments
  are wasted;
- commitment coverage = ListCost of eligible usage a commitment covered / ListCost of all
  eligible usage (compute, not spot), unused commitment rows excluded;
- an unused commitment row is a negative saving of its whole EffectiveCost.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bot.costs import kpis
from bot.costs.importer import run_import
from bot.parsing.billing import Period
from storage.engine import Database
from tests.test_focus_import import row, workspace_id, write_csv

HOUR = {"ChargePeriodStart": "2023-01-01T00:00:00Z", "ChargePeriodEnd": "2023-01-01T01:00:00Z"}
PERIOD = Period.month_of(date(2023, 1, 1))


def purchase(billed: str, listed: str) -> dict[str, str]:
    """A commitment's recurring purchase: billed, amortised away (EffectiveCost 0)."""
    return row(billed, "0", ListCost=listed, ContractedCost=billed, ChargeCategory="Purchase",
               CommitmentDiscountId="cd-1", **HOUR)  # fmt: skip


def committed(status: str, effective: str, listed: str, contracted: str) -> dict[str, str]:
    return row("0", effective, ListCost=listed, ContractedCost=contracted,
               PricingCategory="Committed", CommitmentDiscountStatus=status,
               CommitmentDiscountId="cd-1", **HOUR)  # fmt: skip


def on_demand(cost: str, listed: str | None = None) -> dict[str, str]:
    return row(cost, ListCost=listed or cost, ContractedCost=listed or cost, **HOUR)


async def report_of(database: Database, name: str, path: Path) -> kpis.CostReport:
    ws = await workspace_id(database, name)
    await run_import(database, [path], ws)
    async with database.reading() as session:
        report = await kpis.build_report(
            session, ws, PERIOD, now=datetime(2023, 2, 1, tzinfo=UTC), owner_tags=False
        )
    assert isinstance(report, kpis.CostReport)
    return report


async def test_a_wasted_commitment_makes_the_savings_rate_negative(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    """The spec's 0 %-utilised example: a 1.50 commitment hour nobody used (list 3.00) and a
    medium VM on demand (2.00). Paid for usage: 1.50 + 2.00 = 3.50; consumed at list price:
    2.00 (the unused hour consumed nothing). ESR = 1 - 3.50 / 2.00 = -75 %. Counting the
    unused hour's list price as usage gave 1 - 3.50 / 5.00 = +30 %, a green Run."""
    rows = [
        purchase("1.50", "3.00"),
        committed("Unused", "1.50", "3.00", "1.50"),
        on_demand("2.00"),
    ]
    report = await report_of(database, workspace, write_csv(tmp_path / "zero.csv", rows))
    assert report.esr.value == Decimal("-75.0")
    assert report.esr.light is kpis.Light.BELOW
    # The wasted hour is a saving of -1.50, nothing negotiated on it; the VM saved nothing.
    assert report.totals.commitment_savings == -1_500_000_000
    assert report.totals.negotiated_savings == 0
    assert report.utilisation.value == Decimal("0.0")


async def test_coverage_counts_covered_hours_at_list_price_without_unused_rows(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    """Ten eligible compute hours at 1.00 list: five covered by a commitment (0.40 each after
    the discount), five on demand (1.00 each), plus one commitment hour unused (0.40) and a
    spot hour (0.30 of 1.00 list). Coverage = 5 × 1.00 / 10 × 1.00 = 50 %. Weighted by
    discounted cost and with the unused row it read 2.00 / 7.40 = 27.0 %."""
    rows = [committed("Used", "0.40", "1.00", "0.40") for _ in range(5)]
    rows += [on_demand("1.00") for _ in range(5)]
    rows += [committed("Unused", "0.40", "1.00", "0.40")]
    rows += [row("0.30", ListCost="1.00", ContractedCost="1.00", PricingCategory="Dynamic",
                 **HOUR)]  # fmt: skip
    report = await report_of(database, workspace, write_csv(tmp_path / "cover.csv", rows))
    assert report.coverage.value == Decimal("50.0")
    # ESR: paid 5 × 0.40 + 5 × 1.00 + 0.40 + 0.30 = 7.70 for usage worth 5 + 5 + 1 = 11.00 at
    # list price (the unused hour consumed nothing): 1 - 7.70 / 11.00 = 30.0 %.
    assert report.esr.value == Decimal("30.0")
    # Commitment savings: 5 × (0.40 - 0.40) + the unused hour's -0.40 + spot 1.00 - 0.30.
    assert report.totals.commitment_savings == 300_000_000
    # Negotiated: 5 × (1.00 - 0.40) on the covered hours; the unused hour's prices count 0.
    assert report.totals.negotiated_savings == 3_000_000_000
    assert report.utilisation.value == Decimal("83.3")  # 2.00 used of 2.40


async def test_an_unused_commitment_hour_is_a_negative_saving(
    database: Database, workspace: str, tmp_path: Path
) -> None:
    """An unused commitment hour with a contracted price of 1.00 and an effective cost of
    0.60: the commitment saving is -0.60 (money paid for nothing), not 1.00 - 0.60 = +0.40."""
    rows = [committed("Unused", "0.60", "1.00", "1.00")]
    report = await report_of(database, workspace, write_csv(tmp_path / "unused.csv", rows))
    assert report.totals.commitment_savings == -600_000_000
    assert report.totals.total_savings == -600_000_000


async def test_the_primary_currency_is_the_setting_or_the_most_rows_never_the_largest_number(
    chat, database: Database, tmp_path: Path
) -> None:
    """30,000 JPY in one row against 255 EUR in three: amounts in different currencies are
    not comparable, so the report is in EUR (most rows) and names the JPY; with `config
    currency JPY` it is in JPY."""
    rows = [row("30000", BillingCurrency="JPY", **HOUR)]
    rows += [row(amount, BillingCurrency="EUR", **HOUR) for amount in ("100", "100", "55")]
    ws = await workspace_id(database, chat.workspace)
    await run_import(database, [write_csv(tmp_path / "mixed.csv", rows)], ws)
    answer = await chat.say("cost 2023-01")
    assert "Effective cost (amortised): 255.00 EUR" in answer
    assert "Also 30,000 JPY not included" in answer
    await chat.say("config currency JPY")
    answer = await chat.say("cost 2023-01")
    assert "Effective cost (amortised): 30,000 JPY" in answer
    assert "Also 255.00 EUR not included" in answer


async def test_help_cost_defines_each_kpi_with_its_foundation_page(chat) -> None:
    shown = await chat.say("help cost")
    assert "Definitions (FinOps Foundation KPIs on FOCUS columns)" in shown
    assert (
        "Effective savings rate: 1 - EffectiveCost of usage (unused commitment included) / "
        "ListCost of the usage consumed" in shown
    )
    assert "https://www.finops.org/kpi/effective-savings-rate-percentage/" in shown
    for name, _definition, url in kpis.DEFINITIONS:
        assert f"• {name}: " in shown and url in shown
