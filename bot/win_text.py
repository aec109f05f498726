"""How a win reads wherever it is shown: its value and its categories."""

from __future__ import annotations

from bot import catalogue
from bot.parsing.money import format_money
from bot.parsing.recurrence import Recurrence
from storage.models import Win


def value_text(win: Win) -> str:
    """`3,200 USD/mo (38,400 USD a year)`; empty when the win has no amount."""
    if not win.amount_minor:
        return ""
    recurrence = Recurrence(win.recurrence)
    shown = format_money(win.amount_minor, win.currency)
    if recurrence is Recurrence.MONTHLY:
        return f"{shown}/mo ({format_money(win.annualised_minor, win.currency)} a year)"
    return shown + ("/yr" if recurrence is Recurrence.ANNUAL else " one-time")


def tag_names(tags: tuple[str, ...]) -> str:
    shown = []
    for tag in tags:
        capability = catalogue.capability_for_tag(tag)
        shown.append(capability.name if capability else f"#{tag}")
    return ", ".join(shown)
