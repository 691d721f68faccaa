"""Resync: put chosen Bottleneck rows back through the pipeline without touching Debezium's offsets.

Two ways, both idempotent (unchanged payloads make no QBO call):
- ``enqueue_documents`` writes document touches straight to ``bottleneck.documents`` (fast, precise);
- ``request_incremental_snapshot`` asks Debezium, through its signal table, to re-read tables (or rows
  matching a filter) as ``op: r`` events that flow through the normal path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from kafka import KafkaProducer

from bottleneck_qbo.kafka_config import kafka_python_kwargs
from bottleneck_qbo.ops import reach
from bottleneck_qbo.settings import Settings, get_settings
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
    producer = KafkaProducer(**kafka_python_kwargs(get_settings(), bootstrap), acks="all", linger_ms=5, max_block_ms=5000)
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


@dataclass(frozen=True)
class Queued:
    ref: DocRef
    partition: int
    offset: int


def enqueue_tracked(settings: Settings, refs: Sequence[DocRef], *, origin: str = "resync") -> list[Queued]:
    """Like ``enqueue_documents``, returning where each touch landed so ``follow`` can tell when the
    worker has processed it."""
    producer = reach.kafka_producer(settings, acks="all", linger_ms=5)
    try:
        futures = []
        for ref in refs:
            touch = DocumentTouch(ref=ref, origin=Origin(topic=origin))
            futures.append((ref, producer.send(settings.documents_topic, key=touch.key(), value=touch.to_bytes())))
        producer.flush(timeout=30)
        out = []
        for ref, fut in futures:
            meta = fut.get(timeout=10)
            out.append(Queued(ref, meta.partition, meta.offset))
        return out
    finally:
        producer.close(timeout=5)


@dataclass
class Progress:
    total: int
    synced: int = 0  # written to QBO since the resync started (the id map's synced_at moved)
    parked: int = 0  # waiting, retrying, in conflict or dead since it started
    unchanged: int = 0  # processed by the worker with nothing to write (QBO already held it, or skipped)

    @property
    def done(self) -> int:
        return self.synced + self.parked + self.unchanged


def follow_once(settings: Settings, queued: Sequence[Queued], started: datetime) -> Progress:
    """Where the queued documents stand: from the id map (synced), sync_parking (parked) and the worker
    group's committed offsets on the documents topic (processed with no write)."""
    prog = Progress(total=len(queued))
    if not queued:
        return prog
    admin = reach.kafka_admin(settings)
    try:
        offsets = admin.list_group_offsets({settings.worker_id: None}).get(settings.worker_id, {})
    finally:
        admin.close()
    committed = {tp.partition: m.offset for tp, m in offsets.items() if tp.topic == settings.documents_topic}
    keys = ([q.ref.company_id for q in queued], [q.ref.entity_type for q in queued], [q.ref.local_id for q in queued])
    with reach.pg(settings) as conn:
        synced = {
            (r[0], r[1])
            for r in conn.execute(
                "select m.entity_type, m.local_id from qbo_sync.id_map m"
                " join unnest(%s::bigint[], %s::text[], %s::bigint[]) d(c, e, i)"
                " on (m.company_id, m.entity_type, m.local_id) = (d.c, d.e, d.i)"
                " where m.synced_at >= %s",
                (*keys, started),
            )
        }
        parked = {
            (r[0], r[1])
            for r in conn.execute(
                "select p.entity_type, p.local_id from qbo_sync.sync_parking p"
                " join unnest(%s::text[], %s::bigint[]) d(e, i) on (p.entity_type, p.local_id) = (d.e, d.i) where p.updated_at >= %s",
                (keys[1], keys[2], started),
            )
        }
    for q in queued:
        k = (q.ref.entity_type, q.ref.local_id)
        if k in synced:
            prog.synced += 1
        elif k in parked:
            prog.parked += 1
        elif (committed.get(q.partition) or -1) > q.offset:
            prog.unchanged += 1
    return prog


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
