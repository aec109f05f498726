"""Validate Teams app manifests and Adaptive Cards against Microsoft's official schemas.

Test helpers; both functions return error messages ("<json/path>: <message>"), empty when valid.

Teams manifest v1.30 (`MicrosoftTeams.schema.json`), two traps:
- it declares draft-04 but uses `const` and `if`/`then`, which draft-04 ignores: validate with
  draft-07 semantics (draft-04's keywords mean the same there for this schema);
- one `pattern` uses `\\p{L}`, which Python's `re` cannot compile: patterns (the `pattern`
  keyword and the `regex` format) are compiled with the third-party `regex` package instead.
`manifestVersion` is also checked here directly, so a validator that skipped `const` would still
catch a wrong version.

Adaptive Card 1.5 (`adaptive-card.schema.json`, draft-06, strict `additionalProperties: false`):
it rejects a few properties that Teams documents and accepts, listed in `CARD_ALLOW_LIST`; those
are removed from a copy of the card before validating, nothing else is skipped. The schema does
not constrain the root `type` or `version`, so those are checked here: Teams renders up to 1.5.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import regex
from jsonschema import Draft6Validator, Draft7Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import extend

TEAMS_MANIFEST_VERSION = "1.30"
CARD_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")  # what Teams renders

# Host-specific properties the Adaptive Card 1.5 schema rejects but Teams accepts; stripped from a
# copy of the card before schema validation. Keep this list short and say why for each entry.
CARD_ALLOW_LIST: dict[str, str] = {
    # Root only. Teams' card extensions: `{"width": "Full"}` and `entities` for @mentions
    # (learn.microsoft.com, "Format cards in Microsoft Teams"). The schema's root has
    # `additionalProperties: false`, so any card that mentions someone would fail.
    "msteams": "root",
    # Anywhere, only when a string. Measured: the schema accepts "drop" (any case) but rejects
    # other strings, which hosts treat as "no fallback" instead of failing the card. (Beware: the
    # schema's FallbackOption has a `pattern` branch without a `type`, so it lets ANY object
    # through as a fallback; an object fallback is not really checked, allow-list or not.)
    "fallback": "string value, any depth",
}


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """The `pattern` keyword, compiled with `regex` (understands `\\p{L}`, unlike `re`)."""
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("regex", raises=regex.error)
    def is_regex(instance: object) -> bool:
        return not isinstance(instance, str) or bool(_compiled(instance))

    @checker.checks("uri", raises=ValueError)
    def is_uri(instance: object) -> bool:  # jsonschema skips `uri` without rfc3987 installed
        if not isinstance(instance, str):
            return True
        parts = urlsplit(instance)
        return bool(parts.scheme and (parts.netloc or parts.path)) and " " not in instance

    return checker


FORMAT_CHECKER = _format_checker()
TeamsValidator = extend(Draft7Validator, {"pattern": _pattern})


def _explain(error: ValidationError) -> list[ValidationError]:
    """The errors that explain `error`: for an anyOf/oneOf over typed objects (Adaptive Card
    elements, actions), those of the branch whose `type` matched, not one line per branch."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    matching = [
        subs
        for subs in branches.values()
        if not any(sub.validator == "enum" and list(sub.relative_path) == ["type"] for sub in subs)
    ]
    if len(matching) == 1:
        return [found for sub in matching[0] for found in _explain(sub)]
    if not matching and isinstance(error.instance, dict) and "type" in error.instance:
        error.message = f"unknown type {error.instance['type']!r}"
        return [error]
    return [best_match([error])]


def _messages(errors: Any) -> list[str]:
    found = [explained for error in errors for explained in _explain(error)]
    found.sort(key=lambda error: list(map(str, error.absolute_path)))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message[:300]}"
        for error in found
    ]


@cache
def _teams_validator(schema_path: Path) -> Any:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    # Draft-07's meta-schema checks every `pattern` with the "regex" format: ours uses `regex`.
    TeamsValidator(TeamsValidator.META_SCHEMA, format_checker=FORMAT_CHECKER).validate(schema)
    return TeamsValidator(schema, format_checker=FORMAT_CHECKER)


def validate_teams_manifest(manifest: dict[str, Any], schema_path: Path) -> list[str]:
    """Errors of a Teams app manifest against the v1.30 schema (draft-07 semantics, `regex`)."""
    errors = _messages(_teams_validator(Path(schema_path)).iter_errors(manifest))
    version = manifest.get("manifestVersion") if isinstance(manifest, dict) else None
    if version != TEAMS_MANIFEST_VERSION:
        errors.insert(0, f"manifestVersion: expected {TEAMS_MANIFEST_VERSION!r}, got {version!r}")
    return errors


def _strip_allowed(node: Any, *, root: bool) -> Any:
    if isinstance(node, list):
        return [_strip_allowed(item, root=False) for item in node]
    if not isinstance(node, dict):
        return node
    kept = {}
    for key, value in node.items():
        if root and key == "msteams":
            continue
        if key == "fallback" and isinstance(value, str):
            continue
        kept[key] = _strip_allowed(value, root=False)
    return kept


@cache
def _card_validator(schema_path: Path) -> Any:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema, format_checker=FORMAT_CHECKER)


def validate_adaptive_card(card: dict[str, Any], schema_path: Path) -> list[str]:
    """Errors of an Adaptive Card against the official 1.5 schema, minus `CARD_ALLOW_LIST`."""
    if not isinstance(card, dict):
        return [f"<root>: an Adaptive Card is a JSON object, got {type(card).__name__}"]
    errors = []
    if card.get("type") != "AdaptiveCard":
        errors.append(f"type: expected 'AdaptiveCard', got {card.get('type')!r}")
    if card.get("version") not in CARD_VERSIONS:
        errors.append(
            f"version: Teams renders Adaptive Cards {CARD_VERSIONS[0]} to {CARD_VERSIONS[-1]}, "
            f"got {card.get('version')!r}"
        )
    stripped = _strip_allowed(card, root=True)  # a new structure: the card is untouched
    return errors + _messages(_card_validator(Path(schema_path)).iter_errors(stripped))
