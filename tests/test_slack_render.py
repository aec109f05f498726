"""Neutral messages -> Block Kit: escaping, Slack's limits, and slack_sdk's own validation."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, HeaderBlock

from adapters.slack.render import home_view, message_payload, render_blocks, unescape
from bot import message as m

ELLIPSIS = "…"
ENTITY = re.compile(r"&(amp|lt|gt);")


def button(i: int, label: str = "", primary: bool = False) -> m.Button:
    return m.Button(label or f"Option {i}", "poll.vote", f"7:{i}", f"poll vote 7 {i}", primary)


EVERY_BLOCK = (
    m.Header("Weekly FinOps digest"),
    m.Text("Three wins this week.\nTop saving: *rightsizing*."),
    m.Fields((("Saving", "3,200 USD a month"), ("Category", "Rightsizing"))),
    m.Divider(),
    m.Image("https://example.com/chart.png", "Savings chart"),
    m.Actions((button(1, "Yes", primary=True), button(2, "No"))),
    m.Context("Logged by ada."),
)


def one(block: m.Block, **kwargs: Any) -> dict[str, Any]:
    """The single Block Kit block that `block` renders to."""
    rendered = render_blocks(m.Message("fallback", (block,)), **kwargs)
    assert len(rendered) == 1, rendered
    return rendered[0]


def text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object (mrkdwn or plain_text) anywhere in a payload."""
    if isinstance(node, list):
        return [found for item in node for found in text_objects(item)]
    if not isinstance(node, dict):
        return []
    found = [node] if node.get("type") in ("mrkdwn", "plain_text") and "text" in node else []
    return found + [inner for value in node.values() for inner in text_objects(value)]


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def assert_whole_entities(text: str) -> None:
    """No `&` that does not start one of the three entities Slack decodes."""
    assert "&" not in ENTITY.sub("", text), text


# -- every block type -------------------------------------------------------------------------


def test_every_block_type_renders_to_valid_block_kit():
    rendered = render_blocks(m.Message("Weekly FinOps digest", EVERY_BLOCK))
    assert [b["type"] for b in rendered] == [
        "header",
        "section",
        "section",
        "divider",
        "image",
        "actions",
        "context",
    ]
    for block in rendered:
        Block.parse(block).to_dict()  # parse back with slack_sdk and validate again
    header, text, fields, _, image, actions, context = rendered
    assert header["text"] == {"type": "plain_text", "text": "Weekly FinOps digest", "emoji": True}
    assert text["text"]["type"] == "mrkdwn"
    assert text["text"]["text"] == "Three wins this week.\nTop saving: *rightsizing*."
    assert [f["text"] for f in fields["fields"]] == [
        "Saving\n3,200 USD a month",
        "Category\nRightsizing",
    ]
    assert image["image_url"] == "https://example.com/chart.png"
    assert image["alt_text"] == "Savings chart"
    yes, no = actions["elements"]
    assert (yes["type"], yes["text"]["text"], yes["value"]) == ("button", "Yes", "7:1")
    assert yes["style"] == "primary" and "style" not in no
    assert yes["action_id"] != no["action_id"]
    assert context["elements"][0]["text"] == "Logged by ada."


def test_slack_sdk_validation_really_refuses_violations():
    """The premise of render.py: to_dict() raises when a limit is broken."""
    with pytest.raises(SlackObjectFormationError):
        HeaderBlock(text="x" * 151).to_dict()


def test_every_mrkdwn_object_is_verbatim_and_plain_text_allows_emoji():
    objects = text_objects(render_blocks(m.Message("x", EVERY_BLOCK)))
    assert {o["type"] for o in objects} == {"mrkdwn", "plain_text"}
    for obj in objects:
        if obj["type"] == "mrkdwn":
            assert obj["verbatim"] is True, obj
        else:
            assert obj["emoji"] is True, obj


def test_empty_text_still_renders_a_valid_section():
    section = one(m.Text(""))
    assert section["text"]["text"].strip() == ""
    Block.parse(section).to_dict()
    assert one(m.Image("https://example.com/x.png", ""))["alt_text"]  # Slack requires alt text


# -- escaping ---------------------------------------------------------------------------------

ESCAPES = [
    ("A & B <!channel>", "A &amp; B &lt;!channel&gt;"),
    ("&lt;", "&amp;lt;"),  # already escaped: shown literally, not decoded
    ("&amp;", "&amp;amp;"),
    ("<@U123|bob> <#C1|general> <!here>", "&lt;@U123|bob&gt; &lt;#C1|general&gt; &lt;!here&gt;"),
    ("<https://evil.example|click me>", "&lt;https://evil.example|click me&gt;"),
    ("a > b < c", "a &gt; b &lt; c"),
    ("*bold* _italics_ `code` 100% $5", "*bold* _italics_ `code` 100% $5"),
]


