"""Who may run each command and subcommand is declared in the command metadata: every
declaration is enforced through `Bot.handle`, refused in today's words, and shown by `help`."""

from __future__ import annotations

import pytest

import bot.features  # noqa: F401  (registers the commands)
from bot.commands import COMMANDS, Role

# (command, subcommand or "" for the command's own text, role, the refusal's phrase)
DECLARED = [
    (spec.name, sub.name, sub.role, sub.doing)
    for spec in COMMANDS.values()
    for sub in spec.subcommands
    if sub.role is not Role.ANYONE
] + [
    (spec.name, "", spec.role, spec.doing)
    for spec in COMMANDS.values()
    if spec.role is not Role.ANYONE
]


def refusal(role: Role, doing: str) -> str:
    if role is Role.ADMIN:
        return f"Only an admin can {doing}. Admins are set with FINOPS_ADMINS."
    return (
        f"Only steering committee members and admins can {doing}. See `committee` for who is on it."
    )


def line(command: str, subcommand: str) -> str:
    """The (sub)command with an argument, so a form that only shows when alone is refused."""
    return " ".join(part for part in (command, subcommand, "x") if part)


def test_the_declarations_are_todays_rules() -> None:
    """Every role check that does not depend on what was asked is declared, with its phrase."""
    assert {(c, s, r, d) for c, s, r, d in DECLARED} == {
        ("committee", "add", Role.ADMIN, "change the steering committee"),
        ("committee", "remove", Role.ADMIN, "change the steering committee"),
        ("committee", "meeting", Role.ADMIN, "set the committee's meetings"),
        ("committee", "agenda", Role.COMMITTEE, "see the committee's agenda"),
        ("committee", "role", Role.ADMIN, "change the committee's responsibilities"),
        ("checkin", "ask", Role.ADMIN, "ask check-in questions"),
        ("checkin", "owner", Role.ADMIN, "set who answers a check-in metric"),
        ("checkin", "remove", Role.ADMIN, "remove check-in questions"),
        ("dashboard", "screen", Role.ADMIN, "make a screen link"),
        ("dashboard", "links", Role.ADMIN, "see the screen links"),
        ("dashboard", "revoke", Role.ADMIN, "revoke screen links"),
        ("learn", "add", Role.ADMIN, "add learning links"),
        ("learn", "remove", Role.ADMIN, "remove learning links"),
        ("digest", "post", Role.COMMITTEE, "post the digest"),
        ("digest", "schedule", Role.ADMIN, "schedule the weekly digest"),
        ("digest", "off", Role.ADMIN, "stop the weekly digest"),
        ("config", "", Role.ADMIN, "change the configuration"),
        ("decide", "", Role.COMMITTEE, "record decisions"),
    }


@pytest.mark.parametrize(("command", "subcommand", "role", "doing"), DECLARED)
async def test_a_non_member_is_refused_every_declared_subcommand(
    chat, command: str, subcommand: str, role: Role, doing: str
) -> None:
    assert await chat.say(line(command, subcommand), user="eve") == refusal(role, doing)


@pytest.mark.parametrize(("command", "subcommand", "role", "doing"), DECLARED)
async def test_a_committee_member_passes_committee_rules_but_not_admin_ones(
    chat, command: str, subcommand: str, role: Role, doing: str
) -> None:
    await chat.say("committee add <@maria|maria> finance")
    answer = await chat.say(line(command, subcommand), user="maria")
    if role is Role.ADMIN:
        assert answer == refusal(role, doing)
    else:
        assert "Only " not in answer, answer


@pytest.mark.parametrize(("command", "subcommand", "role", "doing"), DECLARED)
async def test_an_admin_is_never_refused(
    chat, command: str, subcommand: str, role: Role, doing: str
) -> None:
    assert "Only " not in await chat.say(line(command, subcommand)), (command, subcommand)


async def test_a_form_that_only_shows_is_open_to_anyone(chat) -> None:
    assert "No committee meeting is scheduled" in await chat.say("committee meeting", user="eve")
    assert "Only " not in await chat.say("config", user="eve")


async def test_a_quoted_subcommand_word_is_not_the_subcommand(chat) -> None:
    """`checkin "ask" ...` names no subcommand, so it cannot slip past the declared role."""
    answer = await chat.say('checkin "ask" "What did you save?"', user="eve")
    assert "is not a checkin action" in answer
    assert "What did you save?" not in await chat.say("checkin list")


async def test_help_shows_who_may_run_each_subcommand(chat) -> None:
    for spec in COMMANDS.values():
        shown = await chat.say(f"help {spec.name}")
        for sub in spec.subcommands:
            assert f"{spec.name} {sub.name} — {sub.summary}" in shown, (spec.name, sub.name)
            if sub.role is not Role.ANYONE:
                assert f"{sub.summary} {sub.role.shown}" in shown, (spec.name, sub.name)
        if spec.role is not Role.ANYONE:
            assert spec.role.shown in shown, spec.name
    committee = await chat.say("help committee")
    assert "committee add — Seat a member for a persona. (admins)" in committee
    assert "committee agenda — The agenda of the next meeting. (committee)" in committee
    assert "decide (committee)" in await chat.say("help decide")
