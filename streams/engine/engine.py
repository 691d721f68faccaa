"""SyncEngine: brings one Bottleneck document's current state into QBO, idempotently.

``await engine.sync(ref)`` reads the document from Postgres (one consistent snapshot), skips drafts,
companies without a realm and (in manual mode) anything not asked for, ensures dependencies through
the same path, then lets the processor write through ``Writer`` (hash check, lookup, create with a
deterministic requestid, or sparse update). It never sleeps and never raises for a QBO or data
problem: failures come back as a ``SyncOutcome`` and are parked (``qbo_sync.sync_parking``) so the
caller moves on; ``redrive_due(now)`` hands parked documents back when they are due.
No Faust here: the worker calls these two methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from pydantic import ValidationError

from mappers.bottleneck import Company
from mappers.common import MappingError, StaticRefs
from mappers.tax import US_DEFAULT, TaxSettings
from sinks.qbo import tax_settings
from sinks.qbo.api import QboApi
from sinks.qbo.errors import (
    QboAuthError,
    QboConfigError,
    QboError,
    QboRateLimited,
    QboStaleSyncToken,
    QboTransientError,
)
from sinks.qbo.idmap import IdMap, IdMapEntry
from sinks.qbo.writer import StaleRestart, SyncConflict, Writer, WriteResult
from streams.engine.accounts import AccountResolver
from streams.engine.docref import DocRef
from streams.engine.outcome import Kind, SkipReason, SyncOutcome
from streams.engine.parking import Parking
from streams.engine.processor import Processor
from streams.engine.registry import Registry
from streams.engine.source import Source

log = logging.getLogger("streams.engine")


# Longest wait between two attempts of a document parked by a realm-wide configuration problem.
CONFIG_RETRY_MAX_S = 3600.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncEngine:
    def __init__(
        self,
        source: Source,
        qbo: QboApi,
        idmap: IdMap,
        parking: Parking,
        registry: Registry,
        *,
        accounts: AccountResolver | None = None,
        clock: Callable[[], datetime] = _utcnow,
        retry_base_delay_s: float = 0.5,
        retry_max_delay_s: float = 60.0,
        retry_max_attempts: int = 8,
    ) -> None:
        self.source = source
        self.qbo = qbo
        self.idmap = idmap
        self.parking = parking
        self.registry = registry
        self.accounts = accounts or AccountResolver(qbo)
        self.clock = clock
        self.retry_base_delay_s = retry_base_delay_s
        self.retry_max_delay_s = retry_max_delay_s
        self.retry_max_attempts = retry_max_attempts

    # --- public API --------------------------------------------------------------------------------
    async def sync(self, ref: DocRef) -> SyncOutcome:
        """Bring ``ref``'s current state into QBO. Never raises for data or QBO failures."""
        return await self._sync(ref, as_dependency=False, path=())

    async def redrive_due(self, now: datetime | None = None) -> list[DocRef]:
        """Parked documents due for another attempt (retry time reached, or their dependency synced).
        Each is leased: call ``sync`` on it; it is re-parked or cleared by that call."""
        return await self.parking.due(now or self.clock())

    # --- the path every document (and dependency) takes ---------------------------------------------
    async def _sync(self, ref: DocRef, *, as_dependency: bool, path: tuple[str, ...]) -> SyncOutcome:
        processor = self.registry.get(ref.entity_type)
        if processor is None:
            return SyncOutcome(kind=Kind.DEAD, ref=ref, reason=f"no processor is registered for entity type {ref.entity_type!r}")
        if ref.key in path:
            return self._skipped(ref, SkipReason.CYCLE, f"dependency cycle through {' -> '.join(path)}")
        try:
            try:
                return await self._sync_checked(processor, ref, as_dependency=as_dependency, path=path + (ref.key,), run=0)
            except StaleRestart:
                # QBO changed under us: start over from Bottleneck's current state (rule 2 and rule 6)
                log.info("stale SyncToken for %s; re-reading and trying once more", ref)
                return await self._sync_checked(processor, ref, as_dependency=as_dependency, path=path + (ref.key,), run=1)
        except psycopg.OperationalError as exc:
            # Bottleneck's database is unreachable: nothing is wrong with the document
            return await self._retry(ref, processor, f"database unavailable: {exc}", None)
        except ValidationError as exc:
            return await self._dead(ref, processor, f"the Bottleneck row does not fit the expected shape: {exc}", None, ref.company_id)
        except Exception as exc:  # a bug must not stop the records behind this one
            log.exception("unexpected failure syncing %s", ref)
            return await self._dead(ref, processor, f"internal error: {type(exc).__name__}: {exc}", None, ref.company_id)

    async def _sync_checked(self, p: Processor[Any], ref: DocRef, *, as_dependency: bool, path: tuple[str, ...], run: int) -> SyncOutcome:
        company_id = ref.company_id if ref.company_id is not None else await self.source.company_of(p.table, ref.local_id)
        if company_id is None:
            gone = await self.idmap.find(ref.entity_type, ref.local_id)
            if gone is None:
                if ref.forced and not as_dependency:
                    return await self._dead(
                        ref, p, f"publish request for {ref.entity_type} {ref.local_id}, which does not exist", None, None
                    )
                await self.parking.clear(ref)
                return self._skipped(ref, SkipReason.NOT_FOUND, "the row does not exist and was never in QuickBooks")
            company_id = gone.company_id
        ref = ref.model_copy(update={"company_id": company_id})
        # the company's connection and the document come from the same snapshot
        tax = US_DEFAULT
        async with self.source.snapshot() as db:
            row = await db.one("select id, name, qbo_realm_id, qbo_sync_mode from companies where id = %s", (company_id,))
            company = Company.model_validate(row) if row else None
            skip: tuple[SkipReason, str] | None = None
            if company is None or not company.qbo_realm_id:
                skip = SkipReason.NO_REALM, f"company {company_id} has no qbo_realm_id"
            elif company.qbo_sync_mode == "manual" and not (ref.forced or as_dependency):
                skip = SkipReason.MANUAL_MODE, f"company {company_id} syncs manually; publish it to send it"
            else:
                doc = await p.load(db, ref.local_id)
                tax = await tax_settings.load(db, company_id)
        if skip is not None or company is None or company.qbo_realm_id is None:
            why, reason = skip or (SkipReason.NO_REALM, "no realm")
            log.info("skip %s: %s", ref, reason)
            # a retry left from before the company was disconnected or switched to manual is moot now;
            # conflicts and dead ones stay visible
            await self.parking.clear(ref, ("waiting", "retry"))
            return self._skipped(ref, why, reason)
        realm = company.qbo_realm_id
        entry = await self.idmap.get(company_id, ref.entity_type, ref.local_id)
        parked = await self.parking.get(ref)
        was_parked = parked is not None
        salt = parked.attempts if parked is not None and parked.state in ("dead", "conflict") else 0
        writer_args = dict(
            qbo=self.qbo,
            idmap=self.idmap,
            processor=p,
            company_id=company_id,
            local_id=ref.local_id,
            realm_id=realm,
            entry=entry,
            today=lambda: self.clock().date(),
            salt=salt,
            run=run,
        )
        owner = getattr(doc, "company_id", company_id)
        if owner != company_id:
            # e.g. a publish request naming another company's document: never cross tenants
            return await self._dead(ref, p, f"{ref.entity_type} {ref.local_id} belongs to company {owner}, not {company_id}", None, None)
        try:
            if doc is None or p.is_removed(doc):
                result = await Writer(doc=doc, **writer_args).remove()  # type: ignore[arg-type]
                if not result.wrote and (entry is None or entry.qbo_id is None):
                    if doc is None and ref.forced and not as_dependency:
                        return await self._dead(
                            ref, p, f"publish request for {ref.entity_type} {ref.local_id}, which does not exist", None, company_id
                        )
                    if was_parked:
                        await self.parking.clear(ref)
                    return self._skipped(ref, SkipReason.NOT_IN_QBO, "removed in Bottleneck before it reached QuickBooks")
                outcome = await self._done(ref, p, result, was_parked)
                if result.wrote and doc is not None:
                    # a voided invoice or bill gives its stock back in QBO: re-check the quantities
                    await self._follow_ups(p, doc, result, company_id, path)
                return outcome
            if not p.is_publishable(doc):
                if was_parked:
                    await self.parking.clear(ref)
                if getattr(doc, "status", None) == "draft":
                    return self._skipped(ref, SkipReason.DRAFT, "draft")
                return self._skipped(ref, SkipReason.NOT_APPLICABLE, f"{p.entity_type} does not apply to this row")

            # forced: a dependency parked here must be re-driven even in manual mode (its dependant asked)
            deps = [d.model_copy(update={"company_id": company_id, "forced": True}) for d in p.dependencies(doc)]
            present = await self.idmap.many(company_id, [(d.entity_type, d.local_id) for d in deps])
            synced_now = False
            for dep in deps:
                known = present.get((dep.entity_type, dep.local_id))
                if known is not None and known.qbo_id and known.realm_id == realm and known.status == "synced":
                    # it exists in QBO; its own events keep it current, so no need to re-read it here
                    continue
                out = await self._sync(dep, as_dependency=True, path=path)
                synced_now = True
                if not out.ok:
                    # a failed dependency blocks only its dependants; re-driven when it syncs
                    reason = f"waiting for {dep.entity_type} {dep.local_id}: {out.reason or out.kind.value}"
                    await self.parking.park(ref, "waiting", reason, waiting_on=dep, next_attempt_at=None)
                    return SyncOutcome(kind=Kind.WAITING, ref=ref, qbo_entity=p.qbo_entity, reason=reason, waiting_on=dep)

            if synced_now:
                present = await self.idmap.many(company_id, [(d.entity_type, d.local_id) for d in deps])
            refs = await self._refs(realm, present, tax)
            result = await p.write(Writer(doc=doc, **writer_args), doc, refs)  # type: ignore[arg-type]
            outcome = await self._done(ref, p, result, was_parked)
            if result.wrote:
                await self._follow_ups(p, doc, result, company_id, path)
            return outcome
        except MappingError as exc:
            return await self._dead(ref, p, str(exc), None, company_id)
        except SyncConflict as exc:
            return await self._conflict(ref, p, exc.reason, exc.error, company_id)
        except QboStaleSyncToken as exc:  # from a void or delete
            if run == 0:
                raise StaleRestart(str(exc)) from exc
            return await self._conflict(ref, p, f"QuickBooks object changed concurrently: {exc.message}", exc, company_id)
        except QboRateLimited as exc:
            at = self.clock() + timedelta(seconds=exc.retry_after_s)
            reason = f"QuickBooks rate limit for realm {realm}; retrying at {at.isoformat()}"
            await self.parking.park(ref, "retry", reason, next_attempt_at=at, fault=exc.to_dict())
            return SyncOutcome(kind=Kind.RETRY_LATER, ref=ref, qbo_entity=p.qbo_entity, reason=reason, retry_at=at, fault=exc.to_dict())
        except (QboTransientError, QboAuthError) as exc:
            return await self._retry(ref, p, f"QuickBooks is failing: {exc.message}", exc)
        except QboConfigError as exc:
            # realm-wide (revoked token, missing account, feature not enabled): dead-lettering every document
            # of the realm would only make work; park them and keep trying, ever more slowly (doubling up to
            # CONFIG_RETRY_MAX_S), until a person fixes it: `connect` and `resync` bring them back at once.
            # A flat short delay re-drove every document of every broken realm each minute and starved the
            # healthy realms sharing the worker.
            attempts = await self.parking.attempts(ref)
            delay = min(self.retry_max_delay_s * 2 ** min(attempts, 16), max(CONFIG_RETRY_MAX_S, self.retry_max_delay_s))
            at = self.clock() + timedelta(seconds=delay)
            reason = f"QuickBooks configuration problem (a person must act): {exc.message}"
            await self.parking.park(ref, "retry", reason, next_attempt_at=at, fault=exc.to_dict())
            log.error("config problem for realm %s, %s parked: %s", realm, ref, exc.message)
            return SyncOutcome(kind=Kind.RETRY_LATER, ref=ref, qbo_entity=p.qbo_entity, reason=reason, retry_at=at, fault=exc.to_dict())
        except QboError as exc:
            return await self._dead(ref, p, _human(exc), exc, company_id)

    # --- helpers -----------------------------------------------------------------------------------
    async def _follow_ups(self, p: Processor[Any], doc: Any, result: WriteResult, company_id: int, path: tuple[str, ...]) -> None:
        # each follow-up parks itself on failure; the document's own outcome stands
        for follow in await p.after_sync(doc, result.qbo_object or {}):
            await self._sync(follow.model_copy(update={"company_id": company_id, "forced": True}), as_dependency=True, path=path)

    async def _refs(self, realm: str, entries: dict[tuple[str, int], IdMapEntry], tax: TaxSettings = US_DEFAULT) -> StaticRefs:
        accounts = await self.accounts.for_realm(realm)
        ids = {k: e.qbo_id for k, e in entries.items() if e.qbo_id and e.realm_id == realm and e.status not in ("voided", "deleted")}
        lines = {k: e.line_ids for k, e in entries.items() if e.line_ids}
        return StaticRefs(accounts=accounts, ids=ids, line_ids=lines, tax=tax)  # type: ignore[arg-type]

    async def _done(self, ref: DocRef, p: Processor[Any], result: WriteResult, was_parked: bool) -> SyncOutcome:
        # only a parked document can have dependants waiting on it (they wait because it failed)
        if was_parked:
            await self.parking.clear(ref)
        if was_parked or result.wrote:
            await self.parking.release_waiters(ref, self.clock())
        if result.wrote:
            log.info("synced %s -> %s %s (%s)", ref, p.qbo_entity, result.qbo_id, result.action)
            return SyncOutcome(kind=Kind.SYNCED, ref=ref, qbo_entity=p.qbo_entity, qbo_id=result.qbo_id, action=result.action)
        return SyncOutcome(kind=Kind.UNCHANGED, ref=ref, qbo_entity=p.qbo_entity, qbo_id=result.qbo_id)

    def _skipped(self, ref: DocRef, why: SkipReason, reason: str) -> SyncOutcome:
        return SyncOutcome(kind=Kind.SKIPPED, ref=ref, skip=why, reason=reason)

    async def _retry(self, ref: DocRef, p: Processor[Any], reason: str, exc: QboError | None) -> SyncOutcome:
        attempts = await self.parking.attempts(ref)
        if attempts >= self.retry_max_attempts:
            return await self._dead(ref, p, f"gave up after {attempts} attempts: {reason}", exc, ref.company_id)
        delay = min(self.retry_base_delay_s * 2**attempts, self.retry_max_delay_s)
        at = self.clock() + timedelta(seconds=delay)
        fault = exc.to_dict() if exc else None
        await self.parking.park(ref, "retry", reason, next_attempt_at=at, fault=fault)
        log.warning("retry %s at %s: %s", ref, at.isoformat(), reason)
        return SyncOutcome(kind=Kind.RETRY_LATER, ref=ref, qbo_entity=p.qbo_entity, reason=reason, retry_at=at, fault=fault)

    async def _conflict(self, ref: DocRef, p: Processor[Any], reason: str, exc: QboError | None, company_id: int | None) -> SyncOutcome:
        fault = exc.to_dict() if exc else None
        await self.parking.park(ref, "conflict", reason, fault=fault)
        if company_id is not None:
            await self.idmap.mark_error(company_id, ref.entity_type, ref.local_id, reason)
        log.warning("conflict %s: %s", ref, reason)
        return SyncOutcome(kind=Kind.CONFLICT, ref=ref, qbo_entity=p.qbo_entity, reason=reason, fault=fault)

    async def _dead(self, ref: DocRef, p: Processor[Any], reason: str, exc: QboError | None, company_id: int | None) -> SyncOutcome:
        fault = exc.to_dict() if exc else None
        await self.parking.park(ref, "dead", reason, fault=fault)
        if company_id is not None:
            await self.idmap.mark_error(company_id, ref.entity_type, ref.local_id, reason)
        log.error("dead %s: %s", ref, reason)
        return SyncOutcome(kind=Kind.DEAD, ref=ref, qbo_entity=p.qbo_entity, reason=reason, fault=fault)


def _human(exc: QboError) -> str:
    details = "; ".join(f"{f.code} {f.message}{(': ' + f.detail) if f.detail else ''}" for f in exc.faults)
    return f"QuickBooks rejected it: {details or exc.message}"
