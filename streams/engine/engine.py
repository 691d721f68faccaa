"""SyncEngine: brings one Bottleneck document's current state into QBO, idempotently.

``await engine.sync(ref)`` takes every document (and every dependency) through the same steps, in order:

1. **company**: whose document it is (the router usually knows already; else Postgres, else the id map);
2. **read**: the company and the document from one snapshot; skip companies without a realm and, in
   manual mode, anything not asked for;
3. **decide**: remove it from QBO (deleted, voided), skip it (draft, not applicable), or write it;
4. **dependencies**: sync what must be in QBO first; a failed one parks this document as *waiting*;
5. **write**: through ``Writer`` (hash check, lookup, create with a deterministic requestid, or sparse
   update), or an append-only adjustment;
6. **record**: clear the parking row, release the documents waiting on this one, sync follow-ups.

It never sleeps and never raises for a QBO or data problem: every exception goes through ``classify``
and comes back as a ``SyncOutcome``, parked (``qbo_sync.sync_parking``) so the caller moves on;
``redrive_due(now)`` hands parked documents back when they are due. No Faust here.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import partial
from typing import Any

from mappers.bottleneck import Company
from mappers.common import StaticRefs
from mappers.tax import US_DEFAULT, TaxSettings
from sinks.qbo import tax_settings
from sinks.qbo.api import QboApi
from sinks.qbo.backoff import Backoff
from sinks.qbo.client import batch_item_error
from sinks.qbo.errors import QboDuplicateName, QboRateLimited, QboTransientError
from sinks.qbo.idmap import IdMapEntry
from sinks.qbo.writer import BatchOp, SyncConflict, WriteContext, Writer, WriteResult
from streams.engine.accounts import AccountResolver
from streams.engine.batching import BatchReads, Key, Pending, batch_item, batch_request_id, calls, needs_flush
from streams.engine.classify import Remedy, classify
from streams.engine.docref import DocRef
from streams.engine.failures import Failures, Subject
from streams.engine.outcome import Kind, SkipReason, SyncOutcome
from streams.engine.ports import IdMapPort, ParkingPort, SourcePort
from streams.engine.processor import AdjustmentProcessor, Processor
from streams.engine.registry import Registry

log = logging.getLogger("streams.engine")


# Longest wait between two attempts of a document parked by a realm-wide configuration problem.
CONFIG_RETRY_MAX_S = 3600.0
_COMPANY_CACHE_SIZE = 100_000
_NOTHING = WriteResult("none", None)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Step(Enum):
    """What the decide step chose for a document that was read."""

    WRITE = "write"
    REMOVE = "remove"
    SKIP_DRAFT = "skip_draft"
    SKIP_NOT_APPLICABLE = "skip_not_applicable"


def decide(p: Processor[Any], doc: Any) -> Step:
    """Remove, skip or write: the document's own state decides (its company was checked before)."""
    if doc is None or p.is_removed(doc):
        return Step.REMOVE
    if not p.is_publishable(doc):
        return Step.SKIP_DRAFT if getattr(doc, "status", None) == "draft" else Step.SKIP_NOT_APPLICABLE
    return Step.WRITE


def company_skip(company: Company | None, company_id: int, ref: DocRef, *, as_dependency: bool) -> tuple[SkipReason, str] | None:
    """Why nothing of this company goes to QBO now, or None when it syncs."""
    if company is None or not company.qbo_realm_id:
        return SkipReason.NO_REALM, f"company {company_id} has no qbo_realm_id"
    if company.qbo_sync_mode == "manual" and not (ref.forced or as_dependency):
        return SkipReason.MANUAL_MODE, f"company {company_id} syncs manually; publish it to send it"
    return None


def _stock_check(d: _Doc, skip: tuple[SkipReason, str]) -> bool:
    """A quantity check skipped only for manual mode: it runs when its item is in QBO already."""
    return skip[0] is SkipReason.MANUAL_MODE and d.processor.append_only


