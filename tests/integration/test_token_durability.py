"""OAuth tokens are never lost, with real parts: a private PostgreSQL cluster (stopped and started by the
test), the sandbox's token endpoint (it rotates the refresh token on every refresh and answers
``invalid_grant`` to a superseded one) and the product's QBO client.

- several processes refreshing one realm at once: one refresh at Intuit, everyone ends with working tokens;
- Postgres going down between Intuit's answer and the save: the rotated tokens are kept, used, and saved
  when Postgres is back; nobody ever spends a superseded refresh token;
- tokens encrypted at rest when a key is set, with plaintext rows still readable.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bottleneck_qbo import migrations
from infra import bottleneck
from sinks.qbo.auth import OAuthClientConfig, PostgresTokenStore, TokenCipher, TokenManager, TokenSet
from sinks.qbo.client import QboClient
from sinks.qbo.errors import QboConfigError
from tests.fixtures.private_pg import _bin, _free_port, _os_user
from tests.fixtures.sandbox import RealmInfo, SandboxServer

pytestmark = pytest.mark.integration

PROCESSES = 4
ROOT = Path(__file__).resolve().parents[2]


def _expired(realm: RealmInfo) -> TokenSet:
    """The realm's real sandbox tokens, stored as if the access token had expired (so the next call refreshes)."""
    return TokenSet(
        realm_id=realm.realm_id,
        access_token=SecretStr(realm.access_token),
        access_expires_at=datetime.now(UTC) - timedelta(minutes=1),
        refresh_token=SecretStr(realm.refresh_token),
    )


def _oauth(server: SandboxServer) -> OAuthClientConfig:
    return OAuthClientConfig(token_url=server.token_url, client_id=server.client_id, client_secret=SecretStr(server.client_secret))


def _oauth_stats(server: SandboxServer, realm_id: str) -> dict[str, int]:
    return dict(server.stats(realm_id)["oauth"])


