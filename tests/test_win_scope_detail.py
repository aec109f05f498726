"""Win scopes on a tag value or a resource, a given day the change took effect, one-time wins
against credits, the per-unit view and suggested scopes: through the console and the real
importer, on generated FOCUS exports where the known drop sits in one tag value or resource
amid noise and growth elsewhere. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
from sqlmodel import col, select

from bot.costs import checks
from bot.costs.verify import Verdict
from bot.scheduler import Scheduler
from storage import workspaces
from storage.models import CostDetailDay, WinCheck
from tests.test_focus_import import HEADER, row, write_csv
from tests.test_win_verify import imported, logged, realised

WIN_DAY = date(2026, 6, 1)
DROP = Decimal(100)  # a day, in team=data's Amazon EC2, from the change's day on
KNOWN_MONTHLY = DROP * Decimal("30.4")
VM = "i-0abc123def4567890"
DETAIL_HEADER = [*HEADER, "ResourceId", "ConsumedQuantity", "ConsumedUnit"]


def day_range(last_day: date, first_day: date = WIN_DAY - timedelta(days=45)) -> list[date]:
    return [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]


def bill(folder: Path, last_day: date, *, change: date = WIN_DAY, seed: int = 7) -> Path:
    """Amazon EC2 in three tag values: team=data at 1,000 a day (noise 40) falling by DROP on
    `change`, team=ml growing by 5 a day, and untagged rows at 300 (noise 20). The VM runs
    24 hours a day at 2.00 an hour, 1.00 from `change` on (a cheaper instance type)."""
    rng = random.Random(seed)
    rows = []
    for day in day_range(last_day):
        start, end = f"{day:%Y-%m-%d}T00:00:00Z", f"{day + timedelta(days=1):%Y-%m-%d}T00:00:00Z"
        data = Decimal(1000) - (DROP if day >= change else 0) + Decimal(round(rng.gauss(0, 40), 2))
        ml = Decimal(600) + 5 * (day - WIN_DAY).days
        other = Decimal(300) + Decimal(round(rng.gauss(0, 20), 2))
        hourly = Decimal(1) if day >= change else Decimal(2)
        for cost, tags, extra in (
            (data, {"Team": "data"}, {}),
            (ml, {"team": "ml", "env": "prod"}, {}),
            (other, {}, {}),
            (24 * hourly, {"team": "web"}, {"ResourceId": VM.upper()}),
        ):
            rows.append(
                row(
                    str(cost),
                    ChargePeriodStart=start,
                    ChargePeriodEnd=end,
                    Tags=json.dumps(tags),
                    ResourceId=extra.get("ResourceId", ""),
                    ConsumedQuantity="24" if extra else "",
                    ConsumedUnit="Hours" if extra else "",
                )
            )
    return write_csv(folder / f"focus-{last_day}.csv", rows, DETAIL_HEADER)


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)


async def detail_rows(chat, database, kind: str = "tag") -> list[str]:  # type: ignore[no-untyped-def]
    """The values kept of `kind` for the chat's workspace (tests share one database)."""
    async with database.reading() as session:
        ws = await workspaces.workspace_id(session, "console", chat.workspace)
        result = await session.exec(
            select(col(CostDetailDay.value)).where(
                CostDetailDay.workspace_id == ws, CostDetailDay.kind == kind
            )
        )
        return list(result.all())


async def test_a_tag_scope_finds_the_known_drop_and_another_value_is_not_seen(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    assert "cost-scope-tags" in await chat.say("config cost-scope-tags team")
    path = bill(tmp_path, WIN_DAY + timedelta(days=65))
    await imported(chat, database, path)
    stored = await detail_rows(chat, database)
    assert set(stored) == {"data", "ml", "web"}  # untagged rows keep no tag value
    await imported(chat, database, path)  # a re-delivery replaces, never adds
    assert sorted(await detail_rows(chat, database)) == sorted(stored)

    clock.now = at(WIN_DAY)
    answer = await chat.say(
        'win Rightsized the data lake $3,040/mo #rightsizing on service:"Amazon EC2" tag:team=DATA'
    )
    assert 'Scoped to service:"Amazon EC2" tag:team=data' in answer  # the data's spelling
    lake = logged(answer)
    amount, band, verdict = realised(await chat.say(f"win verify {lake}"), 30)
    assert abs(amount - KNOWN_MONTHLY) <= band, (amount, band)
    assert verdict == "seen in the bill"

    ml = logged(await chat.say("win Tuned the ML jobs $500/mo on tag:team=ml"))
    amount, band, verdict = realised(await chat.say(f"win verify {ml}"), 30)
    assert amount < 0 and verdict == "not seen in the bill"  # it grew

    # The scheduled checks read the same series, grouped for every tag scope at once.
    async with database.reading() as session:
        ws = await workspaces.workspace_id(session, "console", chat.workspace)
        due = {(c.win.id, c.measurement.checkpoint): c for c in await checks.due(session, ws)}
    assert due[(lake, 30)].measurement.verdict is Verdict.SEEN
    assert abs(due[(lake, 30)].measurement.realised_monthly - amount) > 0  # not ml's figure
    assert abs(due[(lake, 30)].measurement.realised_monthly - KNOWN_MONTHLY) <= (
        due[(lake, 30)].measurement.band
    )
    assert due[(ml, 30)].measurement.verdict is Verdict.NOT_SEEN


async def test_a_tag_scope_is_refused_until_the_key_is_kept_then_shows_the_nearest_values(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=5)))
    answer = await chat.say("win Rightsized $3,040/mo on tag:team=data")
    assert "the tag key 'team' is not kept per value" in answer.lower()
    assert "`config cost-scope-tags team`" in answer and "Logged win" not in answer

    await chat.say("config cost-scope-tags team")
    answer = await chat.say("win Rightsized $3,040/mo on tag:team=data")
    assert "its values are kept from the next `finops-bot focus import`" in answer

    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=5)))
    answer = await chat.say("win Rightsized $3,040/mo on tag:team=dta")
    assert "No imported cost has tag 'team=dta'; the nearest in the data: data" in answer
    assert "Logged win" not in answer


