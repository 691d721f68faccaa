"""What is synced, what is stuck and why: one report for `bottleneck-qbo status` and the status page.

Built from what the pipeline already keeps: ``qbo_sync.id_map`` and ``qbo_sync.sync_parking`` (counts
and problems), the dead-letter topic (+ ``qbo_sync.deadletter_actions``), the worker group's committed
offsets (consumer lag), ``pg_replication_slots`` (slot lag), Kafka Connect's REST status, the CDC
checkpoints, the webhooks topic (last webhook per realm) and ``qbo_sync.oauth_tokens`` (expiry only;
a token never leaves the database). Each source is read on its own, bounded, and a source that does
not answer is reported in ``errors`` instead of failing the whole report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from pydantic import BaseModel, Field

from bottleneck_qbo.ops import reach
from bottleneck_qbo.ops.deadletters import Letter, LetterReader, annotate
from bottleneck_qbo.ops.qbo_links import qbo_url
from bottleneck_qbo.settings import Settings

STATES = ("synced", "pending", "waiting", "retry", "conflict", "drifted", "dead")
WEBHOOK_TAIL = 500  # records per partition of qbo.webhooks scanned for each realm's last webhook
MAX_PROBLEMS = 500


def drift_counts(settings: Settings, company: int | None) -> dict[tuple[int, str], int] | None:
    """Documents with open drift (a change in QBO this product did not make, to a field Bottleneck
    owns: ``qbo_sync.drift``, found by the worker's CDC poll), per (company, entity type). None only
    when the table is not there (a database not migrated to 0014): "not tracked", never a made-up 0."""
    from bottleneck_qbo.ops.drift.store import open_counts

    try:
        with reach.pg(settings) as conn:
            return open_counts(conn, company)
    except psycopg.errors.UndefinedTable:
        return None


class EntityCounts(BaseModel):
    synced: int = 0
    pending: int = 0
    waiting: int = 0
    retry: int = 0
    conflict: int = 0
    drifted: int | None = None  # None: not tracked (a database without qbo_sync.drift; see drift_counts)
    dead: int = 0


class CompanyStatus(BaseModel):
    company_id: int
    name: str
    realm_id: str | None
    sync_mode: str
    entities: dict[str, EntityCounts] = Field(default_factory=dict)
    last_webhook_at: datetime | None = None
    last_cdc_poll_at: datetime | None = None
    cdc_checkpoint: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    access_token_expires_at: datetime | None = None
    initial_load: dict[str, Any] | None = None  # the latest onboarding load (ops.onboarding.LoadProgress.as_dict)


class Problem(BaseModel):
    kind: str  # waiting | retry | conflict | dead | dead_letter
    company_id: int | None
    realm_id: str | None = None
    entity_type: str | None = None
    local_id: str | None = None
    reason: str
    since: datetime | None = None
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    qbo_id: str | None = None
    qbo_url: str | None = None
    letter_id: str | None = None
    state: str | None = None  # dead letters: open | retried | dropped | synced | malformed
    stage: str | None = None


class PartitionLag(BaseModel):
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


class Slot(BaseModel):
    slot_name: str
    plugin: str | None
    active: bool
    lag_bytes: int | None  # WAL written but not yet confirmed by Debezium
    retained_bytes: int | None  # WAL Postgres keeps for the slot


class ConnectorStatus(BaseModel):
    name: str
    state: str
    worker_id: str | None = None
    tasks: list[dict[str, Any]] = Field(default_factory=list)


class DeadLetterSummary(BaseModel):
    total: int = 0
    open: int = 0
    by_state: dict[str, int] = Field(default_factory=dict)
    by_stage: dict[str, int] = Field(default_factory=dict)


class StatusReport(BaseModel):
    generated_at: datetime
    company_filter: int | None = None
    company_names: dict[int, str] = Field(default_factory=dict)  # every company, for the page's filter
    companies: list[CompanyStatus] = Field(default_factory=list)
    totals: EntityCounts = Field(default_factory=EntityCounts)
    drift_tracked: bool = False
    problems: list[Problem] = Field(default_factory=list)
    consumer_group: str
    consumer_lag: list[PartitionLag] = Field(default_factory=list)
    replication_slots: list[Slot] = Field(default_factory=list)
    connector: ConnectorStatus | None = None
    dead_letters: DeadLetterSummary = Field(default_factory=DeadLetterSummary)
    errors: dict[str, str] = Field(default_factory=dict)  # source -> why it could not be read

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.consumer_lag)


def _guard(report: StatusReport, source: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except reach.Unreachable as exc:
        report.errors[source] = str(exc)
    except Exception as exc:  # one source's failure must not hide the others
        report.errors[source] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def _db_part(settings: Settings, report: StatusReport, company: int | None) -> None:
    cond, args = ("where c.id = %s", [company]) if company is not None else ("", [])
    with reach.pg(settings) as conn:
        report.company_names = {r[0]: r[1] for r in conn.execute("select id, name from public.companies order by id")}
        companies = conn.execute(
            "select c.id, c.name, c.qbo_realm_id, c.qbo_sync_mode, t.refresh_expires_at, t.access_expires_at, k.changed_since, k.updated_at"
            " from public.companies c left join qbo_sync.oauth_tokens t on t.realm_id = c.qbo_realm_id"
            f" left join qbo_sync.cdc_checkpoints k on k.realm_id = c.qbo_realm_id {cond}"
            " order by c.id",
            args,
        ).fetchall()
        by_id: dict[int, CompanyStatus] = {}
        for cid, name, realm, mode, refresh_exp, access_exp, checkpoint, polled in companies:
            by_id[cid] = CompanyStatus(
                company_id=cid,
                name=name,
                realm_id=realm,
                sync_mode=mode,
                refresh_token_expires_at=refresh_exp,
                access_token_expires_at=access_exp,
                cdc_checkpoint=checkpoint,
                last_cdc_poll_at=polled,
            )
        mcond, pcond = ("where company_id = %s", "where company_id = %s") if company is not None else ("", "")
        counts = conn.execute(
            f"""with m as (select company_id, entity_type, local_id, qbo_id from qbo_sync.id_map {mcond}),
                     p as (select company_id, entity_type, local_id, state from qbo_sync.sync_parking {pcond})
                select coalesce(m.company_id, p.company_id) as company_id, coalesce(m.entity_type, p.entity_type) as entity_type,
                       count(*) filter (where p.state is null and m.qbo_id is not null),
                       count(*) filter (where p.state is null and m.qbo_id is null),
                       count(*) filter (where p.state = 'waiting'),
                       count(*) filter (where p.state = 'retry'),
                       count(*) filter (where p.state = 'conflict'),
                       count(*) filter (where p.state = 'dead')
                from m full join p on (m.entity_type, m.local_id) = (p.entity_type, p.local_id)
                group by 1, 2 order by 1, 2""",
            [company, company] if company is not None else [],
        ).fetchall()
        drift = drift_counts(settings, company)
        report.drift_tracked = drift is not None
        totals = EntityCounts(drifted=0 if drift is not None else None)
        for cid, entity, synced, pending, waiting, retry, conflict, dead in counts:
            if cid is None or cid not in by_id:
                continue
            c = EntityCounts(synced=synced, pending=pending, waiting=waiting, retry=retry, conflict=conflict, dead=dead)
            if drift is not None:
                c.drifted = drift.get((cid, entity), 0)
            by_id[cid].entities[entity] = c
            for k in STATES:
                v = getattr(c, k)
                if v is not None:
                    setattr(totals, k, (getattr(totals, k) or 0) + v)
        report.totals = totals
        report.companies = list(by_id.values())
        realms = {c.company_id: c.realm_id for c in report.companies}
        problems = conn.execute(
            f"""select p.state, coalesce(p.company_id, m.company_id), p.entity_type, p.local_id, p.reason, p.parked_at, p.attempts,
                       p.next_attempt_at, m.qbo_id, m.qbo_entity, m.realm_id
                from qbo_sync.sync_parking p
                left join qbo_sync.id_map m on (m.entity_type, m.local_id) = (p.entity_type, p.local_id)
                {"where coalesce(p.company_id, m.company_id) = %s" if company is not None else ""}
                order by p.parked_at desc limit {MAX_PROBLEMS}""",
            [company] if company is not None else [],
        ).fetchall()
        for state, cid, entity, local_id, reason, parked_at, attempts, next_at, qbo_id, qbo_entity, realm in problems:
            realm = realm or realms.get(cid)
            report.problems.append(
                Problem(
                    kind=state,
                    company_id=cid,
                    realm_id=realm,
                    entity_type=entity,
                    local_id=str(local_id),
                    reason=reason,
                    since=parked_at,
                    attempts=attempts,
                    next_attempt_at=next_at,
                    qbo_id=qbo_id,
                    qbo_url=qbo_url(settings, realm, qbo_entity, qbo_id) if qbo_id and realm and qbo_entity else None,
                    state=state,
                )
            )
        try:
            slots = conn.execute(
                "select slot_name, plugin, active,"
                " pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,"
                " pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint"
                " from pg_replication_slots order by slot_name"
            ).fetchall()
        except Exception as exc:
            report.errors["replication_slots"] = str(exc).splitlines()[0]
            slots = []
        report.replication_slots = [Slot(slot_name=r[0], plugin=r[1], active=r[2], lag_bytes=r[3], retained_bytes=r[4]) for r in slots]


def _lag_part(settings: Settings, report: StatusReport) -> None:
    admin = reach.kafka_admin(settings)
    try:
        committed = admin.list_group_offsets({settings.worker_id: None}).get(settings.worker_id, {})
    finally:
        admin.close()
    consumer = reach.kafka_consumer(settings, enable_auto_commit=False)
    try:
        tps = sorted(committed, key=lambda tp: (tp.topic, tp.partition))
        ends = consumer.end_offsets(tps) if tps else {}
    finally:
        consumer.close()
    for tp in tps:
        off = committed[tp].offset
        have = off if off is not None and off >= 0 else None
        end = ends.get(tp, 0)
        report.consumer_lag.append(
            PartitionLag(topic=tp.topic, partition=tp.partition, committed=have, end=end, lag=max(0, end - (have or 0)))
        )


def _connect_part(settings: Settings, report: StatusReport) -> None:
    try:
        resp = httpx.get(f"{settings.connect_url}/connectors/{settings.connector_name}/status", timeout=reach.CONNECT_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise reach.Unreachable(f"cannot reach Kafka Connect at {settings.connect_url} ({exc}); is the stack up?") from None
    if resp.status_code == 404:
        report.connector = ConnectorStatus(name=settings.connector_name, state="MISSING")
        return
    resp.raise_for_status()
    body = resp.json()
    tasks = [{"id": t.get("id"), "state": t.get("state"), "trace": (t.get("trace") or "").splitlines()[0:1]} for t in body.get("tasks", [])]
    conn = body.get("connector", {})
    report.connector = ConnectorStatus(
        name=body.get("name", settings.connector_name), state=conn.get("state", "?"), worker_id=conn.get("worker_id"), tasks=tasks
    )


def last_webhooks(settings: Settings) -> dict[str, datetime]:
    """Realm -> time of the latest webhook notification on the webhooks topic (its tail)."""
    out: dict[str, datetime] = {}
    for rec in reach.read_topic(settings, settings.webhooks_topic, lambda tp, begin, end: end - WEBHOOK_TAIL):
        try:
            n = json.loads(rec.value)["notification"]
        except (ValueError, KeyError, TypeError):
            continue
        if n.get("source", "webhook") != "webhook" or not n.get("realm_id"):
            continue
        at = datetime.fromtimestamp(rec.timestamp / 1000, UTC)
        if at > out.get(n["realm_id"], datetime.min.replace(tzinfo=UTC)):
            out[n["realm_id"]] = at
    return out


def _letters_part(settings: Settings, report: StatusReport, reader: LetterReader, company: int | None) -> None:
    letters = reader.refresh()
    if company is not None:
        letters = [lt for lt in letters if lt.letter is not None and lt.letter.company_id == company]
    annotate(settings, letters)
    realms = {c.company_id: c.realm_id for c in report.companies}
    summary = DeadLetterSummary(total=len(letters))
    shown: list[Letter] = []
    for lt in letters:
        summary.by_state[lt.state] = summary.by_state.get(lt.state, 0) + 1
        stage = lt.letter.stage if lt.letter else "malformed"
        summary.by_stage[stage] = summary.by_stage.get(stage, 0) + 1
        if lt.state in ("open", "malformed", "retried", "synced"):
            shown.append(lt)
    summary.open = summary.by_state.get("open", 0) + summary.by_state.get("malformed", 0)
    report.dead_letters = summary
    for lt in reversed(shown[-MAX_PROBLEMS:]):
        d = lt.letter
        report.problems.append(
            Problem(
                kind="dead_letter",
                company_id=d.company_id if d else None,
                realm_id=(d.realm_id if d else None) or (realms.get(d.company_id) if d and d.company_id is not None else None),
                entity_type=d.entity_type if d else None,
                local_id=d.local_id if d else None,
                reason=lt.summary() if d is None else d.reason,
                since=lt.at,
                letter_id=lt.id,
                state=lt.state,
                stage=d.stage if d else None,
            )
        )


def _link_synced(settings: Settings, report: StatusReport) -> None:
    """A dead letter whose document has synced since links to its QBO object."""
    wanted = [p for p in report.problems if p.kind == "dead_letter" and p.state == "synced" and p.local_id and p.local_id.isdigit()]
    if not wanted:
        return
    with reach.pg(settings) as conn:
        for p in wanted:
            row = conn.execute(
                "select qbo_id, qbo_entity, realm_id from qbo_sync.id_map where company_id = %s and entity_type = %s and local_id = %s",
                (p.company_id, p.entity_type, int(p.local_id or 0)),
            ).fetchone()
            if row and row[0]:
                p.qbo_id, p.realm_id = row[0], row[2]
                p.qbo_url = qbo_url(settings, row[2], row[1], row[0])


def _onboarding_part(settings: Settings, report: StatusReport, company: int | None) -> None:
    """Each company's latest initial load: queued, synced, remaining, started (``ops.onboarding``)."""
    from bottleneck_qbo.ops.onboarding import progress

    loads = {p.company_id: p for p in progress(settings, company)}
    for c in report.companies:
        if c.company_id in loads:
            c.initial_load = loads[c.company_id].as_dict()


def collect(settings: Settings, company: int | None = None, *, reader: LetterReader | None = None) -> StatusReport:
    report = StatusReport(generated_at=datetime.now(UTC), company_filter=company, consumer_group=settings.worker_id)
    _guard(report, "postgres", lambda: _db_part(settings, report, company))
    _guard(report, "kafka", lambda: _lag_part(settings, report))
    _guard(report, "connect", lambda: _connect_part(settings, report))
    if "postgres" not in report.errors:
        _guard(report, "dead_letters", lambda: _letters_part(settings, report, reader or LetterReader(settings), company))
        _guard(report, "dead_letters", lambda: _link_synced(settings, report))
        _guard(report, "onboarding", lambda: _onboarding_part(settings, report, company))

    def webhooks() -> None:
        seen = last_webhooks(settings)
        for c in report.companies:
            if c.realm_id:
                c.last_webhook_at = seen.get(c.realm_id)

    if "kafka" not in report.errors:
        _guard(report, "webhooks", webhooks)
    return report
