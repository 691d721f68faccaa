"""SyncOutcome: what happened to one document (the Faust layer logs it and dead-letters ``dead``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from streams.engine.docref import DocRef


class Kind(StrEnum):
    SYNCED = "synced"  # QBO was written (created, updated, voided, deleted, deactivated, adjusted)
    UNCHANGED = "unchanged"  # QBO already holds this state: no write
    SKIPPED = "skipped"  # not for QBO: draft, company without realm, manual mode, never synced
    WAITING = "waiting"  # a dependency failed; parked, re-driven when it syncs
    RETRY_LATER = "retry_later"  # transient failure or 429: parked until ``retry_at``
    CONFLICT = "conflict"  # QBO-side edits clash; parked with a readable reason
    DEAD = "dead"  # the record is bad: dead-letter it with the reason and the QBO fault


class SkipReason(StrEnum):
    DRAFT = "draft"
    NO_REALM = "no_realm"
    MANUAL_MODE = "manual_mode"
    NOT_IN_QBO = "not_in_qbo"  # deleted/voided in Bottleneck before it ever reached QBO
    NOT_FOUND = "not_found"  # the row no longer exists and never reached QBO
    NOT_APPLICABLE = "not_applicable"  # e.g. a quantity check for an item that is not tracked
    CYCLE = "cycle"


class SyncOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    ref: DocRef
    qbo_entity: str | None = None
    qbo_id: str | None = None
    action: str | None = None  # create / update / adopt / void / delete / deactivate / adjust
    reason: str | None = None  # human-readable, for logs, parking and the dead-letter topic
    skip: SkipReason | None = None
    waiting_on: DocRef | None = None
    retry_at: datetime | None = None
    fault: dict[str, Any] | None = None  # QboError.to_dict() when QBO said no

    @property
    def ok(self) -> bool:
        """The document is where it should be (or has no business in QBO)."""
        return self.kind in (Kind.SYNCED, Kind.UNCHANGED, Kind.SKIPPED)

    @property
    def failure_type(self) -> str | None:
        """How a failure is reported (sinks.qbo.errors.FailureType values; "terminal" for bad data)."""
        if self.ok:
            return None
        if self.fault and self.fault.get("failure_type"):
            return str(self.fault["failure_type"])
        return {Kind.CONFLICT: "conflict", Kind.RETRY_LATER: "transient", Kind.WAITING: "waiting"}.get(self.kind, "terminal")
