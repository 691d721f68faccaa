"""SyncEngine.sync_many against real Postgres and the QBO sandbox over HTTP: a company's backlog goes through
QBO's batch API exactly once, one faulting item fails only its document, a lost batch answer duplicates
nothing, and a batch of unchanged documents costs a fixed number of queries, not one set per document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from streams.engine.docref import DocRef
from streams.engine.outcome import Kind
from streams.engine.source import PgSnapshot, Source
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


async def _backlog(env: Env, n: int, *, tag: str = "B") -> tuple[list[int], list[int]]:
    """``n`` customers and one open invoice each (a service item on every line), inserted set-based."""
    cur = await env.conn.execute(
        "insert into items (company_id, sku, name, kind, sales_price) values (%s, %s, %s, 'service', 10) returning id",
        (env.company_id, f"SVC-{tag}", f"Service {tag}"),
    )
    item = (await cur.fetchone())[0]
    cur = await env.conn.execute(
        "insert into customers (company_id, name) select %s, %s || ' customer ' || g from generate_series(1, %s) g returning id",
        (env.company_id, tag, n),
    )
    customers = sorted(r[0] for r in await cur.fetchall())
    cur = await env.conn.execute(
        "insert into invoices (company_id, number, customer_id, status, issue_date) "
        "select %s, %s || '-INV-' || c, c, 'open', current_date from unnest(%s::bigint[]) c returning id",
        (env.company_id, tag, customers),
    )
    invoices = sorted(r[0] for r in await cur.fetchall())
    await env.conn.execute(
        "insert into invoice_lines (invoice_id, line_no, item_id, quantity, unit_price) select i, 1, %s, 2, 10 from unnest(%s::bigint[]) i",
        (item, invoices),
    )
    return customers, invoices


def _refs(env: Env, entity: str, ids: Sequence[int]) -> list[DocRef]:
    return [DocRef(company_id=env.company_id, entity_type=entity, local_id=i) for i in ids]


async def _count(env: Env, entity: str) -> int:
    return len(await env.qbo.query(env.realm, f"select * from {entity}"))


def _batch_calls(stats: dict[str, Any]) -> int:
    return sum(int(n) for n in stats["requests"].get("POST", {}).get("batch", {}).values())


async def test_a_backlog_lands_through_batch_calls_exactly_once(env: Env) -> None:
    customers, invoices = await _backlog(env, 60)
    outcomes = await env.engine.sync_many([*_refs(env, "customer", customers), *_refs(env, "invoice", invoices)])
    assert [o.kind for o in outcomes] == [Kind.SYNCED] * 120, [o.reason for o in outcomes if o.kind != Kind.SYNCED][:3]
    stats = await env.stats()
    # 60 customers in 2 calls, then (the invoices' customers in QBO first) 60 invoices in 2 calls
    assert _batch_calls(stats) == 4
    assert stats["throttled"] == 0
    assert stats["writes"]["Customer"]["create"] == 60 and stats["writes"]["Invoice"]["create"] == 60
    assert await _count(env, "Customer") == 60 and await _count(env, "Invoice") == 60
    # every invoice points at its own customer's QBO object
    entries = await env.idmap.many(env.company_id, [("customer", c) for c in customers])
    invoice = await env.qbo.read(env.realm, "Invoice", str((await env.idmap.get(env.company_id, "invoice", invoices[7])).qbo_id))
    assert invoice["CustomerRef"]["value"] == entries[("customer", customers[7])].qbo_id

    # the same batch again (a redelivery, a replay): nothing left to write
    writes = await env.writes()
    again = await env.engine.sync_many([*_refs(env, "customer", customers), *_refs(env, "invoice", invoices)])
    assert {o.kind for o in again} == {Kind.UNCHANGED}
    assert await env.writes() == writes

    # an edit of many of them: sparse updates through batch calls too
    await env.conn.execute("update customers set email = 'ap@example.com' where id = any(%s)", (customers[:40],))
    out = await env.engine.sync_many(_refs(env, "customer", customers))
    assert [o.action for o in out[:40]] == ["update"] * 40 and {o.kind for o in out[40:]} == {Kind.UNCHANGED}
    stats = await env.stats()
    assert _batch_calls(stats) == 6 and stats["writes"]["Customer"].get("update") == 40
    assert await _count(env, "Customer") == 60


async def test_one_faulting_item_fails_only_its_document(env: Env) -> None:
    customers, _ = await _backlog(env, 10, tag="F")
    # a vendor made in QBO outside the product holds customer 5's name: QBO refuses that create (6240)
    await env.qbo.create(env.realm, "Vendor", {"DisplayName": "F customer 5"}, request_id="outside-vendor-1")
    outcomes = await env.engine.sync_many(_refs(env, "customer", customers))
    kinds = [o.kind for o in outcomes]
    assert kinds[4] == Kind.DEAD, outcomes[4]
    assert "6240" in str(outcomes[4].fault) or "name" in (outcomes[4].reason or "").lower()
    assert kinds[:4] + kinds[5:] == [Kind.SYNCED] * 9
    assert _batch_calls(await env.stats()) == 1
    assert await _count(env, "Customer") == 9
    parked = await env.parking.get(outcomes[4].ref)
    assert parked is not None and parked.state == "dead"


async def test_a_lost_batch_answer_creates_nothing_twice(env: Env) -> None:
    customers, _ = await _backlog(env, 12, tag="L")
    # the first answer is lost after QBO applied the batch; the client's resend carries the same requestid
    await env.faults(lose_response_next=1)
    outcomes = await env.engine.sync_many(_refs(env, "customer", customers))
    assert {o.kind for o in outcomes} == {Kind.SYNCED}
    stats = await env.stats()
    assert stats["replays"] == 1 and stats["applied"]["Customer"]["create"] == 12
    assert await _count(env, "Customer") == 12


async def test_a_crash_after_a_lost_batch_answer_adopts_instead_of_creating(env: Env) -> None:
    customers, _ = await _backlog(env, 12, tag="C")
    # both the batch and the client's resend lose their answers: every document parks for a retry, with
    # its create intent recorded; the retry finds each object by name instead of creating it again
    await env.faults(lose_response_next=2)
    first = await env.engine.sync_many(_refs(env, "customer", customers))
    assert {o.kind for o in first} == {Kind.RETRY_LATER}
    assert await _count(env, "Customer") == 12
    again = await env.engine.sync_many(_refs(env, "customer", customers))
    assert {o.kind for o in again} == {Kind.SYNCED} and {o.action for o in again} == {"adopt"}
    stats = await env.stats()
    assert stats["applied"]["Customer"]["create"] == 12
    assert await _count(env, "Customer") == 12


class _Counting:
    """A snapshot that counts its queries (what the engine asks Bottleneck)."""

    def __init__(self, inner: PgSnapshot, counts: dict[str, int]) -> None:
        self._inner, self._counts = inner, counts

    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        self._counts["snapshot"] += 1
        return await self._inner.one(sql, params)

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self._counts["snapshot"] += 1
        return await self._inner.all(sql, params)


async def test_unchanged_documents_cost_queries_per_batch_not_per_document(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    customers, invoices = await _backlog(env, 40, tag="Q")
    refs = [*_refs(env, "customer", customers), *_refs(env, "invoice", invoices)]
    await env.engine.sync_many(refs)
    counts = {"snapshot": 0, "idmap": 0, "parking": 0}
    source = env.engine.source
    assert isinstance(source, Source)
    plain = source.snapshot

    @asynccontextmanager
    async def counting() -> AsyncIterator[_Counting]:
        async with plain() as db:
            yield _Counting(db, counts)

    monkeypatch.setattr(source, "snapshot", counting)
    for port, name in ((env.engine.idmap, "idmap"), (env.engine.parking, "parking")):
        db = port._db
        for method in ("fetchone", "fetchall", "execute"):
            real = getattr(db, method)

            async def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                counts[_name] += 1
                return await _real(*args, **kwargs)

            monkeypatch.setattr(db, method, counted)

    small = await env.engine.sync_many([*refs[:2], *refs[40:42]])
    assert {o.kind for o in small} == {Kind.UNCHANGED}
    few = dict(counts)
    counts.update(snapshot=0, idmap=0, parking=0)
    outcomes = await env.engine.sync_many(refs)
    assert {o.kind for o in outcomes} == {Kind.UNCHANGED}
    # 80 unchanged documents of two types cost what 4 do: the batch's reads, nothing per document
    assert counts == few
    assert sum(counts.values()) <= 10, counts