async def test_a_resource_scope_is_kept_from_the_next_import_with_a_per_unit_view(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    path = bill(tmp_path, WIN_DAY + timedelta(days=65))
    await imported(chat, database, path)
    clock.now = at(WIN_DAY)
    answer = await chat.say(f"win Moved the VM to a cheaper type $730/mo on resource:{VM}")
    vm = logged(answer)
    assert f"No imported cost has resource {VM} yet" in answer  # not kept before a win named it

    await imported(chat, database, path)  # the import now keeps the VM's daily cost
    shown = await chat.say(f"win verify {vm}")
    amount, band, verdict = realised(shown, 30)
    assert amount == Decimal("729.60") and band == 0 and verdict == "seen in the bill"
    assert "  Per Hours: 2 USD before, 1 USD at day 30 (-50 %); 24 → 24 Hours a day." in shown
    assert "No imported cost has resource" not in shown


async def test_a_given_day_anchors_the_checks_on_when_the_change_took_effect(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    await chat.say("config cost-scope-tags team")
    change = WIN_DAY - timedelta(days=12)  # logged twelve days after the change
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=65), change=change))
    clock.now = at(WIN_DAY)
    lake = logged(await chat.say("win Rightsized the data lake $3,040/mo on tag:team=data"))
    late, band, _ = realised(await chat.say(f"win verify {lake}"), 30)
    assert late < KNOWN_MONTHLY - band  # its baseline already holds 12 cheaper days

    answer = await chat.say(f"win scope {lake} tag:team=data from {change}")
    assert f"is scoped to tag:team=data, from {change.day} May 2026" in answer
    shown = await chat.say(f"win verify {lake}")
    assert "Baseline: " in shown and "a day over 30 days (20 Apr–19 May 2026)" in shown
    amount, band, verdict = realised(shown, 30)
    assert abs(amount - KNOWN_MONTHLY) <= band and verdict == "seen in the bill"
    assert "is in the future" in await chat.say(f"win scope {lake} from 2099-01-01")
    assert "is not a day" in await chat.say(f"win scope {lake} from 1/6/26")


