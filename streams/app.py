"""The Faust app: topics declared explicitly, agents kept thin.

The domain logic (decoding, routing, mapping, idempotency) lives outside Faust, in ``bottleneck_qbo``,
``mappers`` and ``sinks``; the agents in ``streams.agents.outbound`` and ``streams.agents.inbound`` only move events
between topics and those functions. Run with ``bottleneck-qbo worker``.
"""

from __future__ import annotations

import logging

import faust

from bottleneck_qbo.kafka_config import faust_broker_kwargs
from bottleneck_qbo.settings import get_settings

settings = get_settings()
# One line per HTTP request is noise at the worker's volume; failures are logged by the client itself.
logging.getLogger("httpx").setLevel(logging.WARNING)

app = faust.App(
    settings.worker_id,
    **faust_broker_kwargs(settings),  # broker and broker_credentials (TLS, SASL)
    value_serializer="raw",
    key_serializer="raw",
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication_factor,
    # Topics are created by `streams.topics.ensure_topics`, with the partition counts we mean;
    # a topic Faust auto-created would not match its changelog (PartitionsMismatch).
    topic_allow_declare=False,
    web_host=settings.worker_web_host,
    web_port=settings.worker_web_port,
    web_bind=settings.worker_web_host,
    datadir=str(settings.worker_data_dir or settings.run_dir / "faust"),  # one per worker process
    store="memory://",
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    broker_commit_every=100,
    broker_commit_interval=1.0,
    stream_wait_empty=False,
    broker_session_timeout=settings.worker_session_timeout_s,
    broker_heartbeat_interval=settings.worker_heartbeat_interval_s,
    consumer_group_instance_id=settings.worker_instance_id or None,
    # The web port is public (Intuit's webhooks, the OAuth redirect): Faust's built-in views (/router,
    # /table, statistics, graph, performance) would show internals there, so none is served.
    web_router_enabled=False,
    web_tables_enabled=False,
    web_stats_enabled=False,
    web_graph_enabled=False,
    web_metrics_enabled=False,
)

# Debezium's row topics: one per captured table. Raw bytes in, decoded by connectors.debezium.
# (The outbound module builds the topic from the table registry.)
documents_topic = app.topic(settings.documents_topic, key_type=bytes, value_type=bytes, internal=False)
webhooks_topic = app.topic(settings.webhooks_topic, key_type=bytes, value_type=bytes, internal=False)
payments_topic = app.topic(settings.payments_topic, key_type=bytes, value_type=bytes, internal=False)
deadletter_topic = app.topic(settings.deadletter_topic, key_type=bytes, value_type=bytes, internal=False)


def register_modules() -> None:
    """Import the agent modules so their decorators register with ``app`` (explicit, not autodiscovery)."""
    from streams import admin, web  # noqa: F401
    from streams.agents import inbound, outbound  # noqa: F401

    drop_builtin_views()


def drop_builtin_views() -> None:
    """Faust mounts its index view at ``/`` whatever the settings say (it has no flag): take every
    built-in blueprint out before the server starts, so the public port serves only our pages."""
    blueprints = app.web.blueprints
    blueprints._enabled = [(prefix, bp) for prefix, bp in blueprints._enabled if not str(bp).startswith("faust.web.apps.")]
