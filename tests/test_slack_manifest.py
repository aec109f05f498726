"""The Slack app manifest is valid against Slack's official schema and declares what we use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.helpers import shared_path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest" / "slack" / "manifest.yaml"

# What the Slack adapter relies on: change these together with the adapter's listeners.
COMMAND = "/finops"
REQUEST_URL = "https://your-host.example.com/slack/events"
BOT_SCOPES = {
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",  # the digest's chart (files.getUploadURLExternal, completeUploadExternal)
    "im:write",
    "users:read",
    "channels:read",
    "groups:read",
    "channels:history",  # the outbox's check before a resend
    "groups:history",
    "im:history",
}
BOT_EVENTS = {"app_home_opened", "member_joined_channel", "team_join"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def schema_for(manifest: dict[str, Any]) -> dict[str, Any]:
    """Slack's official schema for the manifest's major version (1 when unstated)."""
    major = manifest.get("_metadata", {}).get("major_version", 1)
    path = shared_path("schemas", "slack-manifest", f"manifest.schema.{major}.0.0.json")
    return json.loads(path.read_text())


def test_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = schema_for(manifest)
    Draft7Validator.check_schema(schema)

    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in Draft7Validator(schema).iter_errors(manifest)
    ]

    assert not errors, "\n".join(errors)


def test_manifest_declares_the_command_scopes_and_events(manifest: dict[str, Any]) -> None:
    features, settings = manifest["features"], manifest["settings"]
    (command,) = features["slash_commands"]  # exactly one

    assert command["command"] == COMMAND and command["url"] == REQUEST_URL
    assert command["should_escape"] is True  # mentions arrive as <@U123|name>
    assert command["usage_hint"] == "win Rightsized dev VMs $3,200/mo #rightsizing"
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    assert len(manifest["oauth_config"]["scopes"]["bot"]) == len(BOT_SCOPES)
    assert settings["event_subscriptions"]["request_url"] == REQUEST_URL
    assert set(settings["event_subscriptions"]["bot_events"]) == BOT_EVENTS
    assert settings["interactivity"] == {"is_enabled": True, "request_url": REQUEST_URL}


def test_manifest_app_settings(manifest: dict[str, Any]) -> None:
    display, features, settings = (
        manifest["display_information"],
        manifest["features"],
        manifest["settings"],
    )

    assert display["name"] == "FinOps Community Bot" and display["description"]
    # The schema spells this check `regex`, which JSON Schema ignores, so check it here.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", display["background_color"])
    assert features["bot_user"] == {"display_name": "finops", "always_online": False}
    assert features["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    for flag in ("org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled"):
        assert settings[flag] is False, flag
    assert MANIFEST.read_text().startswith("#")  # the setup comment (HTTP vs Socket Mode)
