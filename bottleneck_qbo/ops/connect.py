"""Connecting a Bottleneck company to a QBO realm.

- local sandbox: the realm is created in the sandbox, which hands back development tokens;
- real QBO (Intuit's sandbox or production): the user consents on Intuit's page; the worker's web server
  receives the redirect on ``/oauth/callback`` and exchanges the code (``streams.oauth``).
Either way the tokens land in ``qbo_sync.oauth_tokens``, ``companies.qbo_realm_id`` is set and, for a live
company, its initial load starts (``onboarding``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from pydantic import SecretStr

from bottleneck_qbo.ops import onboarding
from bottleneck_qbo.settings import Settings
from sinks.qbo.auth import PostgresTokenStore, TokenSet
from sinks.qbo.oauth_connect import authorization_url


class ConnectError(RuntimeError):
    pass


async def link_company(dsn: str, company_id: int, realm_id: str) -> int | None:
    """Set the company's realm and, in the same transaction, start its initial load when it is live
    (``onboarding.observe``, the one mechanism the companies change event uses too). Returns the load's id."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn, conn.transaction():
        row = await (await conn.execute("select qbo_realm_id from companies where id = %s for update", (company_id,))).fetchone()
        if row is None:
            raise ConnectError(f"company {company_id} does not exist in Bottleneck")
        if row[0] not in (None, realm_id):
            raise ConnectError(f"company {company_id} is already connected to realm {row[0]}; disconnect it first")
        other = await (
            await conn.execute("select id from companies where qbo_realm_id = %s and id <> %s", (realm_id, company_id))
        ).fetchone()
        if other:
            raise ConnectError(f"realm {realm_id} is already connected to company {other[0]}")
        await conn.execute("update companies set qbo_realm_id = %s, updated_at = now() where id = %s", (realm_id, company_id))
        return await onboarding.observe_row(conn, company_id, reason="connect", force=True)


async def connect_local(settings: Settings, company_id: int, realm_id: str) -> TokenSet:
    """Create (or reuse) the realm in the local sandbox and store its development tokens."""
    async with httpx.AsyncClient(base_url=settings.qbo_base_url, timeout=10) as http:
        resp = await http.post("/__sandbox/realms", json={"realm_id": realm_id, "name": f"Bottleneck company {company_id}"})
        if resp.status_code >= 400:
            raise ConnectError(f"the QBO sandbox refused to create realm {realm_id}: HTTP {resp.status_code} {resp.text[:200]}")
        body = resp.json()
    now = datetime.now(UTC)
    tokens = TokenSet(
        realm_id=realm_id,
        access_token=SecretStr(body["access_token"]),
        access_expires_at=now + timedelta(seconds=int(body.get("expires_in", 3600))),
        refresh_token=SecretStr(body["refresh_token"]),
        refresh_expires_at=now + timedelta(days=100),
    )
    await PostgresTokenStore.from_settings(settings).save(tokens)
    await link_company(settings.postgres_dsn, company_id, realm_id)
    return tokens


def consent_url(settings: Settings, company_id: int, state: str) -> str:
    return authorization_url(
        auth_url=settings.qbo_auth_url,
        client_id=settings.qbo_client_id,
        redirect_uri=settings.qbo_redirect_uri,
        state=state,
    )
