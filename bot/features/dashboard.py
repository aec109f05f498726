"""`dashboard`: a private, signed, expiring link to the workspace's wins wall."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from bot.commands import Request, command
from bot.dashboard.links import LinkSigner
from bot.message import Context, Message, Outcome, Text
from bot.parsing import UsageError
from bot.parsing.when import describe, describe_duration
from storage import audit


@command(
    "dashboard",
    summary="A private link to the wins wall: wins, leaderboards, savings, polls, committee.",
    usage="dashboard",
    examples="dashboard",
    details="The answer is sent only to you. The link is signed and expires after "
    "FINOPS_DASHBOARD_LINK_HOURS (12 hours by default); anyone who has it can open the "
    "read-only page until then, so share it with care. Anyone in the workspace may ask: the "
    "page shows what the community already sees in chat (wins, leaderboards, savings over "
    "time, polls with anonymous ones as counts only, the committee, decisions, metrics and "
    "past digests), and links to CSV exports of wins and poll results.",
)
async def dashboard(req: Request, args: str) -> Outcome:
    if args.strip():
        raise UsageError("`dashboard` takes nothing more")
    lifetime = timedelta(hours=req.settings.dashboard_link_hours)
    signer = LinkSigner(req.voter_key, lifetime, clock=lambda: req.now)
    token, expires = signer.sign(req.actor.platform, req.actor.workspace_id)
    url = f"{req.settings.base_url}/dashboard?{urlencode({'t': token})}"
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        "dashboard.link",
        "dashboard",
        f"expires {expires.isoformat()}",
    )
    until = f"It expires {describe(expires, req.tz)} (in {describe_duration(lifetime)})."
    note = "Only you see this link; anyone who has it can open the dashboard until it expires."
    if req.actor.platform == "console":
        note += " It is served by `finops-bot serve` on the same database."
    text = f"Your wins-wall dashboard: {url}\n{until}"
    return Outcome().reply(Message(text=f"{text}\n{note}", blocks=(Text(text), Context(note))))
