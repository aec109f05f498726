"""Slack payloads -> neutral events. Mentions stay in the canonical `<@U1|name>` form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.events import ActionEvent, Actor, CommandEvent, JoinScope, MemberJoinedEvent, Place

PLATFORM = "slack"
# `<...>` sequences Slack puts in command text: people, channels, links, special mentions.
_ANGLE = re.compile(r"<([^<>]*)>")


def command_text(text: str) -> str:
    """Slack's escaped command text as the plain text the core expects.

    People and channels keep the canonical form; links become their URL; `<!here>` and other
    special mentions become inert words. Entities are decoded, but a decoded `<` never forms a
    new mention: `&lt;@U1&gt;` typed as text stays text (shown with ‹ ›).
    """
    pieces: list[str] = []
    position = 0
    for match in _ANGLE.finditer(text):
        pieces.append(_decode(text[position : match.start()]))
        inner = match[1]
        if inner.startswith(("@", "#")):
            pieces.append(match[0])
        elif inner.startswith("!"):
            pieces.append(_decode(_special(inner)))
        else:
            pieces.append(_decode(inner.partition("|")[0]))  # a link: keep the URL
        position = match.end()
    pieces.append(_decode(text[position:]))
    return "".join(pieces)


def _special(inner: str) -> str:
    """`!here` -> `@here`, `!subteam^S1|@ops` -> `@ops`, `!date^...|Nov 1` -> `Nov 1`: words
    that cannot notify anyone once they are plain text again."""
    name = inner[1:].partition("|")[0].split("^")[0]
    label = inner.partition("|")[2]
    if name in ("here", "channel", "everyone"):
        return "@" + name
    return label or ("@group" if name == "subteam" else name)


def _decode(text: str) -> str:
    text = text.replace("&lt;@", "‹@").replace("&lt;#", "‹#")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_event(form: Mapping[str, Any]) -> CommandEvent:
    return CommandEvent(
        actor=Actor(
            PLATFORM, form.get("team_id", ""), form.get("user_id", ""), form.get("user_name", "")
        ),
        place=Place(
            form.get("channel_id", ""),
            form.get("channel_name", ""),
            is_direct=form.get("channel_name") == "directmessage",
            answer_url=form.get("response_url", ""),
        ),
        text=command_text(form.get("text", "")),
        # Each invocation has its own trigger id: a replayed request (the same signed body,
        # within the signature's five minutes) is recognised and not run again.
        event_id=f"command:{form['trigger_id']}" if form.get("trigger_id") else None,
    )


def action_event(body: Mapping[str, Any], action: Mapping[str, Any]) -> ActionEvent:
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id", "")
    channel = body.get("channel") or {}
    return ActionEvent(
        actor=Actor(
            PLATFORM, team, user.get("id", ""), user.get("username") or user.get("name", "")
        ),
        place=Place(
            channel.get("id", ""), channel.get("name", ""), answer_url=body.get("response_url", "")
        ),
        action_id=str(action.get("action_id", "")).partition(":")[0],
        value=str(action.get("value", "")),
        # A click's own timestamp: a replayed click (which would toggle a vote back) is
        # recognised. Stored only as a keyed hash (bot.core), as every event id.
        event_id=_click_id(user.get("id", ""), action),
    )


def _click_id(user: str, action: Mapping[str, Any]) -> str | None:
    stamp = action.get("action_ts")
    if not stamp:
        return None
    return f"action:{user}:{stamp}:{action.get('action_id', '')}:{action.get('value', '')}"


def view_submission_event(body: Mapping[str, Any]) -> ActionEvent:
    """A submitted modal form (`view_submission`): the callback id is the form's submit action
    id, the private metadata its value, and each input block's value one of `inputs`, keyed by
    the block id (the neutral Input's id), in the order the form shows them."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id", "")
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    order = [block.get("block_id") for block in view.get("blocks") or [] if isinstance(block, dict)]
    inputs = []
    for block_id in sorted(values, key=lambda b: order.index(b) if b in order else len(order)):
        for state in (values[block_id] or {}).values():
            value = state.get("value") if isinstance(state, Mapping) else None
            if isinstance(value, str):  # an optional input left empty comes back as null
                inputs.append((str(block_id), value))
    return ActionEvent(
        actor=Actor(
            PLATFORM, team, user.get("id", ""), user.get("username") or user.get("name", "")
        ),
        place=Place("", is_direct=True),  # a modal belongs to no conversation
        action_id=str(view.get("callback_id", "")),
        value=str(view.get("private_metadata", "")),
        inputs=tuple(inputs),
    )


def member_joined_event(body: Mapping[str, Any], name: str = "") -> MemberJoinedEvent:
    event = body["event"]
    team = event.get("team") or body.get("team_id", "")
    return MemberJoinedEvent(
        actor=Actor(PLATFORM, team, event.get("user", ""), name),
        place=Place(event.get("channel", "")),
        event_id=body.get("event_id"),
        scope=JoinScope.CHANNEL,
    )


def team_join_event(body: Mapping[str, Any]) -> MemberJoinedEvent:
    user = body["event"].get("user") or {}
    profile = user.get("profile") or {}
    name = profile.get("display_name") or user.get("real_name") or user.get("name", "")
    return MemberJoinedEvent(
        actor=Actor(
            PLATFORM, user.get("team_id") or body.get("team_id", ""), user.get("id", ""), name
        ),
        place=Place(""),
        event_id=body.get("event_id"),
        scope=JoinScope.WORKSPACE,
    )


def is_person(user: Mapping[str, Any]) -> bool:
    """A users.info (or team_join) `user` who is someone to welcome: not a bot or app user
    (Slackbot included), not a deactivated account."""
    return not (user.get("is_bot") or user.get("deleted") or user.get("id") == "USLACKBOT")


def display_name(user: Mapping[str, Any]) -> str:
    """The name people see, from a users.info `user` object."""
    profile = user.get("profile") or {}
    return (
        profile.get("display_name")
        or profile.get("real_name")
        or user.get("real_name")
        or user.get("name")
        or user.get("id", "")
    )


def delivery_id(body: Mapping[str, Any]) -> str | None:
    """What recognises a second delivery of the same request (a retry, a replayed signed
    body) before it is stored: a command's trigger id, a click's own timestamp, a form's
    trigger id, an event's id. None for what has none (it is then never a duplicate)."""
    if body.get("command"):
        return f"command:{body['trigger_id']}" if body.get("trigger_id") else None
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions") or [{}]
        return _click_id((body.get("user") or {}).get("id", ""), actions[0])
    if kind == "view_submission":
        return f"view:{body['trigger_id']}" if body.get("trigger_id") else None
    if kind == "event_callback":
        return f"event:{body['event_id']}" if body.get("event_id") else None
    return None


def request_kind(body: Mapping[str, Any]) -> str | None:
    """`command`, `interaction` or `event`: what an inbox stores. None for Slack's own checks
    (url_verification, ssl_check), which bolt answers without the bot."""
    if body.get("command"):
        return "command"
    if body.get("type") in ("block_actions", "view_submission"):
        return "interaction"
    if body.get("type") == "event_callback":
        return "event"
    return None
