"""Amounts people type (`$3,200`, `3.2k`, `USD 3200`, `€1.5k`, `1.2m`) and how we show them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import MAX_EMAX, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies, list_currencies

from bot.parsing.errors import UsageError, quoted

MAX_AMOUNT = Decimal(10) ** 12  # exclusive upper bound, in major units

_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₪": "ILS"}
# `$` and `¥` mean the workspace's own currency when it is a dollar or yuan currency.
_DOLLAR_CURRENCIES = {"USD", "AUD", "CAD", "NZD", "SGD", "HKD", "MXN", "TWD", "BSD", "BBD"}
_MAGNITUDES = {
    "k": Decimal(1_000),
    "m": Decimal(1_000_000),
    "b": Decimal(10**9),
    "bn": Decimal(10**9),
}

# One token: optional sign and symbol, digits with optional thousands separators and decimals,
# an optional magnitude, an optional attached ISO code and an optional attached recurrence.
AMOUNT_TOKEN = re.compile(
    r"""^(?P<sign>[-−+])?
        (?P<code1>[A-Za-z]{3})?
        (?P<sym>[$€£¥₹₩₪])?
        (?P<sign2>[-−])?
        (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        (?P<mag>bn|[kKmMbB])?
        (?P<code2>[A-Za-z]{3})?
        (?P<rec>/[A-Za-z]+)?$""",
    re.VERBOSE,
)


@cache
def iso_currencies() -> frozenset[str]:
    """ISO 4217 codes legal tender somewhere today (CLDR data shipped with Babel)."""
    today = date.today()
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, today))
    return frozenset(codes)


@cache
def all_known_codes() -> frozenset[str]:
    """Every ISO 4217 code CLDR knows, withdrawn ones (DEM, FRF) included."""
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    return code.upper() in iso_currencies()


@dataclass(frozen=True, slots=True)
class Money:
    minor: int  # integer minor units: cents for USD, yen for JPY
    currency: str

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


@dataclass(frozen=True, slots=True)
class AmountToken:
    """What one amount-looking token said, before it is checked."""

    number: Decimal
    negative: bool
    currency: str | None  # from a symbol or an attached code
    explicit: bool  # a symbol, code or attached recurrence says "this is money" anywhere
    recurrence_suffix: str | None
    magnified: bool = False  # `3.2k`: money when it ends the win, a count (`40M rows`) elsewhere


def read_amount_token(token: str) -> AmountToken | None:
    """Recognise one token as an amount, or None when it is not one."""
    token = token.rstrip(".,;:!)")
    match = AMOUNT_TOKEN.match(token)
    if not match:
        return None
    code = match["code1"] or match["code2"]
    if code and not is_currency(code):
        return None
    if match["code1"] and match["sym"]:
        return None
    number = Decimal(match["num"].replace(",", ""))
    if match["mag"]:
        with localcontext(Emax=MAX_EMAX):  # a huge number is too large, not a decimal.Overflow
            number *= _MAGNITUDES[match["mag"].lower()]
    currency = code.upper() if code else (_SYMBOLS[match["sym"]] if match["sym"] else None)
    return AmountToken(
        number=number,
        negative=bool(match["sign"] in ("-", "−") or match["sign2"]),
        currency=currency,
        explicit=bool(code or match["sym"] or match["rec"]),
        recurrence_suffix=match["rec"],
        magnified=bool(match["mag"]),
    )


def looks_like_broken_amount(token: str) -> bool:
    """`$`, `€abc`, `$-`: a currency symbol with no number at all."""
    return (
        bool(token)
        and token[0] in _SYMBOLS
        and not any(c.isdigit() for c in token)
        and read_amount_token(token) is None
    )


def resolve_symbol_currency(currency: str | None, default: str) -> str:
    if currency is None:
        return default
    if currency == "USD" and default in _DOLLAR_CURRENCIES:
        return default
    if currency == "JPY" and default == "CNY":
        return default
    return currency


def to_money(number: Decimal, currency: str, original: str, *, negative: bool) -> Money:
    """Check the bounds and convert to minor units of `currency`."""
    if negative:
        raise UsageError(
            f"the amount {quoted(original)} is negative; a win's amount must be more than 0"
        )
    if number >= MAX_AMOUNT:
        raise UsageError(f"the amount {quoted(original)} is too large (the limit is under 10^12)")
    precision = get_currency_precision(currency)
    try:
        minor = int((number * (Decimal(10) ** precision)).quantize(Decimal(1), ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise UsageError(f"cannot read the amount {quoted(original)}") from exc
    if minor <= 0:
        raise UsageError(f"the amount {quoted(original)} must be more than 0")
    if minor >= MAX_AMOUNT * 10**precision:  # rounding up reached the limit: 999999999999.999
        raise UsageError(f"the amount {quoted(original)} is too large (the limit is under 10^12)")
    return Money(minor, currency)


def to_major(minor: int, currency: str) -> Decimal:
    """An amount in minor units (cents) as a decimal of major units (dollars)."""
    return Decimal(minor) / (Decimal(10) ** get_currency_precision(currency))


def format_money(minor: int, currency: str) -> str:
    """`39,900 USD`, `1,234.50 EUR`, `-12.30 USD`: whole amounts without decimals."""
    precision = get_currency_precision(currency)
    major = to_major(minor, currency)
    if minor % (10**precision) == 0:
        return f"{major:,.0f} {currency}"
    return f"{major:,.{precision}f} {currency}"


def format_totals(totals: dict[str, int]) -> str:
    """Per-currency totals, never added across currencies: `39,900 USD + 1,200 EUR`."""
    if not totals:
        return "0"
    return " + ".join(format_money(v, c) for c, v in sorted(totals.items(), key=lambda i: -i[1]))


def parse_currency(word: str) -> str:
    code = word.strip().upper()
    if not is_currency(code):
        raise UsageError(f"{quoted(word)} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return code
