"""Writer: how one document's QBO body reaches QBO exactly once.

Order of checks, each of which can make the write unnecessary (DESIGN rules 4-6):
  1. id map entry with the same payload hash -> nothing to do;
  2. no entry -> look the object up by natural key (a previous run may have created it) and adopt it;
  3. create with a deterministic requestid, or send a sparse update of the fields Bottleneck owns with
     the SyncToken recorded at our last write. A stale SyncToken (QBO-side edit, or another worker) makes
     the engine re-read the document from Bottleneck, read QBO's current SyncToken and try once more;
     stale again is a conflict. (Reading the token right before every update would cost a call and
     would let a slower worker overwrite a newer state with an older one.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

from sinks.qbo.api import QboApi
from sinks.qbo.errors import QboDuplicateName, QboError, QboNotFound, QboRateLimited, QboStaleSyncToken
from sinks.qbo.hashing import payload_hash
from sinks.qbo.idmap import IdentityTaken, IdMapEntry
from sinks.qbo.query import quote
from sinks.qbo.requestid import request_id

log = logging.getLogger("sinks.qbo.writer")


class WriteSpec(Protocol):
    """What the writer needs to know about a document type (``streams.engine.processor.Processor``
    provides it; the writer does not depend on the stream layer)."""

    @property
    def entity_type(self) -> str: ...

    @property
    def qbo_entity(self) -> str: ...

    @property
    def natural_key(self) -> str | None: ...

    @property
    def on_delete(self) -> str: ...

    @property
    def create_only(self) -> Sequence[str]: ...

    def line_ids(self, doc: Any) -> list[int]: ...

    def matches(self, doc: Any, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool: ...


class IdMapRecorder(Protocol):
    """The id map as the writer uses it (``sinks.qbo.idmap.IdMap``): record what QBO now holds."""

    async def intend(
        self, *, company_id: int, entity_type: str, local_id: int, realm_id: str, qbo_entity: str, intent: Mapping[str, Any]
    ) -> None: ...

    async def abandon_intent(self, company_id: int, entity_type: str, local_id: int) -> None: ...

    async def owner(self, realm_id: str, qbo_entity: str, qbo_id: str) -> tuple[int, str, int] | None: ...

    async def record(
        self,
        *,
        company_id: int,
        entity_type: str,
        local_id: int,
        realm_id: str,
        qbo_entity: str,
        qbo_id: str | None,
        sync_token: str | None,
        payload_hash: str | None,
        status: str = "synced",
        line_ids: Mapping[str, str] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class WriteContext:
    """Everything one write of one document needs besides the document itself."""

    qbo: QboApi
    idmap: IdMapRecorder
    spec: WriteSpec
    company_id: int
    local_id: int
    realm_id: str
    entry: IdMapEntry | None  # the id map entry (of this realm: an entry of another realm is ignored)
    today: Callable[[], date] = field(default=date.today)
    # QBO answers a repeated requestid with its first response, faults included: after a 400-class
    # failure (dead / conflict) the next attempt must carry a new id. Lost responses and 5xx keep
    # salt 0, so their retries still deduplicate.
    salt: int = 0
    run: int = 0  # 0, or 1 when the engine re-runs the document after a stale SyncToken


REMOVED = ("voided", "deleted")
DELETED_SUFFIX = " (deleted)"


class StaleRestart(Exception):
    """QBO's object changed since we read it (5010). The engine re-reads the document from Bottleneck and
    the object from QBO and tries once more: re-applying the payload we built before could push an older
    Bottleneck state over a newer one that another worker has just written."""


class SyncConflict(Exception):
    """QBO-side changes keep clashing with ours; the document is parked as a conflict."""

    def __init__(self, reason: str, error: QboError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class WriteResult:
    action: str  # create / update / adopt / adjust / none
    qbo_id: str | None
    qbo_object: Mapping[str, Any] | None = None
    dropped_links: tuple[str, ...] = ()  # links we sent that QBO's answer does not have ("Estimate 12", ...)

    @property
    def wrote(self) -> bool:
        return self.action != "none"


@dataclass(frozen=True)
class BatchOp:
    """One write planned for QBO's batch API: ``body`` is the item's entity body (an update carries Id,
    SyncToken and sparse). ``request_id`` is the single path's requestid for the same write (recorded
    with a create's intent); ``payload`` is the mapped document (for the hash and the dropped links)."""

    operation: str  # create / update
    body: Mapping[str, Any]
    request_id: str
    digest: str
    payload: Mapping[str, Any]


