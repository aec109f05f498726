"""Neutral messages -> Adaptive Cards 1.5 (what Teams supports) with a text fallback.

Card text is Markdown in Teams, so user text is escaped: it cannot fake a link, a heading or a
mention (Teams only mentions people listed in `msteams.entities`, which we never send).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from bot import message as m

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_TEXT = 4000
MAX_ACTIONS = 6  # Teams shows at most six card-level actions; more go into containers
# Teams refuses bot messages over about 28 KB: a chart goes inline only when this small.
MAX_DATA_URI_BASE64 = 20_000
_MARKDOWN = re.compile(r"([\\`*_\[\]])")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def escape(text: str) -> str:
    """Backslash-escape Markdown so user text shows as typed."""
    return _MARKDOWN.sub(r"\\\1", text)


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": escape(shorten(text)), "wrap": True, **style}


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
        element: dict[str, Any] | None = None
        match block:
            case m.Header(text=text):
                element = _text_block(text, size="Large", weight="Bolder")
            case m.Text(text=text):
                element = _text_block(text)
            case m.Fields(pairs=pairs):
                element = {
                    "type": "FactSet",
                    "facts": [
                        {"title": escape(shorten(label, 200)), "value": escape(shorten(value))}
                        for label, value in pairs
                    ],
                }
            case m.Divider():
                separate = True
            case m.Image(url=url, alt=alt):
                element = {"type": "Image", "url": url, "altText": shorten(alt, 500)}
            case m.Chart():
                element = _chart(block, public_url)
            case m.Actions(buttons=buttons):
                # Inside the body, so each poll in a list keeps its own buttons.
                element = {"type": "ActionSet", "actions": [_button(b) for b in buttons]}
            case m.Context(text=text):
                element = _text_block(text, size="Small", isSubtle=True)
            case m.Input():
                element = _input(block)
        if element is not None:
            if separate:
                element["separator"] = True
                separate = False
            body.append(element)
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": shorten(message.text),
        "body": body or [_text_block(message.text)],
        "msteams": {"width": "Full"},
    }


def is_plain(message: m.Message) -> bool:
    """A message that is only text reads better as a chat message than as a card."""
    return all(isinstance(block, m.Text) for block in message.blocks)


def activity_fields(message: m.Message, public_url: str = "") -> dict[str, Any]:
    """The parts of a message activity: plain text, or a card with its fallback summary."""
    if is_plain(message):
        return {"type": "message", "text": shorten(message.text), "textFormat": "plain"}
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
