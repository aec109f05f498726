"""A win's scope: what part of the bill it touched, as FOCUS dimensions.

`on service:"Amazon EC2" region:eu-west-1` ends a win line (`win Rightsized … $3,200/mo on
service:"Amazon EC2" tag:team=data`), or follows `win scope <id>`. Terms of different
dimensions must all match (AND); several values of one dimension are alternatives (OR):
`region:eu-west-1 region:eu-west-2`. A tag term is `tag:key=value`; the daily cost is kept
per value of one tag key at a time, so a scope names at most one tag key, and a resource
(already one precise thing) is not combined with a tag. Values are matched against the
imported data by the feature (case aside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.parsing.errors import UsageError, quoted

# The dimension's word -> what it is called in FOCUS (shown in help and errors).
DIMENSIONS = {
    "service": "ServiceName",
    "account": "SubAccountName (else SubAccountId)",
    "region": "RegionName (else RegionId)",
    "category": "ServiceCategory",
    "provider": "ProviderName",
    "tag": "Tags, as key=value (a key listed in `config cost-scope-tags`)",
    "resource": "ResourceId",
}
# Kept per value of one key, or per resource, beside the other dimensions (CostDetailDay).
DETAIL = frozenset({"tag", "resource"})
MAX_TERMS = 8
MAX_VALUE = 500  # the widest stored value: an Azure resource id can be long
MAX_TAG_KEY = 128  # AWS's limit, the longest of the three clouds (bot/parsing/billing.py)
# ` on service:…`: where a win line's scope starts (a dimension word, a colon, a value).
_START = re.compile(r"(?:^|\s)on\s+(?=(?:" + "|".join(DIMENSIONS) + r"):)", re.I)
EXAMPLE = 'service:"Amazon EC2" region:eu-west-1'


@dataclass(frozen=True, slots=True)
class Term:
    dimension: str  # a key of DIMENSIONS
    value: str


def split_scope(text: str) -> tuple[str, tuple[Term, ...]]:
    """A win line without its `on <dimension>:<value> …`, and that scope (empty when the line
    has none). `Saved on storage` has none: `on` must be followed by a dimension. The scope
    runs until the first word that is not a term: what follows (`@jane`, `#tag`) stays in the
    line."""
    starts = list(_START.finditer(text))
    if not starts:
        return text, ()
    found = starts[-1]  # the last `on <dimension>:` starts the scope
    at = found.end()
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        term = _TERM.match(text, at)
        if term is None or term[1].lower() not in DIMENSIONS:
            break
        at = term.end()
    rest = text[at:].strip()
    if rest and ":" in rest.split(None, 1)[0] and not rest.startswith("<"):
        parse_scope(rest.split(None, 1)[0])  # `regoin:eu-west-1`: refused, with the dimensions
    kept = f"{text[: found.start()].rstrip()} {rest}".strip()
    return kept, parse_scope(text[found.end() : at])


# One term: a word, a colon, then a value in double, curly or single quotes, or up to a space.
_TERM = re.compile(r'(\S+?):(?:"([^"]*)"|“([^”]*)”|\'([^\']*)\'|(\S*))')


def parse_scope(text: str) -> tuple[Term, ...]:
    """`service:"Amazon EC2" region:eu-west-1` as terms, in the order given, duplicates
    dropped. Refuses what is not `<dimension>:<value>` with the dimensions it knows."""
    terms: list[Term] = []
    at, text = 0, text.strip()
    if not text:
        raise UsageError(f"give the scope as dimension:value, e.g. `{EXAMPLE}`")
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        match = _TERM.match(text, at)
        word = text[at:].split(None, 1)[0]
        if match is None or match[1].lower() not in DIMENSIONS:
            known = ", ".join(DIMENSIONS)
            raise UsageError(
                f"{quoted(word)} is not dimension:value; the dimensions are {known}, "
                f"e.g. `{EXAMPLE}`"
            )
        name = match[1].lower()
        value = next(v for v in match.groups()[1:] if v is not None).strip()
        if match[5] and match[5][0] in "\"“'":
            raise UsageError(f"the quote in {quoted(word)} is never closed")
        if not value:
            raise UsageError(f"{quoted(word)} has no value, e.g. `{name}:{_example(name)}`")
        if len(value) > MAX_VALUE:
            raise UsageError(f"the {name} value is over {MAX_VALUE} characters")
        term = Term(name, _tag(value, word) if name == "tag" else value)
        if term not in terms:
            terms.append(term)
        at = match.end()
    if len(terms) > MAX_TERMS:
        raise UsageError(f"a scope has at most {MAX_TERMS} terms; this one has {len(terms)}")
    keys = {tag_key(t.value).casefold() for t in terms if t.dimension == "tag"}
    if len(keys) > 1:
        raise UsageError(
            "a scope names one tag key (its values are alternatives: `tag:team=data "
            "tag:team=ml`); the daily cost is kept per value of one key, not per combination"
        )
    if keys and any(t.dimension == "resource" for t in terms):
        raise UsageError("a resource is already precise: scope it without a tag")
    return tuple(terms)


def tag_key(value: str) -> str:
    """`team=data` -> `team`."""
    return value.partition("=")[0]


def tag_value(value: str) -> str:
    """`team=data` -> `data`."""
    return value.partition("=")[2]


def _tag(value: str, word: str) -> str:
    """`team = data` as `team=data`; refused without a key or a value."""
    key, equals, tagged = (part.strip() for part in value.partition("="))
    if not equals or not key or not tagged:
        raise UsageError(f"{quoted(word)} is not tag:key=value, e.g. `tag:team=data`")
    if len(key) > MAX_TAG_KEY:
        raise UsageError(f"the tag key in {quoted(word)} is over {MAX_TAG_KEY} characters")
    return f"{key}={tagged}"


def scope_text(terms: tuple[Term, ...]) -> str:
    """Terms as typed: `service:"Amazon EC2" region:eu-west-1`."""
    return " ".join(
        f'{t.dimension}:"{t.value}"' if re.search(r"\s", t.value) else f"{t.dimension}:{t.value}"
        for t in terms
    )


def _example(name: str) -> str:
    return {
        "service": '"Amazon EC2"',
        "account": "data-platform",
        "region": "eu-west-1",
        "category": "Compute",
        "provider": "AWS",
        "tag": "team=data",
        "resource": "i-0abc123def4567890",
    }[name]
