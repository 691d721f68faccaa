"""OAuth 2 for QBO: token storage, refresh with rotation, and the httpx auth flow.

Rules (reference section 2): access tokens live 1 hour; a refresh may return a NEW refresh token and the
old one then fails with ``invalid_grant``. So the rotated token is saved to the TokenStore before the new
access token is used, refreshes for one realm are serialised by a per-realm lock across processes (a
Postgres advisory lock: two workers' concurrent 401s must not both spend the same refresh token), a
rotated token whose save fails is kept and its save retried, and tokens never appear in logs or
exception text. Tokens may be encrypted at rest (``TokenCipher``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from sinks.qbo.error_table import build_error
from sinks.qbo.errors import QboConfigError, QboFault, QboTransientError

if TYPE_CHECKING:
    from sinks.postgres import Database

__all__ = [
    "REALM_EXTENSION",
    "InMemoryTokenStore",
    "LockedTokens",
    "OAuthClientConfig",
    "PostgresTokenStore",
    "QboOAuth",
    "TokenCipher",
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


class TokenCipher:
    """Optional encryption of tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256). Encrypted values carry a
    marker prefix, so rows written in plaintext before the key was set stay readable and are encrypted
    on their next save (a key can be introduced without a migration)."""

    MARKER = "fernet:"

    def __init__(self, key: str) -> None:
        from cryptography.fernet import Fernet  # only needed when a key is configured

        try:
            self._fernet = Fernet(key.encode())
        except ValueError as exc:
            raise QboConfigError(message="BQ_TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes)") from exc

    def seal(self, value: str) -> str:
        return self.MARKER + self._fernet.encrypt(value.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(self.MARKER):
            return stored  # a plaintext row from before encryption was switched on
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored[len(self.MARKER) :].encode()).decode()
        except InvalidToken:
            raise QboConfigError(message="stored QBO tokens cannot be decrypted with BQ_TOKEN_ENCRYPTION_KEY (another key?)") from None


def _open_plain(stored: str) -> str:
    if stored.startswith(TokenCipher.MARKER):
        raise QboConfigError(message="stored QBO tokens are encrypted but BQ_TOKEN_ENCRYPTION_KEY is not set")
    return stored


_SELECT = (
    "SELECT realm_id, access_token, access_expires_at, refresh_token, refresh_expires_at FROM qbo_sync.oauth_tokens WHERE realm_id = %s"
)
_UPSERT = (
    "INSERT INTO qbo_sync.oauth_tokens"
    " (realm_id, access_token, access_expires_at, refresh_token, refresh_expires_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, now())"
    " ON CONFLICT (realm_id) DO UPDATE SET access_token = EXCLUDED.access_token,"
    " access_expires_at = EXCLUDED.access_expires_at, refresh_token = EXCLUDED.refresh_token,"
    " refresh_expires_at = EXCLUDED.refresh_expires_at, updated_at = now()"
)
# One advisory lock per realm, shared by every worker process on the database.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('qbo_sync.oauth_tokens:' || %s, 0))"


class LockedTokens:
    """A realm's token row inside the transaction that holds its advisory lock."""

    def __init__(self, store: PostgresTokenStore, conn: Any, realm_id: str) -> None:
        self._store, self._conn, self.realm_id = store, conn, realm_id

    async def get(self) -> TokenSet | None:
        return await self._store._read(self._conn, self.realm_id)

    async def save(self, tokens: TokenSet) -> None:
        await self._store._write(self._conn, tokens)


