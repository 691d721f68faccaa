"""Bench figures for scaling out: a large CDC replay, replayed by 1 and by N workers in one run.

- ``ensure_replay_events``: the CDC topics hold at least N events. The missing ones are written with
  set-based SQL (``insert ... select generate_series``: customers of a few bench companies, one big
  transaction per company), then we wait until Debezium has put them on the topics. The bench
  companies are not connected to QBO, so a replay routes and resolves every event without a QBO call.
- ``replay_with_workers``: every worker stopped, the group rewound to offset zero, N workers started
  (``infra.stack.worker``: one consumer group, own ports); events/s until the group has caught up.

Debezium's topics have ``cdc_topic_partitions`` partitions (default 1): one partition is consumed by
one member, so with one CDC partition the route step cannot be split, and a second worker only shares
the per-document step (the documents topic has ``topic_partitions``). The figure says which case ran.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bottleneck_qbo.demo import seed
from bottleneck_qbo.settings import Settings

__all__ = ["cdc_partitions", "ensure_replay_events", "replay_with_workers"]

CDC_TOPICS = r"bottleneck\.public\..+"


def _total(settings: Settings) -> int:
    from bottleneck_qbo.bench.run import _total_messages

    return _total_messages(settings.kafka_bootstrap, CDC_TOPICS)


def cdc_partitions(settings: Settings) -> int:
    """Partitions of the customers topic (Debezium creates every table's topic alike)."""
    from kafka import KafkaConsumer

    from bottleneck_qbo.kafka_config import kafka_python_kwargs

    c = KafkaConsumer(**kafka_python_kwargs(settings, settings.kafka_bootstrap))
    try:
        return len(c.partitions_for_topic("bottleneck.public.customers") or ())
    finally:
        c.close()


def _documents_partition(company_id: int, partitions: int) -> int:
    """The documents-topic partition of a company's touches (key: the company id; Kafka's murmur2)."""
    from kafka.partitioner.default import murmur2

    return (murmur2(str(company_id).encode()) & 0x7FFFFFFF) % partitions


def _companies_over_all_partitions(settings: Settings, conn: psycopg.Connection[Any], stamp: str) -> list[int]:
    """One bench company per documents partition, so N workers all get documents to handle (companies
    that land on a partition already covered stay empty)."""
    partitions = settings.topic_partitions
    chosen: dict[int, int] = {}
    for k in range(20 * partitions):
        if len(chosen) == partitions:
            break
        company = seed.company(conn, f"Bench replay {stamp} {k}")  # no realm: the replay never calls QBO for it
        chosen.setdefault(_documents_partition(company, partitions), company)
    return list(chosen.values())


def ensure_replay_events(settings: Settings, conn: psycopg.Connection[Any], events: int, timeout_s: float = 900.0) -> dict[str, float]:
    """Top the CDC topics up to ``events`` events; returns how many were added and how fast."""
    have = _total(settings)
    missing = max(0, events - have)
    if missing == 0:
        return {"events_on_topics": float(have), "events_added": 0.0}
    stamp = time.strftime("%Y%m%d%H%M%S")
    t0 = time.perf_counter()
    companies = _companies_over_all_partitions(settings, conn, stamp)
    per_company = -(-missing // len(companies))
    for company in companies:
        with conn.transaction():
            conn.execute(
                "insert into customers (company_id, name, email, payment_terms_days, notes)"
                " select %s, 'Replay customer ' || g, 'replay' || g || '@example.com', 30, 'bench'"
                " from generate_series(1, %s) g",
                (company, per_company),
            )
    written_s = time.perf_counter() - t0
    target = have + len(companies) * per_company  # (plus the companies' own rows)
    deadline = time.monotonic() + timeout_s
    while (now := _total(settings)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"Debezium put {now - have} of {target - have} events on the topics in {timeout_s:.0f} s")
        time.sleep(1.0)
    return {
        "events_on_topics": float(now),
        "events_added": float(now - have),
        "sql_seconds": written_s,
        "debezium_seconds": time.perf_counter() - t0,
    }


def replay_with_workers(settings: Settings, workers: int) -> dict[str, float]:
    """Replay from offset zero with ``workers`` workers in the group; events/s until caught up."""
    from bottleneck_qbo.bench.run import _reset_offsets_when_group_empty, _sandbox_writes, replay_clock
    from infra.stack.worker import Worker
    from infra.stack.worker import workers as stack_workers

    for w in stack_workers(settings):
        w.stop()
    team = [Worker(settings, k) for k in range(1, workers + 1)]
    writes_before = _sandbox_writes(settings)
    _reset_offsets_when_group_empty(settings)
    total = _total(settings)
    t0 = time.perf_counter()
    for w in team:
        w.start()
    for w in team:
        w.wait_healthy()
    clock = replay_clock(settings, total, t0)
    writes = _sandbox_writes(settings) - writes_before
    for w in team[1:]:
        w.stop()  # leave the stack as it was: one worker (instance 1 keeps running)
    return {
        "workers": float(workers),
        "events": float(total),
        **clock,
        "qbo_writes": float(writes),
        "cdc_partitions": float(cdc_partitions(settings)),
        "documents_partitions": float(settings.topic_partitions),
    }
