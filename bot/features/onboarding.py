"""The welcome a newcomer receives, once, and `onboarding` to preview it."""

from __future__ import annotations

from bot import catalogue, channels
from bot.commands import Request, command
from bot.events import JoinScope, MemberJoinedEvent
from bot.message import Context, Divider, Fields, Header, Message, Outcome, Text
from storage import committee
from storage import onboarding as store

DEFAULT_INTRO = (
    "Welcome to our FinOps community! This is where engineering, finance and the business work "
    "together to get the most value from the cloud: we share cost-saving wins, decide things "
    "in the steering committee, and keep learning."
)
STARTER_SLUGS = ("finops-practice-operations", "usage-optimization", "rate-optimization")


async def welcome_message(req: Request, name: str) -> Message:
    intro = req.config.get("onboarding-message") or DEFAULT_INTRO
    digest = channels.configured(req.config, "digest-channel")
    where = (
        f"posted in {digest.shown} every week"
        if digest
        else "type `digest` to see this week's wins, savings and open polls"
    )
    seats = await committee.members(req.session, req.workspace_id)
    members = ", ".join(f"{m.user_name} ({m.persona})" for m in seats) or "being formed"
    starters = [catalogue.find_capability(slug) for slug in STARTER_SLUGS]
    links = "\n".join(f"{c.name}: {c.url}" for c in starters if c)
    text = (
        f"Hi {name}! {intro}\n"
        "Log a win: `win Deleted idle disks $400/mo #usage-optimization`\n"
        f"Weekly digest: {where}\n"
        f"Steering committee: {members}\n"
        f"Start here:\n{links}"
    )
    return Message(
        text=text,
        blocks=(
            Header(f"👋 Welcome, {name}!"),
            Text(intro),
            Fields(
                (
                    ("Log a win", "win Deleted idle disks $400/mo #usage-optimization"),
                    ("Weekly digest", where),
                    ("Steering committee", members),
                    (
                        "Learn",
                        "`learn` lists the FinOps capabilities; `learn <topic>` explains one",
                    ),
                )
            ),
            Text("Start here:\n" + links),
            Context(catalogue.ATTRIBUTION),
        ),
    )


def joined_the_community(req: Request, event: MemberJoinedEvent) -> bool:
    if event.scope is JoinScope.COMMUNITY:
        return True
    if event.scope is JoinScope.WORKSPACE:
        return req.config.get("welcome-workspace-joins") == "on"
    community = channels.configured(req.config, "community-channel")
    return community is not None and community.holds(event.place)


def introduction() -> Message:
    """What the bot says once when it is added to a team or installed by someone."""
    text = (
        "Hi, I'm the FinOps community bot. I celebrate cost-saving wins, run the steering "
        "committee's polls, post a weekly digest and answer FinOps questions."
    )
    return Message(
        text=text + " Type `help` (after @mentioning me in a channel) to see everything.",
        blocks=(
            Header("👋 Hello from the FinOps community bot"),
            Text(text),
            Fields(
                (
                    ("Log a win", "win Deleted idle disks $400/mo #usage-optimization"),
                    ("Ask", "help · learn rightsizing · digest"),
                    ("Admins", "config community-channel here, in the team's channel"),
                )
            ),
        ),
    )


FOLLOW_UP_DAYS = (7, 30)
DEFAULT_FOLLOW_UPS = {
    7: "You joined the FinOps community a week ago. Saved something, however small? Log it in "
    "one line: `win Deleted idle disks $400/mo` — every win counts, and it shows up in the "
    "weekly digest.",
    30: "A month in the FinOps community! Vote in the open polls (`polls`), see who is on the "
    "steering committee (`committee`), and pick a capability to learn about (`learn`).",
}


async def follow_up(req: Request, who: tuple[str, str, int]) -> Outcome:
    """The day-7 or day-30 message after a welcome, unless the workspace turned them off."""
    user_id, name, days = who
    if req.config.get("followups") == "off":
        return Outcome()
    text = req.config.get(f"followup-{days}-message") or DEFAULT_FOLLOW_UPS[days]
    message = Message(text=text, blocks=(Header(f"Hi {name}!"), Text(text)))
    return Outcome().dm(message, user_id, name)


async def on_member_joined(req: Request, event: MemberJoinedEvent) -> Outcome:
    """A person joined: welcome them by DM, once ever, if what they joined is the community."""
    if not joined_the_community(req, event):
        return Outcome()
    person = event.actor
    if not await store.claim_welcome(
        req.session, req.workspace_id, person.user_id, name=person.name, now=req.now
    ):
        return Outcome()
    return Outcome().dm(await welcome_message(req, person.name), person.user_id, person.name)


@command(
    "onboarding",
    summary="Preview the welcome message a newcomer receives.",
    usage="onboarding",
    examples=("onboarding",),
    details="It also shows the follow-ups sent on day 7 and day 30 (with `finops-bot serve` "
    "running). Newcomers get it by direct message once ever, when they join the community channel "
    "(`config community-channel`), or the whole workspace with `config welcome-workspace-joins "
    "on`. Admins set the introduction with `config onboarding-message <text>`.",
)
async def onboarding(req: Request, args: str) -> Outcome:
    welcome = await welcome_message(req, req.actor.name)
    if req.config.get("followups") == "off":
        later = ["Follow-ups on day 7 and day 30 are off (`config followups on`)."]
    else:
        later = [
            f"Then, on day {days}: "
            + (req.config.get(f"followup-{days}-message") or DEFAULT_FOLLOW_UPS[days])
            for days in FOLLOW_UP_DAYS
        ]
    return Outcome().reply(
        Message(
            text="\n".join([welcome.text, *later]),
            blocks=(*welcome.blocks, Divider(), *(Text(line) for line in later)),
        )
    )