class Writer:
    def __init__(self, ctx: WriteContext, doc: Any) -> None:
        self.ctx = ctx
        self.doc = doc
        self.qbo = ctx.qbo
        self.idmap = ctx.idmap
        self.processor = ctx.spec
        self.company_id = ctx.company_id
        self.local_id = ctx.local_id
        self.realm_id = ctx.realm_id
        self.run = ctx.run
        self.salt = ctx.salt
        self.entry = ctx.entry if ctx.entry and ctx.entry.realm_id == ctx.realm_id else None

    def today(self) -> date:
        return self.ctx.today()

    async def read(self, entity: str, qbo_id: str) -> Mapping[str, Any]:
        """The realm's current ``entity`` ``qbo_id`` (what an append-only processor compares against)."""
        return await self.qbo.read(self.realm_id, entity, qbo_id)

    # --- the default path ------------------------------------------------------------------------
    async def upsert(self, payload: Mapping[str, Any]) -> WriteResult:
        p = self.processor
        digest = payload_hash(payload, exclude=p.create_only)
        entry = self.entry if self.entry and self.entry.qbo_id and self.entry.status not in REMOVED else None
        if entry and entry.payload_hash == digest and entry.status == "synced":
            return WriteResult("none", entry.qbo_id)
        current: Mapping[str, Any] | None = None
        action = "update"
        if entry is None:
            # only an earlier attempt whose answer we never saw (or a re-create after a void) can have left
            # an object in QBO: a new document costs one request, the create
            current = await self.lookup(payload) if self._attempted() else None
            if current is None:
                rid = self._create_id(digest)
                await self._intend(payload, rid)
                try:
                    obj = await self.qbo.create(self.realm_id, p.qbo_entity, payload, request_id=rid)
                except QboRateLimited:
                    # refused before QBO processed it (the realm's own budget, or a 429): nothing can have
                    # been created, so the retry needs no natural-key lookup (one request per document)
                    await self.idmap.abandon_intent(self.company_id, p.entity_type, self.local_id)
                    raise
                except QboDuplicateName:
                    # the name is held in QBO: an object made outside this product (onboarding a company
                    # that already has customers) or an inactive one (QBO's default queries hide inactive
                    # names, yet they still hold them, e.g. a customer deleted in Bottleneck and created
                    # again). Adopted only when no other Bottleneck row stands for it.
                    current = await self.lookup(payload) or await self.lookup(payload, inactive=True)
                    if current is None:
                        raise
                else:
                    dropped = dropped_links(payload, obj)
                    await self._record(obj, None if dropped else digest)
                    return WriteResult("create", str(obj["Id"]), obj, dropped)
            action = "adopt"
        # adopting: the object found by natural key; updating: the entry, which has a qbo_id (filtered above)
        qbo_id = str(current["Id"]) if current is not None else str(entry.qbo_id if entry is not None else "")
        body = self._lines_in_place({k: v for k, v in payload.items() if k not in p.create_only}, entry)
        # First run: the SyncToken we recorded with our last write, so anything that moved the object since
        # (a QBO-side edit, another worker) fails as stale instead of being overwritten; after that the engine
        # re-reads Bottleneck, and the second run reads QBO's current SyncToken.
        hint = entry.sync_token if entry is not None and current is None and self.run == 0 else None
        updated = await self._sparse_update(qbo_id, body, digest, current, local_retry=False, token_hint=hint)
        # a dropped link leaves no hash: every re-drive sends the document again and checks once more
        dropped = dropped_links(payload, updated)
        await self._record(updated, None if dropped else digest)
        return WriteResult(action, qbo_id, updated, dropped)

    # --- the batch path (streams/engine/batching.py): the same decisions, the request sent by the caller ---
    def plan(self, payload: Mapping[str, Any]) -> WriteResult | BatchOp | None:
        """What ``upsert`` would send, as one batch operation: a plain create or a sparse update with the
        SyncToken of our last write. ``WriteResult("none")`` when the hash says QBO holds it already;
        None when it needs more than one request (a natural-key lookup after an unconfirmed create or a
        void; a second run after a stale SyncToken): then ``upsert`` does it."""
        p = self.processor
        digest = payload_hash(payload, exclude=p.create_only)
        entry = self.entry if self.entry and self.entry.qbo_id and self.entry.status not in REMOVED else None
        if entry and entry.payload_hash == digest and entry.status == "synced":
            return WriteResult("none", entry.qbo_id)
        if self.run != 0:
            return None
        if entry is None:
            if self._attempted():
                return None
            return BatchOp("create", dict(payload), self._create_id(digest), digest, payload)
        if entry.sync_token is None or entry.qbo_id is None:
            return None
        body = self._lines_in_place({k: v for k, v in payload.items() if k not in p.create_only}, entry)
        rid = request_id(self.realm_id, p.entity_type, self.local_id, "update", digest, entry.sync_token, self.run, 0, self.salt)
        update = {**body, "Id": entry.qbo_id, "SyncToken": entry.sync_token, "sparse": True}
        return BatchOp("update", update, rid, digest, payload)

    async def before_send(self, op: BatchOp) -> None:
        """Durable before the batch leaves, as on the single path: a create's intent (its requestid and key)."""
        if op.operation == "create":
            await self._intend(op.payload, op.request_id)

    async def not_sent(self, op: BatchOp) -> None:
        """The batch was refused before QBO processed it (rate limit): nothing can have been created."""
        if op.operation == "create":
            await self.idmap.abandon_intent(self.company_id, self.processor.entity_type, self.local_id)

    async def answered(self, op: BatchOp, obj: Mapping[str, Any]) -> WriteResult:
        """Record QBO's answer to ``op`` (the object it stored) like ``upsert`` records its own."""
        dropped = dropped_links(op.payload, obj)
        await self._record(obj, None if dropped else op.digest)
        return WriteResult(op.operation, str(obj["Id"]), obj, dropped)

    def _create_id(self, digest: str) -> str:
        return request_id(self.realm_id, self.processor.entity_type, self.local_id, "create", digest, self.salt, *self._generation())

    async def _intend(self, payload: Mapping[str, Any], rid: str) -> None:
        p = self.processor
        await self.idmap.intend(
            company_id=self.company_id,
            entity_type=p.entity_type,
            local_id=self.local_id,
            realm_id=self.realm_id,
            qbo_entity=p.qbo_entity,
            intent=_intent(p, payload, rid),
        )

    def _attempted(self) -> bool:
        """A create was sent before without its answer recorded, or the object was voided/deleted (and
        a re-created document may find it by natural key)."""
        raw = self.ctx.entry
        if raw is None or raw.realm_id != self.realm_id:
            return False
        return raw.create_intent is not None or (raw.qbo_id is not None and raw.status in REMOVED)

    def _generation(self) -> tuple[int, ...]:
        """Empty for a first create (so requestids of earlier versions stay the same); the generation
        when the object QBO had was lost and must be created anew (a repeated requestid would be
        answered with the lost object)."""
        gen = self.entry.generation if self.entry is not None else 0
        return (gen,) if gen else ()

    def _lines_in_place(self, body: dict[str, Any], entry: IdMapEntry | None) -> dict[str, Any]:
        """Give each line the QBO Line.Id it had, so QBO updates lines instead of replacing them
        (new Bottleneck lines get none and are added; lines no longer sent are removed by QBO)."""
        known = entry.line_ids if entry else {}
        lines = body.get("Line")
        if not known or not isinstance(lines, list):
            return body
        local = self.processor.line_ids(self.doc)
        if len(local) != len(lines):
            return body
        placed = [({**ln, "Id": known[str(lid)]} if str(lid) in known else ln) for lid, ln in zip(local, lines, strict=True)]
        return {**body, "Line": placed}

    async def lookup(self, payload: Mapping[str, Any], *, inactive: bool = False) -> Mapping[str, Any] | None:
        """The QBO object with this payload's natural key that the processor accepts as this document
        (among inactive objects when ``inactive``)."""
        p = self.processor
        key = p.natural_key
        value = payload.get(key) if key else None
        if not key or not isinstance(value, str):
            return None
        extra = " and Active = false" if inactive else ""
        if inactive:
            # QBO shows (and matches) an inactive name-list object as "Name (deleted)"
            value = f"{value}{DELETED_SUFFIX}"
        rows = await self.qbo.query(self.realm_id, f"select * from {p.qbo_entity} where {key} = {quote(value)}{extra}")
        for row in rows:
            if _same_kind(payload, row) and p.matches(self.doc, payload, row) and await self._free(row):
                return row
        return None

    async def _free(self, row: Mapping[str, Any]) -> bool:
        """Nothing but this document maps to ``row`` (identity: never two Bottleneck rows on one object)."""
        owner = await self.idmap.owner(self.realm_id, self.processor.qbo_entity, str(row["Id"]))
        return owner is None or owner == (self.company_id, self.processor.entity_type, self.local_id)

    async def _sparse_update(
        self,
        qbo_id: str,
        body: Mapping[str, Any],
        digest: str,
        current: Mapping[str, Any] | None,
        *,
        local_retry: bool,
        token_hint: str | None = None,
    ) -> Mapping[str, Any]:
        """Sparse update with the current SyncToken. On a stale SyncToken: with ``local_retry`` (a body
        that cannot go out of date, e.g. Active:false) re-read and re-apply here; otherwise hand back to
        the engine (StaleRestart) on the first run, and report a conflict on the second."""
        p = self.processor
        last: QboStaleSyncToken | None = None
        for attempt in range(2 if local_retry else 1):
            if current is None and token_hint is not None:
                current, token_hint = {"SyncToken": token_hint}, None
            if current is None:
                try:
                    current = await self.qbo.read(self.realm_id, p.qbo_entity, qbo_id)
                except QboNotFound as exc:
                    raise self._deleted_in_qbo(qbo_id, exc) from exc
            token = str(current["SyncToken"])
            try:
                return await self.qbo.update(
                    self.realm_id,
                    p.qbo_entity,
                    {**body, "Id": qbo_id, "SyncToken": token},
                    sparse=True,
                    # the attempt is part of the id: QBO answers a repeated requestid with the stale fault again
                    request_id=request_id(
                        self.realm_id, p.entity_type, self.local_id, "update", digest, token, self.run, attempt, self.salt
                    ),
                )
            except QboStaleSyncToken as exc:
                last, current = exc, None
            except QboNotFound as exc:
                raise self._deleted_in_qbo(qbo_id, exc) from exc
        if not local_retry and self.run == 0:
            raise StaleRestart(str(last)) from last
        raise SyncConflict(
            f"{p.qbo_entity} {qbo_id} kept changing in QuickBooks while we updated it (stale SyncToken twice); "
            "check recent edits there, then re-drive it",
            last,
        )

    def _deleted_in_qbo(self, qbo_id: str, exc: QboError) -> SyncConflict:
        return SyncConflict(
            f"{self.processor.qbo_entity} {qbo_id} was deleted in QuickBooks; Bottleneck still has it. Delete it in "
            "Bottleneck too, or clear its id map entry to create it again",
            exc,
        )

    async def _record(self, obj: Mapping[str, Any], digest: str | None, status: str = "synced") -> None:
        p = self.processor
        local_lines = p.line_ids(self.doc)
        line_ids = None
        if local_lines:
            qbo_lines = [ln for ln in obj.get("Line", []) if ln.get("DetailType") != "SubTotalLineDetail" and ln.get("Id")]
            # QBO returns the lines in the order sent; if it did not keep them all, we cannot pair them
            line_ids = (
                {str(local): str(ln["Id"]) for local, ln in zip(local_lines, qbo_lines, strict=True)}
                if len(qbo_lines) == len(local_lines)
                else {}
            )
        try:
            await self.idmap.record(
                company_id=self.company_id,
                entity_type=p.entity_type,
                local_id=self.local_id,
                realm_id=self.realm_id,
                qbo_entity=p.qbo_entity,
                qbo_id=str(obj["Id"]),
                sync_token=str(obj.get("SyncToken", "")) or None,
                payload_hash=digest,
                status=status,
                line_ids=line_ids,
            )
        except IdentityTaken as exc:
            raise SyncConflict(str(exc)) from exc

    async def _record_removed(self, qbo_id: str, sync_token: str | None, status: str) -> None:
        """The id map after a void/delete: no payload hash, so a document restored in Bottleneck is sent again."""
        await self.idmap.record(
            company_id=self.company_id,
            entity_type=self.processor.entity_type,
            local_id=self.local_id,
            realm_id=self.realm_id,
            qbo_entity=self.processor.qbo_entity,
            qbo_id=qbo_id,
            sync_token=sync_token,
            payload_hash=None,
            status=status,
        )

    # --- append-only objects (AdjustmentProcessor) -------------------------------------------------
    async def create_once(self, entity: str, payload: Mapping[str, Any], *key: object) -> WriteResult:
        """Create an append-only object (e.g. an InventoryAdjustment) whose requestid derives from ``key``:
        a retry of the same intended change is answered by QBO with the first response."""
        p = self.processor
        # The previous object's id is part of the key: the same (quantity, target) pair met again after
        # another adjustment is a new change, not a retry.
        previous = self.entry.qbo_id if self.entry else None
        obj = await self.qbo.create(
            self.realm_id, entity, payload, request_id=request_id(self.realm_id, p.entity_type, self.local_id, *key, previous, self.salt)
        )
        await self.idmap.record(
            company_id=self.company_id,
            entity_type=p.entity_type,
            local_id=self.local_id,
            realm_id=self.realm_id,
            qbo_entity=entity,
            qbo_id=str(obj["Id"]),
            sync_token=str(obj.get("SyncToken", "")) or None,
            payload_hash=payload_hash(payload),
        )
        return WriteResult("adjust", str(obj["Id"]), obj)

    # --- deletes -----------------------------------------------------------------------------------
    async def _orphan(self) -> IdMapEntry | None:
        """The object an unconfirmed create left in QBO (its answer was lost), found by the natural key
        recorded with the intent; as an entry the remove path can void/delete/deactivate."""
        raw = self.ctx.entry
        p = self.processor
        intent = raw.create_intent if raw is not None and raw.realm_id == self.realm_id else None
        if raw is None or not intent or not p.natural_key or not isinstance(intent.get("key"), str):
            return None
        rows = await self.qbo.query(self.realm_id, f"select * from {p.qbo_entity} where {p.natural_key} = {quote(intent['key'])}")
        refs: Mapping[str, str] = intent.get("refs") or {}
        for row in rows:
            if intent.get("type") is not None and row.get("Type") != intent["type"]:
                continue
            if any(str((row.get(k) or {}).get("value")) != v for k, v in refs.items()):
                continue
            if not await self._free(row):
                continue
            log.info("found %s %s left by an unconfirmed create of %s %s", p.qbo_entity, row["Id"], p.entity_type, self.local_id)
            return replace(raw, qbo_id=str(row["Id"]), sync_token=str(row.get("SyncToken", "")) or None, status="synced")
        return None

    async def remove(self) -> WriteResult:
        """Void / delete / deactivate the QBO counterpart per ``Processor.on_delete``."""
        p = self.processor
        entry = self.entry
        if p.on_delete != "ignore" and (entry is None or entry.qbo_id is None):
            entry = await self._orphan()
        if entry is None or entry.qbo_id is None or entry.status in REMOVED or p.on_delete == "ignore":
            return WriteResult("none", entry.qbo_id if entry else None)
        if p.on_delete == "deactivate":
            if entry.status == "inactive":
                return WriteResult("none", entry.qbo_id)
            obj = await self._sparse_update(entry.qbo_id, {"Active": False}, "deactivate", None, local_retry=True)
            await self._record(obj, None, status="inactive")
            return WriteResult("deactivate", entry.qbo_id, obj)
        try:
            current = await self.qbo.read(self.realm_id, p.qbo_entity, entry.qbo_id)
        except QboNotFound:
            # already gone in QBO (deleted there): the goal is reached
            await self._record_removed(entry.qbo_id, None, "deleted")
            return WriteResult("none", entry.qbo_id)
        token = str(current["SyncToken"])
        rid = request_id(self.realm_id, p.entity_type, self.local_id, p.on_delete, token, self.run, self.salt)
        if p.on_delete == "void":
            obj = await self.qbo.void(self.realm_id, p.qbo_entity, entry.qbo_id, token, request_id=rid)
            status = "voided"
        else:
            obj = await self.qbo.delete(self.realm_id, p.qbo_entity, entry.qbo_id, token, request_id=rid)
            status = "deleted"
        await self._record_removed(entry.qbo_id, str(obj.get("SyncToken", "")) or None, status)
        return WriteResult(p.on_delete, entry.qbo_id, obj)


