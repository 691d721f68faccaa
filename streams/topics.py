"""Every topic the product uses, created explicitly with the partition counts we mean.

One list (``topic_specs``) for the stack, the tests and the Faust app: Debezium's topics (one per
captured table, the transaction topic, the heartbeat topic) and the app's own topics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from bottleneck_qbo.kafka_config import kafka_python_kwargs
from bottleneck_qbo.settings import Settings
from connectors.debezium.columns import BOTTLENECK_TABLES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def cdc_table_topic(settings: Settings, table: str, schema: str = "public") -> str:
    return f"{settings.topic_prefix}.{schema}.{table}"


def cdc_topics(settings: Settings) -> list[str]:
    """Debezium's row topics for Bottleneck's tables (what an outbound consumer subscribes to)."""
    return [cdc_table_topic(settings, spec.name, spec.schema) for spec in BOTTLENECK_TABLES.values()]


def existing_cdc_topics(settings: Settings, timeout_ms: int = 5000) -> list[str]:
    """``cdc_topics`` plus any other ``<prefix>.public.*`` topic on the broker: a table Bottleneck added
    and this version does not know must reach the dead-letter topic, not go unread. (Faust cannot
    subscribe by pattern, so the worker subscribes to this list when it starts.)"""
    known = cdc_topics(settings)
    prefix = f"{settings.topic_prefix}.public."
    try:
        admin = KafkaAdminClient(**kafka_python_kwargs(settings), client_id="bq-list-topics", request_timeout_ms=timeout_ms)
    except Exception as exc:
        log.warning("could not list topics (%s); subscribing to the known tables only", exc)
        return known
    try:
        extra = sorted(t for t in admin.list_topics() if t.startswith(prefix) and t not in known)
    finally:
        admin.close()
    return known + extra


def transaction_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.transaction"


def heartbeat_topic(settings: Settings) -> str:
    return f"__debezium-heartbeat.{settings.topic_prefix}"


def signal_topic(settings: Settings) -> str:
    """Debezium also emits the signal table's own rows (incremental-snapshot watermarks) here."""
    return f"{settings.topic_prefix}.cdc.debezium_signal"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    # Debezium's topics: the PostgreSQL connector runs one task, so more partitions buy no parallelism
    # upstream; one partition keeps each table's changes in commit order.
    n = settings.cdc_topic_partitions
    # History is kept for replays (resync from any point) unless topic_retention_ms sizes it.
    keep = {"retention.ms": str(settings.topic_retention_ms)}
    specs = [TopicSpec(t, n, dict(keep)) for t in cdc_topics(settings)]
    # Transaction markers must stay in order with respect to each other: one partition.
    specs.append(TopicSpec(transaction_topic(settings), 1, dict(keep)))
    one_day = {"retention.ms": str(24 * 3600 * 1000)}
    specs.append(TopicSpec(heartbeat_topic(settings), 1, dict(one_day)))
    specs.append(TopicSpec(signal_topic(settings), 1, dict(one_day)))
    p = settings.topic_partitions
    specs += [
        TopicSpec(settings.documents_topic, p),
        TopicSpec(settings.webhooks_topic, p, dict(keep)),
        TopicSpec(settings.payments_topic, p, dict(keep)),
        TopicSpec(settings.deadletter_topic, p, dict(keep)),
        # Faust's leader-election topic (``@app.timer(on_leader=True)``); Faust would otherwise log
        # "not found" at every start, since the app does not declare topics itself.
        TopicSpec(f"{settings.worker_id}-__assignor-__leader", 1),
    ]
    return specs


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create the missing topics; returns the names created. An existing topic with another partition
    count is left alone and logged (changing it would reorder keyed data)."""
    specs = topic_specs(settings) if specs is None else specs
    admin = KafkaAdminClient(**kafka_python_kwargs(settings), client_id="bq-ensure-topics")
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created: list[str] = []
        for spec in missing:
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, settings.topic_replication_factor, topic_configs=spec.config)], timeout_ms=30000
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process: fine
        present = [s for s in specs if s.name in existing]
        if present:
            want = {s.name: s.partitions for s in present}
            for desc in admin.describe_topics(list(want)):
                # kafka-python 2.x says "topic", 3.x "name".
                name = desc.get("name") or desc.get("topic")
                have = len(desc.get("partitions") or [])
                if name in want and have != want[name]:
                    log.warning("topic %s has %d partitions, configured %d: left as is", name, have, want[name])
        return created
    finally:
        admin.close()
