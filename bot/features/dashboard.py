"""`dashboard`: a private, signed, expiring link to the workspace's wins wall; and, for admins,
screen links for a shared display (valid until revoked), listed and revoked."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from bot.commands import Request, Role, Subcommand, command
from bot.dashboard.links import LinkSigner
from bot.message import Context, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.when import describe, describe_duration
from storage import audit, screens


@command(
    "dashboard",
    summary="A private link to the wins wall: wins, leaderboards, savings, polls, committee.",
    usage=("dashboard", "dashboard screen", "dashboard links", "dashboard revoke <id>"),
    examples=("dashboard", "dashboard screen", "dashboard revoke 3"),
    details="The answer is sent only to you. The link is signed and expires after "
    "FINOPS_DASHBOARD_LINK_HOURS (12 hours by default); anyone who has it can open the "
    "read-only page until then, so share it with care. Anyone in the workspace may ask: the "
    "page shows what the community already sees in chat (wins, leaderboards, savings over "
    "time, polls with anonymous ones as counts only, the committee, decisions, metrics and "
    "past digests), and links to CSV exports of wins and poll results. "
    "Admins: `dashboard screen` gives a screen link for a shared display (a meeting-room "
    "screen): it never expires, the page reloads itself every two minutes and says when its "
    "figures were read. `dashboard links` lists the screen links still valid (id, when and by "
    "whom created, last used); `dashboard revoke <id>` revokes one at once.",
    subcommands=(
        Subcommand(
            "screen",
            "A screen link for a shared display; it never expires.",
            Role.ADMIN,
            "make a screen link",
            handler=lambda req, rest: screen_link(req) if not rest.split() else _more(),
        ),
        Subcommand(
            "links",
            "The screen links still valid.",
            Role.ADMIN,
            "see the screen links",
            handler=lambda req, rest: list_links(req) if not rest.split() else _more(),
        ),
        Subcommand(
            "revoke",
            "Revoke a screen link at once.",
            Role.ADMIN,
            "revoke screen links",
            handler=lambda req, rest: _revoke(req, rest.split()),
        ),
    ),
)
async def dashboard(req: Request, args: str) -> Outcome:
    if not args.split():
        return await private_link(req)
    return await _more()


async def _more() -> Outcome:
    raise UsageError("`dashboard` takes nothing more, or `screen`, `links` or `revoke <id>`")


async def _revoke(req: Request, words: list[str]) -> Outcome:
    if len(words) != 1:
        raise UsageError("give the id of the screen link, e.g. `dashboard revoke 3`")
    return await revoke_link(req, words[0])


def _signer(req: Request) -> LinkSigner:
    lifetime = timedelta(hours=req.settings.dashboard_link_hours)
    return LinkSigner(req.voter_key, lifetime, clock=lambda: req.now)


def _url(req: Request, token: str) -> str:
    return f"{req.settings.base_url}/dashboard?{urlencode({'t': token})}"


async def private_link(req: Request) -> Outcome:
    signer = _signer(req)
    token, expires = signer.sign(req.actor.platform, req.actor.workspace_id)
    url = _url(req, token)
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="dashboard.link",
        subject="dashboard",
        detail=f"expires {expires.isoformat()}",
    )
    until = f"It expires {describe(expires, req.tz)} (in {describe_duration(signer.lifetime)})."
    note = "Only you see this link; anyone who has it can open the dashboard until it expires."
    if req.actor.platform == "console":
        note += " It is served by `finops-bot serve` on the same database."
    text = f"Your wins-wall dashboard: {url}\n{until}"
    return Outcome().reply(Message(text=f"{text}\n{note}", blocks=(Text(text), Context(note))))


async def screen_link(req: Request) -> Outcome:
    row = await screens.create(
        req.session, req.workspace_id, req.actor.user_id, user_name=req.actor.name, now=req.now
    )
    assert row.id is not None
    token = _signer(req).sign_screen(req.actor.platform, req.actor.workspace_id, row.id)
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="dashboard.screen",
        subject=f"screen {row.id}",
    )
    text = (
        f"Screen link #{row.id} for a shared display: {_url(req, token)}\n"
        "It stays valid until an admin revokes it, and the page reloads itself every two "
        "minutes."
    )
    note = (
        f"Only you see this link; anyone who has it can open the dashboard until "
        f"`dashboard revoke {row.id}`. `dashboard links` lists the screen links."
    )
    return Outcome().reply(Message(text=f"{text}\n{note}", blocks=(Text(text), Context(note))))


async def list_links(req: Request) -> Outcome:
    rows = await screens.listed(req.session, req.workspace_id)
    if not rows:
        return Outcome().reply(
            "No screen links. `dashboard screen` makes one for a shared display."
        )
    lines = ["Screen links (valid until revoked):"]
    for row in rows:
        used = describe(row.last_used_at, req.tz) if row.last_used_at else "never"
        by = row.created_by_name or row.created_by
        lines.append(
            f"#{row.id} · created {describe(row.created_at, req.tz)} by {by} · last used {used}"
        )
    lines.append("`dashboard revoke <id>` revokes one.")
    return Outcome().reply("\n".join(lines))


async def revoke_link(req: Request, raw: str) -> Outcome:
    screen_id = int(raw.lstrip("#")) if raw.lstrip("#").isdigit() else None
    if screen_id is None or screen_id > 2**62:
        raise UsageError("give the id of the screen link, e.g. `dashboard revoke 3`")
    row = await screens.get(req.session, req.workspace_id, screen_id)
    if row is None:
        return Outcome().reply(f"There is no screen link #{screen_id}. See `dashboard links`.")
    if row.revoked_at is not None:
        return Outcome().reply(f"Screen link #{screen_id} was already revoked.")
    await screens.revoke(
        req.session, req.workspace_id, screen_id, user_id=req.actor.user_id, now=req.now
    )
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="dashboard.revoke",
        subject=f"screen {row.id}",
    )
    return Outcome().reply(f"Screen link #{screen_id} is revoked: the screen shows nothing now.")
