"""Who leads, decides, is consulted on or informed of each committee activity (RACI).

The default matrix is ours: derived from the activities the FinOps Framework lists for each
persona (practitioners run allocation, reporting and commitments; finance owns budgets and
forecasts; engineering optimises usage and answers anomalies; leadership sets policy and
sponsors the practice). Admins change any cell with `committee role`.
"""

from __future__ import annotations

from bot.commands import Request
from bot.message import Outcome
from bot.parsing import UsageError
from bot.parsing.errors import quoted
from storage import audit
from storage import roles as store

ROLES = {"R": "leads", "A": "decides", "C": "is consulted on", "I": "is informed of"}
ACTIVITIES = {
    "allocation": "cost allocation and tagging",
    "budgeting": "budgets and forecasts",
    "commitments": "commitment purchases",
    "optimization": "usage optimization",
    "anomalies": "anomaly response",
    "reporting": "reporting and KPIs",
    "policy": "policy and governance",
    "education": "education and enablement",
}
# persona -> activity -> role; the personas are bot.parsing.persona.PERSONAS' keys.
DEFAULT: dict[str, dict[str, str]] = {
    "practitioner": {
        "allocation": "R",
        "budgeting": "C",
        "commitments": "R",
        "optimization": "C",
        "anomalies": "A",
        "reporting": "R",
        "policy": "R",
        "education": "R",
    },
    "finance": {
        "allocation": "A",
        "budgeting": "R",
        "commitments": "A",
        "optimization": "I",
        "anomalies": "I",
        "reporting": "A",
        "policy": "C",
        "education": "I",
    },
    "engineering": {
        "allocation": "C",
        "budgeting": "I",
        "commitments": "C",
        "optimization": "R",
        "anomalies": "R",
        "reporting": "I",
        "policy": "C",
        "education": "C",
    },
    "product": {
        "allocation": "C",
        "budgeting": "C",
        "commitments": "I",
        "optimization": "A",
        "anomalies": "I",
        "reporting": "I",
        "policy": "C",
        "education": "C",
    },
    "procurement": {
        "allocation": "I",
        "budgeting": "I",
        "commitments": "C",
        "optimization": "I",
        "anomalies": "I",
        "reporting": "I",
        "policy": "C",
        "education": "I",
    },
    "leadership": {
        "allocation": "I",
        "budgeting": "A",
        "commitments": "I",
        "optimization": "I",
        "anomalies": "I",
        "reporting": "I",
        "policy": "A",
        "education": "A",
    },
}
NOTE = (
    "R leads, A decides, C is consulted, I is informed. The default matrix is ours, derived from "
    "the FinOps Framework's persona activities; admins change it with "
    "`committee role <persona> <activity> <R|A|C|I>`."
)


async def matrix(req: Request) -> dict[str, dict[str, str]]:
    changed = await store.overrides(req.session, req.workspace_id)
    return {
        persona: {a: changed.get((persona, a), role) for a, role in row.items()}
        for persona, row in DEFAULT.items()
    }


def persona_line(row: dict[str, str]) -> str:
    """`leads allocation, reporting; decides anomalies; consulted on budgeting`."""
    parts = []
    for role, verb in ROLES.items():
        names = [a for a, r in row.items() if r == role]
        if names:
            parts.append(f"{verb.removeprefix('is ')} {', '.join(names)}")
    return "; ".join(parts)


async def role_command(req: Request, words: list[str], persona_of) -> Outcome:
    """`committee role <persona> <activity> <R|A|C|I>` (admins, declared with `committee`)."""
    if len(words) != 3:
        raise UsageError(
            "give a persona, an activity and R, A, C or I, e.g. "
            "`committee role finance commitments A`",
            command="committee",
        )
    persona = persona_of(words[0])
    activity = words[1].lower()
    if activity not in ACTIVITIES:
        raise UsageError(
            f"{quoted(words[1])} is not an activity; use one of: {', '.join(ACTIVITIES)}",
            command="committee",
        )
    role = words[2].upper()
    if role not in ROLES:
        raise UsageError(f"{quoted(words[2])} is not R, A, C or I", command="committee")
    await store.assign(
        req.session,
        req.workspace_id,
        persona,
        activity=activity,
        role=role,
        by=req.actor.user_id,
        now=req.now,
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="committee.role",
        subject=f"{persona}:{activity}",
        detail=role,
    )
    return Outcome().reply(
        f"{persona.capitalize()} now {ROLES[role]} {ACTIVITIES[activity]} ({activity}: {role})."
    )
