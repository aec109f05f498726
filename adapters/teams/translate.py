"""Teams activities (as plain dicts) -> neutral events.

Mentions become the canonical `<@29:id|Name>`; the bot's own @mention is removed. Activity text
arrives as HTML-ish text: entities are decoded, but a decoded `<` never forms a new mention.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.events import ActionEvent, Actor, CommandEvent, JoinScope, MemberJoinedEvent, Place

PLATFORM = "teams"
_TAG = re.compile(r"<[^<>]*>")
# The ids the core gives a form's Inputs (`q12`, a check-in question): the only keys of a
# submit's data read back as typed answers, so the button's own data never is.
_INPUT_ID = re.compile(r"q\d{1,18}")


def tenant_of(activity: Mapping[str, Any]) -> str:
    conversation = activity.get("conversation") or {}
    channel_data = activity.get("channelData") or {}
    return conversation.get("tenantId") or (channel_data.get("tenant") or {}).get("id", "")


def actor_of(activity: Mapping[str, Any], person: Mapping[str, Any] | None = None) -> Actor:
    person = person if person is not None else activity.get("from") or {}
    return Actor(
        PLATFORM,
        tenant_of(activity),
        person.get("id", ""),
        person.get("name") or "",
        directory_id=person.get("aadObjectId"),
    )


def channel_id(conversation_id: str) -> str:
    """`19:x@thread.tacv2;messageid=17` (a reply thread) -> the channel `19:x@thread.tacv2`."""
    return conversation_id.split(";", 1)[0]


def place_of(activity: Mapping[str, Any]) -> Place:
    conversation = activity.get("conversation") or {}
    channel_data = activity.get("channelData") or {}
    kind = conversation.get("conversationType", "personal")
    name = (channel_data.get("channel") or {}).get("name") or conversation.get("name") or ""
    return Place(
        conversation_id=channel_id(conversation.get("id", "")),
        conversation_name=name,
        is_direct=kind == "personal",
        team_id=(channel_data.get("team") or {}).get("id"),
    )


def command_text(activity: Mapping[str, Any]) -> str:
    """The command after the bot's @mention, other mentions canonical, HTML decoded."""
    text = activity.get("text") or ""
    bot_id = (activity.get("recipient") or {}).get("id")
    mentions: dict[str, str] = {}
    for number, entity in enumerate(activity.get("entities") or []):
        if entity.get("type") != "mention" or not entity.get("text"):
            continue
        mentioned = entity.get("mentioned") or {}
        if mentioned.get("id") == bot_id:
            text = text.replace(entity["text"], " ", 1)
            continue
        marker = f"\x00{number}\x00"  # survives the decoding below untouched
        name = (mentioned.get("name") or "").replace("|", " ").replace(">", " ")
        mentions[marker] = f"<@{mentioned.get('id', '')}|{name}>"
        text = text.replace(entity["text"], marker, 1)
    text = _TAG.sub(" ", text)  # leftover markup (<p>, <br>) is layout, not content
    text = text.replace("&lt;@", "‹@").replace("&lt;#", "‹#")
    text = html.unescape(text).replace("\xa0", " ")
    for marker, mention in mentions.items():
        text = text.replace(marker, mention)
    return " ".join(text.split())


def command_event(activity: Mapping[str, Any]) -> CommandEvent:
    return CommandEvent(actor_of(activity), place_of(activity), command_text(activity))


def action_of(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """(action id, value) from a card's submit data or an Action.Execute."""
    if "action_id" not in data and "verb" not in data:
        return None
    action_id = str(data.get("action_id") or data.get("verb"))
    nested = data.get("data")
    inner = nested if isinstance(nested, Mapping) else data
    value = inner.get("value")
    if value is None and "poll_id" in inner:  # {"poll_id": "12", "option": "2"}
        value = f"{inner['poll_id']}:{inner.get('option', '')}"
    return action_id, str(value or "")


def inputs_of(data: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What was typed in the card's inputs: Teams merges each input's value into the submit
    data under the input's id (as a string; a number input may also come as a number)."""
    found = []
    for key, value in data.items():
        if not (isinstance(key, str) and _INPUT_ID.fullmatch(key)):
            continue
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            found.append((key, format(Decimal(str(value)).normalize(), "f")))
        elif isinstance(value, str):
            found.append((key, value))
    return tuple(found)


def submit_event(activity: Mapping[str, Any]) -> ActionEvent | None:
    """An Action.Submit click: a message activity whose `value` holds the card's data, with
    the card's input values merged in."""
    value = activity.get("value")
    found = action_of(value) if isinstance(value, Mapping) else None
    if found is None:
        return None
    assert isinstance(value, Mapping)
    return ActionEvent(
        actor_of(activity), place_of(activity), found[0], found[1], inputs=inputs_of(value)
    )


def execute_event(activity: Mapping[str, Any]) -> ActionEvent | None:
    """An Action.Execute click: an `adaptiveCard/action` invoke (inputs merged into `data`)."""
    value = activity.get("value")
    action = value.get("action") if isinstance(value, Mapping) else None
    if not isinstance(action, Mapping):  # absent, or not an object: no action to run
        return None
    nested = action.get("data")
    data = nested if isinstance(nested, Mapping) else {}
    found = action_of({"verb": action.get("verb"), "data": data})
    if not action.get("verb") or found is None:
        return None
    return ActionEvent(
        actor_of(activity), place_of(activity), found[0], found[1], inputs=inputs_of(data)
    )


def members_added(activity: Mapping[str, Any]) -> list[MemberJoinedEvent]:
    """People (not the bot) added to a team or chat."""
    bot_id = (activity.get("recipient") or {}).get("id")
    place = place_of(activity)
    return [
        MemberJoinedEvent(
            actor_of(activity, member),
            place,
            event_id=f"{activity.get('id', '')}:{member.get('id', '')}"[:100],
            scope=JoinScope.CHANNEL,
        )
        for member in activity.get("membersAdded") or []
        if member.get("id") != bot_id
    ]


def people_named(activity: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(id, display name) of everyone an activity names: the sender and the people mentioned."""
    found = []
    for person in [activity.get("from") or {}] + [
        entity.get("mentioned") or {}
        for entity in activity.get("entities") or []
        if entity.get("type") == "mention"
    ]:
        if person.get("id") and person.get("name"):
            found.append((str(person["id"]), str(person["name"])))
    return found


def bot_was_added(activity: Mapping[str, Any]) -> bool:
    bot_id = (activity.get("recipient") or {}).get("id")
    return any(m.get("id") == bot_id for m in activity.get("membersAdded") or [])
