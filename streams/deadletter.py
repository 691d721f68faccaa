"""The dead-letter record: what a human needs to understand and re-drive a failed record.

Written to ``settings.deadletter_topic`` (keyed by company or realm). It carries the original Kafka
record untouched (base64 when not UTF-8), where it came from, the failure class, QBO's fault if any
and a readable reason. Nothing is dropped silently: whatever cannot be processed ends up here.

A letter must fit the broker's record limit (``message.max.bytes``, ~1 MB, and the producer's
``max.request.size``): ``to_bytes(max_bytes)`` truncates the original record's key/value and the reason
to fit, and says so (``original.truncated``) with a pointer to the full record: its topic, partition and
offset (still in Kafka) plus its size and SHA-256, so the right record can be fetched and checked.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

DEFAULT_MAX_BYTES = 900_000  # under Kafka's ~1 MB default record limit, with room for headers


class OriginalRecord(BaseModel):
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    value: str | None = None
    encoding: str = "utf-8"  # or "base64" when the bytes were not text
    truncated: bool = False  # key/value cut to fit the broker; the full record is at topic/partition/offset
    value_size: int | None = None  # bytes of the original value (set when truncated)
    value_sha256: str | None = None  # of the original value bytes (set when truncated)

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

    def to_bytes(self, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
        """The letter as JSON, at most ``max_bytes`` long (see the module docstring)."""
        data = self.model_dump_json().encode()
        budget = max_bytes // 4  # characters kept of each of key, value and reason
        while len(data) > max_bytes and budget >= 16:
            # JSON escaping may grow a character to 6 bytes: halve until it fits
            data = self._truncated(budget).model_dump_json().encode()
            budget //= 2
        return data

    def _truncated(self, budget: int) -> DeadLetter:
        reason = self.reason if len(self.reason) <= budget else self.reason[:budget] + " [truncated]"
        original = self.original
        if original is not None:
            raw = _raw_value(original)
            original = original.model_copy(
                update={
                    "key": _cut(original.key, budget),
                    "value": _cut(original.value, budget),
                    "truncated": True,
                    "value_size": len(raw) if raw is not None else None,
                    "value_sha256": hashlib.sha256(raw).hexdigest() if raw is not None else None,
                }
            )
        return self.model_copy(update={"reason": reason, "original": original})


def _cut(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit]


def _raw_value(original: OriginalRecord) -> bytes | None:
    if original.value is None:
        return None
    if original.encoding == "base64":
        return base64.b64decode(original.value)
    return original.value.encode()
