"""The Teams app manifest and package: valid against Microsoft's v1.30 schema; icons Teams takes."""

from __future__ import annotations

import copy
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from adapters.teams.package import (
    PACKAGE_NAME,
    SOURCE_DIR,
    build_package,
    default_teams_app_id,
    render_manifest,
)
from bot.commands import COMMANDS
from tests.helpers import shared_path
from tests.schema_validation import _compiled, validate_teams_manifest

ROOT = Path(__file__).resolve().parents[1]
TEAMS = ROOT / "manifest" / "teams"

APP_ID = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
TEAMS_APP_ID = "0d6e3a52-9b1f-4f0e-a6c2-7b8d9e0f1a2b"
COMMAND_NAMES = (
    "help",
    "win",
    "wins",
    "leaderboard",
    "poll",
    "polls",
    "digest",
    "learn",
    "committee",
    "config",
)


@pytest.fixture(scope="module")
def schema_path() -> Path:
    return shared_path("schemas", "teams-manifest-1.30") / "MicrosoftTeams.schema.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return render_manifest(APP_ID, TEAMS_APP_ID)


# --- the manifest -------------------------------------------------------------------------------


def test_filled_template_is_valid(manifest: dict[str, Any], schema_path: Path) -> None:
    assert validate_teams_manifest(manifest, schema_path) == []
    assert manifest["id"] == TEAMS_APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["manifestVersion"] == "1.30" and manifest["version"] == "1.0.0"
    assert manifest["$schema"] == (
        "https://developer.microsoft.com/en-us/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
    )


def test_the_shared_minimal_example_validates(schema_path: Path) -> None:
    """Control: Microsoft's schema + our validator accept a known-good manifest."""
    example = json.loads((schema_path.parent / "minimal-bot-manifest.example.json").read_text())

    assert validate_teams_manifest(example, schema_path) == []


def test_the_pattern_with_unicode_classes_is_compiled_with_regex(schema_path: Path) -> None:
    """The schema's `\\p{L}` pattern (Excel custom function names) is checked, not crashed on."""
    text = schema_path.read_text()
    assert r"\\p{L}" in text  # still the trap this helper exists for

    pattern = _compiled(r"^[\p{L}][\p{L}0-9._]*$")
    assert pattern.search("Éclair_1") and not pattern.search("1abc")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda m: m.update(manifestVersion="1.29"), "manifestVersion"),
        (lambda m: m["bots"][0].pop("botId"), "botId"),
        (lambda m: m["bots"][0].update(botId="not-a-guid"), "bots/0/botId"),
        (lambda m: m.update(accentColor="blue"), "accentColor"),
        (lambda m: m["developer"].update(privacyUrl="example.com/privacy"), "privacyUrl"),
        (lambda m: m.update(unknownField=True), "unknownField"),
    ],
    ids=["bad-manifestVersion", "missing-botId", "botId-not-guid", "accent", "url", "extra"],
)
def test_invalid_manifests_are_reported(
    manifest: dict[str, Any], schema_path: Path, change: Any, where: str
) -> None:
    broken = copy.deepcopy(manifest)
    change(broken)

    errors = validate_teams_manifest(broken, schema_path)

    assert errors and any(where in error for error in errors), errors


def test_the_missing_bot_id_error_names_the_bot(
    manifest: dict[str, Any], schema_path: Path
) -> None:
    broken = copy.deepcopy(manifest)
    del broken["bots"][0]["botId"]

    assert validate_teams_manifest(broken, schema_path) == [
        "bots/0: 'botId' is a required property"
    ]


def test_bad_manifest_version_is_reported_by_our_own_check(schema_path: Path) -> None:
    example = json.loads((schema_path.parent / "minimal-bot-manifest.example.json").read_text())
    example["manifestVersion"] = "1.17"

    errors = validate_teams_manifest(example, schema_path)

    assert errors[0] == "manifestVersion: expected '1.30', got '1.17'"


def test_bot_scopes_and_command_lists(manifest: dict[str, Any]) -> None:
    (bot,) = manifest["bots"]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False and bot["isNotificationOnly"] is False
    assert manifest["validDomains"] == []

    lists = bot["commandLists"]
    assert sorted(scope for entry in lists for scope in entry["scopes"]) == sorted(bot["scopes"])
    for entry in lists:
        assert len(entry["scopes"]) == 1  # Teams: one command list per scope
        assert len(entry["commands"]) <= 10
        assert tuple(command["title"] for command in entry["commands"]) == COMMAND_NAMES


def test_each_command_description_shows_an_example_from_help(manifest: dict[str, Any]) -> None:
    """The menu Teams shows matches what `help` says, so the two cannot drift apart."""
    import bot.features  # noqa: F401  (registers every command)

    for entry in manifest["bots"][0]["commandLists"]:
        for command in entry["commands"]:
            spec = COMMANDS[command["title"]]
            description = command["description"]
            assert len(description) <= 128, command  # Teams truncates longer ones in the menu
            assert any(f"Example: {example}" in description for example in spec.examples), (
                f"{command['title']}: {description!r} quotes none of {spec.examples}"
            )


