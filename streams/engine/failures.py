"""A failed document, recorded: what ``classify`` decided becomes its parking row and its outcome.

The one place a failure is written down (dlt's "one place that turns an exception into an outcome"):
a retry with backoff (dead after ``max_attempts``), a rate-limit wait, a realm-wide configuration
problem retried slowly, a conflict a person reads, or dead. The engine decides *that* a document
failed; this decides what that leaves behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sinks.qbo.backoff import Backoff
from streams.engine.classify import Failure, Remedy
from streams.engine.docref import DocRef
from streams.engine.outcome import Kind, SyncOutcome
from streams.engine.ports import IdMapPort, ParkingPort

log = logging.getLogger("streams.engine")


@dataclass(frozen=True)
class Subject:
    """The document a failure is recorded against."""

    ref: DocRef
    qbo_entity: str | None
    realm: str | None = None


class Failures:
    def __init__(
        self,
        parking: ParkingPort,
        idmap: IdMapPort,
        clock: Callable[[], datetime],
        *,
        retry: Backoff,
        config_retry: Backoff,
        max_attempts: int,
    ) -> None:
        self.parking = parking
        self.idmap = idmap
        self.clock = clock
        self.retry = retry
        # realm-wide problems: dead-lettering every document of the realm would only make work; a flat
        # short delay re-drove every document of every broken realm each minute and starved the healthy
        # realms sharing the worker. `connect` and `resync` bring them back at once.
        self.config_retry = config_retry
        self.max_attempts = max_attempts

    async def record(self, s: Subject, failure: Failure) -> SyncOutcome:
        """The outcome ``failure`` leaves for ``s`` (parked for a retry, a conflict, or dead)."""
        match failure.remedy:
            case Remedy.RETRY:
                attempts = await self.parking.attempts(s.ref)
                if attempts >= self.max_attempts:
                    return await self.dead(s, f"gave up after {attempts} attempts: {failure.reason}", failure)
                at = self.clock() + timedelta(seconds=self.retry.delay(attempts))
                log.warning("retry %s at %s: %s", s.ref, at.isoformat(), failure.reason)
                return await self._park_retry(s, failure.reason, at, failure)
            case Remedy.RATE_LIMITED:
                at = self.clock() + timedelta(seconds=failure.retry_after_s or 0.0)
                reason = f"QuickBooks rate limit for realm {s.realm}; retrying at {at.isoformat()}"
                return await self._park_retry(s, reason, at, failure)
            case Remedy.CONFIG:
                at = self.clock() + timedelta(seconds=self.config_retry.delay(await self.parking.attempts(s.ref)))
                log.error("config problem for realm %s, %s parked: %s", s.realm, s.ref, failure.reason)
                return await self._park_retry(s, failure.reason, at, failure)
            case Remedy.CONFLICT | Remedy.RESTART:  # stale on the second run too: a conflict
                return await self.conflict(s, failure.reason, fault=_fault(failure))
            case Remedy.DEAD:
                return await self.dead(s, failure.reason, failure)

    async def conflict(self, s: Subject, reason: str, *, fault: dict[str, Any] | None = None, qbo_id: str | None = None) -> SyncOutcome:
        """Parked until a person acts: the reason says what to do."""
        await self.parking.park(s.ref, "conflict", reason, fault=fault)
        await self._mark_error(s, reason)
        log.warning("conflict %s: %s", s.ref, reason)
        return SyncOutcome(kind=Kind.CONFLICT, ref=s.ref, qbo_entity=s.qbo_entity, qbo_id=qbo_id, reason=reason, fault=fault)

    async def dead(self, s: Subject, reason: str, failure: Failure | None = None, *, mark: bool = True) -> SyncOutcome:
        """Bad data or a refusal no retry fixes: the caller dead-letters the outcome."""
        fault = _fault(failure)
        await self.parking.park(s.ref, "dead", reason, fault=fault)
        if mark:
            await self._mark_error(s, reason)
        log.error("dead %s: %s", s.ref, reason)
        return SyncOutcome(kind=Kind.DEAD, ref=s.ref, qbo_entity=s.qbo_entity, reason=reason, fault=fault)

    async def _park_retry(self, s: Subject, reason: str, at: datetime, failure: Failure) -> SyncOutcome:
        fault = _fault(failure)
        await self.parking.park(s.ref, "retry", reason, next_attempt_at=at, fault=fault)
        return SyncOutcome(kind=Kind.RETRY_LATER, ref=s.ref, qbo_entity=s.qbo_entity, reason=reason, retry_at=at, fault=fault)

    async def _mark_error(self, s: Subject, reason: str) -> None:
        if s.ref.company_id is not None:
            await self.idmap.mark_error(s.ref.company_id, s.ref.entity_type, s.ref.local_id, reason)


def _fault(failure: Failure | None) -> dict[str, Any] | None:
    """What QBO said, as parking and the dead-letter topic keep it."""
    return failure.error.to_dict() if failure is not None and failure.error is not None else None
