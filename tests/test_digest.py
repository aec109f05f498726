"""The digest's content: figures per period in the workspace time zone, SQL aggregates only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.features.learn import weekly_tip
from bot.message import ChannelPost


async def test_acceptance_digest_reports_39900_usd(chat):
    await chat.say("win Rightsized 40 dev VMs $3,200/mo #usage-optimization")
    await chat.say("win Deleted idle disks 1.5k USD one-time")
    digest = await chat.say("digest")
    assert "Annualised savings: 39,900 USD" in digest
    assert "Wins: 2" in digest


async def test_digest_sections(chat, clock):
    await chat.say("config currency EUR")
    await chat.say("win Rightsized VMs 1k/mo @li")
    await chat.say("win Bought savings plan USD 500/mo")
    await chat.say("win Stopped a runaway job 9k #avoidance")
    await chat.say("win Small cleanup 10")
    await chat.say('poll "Tagging policy?" "Yes" "No" closes in 1d')
    await chat.say('poll "Next topic?" "A" "B" closes in 6d')
    await chat.say("metric coverage 60%")
    await chat.say("metric coverage 72%")
    await chat.join("newbie")
    digest = await chat.say("digest", user="someone")
    assert "Wins: 4" in digest
    assert "Annualised savings: 12,010 EUR + 6,000 USD" in digest  # never added together
    assert "Cost avoided (apart): 9,000 EUR" in digest
    top = digest.split("Top wins")[1].split("Top contributors")[0]
    assert top.index("Rightsized VMs") < top.index("Small cleanup")
    assert "Stopped a runaway job" not in top  # avoidance is not a saving
    assert "ada: 4 wins" in digest and "li: 1 win" in digest
    assert "Tagging policy?" in digest and "(closing soon)" in digest
    assert digest.count("(closing soon)") == 1
    assert "coverage 72% ▲ +12 pts" in digest
    assert "New members welcomed\nnewbie" in digest
    assert weekly_tip(clock.now.date()).name in digest
    assert "CC BY 4.0" in digest


async def test_week_boundaries_follow_the_workspace_timezone(chat, clock):
    await chat.say("config timezone America/New_York")
    # Sunday 22 Nov 2026, 23:30 in New York is Monday 04:30 UTC: still last week there.
    clock.now = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    await chat.say("win Late Sunday cleanup $100")
    clock.now = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)  # Monday 00:30 in New York
    await chat.say("win Monday cleanup $200")
    digest = await chat.say("digest week")
    assert "Annualised savings: 200 USD" in digest
    assert "digest · 23 Nov – 29 Nov 2026 (so far)" in digest
    assert "Year to date: 2 wins, 300 USD" in digest


async def test_undone_wins_leave_the_digest(chat):
    await chat.say("win Oops $999")
    answer = await chat.say("wins")
    win_id = answer.split("#")[1].split(" ")[0]
    await chat.say(f"win undo {win_id}")
    assert "Wins: 0" in await chat.say("digest")


async def test_digest_post_is_for_committee_and_admins(chat):
    refused = await chat.say("digest post", user="bob")
    assert "Only steering committee members and admins" in refused
    await chat.say("config digest-channel #finops-digest")
    outcome = await chat.outcome("digest post")
    post = next(i for i in outcome.items if isinstance(i, ChannelPost))
    assert post.channel_id == "finops-digest" and "FinOps weekly digest" in post.message.text
    await chat.say("committee add @maria finance")
    assert "Posted the digest for 18 Nov – 25 Nov 2026 in #finops-digest" in await chat.say(
        "digest post", user="maria"
    )
    assert "Usage: digest" in await chat.say("digest now please")


def test_learning_tip_rotates_weekly_through_all_capabilities():
    monday = datetime(2026, 1, 5).date()
    tips = [weekly_tip(monday + timedelta(weeks=i)).slug for i in range(22)]
    assert len(set(tips)) == 22
    assert weekly_tip(monday) == weekly_tip(monday + timedelta(days=6))
