"""The shape of a conformance sample, and the one SQL helper the samples share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]  # autocommit, writing Bottleneck rows as Bottleneck would


@dataclass(frozen=True)
class Sample:
    """``create(conn, company_id) -> local id`` writes one publishable document (and what it needs);
    ``touch(conn, local_id)`` changes a Bottleneck-owned field of it (None: nothing to touch)."""

    create: Callable[[Conn, int], Awaitable[int]]
    touch: Callable[[Conn, int], Awaitable[None]] | None = None


async def insert(conn: Conn, sql: str, params: tuple[Any, ...]) -> int:
    cur = await conn.execute(sql + " returning id", params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0] if not isinstance(row, dict) else row["id"])


def touching(sql: str) -> Callable[[Conn, int], Awaitable[None]]:
    """A touch that runs one update with the document id as its only parameter."""

    async def touch(conn: Conn, local_id: int) -> None:
        await conn.execute(sql, (local_id,))

    return touch
