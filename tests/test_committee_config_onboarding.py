"""Committee, configuration, onboarding and help, through the console adapter."""

from __future__ import annotations

from adapters.console.adapter import PLACE
from bot.commands import COMMANDS
from bot.events import Actor, JoinScope, MemberJoinedEvent
from bot.message import ChannelPost, DirectMessage
from storage.models import CommitteeMember, Setting, Welcome
from tests.helpers import rows

EVERY_COMMAND = [
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
]


async def test_help_lists_every_command_and_details_one(chat):
    listing = await chat.say("help")
    for name in EVERY_COMMAND:
        assert name in COMMANDS
        assert COMMANDS[name].usage[0] in listing, name
    detail = await chat.say("help poll")
    assert "closes <when>" in detail and "Examples" in detail
    assert "there is no command" in (await chat.say("help nope")).lower()


async def test_unknown_command_suggests(chat):
    answer = await chat.say("wim Saved $5")
    assert "Unknown command 'wim'" in answer and "`win`" in answer


async def test_committee_add_list_remove(chat, database, workspace):
    assert "(vacant)" in await chat.say("committee")
    assert "as Finance" in await chat.say("committee add @maria finance")
    assert "as Engineering" in await chat.say("committee add @li eng")
    listing = await chat.say("committee")
    assert "Finance: maria" in listing and "Engineering: li" in listing
    assert "Only an admin" in await chat.say("committee add @bob finance", user="bob")
    assert "not a persona" in await chat.say("committee add @bob wizard")
    assert "Removed maria" in await chat.say("committee remove @maria")
    assert await rows(database, CommitteeMember, workspace) == 1


async def test_config_set_show_reset_and_refusals(chat, database, workspace):
    assert "wins-channel is now #finops-wins" in await chat.say("config wins-channel #finops-wins")
    assert "currency is now EUR" in await chat.say("config currency eur")
    assert "timezone is now Europe/Paris" in await chat.say("config timezone Europe/Paris")
    shown = await chat.say("config")
    assert "wins-channel: #finops-wins" in shown and "currency: EUR" in shown
    for bad in [
        "config currency EURO",
        "config timezone Mars/Base",
        "config colour blue",
        "config wins-channel finops",
    ]:
        assert "Usage: config" in await chat.say(bad), bad
    assert "Only an admin" in await chat.say("config currency USD", user="bob")
    assert "back to its default" in await chat.say("config currency reset")
    assert await rows(database, Setting, workspace) == 2


async def test_configured_channel_and_currency_are_used_by_wins(chat):
    await chat.say("config wins-channel #finops-wins")
    await chat.say("config currency EUR")
    outcome = await chat.outcome("win Moved backups to archive tier 1.2k/mo")
    post = next(i for i in outcome.items if isinstance(i, ChannelPost))
    assert post.channel_id == "finops-wins"
    assert "1,200 EUR/mo (14,400 EUR a year)" in post.message.text


async def test_welcome_once_per_person_ever(chat, bot, database, workspace):
    first = await chat.join("newbie")
    assert "[direct message to newbie]" in first and "Welcome, newbie" in first
    assert "already welcomed" in await chat.join("newbie")
    await chat.say("config community-channel here")
    event = MemberJoinedEvent(Actor("console", workspace, "newbie", "newbie"), PLACE, "Ev1")
    assert (await bot.handle(event)).items == []
    assert await rows(database, Welcome, workspace) == 1


async def test_welcome_only_for_the_community_channel(chat, bot, workspace):
    somebody = Actor("console", workspace, "u1", "U One")
    unconfigured = MemberJoinedEvent(somebody, PLACE)
    assert (await bot.handle(unconfigured)).items == []  # no community channel: no welcome
    workspace_join = MemberJoinedEvent(somebody, PLACE, scope=JoinScope.WORKSPACE)
    assert (await bot.handle(workspace_join)).items == []  # off by default
    await chat.say("config community-channel #community")
    elsewhere = MemberJoinedEvent(somebody, PLACE)
    assert (await bot.handle(elsewhere)).items == []
    community = PLACE.__class__(conversation_id="community", conversation_name="community")
    outcome = await bot.handle(
        MemberJoinedEvent(Actor("console", workspace, "u1", "U One"), community)
    )
    assert [type(i) for i in outcome.items] == [DirectMessage]


