"""`config`: per-workspace settings, changed by admins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.commands import DEFAULT_CURRENCY, DEFAULT_TIMEZONE, Request, Role, command
from bot.events import Place
from bot.message import Context, Fields, Header, Message, Outcome
from bot.parsing import UsageError
from bot.parsing.billing import parse_owner_tags
from bot.parsing.channel import Channel, parse_channel
from bot.parsing.money import parse_currency
from bot.parsing.when import parse_duration, parse_timezone
from storage import audit, workspaces

MAX_ONBOARDING_MESSAGE = 1500


@dataclass(frozen=True, slots=True)
class Key:
    description: str
    default: str
    parse: Callable[[str, Place], str]  # raises UsageError; returns the stored form
    show: Callable[[str], str] = lambda stored: stored


def _channel(value: str, place: Place) -> str:
    return parse_channel(value, place).stored()


def _show_channel(stored: str) -> str:
    return Channel.from_stored(stored).shown


def _text(value: str, _place: Place) -> str:
    if len(value) > MAX_ONBOARDING_MESSAGE:
        raise UsageError(
            f"the text is {len(value):,} characters; the limit is {MAX_ONBOARDING_MESSAGE}"
        )
    return value


def _duration(value: str, _place: Place) -> str:
    length = parse_duration(value)
    if not timedelta(minutes=5) <= length <= timedelta(days=14):
        raise UsageError("give between 5m and 14d, e.g. `24h` or `2d`")
    return value.lower().replace(" ", "")


def _on_off(value: str, _place: Place) -> str:
    if value.lower() not in ("on", "off"):
        raise UsageError(f"{value[:40]!r} is not on or off")
    return value.lower()


KEYS: dict[str, Key] = {
    "wins-channel": Key(
        "where wins are celebrated", "the channel where the win is logged", _channel, _show_channel
    ),
    "digest-channel": Key(
        "where `digest post` posts the digest", "not set", _channel, _show_channel
    ),
    "committee-channel": Key(
        "where the committee's agendas and check-in summaries are posted",
        "not set",
        _channel,
        _show_channel,
    ),
    "checkin-lead": Key(
        "how long before each committee meeting members are asked their check-in",
        "24h",
        _duration,
    ),
    "agenda-lead": Key(
        "how long before each committee meeting the agenda is posted", "1h", _duration
    ),
    "community-channel": Key(
        "joining it brings the welcome DM", "not set", _channel, _show_channel
    ),
    "currency": Key(
        "the default ISO 4217 currency of amounts",
        DEFAULT_CURRENCY,
        lambda v, _p: parse_currency(v),
    ),
    "timezone": Key(
        "the IANA time zone for weeks and deadlines",
        DEFAULT_TIMEZONE,
        lambda v, _p: parse_timezone(v).key,
    ),
    "onboarding-message": Key(
        "the introduction at the top of the welcome DM", "a built-in introduction", _text
    ),
    "welcome-workspace-joins": Key(
        "on: also welcome people who join the whole workspace (Slack team_join)", "off", _on_off
    ),
    "followups": Key(
        "off: no follow-up messages on day 7 and day 30 after the welcome", "on", _on_off
    ),
    "followup-7-message": Key(
        "the follow-up sent 7 days after the welcome", "a built-in nudge to log a first win", _text
    ),
    "followup-30-message": Key(
        "the follow-up sent 30 days after the welcome",
        "a built-in pointer to polls and learning",
        _text,
    ),
    "cost-owner-tags": Key(
        "tag keys naming a cost's owner, in priority order (`team, cost-center`), read by "
        "`finops-bot focus import` for the unallocated-cost KPI",
        "not set: allocation is measured as tagged cost",
        parse_owner_tags,
    ),
    "cost-scope-tags": Key(
        "tag keys whose values wins can be scoped to (`team, env`: `win scope 12 tag:team=data`); "
        "`finops-bot focus import` keeps their daily cost per value",
        "not set: no tag scopes",
        parse_owner_tags,
    ),
}


@command(
    "config",
    summary="Show the workspace settings; admins change them.",
    usage=("config", "config <key> <value>", "config <key> reset"),
    examples=(
        "config wins-channel #finops-wins",
        "config currency EUR",
        "config timezone Europe/Paris",
        "config digest-channel here",
    ),
    details="Keys: "
    + "; ".join(f"{k}: {v.description}" for k, v in KEYS.items())
    + ". Channels: #name or `here`.",
    role=Role.ADMIN,
    doing="change the configuration",
    shows_alone=True,
)
async def config(req: Request, args: str) -> Outcome:
    key, _, value = args.strip().partition(" ")
    key, value = key.lower(), value.strip()
    if not key:
        return _show(req)
    spec = KEYS.get(key)
    if spec is None:
        raise UsageError(f"{key[:40]!r} is not a setting; the keys are {', '.join(KEYS)}")
    if not value:
        raise UsageError(f"give a value for {key}, or `reset`")
    if value.lower() == "reset":
        await workspaces.unset_setting(req.session, req.workspace_id, key)
        await audit.record(
            req.session, req.workspace_id, req.actor.user_id, action="config.reset", subject=key
        )
        return Outcome().reply(f"{key} is back to its default ({spec.default}).")
    stored = spec.parse(value, req.place)
    if key in ("checkin-lead", "agenda-lead"):
        _check_leads({**req.config, key: stored})
    await workspaces.set_setting(req.session, req.workspace_id, key, value=stored)
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="config.set",
        subject=key,
        detail=stored,
    )
    if spec.parse is _text:
        return Outcome().reply(f"{key} is updated; preview it with `onboarding`.")
    return Outcome().reply(f"{key} is now {spec.show(stored)}.")


def _check_leads(config: dict[str, str]) -> None:
    """The agenda comes after the check-in (it shows the answers), so its lead is shorter."""
    checkin = config.get("checkin-lead", KEYS["checkin-lead"].default)
    agenda = config.get("agenda-lead", KEYS["agenda-lead"].default)
    if parse_duration(agenda) > parse_duration(checkin):
        raise UsageError(
            f"`agenda-lead` ({agenda}) would be longer than `checkin-lead` ({checkin}): the "
            "agenda shows the "
            "check-in answers, so it is posted after the check-in is asked; e.g. "
            "`config checkin-lead 2d` first"
        )


def _show(req: Request) -> Outcome:
    pairs = tuple(
        (key, spec.show(req.config[key]) if key in req.config else f"{spec.default} (default)")
        for key, spec in KEYS.items()
    )
    hint = "Admins change a value with `config <key> <value>`."
    if req.is_admin:  # who the admins are is the admins' business
        pairs += (("admins (FINOPS_ADMINS)", ", ".join(sorted(req.admins)) or "none"),)
    lines = [f"{k}: {v}" for k, v in pairs]
    return Outcome().reply(
        Message(
            text="Configuration\n" + "\n".join(lines),
            blocks=(Header("Configuration"), Fields(pairs), Context(hint)),
        )
    )
