"""How a win reads wherever it is shown: its value and its categories."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import get_currency_precision

from bot import catalogue
from bot.costs.verify import Verdict
from bot.parsing.money import format_money, to_major
from bot.parsing.recurrence import Recurrence
from storage.models import Win, WinCheck


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


def claimed_monthly(win: Win) -> Decimal:
    """The win's claimed saving a month, in major units of its currency."""
    return to_major(win.annualised_minor, win.currency) / 12


def money_text(amount: Decimal, currency: str) -> str:
    if not currency:
        return f"{amount:,.2f}"
    places = get_currency_precision(currency)
    minor = int((amount * Decimal(10) ** places).quantize(Decimal(1), ROUND_HALF_EVEN))
    return format_money(minor, currency)


def verified_text(check: WinCheck | None, win: Win) -> str:
    """`realised 2,950 USD/mo at day 30 (92 % of the claim)`, or that it was not seen; "" with
    nothing to show (no check, or too little data before the win: `win verify` says why)."""
    if check is None or check.verdict == Verdict.NO_BASELINE.value:
        return ""
    realised, band = Decimal(check.realised_monthly), Decimal(check.band)
    amount = f"{money_text(realised, check.currency)}/mo ± {money_text(band, check.currency)}"
    if check.verdict != Verdict.SEEN.value:
        return f"not seen in the bill at day {check.checkpoint} (realised {amount})"
    claimed = claimed_monthly(win)
    share = ""
    if check.currency == win.currency and claimed > 0:
        share = f" ({realised / claimed * 100:.0f} % of the claim)"
    return f"realised {amount} at day {check.checkpoint}{share}"
