"""Is a signed Slack request shaped like what it claims to be? Checked before bolt sees it.

A correctly signed body can still be malformed (a replayed test payload, a proxy that mangles
it, a Slack change): `payload=not-json`, a click with no `actions`, `team_join` whose `user` is a
string, `view_submission` without its `view`, anything without the person it is about. Such a
request is answered 400 with one log line (never a traceback, never the body), and nothing is
looked up or stored for it: no `users.info(user="")`, no vote for "".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

# Interactions that are about a person: each must name them.
_PERSONAL = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}
# Events the bot listens to whose `user` is a user id.
_USER_ID_EVENTS = {"member_joined_channel", "app_home_opened"}


def http_problem(body: str, content_type: str) -> str | None:
    """Why a signed HTTP body cannot be handled, or None."""
    if "application/json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return "the JSON body does not parse"
        return event_problem(data)
    form = {key: values[-1] for key, values in parse_qs(body, keep_blank_values=True).items()}
    if "payload" in form:
        try:
            data = json.loads(form["payload"])
        except ValueError:
            return "the interaction payload is not JSON"
        return interaction_problem(data)
    if "command" in form:
        return command_problem(form)
    return None  # e.g. Slack's ssl_check: bolt answers it


def socket_problem(kind: str, payload: Any) -> str | None:
    """Why a Socket Mode envelope's payload cannot be handled, or None."""
    if kind == "events_api":
        return event_problem(payload)
    if kind == "interactive":
        return interaction_problem(payload)
    if kind == "slash_commands":
        return command_problem(payload) if isinstance(payload, Mapping) else "not an object"
    return None


def event_problem(data: Any) -> str | None:
    if not isinstance(data, Mapping):
        return "the body is not a JSON object"
    if data.get("type") != "event_callback":
        return None  # url_verification, app_rate_limited: bolt answers them
    event = data.get("event")
    if not isinstance(event, Mapping) or not _id(event.get("type")):
        return "an event_callback without an event"
    kind = event["type"]
    if kind in _USER_ID_EVENTS and not _id(event.get("user")):
        return f"a {kind} event without a user id"
    if kind == "member_joined_channel" and not _id(event.get("channel")):
        return "a member_joined_channel event without a channel"
    if kind == "team_join":
        user = event.get("user")
        if not isinstance(user, Mapping) or not _id(user.get("id")):
            return "a team_join event whose user is not a user object"
    return None


def interaction_problem(data: Any) -> str | None:
    if not isinstance(data, Mapping):
        return "the interaction payload is not a JSON object"
    kind = data.get("type")
    if kind in _PERSONAL:
        user = data.get("user")
        if not isinstance(user, Mapping) or not _id(user.get("id")):
            return f"a {kind} payload without a user"
    if kind == "block_actions":
        actions = data.get("actions")
        if not isinstance(actions, list) or not actions:
            return "a block_actions payload without actions"
        if not all(isinstance(a, Mapping) and _id(a.get("action_id")) for a in actions):
            return "a block_actions payload with an action that has no action_id"
    if kind in ("view_submission", "view_closed"):
        view = data.get("view")
        if not isinstance(view, Mapping):
            return f"a {kind} payload without a view"
    return None


def command_problem(form: Mapping[str, Any]) -> str | None:
    if not _id(form.get("user_id")):
        return "a slash command without a user_id"
    if not _id(form.get("team_id")):
        return "a slash command without a team_id"
    return None


def _id(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
