"""OAuth 2 for QBO: token storage, refresh with rotation, and the httpx auth flow.

Rules (reference section 2): access tokens live 1 hour; a refresh may return a NEW refresh token and the
old one then fails with ``invalid_grant``. So the rotated token is saved to the TokenStore before the new
access token is used, refreshes for one realm are serialised by a per-realm lock (two concurrent 401s
must not both spend the same refresh token), and tokens never appear in logs or exception text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from sinks.qbo.error_table import build_error
from sinks.qbo.errors import QboConfigError, QboFault, QboTransientError

__all__ = [
    "REALM_EXTENSION",
    "InMemoryTokenStore",
    "OAuthClientConfig",
    "PostgresTokenStore",
    "QboOAuth",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "token_set_from_response",
]

log = logging.getLogger(__name__)

REALM_EXTENSION = "qbo_realm"  # httpx request extension naming the realm a request is for


class TokenSet(BaseModel):
    """The tokens of one realm. SecretStr keeps them out of repr/str/logs."""

    model_config = ConfigDict(frozen=True)

    realm_id: str
    access_token: SecretStr
    access_expires_at: datetime
    refresh_token: SecretStr
    refresh_expires_at: datetime | None = None

    def access_valid_for(self, now: datetime | None = None) -> timedelta:
        return self.access_expires_at - (now or datetime.now(UTC))


class TokenStore(Protocol):
    async def get(self, realm_id: str) -> TokenSet | None: ...

    async def save(self, tokens: TokenSet) -> None: ...


class InMemoryTokenStore:
    """For tests and single-process development. Keeps every saved version (tests assert on rotation)."""

    def __init__(self, *initial: TokenSet) -> None:
        self._tokens: dict[str, TokenSet] = {t.realm_id: t for t in initial}
        self.history: list[TokenSet] = list(initial)

    async def get(self, realm_id: str) -> TokenSet | None:
        return self._tokens.get(realm_id)

    async def save(self, tokens: TokenSet) -> None:
        self._tokens[tokens.realm_id] = tokens
        self.history.append(tokens)


class PostgresTokenStore:
    """Tokens in ``qbo_sync.oauth_tokens`` (one row per realm, upserted; table as in infra/migrations/0002)."""

    DDL = """
    CREATE SCHEMA IF NOT EXISTS qbo_sync;
    CREATE TABLE IF NOT EXISTS qbo_sync.oauth_tokens (
        realm_id text PRIMARY KEY,
        access_token text,
        access_expires_at timestamptz,
        refresh_token text,
        refresh_expires_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    """

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    async def _connect(self) -> Any:
        import psycopg  # imported lazily: the client itself does not need a database

        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    async def ensure_schema(self) -> None:
        """Create the table if migrations have not (tests and first runs)."""
        async with await self._connect() as conn:
            await conn.execute(self.DDL)

    async def get(self, realm_id: str) -> TokenSet | None:
        async with await self._connect() as conn:
            cur = await conn.execute(
                "SELECT realm_id, access_token, access_expires_at, refresh_token, refresh_expires_at"
                " FROM qbo_sync.oauth_tokens WHERE realm_id = %s",
                (realm_id,),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        # The migration allows NULLs (a realm row may exist before its first token): a missing access
        # token reads as expired, so the next call refreshes; a missing refresh token fails at refresh.
        return TokenSet(
            realm_id=row[0],
            access_token=SecretStr(row[1] or ""),
            access_expires_at=row[2] or datetime(1970, 1, 1, tzinfo=UTC),
            refresh_token=SecretStr(row[3] or ""),
            refresh_expires_at=row[4],
        )

    async def save(self, tokens: TokenSet) -> None:
        async with await self._connect() as conn:
            await conn.execute(
                "INSERT INTO qbo_sync.oauth_tokens"
                " (realm_id, access_token, access_expires_at, refresh_token, refresh_expires_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, now())"
                " ON CONFLICT (realm_id) DO UPDATE SET access_token = EXCLUDED.access_token,"
                " access_expires_at = EXCLUDED.access_expires_at, refresh_token = EXCLUDED.refresh_token,"
                " refresh_expires_at = EXCLUDED.refresh_expires_at, updated_at = now()",
                (
                    tokens.realm_id,
                    tokens.access_token.get_secret_value(),
                    tokens.access_expires_at,
                    tokens.refresh_token.get_secret_value(),
                    tokens.refresh_expires_at,
                ),
            )


class OAuthClientConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    token_url: str
    client_id: str
    client_secret: SecretStr
    timeout_s: float = 30.0


def token_set_from_response(realm_id: str, data: Any, now: datetime | None = None) -> TokenSet:
    """Build a TokenSet from a token-endpoint JSON answer (access_token, expires_in, refresh_token, ...)."""
    now = now or datetime.now(UTC)
    if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
        raise QboConfigError(message="QBO token endpoint answered without access_token/refresh_token")
    refresh_in = data.get("x_refresh_token_expires_in")
    return TokenSet(
        realm_id=realm_id,
        access_token=SecretStr(str(data["access_token"])),
        access_expires_at=now + timedelta(seconds=int(data.get("expires_in", 3600))),
        refresh_token=SecretStr(str(data["refresh_token"])),
        refresh_expires_at=now + timedelta(seconds=int(refresh_in)) if refresh_in is not None else None,
    )


async def request_tokens(
    config: OAuthClientConfig, form: dict[str, str], *, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, Any]:
    """POST to the token endpoint (client_secret_basic); raises typed errors, never echoes secrets."""
    request_label = "POST " + httpx.URL(config.token_url).path
    try:
        async with httpx.AsyncClient(transport=transport, timeout=config.timeout_s) as http:
            response = await http.post(
                config.token_url,
                data=form,
                auth=httpx.BasicAuth(config.client_id, config.client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
    except httpx.TransportError as exc:
        raise QboTransientError(message=f"QBO token endpoint unreachable: {type(exc).__name__}", request=request_label) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code == 200:
        return data if isinstance(data, dict) else {}
    oauth_error = str(data.get("error", "")) if isinstance(data, dict) else ""
    faults = [QboFault(code=f"oauth:{oauth_error}", message=oauth_error)] if oauth_error else []
    raise build_error(response.status_code, faults, intuit_tid=response.headers.get("intuit_tid"), request=request_label)


class TokenManager:
    """Hands out a valid access token per realm; refreshes proactively and on 401, one refresh at a time."""

    def __init__(
        self,
        store: TokenStore,
        oauth: OAuthClientConfig | None,
        *,
        refresh_margin: timedelta = timedelta(minutes=5),
        static_access_token: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.refresh_margin = refresh_margin
        self.static_access_token = static_access_token
        self._transport = transport
        self._locks: dict[str, asyncio.Lock] = {}
        self.refresh_count = 0

    def _lock(self, realm_id: str) -> asyncio.Lock:
        lock = self._locks.get(realm_id)
        if lock is None:
            lock = self._locks[realm_id] = asyncio.Lock()
        return lock

    async def _tokens(self, realm_id: str) -> TokenSet:
        tokens = await self.store.get(realm_id)
        if tokens is None:
            raise QboConfigError(message=f"No QBO OAuth tokens stored for realm {realm_id}: connect the company first")
        return tokens

    async def access_token(self, realm_id: str) -> str:
        if self.static_access_token is not None:
            return self.static_access_token.get_secret_value()
        tokens = await self._tokens(realm_id)
        if tokens.access_valid_for() > self.refresh_margin:
            return tokens.access_token.get_secret_value()
        return await self.refresh(realm_id, rejected=tokens.access_token.get_secret_value())

    async def refresh(self, realm_id: str, *, rejected: str | None = None) -> str:
        """Refresh the realm's tokens unless another task already replaced ``rejected``; return the access token."""
        if self.static_access_token is not None or self.oauth is None:
            raise QboConfigError(message="QBO rejected the configured static access token and refresh is not configured")
        async with self._lock(realm_id):
            tokens = await self._tokens(realm_id)
            current = tokens.access_token.get_secret_value()
            if rejected is not None and current != rejected and tokens.access_valid_for() > self.refresh_margin:
                return current  # somebody refreshed while we waited for the lock
            if not tokens.refresh_token.get_secret_value():
                raise QboConfigError(message=f"No QBO refresh token stored for realm {realm_id}: connect the company again")
            data = await request_tokens(
                self.oauth,
                {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.get_secret_value()},
                transport=self._transport,
            )
            new = token_set_from_response(realm_id, data)
            # Persist first: if we crashed after using the new access token but before saving, the
            # superseded refresh token in the store would be dead (invalid_grant) and the realm disconnected.
            await self.store.save(new)
            self.refresh_count += 1
            log.info("qbo.oauth.refreshed", extra={"realm_id": realm_id, "rotated": new.refresh_token != tokens.refresh_token})
            return new.access_token.get_secret_value()


class QboOAuth(httpx.Auth):
    """httpx auth flow: bearer token per realm; on 401 refresh once (under the realm lock) and resend."""

    requires_response_body = False

    def __init__(self, manager: TokenManager) -> None:
        self.manager = manager

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        realm_id = request.extensions.get(REALM_EXTENSION)
        if not realm_id:
            raise QboConfigError(message="internal: request without a realm extension")
        token = await self.manager.access_token(realm_id)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self.manager.static_access_token is None:
            # Once only: a second 401 reaches the client, which reports it as a config error.
            token = await self.manager.refresh(realm_id, rejected=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def sync_auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        raise RuntimeError("QboOAuth is async-only")
