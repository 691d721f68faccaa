"""``reconcile``: compare every published Bottleneck row of a company with QBO, field by field.

Bottleneck's side is read the way the engine reads it (the processor's ``load`` in one snapshot, its
``map`` with the ids from the id map), so the expected object is exactly what the sync would send. QBO's
side is read in pages (``query``) through the same client, so under the realm's limiter. ``--fix``
re-drives the Bottleneck side through the normal path (the documents topic) after clearing the
payload hash, so the hash skip cannot hide a QBO-side edit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bottleneck_qbo.ops.reconcile.diff import (
    Difference,
    compare,
    expected_total,
    is_voided,
    qbo_total_before_tax,
    show,
)
from mappers.common import MappingError, StaticRefs
from sinks.qbo.api import QboApi
from streams.engine.accounts import AccountResolver
from streams.engine.docref import DocRef
from streams.engine.processor import Processor
from streams.engine.registry import Registry
from streams.engine.source import Source

# QBO objects of these entities are name lists: a default query hides the inactive ones.
_NAME_LISTS = frozenset({"Customer", "Vendor", "Item"})
# The status QBO keeps on a transaction Bottleneck closes (QBO also closes it itself when an invoice or bill links).
_STATUS_FIELD = {"Estimate": "TxnStatus", "PurchaseOrder": "POStatus"}
# create-only fields that still describe Bottleneck's current state (a lot's quantity)
_COMPARED_CREATE_ONLY = frozenset({"QtyOnHand"})


@dataclass
class CompanyReport:
    company_id: int
    realm_id: str
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)


@dataclass
class Report:
    companies: list[CompanyReport] = field(default_factory=list)

    @property
    def differences(self) -> list[Difference]:
        return [d for c in self.companies for d in c.differences]

    @property
    def clean(self) -> bool:
        return not self.differences


def writes_objects(p: Processor[Any]) -> bool:
    """Processors whose documents are one QBO object each (not append-only adjustments)."""
    return not p.append_only


class Reconciler:
    def __init__(self, dsn: str, qbo: QboApi, registry: Registry, *, progress: Callable[[int], None] | None = None) -> None:
        self.dsn = dsn
        self.qbo = qbo
        self.registry = registry
        self.accounts = AccountResolver(qbo)
        self.progress = progress or (lambda n: None)

    # --- what to look at ---------------------------------------------------------------------------
    def companies(self, company: int | None) -> list[tuple[int, str]]:
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "select id, qbo_realm_id from companies where qbo_realm_id is not null and (%s::bigint is null or id = %s) order by id",
                (company, company),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def processors(self, entities: Iterable[str] | None) -> list[Processor[Any]]:
        wanted = set(entities or [])
        known = {p.entity_type for p in self.registry if writes_objects(p)}
        unknown = wanted - known
        if unknown:
            raise ValueError(f"unknown entity type(s) {sorted(unknown)}; known: {sorted(known)}")
        return [p for p in self.registry if writes_objects(p) and (not wanted or p.entity_type in wanted)]

    def count(self, companies: list[tuple[int, str]], processors: list[Processor[Any]]) -> int:
        with psycopg.connect(self.dsn) as conn:
            total = 0
            for c, _ in companies:
                for p in processors:
                    row = conn.execute(f"select count(*) from {p.table} where company_id = %s", (c,)).fetchone()
                    total += int(row[0]) if row else 0
            return total

    # --- the comparison ----------------------------------------------------------------------------
    async def run(self, company: int | None = None, entities: Iterable[str] | None = None) -> Report:
        companies = self.companies(company)
        processors = self.processors(entities)
        report = Report()
        source = await Source.connect(self.dsn)
        try:
            for company_id, realm in companies:
                report.companies.append(await self._company(source, company_id, realm, processors))
        finally:
            await source.close()
        return report

    async def _company(self, source: Source, company_id: int, realm: str, processors: list[Processor[Any]]) -> CompanyReport:
        out = CompanyReport(company_id, realm)
        async with source.snapshot() as db:  # Bottleneck's connection, also for the product's own schema
            entries = {
                (r["entity_type"], int(r["local_id"])): r
                for r in await db.all(
                    "select entity_type, local_id, realm_id, qbo_entity, qbo_id, sync_token, status, line_ids "
                    "from qbo_sync.id_map where company_id = %s",
                    (company_id,),
                )
            }
        live = {k: e for k, e in entries.items() if e["qbo_id"] and e["realm_id"] == realm and e["status"] not in ("voided", "deleted")}
        refs = StaticRefs(
            accounts=await self.accounts.for_realm(realm),
            ids={k: str(e["qbo_id"]) for k, e in live.items()},
            line_ids={k: e["line_ids"] for k, e in live.items() if e["line_ids"]},
        )
        qbo_objects: dict[str, dict[str, Mapping[str, Any]]] = {}
        for p in processors:
            if p.qbo_entity not in qbo_objects:
                qbo_objects[p.qbo_entity] = await self._read_all(realm, p.qbo_entity)
            objects = qbo_objects[p.qbo_entity]
            async with source.snapshot() as db:
                ids = [int(r["id"]) for r in await db.all(f"select id from {p.table} where company_id = %s order by id", (company_id,))]
            seen: set[int] = set()
            for local_id in ids:
                seen.add(local_id)
                async with source.snapshot() as db:
                    doc = await p.load(db, local_id)
                out.checked += 1
                self.progress(1)
                out.differences.extend(self.document(p, local_id, doc, entries.get((p.entity_type, local_id)), objects, refs))
            # id map entries whose Bottleneck row is gone: QBO must show them removed
            for (etype, local_id), entry in entries.items():
                if etype == p.entity_type and local_id not in seen and entry["qbo_id"]:
                    out.differences.extend(self._removed(p, local_id, entry, objects))
        return out

    async def _read_all(self, realm: str, entity: str) -> dict[str, Mapping[str, Any]]:
        statements = [f"select * from {entity}"]
        if entity in _NAME_LISTS:
            statements.append(f"select * from {entity} where Active = false")
        found: dict[str, Mapping[str, Any]] = {}
        for statement in statements:
            for obj in await self.qbo.query(realm, statement):
                found[str(obj["Id"])] = obj
        return found

    def document(
        self,
        p: Processor[Any],
        local_id: int,
        doc: Any,
        entry: Mapping[str, Any] | None,
        objects: Mapping[str, Mapping[str, Any]],
        refs: StaticRefs,
    ) -> list[Difference]:
        et = p.entity_type
        if doc is None:
            return self._removed(p, local_id, entry, objects) if entry and entry["qbo_id"] else []
        if p.is_removed(doc):
            if entry and entry["qbo_id"]:
                return self._removed(p, local_id, entry, objects)
            return self._orphans(p, local_id, doc, objects, refs)
        if not p.is_publishable(doc):
            return []
        try:
            expected = p.map(doc, refs)
        except MappingError as exc:
            return [Difference(et, local_id, None, "(mapping)", str(exc), "(not sent)", fix="none")]
        qbo_id = str(entry["qbo_id"]) if entry and entry["qbo_id"] else None
        twins = self._same_key(p, doc, expected, objects)
        if qbo_id is None:
            if twins:
                return [Difference(et, local_id, twins[0], "(exists)", "in Bottleneck", f"in QuickBooks as {twins[0]}, not in the id map")]
            return [Difference(et, local_id, None, "(exists)", "in Bottleneck", "(missing)", fix="create")]
        actual = objects.get(qbo_id)
        if actual is None:
            return [Difference(et, local_id, qbo_id, "(exists)", "in Bottleneck", "(gone from QuickBooks)", fix="create")]
        diffs = [
            Difference(et, local_id, qbo_id, path, show(want), show(have), fix="quantity" if path == "QtyOnHand" else "push")
            for path, want, have in compare(expected, actual, skip=[f for f in p.create_only if f not in _COMPARED_CREATE_ONLY])
        ]
        others = [t for t in twins if t != qbo_id]
        if others:
            diffs.append(Difference(et, local_id, qbo_id, "(exactly once)", "1 object", f"also {', '.join(others)}", fix="none"))
        want_total, have_total = expected_total(expected), qbo_total_before_tax(actual)
        if want_total is not None and have_total is not None and want_total != have_total:
            diffs.append(Difference(et, local_id, qbo_id, "TotalAmt (before tax)", show(want_total), show(have_total)))
        diffs.extend(self._status(p, doc, local_id, qbo_id, actual))
        return diffs

    def _status(self, p: Processor[Any], doc: Any, local_id: int, qbo_id: str, actual: Mapping[str, Any]) -> list[Difference]:
        status_field = _STATUS_FIELD.get(p.qbo_entity)
        if status_field is None:
            return []
        closed_here = getattr(doc, "status", None) == "closed" or bool(getattr(doc, "invoiced", False))
        closed_there = actual.get(status_field) == "Closed"
        if closed_here and not closed_there:
            return [Difference(p.entity_type, local_id, qbo_id, status_field, "Closed", show(actual.get(status_field)))]
        done_by_link = bool(getattr(doc, "billed", False) or getattr(doc, "invoiced", False))
        if closed_there and not closed_here and not done_by_link:
            return [Difference(p.entity_type, local_id, qbo_id, status_field, "open", "Closed")]
        return []

    def _removed(
        self, p: Processor[Any], local_id: int, entry: Mapping[str, Any] | None, objects: Mapping[str, Mapping[str, Any]]
    ) -> list[Difference]:
        qbo_id = str(entry["qbo_id"]) if entry and entry["qbo_id"] else None
        actual = objects.get(qbo_id) if qbo_id else None
        if actual is None or p.on_delete == "ignore":
            return []
        still = {
            "deactivate": actual.get("Active") is not False,
            "void": not is_voided(actual),
            "delete": True,  # a deleted object no longer answers queries
        }[p.on_delete]
        if not still:
            return []
        return [Difference(p.entity_type, local_id, qbo_id, "(removed)", f"{p.on_delete}d in Bottleneck", "still live", fix="remove")]

    def _orphans(
        self, p: Processor[Any], local_id: int, doc: Any, objects: Mapping[str, Mapping[str, Any]], refs: StaticRefs
    ) -> list[Difference]:
        """A document removed in Bottleneck whose create reached QBO although the id map never heard back."""
        try:
            expected = p.map(doc, refs)
        except MappingError:
            return []
        found = [
            t for t in self._same_key(p, doc, expected, objects) if not is_voided(objects[t]) and objects[t].get("Active") is not False
        ]
        return [
            Difference(
                p.entity_type,
                local_id,
                t,
                "(removed)",
                f"{p.on_delete}d in Bottleneck",
                "live in QuickBooks, not in the id map",
                fix="remove",
            )
            for t in found
        ]

    def _same_key(self, p: Processor[Any], doc: Any, expected: Mapping[str, Any], objects: Mapping[str, Mapping[str, Any]]) -> list[str]:
        key = p.natural_key
        value = expected.get(key) if key else None
        if not key or not isinstance(value, str):
            return []
        hits = []
        for qbo_id, obj in objects.items():
            name = obj.get(key)
            if name != value and not (isinstance(name, str) and name == value + " (deleted)"):
                continue
            if is_voided(obj) or (obj.get("Type") == "Category") != (expected.get("Type") == "Category"):
                continue
            if p.matches(doc, expected, obj):
                hits.append(qbo_id)
        return sorted(hits, key=lambda s: (len(s), s))


# --- --fix -------------------------------------------------------------------------------------------
QUANTITY_OF = {"lot": "lot_quantity", "item": "item_quantity"}


def fix_plan(report: Report) -> list[DocRef]:
    """The documents to re-drive, dependencies' order kept (the report lists them processor by processor)."""
    refs: dict[tuple[int, str, int], DocRef] = {}
    for company in report.companies:
        for d in company.differences:
            if d.local_id is None or d.fix == "none":
                continue
            entity = QUANTITY_OF.get(d.entity_type, d.entity_type) if d.fix == "quantity" else d.entity_type
            key = (company.company_id, entity, d.local_id)
            refs.setdefault(key, DocRef(company_id=company.company_id, entity_type=entity, local_id=d.local_id, forced=True))
    return list(refs.values())


