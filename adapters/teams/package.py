"""Build the Microsoft Teams app package: manifest.json + color.png + outline.png, zipped flat.

The manifest template and the icons live in the repository's `manifest/teams/` folder; the
template carries two placeholders that become GUIDs here:

- `{{MICROSOFT_APP_ID}}`: the bot's Microsoft App ID (its Azure Bot / Entra app registration),
  used as `bots[0].botId`;
- `{{TEAMS_APP_ID}}`: the Teams app's own `id`. It defaults to a uuid5 of the Microsoft App ID,
  so packaging again (a new version, new icons) updates the same Teams app instead of installing
  a second one.

Standard library only, so it can run before the rest of the bot is configured.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

SOURCE_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"
TEMPLATE = "manifest.template.json"
ICON_SIZES = {"color.png": 192, "outline.png": 32}  # file name -> width and height, in pixels
PACKAGE_NAME = "finops-community-bot-teams.zip"  # used when `out` is a directory

APP_ID_PLACEHOLDER = "{{MICROSOFT_APP_ID}}"
TEAMS_APP_ID_PLACEHOLDER = "{{TEAMS_APP_ID}}"

# Fixed forever: changing it would give every deployment a new Teams app id.
TEAMS_APP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:finops-community-bot:teams-app")

# The Teams manifest schema's own `definitions/guid` pattern.
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Zip entries get a fixed timestamp so the same inputs give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _guid(value: object, what: str) -> str:
    """The canonical (lower-case, hyphenated) form of a GUID, or a ValueError naming `what`."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not _GUID.fullmatch(text):
        raise ValueError(
            f"{what} must be a GUID like 00000000-0000-0000-0000-000000000000 "
            f"(8-4-4-4-12 hexadecimal digits), got {value!r}"
        )
    canonical = str(uuid.UUID(text))
    if canonical == str(uuid.UUID(int=0)):
        raise ValueError(f"{what} is the all-zero GUID, a placeholder rather than a real id")
    return canonical


def default_teams_app_id(app_id: str) -> str:
    """The Teams app id derived from the Microsoft App ID: stable across re-packaging."""
    return str(uuid.uuid5(TEAMS_APP_NAMESPACE, _guid(app_id, "app_id")))


def _sources(source: Path) -> dict[str, Path]:
    wanted = [TEMPLATE, *ICON_SIZES]
    missing = [name for name in wanted if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"The Teams app package is built from {source}, which lacks {', '.join(missing)}. "
            "It ships with the source repository (manifest/teams/) and is not part of an "
            "installed wheel: run this from a checkout of the repository."
        )
    return {name: source / name for name in wanted}


def _fill(node: Any, values: dict[str, str]) -> Any:
    """Replace placeholder strings anywhere in the parsed template (structure, not text)."""
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):
        for placeholder, value in values.items():
            node = node.replace(placeholder, value)
        if "{{" in node:
            raise ValueError(f"the Teams manifest template has an unknown placeholder in {node!r}")
    return node


def render_manifest(
    app_id: str, teams_app_id: str | None = None, *, source: Path = SOURCE_DIR
) -> dict[str, Any]:
    """The Teams manifest for this bot: the template with both ids filled in.

    Raises ValueError when an id is not a GUID, FileNotFoundError when the template is absent.
    """
    app_id = _guid(app_id, "app_id (the bot's Microsoft App ID)")
    teams_app_id = (
        default_teams_app_id(app_id)
        if teams_app_id is None
        else _guid(teams_app_id, "teams_app_id")
    )
    template = json.loads(_sources(source)[TEMPLATE].read_text(encoding="utf-8"))
    return _fill(template, {APP_ID_PLACEHOLDER: app_id, TEAMS_APP_ID_PLACEHOLDER: teams_app_id})


def _check_icon(path: Path, size: int) -> bytes:
    data = path.read_bytes()
    # A PNG starts with its signature then the IHDR chunk: length, b"IHDR", width, height.
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    if (width, height) != (size, size):
        raise ValueError(f"{path} is {width}x{height}; Teams wants {size}x{size}")
    return data


def build_package(
    app_id: str,
    out: Path,
    *,
    teams_app_id: str | None = None,
    source: Path = SOURCE_DIR,
) -> Path:
    """Write the Teams app package (a zip to upload in Teams) and return its path.

    `out` is the zip file to write, or an existing directory to write `PACKAGE_NAME` into.
    The zip holds manifest.json, color.png and outline.png at its root (Teams refuses folders).
    """
    manifest = render_manifest(app_id, teams_app_id, source=source)
    icons = manifest.get("icons", {})
    if {icons.get("color"), icons.get("outline")} != set(ICON_SIZES):
        raise ValueError(f"the manifest's icons must be {sorted(ICON_SIZES)}, got {icons!r}")
    files = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()}
    for name, size in ICON_SIZES.items():
        files[name] = _check_icon(source / name, size)

    out = Path(out)
    target = out / PACKAGE_NAME if out.is_dir() else out
    if not target.parent.is_dir():  # a typo'd path is an error, not a new tree of folders
        raise FileNotFoundError(f"the folder {str(target.parent)!r} does not exist")
    # Write beside the target, then rename: a failed run never leaves half a zip behind.
    handle, temporary = tempfile.mkstemp(prefix=".teams-package-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
            for name, data in files.items():
                entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, data)
        os.chmod(temporary, 0o644)  # mkstemp makes it owner-only; the package is not a secret
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


__all__ = [
    "PACKAGE_NAME",
    "SOURCE_DIR",
    "build_package",
    "default_teams_app_id",
    "render_manifest",
]