async def test_a_one_time_win_is_checked_against_the_credits_billed_in_its_scope(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    refund = row(
        "-4800.00",
        ChargeCategory="Credit",
        ChargePeriodStart=f"{WIN_DAY + timedelta(days=20)}T00:00:00Z",
        ChargePeriodEnd=f"{WIN_DAY + timedelta(days=21)}T00:00:00Z",
        ServiceName="Amazon S3",
        ServiceCategory="Storage",
    )
    usage = row(
        "10.00",
        ChargePeriodStart=f"{WIN_DAY}T00:00:00Z",
        ChargePeriodEnd=f"{WIN_DAY + timedelta(days=1)}T00:00:00Z",
    )
    await imported(chat, database, write_csv(tmp_path / "credits.csv", [refund, usage]))
    clock.now = at(WIN_DAY)
    s3 = logged(
        await chat.say('win Refund for the S3 outage 5k USD one-time on service:"Amazon S3"')
    )
    answer = await chat.say(f"win verify {s3}")
    assert 'credits and refunds of 4,800 USD are billed in service:"Amazon S3"' in answer
    assert "(96 % of the 5,000 USD claimed)" in answer
    ec2 = logged(await chat.say('win Spot refund 1k USD one-time on service:"Amazon EC2"'))
    answer = await chat.say(f"win verify {ec2}")
    assert "not verifiable from cost data: no credit or refund is billed" in answer
    bare = logged(await chat.say("win Negotiated a refund 2k USD one-time"))
    assert "not verifiable from cost data without a scope" in await chat.say(f"win verify {bare}")


async def test_a_win_without_a_scope_is_offered_the_services_whose_cost_fell(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    rng = random.Random(3)
    rows = []
    for day in day_range(WIN_DAY + timedelta(days=40)):
        start, end = f"{day}T00:00:00Z", f"{day + timedelta(days=1)}T00:00:00Z"
        for service, cost in (
            ("Amazon EC2", 1000 - (100 if day >= WIN_DAY else 0) + rng.gauss(0, 10)),
            ("Amazon RDS", 300 + rng.gauss(0, 10)),
            ("Amazon S3", 500 + 5 * (day - WIN_DAY).days),
        ):
            rows.append(
                row(
                    f"{cost:.2f}", ChargePeriodStart=start, ChargePeriodEnd=end, ServiceName=service
                )
            )
    await imported(chat, database, write_csv(tmp_path / "bill.csv", rows))
    clock.now = at(WIN_DAY)
    fleet = logged(await chat.say("win Rightsized the fleet $3,040/mo"))
    answer = await chat.say(f"win verify {fleet}")
    assert "has no scope" in answer
    suggested = re.search(r"against the 30 before: (.*?)\. If one", answer)
    assert suggested, answer
    assert suggested[1].startswith("Amazon EC2 (-10"), answer  # about 100 a day
    assert "Amazon S3" not in suggested[1]  # it grew
    assert f'`win scope {fleet} service:"Amazon EC2"`' in answer


async def test_tags_and_resources_are_kept_from_parquet_map_columns_too(  # type: ignore[no-untyped-def]
    chat, database, clock, tmp_path: Path
):
    """AWS ships FOCUS Parquet tags as MAP<string,string>."""
    await chat.say("config cost-scope-tags team")
    path = tmp_path / "aws.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (SELECT CAST(1000 - CASE WHEN d >= DATE '{WIN_DAY}' THEN 100 ELSE 0 END
                        AS DECIMAL(18, 2)) AS BilledCost,
                    BilledCost AS EffectiveCost, 'Usage' AS ChargeCategory,
                    CAST(d AS TIMESTAMP) AS ChargePeriodStart,
                    CAST(d + 1 AS TIMESTAMP) AS ChargePeriodEnd,
                    'AWS' AS ProviderName, 'USD' AS BillingCurrency, 'Amazon EC2' AS ServiceName,
                    MAP {{'team': 'data'}} AS Tags
                FROM (SELECT unnest(range(DATE '{WIN_DAY - timedelta(days=40)}',
                    DATE '{WIN_DAY + timedelta(days=40)}', INTERVAL 1 DAY))::DATE AS d))
            TO '{path}' (FORMAT parquet)"""
        )
    await imported(chat, database, path)
    assert set(await detail_rows(chat, database)) == {"data"}
    clock.now = at(WIN_DAY)
    lake = logged(await chat.say("win Rightsized $3,040/mo on tag:team=data"))
    amount, band, verdict = realised(await chat.say(f"win verify {lake}"), 30)
    assert amount == KNOWN_MONTHLY and band == 0 and verdict == "seen in the bill"


async def test_a_changed_day_makes_the_scheduler_check_again_without_new_data(  # type: ignore[no-untyped-def]
    chat, bot, database, clock, tmp_path: Path
):
    """Nothing new is imported and no check was recorded: only the scope's day changed."""
    await chat.say("config cost-scope-tags team")
    await imported(chat, database, bill(tmp_path, WIN_DAY + timedelta(days=35)))
    clock.now = at(WIN_DAY + timedelta(days=10))  # logged ten days after the change
    lake = logged(await chat.say("win Rightsized the data lake $3,040/mo on tag:team=data"))
    scheduler = Scheduler(bot, {"console"})
    await scheduler.tick()
    assert await recorded(database, lake) == []  # day 30 after the 11th: not in the data yet

    await chat.say(f"win scope {lake} from {WIN_DAY}")
    await scheduler.tick()
    assert await recorded(database, lake) == [(30, "seen")]


async def recorded(database, win_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    async with database.reading() as session:
        result = await session.exec(
            select(WinCheck.checkpoint, WinCheck.verdict).where(WinCheck.win_id == win_id)
        )
        return sorted(result.all())


async def test_a_resource_kept_only_after_the_win_has_no_baseline_until_older_data_comes(  # type: ignore[no-untyped-def]
    chat, bot, database, clock, tmp_path: Path
):
    """Not "not seen in the bill": nothing is recorded until an import gives the baseline."""
    whole = bill(tmp_path, WIN_DAY + timedelta(days=65))
    await imported(chat, database, whole)
    clock.now = at(WIN_DAY)
    vm = logged(await chat.say(f"win Moved the VM to a cheaper type $730/mo on resource:{VM}"))
    later = tmp_path / "june-on.csv"  # a re-delivery of June to August only: May's baseline
    with whole.open() as source:  # stays without the VM's kept cost
        lines = source.readlines()
    later.write_text(lines[0] + "".join(line for line in lines[1:] if ",2026-05-" not in line))
    await imported(chat, database, later)
    shown = await chat.say(f"win verify {vm}")
    assert (
        "Day 30 (2 Jun–1 Jul 2026): no baseline: the imported data has cost in the scope on "
        "only 0 of the 30 days before the win (14 needed)." in shown
    )
    scheduler = Scheduler(bot, {"console"})
    await scheduler.tick()
    assert await recorded(database, vm) == []

    await imported(chat, database, whole)  # May again: the VM's baseline is kept now
    await scheduler.tick()
    assert await recorded(database, vm) == [(30, "seen"), (60, "seen")]