@pytest.mark.parametrize(("typed", "shown"), ESCAPES)
def test_user_text_is_escaped_exactly_once_everywhere(typed: str, shown: str):
    message = m.Message(
        typed,
        (
            m.Header(typed),
            m.Text(typed),
            m.Fields(((typed, typed),)),
            m.Image("https://example.com/x.png", typed),
            m.Actions((button(1, typed),)),
            m.Context(typed),
        ),
    )
    payload = message_payload(message)
    header, text, fields, image, actions, context = payload["blocks"]
    assert payload["text"] == shown
    assert header["text"]["text"] == shown
    assert text["text"]["text"] == shown
    assert fields["fields"][0]["text"] == f"{shown}\n{shown}"
    assert image["alt_text"] == shown
    assert actions["elements"][0]["text"]["text"] == shown
    assert context["elements"][0]["text"] == shown
    assert "<" not in json.dumps(payload) and ">" not in json.dumps(payload)


# -- shortening -------------------------------------------------------------------------------


def header_text(text: str) -> str:
    return one(m.Header(text))["text"]["text"]


def section_text(text: str) -> str:
    return one(m.Text(text))["text"]["text"]


def button_text(text: str) -> str:
    return one(m.Actions((button(1, text),)))["elements"][0]["text"]["text"]


def field_text(text: str) -> str:
    """The value of a field whose label is empty: the field is "\\n" + value."""
    return one(m.Fields((("", text),)))["fields"][0]["text"].removeprefix("\n")


LIMITS = [
    pytest.param(header_text, 150, id="header"),
    pytest.param(section_text, 3000, id="section"),
    pytest.param(button_text, 75, id="button"),
    pytest.param(field_text, 2000 - 1, id="field"),  # the "\n" after the label counts
]


@pytest.mark.parametrize(("render", "limit"), LIMITS)
def test_long_text_is_shortened_with_an_ellipsis(render, limit: int):
    assert render("x" * limit) == "x" * limit  # exactly at the limit: untouched
    shortened = render("y" * (limit + 500))
    assert len(shortened) == limit
    assert shortened == "y" * (limit - 1) + ELLIPSIS


@pytest.mark.parametrize(("render", "limit"), [p for p in LIMITS if p.id != "button"])
@pytest.mark.parametrize("char", ["&", "<", ">"])
def test_shortening_never_cuts_inside_an_entity(render, limit: int, char: str):
    for before in range(limit - 8, limit + 1):  # the cut lands on every offset of an entity
        typed = "a" * before + char * 20
        shortened = render(typed)
        assert len(shortened) <= limit and shortened.endswith(ELLIPSIS)
        assert_whole_entities(shortened)
        kept = shortened.removesuffix(ELLIPSIS)
        assert escape(typed).startswith(kept)
        assert len(kept) >= limit - 1 - 4  # only a partial entity (at most 4 chars) was dropped


@pytest.mark.parametrize("char", ["&", "<", ">"])
def test_a_button_label_is_limited_as_displayed_and_escaped_whole(char: str):
    """Slack counts a button's 75 characters on what it shows: `&` is one, though sent as
    `&amp;`. A label of 75 shown characters is kept whole; a longer one is cut before escaping."""
    for before in range(60, 76):
        typed = "a" * before + char * (75 - before)
        assert unescape(button_text(typed)) == typed
        assert_whole_entities(button_text(typed))
    longer = button_text("a" * 70 + char * 20)
    assert unescape(longer) == "a" * 70 + char * 4 + ELLIPSIS
    assert_whole_entities(longer)


def test_field_limit_counts_label_and_value_after_escaping():
    field = one(m.Fields((("Saving & more", "<" * 1000),)))["fields"][0]["text"]
    assert len(field) <= 2000 and field.endswith(ELLIPSIS)
    assert field.startswith("Saving &amp; more\n&lt;")
    assert_whole_entities(field)


def test_fallback_text_is_shortened_without_breaking_entities():
    payload = message_payload(m.Message("a" * 2997 + "&" * 10))
    assert len(payload["text"]) <= 3000 and payload["text"].endswith(ELLIPSIS)
    assert_whole_entities(payload["text"])


# -- splitting into several blocks ------------------------------------------------------------


