"""Real parts for the sync engine's tests: a private PostgreSQL cluster with the project's migrations,
the QBO sandbox served over real HTTP on a free port, the real QboClient, and a SyncEngine wired to them.

The fixtures are registered for the whole suite in ``tests/conftest.py``: ask for ``env`` by name.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from infra.qbo_sandbox.app import create_app
from infra.qbo_sandbox.config import SandboxConfig
from sinks.qbo.auth import InMemoryTokenStore, TokenManager
from sinks.qbo.client import QboClient, RetryPolicy
from sinks.qbo.idmap import IdMap
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry
from streams.engine.engine import SyncEngine
from streams.engine.parking import Parking
from streams.engine.source import Source
from streams.processors.registry import REGISTRY

__all__ = ["Env", "env", "sandbox_url", "sync_pg_dsn"]

SANDBOX_TOKEN = "sync-tests-static-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def sync_pg_dsn(private_pg_dsn: str) -> str:
    """A private cluster with the product's migrations applied (tests/fixtures/private_pg.py): no worker writes there."""
    return private_pg_dsn


@pytest_asyncio.fixture(loop_scope="function")
async def sandbox_url() -> AsyncIterator[str]:
    """The QBO sandbox (infra/qbo_sandbox) on a free port, fresh per test."""
    port = _free_port()
    app = create_app(SandboxConfig(port=port, access_token=SecretStr(SANDBOX_TOKEN)))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Env:
    """One company connected to one fresh sandbox realm, and an engine wired to both."""

    dsn: str
    sandbox: str
    realm: str
    company_id: int
    conn: psycopg.AsyncConnection[Any]  # autocommit, for writing Bottleneck rows like Bottleneck would
    qbo: QboClient
    engine: SyncEngine
    parking: Parking
    idmap: IdMap

    async def stats(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{self.sandbox}/__sandbox/stats", params={"realm": self.realm})).json()

    async def writes(self) -> int:
        return int((await self.stats())["writes_total"])

    async def faults(self, **spec: Any) -> None:
        async with httpx.AsyncClient() as http:
            (await http.post(f"{self.sandbox}/__sandbox/faults", json={"realm": self.realm, **spec})).raise_for_status()

    async def set_mode(self, mode: str) -> None:
        await self.conn.execute("update companies set qbo_sync_mode = %s where id = %s", (mode, self.company_id))


@pytest_asyncio.fixture(loop_scope="function")
async def env(sync_pg_dsn: str, sandbox_url: str) -> AsyncIterator[Env]:
    realm = str(9130350000000000 + uuid.uuid4().int % 10**9)
    async with httpx.AsyncClient() as http:
        (await http.post(f"{sandbox_url}/__sandbox/realms", json={"realm_id": realm, "name": "Sync tests"})).raise_for_status()
    conn = await psycopg.AsyncConnection.connect(sync_pg_dsn, autocommit=True)
    cur = await conn.execute("insert into companies (name, qbo_realm_id) values (%s, %s) returning id", (f"Co {realm}", realm))
    company_id = int((await cur.fetchone())[0])
    qbo = QboClient(
        base_url=sandbox_url,
        token_manager=TokenManager(InMemoryTokenStore(), None, static_access_token=SecretStr(SANDBOX_TOKEN)),
        limiters=LimiterRegistry(LimiterConfig()),
        # The engine parks on 429 / 5xx instead of waiting: the client must not retry them itself here.
        retry=RetryPolicy(max_attempts=1, rate_limit_max_retries=0, rate_limit_wait_s=0.05),
    )
    source, idmap, parking = await Source.connect(sync_pg_dsn), await IdMap.connect(sync_pg_dsn), await Parking.connect(sync_pg_dsn)
    engine = SyncEngine(source, qbo, idmap, parking, REGISTRY)
    try:
        yield Env(sync_pg_dsn, sandbox_url, realm, company_id, conn, qbo, engine, parking, idmap)
    finally:
        await qbo.aclose()
        for c in (source, idmap, parking):
            await c.close()
        await conn.close()
