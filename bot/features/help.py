"""`help [command]`, generated from each command's own metadata."""

from __future__ import annotations

from bot.commands import COMMANDS, CommandSpec, Request, Role, command
from bot.message import Block, Context, Fields, Header, Message, Outcome, Text
from bot.parsing import UsageError


@command(
    "help",
    summary="List every command, or show one command's usage, details and examples.",
    usage="help [command]",
    examples=("help", "help poll"),
)
async def help_command(req: Request, args: str) -> Outcome:
    name = args.strip().lower().removeprefix("/finops").strip()
    if not name:
        return Outcome().reply(overview())
    spec = COMMANDS.get(name.split()[0])
    if spec is None:
        raise UsageError(f"there is no command {name[:40]!r}; `help` lists them all")
    lines = [f"{spec.name}: {spec.summary}", "Usage:", *(f"  {u}" for u in spec.usage)]
    who = who_may(spec)
    if who:
        lines += ["Subcommands:" if spec.subcommands else "Who:", *(f"  {w}" for w in who)]
    if spec.details:
        lines.append(spec.details)
    lines += ["Examples:", *(f"  {e}" for e in spec.examples)]
    blocks: list[Block] = [
        Header(f"help: {spec.name}"),
        Text(spec.summary),
        Fields((("Usage", "\n".join(spec.usage)), ("Examples", "\n".join(spec.examples)))),
    ]
    if who:
        blocks.append(Text("\n".join(who)))
    # One context per paragraph: each stays within a platform's limit on one text element.
    blocks += [Context(part) for part in spec.details.split("\n\n") if part.strip()]
    return Outcome().reply(Message(text="\n".join(lines), blocks=tuple(blocks)))


def who_may(spec: CommandSpec) -> list[str]:
    """Each subcommand with its summary and who may run it, from the metadata:
    `committee add — Seat a member for a persona. (admins)`; for a command without
    subcommands, who may run it when that is not anyone."""
    lines = [
        f"{spec.name} {sub.name} — {sub.summary}"
        + _shown(sub.role, f"{spec.name} {sub.name}" if sub.shows_alone else "")
        for sub in spec.subcommands
    ]
    if spec.role is not Role.ANYONE:
        form = f"{spec.name} <...>" if spec.shows_alone else spec.name
        lines.append(form + _shown(spec.role, spec.name if spec.shows_alone else ""))
    return lines


def _shown(role: Role, alone: str) -> str:
    """` (admins)`, ` (committee)`; `alone`: the form that only shows, which anyone may run."""
    if role is Role.ANYONE:
        return ""
    return f" {role.shown}" + (f"; `{alone}` alone: anyone" if alone else "")


# The order people meet the commands in; anything not listed follows alphabetically.
ORDER = (
    "help",
    "win",
    "wins",
    "leaderboard",
    "poll",
    "vote",
    "polls",
    "digest",
    "dashboard",
    "metric",
    "metrics",
    "learn",
    "onboarding",
    "committee",
    "checkin",
    "decide",
    "decisions",
    "config",
)


def overview() -> Message:
    names = sorted(COMMANDS, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    lines: list[str] = []
    for name in names:  # every form of every command, so `help` alone shows the whole grammar
        spec = COMMANDS[name]
        lines.append(f"{spec.usage[0]}  —  {spec.summary}")
        lines += [f"    {form}" for form in spec.usage[1:]]
    hint = "Type `help <command>` for details and examples."
    return Message(
        text="FinOps community bot commands:\n" + "\n".join(lines) + "\n" + hint,
        blocks=(Header("FinOps community bot"), Text("\n".join(lines)), Context(hint)),
    )
