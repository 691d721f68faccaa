"""Bounded connections for the CLI and the status page: every network call gives up within seconds
with a sentence that says what to do, instead of hanging (kafka-python retries a missing broker for
30 s by default) or ending in a traceback."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from bottleneck_qbo.kafka_config import kafka_python_kwargs
from bottleneck_qbo.settings import Settings

CONNECT_TIMEOUT_S = 3.0
_KAFKA_TIMEOUTS: dict[str, Any] = {"bootstrap_timeout_ms": 4000, "reconnect_backoff_max_ms": 1000}


class Unreachable(RuntimeError):
    """A service did not answer; the message names it, where, and what to do."""


def _probe(what: str, host: str, port: int, hint: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return
    except OSError as exc:
        raise Unreachable(f"cannot reach {what} at {host}:{port} ({exc.strerror or exc}); {hint}") from None


_STACK_HINT = "is the stack up? (bottleneck-qbo stack up, or check BQ_{var})"


def pg(settings: Settings, **kwargs: Any) -> psycopg.Connection[Any]:
    """A Postgres connection that fails within CONNECT_TIMEOUT_S with a readable message."""
    try:
        return psycopg.connect(settings.postgres_dsn, connect_timeout=int(CONNECT_TIMEOUT_S), **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unreachable(
            f"cannot reach Postgres at {settings.pg_host}:{settings.pg_port} ({first}); " + _STACK_HINT.format(var="PG_HOST / BQ_PG_PORT")
        ) from None


def kafka_check(settings: Settings) -> None:
    first = settings.kafka_bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    _probe("Kafka", host or first, int(port or 9092), _STACK_HINT.format(var="KAFKA_BOOTSTRAP_SERVERS / BQ_KAFKA_PORT"))


def kafka_consumer(settings: Settings, **kwargs: Any) -> KafkaConsumer:
    kafka_check(settings)
    return KafkaConsumer(**{**kafka_python_kwargs(settings), **_KAFKA_TIMEOUTS, **kwargs})


def kafka_producer(settings: Settings, **kwargs: Any) -> KafkaProducer:
    kafka_check(settings)
    return KafkaProducer(**{**kafka_python_kwargs(settings), "max_block_ms": 5000, **_KAFKA_TIMEOUTS, **kwargs})


def kafka_admin(settings: Settings) -> KafkaAdminClient:
    kafka_check(settings)
    return KafkaAdminClient(**kafka_python_kwargs(settings), client_id="bottleneck-qbo-ops", request_timeout_ms=5000, **_KAFKA_TIMEOUTS)


def read_topic(settings: Settings, topic: str, start: Callable[[TopicPartition, int, int], int], **kwargs: Any) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` from ``start(tp, beginning, end)`` to the end each partition had when the
    read began; bounded: a broker that stops answering mid-read ends the read (after 1 s without records)."""
    consumer = kafka_consumer(settings, enable_auto_commit=False, **kwargs)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return
        consumer.assign(parts)
        ends, begins = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
        todo = []
        for tp in parts:
            first = max(start(tp, begins[tp], ends[tp]), begins[tp])
            if first < ends[tp]:
                consumer.seek(tp, first)
                todo.append(tp)
            else:
                consumer.pause(tp)
        while todo:
            got = consumer.poll(timeout_ms=1000)
            if not got:
                break
            for batch in got.values():
                yield from batch
            todo = [tp for tp in todo if consumer.position(tp) < ends[tp]]
    finally:
        consumer.close()
