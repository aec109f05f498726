"""Reserved first words of commands with subcommands, and the typos close to them."""

from __future__ import annotations

from bot.parsing.errors import UsageError, quoted


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance: edits, with a swap of neighbours counted once."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def close_to(word: str, subcommands: tuple[str, ...]) -> str | None:
    """The subcommand `word` is a likely typo of (one edit, two for longer words), or None."""
    word = word.lower()
    best = None
    for name in subcommands:
        limit = 1 if len(name) <= 4 else 2
        if word != name and len(word) >= 3 and distance(word, name) <= limit:
            best = best or name
    return best


def check_typo(command: str, words: list[str], subcommands: tuple[str, ...]) -> None:
    """`win udno 3`: a first word close to a subcommand and followed by a number is a typo,
    never content (a win logged, a poll asked) — refuse it with the likely meaning."""
    if len(words) < 2 or not words[1].lstrip("#").isdigit():
        return
    meant = close_to(words[0], subcommands)
    if meant is not None:
        rest = " ".join(words[1:])
        raise UsageError(
            f"{quoted(words[0])} is not a {command} subcommand; did you mean "
            f"`{command} {meant} {rest}`?",
            command,
        )
