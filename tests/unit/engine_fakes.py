"""In-memory stand-ins for the engine's ports (streams/engine/ports.py) and for QBO, so the engine's
decisions can be tested without services. They keep only what the decisions read; the real parts are
tested against Postgres and the sandbox in tests/integration and tests/conformance."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from mappers.common import MappingError, Refs
from sinks.qbo.errors import QboNotFound, QboStaleSyncToken
from sinks.qbo.idmap import IdMapEntry
from streams.engine.docref import DocRef
from streams.engine.engine import SyncEngine
from streams.engine.parking import Parked, State
from streams.engine.processor import Processor
from streams.engine.registry import Registry

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ACCOUNTS = [
    {"Id": "1", "Name": "Sales of Product Income", "AccountType": "Income"},
    {"Id": "2", "Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold"},
    {"Id": "3", "Name": "Inventory Asset", "AccountType": "Other Current Asset"},
    {"Id": "4", "Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable"},
]


# --- two tiny processors: a gadget, and a widget that depends on its gadget -------------------------
class Gadget(BaseModel):
    id: int
    company_id: int
    name: str
    status: str = "open"


class Widget(Gadget):
    gadget_id: int | None = None


class GadgetProcessor(Processor[Gadget]):
    entity_type = "gadget"
    qbo_entity = "Item"
    table = "gadgets"
    model = Gadget
    sources = {"gadgets": "id"}  # noqa: RUF012
    natural_key = None
    on_delete = "deactivate"
    create_only = ()

    def map(self, doc: Gadget, refs: Refs) -> dict[str, Any]:
        if doc.name == "bad":
            raise MappingError(self.entity_type, doc.id, "a gadget cannot be called bad")
        return {"Name": doc.name, "Type": "Service"}


class WidgetProcessor(Processor[Widget]):
    entity_type = "widget"
    qbo_entity = "Item"
    table = "widgets"
    model = Widget
    sources = {"widgets": "id"}  # noqa: RUF012
    natural_key = None
    on_delete = "deactivate"
    create_only = ()

    def dependencies(self, doc: Widget) -> list[DocRef]:
        return [DocRef(company_id=None, entity_type="gadget", local_id=doc.gadget_id)] if doc.gadget_id else []

    def map(self, doc: Widget, refs: Refs) -> dict[str, Any]:
        body: dict[str, Any] = {"Name": doc.name, "Type": "Service"}
        if doc.gadget_id:
            body["Description"] = f"needs {refs.qbo_id('gadget', doc.gadget_id)}"
        return body


# --- the ports -------------------------------------------------------------------------------------
class FakeSnapshot:
    def __init__(self, tables: dict[str, dict[int, dict[str, Any]]]) -> None:
        self._tables = tables

    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = re.search(r"from ([\w.]+) where (?:id|company_id) = %s", sql)
        assert found, f"the fake source answers only 'select ... from <table> where id = %s', not {sql!r}"
        row = self._tables.get(found.group(1), {}).get(int(params[0]))
        return dict(row) if row is not None else None

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        many = re.search(r"from ([\w.]+) where id = any\(%s\)", sql)
        if many:  # the default load_many
            table = self._tables.get(many.group(1), {})
            return [dict(table[int(i)]) for i in params[0] if int(i) in table]
        row = await self.one(sql, params)
        return [row] if row else []


class FakeSource:
    def __init__(self) -> None:
        self.tables: dict[str, dict[int, dict[str, Any]]] = {"companies": {}}
        self.company_lookups = 0

    def company(self, company_id: int, realm: str | None = "9130", mode: str = "live") -> None:
        self.tables["companies"][company_id] = {"id": company_id, "name": f"Co {company_id}", "qbo_realm_id": realm, "qbo_sync_mode": mode}

    def row(self, table: str, **values: Any) -> int:
        self.tables.setdefault(table, {})[values["id"]] = values
        return int(values["id"])

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[FakeSnapshot]:
        yield FakeSnapshot(self.tables)

    async def company_of(self, table: str, local_id: int) -> int | None:
        self.company_lookups += 1
        row = self.tables.get(table, {}).get(local_id)
        return int(row["company_id"]) if row else None


class FakeIdMap:
    def __init__(self) -> None:
        self.entries: dict[tuple[int, str, int], IdMapEntry] = {}
        self.errors: dict[tuple[int, str, int], str] = {}

    async def get(self, company_id: int, entity_type: str, local_id: int) -> IdMapEntry | None:
        return self.entries.get((company_id, entity_type, local_id))

    async def find(self, entity_type: str, local_id: int) -> IdMapEntry | None:
        return next((e for (_, t, i), e in self.entries.items() if (t, i) == (entity_type, local_id)), None)

    async def many(self, company_id: int, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], IdMapEntry]:
        return {k: e for k in keys if (e := self.entries.get((company_id, *k))) is not None}

    async def mark_error(self, company_id: int, entity_type: str, local_id: int, error: str) -> None:
        if (company_id, entity_type, local_id) in self.entries:
            self.errors[(company_id, entity_type, local_id)] = error

    async def abandon_intent(self, company_id: int, entity_type: str, local_id: int) -> None:
        old = self.entries.get((company_id, entity_type, local_id))
        if old is not None and old.qbo_id is None:
            self.entries[(company_id, entity_type, local_id)] = replace(old, create_intent=None)

    async def intend(
        self, *, company_id: int, entity_type: str, local_id: int, realm_id: str, qbo_entity: str, intent: Mapping[str, Any]
    ) -> None:
        key = (company_id, entity_type, local_id)
        old = self.entries.get(key)
        self.entries[key] = (
            replace(old, create_intent=dict(intent))
            if old
            else IdMapEntry(
                company_id, entity_type, local_id, realm_id, qbo_entity, None, None, None, "creating", create_intent=dict(intent)
            )
        )

    async def remember_follow_ups(self, company_id: int, entity_type: str, local_id: int, follow_ups: list[tuple[str, int]]) -> None:
        key = (company_id, entity_type, local_id)
        if key in self.entries:
            self.entries[key] = replace(self.entries[key], follow_ups=[list(f) for f in follow_ups])

    async def owner(self, realm_id: str, qbo_entity: str, qbo_id: str) -> tuple[int, str, int] | None:
        return next(
            (k for k, e in self.entries.items() if (e.realm_id, e.qbo_entity, e.qbo_id) == (realm_id, qbo_entity, qbo_id)
             and e.status not in ("voided", "deleted", "inactive", "gone")),
            None,
        )  # fmt: skip

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
    ) -> None:
        key = (company_id, entity_type, local_id)
        old = self.entries.get(key)
        self.entries[key] = IdMapEntry(
            company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, sync_token, payload_hash, status,
            line_ids=line_ids if line_ids is not None else (old.line_ids if old else {}),
            follow_ups=old.follow_ups if old else [],
        )  # fmt: skip


class FakeParking:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Parked] = {}

    async def park(
        self,
        ref: DocRef,
        state: State,
        reason: str,
        *,
        next_attempt_at: datetime | None = None,
        waiting_on: DocRef | None = None,
        fault: dict[str, Any] | None = None,
    ) -> int:
        old = self.rows.get((ref.entity_type, ref.local_id))
        attempts = old.attempts + 1 if old else 1
        self.rows[(ref.entity_type, ref.local_id)] = Parked(ref, state, reason, attempts, next_attempt_at, waiting_on, fault)
        return attempts

    async def attempts(self, ref: DocRef) -> int:
        old = self.rows.get((ref.entity_type, ref.local_id))
        return old.attempts if old else 0

    async def clear(self, ref: DocRef, states: tuple[State, ...] = ("waiting", "retry", "conflict", "dead")) -> None:
        old = self.rows.get((ref.entity_type, ref.local_id))
        if old is not None and old.state in states:
            del self.rows[(ref.entity_type, ref.local_id)]

    async def release_waiters(self, dependency: DocRef, now: datetime) -> None:
        for key, p in list(self.rows.items()):
            if p.state == "waiting" and p.waiting_on and p.waiting_on.key == dependency.key:
                self.rows[key] = replace(p, next_attempt_at=now)

    async def due(self, now: datetime, limit: int = 500) -> list[DocRef]:
        return [p.ref for p in self.rows.values() if p.state in ("waiting", "retry") and p.next_attempt_at and p.next_attempt_at <= now]

    async def get(self, ref: DocRef) -> Parked | None:
        return self.rows.get((ref.entity_type, ref.local_id))

    async def many(self, refs: Iterable[DocRef]) -> dict[tuple[str, int], Parked]:
        return {k: p for r in refs if (p := self.rows.get(k := (r.entity_type, r.local_id))) is not None}


@dataclass
class FakeQbo:
    """QBO as far as the writer's create / update / deactivate paths go; ``fail`` raises queued errors."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: list[Exception] = field(default_factory=list)
    writes: int = 0

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    async def create(self, realm_id: str, entity: str, body: Mapping[str, Any], *, request_id: str) -> dict[str, Any]:
        self._maybe_fail()
        self.writes += 1
        obj = {**body, "Id": str(len(self.objects) + 1), "SyncToken": "0"}
        self.objects[obj["Id"]] = obj
        return obj

    async def read(self, realm_id: str, entity: str, entity_id: str) -> dict[str, Any]:
        if entity_id not in self.objects:
            raise QboNotFound(message=f"{entity} {entity_id} not found")
        return dict(self.objects[entity_id])

    async def update(
        self, realm_id: str, entity: str, body: Mapping[str, Any], *, sparse: bool = True, request_id: str | None = None
    ) -> dict[str, Any]:
        self._maybe_fail()
        current = self.objects[str(body["Id"])]
        if str(body["SyncToken"]) != current["SyncToken"]:
            raise QboStaleSyncToken(message="stale SyncToken", status=400)
        self.writes += 1
        current.update({**body, "SyncToken": str(int(current["SyncToken"]) + 1)})
        return dict(current)

    async def void(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    async def delete(self, realm_id: str, entity: str, entity_id: str, sync_token: str, *, request_id: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    async def query(self, realm_id: str, statement: str, *, page_size: int = 1000) -> list[dict[str, Any]]:
        return list(ACCOUNTS) if "from Account" in statement else []

    async def batch(self, realm_id: str, items: Sequence[Mapping[str, Any]], *, request_id: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def cdc(self, realm_id: str, entities: Sequence[str], changed_since: datetime) -> dict[str, list[dict[str, Any]]]:
        raise NotImplementedError


@dataclass
class World:
    """An engine wired to fakes, with company 1 connected to realm 9130."""

    source: FakeSource = field(default_factory=FakeSource)
    idmap: FakeIdMap = field(default_factory=FakeIdMap)
    parking: FakeParking = field(default_factory=FakeParking)
    qbo: FakeQbo = field(default_factory=FakeQbo)

    def __post_init__(self) -> None:
        self.source.company(1)
        self.engine = SyncEngine(
            self.source, self.qbo, self.idmap, self.parking, Registry([GadgetProcessor(), WidgetProcessor()]), clock=lambda: NOW
        )

    def gadget(self, local_id: int, *, company_id: int = 1, name: str = "Gizmo", status: str = "open") -> DocRef:
        self.source.row("gadgets", id=local_id, company_id=company_id, name=name, status=status)
        return DocRef(company_id=company_id, entity_type="gadget", local_id=local_id)

    def widget(self, local_id: int, *, gadget_id: int | None = None, company_id: int = 1, status: str = "open") -> DocRef:
        self.source.row("widgets", id=local_id, company_id=company_id, name=f"W{local_id}", status=status, gadget_id=gadget_id)
        return DocRef(company_id=company_id, entity_type="widget", local_id=local_id)
