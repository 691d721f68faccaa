"""The worker's drift check over one realm's CDC answer (``streams.agents.inbound`` calls it each poll).

For each object of an entity the product writes: the id map entry that stands for it (none: not ours
to watch), then ``classify`` (``bottleneck_qbo.ops.drift.classify``) against the document Bottleneck
holds now, read and mapped the way the engine does (the processor's ``load`` in one snapshot, its
``map`` with the ids of its dependencies) and compared field by field the way ``reconcile`` does. Stock
(lot QtyOnHand) is left to the adjustment path: QBO moves it on every invoice and bill.

What it does with the verdict: a consequence records QBO's new SyncToken; drift is recorded in
``qbo_sync.drift`` and, under ``bottleneck_wins``, the payload hash is cleared and a forced touch is
returned for the caller to put on the documents topic (the engine then re-pushes Bottleneck's owned
fields: the reconcile ``--fix`` mechanism). Every write here is durable before the touch is sent, and
the caller moves the CDC checkpoint only after the touches are acknowledged; a crash in between is
caught by the next poll (an open ``bottleneck_wins`` drift with no hash is re-sent).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from bottleneck_qbo.ops.drift.classify import Mapped, Verdict, classify, is_deleted, qbo_id
from bottleneck_qbo.ops.drift.store import DEFAULT_POLICY, POLICY_SQL
from bottleneck_qbo.ops.reconcile.diff import Difference
from bottleneck_qbo.ops.reconcile.run import Reconciler, writes_objects
from mappers.common import MappingError, StaticRefs
from mappers.tax import TaxSettings
from sinks import postgres
from sinks.qbo import tax_settings
from sinks.qbo.api import QboApi
from sinks.qbo.hashing import payload_hash
from sinks.qbo.idmap import ENTRY_COLUMNS, IdMapEntry
from streams.engine.accounts import AccountResolver
from streams.engine.docref import DocRef
from streams.engine.processor import Processor
from streams.engine.registry import Registry
from streams.engine.source import Source

log = logging.getLogger(__name__)

# reconcile's fixes that describe an owned field QBO changed (not stock, not a mapping problem)
_DRIFT_FIXES = frozenset({"push"})


def watched_entities(registry: Registry) -> list[str]:
    """The QBO entities the product writes objects of (not append-only adjustments)."""
    return sorted({p.qbo_entity for p in registry if writes_objects(p)})


@dataclass
class CheckResult:
    refs: list[DocRef] = field(default_factory=list)  # forced re-pushes for the documents topic
    verdicts: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.verdicts[kind] = self.verdicts.get(kind, 0) + 1


class DriftDetector:
    def __init__(self, db: postgres.Database, qbo: QboApi, registry: Registry, accounts: AccountResolver) -> None:
        self.db = db
        self.source = Source(db)
        self.registry = registry
        self.accounts = accounts
        self.watched = watched_entities(registry)
        self._entity_types = [p.entity_type for p in registry if writes_objects(p)]
        self._compare = Reconciler("", qbo, registry)  # its per-document comparison only

    async def check(self, realm_id: str, changes: Mapping[str, Sequence[Any]]) -> CheckResult:
        out = CheckResult()
        objects: dict[tuple[str, str], Mapping[str, Any]] = {}
        for entity in self.watched:
            batch = changes.get(entity) or ()
            for obj in batch if isinstance(batch, (list, tuple)) else ():
                qid = qbo_id(obj)
                if qid is None:
                    log.warning("drift: CDC of realm %s: skipping a %s without a readable Id", realm_id, entity)
                    out.count("malformed")
                    continue
                objects[(entity, qid)] = obj  # CDC lists an object once; the latest wins anyway
        if not objects:
            return out
        row = await self.db.fetchone("select id from companies where qbo_realm_id = %s", (realm_id,))
        if row is None:
            return out
        company_id = int(row["id"])
        keys = list(objects)
        rows = await self.db.fetchall(
            f"select {ENTRY_COLUMNS} from qbo_sync.id_map where company_id = %s and realm_id = %s and entity_type = any(%s) "
            "and (qbo_entity, qbo_id) in (select * from unnest(%s::text[], %s::text[]))",
            (company_id, realm_id, self._entity_types, [k[0] for k in keys], [k[1] for k in keys]),
        )
        entries = {(str(r["qbo_entity"]), str(r["qbo_id"])): IdMapEntry(**r) for r in rows}
        policy: str | None = None
        known: dict[tuple[str, int], Mapping[str, Any]] | None = None
        for key, obj in objects.items():
            entry = entries.get(key)
            mapped = Mapped(entry.sync_token, entry.payload_hash, entry.status) if entry else None
            # cheap first look (no Bottleneck read): ours, untracked or unreadable need nothing more
            first = classify(obj, mapped, current_hash=mapped.payload_hash if mapped else None, differences=("?",))
            if first.kind in ("malformed", "untracked", "ours") or entry is None:
                out.count(first.kind)
                if first.kind == "malformed":
                    log.warning("drift: CDC of realm %s: skipping %s %s: %s", realm_id, key[0], key[1], first.reason)
                continue
            try:
                if known is None:
                    known = await self._open_drift(company_id)
                seen = known.get((entry.entity_type, entry.local_id))
                token = None if is_deleted(obj) else str(obj.get("SyncToken"))
                if seen is not None and seen["qbo_sync_token"] == token:
                    # the same change again (polls overlap): decided already. A re-push whose touch may
                    # not have been sent (a crash in between; the hash is cleared first) is sent again.
                    out.count("known")
                    if seen["action"] == "re-pushed" and entry.payload_hash is None:
                        out.refs.append(self._ref(entry))
                    continue
                verdict, diffs = await self._judge(company_id, realm_id, entry, obj)
                out.count(verdict.kind)
                if verdict.kind == "consequence":
                    await self._record_token(entry, obj)
                elif verdict.kind == "drift":
                    policy = policy or await self._policy(company_id)
                    ref = await self._drift(entry, obj, diffs, policy)
                    if ref is not None:
                        out.refs.append(ref)
            except Exception:  # one odd object (or document) must not cost the realm its poll
                log.exception("drift: checking %s %s of realm %s failed; skipped", key[0], key[1], realm_id)
                out.count("error")
        return out

    async def _judge(self, company_id: int, realm_id: str, entry: IdMapEntry, obj: Mapping[str, Any]) -> tuple[Verdict, list[Difference]]:
        p = self.registry.get(entry.entity_type)
        assert p is not None, entry.entity_type
        async with self.source.snapshot() as snap:
            doc = await p.load(snap, entry.local_id)
            tax = await tax_settings.load(snap, company_id)
        mapped = Mapped(entry.sync_token, entry.payload_hash, entry.status)
        if doc is None or p.is_removed(doc) or not p.is_publishable(doc):
            return classify(obj, mapped, live_in_bottleneck=False), []
        refs = await self._refs(p, doc, entry, realm_id, tax)
        try:
            expected = p.map(doc, refs)
        except MappingError as exc:
            return Verdict("pending", f"cannot map it now: {exc}"), []
        current = payload_hash(expected, exclude=p.create_only)
        if is_deleted(obj):
            diffs = [
                Difference(p.entity_type, entry.local_id, entry.qbo_id, "(exists)", "in Bottleneck", "(deleted in QuickBooks)", "create")
            ]
        else:
            found = self._compare.document(p, entry.local_id, doc, {"qbo_id": entry.qbo_id}, {str(entry.qbo_id): obj}, refs)
            diffs = [d for d in found if d.fix in _DRIFT_FIXES]
        return classify(obj, mapped, current_hash=current, differences=diffs), diffs

    async def _refs(self, p: Processor[Any], doc: Any, entry: IdMapEntry, realm_id: str, tax: TaxSettings) -> StaticRefs:
        """The ids the engine would map with: its dependencies' id map entries (and its own)."""
        keys = [(d.entity_type, d.local_id) for d in p.dependencies(doc)] + [(entry.entity_type, entry.local_id)]
        rows = await self.db.fetchall(
            f"select {ENTRY_COLUMNS} from qbo_sync.id_map where company_id = %s and (entity_type, local_id) in "
            "(select * from unnest(%s::text[], %s::bigint[]))",
            (entry.company_id, [k[0] for k in keys], [k[1] for k in keys]),
        )
        deps = [IdMapEntry(**r) for r in rows]
        ids = {
            (e.entity_type, e.local_id): str(e.qbo_id)
            for e in deps
            if e.qbo_id and e.realm_id == realm_id and e.status not in ("voided", "deleted")
        }
        lines = {(e.entity_type, e.local_id): e.line_ids for e in deps if e.line_ids}
        return StaticRefs(accounts=await self.accounts.for_realm(realm_id), ids=ids, line_ids=lines, tax=tax)

    async def _policy(self, company_id: int) -> str:
        row = await self.db.fetchone(POLICY_SQL, (company_id,))
        return str(row["policy"]) if row else DEFAULT_POLICY

    async def _record_token(self, entry: IdMapEntry, obj: Mapping[str, Any]) -> None:
        """QBO's own change: take its SyncToken, unless our own write recorded a newer one meanwhile."""
        await self.db.execute(
            "update qbo_sync.id_map set sync_token = %s where company_id = %s and entity_type = %s and local_id = %s "
            "and sync_token is not distinct from %s",
            (str(obj.get("SyncToken")), entry.company_id, entry.entity_type, entry.local_id, entry.sync_token),
        )

    async def _open_drift(self, company_id: int) -> dict[tuple[str, int], Mapping[str, Any]]:
        rows = await self.db.fetchall(
            "select entity_type, local_id, qbo_sync_token, action from qbo_sync.drift where company_id = %s and resolved_at is null",
            (company_id,),
        )
        return {(str(r["entity_type"]), int(r["local_id"])): r for r in rows}

    @staticmethod
    def _ref(entry: IdMapEntry) -> DocRef:
        return DocRef(company_id=entry.company_id, entity_type=entry.entity_type, local_id=entry.local_id, forced=True)

    async def _drift(self, entry: IdMapEntry, obj: Mapping[str, Any], diffs: list[Difference], policy: str) -> DocRef | None:
        wins = policy == "bottleneck_wins"
        fields = [{"field": d.field, "bottleneck": d.bottleneck, "qbo": d.qbo} for d in diffs]
        meta = obj.get("MetaData")
        updated = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
        await self.db.execute(
            "insert into qbo_sync.drift (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, qbo_sync_token, "
            "qbo_updated_at, fields, policy, action) values (%s, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s, %s, %s) "
            "on conflict (company_id, entity_type, local_id) where resolved_at is null do update set "
            "qbo_sync_token = excluded.qbo_sync_token, qbo_updated_at = excluded.qbo_updated_at, fields = excluded.fields, "
            "policy = excluded.policy, action = excluded.action, last_seen_at = now()",
            (
                entry.company_id,
                entry.entity_type,
                entry.local_id,
                entry.realm_id,
                entry.qbo_entity,
                entry.qbo_id,
                None if is_deleted(obj) else str(obj.get("SyncToken")),
                updated if isinstance(updated, str) and len(updated) <= 40 else None,
                Jsonb(fields),
                policy,
                "re-pushed" if wins else "reported",
            ),
        )
        log.warning(
            "drift: %s %s (company %s, QBO %s %s) changed in QuickBooks: %s -> %s",
            entry.entity_type,
            entry.local_id,
            entry.company_id,
            entry.qbo_entity,
            entry.qbo_id,
            "; ".join(f"{f['field']}" for f in fields)[:500],
            "re-pushing Bottleneck's fields" if wins else "reported (policy report)",
        )
        if not wins:
            return None
        where = (entry.company_id, entry.entity_type, entry.local_id)
        if is_deleted(obj):
            # as reconcile --fix does for a lost object: forget it; the new generation gives a new requestid
            await self.db.execute(
                "update qbo_sync.id_map set qbo_id = null, sync_token = null, payload_hash = null, status = 'gone', "
                "line_ids = '{}'::jsonb, generation = generation + 1 where company_id = %s and entity_type = %s and local_id = %s",
                where,
            )
        else:
            # no hash: the engine cannot skip it; its stale SyncToken makes it re-read QBO and re-apply
            await self.db.execute(
                "update qbo_sync.id_map set payload_hash = null where company_id = %s and entity_type = %s and local_id = %s", where
            )
        # a parked conflict about the very edit would hold the re-push back
        await self.db.execute("delete from qbo_sync.sync_parking where company_id = %s and entity_type = %s and local_id = %s", where)
        return self._ref(entry)
