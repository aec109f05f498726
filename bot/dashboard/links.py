"""Signed, expiring dashboard links.

A link carries a token: the workspace's platform and external id (never the row id) and the
time it was issued, signed with HMAC-SHA256 (itsdangerous' `URLSafeTimedSerializer`). The key
is derived from the voter key (`FINOPS_SECRET_KEY`, or the `<db>.secret` file for local SQLite)
as HMAC(key, "dashboard"), so it never equals the key that hashes anonymous voters. Changing
`FINOPS_SECRET_KEY` therefore revokes every link.

A screen link (`dashboard screen`, for a shared display) carries one more thing: the id of its
`dashboard_screen` row. It does not expire with time; it opens the page while that row is not
revoked (checked by the routes, in the database, on every request).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from storage.models import utcnow

SALT = "finops-dashboard-link"
# A link signed by a replica whose clock runs a little ahead is still accepted.
CLOCK_SKEW = timedelta(minutes=5)
MAX_TOKEN = 1000  # characters; anything longer is not one of ours


def link_key(voter_key: bytes) -> bytes:
    """The links' own key, derived from the voter key (never the voter key itself)."""
    return hmac.new(voter_key, b"dashboard", hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid link gives access to: one workspace, until `expires_at`, or, for a screen
    link (`screen` its row id, `expires_at` None), until the screen link is revoked."""

    platform: str
    external_id: str
    issued_at: datetime
    expires_at: datetime | None
    screen: int | None = None


class LinkRefused(Exception):
    """The link is missing, not ours (forged, altered, another deployment's) or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "missing" | "invalid" | "expired" | "revoked"


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer on the bot's clock (tests move it)."""

    def __init__(self, *args: Any, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class LinkSigner:
    def __init__(
        self,
        voter_key: bytes,
        lifetime: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._serializer = URLSafeTimedSerializer(
            link_key(voter_key),
            salt=SALT,
            signer=_ClockSigner,
            signer_kwargs={"clock": clock, "digest_method": hashlib.sha256},
        )

    def sign(self, platform: str, external_id: str) -> tuple[str, datetime]:
        """A token for the workspace, and when it expires (aware UTC)."""
        token = self._serializer.dumps({"v": 1, "p": platform, "w": external_id})
        _, issued = self._serializer.loads(token, return_timestamp=True)  # the signed time
        return token, issued + self.lifetime

    def sign_screen(self, platform: str, external_id: str, screen_id: int) -> str:
        """A screen link's token: valid until its `dashboard_screen` row is revoked."""
        return self._serializer.dumps({"v": 1, "p": platform, "w": external_id, "s": screen_id})

    def check(self, token: str | None) -> Grant:
        """The grant a token carries; raises `LinkRefused` for anything else."""
        if not token:
            raise LinkRefused("missing")
        if len(token) > MAX_TOKEN:
            raise LinkRefused("invalid")
        try:
            payload, issued = self._serializer.loads(token, return_timestamp=True)
        except (BadSignature, ValueError, TypeError) as error:  # forged, altered, malformed
            raise LinkRefused("invalid") from error
        if (
            not isinstance(payload, dict)
            or payload.get("v") != 1
            or not isinstance(payload.get("p"), str)
            or not isinstance(payload.get("w"), str)
        ):
            raise LinkRefused("invalid")
        screen = payload.get("s")
        if screen is not None and (type(screen) is not int or screen <= 0):
            raise LinkRefused("invalid")
        now = self.clock()
        if issued > now + CLOCK_SKEW:  # signed "in the future": not a link we issued
            raise LinkRefused("invalid")
        if screen is not None:  # valid until revoked: the routes check its row
            return Grant(payload["p"], payload["w"], issued, None, screen)
        expires = issued + self.lifetime
        if now >= expires:
            raise LinkRefused("expired")
        return Grant(payload["p"], payload["w"], issued, expires)


def dashboard_path(prefix: str, token: str, page: str = "", **params: str) -> str:
    """A root-relative link to a dashboard page, carrying the token: `/dashboard?t=…`,
    `/dashboard/wins.csv?t=…`. `prefix` is the path of FINOPS_PUBLIC_URL (behind a proxy)."""
    query = urlencode({"t": token, **{k: v for k, v in params.items() if v}})
    return f"{prefix}/dashboard{'/' + page if page else ''}?{query}"
