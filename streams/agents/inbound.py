"""Inbound agents: QBO webhooks -> ``qbo.webhooks`` -> fetch payment -> ``bottleneck.payments`` -> Bottleneck.

Thin Faust shell over ``streams.inbound`` (which holds every decision and is tested without a
broker):
- ``POST /webhooks/qbo``: ``handle_webhook`` decides 401/413/400/200; accepted notifications are written
  to ``qbo.webhooks`` keyed by realm, and acknowledged by Kafka before the 200 (Intuit only moves on after
  a 200, and retries anything else, so answering 200 for a notification we then lose would lose it).
- ``fetch_payments`` (on ``qbo.webhooks``): fetch + map, publish to ``bottleneck.payments``, park for a
  retry, or dead-letter.
- ``write_payments`` (on ``bottleneck.payments``): the Bottleneck writer.
- timers: re-send due parked notifications; CDC poll of the connected realms whose partition this
  worker owns (first tick at start-up).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from aiokafka.partitioner import murmur2
from faust.types import TP, StreamT
from faust.web import Request, Response, View

from bottleneck_qbo import metrics
from bottleneck_qbo.ops.drift.detect import DriftDetector
from sinks.postgres import Database
from sinks.qbo.client import QboClient, RetryPolicy
from streams.app import app, deadletter_topic, documents_topic, payments_topic, settings, webhooks_topic
from streams.deadletter import DeadLetter, OriginalRecord
from streams.delivery import manual_ack, send_acked, send_once
from streams.inbound.cdc_poll import Changes, PgCheckpointStore
from streams.inbound.directory import PgDirectory, RealmCache
from streams.inbound.flow import InboundFlow, RecordMeta
from streams.inbound.receiver import WebhookResult, handle_webhook
from streams.messages import DocumentTouch, Origin
from streams.runtime import get_runtime

log = logging.getLogger(__name__)

# Intuit wants a 200 within 3 s; past this we answer 503 so Intuit retries rather than time out.
KAFKA_ACK_TIMEOUT_S = 2.0
RELEASE_TICK_S = 0.25
CDC_TICK_S = 1.0


async def _send_webhook(key: bytes, value: bytes) -> None:
    # One attempt: the webhook view answers 503 on failure (Intuit retries) and the CDC poll retries.
    await send_once(webhooks_topic, key, value)


async def _send_payment(key: bytes, value: bytes) -> None:
    # Sent on behalf of a qbo.webhooks record the agent acks only after this returns: retry, never drop.
    await send_acked(payments_topic, key, value, what="payment change")


async def _send_deadletter(key: bytes, value: bytes) -> None:
    await send_acked(deadletter_topic, key, value, what="inbound dead letter")


class _PoolDirectory:
    """``PgDirectory`` over the worker's pool (``sinks.postgres.Database``: it replaces lost connections)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def company_for_realm(self, realm_id: str) -> int | None:
        return await self._db.run(lambda conn: PgDirectory(conn).company_for_realm(realm_id))

    async def local_documents(self, realm_id: str, qbo_entity: str, qbo_ids: Sequence[str]) -> dict[str, int]:
        return await self._db.run(lambda conn: PgDirectory(conn).local_documents(realm_id, qbo_entity, qbo_ids))

    async def connected_realms(self) -> list[str]:
        return await self._db.run(lambda conn: PgDirectory(conn).connected_realms())

    async def connected_among(self, realm_ids: Sequence[str]) -> set[str]:
        return await self._db.run(lambda conn: PgDirectory(conn).connected_among(realm_ids))


class _PoolCheckpoints:
    """``PgCheckpointStore`` over the worker's pool."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, realm_id: str) -> datetime | None:
        return await self._db.run(lambda conn: PgCheckpointStore(conn).get(realm_id))

    async def set(self, realm_id: str, changed_since: datetime) -> None:
        await self._db.run(lambda conn: PgCheckpointStore(conn).set(realm_id, changed_since))


@dataclass
class InboundRuntime:
    flow: InboundFlow
    db: Database  # the worker's pool: directory, realms, checkpoints, the writer's transactions
    directory: _PoolDirectory
    realms: RealmCache = field(default_factory=RealmCache)
    next_cdc_poll: float = 0.0  # monotonic; 0 = poll at the first tick (start-up)


def _inbound_qbo_client(shared: QboClient) -> QboClient:
    """The worker's QBO client without its in-call retries: a failed read here is parked and retried
    by the flow (the agent never sleeps). Same tokens, per-realm limiters and stats as ``shared``; a
    second token manager could race the first on QBO's rotating refresh tokens."""
    return QboClient(
        base_url=shared.base_url,
        token_manager=shared.tokens,
        minor_version=shared.minor_version,
        timeout_s=settings.qbo_timeout_s,
        limiters=shared.limiters,
        retry=RetryPolicy(max_attempts=0, rate_limit_max_retries=0, local_wait_max_s=shared.retry.local_wait_max_s),
        stats=shared.stats,
    )