def test_the_template_has_exactly_the_two_placeholders() -> None:
    text = (TEAMS / "manifest.template.json").read_text()

    assert text.count("{{") == 2
    assert '"id": "{{TEAMS_APP_ID}}"' in text
    assert '"botId": "{{MICROSOFT_APP_ID}}"' in text


# --- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-guid",
        "6f1c2d3e4a5b4c6d8e9f0a1b2c3d4e5f",
        "{6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f}",
        "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5g",
        "00000000-0000-0000-0000-000000000000",
        None,
    ],
)
def test_an_invalid_app_id_is_refused(bad: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="app_id"):
        build_package(bad, tmp_path / "app.zip")
    with pytest.raises(ValueError, match="app_id"):
        render_manifest(bad, TEAMS_APP_ID)
    assert not list(tmp_path.iterdir())  # nothing written


def test_an_invalid_teams_app_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="teams_app_id"):
        build_package(APP_ID, tmp_path / "app.zip", teams_app_id="teams-app")


def test_the_teams_app_id_defaults_to_a_stable_uuid5_of_the_app_id() -> None:
    first = render_manifest(APP_ID)["id"]

    assert first == render_manifest(f" {APP_ID.upper()}\n")["id"] == default_teams_app_id(APP_ID)
    assert first != render_manifest(TEAMS_APP_ID)["id"]
    assert first not in (APP_ID, TEAMS_APP_ID)
    assert render_manifest(APP_ID.upper())["bots"][0]["botId"] == APP_ID  # canonical lower case


# --- the package --------------------------------------------------------------------------------


def test_build_package_writes_a_flat_zip_whose_manifest_validates(
    tmp_path: Path, schema_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    path = build_package(APP_ID, tmp_path / "out" / "teams.zip", teams_app_id=TEAMS_APP_ID)

    assert path == tmp_path / "out" / "teams.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        packaged = json.loads(archive.read("manifest.json"))
        assert archive.read("color.png") == (TEAMS / "color.png").read_bytes()
        assert archive.read("outline.png") == (TEAMS / "outline.png").read_bytes()
    assert packaged == render_manifest(APP_ID, TEAMS_APP_ID)
    assert validate_teams_manifest(packaged, schema_path) == []
    assert [p.name for p in path.parent.iterdir()] == ["teams.zip"]  # no temporary left


def test_build_package_into_a_directory_is_repeatable(tmp_path: Path) -> None:
    first = build_package(APP_ID, tmp_path).read_bytes()
    second = build_package(APP_ID, tmp_path)

    assert second == tmp_path / PACKAGE_NAME
    assert second.read_bytes() == first  # same inputs, same bytes (same Teams app id too)


def test_a_missing_parent_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_package(APP_ID, tmp_path / "missing" / "teams.zip")
    assert not (tmp_path / "missing").exists()


def test_a_missing_template_or_icon_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.template.json").write_text((TEAMS / "manifest.template.json").read_text())

    with pytest.raises(FileNotFoundError, match=r"color\.png, outline\.png"):
        build_package(APP_ID, tmp_path / "app.zip", source=tmp_path)
    assert SOURCE_DIR == TEAMS


# --- the icons ----------------------------------------------------------------------------------


def read_png(path: Path) -> tuple[int, int, int, list[list[tuple[int, ...]]]]:
    """(width, height, colour type, rows of pixels) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks[kind] = chunks.get(kind, b"") + body  # IDAT may be split
        offset += 12 + length
    assert b"IEND" in chunks
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 4 if colour == 6 else 3
    stride = width * channels
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (stride + 1)
    rows: list[list[tuple[int, ...]]] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):  # undo the scanline filter (PNG spec, section 9)
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + guess) & 0xFF
        rows.append([tuple(line[i : i + channels]) for i in range(0, stride, channels)])
        previous = line
    return width, height, colour, rows


def test_the_colour_icon_is_192_square_and_in_colour() -> None:
    width, height, _, rows = read_png(TEAMS / "color.png")

    assert (width, height) == (192, 192)
    colours = {pixel[:3] for row in rows for pixel in row if len(pixel) == 3 or pixel[3] == 255}
    assert (0x1D, 0x4F, 0x91) in colours and (255, 255, 255) in colours


def test_the_outline_icon_is_32_square_white_on_transparent() -> None:
    width, height, colour, rows = read_png(TEAMS / "outline.png")

    assert (width, height) == (32, 32)
    assert colour == 6  # RGBA: Teams needs the transparency
    pixels = [pixel for row in rows for pixel in row]
    bad = [pixel for pixel in pixels if pixel[3] != 0 and pixel[:3] != (255, 255, 255)]
    assert not bad, f"{len(bad)} pixels are neither white nor fully transparent: {bad[:5]}"
    assert any(pixel == (255, 255, 255, 255) for pixel in pixels)
    assert any(pixel[3] == 0 for pixel in pixels)


def test_the_committed_icons_are_what_make_icons_draws(tmp_path: Path) -> None:
    import runpy

    make_icons = runpy.run_path(str(TEAMS / "make_icons.py"))
    make_icons["main"](tmp_path)

    for name in ("color.png", "outline.png"):
        assert (tmp_path / name).read_bytes() == (TEAMS / name).read_bytes(), name
