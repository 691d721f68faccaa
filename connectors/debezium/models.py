"""Typed Debezium records, as the rest of the code sees them after ``decode``.

Rows are plain dicts of trusted Python values (int, str, bool, Decimal, date, aware datetime, parsed JSON,
``None``) or the ``UNAVAILABLE`` marker for a TOASTed column Debezium could not see.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Unavailable(enum.Enum):
    """Debezium's ``__debezium_unavailable_value``: the column is unchanged and its value is unknown here.

    An enum member (not a string) so it can never be mistaken for data: ``json.dumps`` refuses it and
    equality with any real value is false. Merge it with the previous state or re-read the row.
    """

    UNAVAILABLE = "__debezium_unavailable_value"

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE = Unavailable.UNAVAILABLE

Row = dict[str, Any]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class Position(_Frozen):
    """Where a record came from: enough to name it in an error or a dead letter."""

    topic: str
    partition: int
    offset: int


class Source(_Frozen):
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    version: str
    connector: str
    name: str
    ts_ms: int
    snapshot: str = "false"
    db: str
    schema_: str = Field(alias="schema")
    table: str
    txId: int | None = None
    lsn: int | None = None
    sequence: str | None = None

    @field_validator("snapshot", mode="before")
    @classmethod
    def _snapshot_as_str(cls, v: Any) -> Any:
        # An io.debezium.data.Enum (a string), but older docs print a JSON boolean.
        if isinstance(v, bool):
            return "true" if v else "false"
        return v


class TransactionRef(_Frozen):
    id: str
    total_order: int
    data_collection_order: int

    @property
    def txid(self) -> int:
        """PostgreSQL's transaction id. Group on this, not on ``id``: Debezium's PostgreSQL ``id`` is
        ``txId:LSN`` and the LSN part differs between events of one transaction (seen in the fixtures)."""
        return int(self.id.split(":", 1)[0])


class ChangeEvent(_Frozen):
    """A row change (``c`` create, ``u`` update, ``d`` delete, ``r`` snapshot read)."""

    kind: Literal["change"] = "change"
    position: Position
    op: Literal["c", "u", "d", "r"]
    table: str
    schema_: str = Field(alias="schema")
    key: Row
    before: Row | None
    after: Row | None
    source: Source
    transaction: TransactionRef | None
    ts_ms: int

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, populate_by_name=True)

    @property
    def row(self) -> Row:
        """The row's latest known state: ``after``, or ``before`` for a delete."""
        row = self.after if self.after is not None else self.before
        return row if row is not None else dict(self.key)

    @property
    def is_snapshot(self) -> bool:
        return self.op == "r"

    @property
    def txid(self) -> int | None:
        return self.source.txId


class Tombstone(_Frozen):
    """The null-valued record after a delete (lets compaction drop the key)."""

    kind: Literal["tombstone"] = "tombstone"
    position: Position
    table: str
    schema_: str = Field(alias="schema")
    key: Row

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, populate_by_name=True)


class Truncate(_Frozen):
    """``op: t`` (only emitted when the connector's ``skipped.operations`` lets truncates through)."""

    kind: Literal["truncate"] = "truncate"
    position: Position
    table: str
    schema_: str = Field(alias="schema")
    source: Source
    transaction: TransactionRef | None
    ts_ms: int

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, populate_by_name=True)


class DataCollectionCount(_Frozen):
    data_collection: str
    event_count: int


class TransactionMarker(_Frozen):
    """BEGIN/END of a source transaction on ``<prefix>.transaction``. END carries the per-table counts,
    which is how a consumer knows it has every row of a transaction."""

    kind: Literal["transaction"] = "transaction"
    position: Position
    status: Literal["BEGIN", "END"]
    id: str
    event_count: int | None = None
    data_collections: list[DataCollectionCount] | None = None
    ts_ms: int

    @property
    def txid(self) -> int:
        return int(self.id.split(":", 1)[0])


class Heartbeat(_Frozen):
    """A record on ``__debezium-heartbeat.<prefix>``: the connector is alive; carries no data."""

    kind: Literal["heartbeat"] = "heartbeat"
    position: Position
    ts_ms: int


CdcRecord = ChangeEvent | Tombstone | Truncate | TransactionMarker | Heartbeat


class RowRef(_Frozen):
    """A row's identity: table and primary-key values (in primary-key column order)."""

    table: str
    key: tuple[Any, ...]
