"""Debezium change events from Bottleneck's tables, decoded into typed, trusted Python values."""

from connectors.debezium.columns import BOTTLENECK_TABLES, ColumnType, TableSpec, table_spec
from connectors.debezium.decoder import PLACEHOLDER, Decoder, decode, decode_row, row_ref
from connectors.debezium.errors import DecodeError, UnknownTableError
from connectors.debezium.models import (
    UNAVAILABLE,
    CdcRecord,
    ChangeEvent,
    DataCollectionCount,
    Heartbeat,
    Position,
    Row,
    RowRef,
    Source,
    Tombstone,
    TransactionMarker,
    TransactionRef,
    Truncate,
    Unavailable,
)

__all__ = [
    "BOTTLENECK_TABLES",
    "PLACEHOLDER",
    "UNAVAILABLE",
    "CdcRecord",
    "ChangeEvent",
    "ColumnType",
    "DataCollectionCount",
    "DecodeError",
    "Decoder",
    "Heartbeat",
    "Position",
    "Row",
    "RowRef",
    "Source",
    "TableSpec",
    "Tombstone",
    "TransactionMarker",
    "TransactionRef",
    "Truncate",
    "Unavailable",
    "UnknownTableError",
    "decode",
    "decode_row",
    "row_ref",
    "table_spec",
]