@dataclass
class _Doc:
    """What the steps have learnt about one document so far; a failure is recorded with it."""

    processor: Processor[Any]
    ref: DocRef
    as_dependency: bool
    path: tuple[str, ...]
    realm: str | None = None
    previous: tuple[DocRef, ...] = ()  # the follow-ups of the state synced last (lots it moved)

    @property
    def company_id(self) -> int:
        assert self.ref.company_id is not None, "the company step runs first"
        return self.ref.company_id

    @property
    def subject(self) -> Subject:
        return Subject(self.ref, self.processor.qbo_entity, self.realm)


class SyncEngine:
    def __init__(
        self,
        source: SourcePort,
        qbo: QboApi,
        idmap: IdMapPort,
        parking: ParkingPort,
        registry: Registry,
        *,
        accounts: AccountResolver | None = None,
        clock: Callable[[], datetime] = _utcnow,
        retry_base_delay_s: float = 0.5,
        retry_max_delay_s: float = 60.0,
        retry_max_attempts: int = 8,
        batch_min_docs: int | None = 5,
        batch_max_items: int = 30,
    ) -> None:
        self.source = source
        self.qbo = qbo
        self.idmap = idmap
        self.parking = parking
        self.registry = registry
        self.accounts = accounts or AccountResolver(qbo)
        self.clock = clock
        # QBO's batch API for backlogs: None sends every write on its own
        self.batch_min_docs = batch_min_docs
        self.batch_max_items = batch_max_items
        self.failures = Failures(
            parking,
            idmap,
            clock,
            retry=Backoff(retry_base_delay_s, retry_max_delay_s),
            config_retry=Backoff(retry_max_delay_s, max(CONFIG_RETRY_MAX_S, retry_max_delay_s), max_exponent=16),
            max_attempts=retry_max_attempts,
        )
        # A document's company never changes: remember it instead of asking Postgres per line event.
        self._company_of: OrderedDict[tuple[str, int], int] = OrderedDict()

    # --- public API --------------------------------------------------------------------------------
    async def sync(self, ref: DocRef) -> SyncOutcome:
        """Bring ``ref``'s current state into QBO. Never raises for data or QBO failures."""
        return (await self.sync_many([ref]))[0]

    async def sync_many(self, refs: Sequence[DocRef]) -> list[SyncOutcome]:
        """``sync`` for each of ``refs`` (one company's documents, in order), one outcome each: what they
        need is read up front in a few queries (batching.py), and a backlog of plain creates and updates
        goes to QBO through its batch API. One bad document only fails itself."""
        reads = await self._read_batch(list(refs))
        outcomes: dict[int, SyncOutcome] = {}
        for index, ref in enumerate(refs):
            out = await self._run(ref, as_dependency=False, path=(), reads=reads, index=index)
            if out is not None:
                outcomes[index] = out
        while reads.pending:
            await self._flush_into(reads)
        outcomes.update(reads.done)
        return [outcomes[i] for i in range(len(refs))]

    async def redrive_due(self, now: datetime | None = None) -> list[DocRef]:
        """Parked documents due for another attempt (retry time reached, or their dependency synced).
        Each is leased: call ``sync`` on it; it is re-parked or cleared by that call."""
        return await self.parking.due(now or self.clock())

    async def resolve_company(self, ref: DocRef) -> DocRef | None:
        """``ref`` with its company filled in, or None when the row is gone and was never synced.
        The router step calls it before re-keying by company; the engine then finds it set."""
        if ref.company_id is not None:
            return ref
        key = (ref.entity_type, ref.local_id)
        company = self._company_of.get(key)
        if company is None:
            processor = self.registry.get(ref.entity_type)
            if processor is not None:
                company = await self.source.company_of(processor.table, ref.local_id)
            if company is None:
                gone = await self.idmap.find(ref.entity_type, ref.local_id)
                company = gone.company_id if gone else None
            if company is None:
                return None
            self._company_of[key] = company
            if len(self._company_of) > _COMPANY_CACHE_SIZE:
                self._company_of.popitem(last=False)
        return ref.model_copy(update={"company_id": company})

    # --- the path every document (and dependency) takes ---------------------------------------------
    async def _sync(self, ref: DocRef, *, as_dependency: bool, path: tuple[str, ...], reads: BatchReads | None = None) -> SyncOutcome:
        out = await self._run(ref, as_dependency=as_dependency, path=path, reads=reads, index=None)
        assert out is not None, "only a top-level document of sync_many is deferred"
        return out

    async def _run(
        self,
        ref: DocRef,
        *,
        as_dependency: bool,
        path: tuple[str, ...],
        reads: BatchReads | None,
        index: int | None,
        first_run: int = 0,
    ) -> SyncOutcome | None:
        """The document's outcome, or None when its write waits in ``reads.pending`` (``index`` given)."""
        if reads is not None and needs_flush(reads.pending_keys(), [(ref.entity_type, ref.local_id)]):
            await self._flush_into(reads)
        try:
            return await self._runs(ref, as_dependency=as_dependency, path=path, reads=reads, index=index, first_run=first_run)
        finally:
            if reads is not None:
                reads.touched((ref.entity_type, ref.local_id))

    async def _runs(
        self, ref: DocRef, *, as_dependency: bool, path: tuple[str, ...], reads: BatchReads | None, index: int | None, first_run: int
    ) -> SyncOutcome | None:
        p = self.registry.get(ref.entity_type)
        if p is None:
            return SyncOutcome(kind=Kind.DEAD, ref=ref, reason=f"no processor is registered for entity type {ref.entity_type!r}")
        if ref.key in path:
            return _skipped(ref, SkipReason.CYCLE, f"dependency cycle through {' -> '.join(path)}")
        d = _Doc(p, ref, as_dependency, (*path, ref.key))
        for run in (0, 1)[first_run:]:
            try:
                return await self._attempt(d, run, reads, index)
            except Exception as exc:  # a bug must not stop the records behind this one either
                failure = classify(exc)
                if failure.remedy is Remedy.RESTART and run == 0:
                    # QBO changed under us: start over from Bottleneck's current state (rule 2 and rule 6)
                    log.info("stale SyncToken for %s; re-reading and trying once more", d.ref)
                    continue
                if failure.unexpected:
                    log.error("unexpected failure syncing %s", d.ref, exc_info=exc)
                return await self.failures.record(d.subject, failure)
        raise AssertionError("unreachable: the second run returns")

    async def _attempt(self, d: _Doc, run: int, reads: BatchReads | None = None, index: int | None = None) -> SyncOutcome | None:
        # 1. company
        resolved = await self.resolve_company(d.ref)
        if resolved is None:
            return await self._never_existed(d)
        d.ref = resolved
        key: Key = (d.ref.entity_type, d.ref.local_id)
        # what sync_many read up front serves the first run of a document nothing synced since
        pre = reads if reads is not None and run == 0 and reads.fresh(key) else None
        # 2. read: the company's connection and the document come from the same snapshot
        if pre is not None:
            company = pre.companies.get(d.company_id)
            skip = company_skip(company, d.company_id, d.ref, as_dependency=d.as_dependency)
            doc = pre.docs[key] if skip is None or _stock_check(d, skip) else None
            tax = pre.tax.get(d.company_id, US_DEFAULT)
        else:
            async with self.source.snapshot() as db:
                row = await db.one("select id, name, qbo_realm_id, qbo_sync_mode from companies where id = %s", (d.company_id,))
                company = Company.model_validate(row) if row else None
                skip = company_skip(company, d.company_id, d.ref, as_dependency=d.as_dependency)
                wanted = skip is None or _stock_check(d, skip)
                doc = await d.processor.load(db, d.ref.local_id) if wanted else None
                tax = await tax_settings.load(db, d.company_id) if wanted else US_DEFAULT
        if skip is not None and doc is not None and await self._already_in_qbo(d, doc):
            skip = None  # manual mode: what is in QBO keeps Bottleneck's stock (a ship or receive job moved it)
        if skip is not None or company is None or company.qbo_realm_id is None:
            # what the batch read says is parked (None: not read, ask the table)
            parked = None if pre is None or key not in pre.parked else pre.parked[key] is not None
            return await self._company_skipped(d, *(skip or (SkipReason.NO_REALM, "no realm")), parked=parked)
        d.realm = company.qbo_realm_id
        ctx, was_parked = await self._write_context(d, run, pre)
        owner = getattr(doc, "company_id", d.company_id)
        if owner != d.company_id:
            # e.g. a publish request naming another company's document: never cross tenants
            reason = f"{d.ref.entity_type} {d.ref.local_id} belongs to company {owner}, not {d.company_id}"
            return await self.failures.dead(d.subject, reason, None, mark=False)
        # 3. decide
        step = decide(d.processor, doc)
        if step is Step.REMOVE:
            return await self._remove(d, doc, ctx, was_parked)
        if step is not Step.WRITE:
            if was_parked:
                await self.parking.clear(d.ref)
            if step is Step.SKIP_DRAFT:
                return _skipped(d.ref, SkipReason.DRAFT, "draft")
            return _skipped(d.ref, SkipReason.NOT_APPLICABLE, f"{d.processor.entity_type} does not apply to this row")
        # 4. dependencies
        present = await self._dependencies(d, doc, reads)
        if isinstance(present, SyncOutcome):
            return present
        # 5. write, 6. record
        writer = Writer(ctx, doc)
        refs = await self._refs(d.realm, present, tax)
        if reads is not None and reads.batching and index is not None and not d.processor.append_only:
            payload = d.processor.map(doc, refs)
            plan = writer.plan(payload)
            if isinstance(plan, BatchOp):
                reads.pending.append(Pending(index, d, doc, writer, plan, was_parked))
                return None
            result = plan if plan is not None else await writer.upsert(payload)
        else:
            result = await self._write(d, writer, doc, refs)
        return await self._record(d, doc, result, was_parked)

    async def _already_in_qbo(self, d: _Doc, doc: Any) -> bool:
        """Every dependency of this stock check (its lot or item) is in QBO already: publishing decides
        what enters QBO, not whether what is there stays right."""
        deps = d.processor.dependencies(doc)
        entries = await self.idmap.many(d.company_id, [(dep.entity_type, dep.local_id) for dep in deps])
        found = [entries.get((dep.entity_type, dep.local_id)) for dep in deps]
        return bool(deps) and all(e is not None and e.qbo_id is not None and e.status == "synced" for e in found)

    # --- sync_many: the reads up front, the batch calls ------------------------------------------------
    async def _read_batch(self, refs: list[DocRef]) -> BatchReads:
        """Companies, tax settings and documents from one snapshot; id map entries (the documents' and their
        dependencies') and parking rows in one query each. A failure here only means each document reads
        for itself (and fails, if it must, on its own)."""
        reads = BatchReads(batching=self.batch_min_docs is not None)
        known = [r for r in refs if r.company_id is not None and self.registry.get(r.entity_type) is not None]
        if not known:
            return reads
        by_type: dict[str, list[int]] = {}
        for r in known:
            by_type.setdefault(r.entity_type, []).append(r.local_id)
        companies = list(dict.fromkeys(r.company_id for r in known if r.company_id is not None))
        try:
            docs: dict[Key, Any] = {}
            async with self.source.snapshot() as db:
                for cid in companies:  # one company per call in the worker
                    row = await db.one("select id, name, qbo_realm_id, qbo_sync_mode from companies where id = %s", (cid,))
                    company = reads.companies[cid] = Company.model_validate(row) if row else None
                    if company is not None and company.qbo_realm_id:
                        reads.tax[cid] = await tax_settings.load(db, cid)
                # a company without a realm skips each of its documents before using it (company_skip):
                # not read at all (a replay of such a company read every row for nothing)
                idle = {cid for cid in companies if not ((c := reads.companies.get(cid)) and c.qbo_realm_id)}
                for entity_type, ids in by_type.items():
                    processor = self.registry.get(entity_type)
                    assert processor is not None
                    wanted = [r.local_id for r in known if r.entity_type == entity_type and r.company_id not in idle]
                    loaded = await processor.load_many(db, wanted) if wanted else {}
                    docs.update({(entity_type, i): loaded.get(i) for i in ids})
            for cid in companies:
                if cid in idle:
                    continue  # nothing of it is written: its id map entries are never asked for
                mine = [r for r in known if r.company_id == cid]
                keys: list[Key] = [(r.entity_type, r.local_id) for r in mine]
                for r in mine:
                    doc = docs.get((r.entity_type, r.local_id))
                    processor = self.registry.get(r.entity_type)
                    if doc is not None and processor is not None and decide(processor, doc) is Step.WRITE:
                        keys += [(dep.entity_type, dep.local_id) for dep in processor.dependencies(doc)]
                keys = list(dict.fromkeys(keys))
                reads.remember(cid, await self.idmap.many(cid, keys), keys)
            parked = await self.parking.many(known)
            reads.parked = {(r.entity_type, r.local_id): parked.get((r.entity_type, r.local_id)) for r in known}
            reads.docs = docs  # last: a document counts as read only when all of the above was
        except Exception:
            log.warning("reading %d documents at once failed; each reads for itself", len(known), exc_info=True)
            return BatchReads(batching=reads.batching)
        return reads

    async def _flush_into(self, reads: BatchReads) -> None:
        """Send what waits (before a document that needs it); the outcomes are kept for sync_many."""
        reads.done.update(await self._flush(reads))

    async def _flush(self, reads: BatchReads) -> dict[int, SyncOutcome]:
        pending, reads.pending = reads.pending, []
        outcomes: dict[int, SyncOutcome] = {}
        if self.batch_min_docs is None or len(pending) < self.batch_min_docs:
            for item in pending:  # too few for a batch call: each goes as it would on its own
                outcomes[item.index] = await self._complete(reads, item, partial(item.writer.upsert, item.op.payload))
            return outcomes
        for call in calls(pending, lambda item: item.realm, self.batch_max_items):
            outcomes.update(await self._send_batch(reads, call))
        return outcomes

    async def _send_batch(self, reads: BatchReads, call: list[Pending]) -> dict[int, SyncOutcome]:
        """One /batch call: each create's intent is durable before it leaves (as on the single path), and
        each item's answer goes through the same recording and classify() as a single write's."""
        outcomes: dict[int, SyncOutcome] = {}
        sent: list[Pending] = []
        for item in call:
            try:
                await item.writer.before_send(item.op)
                sent.append(item)
            except Exception as exc:
                outcomes[item.index] = await self._failed_write(reads, item, exc)
        if not sent:
            return outcomes
        realm = sent[0].realm
        body = [batch_item(str(n), item.writer.processor.qbo_entity, item.op) for n, item in enumerate(sent)]
        try:
            answers = await self.qbo.batch(realm, body, request_id=batch_request_id(realm, [i.op.request_id for i in sent]))
        except Exception as exc:  # the whole call failed: every item takes the failure
            for item in sent:
                outcomes[item.index] = await self._failed_write(reads, item, exc)
            return outcomes
        log.info("batch call to realm %s: %d items", realm, len(sent))
        for n, item in enumerate(sent):
            answer = answers[n] if n < len(answers) and isinstance(answers[n], dict) else {}
            entity = item.writer.processor.qbo_entity
            try:
                error = batch_item_error(answer)
            except Exception as exc:  # an answer we cannot read fails its item only
                error = QboTransientError(message=f"unreadable batch answer: {exc!r}"[:500], request=f"batch item {n}")
            if error is None and not isinstance(answer.get(entity), dict):
                error = QboTransientError(message=f"batch answer without the {entity}", request=f"batch item {n}")
            if isinstance(error, QboDuplicateName):
                # the single path adopts a free object of that name (its intent is recorded now): run it
                reads.touched(item.key)
                outcomes[item.index] = await self._sync(item.doc_state.ref, as_dependency=False, path=())
            elif error is not None:
                outcomes[item.index] = await self._failed_write(reads, item, error)
            else:
                obj = answer[entity]
                outcomes[item.index] = await self._complete(reads, item, partial(item.writer.answered, item.op, obj))
        return outcomes

    async def _failed_write(self, reads: BatchReads, item: Pending, exc: Exception) -> SyncOutcome:
        async def fail() -> WriteResult:
            if isinstance(exc, QboRateLimited):
                await item.writer.not_sent(item.op)  # refused before QBO processed it: nothing was created
            raise exc

        return await self._complete(reads, item, fail)

    async def _complete(self, reads: BatchReads, item: Pending, write: Callable[[], Awaitable[WriteResult]]) -> SyncOutcome:
        """Step 6 for a deferred write, with the failure handling of ``_run``."""
        d = item.doc_state
        try:
            return await self._record(d, item.doc, await write(), item.was_parked)
        except Exception as exc:
            failure = classify(exc)
            if failure.remedy is Remedy.RESTART:
                # QBO changed under us: the second run re-reads Bottleneck and QBO's SyncToken, as sync() does
                log.info("stale SyncToken for %s; re-reading and trying once more", d.ref)
                return await self._sync_again(d)
            if failure.unexpected:
                log.error("unexpected failure syncing %s", d.ref, exc_info=exc)
            return await self.failures.record(d.subject, failure)
        finally:
            reads.touched(item.key)

    async def _sync_again(self, d: _Doc) -> SyncOutcome:
        out = await self._run(d.ref, as_dependency=d.as_dependency, path=(), reads=None, index=None, first_run=1)
        assert out is not None
        return out

    # --- the steps ----------------------------------------------------------------------------------
    async def _no_such_row(self, d: _Doc) -> SyncOutcome:
        """A publish request (forced) for a row that does not exist: dead, so the person who asked sees it."""
        return await self.failures.dead(d.subject, f"publish request for {d.ref.entity_type} {d.ref.local_id}, which does not exist")

    async def _never_existed(self, d: _Doc) -> SyncOutcome:
        if d.ref.forced and not d.as_dependency:
            return await self._no_such_row(d)
        await self.parking.clear(d.ref)
        return _skipped(d.ref, SkipReason.NOT_FOUND, "the row does not exist and was never in QuickBooks")

    async def _company_skipped(self, d: _Doc, why: SkipReason, reason: str, *, parked: bool | None = None) -> SyncOutcome:
        # debug, not info: a replay or a company without a realm skips every one of its rows
        log.debug("skip %s: %s", d.ref, reason)
        # a retry left from before the company was disconnected or switched to manual is moot now;
        # conflicts and dead ones stay visible. The batch read knows whether there is a row at all.
        if parked is not False:
            await self.parking.clear(d.ref, ("waiting", "retry"))
        return _skipped(d.ref, why, reason)

    async def _write_context(self, d: _Doc, run: int, pre: BatchReads | None = None) -> tuple[WriteContext, bool]:
        assert d.realm is not None
        key = (d.ref.entity_type, d.ref.local_id)
        known, entry = pre.entry(d.company_id, key) if pre is not None else (False, None)
        if not known:
            entry = await self.idmap.get(d.company_id, d.ref.entity_type, d.ref.local_id)
        parked = pre.parked.get(key) if pre is not None else await self.parking.get(d.ref)
        d.previous = tuple(DocRef(company_id=None, entity_type=str(t), local_id=int(i)) for t, i in (entry.follow_ups if entry else []))
        salt = parked.attempts if parked is not None and parked.state in ("dead", "conflict") else 0
        ctx = WriteContext(
            qbo=self.qbo,
            idmap=self.idmap,
            spec=d.processor,
            company_id=d.company_id,
            local_id=d.ref.local_id,
            realm_id=d.realm,
            entry=entry,
            today=lambda: self.clock().date(),
            salt=salt,
            run=run,
        )
        return ctx, parked is not None

    async def _remove(self, d: _Doc, doc: Any, ctx: WriteContext, was_parked: bool) -> SyncOutcome:
        result = await Writer(ctx, doc).remove()
        if not result.wrote and (ctx.entry is None or ctx.entry.qbo_id is None):
            if doc is None and d.ref.forced and not d.as_dependency:
                return await self._no_such_row(d)
            if was_parked:
                await self.parking.clear(d.ref)
            return _skipped(d.ref, SkipReason.NOT_IN_QBO, "removed in Bottleneck before it reached QuickBooks")
        # a voided invoice or bill gives its stock back in QBO: its follow-ups re-check the quantities
        return await self._record(d, doc, result, was_parked)

    async def _dependencies(self, d: _Doc, doc: Any, reads: BatchReads | None = None) -> dict[tuple[str, int], IdMapEntry] | SyncOutcome:
        """The id map entries of the dependencies, once each is in QBO; or the WAITING outcome."""
        # forced: a dependency parked here must be re-driven even in manual mode (its dependant asked)
        deps = [dep.model_copy(update={"company_id": d.company_id, "forced": True}) for dep in d.processor.dependencies(doc)]
        keys = [(dep.entity_type, dep.local_id) for dep in deps]
        if reads is not None and needs_flush(reads.pending_keys(), keys):
            await self._flush_into(reads)  # a dependency's write is still waiting in the batch: send it first
        present = await self._entries(d.company_id, keys, reads)
        synced_now = False
        for dep in deps:
            known = present.get((dep.entity_type, dep.local_id))
            if known is not None and known.qbo_id and known.realm_id == d.realm and known.status == "synced":
                continue  # it exists in QBO; its own events keep it current, so no need to re-read it here
            out = await self._sync(dep, as_dependency=True, path=d.path, reads=reads)
            synced_now = True
            if not out.ok:
                # a failed dependency blocks only its dependants; re-driven when it syncs
                reason = f"waiting for {dep.entity_type} {dep.local_id}: {out.reason or out.kind.value}"
                await self.parking.park(d.ref, "waiting", reason, waiting_on=dep, next_attempt_at=None)
                return SyncOutcome(kind=Kind.WAITING, ref=d.ref, qbo_entity=d.processor.qbo_entity, reason=reason, waiting_on=dep)
        return await self._entries(d.company_id, keys, reads, refresh=True) if synced_now else present

    async def _entries(
        self, company_id: int, keys: list[Key], reads: BatchReads | None, *, refresh: bool = False
    ) -> dict[tuple[str, int], IdMapEntry]:
        """The id map entries of ``keys``: from what the batch read when nothing synced them since; else
        read again, together with every other entry the batch holds that went stale (one query)."""
        if reads is None:
            return await self.idmap.many(company_id, keys)
        known = {k: reads.entry(company_id, k) for k in keys}
        if refresh or not all(hit for hit, _ in known.values()):
            again = list(dict.fromkeys([*keys, *reads.outdated(company_id)]))
            found = await self.idmap.many(company_id, again)
            reads.remember(company_id, found, again)
            return {k: e for k in keys if (e := found.get(k)) is not None}
        return {k: e for k, (_, e) in known.items() if e is not None}

    async def _write(self, d: _Doc, writer: Writer, doc: Any, refs: StaticRefs) -> WriteResult:
        p = d.processor
        if isinstance(p, AdjustmentProcessor):
            return await self._adjust(p, writer, doc, refs)
        return await writer.upsert(p.map(doc, refs))

    async def _adjust(self, p: AdjustmentProcessor[Any], writer: Writer, doc: Any, refs: StaticRefs) -> WriteResult:
        """Post the adjustment, then read QBO back (``adjustment`` again): QBO moved meanwhile (another
        document posted) -> adjust once more; still off after that -> a conflict that says so."""
        result = _NOTHING
        for _ in range(2):
            adjustment = await p.adjustment(doc, refs, writer)
            if adjustment is None:
                return result
            result = await writer.create_once(p.qbo_entity, adjustment.payload, *adjustment.key)
        if await p.adjustment(doc, refs, writer) is not None:
            raise SyncConflict(
                f"{p.entity_type} {writer.local_id}: QuickBooks' quantity kept moving while we adjusted it (adjusted twice, "
                "still off); check recent stock documents in QuickBooks, then re-drive it"
            )
        return result

    async def _record(self, d: _Doc, doc: Any, result: WriteResult, was_parked: bool) -> SyncOutcome:
        p = d.processor
        # only a parked document can have dependants waiting on it (they wait because it failed)
        if was_parked:
            await self.parking.clear(d.ref)
        if was_parked or result.wrote:
            await self.parking.release_waiters(d.ref, self.clock())
        if not result.wrote:
            return SyncOutcome(kind=Kind.UNCHANGED, ref=d.ref, qbo_entity=p.qbo_entity, qbo_id=result.qbo_id)
        log.info("synced %s -> %s %s (%s)", d.ref, p.qbo_entity, result.qbo_id, result.action)
        # each follow-up parks itself on failure; the document's own outcome stands. Those of the state
        # synced before run too: a lot a removed line, a swapped lot or a deleted document no longer names
        # had its stock moved back by QBO.
        now = await p.after_sync(doc, result.qbo_object or {}) if doc is not None else []
        follows = [
            f.model_copy(update={"company_id": d.company_id, "forced": True}) for f in {f.key: f for f in (*now, *d.previous)}.values()
        ]
        if follows:
            # read together like a batch (one snapshot, one id map and one parking query), synced one by one
            reads = await self._read_batch(follows)
            reads.batching = False
            for forced in follows:
                await self._sync(forced, as_dependency=True, path=d.path, reads=reads)
        if {f.key for f in now} != {f.key for f in d.previous}:
            await self.idmap.remember_follow_ups(d.company_id, p.entity_type, d.ref.local_id, [(f.entity_type, f.local_id) for f in now])
        if result.dropped_links:
            return await self._link_dropped(d, result)
        return SyncOutcome(kind=Kind.SYNCED, ref=d.ref, qbo_entity=p.qbo_entity, qbo_id=result.qbo_id, action=result.action)

    async def _link_dropped(self, d: _Doc, result: WriteResult) -> SyncOutcome:
        """Written, but QBO kept not every link we sent: a conflict a person reads (state, status, reconcile)."""
        reason = (
            f"link_dropped: QuickBooks kept {d.processor.qbo_entity} {result.qbo_id} but dropped its link to "
            f"{', '.join(result.dropped_links)} (QBO ignores a link to a closed estimate or a fully billed PO line); "
            "reopen it in QuickBooks or re-link it by hand, then re-drive"
        )
        return await self.failures.conflict(d.subject, reason, qbo_id=result.qbo_id)

    async def _refs(self, realm: str, entries: dict[tuple[str, int], IdMapEntry], tax: TaxSettings = US_DEFAULT) -> StaticRefs:
        accounts = await self.accounts.for_realm(realm)
        ids = {k: str(e.qbo_id) for k, e in entries.items() if e.qbo_id and e.realm_id == realm and e.status not in ("voided", "deleted")}
        lines = {k: e.line_ids for k, e in entries.items() if e.line_ids}
        return StaticRefs(accounts=accounts, ids=ids, line_ids=lines, tax=tax)


def _skipped(ref: DocRef, why: SkipReason, reason: str) -> SyncOutcome:
    return SyncOutcome(kind=Kind.SKIPPED, ref=ref, skip=why, reason=reason)
