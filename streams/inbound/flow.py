"""The inbound flow between topics, without Faust: what each record does and what gets sent where.

``streams.agents.inbound`` hands Kafka records to an ``InboundFlow`` and gives it three send functions; tests
hand it records directly. Nothing here sleeps: a notification that must wait is parked and re-sent to
``qbo.webhooks`` by ``release_due`` (a timer), so one stuck payment never holds up the others.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import psycopg
from pydantic import ValidationError

from bottleneck_qbo import metrics
from bottleneck_qbo.settings import Settings
from mappers.payments import PaymentChange
from sinks.bottleneck_writer import PaymentWriteError, WriteResult, apply_payment_change
from sinks.qbo.api import QboApi
from streams.deadletter import DeadLetter, OriginalRecord
from streams.inbound.cdc_poll import CheckpointStore, OnChanges, poll_realm
from streams.inbound.directory import Directory
from streams.inbound.notifications import Notification
from streams.inbound.parking import Envelope, ParkingLot, retry_delay
from streams.inbound.payments import process_notification

log = logging.getLogger(__name__)

Send = Callable[[bytes, bytes], Awaitable[None]]  # (key, value)
CDC_MAX_PAUSE_S = 3600.0
Handled = Literal["published", "parked", "dead_lettered", "ignored", "duplicate"]


@dataclass(frozen=True)
class RecordMeta:
    """Where a record came from (kept in dead letters so it can be found and re-driven)."""

    topic: str
    partition: int | None = None
    offset: int | None = None


class RecentKeys:
    """A bounded set of recently completed dedupe keys (a redelivered webhook costs no QBO call)."""

    def __init__(self, size: int = 10_000) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)


def envelope_bytes(n: Notification, attempt: int = 0, last_reason: str | None = None) -> bytes:
    return Envelope(notification=n, attempt=attempt, last_reason=last_reason).model_dump_json().encode()


class InboundFlow:
    def __init__(
        self,
        settings: Settings,
        api: QboApi,
        directory: Directory,
        *,
        send_webhook: Send,
        send_payment: Send,
        send_deadletter: Send,
        clock: Callable[[], float] = time.monotonic,
        watch: Sequence[str] = (),
        on_changes: OnChanges | None = None,
    ) -> None:
        self.settings = settings
        self.api = api
        self.directory = directory
        self.parking = ParkingLot()
        self.recent = RecentKeys()
        self._send_webhook = send_webhook
        self._send_payment = send_payment
        self._send_deadletter = send_deadletter
        self._clock = clock
        # the entities the product writes, watched for drift by ``on_changes`` (the CDC answer, each poll)
        self.watch = tuple(watch)
        self.on_changes = on_changes
        self._cdc_backoff: dict[str, tuple[int, float]] = {}  # realm -> (failures in a row, monotonic not-before)

    # --- qbo.webhooks ---------------------------------------------------------------------------------

    async def publish_notifications(self, notifications: Sequence[Notification]) -> None:
        """Put notifications on ``qbo.webhooks``, keyed by realm (one realm's events stay in order)."""
        for n in notifications:
            await self._send_webhook(n.realm_id.encode(), envelope_bytes(n))

    async def on_webhook_record(self, key: bytes | None, value: bytes, meta: RecordMeta) -> Handled:
        try:
            env = Envelope.model_validate_json(value)
        except ValidationError as exc:
            await self._dead_letter("decode_error", f"not a qbo.webhooks envelope: {exc.errors()[0]['msg']}", None, None, key, value, meta)
            return "dead_lettered"
        except (RecursionError, ValueError) as exc:
            await self._dead_letter("decode_error", f"not a qbo.webhooks envelope: {type(exc).__name__}", None, None, key, value, meta)
            return "dead_lettered"
        n = env.notification
        if n.dedupe_key in self.recent:
            return "duplicate"
        final = env.attempt + 1 >= self.settings.retry_max_attempts
        try:
            outcome = await process_notification(self.api, self.directory, n, final_attempt=final)
        except psycopg.Error as exc:
            # The database (id map, companies) is unreachable: wait like any transient failure.
            return await self._park_or_dead_letter(env, f"database error while resolving: {exc}", None, key, value, meta)
        if outcome.action == "ignore":
            log.info("inbound: %s %s %s ignored: %s", n.operation, n.entity, n.entity_id, outcome.reason)
            self.recent.add(n.dedupe_key)
            return "ignored"
        if outcome.action == "retry":
            return await self._park_or_dead_letter(env, outcome.reason, outcome.retry_after_s, key, value, meta)
        if outcome.action == "dead_letter":
            await self._dead_letter(outcome.failure_type, outcome.reason, n, None, key, value, meta, fault=outcome.fault)
            self.recent.add(n.dedupe_key)
            return "dead_lettered"
        assert outcome.change is not None
        await self._send_payment(n.realm_id.encode(), outcome.change.model_dump_json().encode())
        self.recent.add(n.dedupe_key)
        if outcome.unresolved:
            await self._dead_letter("missing_reference", outcome.reason, n, outcome.change.company_id, key, value, meta)
            return "dead_lettered"
        return "published"

    async def _park_or_dead_letter(
        self, env: Envelope, reason: str, retry_after_s: float | None, key: bytes | None, value: bytes, meta: RecordMeta
    ) -> Handled:
        n = env.notification
        if env.attempt + 1 >= self.settings.retry_max_attempts:
            await self._dead_letter("retries_exhausted", f"{reason} (after {env.attempt + 1} attempts)", n, None, key, value, meta)
            return "dead_lettered"
        delay = retry_delay(env.attempt, self.settings.retry_base_delay_s, self.settings.retry_max_delay_s)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        log.info("inbound: %s %s %s parked for %.1fs (attempt %d): %s", n.operation, n.entity, n.entity_id, delay, env.attempt + 1, reason)
        self.parking.park(Envelope(notification=n, attempt=env.attempt + 1, last_reason=reason), self._clock() + delay)
        return "parked"

    async def release_due(self) -> int:
        """Re-send parked notifications whose time has come. Returns how many."""
        due = self.parking.pop_due(self._clock())
        for env in due:
            await self._send_webhook(env.notification.realm_id.encode(), env.model_dump_json().encode())
        return len(due)

    # --- bottleneck.payments -------------------------------------------------------------------------

    async def on_payment_record(
        self, conn: psycopg.AsyncConnection, key: bytes | None, value: bytes, meta: RecordMeta
    ) -> WriteResult | None:
        try:
            change = PaymentChange.model_validate_json(value)
        except ValidationError as exc:
            await self._dead_letter("decode_error", f"not a payment change: {exc.errors()[0]['msg']}", None, None, key, value, meta)
            return None
        except (RecursionError, ValueError) as exc:
            await self._dead_letter("decode_error", f"not a payment change: {type(exc).__name__}", None, None, key, value, meta)
            return None
        try:
            result = await apply_payment_change(conn, change)
        except PaymentWriteError as exc:
            await self._dead_letter("terminal", str(exc), None, change.company_id, key, value, meta, realm_id=change.realm_id)
            return None
        if result.changed:
            metrics.payments_written.labels(change.kind).inc(result.inserted + result.updated + result.voided)
            log.info(
                "inbound: %s payment %s (company %s): %d inserted, %d updated, %d voided",
                change.kind,
                change.qbo_payment_id,
                change.company_id,
                result.inserted,
                result.updated,
                result.voided,
            )
        return result

    # --- gap recovery ---------------------------------------------------------------------------------

    async def poll_cdc(self, store: CheckpointStore, realms: Sequence[str]) -> int:
        """One CDC poll of each realm. A realm that fails (QBO down, connection revoked) is logged and
        skipped with a growing pause, so a dead realm neither spams the log nor costs a call per tick."""
        total = 0
        now = self._clock()
        for realm in realms:
            failures, not_before = self._cdc_backoff.get(realm, (0, 0.0))
            if now < not_before:
                continue
            try:
                found = await poll_realm(
                    self.api,
                    store,
                    realm,
                    self.publish_notifications,
                    initial_lookback=timedelta(seconds=self.settings.cdc_initial_lookback_s),
                    overlap=timedelta(seconds=self.settings.cdc_overlap_s),
                    hold_back=self.parking.oldest_occurred_at(realm),
                    watch=self.watch,
                    on_changes=self.on_changes,
                )
            except Exception as exc:  # one realm's failure must not stop the others
                pause = retry_delay(failures, self.settings.cdc_poll_interval_s, CDC_MAX_PAUSE_S)
                self._cdc_backoff[realm] = (failures + 1, now + pause)
                log.warning("inbound: CDC poll of realm %s failed (%d in a row; next try in %.0fs): %s", realm, failures + 1, pause, exc)
                continue
            self._cdc_backoff.pop(realm, None)
            total += len(found)
        return total

    # --- dead letters ---------------------------------------------------------------------------------

    async def dead_letter_record(self, failure_type: str, reason: str, key: bytes | None, value: bytes, meta: RecordMeta) -> None:
        """Dead-letter a record the caller could not process (e.g. the database stayed down)."""
        await self._dead_letter(failure_type, reason, None, None, key, value, meta)

    async def _dead_letter(
        self,
        failure_type: str,
        reason: str,
        n: Notification | None,
        company_id: int | None,
        key: bytes | None,
        value: bytes,
        meta: RecordMeta,
        *,
        realm_id: str | None = None,
        fault: dict[str, Any] | None = None,
    ) -> None:
        log.warning("inbound: dead-lettered (%s): %s", failure_type, reason)
        metrics.dead_letters.labels("inbound", failure_type).inc()
        letter = DeadLetter(
            stage="inbound",
            failure_type=failure_type,
            reason=reason,
            company_id=company_id,
            realm_id=n.realm_id if n else realm_id,
            entity_type=n.entity if n else None,
            local_id=None,
            fault=fault,
            original=OriginalRecord.from_bytes(meta.topic, meta.partition, meta.offset, key, value),
        )
        await self._send_deadletter(letter.key(), letter.to_bytes(self.settings.deadletter_max_bytes))
