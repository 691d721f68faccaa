"""Onboarding: the initial load of a company that becomes live and connected.

One mechanism for every way a company gets there: ``observe`` records the company's state (realm, sync
mode) in ``qbo_sync.company_state`` and, when it has just become live *and* connected (manual -> live,
or a realm set while live), starts a load job. The worker calls it for each ``companies`` change event
(that table has the default replica identity, so an update carries no ``before``: the previous state is
the one recorded here); ``connect`` and the OAuth callback call it in the transaction that sets the realm.

A job lists the company's publishable rows when it starts (``qbo_sync.onboarding_items``, dependencies
first: customers, vendors, items, lots, then documents) and the worker's ``drain`` timer queues them on
the documents topic a batch at a time: the next batch only once the worker group has consumed the last
one (no flood ahead of live changes), and ``queued`` advances only after the broker acknowledged the
batch, so a worker killed mid-batch re-sends it on restart (a duplicate touch is a hash-skipped no-op)
and never skips one. ``progress`` is what `state` and `status` show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel

from bottleneck_qbo.ops import reach
from bottleneck_qbo.ops.resync import RESYNC_SOURCES
from bottleneck_qbo.settings import Settings
from sinks.postgres import Conn, Database
from streams.engine.docref import DocRef
from streams.messages import DocumentTouch, Origin

LEASE_S = 15  # a job a worker is draining is not drained by another for this long
ORIGIN = "onboarding"

# Document tables: a draft never goes to QBO, and a voided/cancelled one only if QBO has it (to void it there).
_REMOVABLE = {"sales_orders", "invoices", "purchase_orders", "bills"}


@dataclass(frozen=True)
class CompanyState:
    realm_id: str | None
    sync_mode: str


def needs_initial_load(previous: CompanyState | None, current: CompanyState) -> bool:
    """A company that has just become live and connected: manual -> live, connected while live, or
    moved to another realm. ``previous`` None: the pipeline has never seen the company (a new row)."""
    if current.sync_mode != "live" or not current.realm_id:
        return False
    return previous is None or previous.sync_mode != "live" or previous.realm_id != current.realm_id


def _rows_sql() -> str:
    """The company's rows to load, each with its place in dependency order (RESYNC_SOURCES' order)."""
    parts = []
    for ord_, (entity, (table, extra)) in enumerate(RESYNC_SOURCES.items()):
        where = f"t.company_id = %(company)s {extra}"
        if table in _REMOVABLE:
            where += (
                " and t.status <> 'draft' and (t.status not in ('void', 'cancelled') or exists (select 1 from qbo_sync.id_map m"
                f" where m.company_id = t.company_id and m.entity_type = '{entity}' and m.local_id = t.id and m.qbo_id is not null))"
            )
        parts.append(f"select {ord_} as ord, '{entity}'::text as entity_type, t.id as local_id from public.{table} t where {where}")
    return " union all ".join(parts)


_START = f"""
with rows as ({_rows_sql()}),
job as (
    insert into qbo_sync.onboarding (company_id, realm_id, reason, total)
    select %(company)s, %(realm)s, %(reason)s, count(*) from rows
    on conflict (company_id) where finished_at is null do nothing
    returning id
),
items as (
    insert into qbo_sync.onboarding_items (job_id, seq, entity_type, local_id)
    select job.id, row_number() over (order by rows.ord, rows.local_id), rows.entity_type, rows.local_id from job, rows
    returning 1
)
select id from job
"""


async def _one(conn: Conn, sql: str, params: Sequence[Any] | dict[str, Any]) -> tuple[Any, ...] | None:
    cur = await conn.execute(sql, params)
    return await cur.fetchone()


async def observe(
    conn: Conn, company_id: int, current: CompanyState, row_updated_at: datetime | None, *, reason: str, force: bool = False
) -> int | None:
    """Record the company's state as of ``row_updated_at`` (its ``updated_at``); start its initial load if
    it needs one (or ``force``: `connect` always loads a live, connected company). A state older than the
    one recorded is stale (`connect` records its own before its change event arrives) and is ignored.
    Returns the id of the load started or already running, or None. One transaction: a crash leaves the
    state and the job consistent (the change event that called it is read again)."""
    async with conn.transaction():
        before = await _one(
            conn, "select realm_id, sync_mode, row_updated_at from qbo_sync.company_state where company_id = %s for update", (company_id,)
        )
        if before is not None and before[2] is not None and row_updated_at is not None and row_updated_at < before[2]:
            return None
        await conn.execute(
            "insert into qbo_sync.company_state (company_id, realm_id, sync_mode, row_updated_at) values (%s, %s, %s, %s)"
            " on conflict (company_id) do update set realm_id = excluded.realm_id, sync_mode = excluded.sync_mode,"
            " row_updated_at = excluded.row_updated_at, updated_at = now()",
            (company_id, current.realm_id, current.sync_mode, row_updated_at),
        )
        previous = CompanyState(before[0], str(before[1])) if before else None
        live = current.sync_mode == "live" and current.realm_id is not None
        if not (needs_initial_load(previous, current) or (force and live)):
            return None
        started = await _one(conn, _START, {"company": company_id, "realm": current.realm_id, "reason": reason})
        if started is not None:
            return int(started[0])
        running = await _one(conn, "select id from qbo_sync.onboarding where company_id = %s and finished_at is null", (company_id,))
        return int(running[0]) if running else None


async def observe_row(conn: Conn, company_id: int, *, reason: str, force: bool = False) -> int | None:
    """``observe`` with the company's row as it is in this transaction (`connect`, the OAuth callback)."""
    row = await _one(conn, "select qbo_realm_id, qbo_sync_mode, updated_at from public.companies where id = %s", (company_id,))
    if row is None:
        return None
    return await observe(conn, company_id, CompanyState(row[0], str(row[1])), row[2], reason=reason, force=force)


