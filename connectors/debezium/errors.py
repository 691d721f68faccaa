"""Decoding errors. Each names where the record came from and keeps its raw bytes, so a dead-letter
writer can park the original record without losing anything."""

from __future__ import annotations


class DecodeError(ValueError):
    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
        *,
        key_bytes: bytes | None = None,
        value_bytes: bytes | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.reason = reason
        self.key_bytes = key_bytes
        self.value_bytes = value_bytes
        super().__init__(f"cannot decode {topic} partition {partition} offset {offset}: {reason}")


class UnknownTableError(DecodeError):
    """The record is well formed but its table is not one the decoder knows the columns of."""

    def __init__(self, topic: str, partition: int, offset: int, table: str, **raw: bytes | None) -> None:
        self.table = table
        super().__init__(topic, partition, offset, f"unknown table {table!r}", **raw)
