"""Every kind of message the bot sends on Teams, shown by Microsoft's Adaptive Cards renderer
(npm `adaptivecards` in jsdom, see tests/card_render.py): each line of text stays its own line,
every `<placeholder>` is still there, and every URL is a link to itself.

Card text goes through markdown-it set up the way Teams treats it (raw HTML dropped into the
page, a single newline not a break), so the test fails on what the issue saw in Teams.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from adapters.console.adapter import PLACE
from adapters.teams.render import MAX_TEXT, activity_fields, card, shorten
from bot.events import Actor, JoinScope, MemberJoinedEvent
from bot.features.onboarding import introduction
from bot.message import (
    Actions,
    Chart,
    Context,
    Fields,
    Header,
    Input,
    Message,
    Text,
)
from tests.card_render import Rendered, install, normal, render, urls_in

pytestmark = pytest.mark.slow  # node, with Microsoft's renderer

PLACEHOLDER = re.compile(r"<[^<>\s][^<>]*>")

EVERY_KIND_OF_ANSWER = [
    "help",
    "help poll",
    "help win",
    "help config",
    "win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane",
    "win Deleted <old> snapshots, see https://example.com/runbook_(v2). $400/mo",
    "wins",
    "leaderboard",
    'poll "Adopt a tagging policy?" "Yes" "No" committee closes in 3d',
    'poll "Lunch & learn <topic>?" "Savings plans" "Spot & <more>" multi anonymous',
    "polls",
    "vote {poll} 1",
    "digest",
    "digest post",
    "digest last",
    "metric coverage 72%",
    "metrics",
    "learn",
    "learn rightsizing",
    "learn add rightsizing https://example.com/rightsizing-guide Our rightsizing guide",
    "onboarding",
    "committee add @ada practitioner",
    "committee meeting thursday 15:00 weekly UTC",
    'checkin ask "What did your team save?"',
    "checkin list",
    "committee",
    "committee agenda",
    'decide "Tag every resource with an owner"',
    "decisions",
    "config",
    "config community-channel #finops",
    "dashboard",
    "cost",
    "win",
    "vote",
    'poll "Only one?" "Yes"',
    "frobnicate",
    "win edit {win} Rightsized 40 dev VMs <again> $3,300/mo #rightsizing",
    "checkin answer {question} We saved <a lot>: see https://example.com/q3-report",
    "digest schedule monday 09:00 Europe/Paris",
    "poll close {poll}",
    "poll results {poll}",
    "learn remove rightsizing https://example.com/rightsizing-guide",
    "win undo {win}",
    "committee remove @ada",
    "metric <coverage> 80%",
]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """What is rendered does not depend on the database: SQLite only."""
    return sqlite_url


@pytest.fixture(scope="module")
def node() -> Path:
    return install()


def expected_lines(message: Message) -> list[str]:
    """Every line a reader must see, as plain text."""
    lines: list[str] = []
    for block in message.blocks:
        match block:
            case Header(text=text) | Text(text=text) | Context(text=text):
                lines += text.split("\n")
            case Fields(pairs=pairs):
                for label, value in pairs:
                    lines += [label, *value.split("\n")]
            case Actions(buttons=buttons):
                lines += [button.label for button in buttons]
            case Input(label=label):
                lines.append(label)
            case Chart(sparkline=sparkline):
                lines.append(sparkline)
    return [normal(shorten(line, MAX_TEXT)) for line in lines if line.strip()]


def as_card(message: Message) -> dict:
    """What Teams is sent, as a card: a text message's Markdown shown in one TextBlock."""
    fields = activity_fields(message)
    if "attachments" in fields:
        return fields["attachments"][0]["content"]
    assert fields["textFormat"] == "markdown"
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": fields["text"], "wrap": True}],
    }


def problems(message: Message, shown: Rendered) -> list[str]:
    found = []
    lines = set(shown.lines)
    for line in expected_lines(message):
        if line not in lines:
            found.append(f"line not shown on its own: {line!r}")
        for placeholder in PLACEHOLDER.findall(line):
            if placeholder not in shown.text:
                found.append(f"placeholder lost: {placeholder!r} in {line!r}")
        for url in urls_in(line):
            if not any(unquote(href) == url and text == url for href, text in shown.links):
                found.append(f"URL not a link to itself: {url!r}")
    return found