async def observe_event(db: Database, row: Mapping[str, Any]) -> int | None:
    """``observe`` for a ``companies`` change event's row (the worker's route step)."""
    updated = row.get("updated_at")
    state = CompanyState(row.get("qbo_realm_id"), str(row.get("qbo_sync_mode") or "live"))

    async def op(conn: Conn) -> int | None:
        return await observe(
            conn, int(row["id"]), state, updated if isinstance(updated, datetime) else None, reason="company became live and connected"
        )

    return await db.run(op)


# --- draining (the worker's timer) -----------------------------------------------------------------
Send = Callable[[bytes, bytes], Awaitable[Awaitable[Any]]]  # (key, value) -> delivery future (RecordMetadata)


@dataclass(frozen=True)
class _Job:
    id: int
    company_id: int
    total: int
    queued: int
    last_partition: int | None
    last_offset: int | None


def committed_offsets(settings: Settings) -> dict[int, int]:
    """The worker group's committed offset per partition of the documents topic, with a client of its
    own (blocking: run in a thread)."""
    read = OffsetReader(settings)
    try:
        return read()
    finally:
        read.close()


class OffsetReader:
    """The worker group's committed offsets through one admin client kept open: the worker's drain timer
    asks every second while a load runs (a new client each time meant a connection and a metadata round
    each). Blocking, one caller at a time; a failed read drops the client, the next read opens a new one."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin: Any = None

    def __call__(self) -> dict[int, int]:
        if self._admin is None:
            self._admin = reach.kafka_admin(self._settings)
        s = self._settings
        try:
            got = self._admin.list_group_offsets({s.worker_id: None}).get(s.worker_id, {})
        except Exception:
            self.close()
            raise
        return {tp.partition: m.offset for tp, m in got.items() if tp.topic == s.documents_topic and m.offset is not None}

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()


def _consumed(job: _Job, committed: dict[int, int]) -> bool:
    """Has the worker group consumed everything this job queued so far?"""
    if job.last_offset is None or job.last_partition is None:
        return True
    return committed.get(job.last_partition, -1) > job.last_offset


_COUNTS = """
select count(*) as total,
       count(*) filter (where i.seq <= o.queued) as queued,
       count(*) filter (where i.kafka_offset < c.off) as processed,
       count(*) filter (where m.qbo_id is not null and m.status = 'synced' and m.realm_id = o.realm_id) as in_qbo,
       count(*) filter (where p.state is not null) as parked
