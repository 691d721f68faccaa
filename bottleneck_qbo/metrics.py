"""Prometheus metrics of the worker (served as text at /metrics on the worker's web port).

Labels carry company/realm/entity only: never ids of people, never tokens.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()

events_consumed = Counter("bq_cdc_events_total", "Debezium change events consumed", ["table"], registry=REGISTRY)
documents_synced = Counter("bq_documents_total", "Document sync outcomes", ["entity_type", "outcome"], registry=REGISTRY)
dead_letters = Counter("bq_dead_letters_total", "Records sent to the dead-letter topic", ["stage", "failure_type"], registry=REGISTRY)
commit_to_qbo_seconds = Histogram(
    "bq_commit_to_qbo_seconds",
    "Time from the Bottleneck commit (Debezium source ts) to the QBO write",
    ["entity_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60),
    registry=REGISTRY,
)
parked_documents = Gauge("bq_parked_documents", "Documents waiting, in conflict or dead", ["kind"], registry=REGISTRY)
payments_written = Counter("bq_payments_written_total", "Payment rows upserted into Bottleneck", ["kind"], registry=REGISTRY)


def render() -> bytes:
    return generate_latest(REGISTRY)