class StoppablePg:
    """A private cluster this test may stop and start (the session's ``private_pg_dsn`` is shared)."""

    def __init__(self) -> None:
        self.as_user = _os_user()
        self.base = Path(tempfile.mkdtemp(prefix="bq-test-pg-stop-"))
        os.chmod(self.base, 0o777)
        self.data, self.port = self.base / "data", _free_port()
        subprocess.run(
            [*self.as_user, _bin("initdb"), "-D", str(self.data), "-U", "bq", "--auth=trust", "-E", "UTF8"], check=True, capture_output=True
        )
        self.dsn = f"postgresql://bq@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        cmd = [*self.as_user, _bin("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.base / "log"), "-o", opts, "start"]
        subprocess.run(cmd, check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self.as_user, _bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], check=True, capture_output=True)

    def destroy(self) -> None:
        subprocess.run([*self.as_user, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def stoppable_pg() -> Iterator[StoppablePg]:
    pg = StoppablePg()
    pg.start()
    try:
        bottleneck.ensure_schema(pg.dsn)  # the contract schema, as the local stack has it
        migrations.apply(pg.dsn)
        yield pg
    finally:
        pg.destroy()


class PostgresStopsAfterTheTokenAnswer(httpx.AsyncBaseTransport):
    """The real HTTP transport to the token endpoint; the first time Intuit (the sandbox) has answered
    a refresh, Postgres is shut down before the answer reaches the token manager, i.e. between the
    rotation at Intuit and the save."""

    def __init__(self, pg: StoppablePg) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._pg = pg
        self.stopped = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not self.stopped:
            await response.aread()
            await asyncio.to_thread(self._pg.stop)
            self.stopped = True
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_processes_refreshing_one_realm_at_once_all_end_with_working_tokens(
    private_pg_dsn: str, qbo_sandbox: SandboxServer, tmp_path: Path
) -> None:
    realm = qbo_sandbox.create_realm()
    key = Fernet.generate_key().decode()
    await PostgresTokenStore(private_pg_dsn, cipher=TokenCipher(key)).save(_expired(realm))
    pg = urlsplit(private_pg_dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")} | {
        "BQ_PG_HOST": pg.hostname or "127.0.0.1",
        "BQ_PG_PORT": str(pg.port),
        "BQ_PG_USER": pg.username or "bq",
        "BQ_PG_DATABASE": pg.path.lstrip("/"),
        "BQ_QBO_BASE_URL": qbo_sandbox.base_url,
        "BQ_QBO_TOKEN_URL": qbo_sandbox.token_url,
        "BQ_QBO_CLIENT_ID": qbo_sandbox.client_id,
        "BQ_QBO_CLIENT_SECRET": qbo_sandbox.client_secret,
        "BQ_TOKEN_ENCRYPTION_KEY": key,
        "BQ_QBO_RETRY_MAX_ATTEMPTS": "0",
    }
    start = tmp_path / "start"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.token_refresh_process",
            realm.realm_id,
            str(start),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    for p in procs:  # every process is up and waiting: their refreshes start together
        assert p.stdout is not None
        assert (await asyncio.wait_for(p.stdout.readline(), 60)).strip() == b"ready"
    start.touch()
    results = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, f"{out.decode()}{err.decode()[-2000:]}"
    stats = _oauth_stats(qbo_sandbox, realm.realm_id)
    assert stats.get("invalid_grant", 0) == 0
    assert stats.get("refresh", 0) == 1, "one refresh at Intuit; the other processes read the tokens it saved"
    # What the store holds now is live: another refresh with it works.
    manager = TokenManager(PostgresTokenStore(private_pg_dsn, cipher=TokenCipher(key)), _oauth(qbo_sandbox))
    assert await manager.refresh(realm.realm_id)
    assert _oauth_stats(qbo_sandbox, realm.realm_id).get("invalid_grant", 0) == 0


async def test_rotated_tokens_survive_postgres_going_down_during_the_save(stoppable_pg: StoppablePg, qbo_sandbox: SandboxServer) -> None:
    realm = qbo_sandbox.create_realm()
    store = PostgresTokenStore(stoppable_pg.dsn)
    await store.save(_expired(realm))
    transport = PostgresStopsAfterTheTokenAnswer(stoppable_pg)
    manager = TokenManager(store, _oauth(qbo_sandbox), transport=transport)
    client = QboClient(base_url=qbo_sandbox.base_url, token_manager=manager)
    try:
        # The refresh succeeds at Intuit, then Postgres is gone before the save: the call still works.
        assert await client.query(realm.realm_id, "select * from Account")
        assert transport.stopped and manager.unsaved(realm.realm_id) is not None
        # Still down, and QBO expires the access token: the next refresh spends the KEPT refresh token.
        qbo_sandbox.expire_access_tokens(realm.realm_id)
        assert await client.query(realm.realm_id, "select * from Account")
        kept = manager.unsaved(realm.realm_id)
        assert kept is not None and manager.refresh_count == 2
        # Postgres is back: the kept tokens are saved before their next use.
        stoppable_pg.start()
        assert await client.query(realm.realm_id, "select * from Account")
        assert manager.unsaved(realm.realm_id) is None
        stored = await store.get(realm.realm_id)
        assert stored is not None and stored.refresh_token == kept.refresh_token
    finally:
        await client.aclose()
    # Another process, knowing only the store, refreshes with what was saved.
    qbo_sandbox.expire_access_tokens(realm.realm_id)
    other = QboClient(base_url=qbo_sandbox.base_url, token_manager=TokenManager(PostgresTokenStore(stoppable_pg.dsn), _oauth(qbo_sandbox)))
    try:
        assert await other.query(realm.realm_id, "select * from Account")
    finally:
        await other.aclose()
    stats = _oauth_stats(qbo_sandbox, realm.realm_id)
    assert stats.get("invalid_grant", 0) == 0 and stats.get("refresh", 0) == 3


async def test_tokens_are_encrypted_at_rest_and_plaintext_rows_stay_readable(private_pg_dsn: str) -> None:
    plain, key = PostgresTokenStore(private_pg_dsn), Fernet.generate_key().decode()
    sealed = PostgresTokenStore(private_pg_dsn, cipher=TokenCipher(key))
    now = datetime.now(UTC).replace(microsecond=0)
    old = TokenSet(realm_id="71", access_token=SecretStr("AT-old"), access_expires_at=now, refresh_token=SecretStr("RT-old"))
    await plain.save(old)  # written before the key was set
    got = await sealed.get("71")
    assert got is not None and got.refresh_token.get_secret_value() == "RT-old"
    await sealed.save(old.model_copy(update={"refresh_token": SecretStr("RT-new")}))
    async with await psycopg.AsyncConnection.connect(private_pg_dsn) as conn:
        cur = await conn.execute("select access_token, refresh_token from qbo_sync.oauth_tokens where realm_id = '71'")
        row: Any = await cur.fetchone()
    assert all(v.startswith(TokenCipher.MARKER) for v in row) and "RT-new" not in row[1] and "AT-old" not in row[0]
    got = await sealed.get("71")
    assert got is not None and got.refresh_token.get_secret_value() == "RT-new"
    with pytest.raises(QboConfigError, match="encrypted"):
        await plain.get("71")  # an encrypted row without the key is an error, never a garbage token
    with pytest.raises(QboConfigError, match="cannot be decrypted"):
        await PostgresTokenStore(private_pg_dsn, cipher=TokenCipher(Fernet.generate_key().decode())).get("71")


async def test_reconcile_reads_the_tokens_encrypted_at_rest(private_pg_dsn: str, qbo_sandbox: SandboxServer) -> None:
    """`reconcile` with BQ_TOKEN_ENCRYPTION_KEY set reads the sealed tokens the worker wrote, as every other
    command does (it built a token store without the key and stopped at the first QBO read)."""
    realm = qbo_sandbox.create_realm()
    key = Fernet.generate_key().decode()
    tokens = _expired(realm).model_copy(update={"access_expires_at": datetime.now(UTC) + timedelta(hours=1)})
    await PostgresTokenStore(private_pg_dsn, cipher=TokenCipher(key)).save(tokens)
    with psycopg.connect(private_pg_dsn, autocommit=True) as conn:
        company = conn.execute(
            "insert into companies (name, qbo_realm_id) values (%s, %s) returning id", (f"Sealed {realm.realm_id}", realm.realm_id)
        ).fetchone()[0]
        conn.execute("insert into customers (company_id, name) values (%s, 'Only in Bottleneck')", (company,))
    pg = urlsplit(private_pg_dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")} | {
        "BQ_PG_HOST": pg.hostname or "127.0.0.1",
        "BQ_PG_PORT": str(pg.port),
        "BQ_PG_USER": pg.username or "bq",
        "BQ_PG_DATABASE": pg.path.lstrip("/"),
        "BQ_QBO_BASE_URL": qbo_sandbox.base_url,
        "BQ_QBO_TOKEN_URL": qbo_sandbox.token_url,
        "BQ_TOKEN_ENCRYPTION_KEY": key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", "reconcile", "--company", str(company), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # the customer never reached QBO: one difference found by reading QBO (exit 1), not an error (exit 2)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "encrypted" not in done.stderr
