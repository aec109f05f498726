"""Neutral messages -> Adaptive Cards 1.5 (what Teams supports) with a text fallback.

Card text is Markdown in Teams, so user text is escaped: it cannot fake a link, a heading or a
mention (Teams only mentions people listed in `msteams.entities`, which we never send). How
Teams reads card text, and what is done about it here:
- a single `\n` is not a line break (only inside lists): each line of a text becomes its own
  TextBlock, and a multi-line fact its own title and lines;
- raw HTML is stripped, so `help <command>` would show as "help ": `&`, `<` and `>` are sent as
  HTML entities, which Teams shows as the characters;
- bare URLs are not links: every http(s) URL becomes a Markdown link showing the URL itself (so
  the text shown is always where it leads);
- Markdown at the start of a line (`# `, `- `, `1. `, four spaces of indentation) would turn a
  line into a heading, a list item or code: it is escaped, and indentation kept as no-break spaces.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from bot import message as m

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_TEXT = 4000
# Teams refuses bot messages over its size limit (40 KB in older documentation, 100 KB now);
# a chart goes inline only when this small, so a digest card stays far from it.
MAX_DATA_URI_BASE64 = 20_000
_MARKDOWN = re.compile(r"([\\`*_\[\]~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML = re.compile(r"[&<>]")
# Block syntax at the start of a line: a heading, a list item or a thematic break. (A setext
# underline or a table needs two lines in one block, which never happens: one line per block.)
_LINE_START = re.compile(r"^(#|[-+]|\d{1,9}(?=[.)]))")
_INDENT = re.compile(r"^[ \t]+")
_URL = re.compile(r"https?://[^\s<>\"'`\\]+", re.IGNORECASE)
_URL_TRAILER = ".,;:!?*_~"  # punctuation after a URL, not part of it
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _escape_inline(text: str) -> str:
    text = _MARKDOWN.sub(r"\\\1", text)
    return _HTML.sub(lambda match: _ENTITIES[match[0]], text)


def _split_url(found: str) -> tuple[str, str]:
    """A matched URL without the punctuation that ends the sentence around it."""
    url = found
    while url and (url[-1] in _URL_TRAILER or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url, found[len(url) :]


def _link(url: str) -> str:
    target = url.replace("(", "%28").replace(")", "%29")
    return f"[{_escape_inline(url)}]({target})"


def escape(line: str) -> str:
    """One line of plain text as Teams Markdown that shows exactly that line, URLs as links."""
    indent = _INDENT.match(line)
    lead = "\u00a0" * len(indent[0].expandtabs(4)) if indent else ""
    line = line[len(indent[0]) :] if indent else line
    parts: list[str] = []
    end = 0
    for match in _URL.finditer(line):
        url, rest = _split_url(match[0])
        parts.append(_escape_inline(line[end : match.start()]))
        parts.append(_link(url) if len(url) > len("https://") else _escape_inline(url))
        parts.append(_escape_inline(rest))
        end = match.end()
    parts.append(_escape_inline(line[end:]))
    text = "".join(parts)
    if not lead:  # after no-break spaces a line cannot start a block
        text = _LINE_START.sub(_block_escaped, text)
    return lead + text


def _block_escaped(match: re.Match[str]) -> str:
    """`# x` -> `\\# x`; `1. x` -> `1\\. x` (the backslash goes before the list's dot)."""
    start = match[0]
    return start + "\\" if start.isdigit() else "\\" + start


def markdown(text: str, limit: int = MAX_TEXT) -> str:
    """Plain text as Markdown: each line its own paragraph (`\n\n`, which Teams honours)."""
    lines = [escape(line) for line in shorten(text, limit).split("\n") if line.strip()]
    return "\n\n".join(lines)


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    """One line of text (already one line) as a TextBlock."""
    return {"type": "TextBlock", "text": escape(shorten(text)), "wrap": True, **style}


def _text_blocks(text: str, **style: Any) -> list[dict[str, Any]]:
    """Each line its own TextBlock (close together; a blank line leaves a gap)."""
    blocks: list[dict[str, Any]] = []
    gap = False
    for line in text.split("\n"):
        if not line.strip():
            gap = bool(blocks)
            continue
        spacing = {} if not blocks else {"spacing": "Medium" if gap else "None"}
        blocks.append(_text_block(line, **{**style, **spacing}))
        gap = False
    return blocks or [_text_block(text, **style)]


def _fields(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """A FactSet when every value is one line; else each label in bold over its lines (a
    FactSet's value cannot break lines in Teams)."""
    if all("\n" not in label + value for label, value in pairs):
        return [
            {
                "type": "FactSet",
                "facts": [
                    {"title": escape(shorten(label, 200)), "value": escape(shorten(value))}
                    for label, value in pairs
                ],
            }
        ]
    elements: list[dict[str, Any]] = []
    for label, value in pairs:
        title = _text_block(" ".join(label.split()), weight="Bolder")
        if elements:
            title["spacing"] = "Medium"
        elements += [title, *_text_blocks(value, spacing="None")]
    return elements


def _button(button: m.Button) -> dict[str, Any]:
    return {
        "type": "Action.Submit",
        "title": shorten(button.label, 75),
        "data": {"action_id": button.action_id, "value": button.value},
        **({"style": "positive"} if button.primary else {}),
    }


def _input(field: m.Input) -> dict[str, Any]:
    """Input.Number for a number question (its current answer a plain number or none), else
    Input.Text (multi-line for text; one line for a number answered with its unit, `12%`, so it
    stays editable as typed). Labels and values are plain text fields, not Markdown. The form's
    Action.Submit sends every input's value with its data, keyed by the Input's id."""
    number = _plain_number(field.value) if field.number and field.value else None
    common = {"id": field.id, "label": shorten(field.label, 500)}
    if field.number and (number is not None or not field.value):
        given = {} if number is None else {"value": number}
        return {"type": "Input.Number", **common, "placeholder": "A number", **given}
    shown = {"value": shorten(field.value)} if field.value else {}
    return {
        "type": "Input.Text",
        **common,
        "isMultiline": not field.number,
        "placeholder": "Your answer",
        **shown,
    }


def _plain_number(text: str) -> int | float | None:
    """`1,234.5` -> 1234.5 (Input.Number's value is a JSON number); None for `12%`."""
    bare = text.strip().replace(",", "")
    if not _NUMBER.fullmatch(bare):
        return None
    return int(bare) if "." not in bare else float(bare)


def chart_url(chart: m.Chart, public_url: str = "") -> str | None:
    """Where a card finds the chart's picture: the bot's own copy (/charts/<token>.png) when
    FINOPS_PUBLIC_URL is set, else the PNG inline as a data URI (Adaptive Cards 1.2+) if it
    is small enough, else None (the sparkline stands in)."""
    if public_url and chart.token:
        return f"{public_url.rstrip('/')}/charts/{chart.token}.png"
    encoded = base64.b64encode(chart.png).decode("ascii")
    if encoded and len(encoded) <= MAX_DATA_URI_BASE64:
        return f"data:image/png;base64,{encoded}"
    return None


def _chart(chart: m.Chart, public_url: str) -> dict[str, Any]:
    items = [_text_block(chart.sparkline)]
    url = chart_url(chart, public_url)
    if url is not None:
        items.append({"type": "Image", "url": url, "altText": shorten(chart.alt, 500)})
    return {"type": "Container", "items": items}  # one element, so a Divider's line fits


def card(message: m.Message, public_url: str = "") -> dict[str, Any]:
    """The message as an Adaptive Card; `public_url` is FINOPS_PUBLIC_URL (for charts)."""
    body: list[dict[str, Any]] = []
    separate = False  # a Divider puts a separator line on the next element
    for block in message.blocks:
        elements: list[dict[str, Any]] = []
        match block:
            case m.Header(text=text):
                elements = _text_blocks(text, size="Large", weight="Bolder")
            case m.Text(text=text):
                elements = _text_blocks(text)
            case m.Fields(pairs=pairs):
                elements = _fields(pairs)
            case m.Divider():
                separate = True
            case m.Image(url=url, alt=alt):
                elements = [{"type": "Image", "url": url, "altText": shorten(alt, 500)}]
            case m.Chart():
                elements = [_chart(block, public_url)]
            case m.Actions(buttons=buttons):
                # Inside the body, so each poll in a list keeps its own buttons.
                elements = [{"type": "ActionSet", "actions": [_button(b) for b in buttons]}]
            case m.Context(text=text):
                elements = _text_blocks(text, size="Small", isSubtle=True)
            case m.Input():
                elements = [_input(block)]
        if elements:
            if separate:
                elements[0]["separator"] = True
                elements[0].pop("spacing", None)
                separate = False
            body += elements
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": shorten(message.text),
        "body": body or _text_blocks(message.text),
        "msteams": {"width": "Full"},
    }


def is_plain(message: m.Message) -> bool:
    """A message that is only text reads better as a chat message than as a card."""
    return all(isinstance(block, m.Text) for block in message.blocks)


def activity_fields(message: m.Message, public_url: str = "") -> dict[str, Any]:
    """The parts of a message activity: a text message, or a card with its fallback summary."""
    if is_plain(message):
        # Markdown, as in cards: each line a paragraph, placeholders kept, URLs as links.
        return {"type": "message", "text": markdown(message.text), "textFormat": "markdown"}
    return {
        "type": "message",
        "summary": shorten(message.text, 200),
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": card(message, public_url),
            }
        ],
    }
