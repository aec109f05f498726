"""Every message the bot can send renders as a valid Adaptive Card 1.5 for Teams."""

from __future__ import annotations

import json

import pytest

from adapters.teams.render import activity_fields, card, escape
from adapters.teams.translate import command_text
from bot.events import Actor
from bot.features.onboarding import introduction
from bot.message import Actions, Button, Context, Divider, Fields, Header, Message, Text
from tests.schema_validation import validate_adaptive_card

EVERY_KIND_OF_ANSWER = [
    "help",
    "help poll",
    "win Rightsized 40 dev VMs $3,200/mo #rightsizing @jane",
    "wins",
    "leaderboard",
    'poll "Adopt a tagging policy?" "Yes" "No" committee closes in 3d',
    "polls",
    "digest",
    "metric coverage 72%",
    "metrics",
    "learn",
    "learn rightsizing",
    "onboarding",
    "committee",
    "config",
    "win",
    'poll "Only one?" "Yes"',
    "frobnicate",
]


@pytest.fixture
def card_schema(shared_dir):
    return shared_dir / "schemas/adaptive-card-1.5/adaptive-card.schema.json"


async def test_every_answer_is_a_valid_card(chat, bot, workspace, card_schema):
    await chat.say("committee add @ada practitioner")
    messages = [introduction()]
    for line in EVERY_KIND_OF_ANSWER:
        outcome = await chat.outcome(line)
        messages += [item.message for item in outcome.items]
    messages.append(await bot.view(Actor("console", workspace, "ada", "ada"), "home"))
    assert len(messages) > len(EVERY_KIND_OF_ANSWER)
    for message in messages:
        rendered = card(message)
        assert rendered["version"] == "1.5"
        assert validate_adaptive_card(rendered, card_schema) == [], message.text[:80]
        fields = activity_fields(message)
        assert fields.get("text") or fields.get("attachments")


def test_user_text_cannot_fake_links_or_formatting():
    message = Message("x", (Text("[Pay here](https://evil.example) *now* <at>CEO</at>"),))
    block = card(message)["body"][0]
    # The markup shows as typed; the URL becomes a link showing itself, so it leads where it says.
    assert block["text"] == (
        "\\[Pay here\\]([https://evil.example](https://evil.example)) \\*now\\* "
        "&lt;at&gt;CEO&lt;/at&gt;"
    )
    assert "msteams" not in block and "entities" not in json.dumps(card(message)["msteams"])
    assert escape("a_b") == "a\\_b"


def test_blocks_map_to_card_elements(card_schema):
    message = Message(
        "fallback",
        (
            Header("Title"),
            Text("Body"),
            Divider(),
            Fields((("Saving", "3,200 USD/mo"),)),
            Actions((Button("Yes", "poll.vote", "12:1", "vote 12 1"),)),
            Context("small print"),
        ),
    )
    rendered = card(message)
    kinds = [element["type"] for element in rendered["body"]]
    assert kinds == ["TextBlock", "TextBlock", "FactSet", "ActionSet", "TextBlock"]
    assert rendered["body"][2]["separator"] is True
    assert rendered["body"][3]["actions"][0]["data"] == {"action_id": "poll.vote", "value": "12:1"}
    assert rendered["fallbackText"] == "fallback"
    assert validate_adaptive_card(rendered, card_schema) == []


def test_plain_answers_are_plain_text_messages():
    fields = activity_fields(Message("Logged win #3.", (Text("Logged win #3."),)))
    assert fields == {"type": "message", "text": "Logged win #3.", "textFormat": "markdown"}


def test_text_messages_break_lines_keep_placeholders_and_link_urls():
    text = "Usage: vote <poll> <option>\n  e.g. vote 12 2\nSee https://www.finops.org/."
    fields = activity_fields(Message(text, (Text(text),)))
    assert fields["text"] == (
        "Usage: vote &lt;poll&gt; &lt;option&gt;\n\n\u00a0\u00a0e.g. vote 12 2\n\n"
        "See [https://www.finops.org/](https://www.finops.org/)."
    )


def test_each_line_of_a_text_is_its_own_text_block():
    message = Message("x", (Header("Title"), Text("one\ntwo\n\nthree"), Divider(), Text("four")))
    body = card(message)["body"]
    assert [(b["text"], b.get("spacing"), b.get("separator")) for b in body] == [
        ("Title", None, None),
        ("one", None, None),
        ("two", "None", None),
        ("three", "Medium", None),
        ("four", None, True),
    ]


def test_multi_line_fields_become_a_title_over_its_lines():
    message = Message("x", (Fields((("Usage", "poll <id>\npoll close <id>"), ("Then", "x"))),))
    body = card(message)["body"]
    assert [(b["text"], b.get("weight"), b.get("spacing")) for b in body] == [
        ("Usage", "Bolder", None),
        ("poll &lt;id&gt;", None, "None"),
        ("poll close &lt;id&gt;", None, "None"),
        ("Then", "Bolder", "Medium"),
        ("x", None, "None"),
    ]


def test_mentions_become_canonical_and_html_is_decoded():
    activity = {
        "text": "<at>FinOps</at> win Fixed &lt;@U1&gt; &amp; more <at>Jane Doe</at>",
        "recipient": {"id": "28:bot"},
        "entities": [
            {
                "type": "mention",
                "mentioned": {"id": "28:bot", "name": "FinOps"},
                "text": "<at>FinOps</at>",
            },
            {
                "type": "mention",
                "mentioned": {"id": "29:jane", "name": "Jane Doe"},
                "text": "<at>Jane Doe</at>",
            },
        ],
    }
    assert command_text(activity) == "win Fixed ‹@U1> & more <@29:jane|Jane Doe>"
