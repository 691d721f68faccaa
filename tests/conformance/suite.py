"""The shared conformance suite: every registered processor must pass these checks.

``tests/integration/test_conformance.py`` runs ``cases(REGISTRY)`` against real Postgres and the QBO
sandbox; a processor added to the registry is picked up with no test code. Each check drives
Bottleneck through SQL (the entity's ``Sample`` in ``tests/conformance/samples/``) and the engine, and
looks at QBO through the sandbox (its API and its write counters). The processor's capabilities, never its
name, decide which checks apply (``applicable``): ``append_only``, ``has_drafts()``, ``removable()``,
``sources``. A registered processor without a sample fails with a sentence saying where to add one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from connectors.debezium import UNAVAILABLE
from sinks.qbo.api import QboApi
from sinks.qbo.errors import QboNotFound
from sinks.qbo.idmap import IdMap
from sinks.qbo.query import where_equals
from streams.engine.docref import DocRef
from streams.engine.engine import SyncEngine
from streams.engine.outcome import Kind, SkipReason, SyncOutcome
from streams.engine.parking import Parking
from streams.engine.processor import Processor
from streams.engine.registry import Registry
from streams.engine.router import route
from tests.conformance import samples

PLACEHOLDER = UNAVAILABLE.value


class Harness(Protocol):
    """What the suite needs from the test environment (tests/integration/sync_support.Env)."""

    @property
    def realm(self) -> str: ...

    @property
    def company_id(self) -> int: ...

    @property
    def conn(self) -> Any: ...  # psycopg AsyncConnection, autocommit

    @property
    def qbo(self) -> QboApi: ...

    @property
    def engine(self) -> SyncEngine: ...

    @property
    def parking(self) -> Parking: ...

    @property
    def idmap(self) -> IdMap: ...

    async def writes(self) -> int: ...

    async def stats(self) -> dict[str, Any]: ...

    async def faults(self, **spec: Any) -> None: ...


Check = Callable[[Processor[Any], Harness], Awaitable[None]]


def _ref(h: Harness, p: Processor[Any], local_id: int) -> DocRef:
    return DocRef(company_id=h.company_id, entity_type=p.entity_type, local_id=local_id)


def _ok(out: SyncOutcome, what: str) -> None:
    assert out.ok, f"{what}: {out.kind.value}: {out.reason}"


async def _sample(h: Harness, p: Processor[Any]) -> int:
    return await samples.create(p.entity_type, h.conn, h.company_id)


async def _touch(h: Harness, p: Processor[Any], local_id: int) -> None:
    await samples.touch(p.entity_type, h.conn, local_id)


def _can_touch(p: Processor[Any]) -> bool:
    return samples.sample_for(p.entity_type).touch is not None


async def _same_natural_key(h: Harness, p: Processor[Any], obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The QBO objects sharing ``obj``'s natural key and kind (items share one name space: a Category and
    its canonical item have the same Name, told apart by Type and parent)."""
    assert p.natural_key is not None
    same = await h.qbo.query(h.realm, where_equals(p.qbo_entity, p.natural_key, str(obj[p.natural_key])))
    return [o for o in same if o.get("Type") == obj.get("Type") and o.get("ParentRef") == obj.get("ParentRef")]


async def _settle(h: Harness, ref: DocRef, rounds: int = 20) -> SyncOutcome:
    """Sync ``ref``, then keep re-driving whatever the engine parked (as the worker's timer does) until
    nothing is due; returns the last outcome for ``ref``."""
    out = await h.engine.sync(ref)
    for _ in range(rounds):
        await asyncio.sleep(0.1)  # the worker's re-drive timer (the test client pauses a realm 50 ms on 429)
        due = await h.engine.redrive_due(h.engine.clock() + timedelta(hours=1))
        if not due:
            break
        for parked in due:
            if parked.company_id not in (None, h.company_id):
                continue  # another test's leftovers
            result = await h.engine.sync(parked)
            if parked.key == ref.key:
                out = result
    return out