class PostgresTokenStore:
    """Tokens in ``qbo_sync.oauth_tokens`` (one row per realm, upserted; table as in bottleneck_qbo/migrations/0002).

    ``locked(realm)`` is the cross-process refresh protocol: a transaction holding the realm's advisory
    lock, in which the caller reads, refreshes at Intuit and saves; the commit releases the lock, and a
    process that waited on it reads the new tokens instead of spending the superseded refresh token."""

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

    def __init__(
        self, conninfo: str, *, cipher: TokenCipher | None = None, connect_timeout_s: int = 10, db: Database | None = None
    ) -> None:
        self._conninfo = conninfo
        self._cipher = cipher
        self._connect_timeout_s = connect_timeout_s
        # A ``sinks.postgres.Database`` (pooled) for the plain reads and saves: every QBO request reads
        # its realm's token, and a new connection per request was a quarter of the worker's time under
        # load. ``locked`` keeps a connection of its own (it holds an advisory lock across a refresh).
        self._db = db

    @classmethod
    def from_settings(cls, settings: Any, *, db: Database | None = None) -> PostgresTokenStore:
        key = settings.token_encryption_key
        return cls(settings.postgres_dsn, cipher=TokenCipher(key.get_secret_value()) if key is not None else None, db=db)

    async def _connect(self, *, autocommit: bool = True) -> Any:
        import psycopg  # imported lazily: the client itself does not need a database

        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=autocommit, connect_timeout=self._connect_timeout_s)

    def _seal(self, value: str) -> str:
        return self._cipher.seal(value) if self._cipher is not None and value else value

    def _open(self, stored: str) -> str:
        return self._cipher.open(stored) if self._cipher is not None else _open_plain(stored)

    async def ensure_schema(self) -> None:
        """Create the table if migrations have not (tests and first runs)."""
        async with await self._connect() as conn:
            await conn.execute(self.DDL)

    async def _read(self, conn: Any, realm_id: str) -> TokenSet | None:
        cur = await conn.execute(_SELECT, (realm_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        # The migration allows NULLs (a realm row may exist before its first token): a missing access
        # token reads as expired, so the next call refreshes; a missing refresh token fails at refresh.
        return TokenSet(
            realm_id=row[0],
            access_token=SecretStr(self._open(row[1] or "")),
            access_expires_at=row[2] or datetime(1970, 1, 1, tzinfo=UTC),
            refresh_token=SecretStr(self._open(row[3] or "")),
            refresh_expires_at=row[4],
        )

    async def _write(self, conn: Any, tokens: TokenSet) -> None:
        await conn.execute(
            _UPSERT,
            (
                tokens.realm_id,
                self._seal(tokens.access_token.get_secret_value()),
                tokens.access_expires_at,
                self._seal(tokens.refresh_token.get_secret_value()),
                tokens.refresh_expires_at,
            ),
        )

    async def get(self, realm_id: str) -> TokenSet | None:
        if self._db is not None:
            return await self._db.run(lambda conn: self._read(conn, realm_id))
        async with await self._connect() as conn:
            return await self._read(conn, realm_id)

    async def save(self, tokens: TokenSet) -> None:
        if self._db is not None:
            await self._db.run(lambda conn: self._write(conn, tokens))
            return
        async with await self._connect() as conn:
            await self._write(conn, tokens)

    @asynccontextmanager
    async def locked(self, realm_id: str) -> AsyncIterator[LockedTokens]:
        """The realm's tokens under its advisory lock, in one transaction (committed on exit)."""
        async with await self._connect(autocommit=False) as conn, conn.transaction():
            await conn.execute(_LOCK, (realm_id,))
            yield LockedTokens(self, conn, realm_id)


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


def _is_database_error(exc: BaseException) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; the client alone does not need it
        return False
    return isinstance(exc, psycopg.Error | OSError)


class TokenManager:
    """Hands out a valid access token per realm; refreshes proactively and on 401, one refresh at a time.

    One refresh per realm at a time, across processes when the store offers ``locked`` (Postgres: an
    advisory lock held from the read to the commit of the save). A rotated token that cannot be saved
    (the database went away between Intuit's answer and the commit) is kept in memory: it is used for
    the calls and the next refresh, and its save is retried before each use until it lands. Dropping it
    would leave only the superseded refresh token, which Intuit answers with ``invalid_grant``.
    """

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
        self._unsaved: dict[str, TokenSet] = {}  # rotated tokens the store has not taken yet
        self.refresh_count = 0

    def _lock(self, realm_id: str) -> asyncio.Lock:
        lock = self._locks.get(realm_id)
        if lock is None:
            lock = self._locks[realm_id] = asyncio.Lock()
        return lock

    def unsaved(self, realm_id: str) -> TokenSet | None:
        """Tokens of ``realm_id`` held in memory because saving them failed (None: the store has them)."""
        return self._unsaved.get(realm_id)

    async def _tokens(self, realm_id: str) -> TokenSet:
        tokens = await self.store.get(realm_id)
        if tokens is None:
            raise QboConfigError(message=f"No QBO OAuth tokens stored for realm {realm_id}: connect the company first")
        return tokens

    def _fresh(self, tokens: TokenSet, rejected: str | None) -> bool:
        return tokens.access_token.get_secret_value() != rejected and tokens.access_valid_for() > self.refresh_margin

    async def _save_unsaved(self, realm_id: str) -> None:
        """Retry saving kept tokens (under the realm's lock); they stay in memory while that fails."""
        pending = self._unsaved.get(realm_id)
        if pending is None:
            return
        try:
            locked = getattr(self.store, "locked", None)
            if locked is not None:
                async with locked(realm_id) as tx:
                    await tx.save(pending)
            else:
                await self.store.save(pending)
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            log.warning("qbo.oauth.save_pending_failed", extra={"realm_id": realm_id, "error": type(exc).__name__})
            return
        if self._unsaved.get(realm_id) is pending:
            del self._unsaved[realm_id]
        log.info("qbo.oauth.saved_pending", extra={"realm_id": realm_id})

    async def access_token(self, realm_id: str) -> str:
        if self.static_access_token is not None:
            return self.static_access_token.get_secret_value()
        if realm_id in self._unsaved:
            async with self._lock(realm_id):
                await self._save_unsaved(realm_id)
                pending = self._unsaved.get(realm_id)
            if pending is not None and pending.access_valid_for() > self.refresh_margin:
                return pending.access_token.get_secret_value()
        tokens = self._unsaved.get(realm_id) or await self._tokens(realm_id)
        if tokens.access_valid_for() > self.refresh_margin:
            return tokens.access_token.get_secret_value()
        return await self.refresh(realm_id, rejected=tokens.access_token.get_secret_value())

    async def refresh(self, realm_id: str, *, rejected: str | None = None) -> str:
        """Refresh the realm's tokens unless another task or process already replaced ``rejected``;
        return the access token to use."""
        if self.static_access_token is not None or self.oauth is None:
            raise QboConfigError(message="QBO rejected the configured static access token and refresh is not configured")
        async with self._lock(realm_id):
            await self._save_unsaved(realm_id)
            pending = self._unsaved.get(realm_id)
            if pending is not None:
                # The store is still unreachable: our kept tokens are the newest there are.
                if self._fresh(pending, rejected):
                    return pending.access_token.get_secret_value()
                new = await self._refresh_at_intuit(realm_id, pending)
                self._unsaved[realm_id] = new
                await self._save_unsaved(realm_id)
                return new.access_token.get_secret_value()
            locked = getattr(self.store, "locked", None)
            if locked is None:  # a store without cross-process locking (in memory)
                tokens = await self._tokens(realm_id)
                if rejected is not None and self._fresh(tokens, rejected):
                    return tokens.access_token.get_secret_value()
                new = await self._refresh_at_intuit(realm_id, tokens)
                await self.store.save(new)
                return new.access_token.get_secret_value()
            return await self._refresh_locked(realm_id, locked, rejected)

    async def _refresh_locked(self, realm_id: str, locked: Any, rejected: str | None) -> str:
        new: TokenSet | None = None
        try:
            async with locked(realm_id) as tx:
                tokens = await tx.get()
                if tokens is None:
                    raise QboConfigError(message=f"No QBO OAuth tokens stored for realm {realm_id}: connect the company first")
                if rejected is not None and self._fresh(tokens, rejected):
                    return str(tokens.access_token.get_secret_value())  # another process refreshed while we waited
                new = await self._refresh_at_intuit(realm_id, tokens)
                # Saved before the new access token is used, and committed (lock released) on exit.
                await tx.save(new)
        except Exception as exc:
            if new is None or not _is_database_error(exc):
                raise
            # Intuit rotated the refresh token but the save did not commit: keep the new tokens (the old
            # refresh token is dead now) and save them later.
            self._unsaved[realm_id] = new
            log.error("qbo.oauth.save_failed_kept_in_memory", extra={"realm_id": realm_id, "error": type(exc).__name__})
        assert new is not None
        return new.access_token.get_secret_value()

    async def _refresh_at_intuit(self, realm_id: str, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token.get_secret_value():
            raise QboConfigError(message=f"No QBO refresh token stored for realm {realm_id}: connect the company again")
        assert self.oauth is not None
        data = await request_tokens(
            self.oauth,
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.get_secret_value()},
            transport=self._transport,
        )
        new = token_set_from_response(realm_id, data)
        self.refresh_count += 1
        log.info("qbo.oauth.refreshed", extra={"realm_id": realm_id, "rotated": new.refresh_token != tokens.refresh_token})
        return new


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
