"""Reads Bottleneck's current state from Postgres (psycopg 3, async).

Every document is read in one REPEATABLE READ transaction (header and lines from the same snapshot), so
a write to QBO always reflects one committed state of Bottleneck, never a mix, and never an older one
than the events that triggered it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mappers import bottleneck as bn
from sinks.postgres import Database


class PgSnapshot:
    """One consistent read of Bottleneck (a REPEATABLE READ transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.all(sql, params)
        return rows[0] if rows else None

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchall()


class Source:
    """Bottleneck's database (``sinks.postgres.Database``: pooled, reconnecting), read one snapshot at a time."""

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self._db = db
        self._owns_db = owns_db

    @classmethod
    async def connect(cls, dsn: str) -> Source:
        """A Source on a pool of its own (tests, tools); the worker shares one ``Database``."""
        return cls(await Database.open(dsn), owns_db=True)

    async def close(self) -> None:
        if self._owns_db:
            await self._db.close()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PgSnapshot]:
        async with self._db.transaction("begin isolation level repeatable read read only") as conn:
            yield PgSnapshot(conn)

    async def company(self, company_id: int) -> bn.Company | None:
        async with self.snapshot() as db:
            row = await db.one("select id, name, qbo_realm_id, qbo_sync_mode from companies where id = %s", (company_id,))
        return bn.Company(**row) if row else None

    async def company_of(self, table: str, local_id: int) -> int | None:
        """The company owning row ``local_id`` of header table ``table`` (lines carry no company_id)."""
        # table comes from a registered processor's class attribute, never from event data
        row = await self._db.fetchone(f"select company_id from {table} where id = %s", (local_id,))
        return int(row["company_id"]) if row else None
