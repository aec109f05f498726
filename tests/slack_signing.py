"""Build request bodies in Slack's exact shapes and sign them as Slack does, for adapter tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

APP_ID = "A0001"
BOT_USER_ID = "UBOT"  # FakeSlack's default bot user
VERIFICATION_TOKEN = "verification_token"  # deprecated by Slack, still sent in every payload
TEAM_DOMAIN = "finops-test"


def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds: HMAC-SHA256 over `v0:{timestamp}:{raw body}`, hex, `v0=`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def slash_command_body(
    *,
    text: str,
    user_id: str = "U1",
    user_name: str = "alice",
    team_id: str = "T0001",
    channel_id: str = "C1",
    channel_name: str = "general",
    response_url: str,
    command: str = "/finops",
) -> str:
    """A slash command POST body, form-encoded in the field order Slack uses."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": _trigger_id(),
        }
    )


def event_body(event: dict[str, Any], *, event_id: str, team_id: str = "T0001") -> str:
    """An Events API `event_callback` envelope around `event`, as a JSON string."""
    return json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "context_team_id": team_id,
            "context_enterprise_id": None,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_hex(16)}",
        }
    )


def block_actions_body(
    *,
    action_id: str,
    value: str,
    user_id: str = "U1",
    user_name: str = "alice",
    team_id: str = "T0001",
    channel_id: str = "C1",
    message_ts: str = "1700000000.000100",
    response_url: str,
) -> str:
    """A button click on a bot message: `payload=<url-quoted JSON>`, as Slack form-encodes it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "actions",
                "text": {"type": "plain_text", "text": "Button", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return "payload=" + quote(json.dumps(payload))


def view_submission_body(
    *,
    view: dict[str, Any],
    answers: dict[str, str | None],
    user_id: str = "U1",
    user_name: str = "alice",
    team_id: str = "T0001",
) -> str:
    """A modal submitted: `view` as views.open answered it, `answers` typed into its input
    blocks (block id -> text; None or absent: left empty). Form-encoded as `payload=<JSON>`,
    like every interaction; `view.state.values` as Slack fills it in."""
    submitted = {**view, "state": {"values": state_values(view, answers)}}
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": submitted,
        "response_urls": [],  # only for modals with conversation selects, which we have none of
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return "payload=" + quote(json.dumps(payload))


def state_values(
    view: dict[str, Any], answers: dict[str, str | None]
) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values`: block id -> action id -> `{"type": <element type>, "value": ...}`
    for every input block; an empty optional input has `"value": null`."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        text = answers.get(block["block_id"])
        values[block["block_id"]] = {
            element["action_id"]: {"type": element["type"], "value": text or None}
        }
    return values


def _trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**11)}.{secrets.token_hex(16)}"