from qbo_sync.onboarding o
join qbo_sync.onboarding_items i on i.job_id = o.id
left join unnest(%s::int[], %s::bigint[]) c(part, off) on c.part = i.kafka_partition
left join qbo_sync.id_map m on (m.company_id, m.entity_type, m.local_id) = (o.company_id, i.entity_type, i.local_id)
left join qbo_sync.sync_parking p on (p.entity_type, p.local_id) = (i.entity_type, i.local_id) and p.updated_at >= o.started_at
where o.id = %s
"""


def _counts_params(job: int, committed: dict[int, int]) -> tuple[list[int], list[int], int]:
    return list(committed), list(committed.values()), job


async def drain(db: Database, settings: Settings, send: Send, offsets: Callable[[], dict[int, int]] | None = None) -> int:
    """One round: every running job whose last batch was consumed gets its next batch queued, or is
    finished once all of it was consumed. Returns the number of touches queued. ``offsets`` reads the
    group's committed offsets (blocking; default: ``committed_offsets`` with a client of its own)."""
    jobs = [
        _Job(**r)
        for r in await db.fetchall(
            "update qbo_sync.onboarding set lease_until = now() + make_interval(secs => %s)"
            " where id in (select id from qbo_sync.onboarding where finished_at is null and (lease_until is null or lease_until < now())"
            " order by id limit 20 for update skip locked)"
            " returning id, company_id, total, queued, last_partition, last_offset",
            (LEASE_S,),
        )
    ]
    if not jobs:
        return 0
    read = offsets or partial(committed_offsets, settings)
    committed = await asyncio.to_thread(read) if any(j.last_offset is not None for j in jobs) else {}
    sent = 0
    for job in jobs:
        try:
            if not _consumed(job, committed):
                continue
            if job.queued < job.total:
                sent += await _queue_batch(db, job, send, settings.onboarding_batch)
            else:
                await _finish(db, job, committed)
        finally:
            await db.execute("update qbo_sync.onboarding set lease_until = null where id = %s", (job.id,))
    return sent


async def _queue_batch(db: Database, job: _Job, send: Send, batch: int) -> int:
    items = await db.fetchall(
        "select seq, entity_type, local_id from qbo_sync.onboarding_items where job_id = %s and seq > %s order by seq limit %s",
        (job.id, job.queued, batch),
    )
    if not items:  # the listed rows ran out (cannot happen unless edited by hand): done queueing
        await db.execute("update qbo_sync.onboarding set total = queued where id = %s", (job.id,))
        return 0
    futures = []
    for it in items:
        ref = DocRef(company_id=job.company_id, entity_type=it["entity_type"], local_id=it["local_id"])
        touch = DocumentTouch(ref=ref, origin=Origin(topic=ORIGIN, offset=job.id))
        futures.append(await send(touch.key(), touch.to_bytes()))
    # Only what the broker acknowledged counts as queued; a failure leaves the batch to be sent again.
    metas = await asyncio.gather(*futures)
    seqs = [int(it["seq"]) for it in items]
    await db.execute(
        "update qbo_sync.onboarding_items i set kafka_partition = d.part, kafka_offset = d.off"
        " from unnest(%s::int[], %s::int[], %s::bigint[]) d(seq, part, off) where i.job_id = %s and i.seq = d.seq",
        (seqs, [m.partition for m in metas], [m.offset for m in metas], job.id),
    )
    last = max(metas, key=lambda m: m.offset)
    await db.execute(
        "update qbo_sync.onboarding set queued = %s, last_partition = %s, last_offset = %s where id = %s",
        (seqs[-1], last.partition, last.offset, job.id),
    )
    return len(items)


