"""Outbound tokens without stalling the event loop.

botbuilder builds new credentials (a new MSAL app with an empty token cache) for every turn and
proactive send, and MSAL fetches the token with a blocking HTTP call on the event loop. This
factory keeps one credentials object per audience, fetches its first token in a thread, and
renews it in a thread before it expires, so turns always find a fresh token in MSAL's cache.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeGuard

from botframework.connector.auth import MicrosoftAppCredentials, ServiceClientCredentialsFactory
from msrest.authentication import Authentication

log = logging.getLogger(__name__)
RENEW_EVERY_SECONDS = 10 * 60  # MSAL renews a token in its last 5 minutes; ask well before


class WarmCredentialsFactory(ServiceClientCredentialsFactory):
    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self.inner = inner
        self._cache: dict[tuple[str, str, str], Authentication] = {}
        self._lock = asyncio.Lock()

    async def is_valid_app_id(self, app_id: str) -> bool:
        return await self.inner.is_valid_app_id(app_id)

    async def is_authentication_disabled(self) -> bool:
        return await self.inner.is_authentication_disabled()

    async def create_credentials(  # noqa: PLR0917 (botbuilder calls it positionally)
        self,
        app_id: str,
        oauth_scope: str,
        login_endpoint: str,
        validate_authority: bool,  # noqa: FBT001 (botbuilder's signature)
    ) -> Authentication:
        key = (app_id or "", oauth_scope or "", login_endpoint or "")
        async with self._lock:
            credentials = self._cache.get(key)
            if credentials is None:
                credentials = await self.inner.create_credentials(
                    app_id, oauth_scope, login_endpoint, validate_authority
                )
                if _has_token(credentials):
                    await asyncio.to_thread(credentials.get_access_token)
                self._cache[key] = credentials
        return credentials

    async def keep_fresh(self) -> None:
        """Renew every cached token in a thread, forever (cancelled at shutdown)."""
        while True:
            await asyncio.sleep(RENEW_EVERY_SECONDS)
            for credentials in list(self._cache.values()):
                if _has_token(credentials):
                    try:
                        await asyncio.to_thread(credentials.get_access_token)
                    except Exception:
                        log.warning("could not renew the Teams token", exc_info=True)


def _has_token(credentials: Authentication) -> TypeGuard[MicrosoftAppCredentials]:
    return isinstance(credentials, MicrosoftAppCredentials) and bool(credentials.microsoft_app_id)
