"""Bot Framework authentication for tests: real RS256 JWTs, a local OpenID endpoint, fixed tokens.

Inbound (Teams -> bot): `OpenIdServer` serves the OpenID metadata and JWKS that botbuilder's
`JwtTokenExtractor` fetches, and `mint_token` signs channel tokens as the Bot Framework does, so
`ConfigurationBotFrameworkAuthentication` validates them for real. Point botbuilder at the server
with `teams_config(...)` (see its docstring for the attributes that matter).

Outbound (bot -> Teams' serviceUrl): botbuilder 4.17.1 gets its bearer token from MSAL, which
refuses a non-https authority and, for an authority it does not know, asks
login.microsoftonline.com for instance discovery (botbuilder never passes `validate_authority` on
to MSAL). Neither can be served locally, so tests inject `StaticTokenCredentialsFactory`: a
`ServiceClientCredentialsFactory` whose credentials are `MicrosoftAppCredentials` with a fixed
token. Everything else on the outbound path (ConnectorClient, msrest, aiohttp) stays real.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import jwt
from botframework.connector.auth import MicrosoftAppCredentials, ServiceClientCredentialsFactory
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# The Bot Framework's channel token issuer, and the scope of the bot's own outbound token.
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com"
LOGIN_URL_PREFIX = "https://login.microsoftonline.com/"

# Synthetic identities matching /work/shared/samples/teams/*.json: the bot is "28:<app id>".
TEST_APP_ID = "00000000-0000-4000-8000-0000000b0700"
TEST_TENANT_ID = "00000000-0000-4000-8000-00000000a001"
TEST_APP_PASSWORD = "test-app-password-never-sent"
TEST_OUTBOUND_TOKEN = "test-outbound-bearer-token"

# Where the metadata is served: our documented path, and login.botframework.com's own.
METADATA_PATHS = ("/.well-known/openidconfiguration", "/v1/.well-known/openidconfiguration")

# botbuilder accepts tokens up to this many seconds after `exp` (VerifyOptions.clock_tolerance).
CLOCK_TOLERANCE = 5 * 60


class TestKeys:
    """An RSA signing key with a key id, published in a JWKS with Bot Framework endorsements."""

    __test__ = False  # a helper, not a pytest test class

    def __init__(
        self, *, kid: str | None = None, endorsements: Sequence[str] = ("msteams",)
    ) -> None:
        self.kid = kid or f"test-{uuid.uuid4().hex[:12]}"
        self.endorsements = list(endorsements)
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK, shaped like an entry of login.botframework.com's key set."""
        public = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "use": "sig", "kid": self.kid, "endorsements": self.endorsements}

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [self.jwk()]}


