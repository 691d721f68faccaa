"""Messages on the pipeline's own topics (no Faust import: the CLI and benchmarks produce them too)."""

from __future__ import annotations

from pydantic import BaseModel

from streams.engine.docref import DocRef


class Origin(BaseModel):
    """Where a document touch came from, for tracing and commit-to-QBO latency."""

    topic: str
    partition: int | None = None
    offset: int | None = None
    source_ts_ms: int | None = None  # Bottleneck commit time as Debezium saw it
    tx_id: str | None = None


class DocumentTouch(BaseModel):
    """One document of one company needs syncing. Keyed by company on ``bottleneck.documents`` so one
    partition (one worker at a time) owns each company's realm: its documents stay in order and its
    rate limiter is exact without a shared store."""

    ref: DocRef
    origin: Origin | None = None

    def key(self) -> bytes:
        return str(self.ref.company_id).encode()

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> DocumentTouch:
        return cls.model_validate_json(data)
