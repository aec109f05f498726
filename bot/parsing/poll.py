"""`poll "Question?" "Option" "Option" ... [flags] [closes <when>] [remind <lead>|off]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.parsing.errors import UsageError
from bot.parsing.tokens import plain_mentions, split_words
from bot.parsing.when import parse_duration

MAX_QUESTION, MAX_OPTION, MIN_OPTIONS, MAX_OPTIONS = 300, 75, 2, 10
FLAGS = {
    "anonymous": "anonymous",
    "anon": "anonymous",
    "multi": "multi",
    "multiple": "multi",
    "committee": "committee",
}
CLAUSES = {  # keywords followed by free words, up to the next flag or keyword
    "closes": "closes",
    "close": "closes",
    "until": "closes",
    "deadline": "closes",
    "remind": "remind",
}
REMIND_EXAMPLE = 'e.g. `poll "Budget?" "Yes" "No" committee closes friday 17:00 remind 2h`'


@dataclass(slots=True)
class PollDraft:
    question: str
    options: list[str]
    anonymous: bool = False
    multi: bool = False
    committee: bool = False
    closes: str | None = None
    remind: timedelta | None = None  # the reminder lead asked for; None: the default; 0: none


def parse_poll(args: str) -> PollDraft:
    words = split_words(args)
    if not words or not words[0].quoted:
        raise UsageError("start with the question in double quotes, then each option in quotes")
    quoted = [plain_mentions(w.text) for w in words if w.quoted]
    flags: set[str] = set()
    clauses: dict[str, list[str]] = {}
    clause: str | None = None
    for word in (w for w in words if not w.quoted):
        lowered = word.text.lower()
        if lowered in FLAGS:
            flags.add(FLAGS[lowered])
            clause = None
        elif lowered in CLAUSES:
            clause = CLAUSES[lowered]
            if clause in clauses:
                raise UsageError(f"`{clause}` is given twice")
            clauses[clause] = []
        elif clause is not None:
            clauses[clause].append(word.text)
        else:
            raise UsageError(
                f"{word.text[:40]!r} is not understood here; put the question and "
                "each option in double quotes"
            )
    if not quoted:
        raise UsageError("put the question and each option in double quotes")
    question, options = quoted[0], quoted[1:]
    if not question:
        raise UsageError("the question is empty")
    if len(question) > MAX_QUESTION:
        raise UsageError(
            f"the question is {len(question):,} characters; the limit is {MAX_QUESTION}"
        )
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise UsageError(
            f"a poll needs {MIN_OPTIONS} to {MAX_OPTIONS} options; this one has {len(options)}"
        )
    seen: set[str] = set()
    for option in options:
        if not option or len(option) > MAX_OPTION:
            raise UsageError(f"each option must be 1 to {MAX_OPTION} characters: {option[:80]!r}")
        if option.lower() in seen:
            raise UsageError(f"the option {option!r} is given twice")
        seen.add(option.lower())
    if "closes" in clauses and not clauses["closes"]:
        raise UsageError("say when the poll closes, e.g. `closes in 3d` or `closes friday 17:00`")
    remind = None
    if "remind" in clauses:
        remind = _reminder_lead(
            clauses["remind"], closes="closes" in clauses, committee="committee" in flags
        )
    return PollDraft(
        question,
        options,
        "anonymous" in flags,
        "multi" in flags,
        "committee" in flags,
        " ".join(clauses.get("closes", [])) or None,
        remind,
    )


def _reminder_lead(words: list[str], *, closes: bool, committee: bool) -> timedelta:
    """`remind 2h`, `remind 90m`, `remind 1d`, `remind off` (zero). Only on a committee poll
    with a deadline: the lead counts back from the deadline, and reminders go to committee
    members who have not voted."""
    if not closes:
        raise UsageError(
            f"`remind` counts back from the deadline, so it needs `closes <when>`; {REMIND_EXAMPLE}"
        )
    if not committee:
        raise UsageError(
            "reminders go to committee members who have not voted, so `remind` needs "
            f"`committee`; {REMIND_EXAMPLE}"
        )
    text = " ".join(words)
    forms = "`remind 2h`, `remind 90m`, `remind 1d` or `remind off`"
    if not text:
        raise UsageError(f"say how long before the deadline to remind: {forms}")
    if text.lower() in ("off", "no", "none"):
        return timedelta(0)
    try:
        return parse_duration(text)
    except UsageError:
        raise UsageError(f"cannot read the reminder lead {text[:40]!r}; use {forms}") from None
