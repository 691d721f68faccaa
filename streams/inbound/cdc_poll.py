"""Gap recovery: ask QBO's CDC endpoint what payments changed since a stored checkpoint.

Webhooks can be missed (receiver down) or arrive out of order; the poll turns every Payment/BillPayment
changed since the realm's checkpoint into the same ``Notification`` the webhook path makes, so both paths
converge through one agent and duplicates are harmless (the writer is idempotent). The checkpoint moves
only after the notifications are handed over, and trails "now" by an overlap so a change QBO commits
while we poll is seen by the next poll.

The same call also asks for the entities the product writes (``watch``) and hands the whole answer to
``on_changes`` (the drift check) before the checkpoint moves. QBO answers at most 1000 objects per call,
shared by every entity asked for: when an answer is full, each entity is asked on its own and the
checkpoint is held at the last change of any entity still cut off, so nothing is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import psycopg

from mappers.payments import PAYMENT_ENTITIES
from sinks.qbo.api import QboApi
from streams.inbound.notifications import QBO_ID, Notification

log = logging.getLogger(__name__)

# QBO answers CDC for at most 30 days back (qbo.md 9); stay inside it with a margin.
MAX_LOOKBACK = timedelta(days=30) - timedelta(minutes=5)
# QBO returns at most this many objects per CDC answer, shared across the entities asked for (qbo.md 9).
MAX_CDC_OBJECTS = 1000

Changes = Mapping[str, Sequence[Mapping[str, Any]]]
OnChanges = Callable[[str, Changes], Awaitable[None]]


class CheckpointStore(Protocol):
    async def get(self, realm_id: str) -> datetime | None: ...

    async def set(self, realm_id: str, changed_since: datetime) -> None: ...


class PgCheckpointStore:
    """``qbo_sync.cdc_checkpoints(realm_id, changed_since)`` over an autocommit async connection."""

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self._conn = conn

    async def get(self, realm_id: str) -> datetime | None:
        cur = await self._conn.execute("select changed_since from qbo_sync.cdc_checkpoints where realm_id = %s", (realm_id,))
        row = await cur.fetchone()
        return row[0] if row else None

    async def set(self, realm_id: str, changed_since: datetime) -> None:
        await self._conn.execute(
            "insert into qbo_sync.cdc_checkpoints (realm_id, changed_since) values (%s, %s)"
            " on conflict (realm_id) do update set changed_since = excluded.changed_since, updated_at = now()",
            (realm_id, changed_since),
        )


def _last_updated(obj: Mapping[str, Any]) -> datetime | None:
    meta = obj.get("MetaData")
    text = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def notifications_from_cdc(realm_id: str, changes: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Notification]:
    """One notification per changed payment; deleted ones (``status: Deleted``) as Delete."""
    out: list[Notification] = []
    for entity in PAYMENT_ENTITIES:
        for obj in changes.get(entity, ()):
            qbo_id = obj.get("Id")
            if qbo_id is None:
                continue
            if not QBO_ID.fullmatch(str(qbo_id)):
                # Never into a URL path; one odd entry must not fail the realm's whole poll either.
                log.warning("inbound: CDC of realm %s: skipping %s with a malformed Id %.40r", realm_id, entity, qbo_id)
                continue
            updated = _last_updated(obj)
            operation: Literal["Delete", "Update"] = "Delete" if obj.get("status") == "Deleted" else "Update"
            out.append(
                Notification(
                    realm_id=realm_id,
                    entity=entity,
                    entity_id=str(qbo_id),
                    operation=operation,
                    occurred_at=updated,
                    # Same change seen by two polls (the overlap) -> same key -> fetched once. SyncToken is
                    # in it because LastUpdatedTime has whole seconds: a create and a void in the same
                    # second differ only there.
                    dedupe_key=(
                        f"cdc:{realm_id}:{entity}:{qbo_id}:{operation}:{obj.get('SyncToken', '')}:{updated.isoformat() if updated else ''}"
                    ),
                    source="cdc",
                )
            )
    return out


def poll_window_start(stored: datetime | None, now: datetime, initial_lookback: timedelta) -> datetime:
    """Where this poll starts: the stored checkpoint, or ``initial_lookback`` before now for a new realm,
    never further back than QBO allows."""
    start = stored if stored is not None else now - initial_lookback
    return max(start, now - MAX_LOOKBACK)


def next_checkpoint(polled_at: datetime, overlap: timedelta, hold_back: datetime | None, current: datetime) -> datetime:
    """The checkpoint after a successful poll: ``overlap`` before the poll started, not past ``hold_back``
    (the oldest change still waiting for a retry), and never backwards."""
    candidate = polled_at - overlap
    if hold_back is not None:
        candidate = min(candidate, hold_back)
    return max(candidate, current)


def _size(changes: Changes) -> int:
    return sum(len(v) for v in changes.values() if isinstance(v, Sequence))


def cut_off_at(objects: Sequence[Mapping[str, Any]]) -> datetime | None:
    """Where a full answer for one entity ends (QBO orders each entity's objects by LastUpdatedTime):
    changes after this time may be missing."""
    times = [t for t in (_last_updated(o) for o in objects if isinstance(o, Mapping)) if t is not None]
    return max(times) if times else None


async def read_changes(api: QboApi, realm_id: str, entities: Sequence[str], start: datetime) -> tuple[Changes, datetime | None]:
    """Every entity's changes since ``start``, and the time the checkpoint must not pass (None: all read)."""
    changes = await api.cdc(realm_id, list(entities), start)
    if _size(changes) < MAX_CDC_OBJECTS or len(entities) == 1:
        held = cut_off_at(changes.get(entities[0], ())) if _size(changes) >= MAX_CDC_OBJECTS else None
        return changes, held
    log.warning("inbound: CDC of realm %s answered %d objects (QBO's cap); asking per entity", realm_id, MAX_CDC_OBJECTS)
    out: dict[str, Sequence[Mapping[str, Any]]] = {}
    held = None
    for entity in entities:
        one = await api.cdc(realm_id, [entity], start)
        out[entity] = list(one.get(entity, ()))
        if len(out[entity]) >= MAX_CDC_OBJECTS:
            at = cut_off_at(out[entity])
            held = at if held is None or (at is not None and at < held) else held
    return out, held


async def poll_realm(
    api: QboApi,
    store: CheckpointStore,
    realm_id: str,
    publish: Callable[[Sequence[Notification]], Awaitable[None]],
    *,
    initial_lookback: timedelta,
    overlap: timedelta,
    hold_back: datetime | None = None,
    now: datetime | None = None,
    watch: Sequence[str] = (),
    on_changes: OnChanges | None = None,
) -> list[Notification]:
    """Poll one realm, hand the notifications to ``publish`` and the answer to ``on_changes``, then move
    the checkpoint. Returns the notifications."""
    polled_at = now or datetime.now(UTC)
    start = poll_window_start(await store.get(realm_id), polled_at, initial_lookback)
    entities = list(PAYMENT_ENTITIES) + [e for e in watch if e not in PAYMENT_ENTITIES]
    changes, cut = await read_changes(api, realm_id, entities, start)
    notifications = notifications_from_cdc(realm_id, changes)
    await publish(notifications)
    if on_changes is not None and watch:
        await on_changes(realm_id, changes)
    if cut is not None:
        hold_back = cut if hold_back is None else min(hold_back, cut)
    await store.set(realm_id, next_checkpoint(polled_at, overlap, hold_back, start))
    return notifications
