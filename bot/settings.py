"""Typed settings read from the environment and an optional `.env` file."""

from __future__ import annotations

import os
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///finops-bot.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    port: int = Field(3978, validation_alias="PORT", ge=1, le=65535)
    host: str = Field("0.0.0.0", validation_alias="HOST")
    admins: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), validation_alias="FINOPS_ADMINS"
    )
    secret_key: str = Field("", validation_alias="FINOPS_SECRET_KEY")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    win_rate_limit: int = Field(20, validation_alias="FINOPS_WIN_RATE_LIMIT", ge=1)
    # Scheduled work (weekly digest, poll deadlines, reminders).
    scheduler_tick_seconds: float = Field(
        30.0, validation_alias="FINOPS_SCHEDULER_TICK_SECONDS", gt=0
    )
    digest_grace_hours: float = Field(6.0, validation_alias="FINOPS_DIGEST_GRACE_HOURS", ge=0)
    # The default reminder lead of a committee poll with a deadline (a poll's own `remind 2h` or
    # `remind off` wins); 0: no reminder unless the poll asks for one.
    poll_reminder_hours: float = Field(24.0, validation_alias="FINOPS_POLL_REMINDER_HOURS", ge=0)
    # The outbox (everything the bot sends on its own): attempts before a message is dead, and
    # sends per second per workspace from each replica (0: no limit of ours).
    outbox_max_attempts: int = Field(8, validation_alias="FINOPS_OUTBOX_MAX_ATTEMPTS", ge=1)
    # How long a replica's claim on a message lasts before another replica may take it over.
    outbox_lease_seconds: float = Field(120.0, validation_alias="FINOPS_OUTBOX_LEASE_SECONDS", gt=0)
    outbox_slack_workspace_rate: float = Field(
        10.0, validation_alias="FINOPS_OUTBOX_SLACK_RATE", ge=0
    )
    outbox_teams_tenant_rate: float = Field(25.0, validation_alias="FINOPS_OUTBOX_TEAMS_RATE", ge=0)
    # The inbox (bot/intake.py): every platform request is stored before it is acknowledged.
    # The lease is how long the receiving replica has to finish one before any replica takes
    # it over; attempts before a request that keeps failing is given up (and logged).
    inbox_lease_seconds: float = Field(60.0, validation_alias="FINOPS_INBOX_LEASE_SECONDS", gt=0)
    inbox_max_attempts: int = Field(5, validation_alias="FINOPS_INBOX_MAX_ATTEMPTS", ge=1)
    # How long a Slack request waits for the database to store it before the bot answers
    # "not saved" (events get a 503, so Slack retries); Slack gives up after 3 s.
    inbox_intake_seconds: float = Field(
        2.0, validation_alias="FINOPS_INBOX_INTAKE_SECONDS", gt=0, le=2.8
    )
    # 0: `serve` does the work it acknowledges itself. N: `serve` only stores and acknowledges
    # requests and starts N worker processes (`finops-bot work`) for the work, the outbox and
    # the schedules, so the acks never wait for the work's CPU.
    workers: int = Field(0, validation_alias="FINOPS_WORKERS", ge=0, le=32)
    # Requests in flight per client address before the next gets a 429 (0: no limit).
    max_requests_per_client: int = Field(
        64, validation_alias="FINOPS_MAX_REQUESTS_PER_CLIENT", ge=0
    )
    # FOCUS cost exports: a directory `serve` imports new exports from (as well as those
    # registered with `focus import --watch`), checked every this many minutes.
    focus_watch_dir: str = Field("", validation_alias="FINOPS_FOCUS_WATCH_DIR")
    focus_watch_minutes: float = Field(5.0, validation_alias="FINOPS_FOCUS_WATCH_MINUTES", gt=0)
    # The dashboard: the base URL people open (empty: http://localhost:<PORT>) and how long a
    # signed link from the `dashboard` command stays valid.
    public_url: str = Field("", validation_alias="FINOPS_PUBLIC_URL")
    dashboard_link_hours: float = Field(
        12.0, validation_alias="FINOPS_DASHBOARD_LINK_HOURS", gt=0, le=24 * 90
    )

    # Slack: enabled when the bot token and signing secret are set; Socket Mode with an app token.
    slack_bot_token: str = Field("", validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str = Field("", validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str = Field("", validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")

    # Microsoft Teams (Bot Framework), by the conventional names.
    microsoft_app_id: str = Field("", validation_alias="MicrosoftAppId")
    microsoft_app_password: str = Field("", validation_alias="MicrosoftAppPassword")
    microsoft_app_type: str = Field("SingleTenant", validation_alias="MicrosoftAppType")
    microsoft_app_tenant_id: str = Field("", validation_alias="MicrosoftAppTenantId")
    teams_allow_unauthenticated: bool = Field(
        False, validation_alias="FINOPS_TEAMS_ALLOW_UNAUTHENTICATED"
    )
    teams_service_url_allowlist: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="FINOPS_TEAMS_SERVICE_URL_ALLOWLIST"
    )
    # Where Bot Framework publishes its token-signing keys; empty means Microsoft's public
    # cloud. Only tests (and sovereign clouds) set it.
    teams_openid_metadata_url: str = Field("", validation_alias="FINOPS_TEAMS_OPENID_METADATA_URL")
    # Which Microsoft SDK runs Teams: botbuilder (the Bot Framework SDK, archived) or agents
    # (the Microsoft 365 Agents SDK, supported; README "Choosing the Teams SDK").
    teams_sdk: Literal["botbuilder", "agents"] = Field(
        "botbuilder", validation_alias="FINOPS_TEAMS_SDK"
    )

    @field_validator("teams_service_url_allowlist", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("teams_sdk", mode="before")
    @classmethod
    def _teams_sdk(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("microsoft_app_type")
    @classmethod
    def _app_type(cls, value: str) -> str:
        known = {
            "singletenant": "SingleTenant",
            "multitenant": "MultiTenant",
            "userassignedmsi": "UserAssignedMSI",
        }
        if value.lower() not in known:
            raise ValueError(
                "MicrosoftAppType must be SingleTenant, MultiTenant or UserAssignedMSI"
            )
        return known[value.lower()]

    @field_validator("focus_watch_dir")
    @classmethod
    def _absolute_dir(cls, value: str) -> str:
        return os.path.abspath(value.strip()) if value.strip() else ""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                "FINOPS_PUBLIC_URL must be an http(s) URL without a query, "
                "e.g. https://finops.example.com"
            )
        return value

    @property
    def base_url(self) -> str:
        """The URL people open the dashboard under: FINOPS_PUBLIC_URL, or this machine."""
        return self.public_url or f"http://localhost:{self.port}"

    @property
    def teams_enabled(self) -> bool:
        return bool(self.microsoft_app_id or self.teams_allow_unauthenticated)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value
