"""The CDC decoder on real Debezium output (tests/fixtures/debezium) and on malformed records."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.debezium import (
    BOTTLENECK_TABLES,
    UNAVAILABLE,
    ChangeEvent,
    ColumnType,
    DecodeError,
    Decoder,
    TableSpec,
    Tombstone,
    TransactionMarker,
    Truncate,
    UnknownTableError,
    decode,
    row_ref,
)
from connectors.debezium.columns import ColumnType as CT
from infra.bottleneck import SCHEMA_SQL
from tests.fixtures.schema_sql import fixture_tables, parse_tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "debezium"


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text())["events"]


def _b(obj: Any) -> bytes | None:
    return None if obj is None else json.dumps(obj).encode()


def _decode_all(events: list[dict[str, Any]], decoder: Decoder | None = None) -> list[Any]:
    dec = decoder or Decoder()
    return [dec.decode(e["topic"], 0, i, _b(e["key"]), _b(e["value"])) for i, e in enumerate(events)]


SCENARIO = _load("bottleneck-scenario.json")


def test_every_scenario_record_decodes_to_its_kind() -> None:
    kinds = Counter(type(r).__name__ for r in _decode_all(SCENARIO))
    assert kinds == {"ChangeEvent": 20, "TransactionMarker": 14}


def test_values_get_python_types_from_the_column_map() -> None:
    records = _decode_all(SCENARIO)
    lot = next(r for r in records if isinstance(r, ChangeEvent) and r.table == "lots" and r.op == "c")
    assert lot.after is not None
    assert lot.after["quantity_on_hand"] == Decimal("240.0000")
    assert isinstance(lot.after["unit_cost"], Decimal)
    assert lot.after["expires_on"] == date(2027, 5, 1)
    created = lot.after["created_at"]
    assert isinstance(created, datetime) and created.utcoffset() == UTC.utcoffset(None)

    discount = next(r for r in records if isinstance(r, ChangeEvent) and r.table == "items" and r.key == {"id": 3})
    assert discount.after is not None and discount.after["sales_price"] == Decimal("-5.0000")

    customer = next(r for r in records if isinstance(r, ChangeEvent) and r.table == "customers")
    assert customer.after is not None
    assert customer.after["billing_address"] == {
        "city": "Portland",
        "line1": "12 Market St",
        "region": "OR",
        "country": "US",
        "postal_code": "97201",
    }
    assert customer.after["payment_terms_days"] == 30 and customer.after["is_active"] is True


def test_snapshot_read_is_marked_and_carries_no_transaction() -> None:
    first = _decode_all(SCENARIO)[0]
    assert isinstance(first, ChangeEvent)
    assert first.op == "r" and first.is_snapshot and first.transaction is None
    assert first.source.snapshot == "last"


def test_toast_placeholder_becomes_the_unavailable_marker() -> None:
    updates = [r for r in _decode_all(SCENARIO) if isinstance(r, ChangeEvent) and r.table == "customers" and r.op == "u"]
    assert len(updates) == 1
    after = updates[0].after
    assert after is not None
    assert after["notes"] is UNAVAILABLE
    assert after["email"] == "billing@greengrocer.example"
    # The marker can never be serialized into a payload by accident.
    with pytest.raises(TypeError):
        json.dumps(after["notes"])
    notes: object = after["notes"]  # typed as the marker; the point is that it is no string
    assert notes != "__debezium_unavailable_value"


def test_transaction_metadata_groups_rows_and_end_counts_match() -> None:
    records = _decode_all(SCENARIO)
    rows_by_tx: dict[int, Counter[str]] = defaultdict(Counter)
    for r in records:
        if isinstance(r, ChangeEvent) and r.transaction is not None:
            assert r.transaction.txid == r.txid
            rows_by_tx[r.transaction.txid][f"{r.schema_}.{r.table}"] += 1
    ends = [r for r in records if isinstance(r, TransactionMarker) and r.status == "END"]
    assert len(ends) == 7
    for end in ends:
        assert end.event_count == sum(rows_by_tx[end.txid].values())
        assert {d.data_collection: d.event_count for d in end.data_collections or []} == dict(rows_by_tx[end.txid])
    invoice_tx = next(tx for tx, c in rows_by_tx.items() if "public.invoices" in c)
    assert rows_by_tx[invoice_tx] == {"public.invoices": 1, "public.invoice_lines": 2, "public.sales_orders": 1}


# The other fixture captures differently shaped tables (its "about" text gives their definitions).
SAMPLE_TABLES = {
    "customers": TableSpec(
        "customers", {"id": CT.BIGINT, "name": CT.TEXT, "email": CT.TEXT, "status": CT.TEXT, "updated_at": CT.TIMESTAMPTZ}
    ),
    "invoices": TableSpec(
        "invoices",
        {
            "id": CT.BIGINT,
            "customer_id": CT.BIGINT,
            "number": CT.TEXT,
            "status": CT.TEXT,
            "total": CT.NUMERIC,
            "issued_on": CT.DATE,
            "notes": CT.TEXT,
            "updated_at": CT.TIMESTAMPTZ,
        },
    ),
}


def test_delete_then_tombstone_and_full_replica_identity_before() -> None:
    records = _decode_all(_load("sample-events.json"), Decoder(SAMPLE_TABLES))
    delete_at = next(i for i, r in enumerate(records) if isinstance(r, ChangeEvent) and r.op == "d")
    delete, tomb = records[delete_at], records[delete_at + 1]
    assert isinstance(delete, ChangeEvent) and delete.after is None
    assert delete.before is not None and delete.before["total"] == Decimal("130.00")
    assert delete.row == delete.before
    assert isinstance(tomb, Tombstone)
    assert tomb.table == "invoices" and tomb.key == {"id": 1}
    assert row_ref(tomb, SAMPLE_TABLES) == row_ref(delete, SAMPLE_TABLES)
    assert row_ref(delete, SAMPLE_TABLES).key == (1,)


def test_default_decoder_refuses_a_table_it_has_no_columns_for() -> None:
    # sample-events' invoices has columns Bottleneck's invoices lack: a loud error, not a guess.
    e = next(e for e in _load("sample-events.json") if e["topic"].endswith("invoices") and e["value"])
    with pytest.raises(DecodeError, match="'total'"):
        decode(e["topic"], 0, 5, _b(e["key"]), _b(e["value"]))


def _scenario_event(table: str, op: str = "c") -> dict[str, Any]:
    return json.loads(json.dumps(next(e for e in SCENARIO if e["topic"].endswith(f".{table}") and e["value"] and e["value"]["op"] == op)))


def _decode_value(value: Any, topic: str = "bottleneck.public.lots", key: Any = None) -> Any:
    return decode(topic, 3, 42, _b({"id": 1} if key is None else key), value if isinstance(value, bytes) else _b(value))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda v: v["after"].update(quantity_on_hand=240.0), "quantity_on_hand (numeric): expected a numeric string"),
        (lambda v: v["after"].update(unit_cost="1,22"), "not a decimal number"),
        (lambda v: v["after"].update(unit_cost="NaN"), "not a finite decimal"),
        (lambda v: v["after"].update(expires_on="2027-05-01"), "expires_on (date): expected an integer"),
        (lambda v: v["after"].update(created_at="2026-11-26T12:02:49"), "without a time zone"),
        (lambda v: v["after"].update(created_at="yesterday"), "not an ISO-8601 timestamp"),
        (lambda v: v["after"].update(item_id="1"), "item_id (bigint): expected an integer"),
        (lambda v: v["after"].update(colour="red"), "column 'colour'"),
        (lambda v: v.update(op="x"), "unknown op 'x'"),
        (lambda v: v.update(after=None), "without an after image"),
        (lambda v: v.pop("source"), "no source block"),
        (lambda v: v["source"].update(table="items"), "source names public.items"),
        (lambda v: v.pop("ts_ms"), "bad envelope: ts_ms"),
    ],
)
def test_malformed_values_name_topic_partition_offset_and_reason(mutate: Any, reason: str) -> None:
    value = _scenario_event("lots")["value"]
    mutate(value)
    raw = _b(value)
    with pytest.raises(DecodeError) as info:
        _decode_value(raw)
    err = info.value
    assert not isinstance(err, UnknownTableError)
    assert (err.topic, err.partition, err.offset) == ("bottleneck.public.lots", 3, 42)
    assert "bottleneck.public.lots partition 3 offset 42" in str(err)
    assert reason in str(err)
    assert err.value_bytes == raw  # kept for the dead-letter topic


def test_jsonb_that_is_not_json_is_malformed() -> None:
    value = _scenario_event("customers")["value"]
    value["after"]["billing_address"] = "{not json"
    with pytest.raises(DecodeError, match=r"billing_address \(jsonb\): not a JSON document"):
        _decode_value(value, "bottleneck.public.customers")


def test_bytes_that_are_not_json() -> None:
    with pytest.raises(DecodeError, match="value is not JSON"):
        _decode_value(b"\xff\x00garbage")
    with pytest.raises(DecodeError, match="key is not JSON"):
        decode("bottleneck.public.lots", 0, 1, b"{", b"{}")


def test_key_without_primary_key_and_record_without_key() -> None:
    value = _scenario_event("lots")["value"]
    with pytest.raises(DecodeError, match="lacks primary-key"):
        _decode_value(value, key={})
    with pytest.raises(DecodeError, match="without a key"):
        decode("bottleneck.public.lots", 0, 1, None, _b(value))


def test_unknown_table_has_its_own_error_type() -> None:
    value = _scenario_event("lots")["value"]
    value["source"]["table"] = "widgets"
    with pytest.raises(UnknownTableError) as info:
        _decode_value(value, "bottleneck.public.widgets")
    assert info.value.table == "public.widgets"
    assert isinstance(info.value, DecodeError) and "offset 42" in str(info.value)
    # Tombstones of unknown tables, and tables in other schemas, too.
    with pytest.raises(UnknownTableError):
        decode("bottleneck.public.widgets", 0, 1, b'{"id": 1}', None)
    with pytest.raises(UnknownTableError):
        decode("bottleneck.qbo_sync.id_map", 0, 1, b'{"id": 1}', None)


def test_transaction_topic_malformed_and_bad_topic_names() -> None:
    with pytest.raises(DecodeError, match="bad envelope: status"):
        decode("bottleneck.transaction", 0, 7, b'{"id": "1:2"}', b'{"status": "MIDDLE", "id": "1:2", "ts_ms": 1}')
    with pytest.raises(DecodeError, match="not an object"):
        decode("bottleneck.transaction", 0, 7, b'{"id": "1:2"}', None)
    with pytest.raises(DecodeError, match="not a Debezium topic name"):
        decode("somethingelse", 0, 7, b"{}", b"{}")


def test_truncate_and_heartbeat_records() -> None:
    value = _scenario_event("lots")["value"]
    value.update(op="t", before=None, after=None)
    rec = _decode_value(value)
    assert isinstance(rec, Truncate) and rec.table == "lots"
    hb = decode("__debezium-heartbeat.bottleneck", 0, 1, b'{"serverName": "bottleneck"}', b'{"ts_ms": 1795694569039}')
    assert hb.kind == "heartbeat" and hb.ts_ms == 1795694569039


def test_column_map_matches_the_schema_migration_and_the_contract() -> None:
    type_names = {
        CT.BIGINT: "bigint",
        CT.INTEGER: "integer",
        CT.TEXT: "text",
        CT.BOOLEAN: "boolean",
        CT.NUMERIC: "numeric",
        CT.DATE: "date",
        CT.TIMESTAMPTZ: "timestamp with time zone",
        CT.JSONB: "jsonb",
    }
    ours = {t: {c: type_names[ct] for c, ct in spec.columns.items()} for t, spec in BOTTLENECK_TABLES.items()}
    migration = parse_tables(SCHEMA_SQL.read_text())
    assert ours == fixture_tables()
    assert migration == fixture_tables()
    assert set(type_names) == set(ColumnType)