async def _finish(db: Database, job: _Job, committed: dict[int, int]) -> None:
    """Everything queued was consumed: keep the counts in the job, drop its item list."""
    counts = await db.fetchone(_COUNTS, _counts_params(job.id, committed)) or {}
    summary = {k: int(counts.get(k) or 0) for k in ("in_qbo", "parked")}
    await db.execute(
        "update qbo_sync.onboarding set finished_at = now(), summary = %s where id = %s and finished_at is null",
        (Jsonb(summary), job.id),
    )
    await db.execute("delete from qbo_sync.onboarding_items where job_id = %s", (job.id,))


# --- progress (the CLI's `state` and `status`) -----------------------------------------------------
class LoadProgress(BaseModel):
    """One company's latest initial load. ``processed`` counts the rows the worker has taken (written,
    found unchanged, skipped or parked); ``in_qbo`` those QBO holds now."""

    company_id: int
    job_id: int
    reason: str
    started_at: datetime
    finished_at: datetime | None
    total: int
    queued: int
    processed: int
    in_qbo: int
    parked: int

    @property
    def remaining(self) -> int:
        return self.total - self.processed

    @property
    def state(self) -> str:
        if self.finished_at is not None:
            return "done"
        return "queueing" if self.queued < self.total else "syncing"

    def line(self) -> str:
        if self.finished_at is not None:
            return (
                f"initial load done: {self.total} row(s), {self.in_qbo} in QBO, {self.parked} parked"
                f" (started {self.started_at:%Y-%m-%d %H:%M:%S}, finished {self.finished_at:%H:%M:%S} UTC)"
            )
        return (
            f"initial load {self.state}: queued {self.queued}/{self.total}, synced {self.in_qbo}, parked {self.parked},"
            f" remaining {self.remaining} (started {self.started_at:%Y-%m-%d %H:%M:%S} UTC)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "remaining": self.remaining, "state": self.state, "line": self.line()}


def _committed_or_none(settings: Settings) -> dict[int, int]:
    """`state` reads Postgres only otherwise: without Kafka a running load shows nothing processed yet."""
    try:
        return committed_offsets(settings)
    except Exception:
        return {}


def progress(settings: Settings, company: int | None = None) -> list[LoadProgress]:
    """The latest load of each company (or of ``company``), with live counts for a running one."""
    with reach.pg(settings) as conn:
        jobs = conn.execute(
            "select distinct on (company_id) id, company_id, reason, started_at, finished_at, total, queued, summary"
            " from qbo_sync.onboarding where (%(c)s::bigint is null or company_id = %(c)s) order by company_id, id desc",
            {"c": company},
        ).fetchall()
        running = [j for j in jobs if j[4] is None]
        committed = _committed_or_none(settings) if running else {}
        out = []
        for job_id, company_id, reason, started, finished, total, queued, summary in jobs:
            if finished is not None:
                s = summary or {}
                counts = {"processed": total, "in_qbo": int(s.get("in_qbo", 0)), "parked": int(s.get("parked", 0))}
            else:
                row = conn.execute(_COUNTS, _counts_params(job_id, committed)).fetchone()
                counts = {"processed": int(row[2] or 0), "in_qbo": int(row[3] or 0), "parked": int(row[4] or 0)} if row else {}
            out.append(
                LoadProgress(
                    company_id=company_id,
                    job_id=job_id,
                    reason=reason,
                    started_at=started,
                    finished_at=finished,
                    total=total,
                    queued=queued,
                    **{"processed": 0, "in_qbo": 0, "parked": 0, **counts},
                )
            )
    return out
