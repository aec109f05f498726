"""Neutral messages -> Block Kit, built with slack_sdk's models (which validate the limits).

User text is escaped exactly once, here (`&`, `<`, `>`), and mrkdwn objects are `verbatim`, so
nothing a person typed can notify `@channel`, mention someone, or fake a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.models import JsonValidator
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot import message as m

MAX_BLOCKS = 50  # per message; a Home tab allows 100
SECTION_TEXT, HEADER_TEXT, FIELD_TEXT, BUTTON_TEXT, BUTTON_VALUE = 3000, 150, 2000, 75, 2000
FIELDS_PER_SECTION, BUTTONS_PER_ACTIONS, FALLBACK_TEXT = 10, 25, 3000
MAX_VIEW_BLOCKS, INPUT_LABEL, METADATA = 100, 2000, 3000  # a modal's limits
ANSWER = "answer"  # the action id of every input element; the block id is the Input's id
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
# Three or more backticks open a code block that runs across lines, into the next entry of a
# list, and `>>>` at the start of a line quotes everything after it: both are broken with
# zero-width spaces, so each entry shows as typed and the next is untouched.
_FENCE = re.compile(r"`{3,}|^(\s*)>>>", re.MULTILINE)
_ZERO_WIDTH = "\u200b"


@dataclass(frozen=True, slots=True)
class Form:
    """How a form's submit button shows on Slack: input blocks only work in modals, so a
    message shows the answers so far and a button (`opener`) that opens the form as a modal."""

    title: str  # the modal's title (at most 24 characters)
    opener_label: str


# By the form's submit action id; the opener's action id is `<prefix>.open`.
FORMS = {"checkin.submit": Form("Check-in", "Answer the check-in")}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def neutral(text: str) -> str:
    """No code fence and no multi-line quote in `text`: a win's ``` (or a line starting `>>>`)
    would turn every later line, the next person's win in the digest, into code (or a quote)."""
    return _FENCE.sub(_broken, text)


def _broken(match: re.Match[str]) -> str:
    if match[1] is not None:  # `>>>` after the line's indentation
        return match[1] + _ZERO_WIDTH.join(">>>")
    return _ZERO_WIDTH.join(match[0])


def displayed(text: str, limit: int) -> str:
    """At most `limit` characters as Slack shows them (Slack counts a text's limit on what it
    displays, `&` as one character), cut with an ellipsis, then escaped."""
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


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
    return MarkdownTextObject(text=shorten(neutral(text), limit) or " ", verbatim=True)


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
        case m.Chart(sparkline=sparkline):
            # The picture itself is uploaded after the post, in its thread (deliver.py).
            return [SectionBlock(text=_mrkdwn(sparkline))]
        case m.Actions(buttons=buttons):
            elements = [
                _Button(
                    text=PlainTextObject(text=displayed(b.label, BUTTON_TEXT) or " ", emoji=True),
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
        case m.Input(label=label, value=value):
            # In a message an input is shown, not filled in: the opener button opens the form.
            shown = f"*{shorten(neutral(label), INPUT_LABEL)}*"
            if value:
                answer = shorten(neutral(value), SECTION_TEXT - len(shown) - 20)
                shown += f"\nYour answer: {answer}"
            return [SectionBlock(text=MarkdownTextObject(text=shown, verbatim=True))]
    raise TypeError(f"cannot render {block!r}")


class _Button(ButtonElement):
    """A button whose 75-character limit is counted on its text as displayed: a 75-character
    poll option with an `&` (sent as `&amp;`) is not cut."""

    @JsonValidator(f"text attribute cannot exceed {BUTTON_TEXT} characters as displayed")
    def _validate_text_length(self) -> bool:
        text = self.text.text if self.text is not None else None
        return text is None or len(unescape(text)) <= self.text_max_length


def opener(button: m.Button) -> m.Button:
    """A form's submit button as shown in a message: it opens the form (a modal) instead."""
    form = FORMS.get(button.action_id)
    prefix = button.action_id.partition(".")[0]
    label = form.opener_label if form else "Open the form"
    return replace(button, label=label, action_id=f"{prefix}.open")


def _openers(message: m.Message) -> tuple[m.Block, ...]:
    """A message holding a form: its buttons become openers (see `opener`)."""
    if not any(isinstance(block, m.Input) for block in message.blocks):
        return message.blocks
    return tuple(
        m.Actions(tuple(map(opener, block.buttons))) if isinstance(block, m.Actions) else block
        for block in message.blocks
    )


def render_blocks(message: m.Message, max_blocks: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    rendered = [b for block in _openers(message) for b in blocks_for(block)]
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


def plain_number(text: str) -> str | None:
    """`1,234.5` -> `1234.5`; None for anything else (`12%`, `4500 USD`), which a number input
    could not show nor give back with its unit."""
    bare = text.strip().replace(",", "")
    return bare if _PLAIN_NUMBER.fullmatch(bare) else None


def _input_block(field: m.Input) -> InputBlock:
    number = plain_number(field.value) if field.number and field.value else None
    element: NumberInputElement | PlainTextInputElement
    if field.number and (number is not None or not field.value):
        element = NumberInputElement(
            action_id=ANSWER, is_decimal_allowed=True, initial_value=number
        )
    else:  # text, or a number answered with its unit (`12%`): kept editable as typed
        element = PlainTextInputElement(
            action_id=ANSWER, multiline=not field.number, initial_value=field.value or None
        )
    return InputBlock(
        block_id=field.id[:255],
        label=_plain(field.label, INPUT_LABEL),
        element=element,
        optional=True,  # a member may answer only some of the questions
    )


def form_modal(message: m.Message) -> dict[str, Any] | None:
    """A message holding a form as a modal for views.open: one input block per Input, the
    form's submit button as the modal's submit (its action id the callback id, its value the
    private metadata). None when the message has no form."""
    submit = next(
        (
            button
            for block in message.blocks
            if isinstance(block, m.Actions)
            for button in block.buttons
            if button.action_id in FORMS
        ),
        None,
    )
    if submit is None or not any(isinstance(block, m.Input) for block in message.blocks):
        return None
    rendered: list[Block] = []
    for block in message.blocks:
        if isinstance(block, m.Input):
            rendered.append(_input_block(block))
        elif not isinstance(block, m.Actions):  # the modal's own submit button replaces them
            rendered += blocks_for(block)
    view = View(
        type="modal",
        callback_id=submit.action_id,
        title=_plain(FORMS[submit.action_id].title, 24),
        submit=_plain("Send", 24),
        close=_plain("Cancel", 24),
        blocks=rendered[:MAX_VIEW_BLOCKS],
        private_metadata=submit.value[:METADATA],
    )
    return view.to_dict()  # validates the view and its blocks
