"""Which Bottleneck company and documents a QBO realm's ids are (reads ``companies`` and ``qbo_sync.id_map``)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
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

    async def connected_among(self, realm_ids: Sequence[str]) -> set[str]:
        cur = await self._conn.execute("select qbo_realm_id from companies where qbo_realm_id = any(%s::text[])", (list(realm_ids),))
        return {str(r[0]) for r in await cur.fetchall()}

    async def local_documents(self, realm_id: str, qbo_entity: str, qbo_ids: Sequence[str]) -> dict[str, int]:
        if not qbo_ids:
            return {}
        cur = await self._conn.execute(
            "select qbo_id, local_id from qbo_sync.id_map where realm_id = %s and qbo_entity = %s and qbo_id = any(%s::text[])",
            (realm_id, qbo_entity, list(qbo_ids)),
        )
        return {str(q): int(local) for q, local in await cur.fetchall()}


class RealmCache:
    """Connected realms, for the webhook view (which must answer within 3 s without a query per POST).

    A realm not in the cache is looked up once (a company may have connected a moment ago); a realm found
    not connected is remembered for ``negative_ttl_s`` so a flood of posts for it cannot hammer Postgres.
    """

    def __init__(self, negative_ttl_s: float = 5.0) -> None:
        self._known: set[str] = set()
        self._unknown: dict[str, float] = {}  # realm -> monotonic time it was found not connected
        self._negative_ttl_s = negative_ttl_s

    def replace(self, realms: Iterable[str]) -> None:
        self._known = set(realms)

    def __contains__(self, realm_id: object) -> bool:
        return realm_id in self._known

    def to_check(self, realm_ids: Iterable[str]) -> list[str]:
        now = time.monotonic()
        out = []
        for r in dict.fromkeys(realm_ids):
            seen = self._unknown.get(r)
            if r not in self._known and (seen is None or now - seen >= self._negative_ttl_s):
                out.append(r)
        return out

    def record(self, checked: Iterable[str], connected: Iterable[str]) -> None:
        found = set(connected)
        self._known |= found
        now = time.monotonic()
        for r in checked:
            if r not in found:
                self._unknown[r] = now
            else:
                self._unknown.pop(r, None)
