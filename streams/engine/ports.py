"""What the engine needs from Postgres, as small Protocols: the source (Bottleneck's rows), the id map
and parking. ``source.Source``, ``sinks.qbo.idmap.IdMap`` and ``parking.Parking`` implement them over
Postgres; the engine's unit tests implement them in memory (tests/unit/engine_fakes.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from sinks.qbo.idmap import IdMapEntry
from sinks.qbo.writer import IdMapRecorder
from streams.engine.docref import DocRef
from streams.engine.parking import Parked, State


class Snapshot(Protocol):
    """One consistent read of Bottleneck: every query sees the same committed state."""

    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None: ...

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...


class SourcePort(Protocol):
    def snapshot(self) -> AbstractAsyncContextManager[Snapshot]: ...

    async def company_of(self, table: str, local_id: int) -> int | None: ...


class IdMapPort(IdMapRecorder, Protocol):
    async def get(self, company_id: int, entity_type: str, local_id: int) -> IdMapEntry | None: ...

    async def find(self, entity_type: str, local_id: int) -> IdMapEntry | None: ...

    async def many(self, company_id: int, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], IdMapEntry]: ...

    async def mark_error(self, company_id: int, entity_type: str, local_id: int, error: str) -> None: ...

    async def remember_follow_ups(self, company_id: int, entity_type: str, local_id: int, follow_ups: list[tuple[str, int]]) -> None: ...


class ParkingPort(Protocol):
    async def park(
        self,
        ref: DocRef,
        state: State,
        reason: str,
        *,
        next_attempt_at: datetime | None = None,
        waiting_on: DocRef | None = None,
        fault: dict[str, Any] | None = None,
    ) -> int: ...

    async def attempts(self, ref: DocRef) -> int: ...

    async def clear(self, ref: DocRef, states: tuple[State, ...] = ("waiting", "retry", "conflict", "dead")) -> None: ...

    async def release_waiters(self, dependency: DocRef, now: datetime) -> None: ...

    async def due(self, now: datetime, limit: int = 500) -> list[DocRef]: ...

    async def get(self, ref: DocRef) -> Parked | None: ...

    async def many(self, refs: Iterable[DocRef]) -> dict[tuple[str, int], Parked]: ...