async def every_message(chat, bot, workspace: str) -> list[Message]:
    messages = [introduction()]
    ids: dict[str, str] = {}  # the first win's, poll's, question's ids (workspaces share ids)
    for line in EVERY_KIND_OF_ANSWER:
        outcome = await chat.outcome(line.format(**ids))
        messages += [item.message for item in outcome.items if hasattr(item, "message")]
        for kind, pattern in (
            ("win", r"Logged win #(\d+)"),
            ("poll", r"Poll #(\d+) is up"),
            ("question", r"Check-in question #(\d+) added"),
        ):
            for message in messages:
                if kind not in ids and (match := re.search(pattern, message.text)):
                    ids[kind] = match[1]
    joined = MemberJoinedEvent(
        Actor("console", workspace, "newbie", "Newbie"), PLACE, scope=JoinScope.COMMUNITY
    )
    messages += [item.message for item in (await bot.handle(joined)).items]
    messages.append(  # the digest's chart block, as a digest with cost data carries it
        Message(
            "Effective cost, 12 weeks",
            (Chart(b"\x89PNG fake", "Effective cost per week", "Effective cost ▁▂▃▅▇", "t0k3n"),),
        )
    )
    actor = Actor("console", workspace, "ada", "ada")
    for view in ("home", f"poll:{ids['poll']}", f"win:{ids['win']}", "checkin"):
        shown = await bot.view(actor, view)
        assert shown is not None, view
        messages.append(shown)
    return messages


async def test_every_message_keeps_its_lines_placeholders_and_links(node, chat, bot, workspace):
    messages = await every_message(chat, bot, workspace)
    shown = render(node, [as_card(message) for message in messages])
    report = []
    for message, rendered in zip(messages, shown, strict=True):
        report += [f"{message.text[:60]!r}: {p}" for p in problems(message, rendered)]
    assert report == []
    # What the run covered: multi-line texts, placeholders and links, in cards and in text.
    everything = [line for message in messages for line in expected_lines(message)]
    assert any("help <command>" in line for line in everything)
    assert any("https://www.finops.org/" in line for line in everything)
    assert any("/dashboard?t=" in line for line in everything)
    assert sum("attachments" not in activity_fields(message) for message in messages) > 3
    assert len(messages) > len(EVERY_KIND_OF_ANSWER)


def test_the_renderer_shows_what_teams_showed_before(node):
    """The check is real: one `\\n` and a raw `<command>`, as the bot used to send them, fail."""
    old = Message(
        "x", (Text("Type help <command>\nSee https://www.finops.org/framework/ for more"),)
    )
    [shown] = render(
        node,
        [
            {
                "type": "AdaptiveCard",
                "version": "1.5",
                "body": [{"type": "TextBlock", "text": old.blocks[0].text, "wrap": True}],
            }
        ],
    )
    assert len(problems(old, shown)) == 4  # both lines run together, placeholder, link
    [fixed] = render(node, [card(old)])
    assert problems(old, fixed) == []


def test_user_text_shows_as_typed_and_its_links_lead_where_they_say(node):
    typed = (
        "# not a heading\n1. not a list\n- nor this\n    nor code <b>bold</b> &amp; `tick`\n"
        "[Pay here](https://evil.example/pay) *now* <at>CEO</at> ~~x~~ | a | b |"
    )
    message = Message(typed, (Text(typed), Fields((("Who <me>", "a_b\n<c> & d"),))))
    [shown] = render(node, [card(message)])
    assert problems(message, shown) == []
    assert shown.links == [("https://evil.example/pay", "https://evil.example/pay")]
    assert "<b>" not in shown.html and "<h1" not in shown.html and "<ol" not in shown.html
    assert "<code" not in shown.html and "<pre" not in shown.html and "<em" not in shown.html
    assert "(https://evil.example/pay)" in shown.text  # the markup shows, as typed


def test_a_text_message_keeps_its_lines_and_links(node):
    """A message that is only text goes as Markdown text, not a card: the same holds."""
    message = Message("a <b>\nhttps://example.com/x_y.", (Text("a <b>\nhttps://example.com/x_y."),))
    assert "attachments" not in activity_fields(message)
    [shown] = render(node, [as_card(message)])
    assert problems(message, shown) == []