async def _all_qbo_objects(h: Harness) -> list[dict[str, Any]]:
    cur = await h.conn.execute(
        "select qbo_entity, qbo_id from qbo_sync.id_map where company_id = %s and qbo_id is not null", (h.company_id,)
    )
    objects = []
    for entity, qbo_id in await cur.fetchall():
        try:
            objects.append(await h.qbo.read(h.realm, entity, qbo_id))
        except QboNotFound:
            continue
    return objects


# --- the checks --------------------------------------------------------------------------------------


async def check_duplicate_events(p: Processor[Any], h: Harness) -> None:
    """The same event delivered twice at once (a rebalance, two workers) and then again: exactly one QBO
    object results, and the late duplicate makes no write."""
    local_id = await _sample(h, p)
    if p.append_only and _can_touch(p):
        await _ok_sync(h, p, local_id, "first sync")
        await _touch(h, p, local_id)  # make the quantities drift so there is something to write
    adjustments_before = await _applied(h, p.qbo_entity)
    first, second = await asyncio.gather(h.engine.sync(_ref(h, p, local_id)), h.engine.sync(_ref(h, p, local_id)))
    _ok(first, "first delivery")
    _ok(second, "concurrent duplicate delivery")
    if p.append_only:
        drift = 1 if _can_touch(p) else 0
        assert await _applied(h, p.qbo_entity) - adjustments_before == drift, "the adjustment was applied twice"
    else:
        entry = await h.idmap.get(h.company_id, p.entity_type, local_id)
        assert entry is not None and entry.qbo_id
        obj = await h.qbo.read(h.realm, p.qbo_entity, entry.qbo_id)
        if p.natural_key:
            same = await _same_natural_key(h, p, obj)
            assert len(same) == 1, f"duplicate delivery made {len(same)} objects: {same}"
    before = await h.writes()
    _ok(await h.engine.sync(_ref(h, p, local_id)), "late duplicate delivery")
    assert await h.writes() == before, "a duplicate event wrote to QBO again"


async def _applied(h: Harness, entity: str) -> int:
    return int(((await h.stats()).get("applied", {}).get(entity) or {}).get("create", 0))


async def _ok_sync(h: Harness, p: Processor[Any], local_id: int, what: str) -> SyncOutcome:
    out = await h.engine.sync(_ref(h, p, local_id))
    _ok(out, what)
    return out


async def check_replay(p: Processor[Any], h: Harness) -> None:
    """Replaying the history (every document and dependency again) against an up-to-date QBO writes nothing."""
    local_id = await _sample(h, p)
    await _ok_sync(h, p, local_id, "initial sync")
    cur = await h.conn.execute("select entity_type, local_id from qbo_sync.id_map where company_id = %s", (h.company_id,))
    everything = [DocRef(company_id=h.company_id, entity_type=e, local_id=i) for e, i in await cur.fetchall()]
    before = await h.writes()
    for ref in [_ref(h, p, local_id), *everything, _ref(h, p, local_id)]:
        _ok(await h.engine.sync(ref), f"replay of {ref}")
    assert await h.writes() == before, "replaying unchanged documents wrote to QBO"


async def check_child_before_parent(p: Processor[Any], h: Harness) -> None:
    """The document's event arrives before any of its dependencies': it syncs them first, on demand;
    their own (late) events then find nothing to do."""
    local_id = await _sample(h, p)
    out = await _ok_sync(h, p, local_id, "child first")
    async with h.engine.source.snapshot() as db:
        doc = await p.load(db, local_id)
    deps = [dep.model_copy(update={"company_id": h.company_id}) for dep in p.dependencies(doc)]
    before = await h.writes()
    for dep in deps:
        entry = await h.idmap.get(h.company_id, dep.entity_type, dep.local_id)
        late = await h.engine.sync(dep)
        _ok(late, f"late parent {dep}")
        # a dependency is in QBO first, or has no business there (e.g. an optional link to a draft order)
        assert (entry is not None and entry.qbo_id) or late.kind == Kind.SKIPPED, f"dependency {dep} was not synced first"
    assert await h.writes() == before, "a parent's late event wrote again"
    if not p.append_only:
        assert out.qbo_id, "no QBO id recorded"


