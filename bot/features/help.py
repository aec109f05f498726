"""`help [command]`, generated from each command's own metadata."""

from __future__ import annotations

from bot.commands import COMMANDS, Request, command
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
    if spec.details:
        lines.append(spec.details)
    lines += ["Examples:", *(f"  {e}" for e in spec.examples)]
    blocks: list[Block] = [
        Header(f"help: {spec.name}"),
        Text(spec.summary),
        Fields((("Usage", "\n".join(spec.usage)), ("Examples", "\n".join(spec.examples)))),
    ]
    # One context per paragraph: each stays within a platform's limit on one text element.
    blocks += [Context(part) for part in spec.details.split("\n\n") if part.strip()]
    return Outcome().reply(Message(text="\n".join(lines), blocks=tuple(blocks)))


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
