"""`learn`: capabilities, forgiving topics and admin learning links, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from bot.catalogue import ATTRIBUTION, CAPABILITIES, DOMAINS
from bot.features.learn import weekly_tip
from storage.models import AuditEntry, LearnLink, Workspace
from tests.helpers import rows

GUIDE = "https://example.com/rightsizing"


async def test_old_name_answers_usage_optimization(chat):
    answer = await chat.say("learn workload optimization")
    assert "== Usage Optimization ==" in answer
    assert "Domain: Optimize Usage & Cost" in answer
    assert "https://www.finops.org/framework/capabilities/usage-optimization/" in answer
    assert "https://learn.microsoft.com/cloud-computing/finops/framework/optimize/workloads" in (
        answer
    )
    assert "Workload Optimization is now called Usage Optimization" in answer
    assert ATTRIBUTION in answer


async def test_capability_without_microsoft_page(chat):
    answer = await chat.say("learn executive strategy alignment")
    assert "executive-strategy-alignment/" in answer
    assert "Microsoft Learn" not in answer


async def test_learn_lists_22_capabilities_by_domain(chat):
    answer = await chat.say("learn")
    assert sum(line.startswith("• ") for line in answer.splitlines()) == 22
    for cap in CAPABILITIES:
        assert f"• {cap.name} ({cap.slug})" in answer
    positions = [answer.index(domain) for domain in DOMAINS]
    assert positions == sorted(positions)
    assert ATTRIBUTION in answer


async def test_unknown_topic_suggests(chat):
    answer = await chat.say("learn optimisation")
    assert "closest:" in answer and "Rate Optimization (rate-optimization)" in answer
    assert "Usage: learn" in answer and "Example:" in answer
    answer = await chat.say("learn blockchain")
    assert "No FinOps capability or community topic matches 'blockchain'" in answer


async def test_admin_adds_and_removes_capability_link(chat, database, workspace):
    added = await chat.say(f"learn add rightsizing {GUIDE} Our rightsizing playbook")
    assert "Added 'Our rightsizing playbook' to Usage Optimization (usage-optimization)" in added
    shown = await chat.say("learn usage optimization")
    assert f"• Our rightsizing playbook: {GUIDE}" in shown
    assert "Usage Optimization (usage-optimization) · 1 link" in await chat.say("learn")

    again = await chat.say(f"learn add usage-optimization {GUIDE} Same link again")
    assert "already listed under Usage Optimization" in again
    assert await rows(database, LearnLink, workspace) == 1

    removed = await chat.say(f"learn remove usage optimization {GUIDE}")
    assert "Removed 'Our rightsizing playbook' from Usage Optimization" in removed
    assert "There is no link" in await chat.say(f"learn remove rightsizing {GUIDE}")
    assert await rows(database, LearnLink, workspace) == 0
    assert GUIDE not in await chat.say("learn rightsizing")

    async with database.session() as session:
        actions = (
            await session.exec(
                select(AuditEntry.action, AuditEntry.subject)
                .join(Workspace, Workspace.id == AuditEntry.workspace_id)
                .where(Workspace.external_id == workspace)
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(a) for a in actions] == [
        ("learn.add", "learn:usage-optimization"),
        ("learn.remove", "learn:usage-optimization"),
    ]


async def test_free_topic_links(chat):
    assert "No FinOps capability" in await chat.say("learn kubernetes")
    added = await chat.say("learn add Kubernetes https://kubernetes.io/docs/ K8s cost docs")
    assert "Added 'K8s cost docs' to the topic kubernetes" in added
    # Chat apps send links as <url|label>; that is the same link.
    await chat.say("learn add kubernetes <https://www.kubecost.com/|kubecost.com> Kubecost")
    shown = await chat.say("learn kubernetes")
    assert "== Learning links: kubernetes ==" in shown
    assert "• K8s cost docs: https://kubernetes.io/docs/" in shown
    assert "• Kubecost: https://www.kubecost.com/" in shown
    assert "• kubernetes · 2 links" in await chat.say("learn")


async def test_members_cannot_change_links(chat, database, workspace):
    refused = await chat.say(f"learn add rightsizing {GUIDE} Playbook", user="bob")
    assert "Only an admin can add learning links" in refused
    assert await rows(database, LearnLink, workspace) == 0
    await chat.say(f"learn add rightsizing {GUIDE} Playbook")
    refused = await chat.say(f"learn remove rightsizing {GUIDE}", user="bob")
    assert "Only an admin can remove learning links" in refused
    assert await rows(database, LearnLink, workspace) == 1
    assert "Playbook" in await chat.say("learn rightsizing", user="bob")  # reading is for all


@pytest.mark.parametrize(
    "line",
    [
        "learn add",
        "learn add kubernetes",
        "learn add kubernetes https://kubernetes.io",
        "learn add kubernetes ftp://kubernetes.io Docs",
        "learn add kubernetes kubernetes.io Docs",
        "learn add kubernetes https:// Docs",
        "learn add kubernetes http://[::1 Docs",
        "learn add https://kubernetes.io Docs",
        "learn add k8s/costs https://kubernetes.io Docs",
        "learn add kubernetes https://kubernetes.io/" + "a" * 500 + " Docs",
        "learn add kubernetes https://kubernetes.io " + "t" * 201,
        "learn remove kubernetes",
        "learn remove kubernetes not-a-link",
    ],
)
async def test_bad_link_input_gives_usage_and_stores_nothing(chat, database, workspace, line):
    answer = await chat.say(line)
    assert "Usage: learn" in answer and "Example:" in answer, answer
    assert await rows(database, LearnLink, workspace) == 0


def test_weekly_tip_rotates_through_every_capability():
    monday = date(2026, 11, 23)
    tips = [weekly_tip(monday + timedelta(weeks=n)) for n in range(len(CAPABILITIES))]
    assert {tip.slug for tip in tips} == {cap.slug for cap in CAPABILITIES}
    # Same tip all week, Monday to Sunday; the next Monday moves on by one.
    assert weekly_tip(monday + timedelta(days=6)) is tips[0]
    assert weekly_tip(monday + timedelta(weeks=len(CAPABILITIES))) is tips[0]
    # No skip across a year end (2026 has 53 ISO weeks).
    order = list(CAPABILITIES)
    step = order.index(weekly_tip(date(2027, 1, 4))) - order.index(weekly_tip(date(2026, 12, 28)))
    assert step % len(CAPABILITIES) == 1
