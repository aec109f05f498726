"""Property tests of the grammar: any input gives a value or a UsageError, never a crash."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import get_currency_precision
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import bot.features  # noqa: F401  (registers the commands)
from bot.commands import COMMANDS
from bot.parsing import UsageError
from bot.parsing.money import MAX_AMOUNT, AmountToken, format_money, read_amount_token
from bot.parsing.recurrence import Recurrence, single
from bot.parsing.subcommands import check_typo
from bot.parsing.tokens import Word, split_words
from bot.parsing.when import MAX_AHEAD, parse_deadline, parse_period
from bot.parsing.win import MAX_WIN_TEXT, parse_win

SUBCOMMANDS = COMMANDS["win"].subcommand_names
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces that exercise the grammar: symbols, codes, magnitudes, recurrences, quotes, mentions.
PIECES = [
    *"$€£¥₹₩₪-−+.,;:!()/<>@#|\"“”„«»'’ \t\n\xa0",
    *"0123456789kKmMbB",
    "٣",  # Arabic-Indic digit: matched by \d
    "𝟑",  # mathematical digit
    "ß",
    "ﬆ",
    "USD",
    "usd",
    "EUR",
    "JPY",
    "ALL",
    "all",
    "XYZ",
    "bn",
    "/mo",
    "/yr",
    "/hr",
    "per",
    "month",
    "year",
    "monthly",
    "annual",
    "one-time",
    "a",
    "Saved",
    "<@U1|Jane Doe>",
    "<@U2>",
    "<#C1|general>",
    "#usage-optimization",
    "3,200",
    "1.5k",
    "999999999999",
    "in ",
    "d",
    "h",
    "w",
    "today",
    "tomorrow",
    "friday",
    "fri",
    "17:00",
    "5pm",
    "2026-12-01",
    "T",
    "Z",
    "+05:00",
    "this",
    "last",
    "week",
    "quarter",
]

grammar_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
spaced_text = st.lists(st.sampled_from(PIECES), max_size=25).map(" ".join)
long_text = st.builds(
    lambda part, times: part * times,
    st.one_of(grammar_text, st.text(max_size=10)),
    st.integers(min_value=1, max_value=800),
)
any_text = st.one_of(st.text(), grammar_text, spaced_text, long_text)

ZONES = [
    "Europe/Paris",
    "UTC",
    "America/New_York",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kathmandu",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@SETTINGS
@given(any_text, st.sampled_from(["USD", "EUR", "JPY", "AUD", "CNY", "KWD"]))
def test_parse_win_returns_a_draft_or_usage_error(text: str, default: str) -> None:
    try:
        draft = parse_win(text, default)
    except UsageError as error:
        assert error.problem
        return
    assert 1 <= len(draft.description) <= MAX_WIN_TEXT
    assert draft.description == draft.description.strip()
    assert isinstance(draft.recurrence, Recurrence)
    if draft.amount is not None:
        assert type(draft.amount.minor) is int
        assert (
            0
            < draft.amount.minor
            < MAX_AMOUNT * 10 ** get_currency_precision(draft.amount.currency)
        )
        assert len(draft.amount.currency) == 3 and draft.amount.currency.isupper()
        annualised = draft.recurrence.annualise(draft.amount.minor)
        if draft.recurrence is Recurrence.MONTHLY:
            assert annualised == draft.amount.minor * 12
        else:
            assert annualised == draft.amount.minor
    assert all(tag == tag.lower() for tag in draft.tags)
    assert len(set(draft.tags)) == len(draft.tags)
    assert len({p.user_id for p in draft.people}) == len(draft.people)


@SETTINGS
@given(any_text, st.booleans())
def test_split_words_returns_words_or_usage_error(text: str, quotes: bool) -> None:
    try:
        words = split_words(text, quotes=quotes)
    except UsageError as error:
        assert quotes  # only an unclosed quote is an error
        assert "never closed" in error.problem
        return
    assert all(isinstance(word, Word) for word in words)
    for word in words:
        if not word.quoted:
            assert word.text
            assert word.text[0].strip()  # never starts with white space
    if not quotes:
        assert not any(word.quoted for word in words)


@SETTINGS
@given(any_text, moments, zones)
def test_parse_deadline_is_future_utc_or_usage_error(
    text: str, now: datetime, tz: ZoneInfo
) -> None:
    try:
        deadline = parse_deadline(text, now, tz)
    except UsageError as error:
        assert error.problem
        return
    assert deadline.utcoffset() == timedelta(0)
    assert now < deadline <= now + MAX_AHEAD


@SETTINGS
@given(
    st.one_of(
        st.lists(st.text(max_size=12), max_size=4),
        st.lists(
            st.sampled_from(["this", "last", "week", "month", "quarter", "year", "all", "time"]),
            max_size=3,
        ),
        any_text.map(str.split),
    ),
    moments,
    zones,
    st.sampled_from(["this week", "this month", "all", "nonsense", ""]),
)
def test_parse_period_is_a_period_or_usage_error(
    words: list[str], now: datetime, tz: ZoneInfo, default: str
) -> None:
    try:
        period = parse_period(words, now, tz, default=default)
    except UsageError as error:
        assert error.problem
        return
    if period.start is None or period.end is None:
        assert period.start is None and period.end is None
        return
    assert period.start < period.end
    assert period.end - period.start <= timedelta(days=367)
    if period.name.startswith("this"):
        assert period.start <= now < period.end
    else:
        assert period.end <= now


@SETTINGS
@given(st.one_of(any_text, grammar_text.filter(lambda t: " " not in t)))
def test_read_amount_token_returns_token_none_or_usage_error(token: str) -> None:
    try:
        read = read_amount_token(token)
    except UsageError as error:
        assert error.problem
        return
    if read is not None:
        assert isinstance(read, AmountToken)
        assert read.number >= 0
        assert read.currency is None or (len(read.currency) == 3 and read.currency.isupper())


cents = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("999999999.99"), places=2, allow_nan=False
)


@SETTINGS
@given(cents)
def test_dollar_amounts_round_trip_exactly(amount: Decimal) -> None:
    shown = f"${amount:,.2f}"  # `$1,234.56`
    draft = parse_win(f"Saved {shown}", "USD")
    assert draft.amount is not None
    assert draft.amount.currency == "USD"
    assert draft.amount.minor == int(amount * 100)
    assert draft.description == "Saved"


@SETTINGS
@given(cents)
def test_monthly_amounts_annualise_times_twelve(amount: Decimal) -> None:
    draft = parse_win(f"Saved ${amount:,.2f}/mo", "USD")
    assert draft.amount is not None
    assert draft.recurrence is Recurrence.MONTHLY
    assert draft.recurrence.annualise(draft.amount.minor) == int(amount * 100) * 12


@SETTINGS
@given(
    st.integers(min_value=1, max_value=10**12 - 1),
    st.sampled_from(["USD", "EUR", "JPY", "GBP", "KWD"]),
    st.sampled_from(["USD", "EUR", "JPY"]),
)
def test_format_money_output_parses_back(minor: int, currency: str, default: str) -> None:
    if minor >= MAX_AMOUNT * 10 ** get_currency_precision(currency):
        return
    draft = parse_win(f"Saved {format_money(minor, currency)}", default)  # `1,234.56 EUR`
    assert draft.amount is not None
    assert (draft.amount.minor, draft.amount.currency) == (minor, currency)


# Pieces a person types when a win goes wrong: codes not in use, unknown rates, subcommands.
WIN_PIECES = [
    *PIECES,
    "BTC",
    "DEM",
    "XYZ",
    "eur",
    "AMD",
    "TRY",
    "/mnth",
    "/qtr",
    "3.2.1k",
    "$3,200",
    "€1.5k",
    "500",
    "edit",
    "undo",
    "per month",
    "a year",
]
win_text = st.lists(st.sampled_from(WIN_PIECES), min_size=1, max_size=12).map(" ".join)
_RECURRENCE_WORDS = {
    Recurrence.MONTHLY: ("mo", "month", "mth"),
    Recurrence.ANNUAL: ("yr", "year", "annual", "/y"),
}
_SYMBOL_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW"}


def _amounts_in(text: str) -> set[Decimal]:
    """Every number a token of `text` reads as (`$3,200/mo` and `EUR/mo` pieces included)."""
    found = set()
    for word in text.replace("/", " /").split() + text.split():
        token = read_amount_token(word)
        if token is not None:
            found.add(token.number)
    return found


@SETTINGS
@given(st.one_of(win_text, spaced_text), st.sampled_from(["USD", "EUR", "JPY"]))
@example("Rightsized $3,200 /mnth", "USD")
@example("Crypto 500 BTC", "USD")
@example("Saved 500 XYZ", "USD")
@example("Saved 500 DEM", "EUR")
@example("3200 eur on disks", "USD")
@example("Saved $3,200/mo/yr", "USD")
def test_a_logged_win_says_only_what_the_text_says(text: str, default: str) -> None:
    """Any text either is refused or gives a win whose amount, currency and recurrence are
    literally in it; a currency symbol beside a digit is never dropped."""
    try:
        draft = parse_win(text, default)
    except UsageError as error:
        assert error.problem
        return
    lowered = text.lower()
    if draft.amount is None:
        words = text.split()
        assert not any(
            any(c in w for c in _SYMBOL_CURRENCIES) and any(c.isdigit() for c in w) for w in words
        ), text
        if len(words) >= 2 and read_amount_token(words[-2]):  # `500 BTC`: never a dropped amount
            last = words[-1]
            assert not (len(last) == 3 and last.isascii() and last.isalpha() and last.isupper()), (
                text
            )
        assert draft.recurrence is Recurrence.ONE_TIME or any(
            w in lowered for w in _RECURRENCE_WORDS[draft.recurrence]
        )
        return
    precision = get_currency_precision(draft.amount.currency)
    number = Decimal(draft.amount.minor) / 10**precision
    assert any(abs(n - number) < Decimal(10) ** -precision for n in _amounts_in(text)), text
    currency = draft.amount.currency
    assert (
        currency == default
        or currency.lower() in lowered
        or any(s in text and c == currency for s, c in _SYMBOL_CURRENCIES.items())
    ), text
    if draft.recurrence is not Recurrence.ONE_TIME:
        assert any(w in lowered for w in _RECURRENCE_WORDS[draft.recurrence]), text
    words = text.split()
    for before, after in itertools.pairwise(words):  # `$3,200 /mnth` is refused
        if read_amount_token(before) and re.fullmatch(r"/[A-Za-z]+", after):
            assert single(after) is not None, text


def _typos(word: str) -> list[str]:
    """One edit away: a neighbour swap, a letter dropped or doubled."""
    swaps = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]
    drops = [word[:i] + word[i + 1 :] for i in range(len(word))]
    doubles = [word[:i] + word[i] + word[i:] for i in range(len(word))]
    return [t for t in swaps + drops + doubles if t != word and len(t) >= 3]


@SETTINGS
@given(st.sampled_from(SUBCOMMANDS).flatmap(lambda s: st.sampled_from(_typos(s))), win_text)
def test_a_typo_of_a_subcommand_before_a_number_is_refused(typo: str, text: str) -> None:
    with pytest.raises(UsageError, match="did you mean `win "):
        check_typo("win", [typo, "3", *text.split()], SUBCOMMANDS)