async def check_toast_placeholder(p: Processor[Any], h: Harness) -> None:
    """An event whose unchanged TOASTed columns are Debezium's placeholder: routed by id, the document is
    re-read from Postgres, and the placeholder never reaches QBO."""
    local_id = await _sample(h, p)
    table, column = next(iter(p.sources.items()))
    cur = await h.conn.execute(f"select * from {table} where {column} = %s limit 1", (local_id,))
    row = await cur.fetchone()
    names = [d.name for d in cur.description]
    after = {n: (v if n in ("id", "company_id", column) else UNAVAILABLE) for n, v in zip(names, row, strict=True)}
    refs = route(table, "u", None, after, h.engine.registry)
    assert refs, f"an update of {table} routed nowhere"
    for ref in refs:
        _ok(await h.engine.sync(ref), f"sync of {ref}")
    for obj in await _all_qbo_objects(h):
        assert PLACEHOLDER not in json.dumps(obj, default=str), f"placeholder reached QBO: {obj}"


async def check_draft_then_published(p: Processor[Any], h: Harness) -> None:
    """A draft never reaches QBO; the same document is created when it is published."""
    local_id = await _sample(h, p)
    await h.conn.execute(f"update {p.table} set status = 'draft' where id = %s", (local_id,))
    before = await h.writes()
    out = await h.engine.sync(_ref(h, p, local_id))
    assert out.kind == Kind.SKIPPED and out.skip == SkipReason.DRAFT, out
    assert await h.writes() == before, "a draft wrote to QBO"
    await h.conn.execute(f"update {p.table} set status = 'open' where id = %s", (local_id,))
    out = await _ok_sync(h, p, local_id, "published")
    assert out.kind == Kind.SYNCED and out.action == "create", out


async def check_delete(p: Processor[Any], h: Harness) -> None:
    """A deleted Bottleneck document is voided / deleted / deactivated in QBO, once."""
    local_id = await _sample(h, p)
    created = await _ok_sync(h, p, local_id, "initial sync")
    await h.conn.execute(f"delete from {p.table} where id = %s", (local_id,))
    out = await h.engine.sync(DocRef(company_id=None, entity_type=p.entity_type, local_id=local_id))
    assert out.kind == Kind.SYNCED and out.action == p.on_delete, out
    if p.on_delete == "deactivate":
        assert (await h.qbo.read(h.realm, p.qbo_entity, created.qbo_id))["Active"] is False  # type: ignore[arg-type]
    elif p.on_delete == "void":
        obj = await h.qbo.read(h.realm, p.qbo_entity, created.qbo_id)  # type: ignore[arg-type]
        assert str(obj.get("TotalAmt")) in ("0", "0.00", "0.0"), obj
    else:
        found = await h.qbo.query(h.realm, f"select * from {p.qbo_entity} where Id = '{created.qbo_id}'")
        assert not found, f"{p.qbo_entity} {created.qbo_id} still exists"
    before = await h.writes()
    _ok(await h.engine.sync(DocRef(company_id=None, entity_type=p.entity_type, local_id=local_id)), "repeated delete")
    assert await h.writes() == before, "a repeated delete wrote again"


