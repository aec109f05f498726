"""The verification method on generated daily costs: a known drop amid noise is found within
its band, an unchanged cost is "not seen", and a check waits for the data to cover its day."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.costs.verify import DAYS_PER_MONTH, Verdict, after_window, due_checkpoints, measure
from bot.parsing import UsageError
from bot.parsing.scope import Term, parse_scope, scope_text, split_scope

WIN_DAY = date(2026, 6, 1)
SPAN = (date(2026, 1, 1), date(2026, 12, 31))


def noisy(mean: float, days: list[date], seed: int, sd: float = 40.0) -> dict[date, Decimal]:
    rng = random.Random(seed)
    return {d: Decimal(str(round(rng.gauss(mean, sd), 2))) for d in days}


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_a_known_drop_is_measured_within_its_band() -> None:
    """100 a day less from the win on, amid 40 a day of noise: every check sees it, and the
    95 % band holds the known 3,040 a month in about 95 % of 60 generated bills."""
    known = Decimal(100) * DAYS_PER_MONTH
    inside = 0
    for seed in range(60):
        daily = noisy(1000, days_between(SPAN[0], WIN_DAY - timedelta(days=1)), seed)
        daily |= noisy(900, days_between(WIN_DAY + timedelta(days=1), SPAN[1]), seed + 100)
        m = measure(daily, SPAN, WIN_DAY, checkpoint=30)
        assert m.verdict is Verdict.SEEN
        # 1.96 * 40 * sqrt(2/30) * 30.4 = about 615, give or take the sample's own spread.
        assert Decimal(400) < m.band < Decimal(850)
        inside += abs(m.realised_monthly - known) <= m.band
    assert inside >= 54  # 58 here; a true 95 % band misses more than 6 in 60 only 3 % of the time


def test_an_unchanged_cost_is_not_seen_and_a_rise_is_not_a_saving() -> None:
    days = days_between(*SPAN)
    flat = noisy(1000, days, 7)
    assert measure(flat, SPAN, WIN_DAY, checkpoint=30).verdict is Verdict.NOT_SEEN
    rising = {d: v + (Decimal(200) if d > WIN_DAY else 0) for d, v in flat.items()}
    m = measure(rising, SPAN, WIN_DAY, checkpoint=30)
    assert m.verdict is Verdict.NOT_SEEN and m.realised_monthly < 0


def test_a_service_switched_off_saves_its_whole_cost_days_without_rows_count_as_zero() -> None:
    daily = {d: Decimal(50) for d in days_between(SPAN[0], WIN_DAY - timedelta(days=1))}
    m = measure(daily, SPAN, WIN_DAY, checkpoint=30)
    assert m.verdict is Verdict.SEEN
    assert m.realised_monthly == Decimal(50) * DAYS_PER_MONTH and m.band == 0


def test_the_check_waits_until_the_data_covers_its_last_day() -> None:
    daily = noisy(1000, days_between(*SPAN), 3)
    day_30 = after_window(WIN_DAY, 30).last
    assert day_30 == WIN_DAY + timedelta(days=30)
    early = (SPAN[0], day_30 - timedelta(days=1))
    assert measure(daily, early, WIN_DAY, checkpoint=30).verdict is Verdict.WAITING
    assert measure(daily, (SPAN[0], day_30), WIN_DAY, checkpoint=30).verdict is not Verdict.WAITING
    assert due_checkpoints(WIN_DAY, day_30 - timedelta(days=1)) == []
    assert due_checkpoints(WIN_DAY, day_30 + timedelta(days=40)) == [30, 60]


def test_without_two_weeks_of_cost_before_the_win_there_is_no_baseline() -> None:
    span = (WIN_DAY - timedelta(days=13), SPAN[1])
    daily = noisy(1000, days_between(*span), 5)
    assert measure(daily, span, WIN_DAY, checkpoint=30).verdict is Verdict.NO_BASELINE
    span = (WIN_DAY - timedelta(days=14), SPAN[1])
    daily = noisy(1000, days_between(*span), 5)
    assert measure(daily, span, WIN_DAY, checkpoint=30).baseline_days == 14
    # Data for the whole baseline, but cost in the scope on ten days only (a resource whose
    # cost is kept from a later import on): no baseline, rather than a saving "not seen".
    daily = noisy(1000, days_between(WIN_DAY - timedelta(days=10), SPAN[1]), 5)
    measured = measure(daily, SPAN, WIN_DAY, checkpoint=30)
    assert (measured.verdict, measured.baseline_days) == (Verdict.NO_BASELINE, 10)


def test_a_win_line_ends_with_its_scope() -> None:
    text, scope = split_scope(
        'Rightsized the data lake $3,200/mo #rightsizing on service:"Amazon EC2" region:eu-west-1'
    )
    assert text == "Rightsized the data lake $3,200/mo #rightsizing"
    assert scope == (Term("service", "Amazon EC2"), Term("region", "eu-west-1"))
    assert scope_text(scope) == 'service:"Amazon EC2" region:eu-west-1'
    assert split_scope("Saved on storage $400/mo") == ("Saved on storage $400/mo", ())
    assert parse_scope("Region:EU-West-1 region:EU-West-1") == (Term("region", "EU-West-1"),)


def test_a_tag_term_is_key_equals_value_and_a_resource_its_id() -> None:
    text, scope = split_scope(
        'Rightsized $3,200/mo on service:"Amazon EC2" tag:"team = data lake" tag:team=ml'
    )
    assert text == "Rightsized $3,200/mo"
    assert scope == (
        Term("service", "Amazon EC2"),
        Term("tag", "team=data lake"),
        Term("tag", "team=ml"),
    )
    assert scope_text(scope) == 'service:"Amazon EC2" tag:"team=data lake" tag:team=ml'
    azure = (
        "/subscriptions/0000/resourceGroups/data/providers/Microsoft.Compute/virtualMachines/vm1"
    )
    assert parse_scope(f"resource:{azure}") == (Term("resource", azure),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tag:team", "is not tag:key=value"),
        ("tag:=data", "is not tag:key=value"),
        ("tag:team=data tag:env=prod", "a scope names one tag key"),
        ("resource:i-0abc tag:team=data", "a resource is already precise"),
        ("colour:blue", "the dimensions are service, account, region, category, provider, tag"),
        ("service:", "has no value"),
        ('service:"Amazon EC2', "never closed"),
        ("", "give the scope as dimension:value"),
    ],
)
def test_a_scope_it_cannot_read_is_refused_with_the_dimensions_it_knows(
    text: str, problem: str
) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_scope(text)


def test_what_follows_the_scope_stays_in_the_win_line() -> None:
    text, scope = split_scope("Rightsized $3,200/mo on service:EC2 region:eu-west-1 @jane #tag")
    assert text == "Rightsized $3,200/mo @jane #tag"
    assert scope == (Term("service", "EC2"), Term("region", "eu-west-1"))
    with pytest.raises(UsageError, match="'regoin:eu' is not dimension:value"):
        split_scope("Rightsized $3,200/mo on service:EC2 regoin:eu")
