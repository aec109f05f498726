"""One module per feature; importing this package registers every command."""

from bot.features import (  # noqa: F401
    checkins,
    committee,
    config,
    cost,
    dashboard,
    decisions,
    digest,
    help,
    learn,
    metrics,
    onboarding,
    polls,
    wins,
)
