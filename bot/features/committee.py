"""`committee`: the steering committee's members and the persona each represents."""

from __future__ import annotations

from bot.commands import Request, Role, Subcommand, command
from bot.features import agenda, meetings, roles
from bot.message import Context, Divider, Header, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.persona import PERSONAS, parse_persona
from bot.parsing.tokens import UserRef, split_words, user_mention
from storage import audit
from storage import committee as store


@command(
    "committee",
    summary="The steering committee: members, roles, meetings and the agenda.",
    usage=(
        "committee",
        "committee add @person <persona>",
        "committee remove @person",
        "committee meeting [<weekday> <HH:MM> [weekly|biweekly|monthly] [time zone] | off]",
        "committee agenda",
        "committee role <persona> <activity> <R|A|C|I>",
    ),
    examples=(
        "committee",
        "committee add @maria finance",
        "committee meeting tuesday 15:00 biweekly Europe/Paris",
        "committee agenda",
        "committee role finance commitments A",
    ),
    details="Personas: " + ", ".join(PERSONAS) + ". A practice's committee brings finance, "
    "business (product, leadership), engineering and the central FinOps team together. "
    "Activities: " + ", ".join(roles.ACTIVITIES) + ". Admins add members, set the meetings "
    "and change roles; members see the agenda. Before each meeting members get the check-in "
    "(`checkin`) and the agenda is posted to `committee-channel`.",
    subcommands=(
        Subcommand(
            "add",
            "Seat a member for a persona.",
            Role.ADMIN,
            "change the steering committee",
            handler=lambda req, rest: _add(req, _words(rest)),
        ),
        Subcommand(
            "remove",
            "Take a member off the committee.",
            Role.ADMIN,
            "change the steering committee",
            handler=lambda req, rest: _remove(req, _words(rest)),
        ),
        Subcommand(
            "meeting",
            "Show the meetings; admins set or stop them.",
            Role.ADMIN,
            "set the committee's meetings",
            handler=lambda req, rest: meetings.meeting_command(req, _words(rest)),
            shows_alone=True,
        ),
        Subcommand(
            "agenda",
            "The agenda of the next meeting.",
            Role.COMMITTEE,
            "see the committee's agenda",
            handler=lambda req, rest: _agenda(req, _words(rest)),
        ),
        Subcommand(
            "role",
            "Set a persona's part in an activity.",
            Role.ADMIN,
            "change the committee's responsibilities",
            handler=lambda req, rest: roles.role_command(req, _words(rest), parse_persona),
        ),
    ),
)
async def committee(req: Request, args: str) -> Outcome:
    words = _words(args)
    if not words:
        return await _show(req)
    raise UsageError(
        f"{words[0][:40]!r} is not a committee action; use add, remove, meeting, agenda or role"
    )


def _words(text: str) -> list[str]:
    return [w.text for w in split_words(text, quotes=False)]


async def _agenda(req: Request, words: list[str]) -> Outcome:
    if words:
        raise UsageError("`committee agenda` takes nothing more")
    return await agenda.agenda_command(req)


def _person(words: list[str]) -> UserRef:
    person = user_mention(words[0]) if words else None
    if person is None:
        raise UsageError("name the person with an @mention")
    return person


async def _remove(req: Request, words: list[str]) -> Outcome:
    person = _person(words)
    if len(words) > 1:
        raise UsageError("`committee remove` takes only the @person")
    removed = await store.unseat(req.session, req.workspace_id, person.user_id)
    if not removed:
        return Outcome().reply(f"{person.name} is not on the committee.")
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="committee.remove",
        subject=f"user:{person.user_id}",
    )
    return Outcome().reply(f"Removed {person.name} from the steering committee.")


async def _add(req: Request, words: list[str]) -> Outcome:
    person = _person(words)
    if len(words) != 2:
        raise UsageError("give the person and one persona, e.g. `committee add @maria finance`")
    persona = parse_persona(words[1])
    await store.seat(
        req.session, req.workspace_id, person.user_id, name=person.name, persona=persona
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="committee.add",
        subject=f"user:{person.user_id}",
        detail=persona,
    )
    return Outcome().reply(f"{person.name} is on the steering committee as {PERSONAS[persona]}.")


async def _show(req: Request) -> Outcome:
    members = await store.members(req.session, req.workspace_id)
    by_persona: dict[str, list[str]] = {}
    for member in members:
        by_persona.setdefault(member.persona, []).append(member.user_name)
    lines = [
        f"{label}: {', '.join(by_persona.get(key, [])) or '(vacant)'}"
        for key, label in PERSONAS.items()
    ]
    hint = "Admins: `committee add @person <persona>`. Committee members create committee polls."
    if not members:
        hint = "Nobody yet. " + hint
    matrix = await roles.matrix(req)
    duties = [f"{label}: {roles.persona_line(matrix[key])}" for key, label in PERSONAS.items()]
    return Outcome().reply(
        Message(
            text="Steering committee\n" + "\n".join(lines) + "\nRoles\n" + "\n".join(duties),
            blocks=(
                Header("Steering committee"),
                Text("\n".join(lines)),
                Divider(),
                Text("Roles\n" + "\n".join(duties)),
                Context(roles.NOTE),
                Context(hint),
            ),
        )
    )
