"""The dead-letter record: what a human needs to understand and re-drive a failed record.

Written to ``settings.deadletter_topic`` (keyed by company or realm). It carries the original Kafka
record untouched (base64 when not UTF-8), where it came from, the failure class, QBO's fault if any
and a readable reason. Nothing is dropped silently: whatever cannot be processed ends up here.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


class OriginalRecord(BaseModel):
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    value: str | None = None
    encoding: str = "utf-8"  # or "base64" when the bytes were not text

    @classmethod
    def from_bytes(cls, topic: str, partition: int | None, offset: int | None, key: bytes | None, value: bytes | None) -> OriginalRecord:
        try:
            k = key.decode() if key is not None else None
            v = value.decode() if value is not None else None
            return cls(topic=topic, partition=partition, offset=offset, key=k, value=v)
        except UnicodeDecodeError:
            return cls(topic=topic, partition=partition, offset=offset, key=_b64(key), value=_b64(value), encoding="base64")


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


class DeadLetter(BaseModel):
    stage: str  # decode | route | sync | inbound
    failure_type: str  # decode_error | unknown_table | terminal | conflict | config | missing_reference | ...
    reason: str  # a sentence a human can act on
    company_id: int | None = None
    realm_id: str | None = None
    entity_type: str | None = None
    local_id: str | None = None
    fault: dict[str, Any] | None = None  # QboError.to_dict() when QBO refused it
    original: OriginalRecord | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def key(self) -> bytes:
        return str(self.company_id if self.company_id is not None else self.realm_id or "unknown").encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
