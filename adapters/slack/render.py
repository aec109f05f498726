"""Neutral messages -> Block Kit, built with slack_sdk's models (which validate the limits).

User text is escaped exactly once, here (`&`, `<`, `>`), and mrkdwn objects are `verbatim`, so
nothing a person typed can notify `@channel`, mention someone, or fake a link.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import message as m

MAX_BLOCKS = 50  # per message; a Home tab allows 100
SECTION_TEXT, HEADER_TEXT, FIELD_TEXT, BUTTON_TEXT, BUTTON_VALUE = 3000, 150, 2000, 75, 2000
FIELDS_PER_SECTION, BUTTONS_PER_ACTIONS, FALLBACK_TEXT = 10, 25, 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters after escaping, cut with an ellipsis (never mid-entity)."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp > cut.rfind(";"):  # do not leave half an `&amp;`
        cut = cut[:amp]
    return cut + "…"


def _mrkdwn(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    return MarkdownTextObject(text=shorten(text, limit) or " ", verbatim=True)


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=shorten(text, limit) or " ", emoji=True)


def _chunks(text: str, limit: int) -> list[str]:
    """Split long text on line breaks into pieces that fit one section each."""
    pieces, current = [], ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(escape(candidate)) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = line
    pieces.append(current)
    return pieces


def blocks_for(block: m.Block) -> list[Block]:
    match block:
        case m.Header(text=text):
            return [HeaderBlock(text=_plain(text, HEADER_TEXT))]
        case m.Text(text=text):
            return [SectionBlock(text=_mrkdwn(piece)) for piece in _chunks(text, SECTION_TEXT)]
        case m.Fields(pairs=pairs):
            fields = [_mrkdwn(f"{label}\n{value}", FIELD_TEXT) for label, value in pairs]
            return [
                SectionBlock(fields=fields[i : i + FIELDS_PER_SECTION])
                for i in range(0, len(fields), FIELDS_PER_SECTION)
            ]
        case m.Divider():
            return [DividerBlock()]
        case m.Image(url=url, alt=alt):
            return [ImageBlock(image_url=url, alt_text=shorten(alt, 2000) or "image")]
        case m.Actions(buttons=buttons):
            elements = [
                ButtonElement(
                    text=_plain(b.label, BUTTON_TEXT),
                    action_id=f"{b.action_id}:{i}"[:255],  # unique within the block
                    value=b.value[:BUTTON_VALUE],
                    style="primary" if b.primary else None,
                )
                for i, b in enumerate(buttons)
            ]
            return [
                ActionsBlock(elements=elements[i : i + BUTTONS_PER_ACTIONS])
                for i in range(0, len(elements), BUTTONS_PER_ACTIONS)
            ]
        case m.Context(text=text):
            return [ContextBlock(elements=[_mrkdwn(text, 2000)])]
    raise TypeError(f"cannot render {block!r}")


def render_blocks(message: m.Message, max_blocks: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    rendered = [b for block in message.blocks for b in blocks_for(block)]
    if len(rendered) > max_blocks:  # keep the start, say that the rest was cut
        rendered = rendered[: max_blocks - 1]
        rendered.append(ContextBlock(elements=[_mrkdwn("… shortened to fit in Slack.")]))
    return [block.to_dict() for block in rendered]  # to_dict() validates each block


def fallback_text(message: m.Message) -> str:
    """The message's own text, or, when it has none, the text of its blocks."""
    text = message.text.strip() or " ".join(
        getattr(block, "text", "") for block in message.blocks if getattr(block, "text", "")
    )
    return shorten(text or "(message)", FALLBACK_TEXT)


def message_payload(message: m.Message) -> dict[str, Any]:
    """Arguments for chat.postMessage / chat.update / response_url."""
    return {"text": fallback_text(message), "blocks": render_blocks(message)}


def home_view(message: m.Message) -> dict[str, Any]:
    return {"type": "home", "blocks": render_blocks(message, max_blocks=100)}