def prepare_fix(dsn: str, report: Report, registry: Registry) -> None:
    """Make the normal path act on each difference: clear the hash (a push), forget an object QBO no
    longer has (a create), or record the orphan found by natural key (so the remove path voids it)."""
    by_fix: dict[str, list[tuple[CompanyReport, Difference]]] = defaultdict(list)
    for company in report.companies:
        for d in company.differences:
            by_fix[d.fix].append((company, d))
    with psycopg.connect(dsn, autocommit=True) as conn:
        for c, d in by_fix["push"]:
            conn.execute(
                "update qbo_sync.id_map set payload_hash = null where company_id = %s and entity_type = %s and local_id = %s",
                (c.company_id, d.entity_type, d.local_id),
            )
        for c, d in by_fix["create"]:
            # forget the lost object but keep the row: its generation makes the new create's requestid new
            conn.execute(
                "update qbo_sync.id_map set qbo_id = null, sync_token = null, payload_hash = null, status = 'gone', "
                "line_ids = '{}'::jsonb, generation = generation + 1 "
                "where company_id = %s and entity_type = %s and local_id = %s and qbo_id is not null",
                (c.company_id, d.entity_type, d.local_id),
            )
        for c, d in by_fix["remove"]:
            p = registry.get(d.entity_type)
            if d.qbo_id is None or p is None:
                continue
            conn.execute(
                "insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, status) "
                "values (%s, %s, %s, %s, %s, %s, 'synced') on conflict (company_id, entity_type, local_id) do update "
                "set qbo_id = excluded.qbo_id, realm_id = excluded.realm_id, sync_token = null, status = 'synced'",
                (c.company_id, d.entity_type, d.local_id, c.realm_id, p.qbo_entity, d.qbo_id),
            )
        touched = {(c.company_id, d.entity_type, d.local_id) for fix in ("push", "create", "remove", "quantity") for c, d in by_fix[fix]}
        for company_id, entity_type, local_id in touched:
            # anything parked for them (a conflict about the very difference) would hold the re-drive back
            conn.execute(
                "delete from qbo_sync.sync_parking where company_id = %s and entity_type = %s and local_id = %s",
                (company_id, entity_type, local_id),
            )


def summary(report: Report) -> dict[str, Any]:
    return {
        "clean": report.clean,
        "companies": [
            {"company_id": c.company_id, "realm_id": c.realm_id, "checked": c.checked, "differences": len(c.differences)}
            for c in report.companies
        ],
        "differences": [d.__dict__ for d in report.differences],
    }