def test_long_multiline_text_is_split_into_sections_not_truncated():
    lines = [f"{i:03d}. Saved & tagged <prod> {'x' * 70}" for i in range(120)]
    text = "\n".join(lines)
    escaped = escape(text)
    assert len(escaped) > 3000 * 3
    sections = render_blocks(m.Message("x", (m.Text(text),)))
    assert len(sections) >= 4 and {s["type"] for s in sections} == {"section"}
    pieces = [s["text"]["text"] for s in sections]
    assert all(len(piece) <= 3000 for piece in pieces)
    assert "\n".join(pieces) == escaped  # every line kept, in order, split only at breaks
    assert not any(piece.endswith(ELLIPSIS) for piece in pieces)


def test_a_single_long_line_is_shortened_not_split():
    sections = render_blocks(m.Message("x", (m.Text("z" * 5000),)))
    assert len(sections) == 1
    assert len(sections[0]["text"]["text"]) == 3000


def test_twelve_field_pairs_make_two_sections():
    pairs = tuple((f"Label {i}", f"Value {i}") for i in range(12))
    sections = render_blocks(m.Message("x", (m.Fields(pairs),)))
    assert [len(s["fields"]) for s in sections] == [10, 2]
    shown = [f["text"] for s in sections for f in s["fields"]]
    assert shown == [f"Label {i}\nValue {i}" for i in range(12)]


def test_thirty_buttons_make_two_actions_blocks_with_unique_action_ids():
    buttons = tuple(button(i) for i in range(30))
    blocks = render_blocks(m.Message("x", (m.Actions(buttons),)))
    assert [b["type"] for b in blocks] == ["actions", "actions"]
    assert [len(b["elements"]) for b in blocks] == [25, 5]
    for block in blocks:
        ids = [e["action_id"] for e in block["elements"]]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"poll\.vote:\d+", i) for i in ids)  # what the listener matches
    elements = [e for b in blocks for e in b["elements"]]
    assert [e["text"]["text"] for e in elements] == [f"Option {i}" for i in range(30)]
    assert [e["value"] for e in elements] == [f"7:{i}" for i in range(30)]


# -- the block limit --------------------------------------------------------------------------


def numbered(count: int) -> m.Message:
    return m.Message("x", tuple(m.Text(f"Block {i}") for i in range(count)))


def test_exactly_fifty_blocks_are_kept_whole():
    blocks = render_blocks(numbered(50))
    assert len(blocks) == 50 and blocks[-1]["text"]["text"] == "Block 49"


def test_more_than_fifty_blocks_are_cut_with_a_note():
    blocks = render_blocks(numbered(80))
    assert len(blocks) == 50
    assert [b["text"]["text"] for b in blocks[:-1]] == [f"Block {i}" for i in range(49)]
    assert blocks[-1]["type"] == "context"
    assert "shortened" in blocks[-1]["elements"][0]["text"]


def test_the_limit_counts_rendered_blocks_not_message_blocks():
    pairs = tuple((f"L{i}", f"V{i}") for i in range(12))  # 2 sections each
    blocks = render_blocks(m.Message("x", tuple(m.Fields(pairs) for _ in range(30))))
    assert len(blocks) == 50 and blocks[-1]["type"] == "context"


def test_payload_for_a_long_message_is_cut_to_fifty():
    payload = message_payload(numbered(120))
    assert len(payload["blocks"]) == 50 and payload["blocks"][-1]["type"] == "context"


def test_home_view_allows_a_hundred_blocks():
    view = home_view(numbered(80))
    assert view["type"] == "home" and len(view["blocks"]) == 80  # a message would be cut
    view = home_view(numbered(130))
    assert len(view["blocks"]) == 100
    assert view["blocks"][98]["text"]["text"] == "Block 98"
    assert view["blocks"][-1]["type"] == "context"
    assert "shortened" in view["blocks"][-1]["elements"][0]["text"]


# -- the text fallback ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(m.Message("Just text"), id="no-blocks"),
        pytest.param(m.Message("Weekly FinOps digest", EVERY_BLOCK), id="every-block"),
        pytest.param(numbered(80), id="cut-blocks"),
    ],
)
def test_message_payload_always_has_a_text_fallback(message: m.Message):
    payload = message_payload(message)
    assert set(payload) == {"text", "blocks"}
    assert isinstance(payload["text"], str) and payload["text"].strip()
    assert payload["text"] == message.text
    assert isinstance(payload["blocks"], list)


def test_an_empty_fallback_is_derived_from_the_blocks():
    payload = message_payload(m.Message("", (m.Header("Weekly digest"), m.Text("Three wins"))))
    assert payload["text"] == "Weekly digest Three wins"
