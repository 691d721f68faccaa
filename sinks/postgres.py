"""Postgres access for the worker: one ``psycopg_pool`` pool of autocommit connections, one reconnect policy.

The reconnect policy, the only one in the product: a connection the pool hands out may have died while
idle (Postgres restarted, a backend was terminated). When an operation fails with an OperationalError it
runs once more on another connection; if its connection was lost, the pool is checked first (every dead
idle connection is dropped and replaced). If Postgres is still unreachable the ``psycopg.OperationalError`` propagates,
and the caller treats it as transient: the sync engine parks the document (``classify`` -> retry), the
inbound flow parks the notification. The pool itself keeps reconnecting in the background, and a caller
waits at most ``timeout_s`` for a connection.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]


def _lost(conn: Conn) -> bool:
    return conn.closed or conn.broken


class Database:
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 8, timeout_s: float = 15.0, name: str = "bottleneck") -> Database:
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            dsn, min_size=min_size, max_size=max_size, timeout=timeout_s, kwargs={"autocommit": True}, open=False, name=name
        )
        await pool.open(wait=True, timeout=timeout_s)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    # --- the reconnect policy ----------------------------------------------------------------------
    async def run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """``op`` on a pooled connection; once more on another one after an OperationalError."""
        for attempt in (0, 1):
            async with self._pool.connection() as conn:
                try:
                    return await op(conn)
                except psycopg.OperationalError as exc:
                    if attempt == 1:
                        raise
                    lost = _lost(conn)
                    log.warning("Postgres operation failed (%s); trying once more", exc)
            if lost:
                await self._recover()
        raise AssertionError("unreachable: the second attempt returns or raises")

    @asynccontextmanager
    async def transaction(self, begin: str) -> AsyncIterator[Conn]:
        """A connection inside the transaction ``begin`` opens (e.g. ``begin isolation level repeatable read
        read only``), rolled back on exit. Opening it follows the reconnect policy; what runs inside does not
        (a snapshot cannot be resumed on another connection)."""
        conn = await self._begin(begin)
        try:
            yield conn
        finally:
            try:
                if not _lost(conn):
                    await conn.execute("rollback")
            finally:
                await self._pool.putconn(conn)

    async def _begin(self, begin: str) -> Conn:
        for attempt in (0, 1):
            conn = await self._pool.getconn()
            try:
                await conn.execute(begin)
                return conn
            except BaseException as exc:
                await self._pool.putconn(conn)  # a lost connection is dropped by the pool, not reused
                if attempt == 1 or not isinstance(exc, psycopg.OperationalError):
                    raise
                lost = _lost(conn)
            if lost:
                await self._recover()
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _recover(self) -> None:
        log.warning("lost a connection to Postgres; dropping the pool's dead connections")
        await self._pool.check()

    # --- plain statements ----------------------------------------------------------------------------
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        async def op(conn: Conn) -> None:
            await conn.execute(sql, params)

        await self.run(op)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        async def op(conn: Conn) -> list[dict[str, Any]]:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(sql, params)
                return await cur.fetchall()

        return await self.run(op)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None