async def test_onboarding_preview_uses_configured_text(chat):
    await chat.say("config onboarding-message Welcome to ACME's FinOps guild.")
    before = await chat.say("onboarding")  # no digest channel yet: a whole sentence
    assert "Weekly digest: type `digest` to see this week's wins, savings and open polls" in before
    await chat.say("config digest-channel #finops-digest")
    preview = await chat.say("onboarding")
    assert "Welcome to ACME's FinOps guild." in preview
    assert "Weekly digest: posted in #finops-digest every week" in preview
    assert "win Deleted idle disks" in preview
    assert preview.count("https://www.finops.org/framework/capabilities/") == 3
    assert "CC BY 4.0" in preview


async def test_workspace_join_is_welcomed_whatever_the_community_channel(chat):
    await chat.say("config community-channel #community")
    assert "Welcome, newbie" in await chat.join("newbie")
    assert "already welcomed" in await chat.join("newbie")


async def test_help_shows_every_form_of_the_grammar(chat):
    listing = await chat.say("help")
    for form in [
        "win undo <id>",
        "poll results <id>",
        "poll close <id>",
        "digest post",
        "learn add <topic> <url> <title>",
        "learn remove <topic> <url>",
        "committee add @person <persona>",
        "committee remove @person",
        "config <key> <value>",
    ]:
        assert form in listing, form


async def test_workspace_joins_welcomed_when_configured(chat, bot, workspace):
    assert "is now on" in await chat.say("config welcome-workspace-joins on")
    joined = MemberJoinedEvent(
        Actor("console", workspace, "u2", "U Two"), PLACE, scope=JoinScope.WORKSPACE
    )
    assert [type(i) for i in (await bot.handle(joined)).items] == [DirectMessage]
    assert "Usage: config" in await chat.say("config welcome-workspace-joins maybe")


async def test_home_view(bot, chat, workspace):
    await chat.say("win Deleted idle disks $400/mo", user="bob")
    await chat.say('poll "Adopt tagging policy?" "Yes" "No"')
    await chat.say('poll "Committee only?" "Yes" "No" committee')
    view = await bot.view(Actor("console", workspace, "bob", "bob"), "home")
    assert "Your wins this year: 1 win, 4,800 USD annualised savings" in view.text + str(
        view.blocks
    )
    shown = str(view.blocks)
    assert "Adopt tagging policy?" in shown and "Committee only?" not in shown
    assert "Configuration (admins)" not in shown
    admin_view = await bot.view(Actor("console", workspace, "ada", "ada"), "home")
    assert "Configuration (admins)" in str(admin_view.blocks)


async def test_an_agenda_lead_longer_than_the_checkin_lead_is_refused(chat):
    answer = await chat.say("config agenda-lead 2d")
    assert "`agenda-lead` (2d) would be longer than `checkin-lead` (24h)" in answer
    assert "1h (default)" in await chat.say("config")  # nothing stored
    assert "checkin-lead is now 3d" in await chat.say("config checkin-lead 3d")
    assert "agenda-lead is now 2d" in await chat.say("config agenda-lead 2d")
    assert "longer than `checkin-lead` (1d)" in await chat.say("config checkin-lead 1d")


async def test_onboarding_previews_the_day_7_and_day_30_follow_ups(chat):
    await chat.say("config followup-30-message Thirty days in: join the committee call!")
    preview = await chat.say("onboarding")
    assert "Then, on day 7: You joined the FinOps community a week ago." in preview
    assert "Then, on day 30: Thirty days in: join the committee call!" in preview
    await chat.say("config followups off")
    assert "Follow-ups on day 7 and day 30 are off" in await chat.say("onboarding")
