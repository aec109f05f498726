"""Sending to Teams, whatever the SDK: which reply goes where, the allow-list, pacing,
retries, blocked people, and the outbox's transport. adapters/teams/deliver.py (botbuilder) and
adapters/teams_agents/deliver.py (the Microsoft 365 Agents SDK) add the calls to their SDK.

Proactive sends only go to service URLs on the allow-list (the bot's token goes with them).
Replies are paced per conversation and retried here on 429/412/502/504 with backoff and
jitter; what the outbox sends is retried by the outbox instead (`TeamsTransport`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.directory import TENANT, Directory, user_key
from bot.events import Actor
from bot.message import Audience, Message, Outcome
from bot.platform import Delivery, NotDelivered, RateLimited, Undeliverable

log = logging.getLogger(__name__)
T = TypeVar("T")
# Teams' service hosts: the public cloud and the government clouds.
DEFAULT_ALLOWED_HOSTS = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
)
RETRIED_STATUSES = {429, 412, 502, 504}
MAX_ATTEMPTS = 5
PER_CONVERSATION_INTERVAL = 1 / 7  # Teams allows 7 messages a second per conversation


class Blocked(Exception):
    """The person removed the bot (403 MessageWritesBlocked): write to them no more."""


class NotAllowed(Exception):
    """A service URL outside the allow-list: never send the bot's token there."""


def allowed_host(entry: str) -> str:
    """An allow-list entry as a host name: `example.com`, `example.com:8443` or a URL
    (`https://example.com/amer/`) all mean the host `example.com`."""
    entry = entry.strip().lower()
    if "://" not in entry:
        entry = "//" + entry
    try:
        return urlsplit(entry).hostname or ""
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(service_url: str, extra_hosts: tuple[str, ...], *, loopback: bool = False) -> bool:
    """May the bot's token go to `service_url`? Teams' own hosts, the allow-list (hosts or
    URLs), and, with `loopback` (the unauthenticated local trial only), this machine."""
    try:
        host = (urlsplit(service_url).hostname or "").lower()
    except ValueError:
        return False
    if loopback and is_loopback(host):
        return True
    allowed = DEFAULT_ALLOWED_HOSTS + tuple(h for h in map(allowed_host, extra_hosts) if h)
    return bool(host) and any(host == h or host.endswith("." + h) for h in allowed)


def status_of(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None) or getattr(response, "status", None)


def blocked_by_user(error: Exception) -> bool:
    """403 `MessageWritesBlocked` (or `ConversationBlockedByUser`): the person removed us."""
    if status_of(error) != 403:
        return False
    text = str(getattr(getattr(error, "response", None), "text", "") or error)
    return "MessageWritesBlocked" in text or "ConversationBlockedByUser" in text


async def once(call: Callable[[], Awaitable[T]], what: str) -> T:
    return await call()


