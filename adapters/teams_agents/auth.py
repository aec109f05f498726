"""Inbound authentication for the Agents SDK adapter: Bot Framework channel tokens, per request.

The Agents SDK's `CloudAdapter.process` does not validate the JWT (its aiohttp middleware does,
and an app-wide middleware would refuse our Slack, dashboard and health routes), and its
`JwtTokenValidator` takes the Bot Framework key set from a fixed URL, does not require `exp`,
checks the issuer only on opt-in and ignores key endorsements (NOTES.md). So the Teams route
validates here, with PyJWT (what the SDK uses), the same rules botbuilder applies:

- a `Bearer` JWT whose issuer is a Bot Framework channel (public or US Government) and that
  has an `exp`: checked before any key is looked up;
- signed (RS256) by a key from the OpenID metadata's key set, endorsed for the activity's
  channel (`msteams`);
- `aud` is our app id (one string, not a list); `exp` and `nbf` hold with 5 minutes of skew;
- the `serviceurl` claim is exactly the activity's `serviceUrl`.

Keys are fetched at start-up and twice a day in the background (aiohttp, never blocking the
loop); a token naming an unknown key is refused, and asks for one early refresh a minute at
most (key rotation), so bad tokens cannot make the bot fetch on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from microsoft_agents.hosting.core.authorization import (
    AuthenticationConstants,
    ClaimsIdentity,
)

log = logging.getLogger(__name__)
DEFAULT_METADATA_URL = AuthenticationConstants.PUBLIC_ABS_OPENID_METADATA_URL
CHANNEL_ISSUERS = frozenset(
    {
        AuthenticationConstants.AGENTS_SDK_TOKEN_ISSUER,  # https://api.botframework.com
        AuthenticationConstants.GOV_AGENTS_SDK_TOKEN_ISSUER,  # https://api.botframework.us
    }
)
CLOCK_SKEW_SECONDS = 5 * 60  # what botbuilder (and the Agents SDK) tolerate
FETCH_SECONDS = 10.0
REFRESH_SECONDS = 12 * 3600
RETRY_SECONDS = 60.0
EARLY_REFRESH_SECONDS = 60.0  # an unknown key id triggers at most one refresh a minute


class Refused(Exception):
    """The request's token is not a valid Bot Framework channel token for this bot."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    key: jwt.PyJWK
    endorsements: frozenset[str]


class ChannelKeys:
    """The Bot Framework's token-signing keys, from its OpenID metadata."""

    def __init__(self, metadata_url: str = "") -> None:
        self.metadata_url = metadata_url or DEFAULT_METADATA_URL
        self.ready = asyncio.Event()
        self._keys: dict[str, SigningKey] = {}
        self._early = asyncio.Event()
        self._last_fetch = 0.0

    def get(self, kid: str) -> SigningKey | None:
        found = self._keys.get(kid)
        if found is None and time.monotonic() - self._last_fetch > EARLY_REFRESH_SECONDS:
            self._early.set()
        return found

    async def fetch(self) -> None:
        timeout = aiohttp.ClientTimeout(total=FETCH_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(self.metadata_url) as response:
                response.raise_for_status()
                metadata = await response.json(content_type=None)
            async with session.get(metadata["jwks_uri"]) as response:
                response.raise_for_status()
                jwks = await response.json(content_type=None)
        keys: dict[str, SigningKey] = {}
        for entry in jwks.get("keys") or []:
            if not isinstance(entry, dict) or not entry.get("kid"):
                continue
            if entry.get("use") not in (None, "sig"):
                continue
            try:
                key = jwt.PyJWK(entry, algorithm="RS256")
            except jwt.PyJWTError:
                log.warning("ignored a Bot Framework signing key that PyJWT cannot read")
                continue
            endorsements = frozenset(str(e) for e in entry.get("endorsements") or [])
            keys[str(entry["kid"])] = SigningKey(key, endorsements)
        if not keys:
            raise ValueError("the Bot Framework key set has no signing keys")
        self._keys = keys
        self._last_fetch = time.monotonic()
        self.ready.set()

    async def keep_fresh(self) -> None:
        """Fetch now, then every REFRESH_SECONDS (sooner when asked); cancelled at shutdown."""
        while True:
            try:
                await self.fetch()
            except Exception:
                log.warning(
                    "could not fetch the Bot Framework signing keys; retrying in %d s",
                    RETRY_SECONDS,
                    exc_info=True,
                )
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._early.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_SECONDS):
                    await self._early.wait()


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


def looks_like_channel_token(header: str) -> bool:
    """The cheap check, before any key is needed: a bearer JWT from a Bot Framework channel
    issuer that expires (a token without `exp` would never expire)."""
    token = bearer_token(header)
    if token is None:
        return False
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    exp = claims.get("exp")
    return claims.get("iss") in CHANNEL_ISSUERS and isinstance(exp, int | float)


class ChannelTokenValidator:
    def __init__(self, app_id: str, keys: ChannelKeys) -> None:
        self.app_id = app_id
        self.keys = keys

    def validate_shape(self, header: str) -> None:
        """`Refused` unless the header holds what could be a channel token (no key needed)."""
        if not looks_like_channel_token(header):
            raise Refused("not a Bot Framework channel token")

    def validate(self, header: str, *, service_url: str, channel_id: str) -> ClaimsIdentity:
        """The token's claims, or `Refused` (the reason is for our log, never the caller)."""
        self.validate_shape(header)
        token = bearer_token(header)
        assert token is not None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as error:
            raise Refused("malformed header") from error
        signing = self.keys.get(str(kid)) if kid else None
        if signing is None:
            raise Refused("unknown signing key")
        if channel_id not in signing.endorsements:
            raise Refused("the key is not endorsed for this channel")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing.key.key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=list(CHANNEL_ISSUERS),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise Refused(type(error).__name__) from error
        if not isinstance(claims.get("aud"), str):  # PyJWT accepts a list naming us too
            raise Refused("the audience is not a single app id")
        if claims.get(AuthenticationConstants.SERVICE_URL_CLAIM) != service_url:
            raise Refused("the token is for another service URL")
        return ClaimsIdentity(claims, authentication_type="Bearer", security_token=token)
