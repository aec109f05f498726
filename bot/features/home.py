"""The personal home view (Slack's Home tab): your wins, polls you can vote in, learning, and
for admins the configuration."""

from __future__ import annotations

from bot import catalogue
from bot.commands import Request
from bot.features.config import KEYS
from bot.features.learn import weekly_tip
from bot.features.polls import vote_buttons
from bot.message import Context, Divider, Fields, Header, Message, Text
from bot.parsing.money import format_totals
from bot.parsing.when import describe, period_bounds, to_local
from bot.win_text import value_text
from bot.wording import plural
from storage import polls, wins


async def home_view(req: Request) -> Message:
    name = req.actor.name
    year_start, year_end = period_bounds("year", to_local(req.now, req.tz).date(), req.tz)
    mine = await wins.list_wins(
        req.session, req.workspace_id, start=None, end=None, user_id=req.actor.user_id, limit=5
    )
    year = await wins.totals(
        req.session, req.workspace_id, start=year_start, end=year_end, user_id=req.actor.user_id
    )
    seat = await req.committee_seat()
    open_polls = [
        p
        for p in await polls.open_polls(req.session, req.workspace_id, req.now, limit=10)
        if not p.committee or seat is not None
    ]
    blocks: list = [Header(f"FinOps community · {name}")]
    lines = [
        f"Your wins this year: {plural(year.count, 'win')}, "
        f"{format_totals(year.savings)} annualised savings"
    ]
    lines += [
        f"#{v.win.id} {v.win.text}" + (f": {value_text(v.win)}" if v.win.amount_minor else "")
        for v in mine
    ]
    if not mine:
        lines.append("No wins yet. Log one: /finops win Deleted idle disks $400/mo")
    blocks.append(Text("\n".join(lines)))
    blocks.append(Divider())
    if open_polls:
        blocks.append(Header("Polls you can vote in"))
        for p in open_polls[:5]:  # each with its vote buttons: one click votes from here
            closes = f" (closes {describe(p.closes_at, req.tz)})" if p.closes_at else ""
            options = await polls.options(req.session, p.id)
            blocks.append(Text(f"#{p.id} {p.question}{closes}"))
            blocks.append(vote_buttons(p, options))
    else:
        blocks.append(Text("No open polls right now."))
    tip = weekly_tip(to_local(req.now, req.tz).date())
    blocks += [
        Divider(),
        Text(f"This week's capability: {tip.name}. {tip.summary}\n{tip.url}"),
        Context(
            "`/finops learn <topic>` for any of the 22 FinOps capabilities. "
            + catalogue.ATTRIBUTION
        ),
    ]
    if req.is_admin:
        pairs = tuple((key, req.config.get(key, spec.default)) for key, spec in KEYS.items())
        blocks += [Divider(), Header("Configuration (admins)"), Fields(pairs[:10])]
    text = (
        f"FinOps community home for {name}: {len(mine)} recent wins, {len(open_polls)} open polls"
    )
    return Message(text=text, blocks=tuple(blocks))
