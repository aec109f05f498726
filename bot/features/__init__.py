"""One module per feature; importing this package registers every command."""

from bot.features import (  # noqa: F401
    committee,
    config,
    digest,
    help,
    learn,
    metrics,
    onboarding,
    polls,
    wins,
)
