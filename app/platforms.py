"""The platform adapters this installation runs, from its settings. The only place that
names them: the server loops over what this returns (bot/platform.py's `Adapter`)."""

from __future__ import annotations

from typing import Any

from bot.core import Bot
from bot.intake import Intake
from bot.platform import Adapter
from bot.settings import Settings
from bot.tasks import TaskTracker


def configured_adapters(
    settings: Settings,
    *,
    bot: Bot,
    intake: Intake,
    tasks: TaskTracker,
    in_worker: bool = False,
    teams_credentials: Any = None,
) -> list[Adapter]:
    """Slack when its token is set, Teams when its app id is (or the local trial is on).
    Each SDK is imported only when its platform is used. `in_worker`: a `finops-bot work`
    process, which never opens Slack's Socket Mode (the serving process holds it).
    Teams runs on botbuilder, or on the Microsoft 365 Agents SDK with FINOPS_TEAMS_SDK=agents.
    `teams_credentials` replaces the outbound token source (tests: a fake): botbuilder's
    credentials factory, or the Agents SDK's `Connections`."""
    adapters: list[Adapter] = []
    if settings.slack_enabled:
        from adapters.slack.adapter import SlackAdapter

        adapters.append(
            SlackAdapter(
                settings,
                bot=bot,
                intake=intake,
                tasks=tasks,
                connects_socket_mode=not in_worker,
            )
        )
    if settings.teams_enabled and settings.teams_sdk == "agents":
        from adapters.teams_agents.adapter import AgentsTeamsAdapter

        adapters.append(
            AgentsTeamsAdapter(settings, bot=bot, intake=intake, connections=teams_credentials)
        )
    elif settings.teams_enabled:
        from adapters.teams.adapter import TeamsAdapter

        adapters.append(
            TeamsAdapter(
                settings,
                bot=bot,
                intake=intake,
                credentials_factory=teams_credentials,
            )
        )
    return adapters
