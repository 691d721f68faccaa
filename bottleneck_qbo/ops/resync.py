"""Resync: put chosen Bottleneck rows back through the pipeline without touching Debezium's offsets.

Two ways, both idempotent (unchanged payloads make no QBO call):
- ``enqueue_documents`` writes document touches straight to ``bottleneck.documents`` (fast, precise);
- ``request_incremental_snapshot`` asks Debezium, through its signal table, to re-read tables (or rows
  matching a filter) as ``op: r`` events that flow through the normal path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable

import psycopg
from kafka import KafkaProducer

from bottleneck_qbo.kafka_config import kafka_python_kwargs
from bottleneck_qbo.settings import get_settings
from streams.engine.docref import DocRef
from streams.messages import DocumentTouch, Origin

# entity type -> (table, extra filter) whose rows are that entity's documents, in dependency order.
RESYNC_SOURCES: dict[str, tuple[str, str]] = {
    "customer": ("customers", ""),
    "vendor": ("vendors", ""),
    "item_category": ("items", "and kind = 'inventory'"),
    "item": ("items", ""),
    "lot": ("lots", ""),
    "lot_quantity": ("lots", ""),
    "sales_order": ("sales_orders", ""),
    "invoice": ("invoices", ""),
    "purchase_order": ("purchase_orders", ""),
    "bill": ("bills", ""),
}


def company_refs(dsn: str, company_id: int, entity_types: Iterable[str] | None = None) -> list[DocRef]:
    wanted = list(entity_types) if entity_types else list(RESYNC_SOURCES)
    unknown = [e for e in wanted if e not in RESYNC_SOURCES]
    if unknown:
        raise ValueError(f"unknown entity type(s) {unknown}; known: {sorted(RESYNC_SOURCES)}")
    refs: list[DocRef] = []
    with psycopg.connect(dsn) as conn:
        for entity in wanted:
            table, extra = RESYNC_SOURCES[entity]
            rows = conn.execute(f"select id from public.{table} where company_id = %s {extra} order by id", (company_id,))
            refs.extend(DocRef(company_id=company_id, entity_type=entity, local_id=r[0], forced=True) for r in rows)
    return refs


def enqueue_documents(
    bootstrap: str, topic: str, refs: Iterable[DocRef], *, origin: str = "resync", progress: Callable[[int], None] | None = None
) -> int:
    """Write a document touch per ref; ``progress(1)`` after each (the CLI draws a progress bar)."""
    producer = KafkaProducer(**kafka_python_kwargs(get_settings(), bootstrap), acks="all", linger_ms=5)
    n = 0
    try:
        for ref in refs:
            touch = DocumentTouch(ref=ref, origin=Origin(topic=origin))
            producer.send(topic, key=touch.key(), value=touch.to_bytes())
            n += 1
            if progress is not None:
                progress(1)
        producer.flush()
    finally:
        producer.close()
    return n


def request_incremental_snapshot(dsn: str, signal_table: str, tables: list[str], where: str | None = None) -> str:
    """Insert an ``execute-snapshot`` signal; returns its id. ``where`` filters rows (SQL over the table)."""
    data: dict[str, object] = {"data-collections": [f"public.{t}" for t in tables], "type": "incremental"}
    if where:
        data["additional-conditions"] = [{"data-collection": f"public.{t}", "filter": where} for t in tables]
    signal_id = f"resnapshot-{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"insert into {signal_table} (id, type, data) values (%s, 'execute-snapshot', %s)",
            (signal_id, json.dumps(data)),
        )
    return signal_id
