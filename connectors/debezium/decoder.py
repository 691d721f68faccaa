"""Turn one Kafka record written by Debezium (JSON converter, ``schemas.enable=false``,
``decimal.handling.mode=string``) into a typed, trusted record.

Debezium's encodings per PostgreSQL type: ``numeric`` -> string, ``date`` -> days since 1970-01-01,
``timestamptz`` -> ISO-8601 string in UTC, ``jsonb`` -> a JSON document as a string, an unchanged TOASTed
value -> ``__debezium_unavailable_value``. Anything else is malformed and raises ``DecodeError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from connectors.debezium.columns import BOTTLENECK_TABLES, ColumnType, TableSpec
from connectors.debezium.errors import DecodeError, UnknownTableError
from connectors.debezium.models import (
    UNAVAILABLE,
    CdcRecord,
    ChangeEvent,
    Heartbeat,
    Position,
    Row,
    RowRef,
    Tombstone,
    TransactionMarker,
    Truncate,
)

PLACEHOLDER = "__debezium_unavailable_value"
HEARTBEAT_TOPIC_PREFIX = "__debezium-heartbeat."
_EPOCH = date(1970, 1, 1)
# Types PostgreSQL may TOAST (store out of line): only these can arrive as the placeholder.
_TOASTABLE = {ColumnType.TEXT, ColumnType.JSONB, ColumnType.NUMERIC}


class _Bad(Exception):
    """Internal: a reason, turned into a DecodeError with the record's position by the caller."""


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"expected an integer, got {v!r}")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad(f"expected a string, got {v!r}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"expected a boolean, got {v!r}")
    return v


def _numeric(v: Any) -> Decimal:
    # Strings only: a JSON number here means the connector is not in decimal.handling.mode=string and
    # the value may already have been rounded through a double.
    if not isinstance(v, str):
        raise _Bad(f"expected a numeric string, got {v!r}")
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise _Bad(f"not a decimal number: {v!r}") from None
    if not d.is_finite():
        raise _Bad(f"not a finite decimal number: {v!r}")
    return d


def _date(v: Any) -> date:
    days = _int(v)
    try:
        return _EPOCH + timedelta(days=days)
    except OverflowError:
        raise _Bad(f"date out of range: {days} days since 1970-01-01") from None


def _timestamptz(v: Any) -> datetime:
    s = _text(v)
    try:
        ts = datetime.fromisoformat(s)
    except ValueError:
        raise _Bad(f"not an ISO-8601 timestamp: {s!r}") from None
    if ts.tzinfo is None:
        raise _Bad(f"timestamp without a time zone: {s!r}")
    return ts


def _jsonb(v: Any) -> Any:
    s = _text(v)
    try:
        # parse_float=Decimal: amounts inside JSON documents stay exact too.
        return json.loads(s, parse_float=Decimal)
    except ValueError:
        raise _Bad(f"not a JSON document: {s[:80]!r}") from None
    except RecursionError:
        raise _Bad(f"JSON document nested too deeply to decode ({len(s)} characters): {s[:80]!r}") from None


_CONVERTERS: dict[ColumnType, Callable[[Any], Any]] = {
    ColumnType.BIGINT: _int,
    ColumnType.INTEGER: _int,
    ColumnType.TEXT: _text,
    ColumnType.BOOLEAN: _bool,
    ColumnType.NUMERIC: _numeric,
    ColumnType.DATE: _date,
    ColumnType.TIMESTAMPTZ: _timestamptz,
    ColumnType.JSONB: _jsonb,
}


def decode_row(spec: TableSpec, raw: Any, what: str) -> Row:
    """Decode one row image (``before``/``after``/key) of ``spec``'s table."""
    if not isinstance(raw, dict):
        raise _Bad(f"{what} is not an object: {raw!r:.80}")
    row: Row = {}
    for column, value in raw.items():
        ctype = spec.columns.get(column)
        if ctype is None:
            raise _Bad(f"{what} has column {column!r}, which {spec.schema}.{spec.name} does not have")
        if value is None:
            row[column] = None
        elif value == PLACEHOLDER and ctype in _TOASTABLE:
            row[column] = UNAVAILABLE
        else:
            try:
                row[column] = _CONVERTERS[ctype](value)
            except _Bad as exc:
                raise _Bad(f"{what}.{column} ({ctype.value}): {exc}") from None
    return row


def _json(data: bytes | None, what: str) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Bad(f"{what} is not JSON ({exc})") from None
    except RecursionError:
        raise _Bad(f"{what} is JSON nested too deeply to decode") from None


class Decoder:
    """Decodes records of the tables it is given (default: Bottleneck's)."""

    def __init__(self, tables: Mapping[str, TableSpec] = BOTTLENECK_TABLES) -> None:
        self.tables = tables

    def decode(
        self,
        topic: str,
        partition: int,
        offset: int,
        key_bytes: bytes | None,
        value_bytes: bytes | None,
    ) -> CdcRecord:
        raw = {"key_bytes": key_bytes, "value_bytes": value_bytes}
        pos = Position(topic=topic, partition=partition, offset=offset)
        try:
            return self._decode(pos, key_bytes, value_bytes)
        except UnknownTableError:
            raise
        except _Bad as exc:
            raise DecodeError(topic, partition, offset, str(exc), **raw) from None
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
            raise DecodeError(topic, partition, offset, f"bad envelope: {reason}", **raw) from None
        except (RecursionError, ArithmeticError) as exc:
            # Hostile or absurd input (nesting, a number no Decimal context can hold) is the record's fault.
            raise DecodeError(topic, partition, offset, f"cannot decode: {type(exc).__name__}: {exc}", **raw) from None

    def _decode(self, pos: Position, key_bytes: bytes | None, value_bytes: bytes | None) -> CdcRecord:
        topic = pos.topic
        if topic.startswith(HEARTBEAT_TOPIC_PREFIX):
            value = _json(value_bytes, "value")
            if not isinstance(value, dict):
                raise _Bad("heartbeat value is not an object")
            # Raw JSON goes through model_validate: pydantic checks it (ValidationError becomes a DecodeError above).
            return Heartbeat.model_validate({"position": pos, "ts_ms": value.get("ts_ms")})
        parts = topic.split(".")
        if len(parts) == 2 and parts[1] == "transaction":
            value = _json(value_bytes, "value")
            if not isinstance(value, dict):
                raise _Bad("transaction marker value is not an object")
            return TransactionMarker(position=pos, **value)
        if len(parts) != 3:
            raise _Bad(f"not a Debezium topic name (<prefix>.<schema>.<table>): {topic!r}")
        _, schema, table = parts
        spec = self.tables.get(table)
        if spec is None or spec.schema != schema:
            raise UnknownTableError(
                pos.topic,
                pos.partition,
                pos.offset,
                f"{schema}.{table}",
                key_bytes=key_bytes,
                value_bytes=value_bytes,
            )
        key_raw = _json(key_bytes, "key")
        if key_raw is None:
            raise _Bad("row record without a key")
        key = decode_row(spec, key_raw, "key")
        missing = [c for c in spec.primary_key if c not in key]
        if missing:
            raise _Bad(f"key lacks primary-key column(s) {missing}")
        value = _json(value_bytes, "value")
        if value is None:
            return Tombstone(position=pos, table=table, schema_=schema, key=key)
        if not isinstance(value, dict):
            raise _Bad("value is not an object")
        op = value.get("op")
        source = value.get("source")
        if not isinstance(source, dict):
            raise _Bad("envelope has no source block")
        if (source.get("schema"), source.get("table")) != (schema, table):
            raise _Bad(f"source names {source.get('schema')}.{source.get('table')} but the topic is {schema}.{table}")
        if op == "t":
            return Truncate.model_validate(
                {
                    "position": pos,
                    "table": table,
                    "schema": schema,
                    "source": source,
                    "transaction": value.get("transaction"),
                    "ts_ms": value.get("ts_ms"),
                }
            )
        if op not in ("c", "u", "d", "r"):
            raise _Bad(f"unknown op {op!r}")
        before = value.get("before")
        after = value.get("after")
        if op == "d" and after is not None:
            raise _Bad("delete with an after image")
        if op != "d" and after is None:
            raise _Bad(f"op {op!r} without an after image")
        return ChangeEvent.model_validate(
            {
                "position": pos,
                "op": op,
                "table": table,
                "schema": schema,
                "key": key,
                "before": None if before is None else decode_row(spec, before, "before"),
                "after": None if after is None else decode_row(spec, after, "after"),
                "source": source,
                "transaction": value.get("transaction"),
                "ts_ms": value.get("ts_ms"),
            }
        )


_DEFAULT = Decoder()


def decode(
    topic: str,
    partition: int,
    offset: int,
    key_bytes: bytes | None,
    value_bytes: bytes | None,
) -> CdcRecord:
    """Decode one record of Bottleneck's CDC topics. Raises ``DecodeError`` (``UnknownTableError`` for a
    table the decoder has no column types for)."""
    return _DEFAULT.decode(topic, partition, offset, key_bytes, value_bytes)


def row_ref(record: ChangeEvent | Tombstone, tables: Mapping[str, TableSpec] = BOTTLENECK_TABLES) -> RowRef:
    """The row's table and primary key (in the table's primary-key column order)."""
    spec = tables[record.table]
    return RowRef(table=record.table, key=tuple(record.key[c] for c in spec.primary_key))