def _intent(p: WriteSpec, payload: Mapping[str, Any], rid: str) -> dict[str, Any]:
    """What a later attempt needs to find this create's object by natural key, even with the row gone."""
    key = p.natural_key
    refs = {k: str(v["value"]) for k in MATCH_REFS if isinstance(v := payload.get(k), Mapping) and "value" in v}
    return {"request_id": rid, "key": payload.get(key) if key else None, "refs": refs, "type": payload.get("Type")}


def dropped_links(sent: Mapping[str, Any], answer: Mapping[str, Any]) -> tuple[str, ...]:
    """The LinkedTxn (header and lines) we sent that QBO's answer no longer has: QBO silently drops a link
    to a closed estimate or a fully billed PO line."""

    def links(obj: Mapping[str, Any]) -> set[tuple[str, str, str]]:
        found = {(str(k.get("TxnType")), str(k.get("TxnId")), str(k.get("TxnLineId") or "")) for k in obj.get("LinkedTxn") or []}
        for line in obj.get("Line") or []:
            found |= {(str(k.get("TxnType")), str(k.get("TxnId")), str(k.get("TxnLineId") or "")) for k in line.get("LinkedTxn") or []}
        return found

    kept = links(answer)
    return tuple(f"{t} {i}" + (f" line {ln}" if ln else "") for t, i, ln in sorted(links(sent) - kept))


# the references that tell two documents with one DocNumber apart (and a lot item from another item's)
MATCH_REFS = ("CustomerRef", "VendorRef", "ParentRef")


def _same_kind(payload: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    # Items share one name space: a Category and its canonical item have the same Name, told apart by
    # Type and parent.
    if "Type" in payload and row.get("Type") != payload["Type"]:
        return False
    parent = payload.get("ParentRef")
    return not isinstance(parent, Mapping) or str((row.get("ParentRef") or {}).get("value")) == str(parent.get("value"))
