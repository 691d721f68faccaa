"""PostgresTokenStore against a real private PostgreSQL cluster (initdb on a free port, torn down after)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from sinks.qbo.auth import PostgresTokenStore, TokenSet

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_dsn(private_pg_dsn: str) -> str:
    """A private cluster (tests/fixtures/private_pg.py); qbo_sync.oauth_tokens comes from the migrations."""
    return private_pg_dsn


async def test_tokens_round_trip_and_rotation_upserts(pg_dsn: str) -> None:
    store = PostgresTokenStore(pg_dsn)
    await store.ensure_schema()
    await store.ensure_schema()  # idempotent
    assert await store.get("r1") is None
    now = datetime.now(UTC).replace(microsecond=0)
    first = TokenSet(
        realm_id="r1",
        access_token=SecretStr("AT-1"),
        access_expires_at=now + timedelta(hours=1),
        refresh_token=SecretStr("RT-1"),
        refresh_expires_at=now + timedelta(days=100),
    )
    await store.save(first)
    got = await store.get("r1")
    assert got is not None and got.refresh_token.get_secret_value() == "RT-1"
    assert got.access_expires_at == first.access_expires_at
    rotated = first.model_copy(update={"access_token": SecretStr("AT-2"), "refresh_token": SecretStr("RT-2"), "refresh_expires_at": None})
    await store.save(rotated)
    got = await store.get("r1")
    assert got is not None and got.refresh_token.get_secret_value() == "RT-2"
    assert got.access_token.get_secret_value() == "AT-2" and got.refresh_expires_at is None
    import psycopg

    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        cur = await conn.execute("SELECT count(*), max(updated_at) IS NOT NULL FROM qbo_sync.oauth_tokens")
        assert await cur.fetchone() == (1, True)


async def test_row_with_null_tokens_reads_as_expired(pg_dsn: str) -> None:
    import psycopg

    store = PostgresTokenStore(pg_dsn)
    await store.ensure_schema()
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO qbo_sync.oauth_tokens (realm_id, access_token, access_expires_at, refresh_token)"
            " VALUES ('r-null', NULL, NULL, 'RT-x')"
        )
    got = await store.get("r-null")
    assert got is not None and got.access_valid_for().total_seconds() < 0
    assert got.refresh_token.get_secret_value() == "RT-x"
