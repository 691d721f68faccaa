"""Outbound agents: Debezium row topics -> ``bottleneck.documents`` -> sync engine -> QBO.

Two hops, both thin:
1. ``route_changes`` decodes each Debezium record, routes it to the documents it touches and re-keys
   them by company. Anything it cannot decode or route goes to the dead-letter topic with the original
   record; the records behind it keep flowing. A ``companies`` change goes to the onboarding step
   instead (``bottleneck_qbo.ops.onboarding``; the ``load_companies`` timer queues the load).
2. ``sync_documents`` takes small batches per partition, coalesces touches of the same document (a
   transaction inserting a header and its lines is one document, one read, one write), and runs the
   companies of a batch concurrently, each company's documents in order. The engine never sleeps: a
   realm that is rate limited or failing parks its documents and ``redrive_parked`` brings them back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from functools import partial
from typing import Any

from faust.types import StreamT

from bottleneck_qbo import metrics
from bottleneck_qbo.logs import log_context
from bottleneck_qbo.ops import onboarding
from connectors.debezium import ChangeEvent, DecodeError, decode
from streams.app import app, deadletter_topic, documents_topic, settings
from streams.deadletter import DeadLetter, OriginalRecord
from streams.delivery import manual_ack, send_acked, send_dead_letter
from streams.engine.outcome import Kind
from streams.engine.router import RoutingError, route_event
from streams.messages import DocumentTouch, Origin
from streams.processors.registry import REGISTRY
from streams.runtime import Runtime, get_runtime
from streams.topics import existing_cdc_topics

log = logging.getLogger(__name__)

# Every table of the source schema, known or not: an unknown table must reach the dead-letter topic
# with a reason rather than be silently ignored because nobody subscribed to it.
cdc_topic = app.topic(*existing_cdc_topics(settings), key_type=bytes, value_type=bytes)

SYNC_BATCH = 500
SYNC_WITHIN_S = 0.02


def _letter_context(letter: DeadLetter) -> dict[str, object]:
    """What the JSON log line carries (bottleneck_qbo.logs): which document, which record."""
    o = letter.original
    ctx = {"company_id": letter.company_id, "realm_id": letter.realm_id, "entity_type": letter.entity_type, "local_id": letter.local_id}
    if o is not None:
        ctx.update(topic=o.topic, partition=o.partition, offset=o.offset)
    return {k: v for k, v in ctx.items() if v is not None}


async def dead_letter(letter: DeadLetter) -> None:
    """Returns once the broker has acknowledged the letter (retrying until it does): only then may the
    offset of the record it stands for move."""
    metrics.dead_letters.labels(letter.stage, letter.failure_type).inc()
    log.warning("dead-letter %s/%s: %s", letter.stage, letter.failure_type, letter.reason[:2000], extra=_letter_context(letter))
    await send_dead_letter(deadletter_topic, letter, settings.deadletter_max_bytes)


ROUTE_IN_FLIGHT = 2000  # records whose touches are sent but not yet acknowledged by the broker


@app.agent(cdc_topic)
async def route_changes(stream: StreamT[Any]) -> None:
    rt = await get_runtime()
    # Manual acks: a record is acknowledged (its offset may be committed) only after its outcome -- the
    # document touches or a dead letter -- has been acknowledged by the broker. A worker stopped before
    # that reads the record again. The broker's acknowledgement is awaited off the agent's loop, so the
    # next records are routed (and their sends batched by the producer) meanwhile: one broker round trip
    # per batch of records, not per record. Faust commits an offset only once every record before it
    # is acknowledged, so acknowledging out of order moves no offset past an unfinished record.
    in_flight = asyncio.Semaphore(ROUTE_IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()
    async for event in manual_ack(stream).events():
        msg = event.message
        try:
            sent = await _route_record(rt, msg)
        except Exception as exc:  # a bug must not stop the agent, nor lose the record: dead-letter it
            log.exception("route: unexpected error on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            await dead_letter(
                DeadLetter(
                    stage="route",
                    failure_type="internal_error",
                    reason=f"unexpected error: {exc!r}"[:4000],
                    original=OriginalRecord.from_bytes(msg.topic, msg.partition, msg.offset, msg.key, msg.value),
                )
            )
            sent = []
        if not sent:
            await stream.ack(event)
            continue
        await in_flight.acquire()
        task = asyncio.ensure_future(_ack_when_delivered(stream, event, sent, in_flight))
        pending.add(task)
        task.add_done_callback(pending.discard)


async def _ack_when_delivered(
    stream: StreamT[Any], event: Any, sent: list[tuple[DocumentTouch, Any]], in_flight: asyncio.Semaphore
) -> None:
    """The record is done when the broker has every touch it produced (a refused one is resent)."""
    try:
        results = await asyncio.gather(*(fut for _touch, fut in sent), return_exceptions=True)
        for (touch, _fut), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                await send_acked(documents_topic, touch.key(), touch.to_bytes(), what=f"document touch {touch.ref}")
        await stream.ack(event)
    finally:
        in_flight.release()


async def _route_record(rt: Runtime, msg: Any) -> list[tuple[DocumentTouch, Any]]:
    """Route one record: dead letters are sent and awaited here (rare); the document touches are handed
    to the producer and returned with their delivery futures, for the caller to await."""
    original = partial(OriginalRecord.from_bytes, msg.topic, msg.partition, msg.offset, msg.key, msg.value)
    try:
        change = decode(msg.topic, msg.partition, msg.offset, msg.key, msg.value)
    except DecodeError as exc:
        await dead_letter(DeadLetter(stage="decode", failure_type=type(exc).__name__, reason=str(exc), original=original()))
        return []
    if not isinstance(change, ChangeEvent):  # tombstones and other non-row records carry nothing to sync
        return []
    table = change.source.table
    metrics.events_consumed.labels(table).inc()
    if table == "companies":
        # the onboarding step, not a document: awaited here, so the record is acknowledged only once
        # the company's state (and the initial load it may start) is committed
        await _observe_company(rt, change)
        return []
    try:
        refs = route_event(change, REGISTRY)
    except (RoutingError, RecursionError, ArithmeticError) as exc:
        await dead_letter(DeadLetter(stage="route", failure_type="unroutable", reason=f"{exc}"[:4000], original=original()))
        return []
    # source.txId, not transaction.id: the latter is "txId:LSN" and its LSN differs within a transaction
    origin = Origin(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        source_ts_ms=change.source.ts_ms,
        tx_id=str(change.txid) if change.txid is not None else None,
    )
    sent: list[tuple[DocumentTouch, Any]] = []
    for ref in refs:
        try:
            # the engine's one resolver (a lost Postgres connection is replaced by sinks/postgres.py)
            resolved = await rt.resolve_company(ref)
        except Exception as exc:  # an agent that raises stops consuming: dead-letter the record instead
            log.exception("route: cannot resolve the company of %s", ref)
            await dead_letter(
                DeadLetter(stage="route", failure_type="internal_error", reason=f"resolving {ref}: {exc}", original=original())
            )
            continue
        if resolved is None:
            await dead_letter(
                DeadLetter(
                    stage="route",
                    failure_type="missing_reference",
                    reason=f"{ref}: the row is gone and it was never synced, so its company is unknown",
                    entity_type=ref.entity_type,
                    local_id=str(ref.local_id),
                    original=original(),
                )
            )
            continue
        touch = DocumentTouch(ref=resolved, origin=origin)
        sent.append((touch, await documents_topic.send(key=touch.key(), value=touch.to_bytes())))
    return sent


async def _observe_company(rt: Runtime, change: ChangeEvent) -> None:
    if change.op not in ("c", "u", "r") or change.after is None:
        return  # a deleted company has nothing left to load
    job = await onboarding.observe_event(rt.db, change.after)
    if job is not None:
        log.info("company %s: initial load %s started or running", change.after["id"], job)


def _coalesce(touches: list[DocumentTouch]) -> OrderedDict[int, OrderedDict[tuple[str, int], DocumentTouch]]:
    """Group by company, then by document, keeping first-seen order and the oldest origin (for latency)
    and ``forced`` if any touch was a publish request."""
    by_company: OrderedDict[int, OrderedDict[tuple[str, int], DocumentTouch]] = OrderedDict()
    for t in touches:
        docs = by_company.setdefault(t.ref.company_id or 0, OrderedDict())
        k = (t.ref.entity_type, t.ref.local_id)
        seen = docs.get(k)
        if seen is None:
            docs[k] = t
        elif t.ref.forced and not seen.ref.forced:
            docs[k] = DocumentTouch(ref=t.ref, origin=seen.origin)
    return by_company


async def _sync_company(docs: OrderedDict[tuple[str, int], DocumentTouch]) -> None:
    rt = await get_runtime()
    touches = list(docs.values())
    first = touches[0].origin if touches else None
    # the batch's log lines carry the company and the first record; each outcome's its own document
    with log_context(company_id=touches[0].ref.company_id if touches else None, topic=first.topic if first else None):
        try:
            # one company's documents, in order, read together and written through QBO's batch API
            outcomes = await rt.engine.sync_many([t.ref for t in touches])
        except Exception as exc:  # a bug must not stop the agent (and the realms behind it): dead-letter them
            log.exception("sync: unexpected error on a batch of %d documents", len(touches))
            for touch in touches:
                await dead_letter(_letter(touch, "internal_error", f"unexpected error: {exc!r}"[:4000]))
            return
    for touch, outcome in zip(touches, outcomes, strict=True):
        metrics.documents_synced.labels(touch.ref.entity_type, outcome.kind.value).inc()
        if outcome.kind is Kind.SYNCED and touch.origin and touch.origin.source_ts_ms:
            metrics.commit_to_qbo_seconds.labels(touch.ref.entity_type).observe(max(0.0, time.time() - touch.origin.source_ts_ms / 1000))
        if outcome.kind is Kind.DEAD:
            o = touch.origin
            with log_context(
                company_id=touch.ref.company_id,
                entity_type=touch.ref.entity_type,
                local_id=touch.ref.local_id,
                topic=o.topic if o else None,
                partition=o.partition if o else None,
                offset=o.offset if o else None,
            ):
                await dead_letter(
                    _letter(touch, outcome.failure_type or "terminal", outcome.reason or "QBO refused the document", outcome.fault)
                )


def _letter(touch: DocumentTouch, failure_type: str, reason: str, fault: dict[str, Any] | None = None) -> DeadLetter:
    o = touch.origin
    return DeadLetter(
        stage="sync",
        failure_type=failure_type,
        reason=reason,
        company_id=touch.ref.company_id,
        entity_type=touch.ref.entity_type,
        local_id=str(touch.ref.local_id),
        fault=fault,
        # where the document was touched: `deadletters retry` re-drives it by its document
        original=OriginalRecord(topic=o.topic, partition=o.partition, offset=o.offset) if o else None,
    )


@app.agent(documents_topic)
async def sync_documents(stream: StreamT[Any]) -> None:
    async for batch in stream.take(SYNC_BATCH, within=SYNC_WITHIN_S):
        touches: list[DocumentTouch] = []
        for raw in batch:
            try:
                touches.append(DocumentTouch.from_bytes(raw))
            except ValueError as exc:
                await dead_letter(
                    DeadLetter(
                        stage="sync",
                        failure_type="malformed_document_touch",
                        reason=str(exc),
                        original=OriginalRecord.from_bytes(settings.documents_topic, None, None, None, raw),
                    )
                )
        by_company = _coalesce(touches)
        # Realms are independent: one slow or throttled realm must not hold up the others in the batch.
        await asyncio.gather(*(_sync_company(docs) for docs in by_company.values()))


@app.timer(interval=1.0)
async def redrive_parked() -> None:
    """Documents parked for a retry (transient error, rate limit, waiting on a dependency) whose time
    has come go back through the documents topic, so the partition owner syncs them in order.
    Every worker runs this: ``redrive_due`` leases each row, so two workers never re-drive the same one
    (and Faust's ``on_leader`` needs an assignor topic we do not declare)."""
    rt = await get_runtime()
    for ref in await rt.engine.redrive_due():
        touch = DocumentTouch(ref=ref, origin=Origin(topic="redrive"))
        await documents_topic.send(key=touch.key(), value=touch.to_bytes())


_load_offsets = onboarding.OffsetReader(settings)


@app.timer(interval=1.0)
async def load_companies() -> None:
    """Initial loads (``bottleneck_qbo.ops.onboarding``): queue the next batch of each running load whose
    last batch the worker group has consumed. Every worker runs this; each job is leased to one."""
    rt = await get_runtime()

    async def send(key: bytes, value: bytes) -> Any:
        return await documents_topic.send(key=key, value=value)

    try:
        await onboarding.drain(rt.db, settings, send, _load_offsets)
    except Exception:  # a timer that raises is not called again: log, and try on the next tick
        log.exception("onboarding: draining the initial loads failed; trying again")
