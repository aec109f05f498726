"""Small wording helpers shared by the features."""


def plural(count: int, noun: str) -> str:
    """`1 win`, `2 wins`, `1,200 votes`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
