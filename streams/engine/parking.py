"""Parked documents (qbo_sync.sync_parking): what could not sync yet, why, and when to try again.

Parking never blocks anything else: the engine returns at once and ``due()`` hands the document back
when its time comes (retry/429) or when the dependency it waits for has synced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg.types.json import Jsonb

from sinks.postgres import Database
from streams.engine.docref import DocRef

State = Literal["waiting", "retry", "conflict", "dead"]
# A document handed out by due() is not handed out again for this long (the caller re-parks or clears it).
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Parked:
    ref: DocRef
    state: State
    reason: str
    attempts: int
    next_attempt_at: datetime | None
    waiting_on: DocRef | None
    fault: dict[str, Any] | None


class Parking:
    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self._db = db
        self._owns_db = owns_db

    @classmethod
    async def connect(cls, dsn: str) -> Parking:
        """Parking on a pool of its own (tests, tools); the worker shares one ``Database``."""
        return cls(await Database.open(dsn, name="parking"), owns_db=True)

    async def close(self) -> None:
        if self._owns_db:
            await self._db.close()

    async def park(
        self,
        ref: DocRef,
        state: State,
        reason: str,
        *,
        next_attempt_at: datetime | None = None,
        waiting_on: DocRef | None = None,
        fault: dict[str, Any] | None = None,
    ) -> int:
        """Park (or re-park) a document; returns how many attempts it has had."""
        row = await self._db.fetchone(
            """
            insert into qbo_sync.sync_parking (entity_type, local_id, company_id, forced, state, reason, fault,
                                               waiting_on_type, waiting_on_id, next_attempt_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (entity_type, local_id) do update set
                company_id = coalesce(excluded.company_id, qbo_sync.sync_parking.company_id),
                forced = qbo_sync.sync_parking.forced or excluded.forced,
                state = excluded.state, reason = excluded.reason, fault = excluded.fault,
                waiting_on_type = excluded.waiting_on_type, waiting_on_id = excluded.waiting_on_id,
                next_attempt_at = excluded.next_attempt_at,
                attempts = qbo_sync.sync_parking.attempts + 1, updated_at = now()
            returning attempts
            """,
            (
                ref.entity_type,
                ref.local_id,
                ref.company_id,
                ref.forced,
                state,
                reason,
                Jsonb(fault) if fault else None,
                waiting_on.entity_type if waiting_on else None,
                waiting_on.local_id if waiting_on else None,
                next_attempt_at,
            ),
        )
        return int(row["attempts"]) if row else 1

    async def attempts(self, ref: DocRef) -> int:
        row = await self._db.fetchone(
            "select attempts from qbo_sync.sync_parking where entity_type = %s and local_id = %s", (ref.entity_type, ref.local_id)
        )
        return int(row["attempts"]) if row else 0

    async def clear(self, ref: DocRef, states: tuple[State, ...] = ("waiting", "retry", "conflict", "dead")) -> None:
        await self._db.execute(
            "delete from qbo_sync.sync_parking where entity_type = %s and local_id = %s and state = any(%s)",
            (ref.entity_type, ref.local_id, list(states)),
        )

    async def release_waiters(self, dependency: DocRef, now: datetime) -> None:
        """Documents waiting on ``dependency`` become due now."""
        await self._db.execute(
            "update qbo_sync.sync_parking set next_attempt_at = %s, updated_at = now() "
            "where state = 'waiting' and waiting_on_type = %s and waiting_on_id = %s",
            (now, dependency.entity_type, dependency.local_id),
        )

    async def due(self, now: datetime, limit: int = 500) -> list[DocRef]:
        """Documents due for another attempt; each is leased (not handed out again for LEASE)."""
        rows = await self._db.fetchall(
            """
            update qbo_sync.sync_parking p set next_attempt_at = %s
            where (p.entity_type, p.local_id) in (
                select entity_type, local_id from qbo_sync.sync_parking
                where state in ('waiting', 'retry') and next_attempt_at <= %s
                order by next_attempt_at limit %s for update skip locked)
            returning p.company_id, p.entity_type, p.local_id, p.forced
            """,
            (now + LEASE, now, limit),
        )
        return [DocRef(company_id=r["company_id"], entity_type=r["entity_type"], local_id=r["local_id"], forced=r["forced"]) for r in rows]

    async def get(self, ref: DocRef) -> Parked | None:
        r = await self._db.fetchone(
            "select * from qbo_sync.sync_parking where entity_type = %s and local_id = %s", (ref.entity_type, ref.local_id)
        )
        return self._parked(r) if r else None

    async def many(self, refs: Iterable[DocRef]) -> dict[tuple[str, int], Parked]:
        """The parking rows of ``refs`` (absent: not parked), in one query."""
        keys = [(r.entity_type, r.local_id) for r in refs]
        if not keys:
            return {}
        rows = await self._db.fetchall(
            "select * from qbo_sync.sync_parking where (entity_type, local_id) in (select * from unnest(%s::text[], %s::bigint[]))",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        return {(r["entity_type"], r["local_id"]): self._parked(r) for r in rows}

    async def list(self, states: tuple[State, ...] = ("waiting", "retry", "conflict", "dead")) -> list[Parked]:
        rows = await self._db.fetchall("select * from qbo_sync.sync_parking where state = any(%s) order by parked_at", (list(states),))
        return [self._parked(r) for r in rows]

    @staticmethod
    def _parked(r: dict[str, Any]) -> Parked:
        waiting = (
            DocRef(company_id=r["company_id"], entity_type=r["waiting_on_type"], local_id=r["waiting_on_id"])
            if r["waiting_on_type"]
            else None
        )
        return Parked(
            ref=DocRef(company_id=r["company_id"], entity_type=r["entity_type"], local_id=r["local_id"], forced=r["forced"]),
            state=r["state"],
            reason=r["reason"],
            attempts=r["attempts"],
            next_attempt_at=r["next_attempt_at"],
            waiting_on=waiting,
            fault=r["fault"],
        )
