"""`win <what was done> [amount] [recurrence] [#category ...] [@person ...]`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, auto

from bot.parsing import money, recurrence
from bot.parsing.errors import UsageError, quoted
from bot.parsing.money import Money
from bot.parsing.recurrence import Recurrence
from bot.parsing.tokens import (
    UserRef,
    channels_as_tags,
    plain_mentions,
    split_words,
    user_mention,
)

MAX_WIN_TEXT = 500
MAX_WIN_INPUT = 2000  # text plus tags and mentions
TAG = re.compile(r"#([A-Za-z0-9][A-Za-z0-9_\-]{0,59})[.,;:!]*")
CODE_WITH_SUFFIX = re.compile(r"([A-Za-z]{3})(/[A-Za-z]+)")  # `2k EUR/mo`
# Rates we cannot annualise honestly.
UNSUPPORTED_RATES = {"/hr", "/hour", "/h", "/day", "/d", "/week", "/wk", "/w", "/qtr", "/quarter"}
# Codes that are also everyday words or brands: money only when they end the text
# (`Saved 400 TRY`), words elsewhere (`Moved 40 AMD VMs`).
AMBIGUOUS_CODES = {
    "ALL",
    "AMD",
    "BAM",
    "BOB",
    "CUP",
    "GEL",
    "MAD",
    "MOP",
    "NAD",
    "PEN",
    "PHP",
    "SOS",
    "TOP",
    "TRY",
}
# `in 2025`, `since 2019`: a year or a date, not an amount.
PREPOSITIONS = {"in", "since", "from", "during", "until", "before", "after", "of", "at", "on"}


# Mentions of everyone in a conversation, never a person to credit or DM.
BROADCASTS = {"here", "channel", "everyone", "!here", "!channel", "!everyone"}


class Kind(Enum):
    WORD = auto()
    MENTION = auto()
    TAG = auto()
    AMOUNT = auto()  # explicit money: a symbol, a code or an attached recurrence
    NUMBER = auto()  # a bare or `3.2k` number: money only when it ends the text
    CODE = auto()  # an ISO code beside a number: `USD 3200`, `1.5k USD`
    RECURRENCE = auto()


@dataclass(slots=True)
class WinDraft:
    description: str
    amount: Money | None
    recurrence: Recurrence
    tags: list[str] = field(default_factory=list)
    people: list[UserRef] = field(default_factory=list)
    described: bool = True  # False: the text held no description, `unchanged_text` was kept


def parse_win(text: str, default_currency: str, *, unchanged_text: str = "") -> WinDraft:
    """A win's parts. `unchanged_text` (for `win edit`): the description to keep when the
    text gives only an amount, recurrence, tags or people."""
    if len(text) > MAX_WIN_INPUT:
        raise UsageError(
            f"the win is {len(text):,} characters; the limit is {MAX_WIN_TEXT} for its text"
        )
    text = channels_as_tags(text)  # Slack turns a typed `#rightsizing` into `<#C77|rightsizing>`
    words = _split_code_suffixes([w.text for w in split_words(text, quotes=False)])
    kinds = _classify(words)
    tail = _tail_start(kinds)

    amount_at = _amount_position(words, kinds, tail)
    amount, suffix_recurrence = _read_amount(
        words, kinds, amount_at, default_currency=default_currency
    )
    recurrences = _recurrences(words, kinds, tail, amount_at=amount_at)
    if suffix_recurrence is not None:
        recurrences.add(suffix_recurrence)
    if len(recurrences) > 1:
        names = " and ".join(sorted(r.value for r in recurrences))
        raise UsageError(f"the win says both {names}; give one recurrence")
    chosen = recurrences.pop() if recurrences else Recurrence.ONE_TIME

    description = _description(words, kinds, tail, amount_at=amount_at)
    described = bool(description)
    description = description or unchanged_text
    if not description:
        raise UsageError("say what was done, e.g. `win Deleted idle disks $400/mo`")
    if len(description) > MAX_WIN_TEXT:
        raise UsageError(
            f"the win text is {len(description):,} characters; the limit is {MAX_WIN_TEXT}"
        )
    tags: list[str] = []
    people: list[UserRef] = []
    for word, kind in zip(words, kinds, strict=True):
        if kind is Kind.TAG:
            match = TAG.fullmatch(word)
            assert match is not None  # the word was classified a tag by this pattern
            tag = match[1].lower()
            if tag not in tags:
                tags.append(tag)
        elif kind is Kind.MENTION:
            person = user_mention(word)
            if person and all(p.user_id != person.user_id for p in people):
                people.append(person)
    return WinDraft(description, amount, chosen, tags, people, described)


def _split_code_suffixes(words: list[str]) -> list[str]:
    """`EUR/mo` -> `EUR`, `/mo`, so the code and the recurrence are read separately."""
    split: list[str] = []
    for word in words:
        match = CODE_WITH_SUFFIX.fullmatch(word)
        if match and money.is_currency(match[1]):
            split += [match[1], match[2]]
        else:
            split.append(word)
    return split


def _classify(words: list[str]) -> list[Kind]:
    kinds: list[Kind] = []
    for word in words:
        if person := user_mention(word):
            if person.user_id.lower() in BROADCASTS or person.name.lower() in BROADCASTS:
                raise UsageError(
                    f"{quoted(plain_mentions(word))} is not a person; credit teammates by "
                    "name, e.g. `@jane`"
                )
            kinds.append(Kind.MENTION)
        elif TAG.fullmatch(word):
            kinds.append(Kind.TAG)
        elif money.looks_like_broken_amount(word):
            raise UsageError(
                f"{quoted(word)} has no number I can read; write amounts like $3,200 or 1.5k"
            )
        elif (token := money.read_amount_token(word)) is not None:
            kinds.append(Kind.AMOUNT if token.explicit else Kind.NUMBER)
        elif recurrence.single(word):
            kinds.append(Kind.RECURRENCE)
        elif word.lower() in UNSUPPORTED_RATES:
            raise UsageError(f"{quoted(word)} is not a recurrence; use /mo, /yr or one-time")
        else:
            _refuse_malformed_amount(word)
            kinds.append(Kind.WORD)
    for i in range(len(words) - 1):  # two-word recurrences: `per month`, `a year`
        if kinds[i] is Kind.WORD and recurrence.pair(words[i], words[i + 1]):
            kinds[i] = kinds[i + 1] = Kind.RECURRENCE
    # `USD 3200`, `3200 EUR`. Lower case only as `3200 eur` ending the text, so that English
    # words that are also codes (`all`, `top`, `try`) stay words: `Deleted all 40 VMs`.
    last_word = _tail_start(kinds) - 1  # codes are still words here
    for i, word in enumerate(words):
        after_number = i > 0 and kinds[i - 1] in (Kind.AMOUNT, Kind.NUMBER)
        if kinds[i] is Kind.WORD and money.is_currency(word) and _beside_number(kinds, i):
            # The README's rule: an ambiguous code is money only as the last word, after its
            # number (`Saved 400 TRY`); `to AMD 300` and `40 AMD VMs` keep AMD a word.
            if word.upper() in AMBIGUOUS_CODES:
                if i == last_word and after_number:
                    kinds[i] = Kind.CODE
            elif word.isupper() or after_number:  # `3200 eur on disks` is euros too
                kinds[i] = Kind.CODE
        elif kinds[i] is Kind.WORD and after_number:
            _refuse_unknown_currency(word, last=i == last_word)
        if (
            kinds[i] is Kind.WORD
            and i > 0
            and kinds[i - 1] in (Kind.AMOUNT, Kind.NUMBER, Kind.CODE)
        ):
            _refuse_unknown_rate(word)
    return kinds


# A token that starts like an amount but does not end like one: `3.2.1k`, `$3,200/mo/yr`, `5k$`.
_MONEY_SHAPED = re.compile(
    r"^[-−+]?[$€£¥₹₩₪]?[\d.,]*\d[\d.,]*(?:bn|[kKmMbB])?(?:[$€£¥₹₩₪]|/[A-Za-z])"
)
_MANY_POINTS = re.compile(r"^[-−+]?[$€£¥₹₩₪]?\d[\d,]*(?:\.\d+){2,}(?:bn|[kKmMbB])$")
_SYMBOL_AND_DIGIT = re.compile(r"[$€£¥₹₩₪].*\d|\d.*[$€£¥₹₩₪]")
# Not ISO 4217 codes, but typed as if they were.
CRYPTO = {"BTC", "XBT", "ETH", "USDT", "USDC", "SOL", "DOGE", "LTC", "XRP", "BNB", "ADA"}


def _refuse_malformed_amount(word: str) -> None:
    bare = word.rstrip(".,;:!)")
    if _SYMBOL_AND_DIGIT.search(bare) or _MANY_POINTS.match(bare) or _MONEY_SHAPED.match(bare):
        raise UsageError(
            f"cannot read the amount {quoted(word)}; write it like $3,200, 1.5k USD or $3,200/mo"
        )


def _refuse_unknown_currency(word: str, *, last: bool) -> None:
    """`500 BTC`, `500 DEM`, `500 XYZ` (as the last word): a currency we cannot count."""
    bare = word.rstrip(".,;:!)")
    upper = bare.upper()
    if upper in CRYPTO or (len(bare) == 3 and bare.isalpha() and upper in _all_known_codes()):
        raise UsageError(
            f"{quoted(bare)} is not an ISO 4217 currency in use; write e.g. `500 EUR` or `$500`"
        )
    if last and len(bare) == 3 and bare.isascii() and bare.isalpha() and bare.isupper():
        raise UsageError(
            f"{quoted(bare)} after a number reads as a currency but is not an ISO 4217 code; "
            "write e.g. `500 EUR`, or put a count inside the text (`40 EBS volumes`)"
        )


def _refuse_unknown_rate(word: str) -> None:
    """`$3,200 /mnth`: a rate-looking word after an amount that is not a recurrence we know."""
    bare = word.rstrip(".,;:!)")
    if re.fullmatch(r"/[A-Za-z]+", bare) and recurrence.single(bare) is None:
        raise UsageError(f"{quoted(word)} is not a recurrence; use /mo, /yr or one-time")


def _all_known_codes() -> frozenset[str]:
    return money.all_known_codes()


def _beside_number(kinds: list[Kind], i: int) -> bool:
    numbers = (Kind.AMOUNT, Kind.NUMBER)
    return (i > 0 and kinds[i - 1] in numbers) or (i + 1 < len(kinds) and kinds[i + 1] in numbers)


def _tail_start(kinds: list[Kind]) -> int:
    """Index where the trailing run of metadata (amount, recurrence, tags, people) begins."""
    start = len(kinds)
    while start > 0 and kinds[start - 1] is not Kind.WORD:
        start -= 1
    return start


def _amount_position(words: list[str], kinds: list[Kind], tail: int) -> int | None:
    explicit = [i for i, k in enumerate(kinds) if k is Kind.AMOUNT]
    explicit += [  # a number next to a code, or `3.2k` ending the win, is money too
        i
        for i, k in enumerate(kinds)
        if k is Kind.NUMBER and (_beside_code(kinds, i) or (i >= tail and _magnified(words[i])))
    ]
    if not explicit:
        explicit = [
            i for i in range(tail, len(kinds)) if kinds[i] is Kind.NUMBER and not _a_date(words, i)
        ]
    if len(explicit) > 1:
        shown = " and ".join(quoted(words[i]) for i in sorted(explicit)[:2])
        raise UsageError(f"the win has two amounts ({shown}); give one amount per win")
    return explicit[0] if explicit else None


def _magnified(word: str) -> bool:
    token = money.read_amount_token(word)
    return bool(token and token.magnified)


def _a_date(words: list[str], i: int) -> bool:
    """`in 2025`: a bare number after a preposition is a year or a day, not money."""
    token = money.read_amount_token(words[i])
    return bool(i > 0 and words[i - 1].lower() in PREPOSITIONS and token and not token.magnified)


def _beside_code(kinds: list[Kind], i: int) -> bool:
    return (i > 0 and kinds[i - 1] is Kind.CODE) or (
        i + 1 < len(kinds) and kinds[i + 1] is Kind.CODE
    )


def _read_amount(
    words: list[str], kinds: list[Kind], at: int | None, *, default_currency: str
) -> tuple[Money | None, Recurrence | None]:
    if at is None:
        return None, None
    token = money.read_amount_token(words[at])
    assert token is not None  # classified as an amount above
    currency = token.currency
    for j in (at - 1, at + 1):
        if 0 <= j < len(words) and kinds[j] is Kind.CODE:
            code = words[j].upper()
            if currency and currency != code and words[at][0] not in "$¥":
                raise UsageError(f"the amount {quoted(words[at])} has two currencies")
            currency = code
    currency = money.resolve_symbol_currency(currency, default_currency)
    amount = money.to_money(token.number, currency, words[at], negative=token.negative)
    suffix = recurrence.from_suffix(token.recurrence_suffix) if token.recurrence_suffix else None
    return amount, suffix


def _recurrences(
    words: list[str], kinds: list[Kind], tail: int, *, amount_at: int | None
) -> set[Recurrence]:
    """Recurrence words in the trailing run or right after the amount (and its code)."""
    near = set(range(tail, len(words)))
    if amount_at is not None:
        j = amount_at + 1
        if j < len(words) and kinds[j] is Kind.CODE:
            j += 1
        near.update({j, j + 1})
    found: set[Recurrence] = set()
    i = 0
    while i < len(words):
        if kinds[i] is Kind.RECURRENCE and i in near:
            found_one = recurrence.single(words[i])
            if found_one is None and i + 1 < len(words):
                found_one = recurrence.pair(words[i], words[i + 1])
                i += 1
            if found_one is not None:
                found.add(found_one)
        i += 1
    return found


def _description(words: list[str], kinds: list[Kind], tail: int, *, amount_at: int | None) -> str:
    """The words before the trailing metadata, mentions shown as `@name`. Numbers in the
    trailing run that are not the amount (`in 2025`) stay part of the text."""
    amount_words: set[int] = set()
    if amount_at is not None:
        amount_words = {amount_at} | {
            j
            for j in (amount_at - 1, amount_at + 1)
            if 0 <= j < len(kinds) and kinds[j] is Kind.CODE
        }
    shown: list[str] = []
    for i, (word, kind) in enumerate(zip(words, kinds, strict=True)):
        if i >= tail and not (kind in (Kind.NUMBER, Kind.CODE) and i not in amount_words):
            continue
        person = user_mention(word) if kind is Kind.MENTION else None
        shown.append(f"@{person.name}" if person else word)
    return " ".join(shown).strip()
