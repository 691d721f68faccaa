"""Which Bottleneck company and documents a QBO realm's ids are (reads ``companies`` and ``qbo_sync.id_map``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import psycopg


class Directory(Protocol):
    async def company_for_realm(self, realm_id: str) -> int | None:
        """The Bottleneck company connected to ``realm_id`` (None: none is)."""

    async def local_documents(self, realm_id: str, qbo_entity: str, qbo_ids: Sequence[str]) -> dict[str, int]:
        """QBO id -> Bottleneck id for those of ``qbo_ids`` the id map knows."""


class PgDirectory:
    """``Directory`` over one async connection (autocommit: each lookup sees the latest id map)."""

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self._conn = conn

    async def company_for_realm(self, realm_id: str) -> int | None:
        cur = await self._conn.execute("select id from companies where qbo_realm_id = %s", (realm_id,))
        row = await cur.fetchone()
        return int(row[0]) if row else None

    async def connected_realms(self) -> list[str]:
        cur = await self._conn.execute("select qbo_realm_id from companies where qbo_realm_id is not null order by id")
        return [str(r[0]) for r in await cur.fetchall()]

    async def local_documents(self, realm_id: str, qbo_entity: str, qbo_ids: Sequence[str]) -> dict[str, int]:
        if not qbo_ids:
            return {}
        cur = await self._conn.execute(
            "select qbo_id, local_id from qbo_sync.id_map"
            " where realm_id = %s and qbo_entity = %s and qbo_id = any(%s::text[])",
            (realm_id, qbo_entity, list(qbo_ids)),
        )
        return {str(q): int(local) for q, local in await cur.fetchall()}


class RealmCache:
    """Connected realms for the webhook view, which must answer within 3 s without a query per POST.

    A realm missing from the cache triggers at most one refresh per ``min_refresh_s`` (a new connection
    shows up at once; a flood of unknown realms cannot hammer the database).
    """

    def __init__(self, min_refresh_s: float = 5.0) -> None:
        self._realms: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._min_refresh_s = min_refresh_s

    def replace(self, realms: Sequence[str]) -> None:
        self._realms = frozenset(realms)
        self._loaded_at = time.monotonic()

    def __contains__(self, realm_id: object) -> bool:
        return realm_id in self._realms

    def needs_refresh(self, realm_ids: Sequence[str]) -> bool:
        if self._loaded_at is None:
            return True
        if all(r in self._realms for r in realm_ids):
            return False
        return time.monotonic() - self._loaded_at >= self._min_refresh_s
