"""A neutral Message as JSON, so the outbox can keep it in a row until it is delivered."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, fields
from typing import Any

from bot.message import (
    Actions,
    Block,
    Button,
    Chart,
    Context,
    Divider,
    Fields,
    Header,
    Image,
    Input,
    Message,
)
from bot.message import Text as TextBlock

BLOCK_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Header, TextBlock, Fields, Divider, Image, Chart, Actions, Context, Input)
}


def as_dict(message: Message) -> dict[str, Any]:
    blocks = [_block_dict(block) for block in message.blocks]
    return {"text": message.text, "blocks": blocks}


def _block_dict(block: Block) -> dict[str, Any]:
    data = {"type": type(block).__name__, **asdict(block)}
    if isinstance(block, Chart):  # JSON has no bytes
        data["png"] = base64.b64encode(block.png).decode("ascii")
    return data


def from_dict(data: dict[str, Any]) -> Message:
    return Message(text=data["text"], blocks=tuple(_block(b) for b in data.get("blocks", ())))


def dumps(message: Message) -> str:
    return json.dumps(as_dict(message), ensure_ascii=False)


def loads(text: str) -> Message:
    return from_dict(json.loads(text))


def _block(data: dict[str, Any]) -> Block:
    cls = BLOCK_TYPES[data["type"]]
    values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    if cls is Fields:
        values["pairs"] = tuple(tuple(pair) for pair in values["pairs"])
    if cls is Actions:
        values["buttons"] = tuple(Button(**button) for button in values["buttons"])
    if cls is Chart:
        values["png"] = base64.b64decode(values["png"])
    return cls(**values)
