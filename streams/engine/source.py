"""Reads Bottleneck's current state from Postgres (psycopg 3, async).

Every document is read in one REPEATABLE READ transaction (header and lines from the same snapshot), so
a write to QBO always reflects one committed state of Bottleneck, never a mix, and never an older one
than the events that triggered it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mappers import bottleneck as bn


class PgSnapshot:
    """One consistent read of Bottleneck (a REPEATABLE READ transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self._conn = conn

    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        cur = await self._conn.execute(sql, params)
        return await cur.fetchone()

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = await self._conn.execute(sql, params)
        return await cur.fetchall()


class Source:
    """Bottleneck's database. One connection, used one snapshot at a time (reads are short)."""

    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, dsn: str) -> Source:
        conn = await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row, autocommit=True)
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    @property
    def broken(self) -> bool:
        """The connection was lost (Postgres restarted, backend terminated): make a new one."""
        return self._conn.closed or self._conn.broken

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PgSnapshot]:
        async with self._lock:
            await self._conn.execute("begin isolation level repeatable read read only")
            try:
                yield PgSnapshot(self._conn)
            finally:
                await self._conn.execute("rollback")

    async def company(self, company_id: int) -> bn.Company | None:
        async with self.snapshot() as db:
            row = await db.one("select id, name, qbo_realm_id, qbo_sync_mode from companies where id = %s", (company_id,))
        return bn.Company(**row) if row else None

    async def company_of(self, table: str, local_id: int) -> int | None:
        """The company owning row ``local_id`` of header table ``table`` (lines carry no company_id)."""
        async with self.snapshot() as db:
            # table comes from a registered processor's class attribute, never from event data
            row = await db.one(f"select company_id from {table} where id = %s", (local_id,))
        return int(row["company_id"]) if row else None
