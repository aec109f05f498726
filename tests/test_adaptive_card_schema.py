"""The Adaptive Card validator: the official 1.5 schema, Teams' version cap, a tiny allow-list."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import shared_path
from tests.schema_validation import CARD_ALLOW_LIST, validate_adaptive_card

CARD: dict[str, Any] = {
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Adopt a tagging policy?", "weight": "Bolder", "wrap": True},
        {"type": "FactSet", "facts": [{"title": "Closes", "value": "Friday 17:00"}]},
    ],
    "actions": [
        {"type": "Action.Submit", "title": "Yes", "data": {"poll": 12, "option": 1}},
        {"type": "Action.Execute", "title": "No", "verb": "vote", "data": {"poll": 12}},
    ],
}


@pytest.fixture(scope="module")
def schema() -> Path:
    return shared_path("schemas", "adaptive-card-1.5", "adaptive-card.schema.json")


def card(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CARD), **changes}


def test_a_minimal_card_is_valid(schema: Path) -> None:
    assert validate_adaptive_card(card(), schema) == []
    minimal = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": "hi"}],
    }
    assert validate_adaptive_card(minimal, schema) == []


@pytest.mark.parametrize("version", ["1.6", "2.0", "1", 1.5, None])
def test_a_version_teams_does_not_render_is_rejected(schema: Path, version: Any) -> None:
    errors = validate_adaptive_card(card(version=version), schema)

    assert errors and errors[0].startswith("version: Teams renders Adaptive Cards 1.0 to 1.5")


def test_an_unknown_element_type_is_rejected(schema: Path) -> None:
    broken = card(body=[{"type": "Carousel", "pages": []}])

    assert validate_adaptive_card(broken, schema) == ["body/0: unknown type 'Carousel'"]


def test_an_unknown_action_type_is_rejected(schema: Path) -> None:
    broken = card(actions=[{"type": "Action.Popover", "title": "x"}])

    assert validate_adaptive_card(broken, schema) == ["actions/0: unknown type 'Action.Popover'"]


def test_errors_point_at_the_property_inside_a_known_element(schema: Path) -> None:
    broken = card(
        body=[{"type": "TextBlock", "text": "x", "colour": "Good"}, {"type": "TextBlock"}]
    )

    assert validate_adaptive_card(broken, schema) == [
        "body/0: Additional properties are not allowed ('colour' was unexpected)",
        "body/1: 'text' is a required property",
    ]


def test_the_root_must_be_an_adaptive_card(schema: Path) -> None:
    assert validate_adaptive_card(card(type="Card"), schema)
    assert validate_adaptive_card({"version": "1.5"}, schema)
    assert validate_adaptive_card([], schema)  # type: ignore[arg-type]


def test_the_teams_msteams_property_is_allowed_at_the_root_only(schema: Path) -> None:
    msteams = {
        "width": "Full",
        "entities": [
            {
                "type": "mention",
                "text": "<at>Jane</at>",
                "mentioned": {"id": "29:1abc", "name": "Jane"},
            }
        ],
    }
    assert "msteams" in CARD_ALLOW_LIST

    assert validate_adaptive_card(card(msteams=msteams), schema) == []
    nested = card(body=[{"type": "TextBlock", "text": "x", "msteams": msteams}])
    assert validate_adaptive_card(nested, schema)  # not an element property
    assert validate_adaptive_card(card(msteams=msteams, teams=True), schema)  # nothing else


def test_string_fallbacks_are_allowed(schema: Path) -> None:
    assert "fallback" in CARD_ALLOW_LIST
    text = {"type": "TextBlock", "text": "x"}

    for fallback in ("drop", "Drop", "show the text instead"):
        assert validate_adaptive_card(card(body=[{**text, "fallback": fallback}]), schema) == []
    table = {"type": "Table", "columns": [], "rows": [], "fallback": text}  # the object form
    assert validate_adaptive_card(card(body=[table]), schema) == []
    action = {"type": "Action.Execute", "title": "Vote", "fallback": "drop"}
    assert validate_adaptive_card(card(actions=[action]), schema) == []


def test_validation_leaves_the_card_untouched(schema: Path) -> None:
    original = card(
        msteams={"width": "Full"}, body=[{"type": "TextBlock", "text": "x", "fallback": "drop"}]
    )
    snapshot = copy.deepcopy(original)

    validate_adaptive_card(original, schema)

    assert original == snapshot


def test_the_checkin_form_card_is_valid(schema: Path) -> None:
    from adapters.teams.render import card as render
    from bot import message as m

    form = m.Message(
        "Steering committee check-in",
        (
            m.Header("Steering committee check-in"),
            m.Input("q1", "#1 What did your team save?", "checkin answer 1 <answer>"),
            m.Input("q2", "#2 Coverage (metric coverage)", "x", number=True, value="1,234.5"),
            m.Input("q3", "#3 Untagged (metric untagged)", "x", number=True, value="12%"),
            m.Input("q4", "#4 Idle disks (metric idle)", "x", number=True),
            m.Actions((m.Button("Send answers", "checkin.submit", "2026-W48", "x", True),)),
        ),
    )
    rendered = render(form)
    kinds = [(e["type"], e.get("value")) for e in rendered["body"][1:5]]

    assert kinds == [
        ("Input.Text", None),
        ("Input.Number", 1234.5),
        ("Input.Text", "12%"),  # a number with its unit stays editable as typed
        ("Input.Number", None),
    ]
    assert validate_adaptive_card(rendered, schema) == []
    wrong = copy.deepcopy(rendered)
    wrong["body"][2]["value"] = "1,234.5"  # Input.Number's value must be a number
    assert validate_adaptive_card(wrong, schema)
