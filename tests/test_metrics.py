"""`metric` and `metrics`: values, units, trends and sparklines, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.metric_text import trend_line
from bot.parsing.reading import parse_reading
from bot.wording import sparkline
from storage.metrics import MetricSeries, latest_series
from storage.models import Metric, Workspace
from tests.helpers import rows


@pytest.mark.parametrize(
    ("text", "name", "value", "unit"),
    [
        ("coverage 72%", "coverage", "72", "%"),
        ("coverage 72 %", "coverage", "72", "%"),
        ("Coverage 72.5%", "coverage", "72.5", "%"),
        ("spend 1,234.5", "spend", "1234.5", ""),
        ("spend 3.2k", "spend", "3200", ""),
        ("spend 1.5m USD", "spend", "1500000", "USD"),
        ("latency 120 ms", "latency", "120", "ms"),
        ("latency 120ms", "latency", "120", "ms"),
        ("untagged 4500 USD", "untagged", "4500", "USD"),
        ("forecast.variance -3.5 %", "forecast.variance", "-3.5", "%"),
        ("esr_2026 .25", "esr_2026", "0.25", ""),
    ],
)
def test_values_people_type(text, name, value, unit):
    reading = parse_reading(text)
    assert (reading.name, reading.value, reading.unit) == (name, Decimal(value), unit)
    assert isinstance(reading.value, Decimal)


async def test_record_reports_change_since_previous(chat, database, workspace, clock):
    first = await chat.say("metric coverage 68%", user="bob")  # any member may record
    assert "Recorded coverage: 68%, its first value" in first
    clock.now += timedelta(days=7)
    second = await chat.say("metric Coverage 72%")
    assert "Recorded coverage: 72% (▲ +4 pts since 68% on 2026-11-25)" in second
    clock.now += timedelta(days=7)
    assert "▼ -2.5 pts since 72%" in await chat.say("metric coverage 69.5 %")
    assert "= 0 pts since 69.5%" in await chat.say("metric coverage 69.5%")
    await chat.say("metric latency 100 ms")
    assert "(▲ +20 ms since 100 ms" in await chat.say("metric latency 120ms")
    assert await rows(database, Metric, workspace) == 6
    async with database.session() as session:
        stored = (
            await session.exec(
                select(Metric)
                .join(Workspace, Workspace.id == Metric.workspace_id)
                .where(Workspace.external_id == workspace, Metric.name == "coverage")
                .order_by(Metric.id)
            )
        ).all()
    assert [m.recorded_by for m in stored] == ["bob", "ada", "ada", "ada"]
    assert stored[0].value == Decimal("68") and stored[0].unit == "%"
    assert stored[1].recorded_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


async def test_metrics_lists_latest_change_and_sparkline(chat):
    assert "No metrics yet" in await chat.say("metrics")
    for value in ("60%", "64%", "68%", "72%"):
        await chat.say(f"metric coverage {value}")
    await chat.say("metric allocation 85 %")
    answer = await chat.say("metrics")
    assert "allocation 85% (first value)" in answer
    assert "coverage 72% ▲ +4 pts ▁▃▆█" in answer
    assert answer.index("allocation") < answer.index("coverage")
    assert "coverage" not in await chat.say("metrics allocation")


async def test_unit_change_is_refused_naming_both(chat, database, workspace):
    await chat.say("metric spend 4500 USD")
    answer = await chat.say("metric spend 4600 EUR")
    assert "'USD'" in answer and "'EUR'" in answer and "Usage: metric" in answer
    assert "no unit" in await chat.say("metric spend 4600")
    assert "Recorded spend: 4,600 USD (▲ +100 USD" in await chat.say("metric spend 4600 usd")
    assert await rows(database, Metric, workspace) == 2


@pytest.mark.parametrize(
    "line",
    [
        "metric",
        "metric coverage",
        "metric coverage abc",
        "metric x 5 %%",
        "metric x 5%%",
        "metric x 5 per cent",
        "metric x 1.2.3",
        "metric x 10000000000000",
        "metric x 5 " + "u" * 21,
        "metric Bad!name 5",
        "metric " + "n" * 51 + " 5",
        "metric -x 5",
    ],
)
async def test_bad_values_give_usage_and_store_nothing(chat, database, workspace, line):
    answer = await chat.say(line)
    assert "Usage: metric" in answer and "Example:" in answer, answer
    assert await rows(database, Metric, workspace) == 0


async def test_window_query_returns_at_most_8_points(chat, database, workspace, clock):
    for n in range(1, 13):
        await chat.say(f"metric a {n}")
        clock.now += timedelta(hours=1)
    for n in (3, 1, 2):  # same timestamp: insertion order decides
        await chat.say(f"metric b {n} ms")
    async with database.session() as session:
        ws = (
            await session.exec(select(Workspace.id).where(Workspace.external_id == workspace))
        ).one()
        series = await latest_series(session, ws)
        two = await latest_series(session, ws, points=2)
    assert [s.name for s in series] == ["a", "b"]
    a, b = series
    assert a.values == tuple(Decimal(n) for n in range(5, 13))
    assert a.latest_at == datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    assert (b.values, b.unit, b.change) == ((3, 1, 2), "ms", Decimal(1))
    assert [len(s.values) for s in two] == [2, 2]
    assert trend_line(b) == "b 2 ms ▲ +1 ms █▁▅"


def test_trend_line_and_sparkline():
    at = datetime(2026, 11, 25, tzinfo=UTC)
    values = tuple(Decimal(v) for v in ("60", "64", "68", "72.000000"))
    assert trend_line(MetricSeries("coverage", "%", values, at)) == "coverage 72% ▲ +4 pts ▁▃▆█"
    flat = MetricSeries("spend", "USD", (Decimal("1234.50"), Decimal("1234.5")), at)
    assert trend_line(flat) == "spend 1,234.5 USD = 0 USD ▄▄"
    assert sparkline([]) == ""
    assert len(sparkline([Decimal(n) for n in range(8)])) == 8