async def with_retries(call: Callable[[], Awaitable[T]], what: str) -> T:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await call()
        except Exception as error:
            status = status_of(error)
            if status not in RETRIED_STATUSES or attempt == MAX_ATTEMPTS:
                raise
            retry_after = _retry_after(error)
            delay = retry_after if retry_after is not None else 0.5 * 2 ** (attempt - 1)
            delay += random.uniform(0, delay / 2)  # jitter: replicas do not retry in step
            log.info("%s answered %s; retrying in %.1fs", what, status, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _retry_after(error: Exception) -> float | None:
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Pacer:
    """At most one send per conversation per interval, within this process."""

    def __init__(self, interval: float = PER_CONVERSATION_INTERVAL) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, conversation: str) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(conversation, 0.0))
            self._next[conversation] = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class TeamsSenderBase:
    """What both SDKs' senders share; the SDK's calls are the subclass's (`in_turn`,
    `_continue`, `_open_and_send`, `edit`, `_checked`)."""

    def __init__(
        self,
        adapter: Any,
        app_id: str,
        directory: Directory,
        *,
        extra_hosts: tuple[str, ...],
        public_url: str = "",
        allow_loopback: bool = False,
    ) -> None:
        self.adapter = adapter  # the SDK's CloudAdapter
        self.app_id = app_id
        self.directory = directory  # stored addresses: any replica can reach anyone
        self.extra_hosts = extra_hosts
        # The unauthenticated local trial (no app id): the Agents Playground's connector runs on
        # this machine, so loopback service URLs are allowed, and only then.
        self.allow_loopback = allow_loopback
        self.public_url = public_url  # FINOPS_PUBLIC_URL: cards link charts served there
        self.pacer = Pacer()

    async def deliver(self, outcome: Outcome, actor: Actor, turn: Any) -> None:
        """The replies; what the bot sends on its own is in the outbox."""
        for reply in outcome.replies():
            try:
                private = reply.audience is Audience.ASKER
                if turn is not None and (
                    not private
                    or turn.activity.conversation.conversation_type in (None, "personal")
                ):
                    await self.in_turn(turn, reply.message)
                else:  # Teams has no ephemeral messages: private answers go to a 1:1 chat
                    await self.direct(actor, actor.user_id, reply.message)
            except Blocked:
                pass  # logged by `direct`; a private answer has nowhere else to go
            except Exception:
                log.exception("could not answer on Teams")

    async def in_turn(self, turn: Any, message: Message, *, retry: bool = True) -> str | None:
        raise NotImplementedError

    async def proactive(
        self, actor: Actor, conversation: str, message: Message, *, retry: bool = True
    ) -> str | None:
        return await self._continue(
            await self._reference(actor, conversation), message, retry=retry
        )

    async def direct(
        self, actor: Actor, user_id: str, message: Message, *, retry: bool = True
    ) -> str | None:
        """A message in the 1:1 chat with someone, from one lookup of what the bot knows about
        them; `Blocked` when they removed the bot (known before, or learnt now)."""
        reach = await self.directory.reach(actor, user_id)
        if reach.blocked:
            log.info("not writing to %s: they blocked the bot", user_id)
            raise Blocked(user_id)
        try:
            if reach.chat is not None:
                reference = self._checked(reach.chat, user_key(user_id))
                return await self._continue(reference, message, retry=retry)
            return await self._open_and_send(
                actor, user_id, reach.tenant, message=message, retry=retry
            )
        except Exception as error:
            if blocked_by_user(error):
                await self.directory.block(actor, user_id, "MessageWritesBlocked")
                log.info("%s blocked the bot; no more direct messages to them", user_id)
                raise Blocked(user_id) from error
            raise

    async def _continue(self, reference: Any, message: Message, *, retry: bool) -> str | None:
        raise NotImplementedError

    async def _open_and_send(
        self, actor: Actor, user_id: str, tenant: str | None, *, message: Message, retry: bool
    ) -> str | None:
        raise NotImplementedError

    async def edit(
        self, actor: Actor, conversation: str, activity_id: str, *, message: Message
    ) -> None:
        raise NotImplementedError

    async def _reference(self, actor: Actor, key: str) -> Any:
        return self._checked(await self.directory.address(actor, key), key)

    def _checked(self, stored: str | None, key: str) -> Any:
        raise NotImplementedError

    def _tenant_url(self, stored: str | None) -> str:
        if stored is None:
            raise LookupError(f"no service URL known for this {TENANT} yet")
        url = json.loads(stored).get("serviceUrl", "")
        if not host_allowed(url, self.extra_hosts, loopback=self.allow_loopback):
            raise NotAllowed(f"service URL {url} is not on the allow-list")
        return url


class TeamsTransport:
    """The outbox's way to Teams: no retries here; failures go back to the outbox."""

    conversation_interval = PER_CONVERSATION_INTERVAL

    def __init__(self, sender: TeamsSenderBase, tenant_rate: float) -> None:
        self.sender = sender
        self.workspace_rate = tenant_rate  # Teams: about 30 requests/s per app per tenant

    async def send(self, delivery: Delivery) -> str:
        assert delivery.message is not None
        actor, message = delivery.actor, delivery.message
        try:
            if delivery.kind == "dm":
                sent = await self.sender.direct(actor, delivery.user_id, message, retry=False)
            else:
                sent = await self.sender.proactive(
                    actor, delivery.conversation, message, retry=False
                )
        except Blocked as error:
            raise Undeliverable("the person blocked the bot") from error
        except (LookupError, NotAllowed) as error:
            raise Undeliverable(str(error)) from error
        except Exception as error:
            raise _classified(error) from error
        return sent or ""

    async def edit(
        self, delivery: Delivery, conversation: str, message_id: str, *, message: Message
    ) -> None:
        try:
            await self.sender.edit(delivery.actor, conversation, message_id, message=message)
        except (LookupError, NotAllowed) as error:
            raise Undeliverable(str(error)) from error
        except Exception as error:
            raise _classified(error) from error

    async def find_sent(self, delivery: Delivery) -> str | None:
        return None  # Teams offers no way to look a sent activity up: the documented window


def _classified(error: Exception) -> Exception:
    status = status_of(error)
    if status == 429:
        return RateLimited(_retry_after(error) or 1.0)
    if status == 412:  # Teams asks for a retry; nothing was delivered
        return NotDelivered("HTTP 412")
    if status is not None and 400 <= status < 500:
        return Undeliverable(f"HTTP {status}")
    return error  # 5xx, timeouts, connection errors: it may have arrived