_runtime: InboundRuntime | None = None
_runtime_lock = asyncio.Lock()


async def get_inbound_runtime() -> InboundRuntime:
    """What the inbound agents need, once per process. The QBO client is the worker's shared one
    (``streams.runtime``: one per-realm limiter for every agent, 429s raised rather than slept through);
    and so is its Postgres pool (one reconnect policy: ``sinks.postgres``)."""
    global _runtime
    async with _runtime_lock:
        if _runtime is None:
            worker = await get_runtime()
            directory = _PoolDirectory(worker.db)
            api = _inbound_qbo_client(worker.qbo)
            drift = DriftDetector(worker.db, worker.qbo, worker.registry, worker.engine.accounts)
            flow = InboundFlow(
                settings,
                api,
                directory,
                send_webhook=_send_webhook,
                send_payment=_send_payment,
                send_deadletter=_send_deadletter,
                watch=drift.watched,
                on_changes=partial(_check_drift, drift),
            )
            _runtime = InboundRuntime(flow=flow, db=worker.db, directory=directory)
        return _runtime


async def _check_drift(drift: DriftDetector, realm_id: str, changes: Changes) -> None:
    """The drift check of one realm's CDC answer; its re-pushes go on the documents topic as forced
    touches, acknowledged by the broker before the poll moves the realm's checkpoint."""
    result = await drift.check(realm_id, changes)
    for ref in result.refs:
        touch = DocumentTouch(ref=ref, origin=Origin(topic="qbo.cdc"))
        await send_acked(documents_topic, touch.key(), touch.to_bytes(), what=f"drift re-push {ref}")
    if result.verdicts.get("drift") or result.verdicts.get("error"):
        log.info("inbound: drift check of realm %s: %s", realm_id, result.verdicts)


@app.page("/webhooks/qbo")
class QboWebhookView(View):
    async def post(self, request: Request) -> Response:
        limit = settings.webhook_max_body_bytes
        declared = request.content_length  # type: ignore[attr-defined]
        if declared is not None and declared > limit:
            return self.json({"error": f"body over the {limit}-byte limit"}, status=413)
        body = bytearray()
        async for chunk in request.content.iter_chunked(65536):  # type: ignore[attr-defined]
            body.extend(chunk)
            if len(body) > limit:
                break  # enough to say 413; never buffer an unbounded body
        rt = await get_inbound_runtime()
        result = handle_webhook(bytes(body), request.headers, settings, is_known_realm=rt.realms.__contains__)
        to_check = rt.realms.to_check(n.realm_id for n in result.dropped)
        if to_check:
            # Maybe a company connected since the cache was filled: ask Postgres once, then decide again.
            try:
                rt.realms.record(to_check, await rt.directory.connected_among(to_check))
            except psycopg.Error as exc:
                log.warning("webhook: cannot look up realms: %s", exc)
                return self.json({"error": "temporarily unavailable"}, status=503)
            result = handle_webhook(bytes(body), request.headers, settings, is_known_realm=rt.realms.__contains__)
        if result.status != 200:
            log.warning("webhook: answered %d: %s", result.status, result.reason)
            return self.json({"error": result.reason}, status=result.status)
        for n in result.dropped:
            log.warning(
                "webhook: dropping %s %s %s for realm %s: no Bottleneck company is connected to it",
                n.operation,
                n.entity,
                n.entity_id,
                n.realm_id,
            )
        try:
            await asyncio.wait_for(_publish(rt, result), KAFKA_ACK_TIMEOUT_S)
        except Exception as exc:  # Kafka unreachable or slow: let Intuit retry rather than lose it
            log.warning("webhook: could not write %d notification(s) to %s: %s", len(result.notifications), settings.webhooks_topic, exc)
            return self.json({"error": "temporarily unavailable"}, status=503)
        return self.json({"accepted": len(result.notifications), "dropped": len(result.dropped), "rejected": len(result.rejected)})


