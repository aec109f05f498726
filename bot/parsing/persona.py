"""The FinOps Framework personas a committee member represents, and words people use for them."""

from __future__ import annotations

from bot.parsing.errors import UsageError

# The FinOps Framework's core personas, and words people use for them.
PERSONAS = {
    "practitioner": "FinOps Practitioner",
    "engineering": "Engineering",
    "finance": "Finance",
    "product": "Product",
    "procurement": "Procurement",
    "leadership": "Leadership",
}
_ALIASES = {
    "finops": "practitioner",
    "finops-practitioner": "practitioner",
    "central": "practitioner",
    "engineer": "engineering",
    "eng": "engineering",
    "engineers": "engineering",
    "fin": "finance",
    "business": "product",
    "sourcing": "procurement",
    "executive": "leadership",
    "exec": "leadership",
    "leader": "leadership",
}


def parse_persona(word: str) -> str:
    key = word.lower().strip(".,")
    key = _ALIASES.get(key, key)
    if key not in PERSONAS:
        raise UsageError(f"{word!r} is not a persona; use one of: {', '.join(PERSONAS)}")
    return key
