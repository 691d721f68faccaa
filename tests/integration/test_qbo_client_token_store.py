"""PostgresTokenStore against a real private PostgreSQL cluster (initdb on a free port, torn down after)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from sinks.qbo.auth import PostgresTokenStore, TokenSet

pytestmark = pytest.mark.integration


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    pytest.fail(f"PostgreSQL's {name} is required for this test (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_dsn() -> Iterator[str]:
    # initdb refuses to run as root: run the cluster as the unprivileged 'postgres' or 'nobody' user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = "postgres" if shutil.which("runuser") and subprocess.run(["id", "postgres"], capture_output=True).returncode == 0 else "nobody"
        as_user = ["runuser", "-u", user, "--"]
    base = Path(tempfile.mkdtemp(prefix="bq-tokens-pg-"))
    os.chmod(base, 0o777)
    data, port = base / "data", _free_port()
    subprocess.run([*as_user, _bin("initdb"), "-D", str(data), "-U", "bq", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://bq@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


async def test_tokens_round_trip_and_rotation_upserts(pg_dsn: str) -> None:
    store = PostgresTokenStore(pg_dsn)
    await store.ensure_schema()
    await store.ensure_schema()  # idempotent
    assert await store.get("r1") is None
    now = datetime.now(UTC).replace(microsecond=0)
    first = TokenSet(realm_id="r1", access_token=SecretStr("AT-1"), access_expires_at=now + timedelta(hours=1),
                     refresh_token=SecretStr("RT-1"), refresh_expires_at=now + timedelta(days=100))
    await store.save(first)
    got = await store.get("r1")
    assert got is not None and got.refresh_token.get_secret_value() == "RT-1"
    assert got.access_expires_at == first.access_expires_at
    rotated = first.model_copy(update={"access_token": SecretStr("AT-2"), "refresh_token": SecretStr("RT-2"),
                                       "refresh_expires_at": None})
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