async def _publish(rt: InboundRuntime, result: WebhookResult) -> None:
    """The good notifications to qbo.webhooks, the malformed entities to the dead-letter topic, each
    acknowledged by the broker before the 200."""
    await rt.flow.publish_notifications(result.notifications)
    for bad in result.rejected:
        log.warning("webhook: dead-lettering %s: %s", bad.where, bad.reason)
        metrics.dead_letters.labels("webhook", "malformed_entity").inc()
        letter = DeadLetter(
            stage="webhook",
            failure_type="malformed_entity",
            reason=f"{bad.where}: {bad.reason}",
            realm_id=bad.realm_id,
            original=OriginalRecord(topic="POST /webhooks/qbo", value=json.dumps(bad.raw, default=str)),
        )
        await send_once(deadletter_topic, letter.key(), letter.to_bytes(settings.deadletter_max_bytes))


@app.agent(webhooks_topic)
async def fetch_payments(stream: StreamT[Any]) -> None:
    rt = await get_inbound_runtime()
    # Manual acks: a record is acknowledged only once its outcome (payment change, parking or dead letter)
    # is durable; a worker stopped before that reads it again.
    async for event in manual_ack(stream).events():
        msg = event.message
        meta = RecordMeta(msg.topic, msg.partition, msg.offset)
        try:
            await rt.flow.on_webhook_record(msg.key, msg.value, meta)
        except Exception as exc:  # a bug must neither stop the agent nor lose the record: dead-letter it
            log.exception("inbound: unexpected error on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            await rt.flow.dead_letter_record("internal_error", f"unexpected error: {exc!r}"[:4000], msg.key, msg.value, meta)
        await stream.ack(event)


@app.agent(payments_topic)
async def write_payments(stream: StreamT[Any]) -> None:
    rt = await get_inbound_runtime()
    async for event in manual_ack(stream).events():
        msg = event.message
        meta = RecordMeta(msg.topic, msg.partition, msg.offset)
        try:
            # a dropped connection is replaced and the write tried once more (sinks/postgres.py)
            await rt.db.run(partial(_write_payment, rt.flow, msg.key, msg.value, meta))
        except Exception as exc:
            log.exception("inbound: writing the payment of %s[%s]@%s failed", msg.topic, msg.partition, msg.offset)
            # Never skip a payment silently: it goes to the dead-letter topic, from where it can be re-driven.
            await rt.flow.dead_letter_record("writer_failed", f"writing the payment failed: {exc}", msg.key, msg.value, meta)
        await stream.ack(event)


async def _write_payment(flow: InboundFlow, key: bytes | None, value: bytes, meta: RecordMeta, conn: psycopg.AsyncConnection) -> None:
    await flow.on_payment_record(conn, key, value, meta)


@app.timer(interval=RELEASE_TICK_S)
async def release_parked() -> None:
    rt = await get_inbound_runtime()
    await rt.flow.release_due()


def owned_realms(realms: Sequence[str], assigned: Iterable[TP], topic: str, partitions: int) -> list[str]:
    """The realms whose ``qbo.webhooks`` partition this worker owns (keys are realm ids, partitioned the
    way the producer does: murmur2). With several workers each realm is polled by exactly one of them."""
    mine = {tp.partition for tp in assigned if tp.topic == topic}
    return [r for r in realms if ((murmur2(r.encode()) & 0x7FFFFFFF) % partitions) in mine]


@app.timer(interval=CDC_TICK_S)
async def poll_qbo_cdc() -> None:
    """Gap recovery. Ticks every second but polls every ``cdc_poll_interval_s`` (and at the first tick
    after partitions are assigned, i.e. at start-up), each realm by the worker that owns its partition."""
    rt = await get_inbound_runtime()
    now = time.monotonic()
    if now < rt.next_cdc_poll or app.consumer is None or app.rebalancing:
        return
    assigned = app.consumer.assignment()
    if not assigned:
        return
    rt.next_cdc_poll = now + settings.cdc_poll_interval_s
    try:
        realms = await rt.directory.connected_realms()
        rt.realms.replace(realms)
        mine = owned_realms(realms, assigned, webhooks_topic.get_topic_name(), settings.topic_partitions)
        found = await rt.flow.poll_cdc(_PoolCheckpoints(rt.db), mine)
    except psycopg.Error as exc:
        log.warning("inbound: CDC poll skipped, database unavailable: %s", exc)
        return
    if found:
        log.info("inbound: CDC poll found %d payment change(s) in %d realm(s)", found, len(mine))