def mint_token(
    keys: TestKeys,
    *,
    app_id: str,
    service_url: str,
    issuer: str = BOT_FRAMEWORK_ISSUER,
    audience: str | None = None,
    expires_in: int = 3600,
    kid: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A channel -> bot token as the Bot Framework signs it (RS256).

    Claims: `aud` (our app id unless `audience` is given), `iss`, `serviceurl` (compared with the
    activity's `serviceUrl` as an exact string: the trailing slash matters), `nbf`, `iat`, `exp`.
    There is no `ver` and no `appid`: with a `ver` claim and an `aud` other than
    https://api.botframework.com botbuilder treats the token as a skill token instead.
    `expires_in` may be negative; botbuilder still accepts a token up to CLOCK_TOLERANCE (300 s)
    after it expired. `extra` claims are merged last and override the above; a None value
    removes that claim.
    """
    now = int(time.time())
    issued = now - 5 if expires_in > 0 else now + expires_in - 3600
    claims: dict[str, Any] = {
        "aud": app_id if audience is None else audience,
        "iss": issuer,
        "serviceurl": service_url,
        "nbf": issued,
        "iat": issued,
        "exp": now + expires_in,
    }
    claims.update(extra or {})
    claims = {name: value for name, value in claims.items() if value is not None}
    headers = {"kid": keys.kid if kid is None else kid, "typ": "JWT"}
    return jwt.encode(claims, keys.private_key, algorithm="RS256", headers=headers)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header Teams sends with every activity."""
    return {"Authorization": f"Bearer {token}"}


class OpenIdServer:
    """OpenID metadata + JWKS on 127.0.0.1, served from a daemon thread.

    botbuilder fetches both with a blocking `requests.get` (no timeout) on the bot's event loop, so
    a server on that same loop would deadlock: this one runs `http.server` in its own thread.

    botbuilder caches metadata per URL in a class attribute for a day, and a port can be reused by a
    later test; `metadata_url` therefore carries a query unique to this server so that no test ever
    sees another test's keys. Keys can be replaced with `keys = [...]`, but botbuilder will not
    refetch within the day (and answers an unknown `kid` with IndexError -> HTTP 500).
    """

    def __init__(self, *keys: TestKeys, issuer: str = BOT_FRAMEWORK_ISSUER) -> None:
        self.keys: list[TestKeys] = list(keys)
        self.issuer = issuer
        self.requests: list[str] = []  # paths requested, in order
        self._instance = uuid.uuid4().hex[:12]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long shutdown() waits at most
            name="openid-server",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("OpenIdServer is not started: call start() or use `with`")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def metadata_url(self) -> str:
        """For TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL (and the emulator one: see teams_config)."""
        return f"{self.base_url}/.well-known/openidconfiguration?server={self._instance}"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/keys"

    def metadata(self) -> dict[str, Any]:
        """The same fields login.botframework.com publishes, with our JWKS address."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                owner.requests.append(path)
                if path in METADATA_PATHS:
                    self._json(owner.metadata())
                elif path == "/keys":
                    self._json({"keys": [key.jwk() for key in owner.keys]})
                else:
                    self.send_error(404)

            def _json(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@dataclass(frozen=True)
class TeamsTestConfig:
    """The attributes `ConfigurationBotFrameworkAuthentication` reads (botbuilder's names)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None  # None: every channel token is refused
    TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: str
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str
    OAUTH_URL: str
    VALIDATE_AUTHORITY: bool = True


def teams_config(
    openid: OpenIdServer,
    *,
    app_id: str = TEST_APP_ID,
    tenant_id: str = TEST_TENANT_ID,
    app_password: str = TEST_APP_PASSWORD,
) -> TeamsTestConfig:
    """A SingleTenant configuration whose inbound tokens are checked against `openid`.

    Setting any TO_* attribute switches botbuilder from its public-cloud constants to the
    "parameterized" authentication, which does NOT fall back to the public-cloud values for the
    attributes left out, so all of them are set here:
    - TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL and TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: both are needed;
      without the issuer every channel token is refused (401).
    - TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: a token whose `iss` is an Emulator/AAD issuer is
      validated against this URL; left unset botbuilder calls requests.get(None) (HTTP 500), and
      the public default would reach the network.
    - TO_CHANNEL_FROM_BOT_OAUTH_SCOPE / TO_CHANNEL_FROM_BOT_LOGIN_URL / OAUTH_URL: the production
      values for a SingleTenant bot (the login URL carries the tenant). They are only used by a
      real credentials factory; with StaticTokenCredentialsFactory nothing is fetched.
    """
    return TeamsTestConfig(
        APP_ID=app_id,
        APP_PASSWORD=app_password,
        APP_TYPE="SingleTenant",
        APP_TENANTID=tenant_id,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=openid.metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=openid.issuer,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=openid.metadata_url,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=BOT_FRAMEWORK_SCOPE,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=LOGIN_URL_PREFIX + tenant_id,
        OAUTH_URL=BOT_FRAMEWORK_ISSUER,
    )


class StaticTokenCredentials(MicrosoftAppCredentials):
    """`MicrosoftAppCredentials` that never call MSAL: `get_access_token` returns a fixed token."""

    def __init__(
        self,
        app_id: str,
        token: str,
        *,
        tenant_id: str | None = None,
        oauth_scope: str | None = None,
    ) -> None:
        super().__init__(app_id, "", channel_auth_tenant=tenant_id, oauth_scope=oauth_scope)
        self.token = token
        self.token_requests = 0

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.token_requests += 1
        return self.token


@dataclass(frozen=True)
class CredentialsRequest:
    """One `create_credentials` call, as botbuilder made it."""

    app_id: str
    oauth_scope: str | None
    login_endpoint: str | None
    validate_authority: bool


class StaticTokenCredentialsFactory(ServiceClientCredentialsFactory):
    """Pass as `ConfigurationBotFrameworkAuthentication(config, credentials_factory=...)`.

    Behaves like botbuilder's PasswordServiceClientCredentialFactory (the one a SingleTenant
    configuration builds): the only valid app id is ours, authentication is enabled, an unknown
    app id raises `Exception("Invalid app_id")`; but its credentials carry `token` instead of
    asking Microsoft Entra for one.
    """

    def __init__(
        self,
        app_id: str = TEST_APP_ID,
        token: str = TEST_OUTBOUND_TOKEN,
        *,
        tenant_id: str | None = TEST_TENANT_ID,
    ) -> None:
        self.app_id = app_id
        self.token = token
        self.tenant_id = tenant_id
        self.requests: list[CredentialsRequest] = []

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self,
        app_id: str,
        oauth_scope: str,
        login_endpoint: str,
        validate_authority: bool,
    ) -> StaticTokenCredentials:
        self.requests.append(
            CredentialsRequest(app_id, oauth_scope, login_endpoint, validate_authority)
        )
        if app_id != self.app_id:
            raise Exception("Invalid app_id")  # the same (untyped) error botbuilder raises
        return StaticTokenCredentials(
            app_id, self.token, tenant_id=self.tenant_id, oauth_scope=oauth_scope
        )


class StaticTokenProvider:
    """An Agents SDK `AccessTokenProviderBase` that never calls MSAL: every token is `token`.
    (The SDK's MsalAuth would need Microsoft Entra, as botbuilder's credentials do.)"""

    def __init__(self, app_id: str = TEST_APP_ID, token: str = TEST_OUTBOUND_TOKEN) -> None:
        from microsoft_agents.hosting.core import AgentAuthConfiguration

        self._configuration = AgentAuthConfiguration(client_id=app_id, tenant_id=TEST_TENANT_ID)
        self.token = token
        self.requests: list[tuple[str, tuple[str, ...]]] = []  # (resource, scopes) asked

    @property
    def configuration(self) -> Any:
        return self._configuration

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.requests.append((resource_url, tuple(scopes or ())))
        return self.token

    def get_token_credential(self) -> Any:
        raise NotImplementedError("not used by the Teams adapter")


class StaticTokenConnections:
    """Pass as the Agents SDK adapter's `connections` (app/platforms.py's `teams_credentials`):
    the SDK's `Connections` with one SERVICE_CONNECTION, a `StaticTokenProvider`. Everything
    else on the outbound path (RestChannelServiceClientFactory, TeamsConnectorClient, aiohttp)
    stays real."""

    def __init__(self, app_id: str = TEST_APP_ID, token: str = TEST_OUTBOUND_TOKEN) -> None:
        self.provider = StaticTokenProvider(app_id, token)

    def get_connection(self, connection_name: str | None) -> StaticTokenProvider:
        if connection_name not in (None, "", "SERVICE_CONNECTION"):
            raise ValueError(f"No connection found for '{connection_name}'.")
        return self.provider

    def get_default_connection(self) -> StaticTokenProvider:
        return self.provider

    def get_token_provider(self, claims_identity: Any, service_url: str) -> StaticTokenProvider:
        if not claims_identity or not service_url:  # as the SDK's ConnectionManager
            raise ValueError("Claims identity and Service URL are required.")
        return self.provider

    def get_token_provider_from_activity(
        self, claims_identity: Any, activity: Any
    ) -> StaticTokenProvider:
        return self.get_token_provider(claims_identity, activity.service_url)

    def get_default_connection_configuration(self) -> Any:
        return self.provider.configuration