async def check_stale_sync_token(p: Processor[Any], h: Harness) -> None:
    """Someone edits the object in QBO behind our back, then Bottleneck changes it: the stale SyncToken is
    re-read once and the change re-applied; stale twice in a row parks a readable conflict, which
    converges when re-driven."""
    local_id = await _sample(h, p)
    created = await _ok_sync(h, p, local_id, "initial sync")
    qbo_id = created.qbo_id
    current = await h.qbo.read(h.realm, p.qbo_entity, qbo_id)  # type: ignore[arg-type]
    await h.qbo.update(h.realm, p.qbo_entity, {"Id": qbo_id, "SyncToken": current["SyncToken"]}, sparse=True)
    await _touch(h, p, local_id)
    out = await h.engine.sync(_ref(h, p, local_id))  # stale once (QBO moved): re-read and re-applied
    assert out.kind == Kind.SYNCED and out.action == "update", out
    after = await h.qbo.read(h.realm, p.qbo_entity, qbo_id)  # type: ignore[arg-type]
    assert int(after["SyncToken"]) > int(current["SyncToken"]) + 1
    await _touch(h, p, local_id)
    await h.faults(stale_synctoken_once_for=[p.qbo_entity, p.qbo_entity])
    out = await h.engine.sync(_ref(h, p, local_id))
    assert out.kind == Kind.CONFLICT and "SyncToken" in (out.reason or ""), out
    parked = await h.parking.get(_ref(h, p, local_id))
    assert parked is not None and parked.state == "conflict"
    await h.faults()
    out = await h.engine.sync(_ref(h, p, local_id))
    assert out.kind == Kind.SYNCED, out
    assert await h.parking.get(_ref(h, p, local_id)) is None


async def check_rate_limited(p: Processor[Any], h: Harness) -> None:
    """429s: the engine parks (never sleeps), re-drives when due, and converges with no duplicate."""
    local_id = await _sample(h, p)
    await h.faults(throttle_next=2)
    first = await h.engine.sync(_ref(h, p, local_id))
    assert first.kind in (Kind.RETRY_LATER, Kind.WAITING), first
    assert (await h.stats())["throttled"] >= 1
    out = await _settle(h, _ref(h, p, local_id))
    _ok(out, "after the throttle")
    left = [x for x in await h.parking.list() if x.ref.company_id == h.company_id]
    assert not left, f"still parked: {left}"
    entry = await h.idmap.get(h.company_id, p.entity_type, local_id)
    if entry is not None and entry.qbo_id and p.natural_key:
        same = await _same_natural_key(h, p, await h.qbo.read(h.realm, p.qbo_entity, entry.qbo_id))
        assert len(same) == 1, f"duplicates after 429s: {same}"
    before = await h.writes()
    _ok(await h.engine.sync(_ref(h, p, local_id)), "after convergence")
    assert await h.writes() == before


CHECKS: dict[str, Check] = {
    "duplicate_events": check_duplicate_events,
    "replay": check_replay,
    "child_before_parent": check_child_before_parent,
    "toast_placeholder": check_toast_placeholder,
    "draft_then_published": check_draft_then_published,
    "delete": check_delete,
    "stale_sync_token": check_stale_sync_token,
    "rate_limited": check_rate_limited,
}


def applicable(p: Processor[Any]) -> list[str]:
    """The checks that apply, from the processor's capabilities (never from its name)."""
    names = ["duplicate_events", "replay", "child_before_parent", "rate_limited"]
    if p.sources:  # events of its own tables trigger it
        names.append("toast_placeholder")
    if p.has_drafts():
        names.append("draft_then_published")
    if p.removable():
        names.append("delete")
    if not p.append_only:  # it updates one object in place (an append-only one never updates)
        names.append("stale_sync_token")
    return names


def cases(registry: Registry) -> list[tuple[str, str]]:
    """(entity_type, check name) for every registered processor."""
    return [(p.entity_type, name) for p in registry for name in applicable(p)]


async def run(registry: Registry, entity_type: str, check: str, harness: Harness) -> None:
    processor = registry.get(entity_type)
    assert processor is not None, f"{entity_type} is not registered"
    samples.sample_for(entity_type)  # a missing sample fails here with a sentence, before any check runs
    await CHECKS[check](processor, harness)
