"""SyncEngine rules end to end (real Postgres, QBO sandbox over HTTP): one write per transaction,
quantities after ship jobs, dependants waiting on a failed dependency, recovery after a crash or a lost
response without duplicates, PO edits keeping bill links."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from connectors.debezium import UNAVAILABLE
from sinks.qbo.query import quote
from streams.engine.docref import DocRef
from streams.engine.outcome import Kind
from streams.engine.router import route
from streams.processors.registry import REGISTRY
from tests.conformance import samples
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


def ref(env: Env, entity: str, local_id: int) -> DocRef:
    return DocRef(company_id=env.company_id, entity_type=entity, local_id=local_id)


async def one(env: Env, sql: str, *params: object) -> Any:
    cur = await env.conn.execute(sql, params)
    return (await cur.fetchone())[0]


async def qbo_id(env: Env, entity_type: str, local_id: int) -> str:
    entry = await env.idmap.get(env.company_id, entity_type, local_id)
    assert entry.qbo_id is not None, f"{entity_type} {local_id} is not in QBO"
    return entry.qbo_id


async def test_header_and_lines_in_one_transaction_are_one_qbo_write(env: Env) -> None:
    inv = await samples.create("invoice", env.conn, env.company_id)
    # the events of the inserting transaction, as the router sees them (header + every line)
    events = [("invoices", {"id": inv, "company_id": env.company_id, "memo": UNAVAILABLE})]
    cur = await env.conn.execute("select id from invoice_lines where invoice_id = %s", (inv,))
    events += [("invoice_lines", {"id": line, "invoice_id": inv}) for (line,) in await cur.fetchall()]
    touched = {r.key: r for table, row in events for r in route(table, "c", None, row, REGISTRY)}
    assert list(touched) == [f"invoice:{inv}"]
    for r in touched.values():
        assert (await env.engine.sync(r.model_copy(update={"company_id": env.company_id}))).kind == Kind.SYNCED
    stats = await env.stats()
    assert stats["writes"]["Invoice"] == {"create": 1}


async def test_ship_job_completion_brings_qbo_quantity_to_bottleneck(env: Env) -> None:
    lot = await samples.create("lot", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "lot", lot))).kind == Kind.SYNCED
    so = await samples.create("sales_order", env.conn, env.company_id)
    # Bottleneck completes a ship job: job and lot quantity in one transaction
    async with env.conn.transaction():
        job = await one(
            env,
            "insert into ship_jobs (company_id, sales_order_id, status, completed_at) values (%s, %s, 'completed', now()) returning id",
            env.company_id,
            so,
        )
        await env.conn.execute("insert into ship_job_lines (ship_job_id, lot_id, quantity) values (%s, %s, 4.5)", (job, lot))
        await env.conn.execute("update lots set quantity_on_hand = quantity_on_hand - 4.5 where id = %s", (lot,))
    refs = route("ship_jobs", "u", None, {"id": job, "company_id": env.company_id, "status": "completed"}, REGISTRY)
    refs += route("lots", "u", None, {"id": lot, "company_id": env.company_id}, REGISTRY)
    for r in refs:
        assert (await env.engine.sync(r)).ok
    lot_item = await env.qbo.read(env.realm, "Item", await qbo_id(env, "lot", lot))
    assert Decimal(str(lot_item["QtyOnHand"])) == Decimal("20.5")
    before = await env.writes()
    for r in refs:  # replay
        assert (await env.engine.sync(r)).ok
    assert await env.writes() == before


async def test_failed_dependency_parks_dependant_until_it_syncs(env: Env) -> None:
    inv = await samples.create("invoice", env.conn, env.company_id)
    customer = await one(env, "select customer_id from invoices where id = %s", inv)
    await env.conn.execute("update customers set name = 'Bad: name' where id = %s", (customer,))
    out = await env.engine.sync(ref(env, "invoice", inv))
    assert out.kind == Kind.WAITING and out.waiting_on is not None and out.waiting_on.key == f"customer:{customer}"
    assert "Bad: name" in (out.reason or "")
    assert (await env.parking.get(ref(env, "customer", customer))).state == "dead"
    # other documents keep flowing
    other = await samples.create("vendor", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "vendor", other))).kind == Kind.SYNCED
    # the customer is fixed in Bottleneck; its event syncs it and releases the invoice
    await env.conn.execute("update customers set name = 'Good name' where id = %s", (customer,))
    assert (await env.engine.sync(ref(env, "customer", customer))).kind == Kind.SYNCED
    due = await env.engine.redrive_due()
    assert ref(env, "invoice", inv) in due
    assert (await env.engine.sync(ref(env, "invoice", inv))).kind == Kind.SYNCED
    assert await env.parking.get(ref(env, "invoice", inv)) is None


async def test_crash_after_create_adopts_instead_of_duplicating(env: Env) -> None:
    cust = await samples.create("customer", env.conn, env.company_id)
    # QBO created it but its answer never reached us (as a crash between QBO's answer and our commit):
    # the id map holds only the create intent, so the next attempt looks the customer up
    await env.faults(lose_response_next=2)  # the client's one retry is lost too
    first = await env.engine.sync(ref(env, "customer", cust))
    assert first.kind == Kind.RETRY_LATER, first
    again = await env.engine.sync(ref(env, "customer", cust))
    assert again.kind == Kind.SYNCED and again.action == "adopt"
    name = await one(env, "select name from customers where id = %s", cust)
    assert len(await env.qbo.query(env.realm, f"select * from Customer where DisplayName = '{name}'")) == 1


async def test_lost_response_is_retried_without_duplicate(env: Env) -> None:
    so = await samples.create("sales_order", env.conn, env.company_id)
    await env.faults(lose_response_next=1)
    # the client retries the write with the same requestid (or the engine parks it): either way QBO
    # answers the retry with the first response instead of writing again
    await env.engine.sync(ref(env, "sales_order", so))
    for parked in await env.engine.redrive_due(env.engine.clock().replace(year=2100)):
        if parked.company_id == env.company_id:
            await env.engine.sync(parked)
    out = await env.engine.sync(ref(env, "sales_order", so))
    assert out.ok, out
    stats = await env.stats()
    assert stats["injected"]["lost_response"] == 1
    assert stats["applied"]["Estimate"] == {"create": 1}
    number = await one(env, "select number from sales_orders where id = %s", so)
    assert len(await env.qbo.query(env.realm, f"select * from Estimate where DocNumber = '{number}'")) == 1


async def test_po_edit_keeps_line_ids_and_bill_link(env: Env) -> None:
    bill = await samples.create("bill", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "bill", bill))).kind == Kind.SYNCED
    po = await one(env, "select purchase_order_id from bills where id = %s", bill)
    before = (await env.idmap.get(env.company_id, "purchase_order", po)).line_ids
    await env.conn.execute("update purchase_order_lines set quantity = quantity + 1 where purchase_order_id = %s and line_no = 2", (po,))
    out = await env.engine.sync(ref(env, "purchase_order", po))
    assert out.kind == Kind.SYNCED and out.action == "update"
    qbo_po = await env.qbo.read(env.realm, "PurchaseOrder", out.qbo_id)  # type: ignore[arg-type]
    ids = [ln["Id"] for ln in qbo_po["Line"] if ln.get("DetailType") == "ItemBasedExpenseLineDetail"]
    assert sorted(ids) == sorted(before.values())
    assert (await env.idmap.get(env.company_id, "purchase_order", po)).line_ids == before


async def test_publish_request_for_a_missing_row_is_dead_with_a_reason(env: Env) -> None:
    refs = route(
        "qbo_publish_requests", "c", None, {"id": 1, "company_id": env.company_id, "entity_type": "invoice", "entity_id": 987654}, REGISTRY
    )
    out = await env.engine.sync(refs[0])
    assert out.kind == Kind.DEAD and "invoice 987654, which does not exist" in (out.reason or "")
    # a plain event for a row deleted before it ever synced is not an error
    out = await env.engine.sync(DocRef(company_id=env.company_id, entity_type="invoice", local_id=987655))
    assert out.kind == Kind.SKIPPED


async def test_object_deleted_in_qbo_behind_our_back(env: Env) -> None:
    so = await samples.create("sales_order", env.conn, env.company_id)
    created = await env.engine.sync(ref(env, "sales_order", so))
    current = await env.qbo.read(env.realm, "Estimate", created.qbo_id)  # type: ignore[arg-type]
    await env.qbo.delete(env.realm, "Estimate", created.qbo_id, current["SyncToken"])  # type: ignore[arg-type]
    await env.conn.execute("update sales_orders set memo = 'changed' where id = %s", (so,))
    out = await env.engine.sync(ref(env, "sales_order", so))
    assert out.kind == Kind.CONFLICT and "was deleted in QuickBooks" in (out.reason or "")
    await env.conn.execute("update sales_orders set status = 'cancelled' where id = %s", (so,))
    out = await env.engine.sync(ref(env, "sales_order", so))
    assert out.ok and await env.parking.get(ref(env, "sales_order", so)) is None


async def test_recreated_customer_takes_back_its_inactive_qbo_customer(env: Env) -> None:
    cust = await samples.create("customer", env.conn, env.company_id)
    first = await env.engine.sync(ref(env, "customer", cust))
    name = await one(env, "select name from customers where id = %s", cust)
    await env.conn.execute("delete from customers where id = %s", (cust,))
    assert (await env.engine.sync(DocRef(company_id=None, entity_type="customer", local_id=cust))).action == "deactivate"
    again = await one(env, "insert into customers (company_id, name) values (%s, %s) returning id", env.company_id, name)
    out = await env.engine.sync(ref(env, "customer", again))
    assert out.kind == Kind.SYNCED and out.action == "adopt" and out.qbo_id == first.qbo_id, out
    assert (await env.qbo.read(env.realm, "Customer", out.qbo_id))["Active"] is True  # type: ignore[arg-type]


async def test_missing_account_parks_with_a_readable_reason_until_fixed(env: Env) -> None:
    (ap,) = await env.qbo.query(env.realm, "select * from Account where Name = 'Accounts Payable (A/P)'")
    # the realm has no Accounts Payable account any more: a person must act; nothing is dead-lettered
    await env.qbo.update(
        env.realm,
        "Account",
        {"Id": ap["Id"], "SyncToken": ap["SyncToken"], "Name": "Old payables", "AccountType": "Other Current Liability"},
        sparse=True,
    )
    po = await samples.create("purchase_order", env.conn, env.company_id)
    out = await env.engine.sync(ref(env, "purchase_order", po))
    assert out.kind in (Kind.RETRY_LATER, Kind.WAITING) and "no account for: ap" in (out.reason or ""), out
    assert not [p for p in await env.parking.list(("dead",)) if p.ref.company_id == env.company_id]
    current = await env.qbo.read(env.realm, "Account", ap["Id"])
    await env.qbo.update(
        env.realm, "Account", {"Id": ap["Id"], "SyncToken": current["SyncToken"], "AccountType": "Accounts Payable"}, sparse=True
    )
    for _ in range(5):  # the worker's re-drive timer
        due = [r for r in await env.engine.redrive_due(env.engine.clock().replace(year=2100)) if r.company_id == env.company_id]
        for r in due:
            await env.engine.sync(r)
    entry = await env.idmap.get(env.company_id, "purchase_order", po)
    assert entry is not None and entry.qbo_id


async def test_names_with_quotes_and_backslashes_are_looked_up_safely(env: Env) -> None:
    name = "O'Brien \\ Sons"
    cust = await one(env, "insert into customers (company_id, name) values (%s, %s) returning id", env.company_id, name)
    await env.faults(lose_response_next=2)  # created in QBO, answer lost: the next attempt looks the name up
    first = await env.engine.sync(ref(env, "customer", cust))
    assert first.kind == Kind.RETRY_LATER, first
    again = await env.engine.sync(ref(env, "customer", cust))
    assert again.action == "adopt", again
    assert len(await env.qbo.query(env.realm, f"select * from Customer where DisplayName = {quote(name)}")) == 1


async def test_discount_is_a_service_with_a_negative_price(env: Env) -> None:
    item = await one(
        env,
        "insert into items (company_id, sku, name, kind, sales_price) "
        "values (%s, 'DISC-10', 'Loyalty discount', 'service', -10) returning id",
        env.company_id,
    )
    out = await env.engine.sync(ref(env, "item", item))
    assert out.kind == Kind.SYNCED, out
    qbo_item = await env.qbo.read(env.realm, "Item", out.qbo_id)  # type: ignore[arg-type]
    assert qbo_item["Type"] == "Service" and Decimal(str(qbo_item["UnitPrice"])) == Decimal(-10)
    assert (await env.engine.sync(ref(env, "item_category", item))).kind == Kind.SKIPPED  # not tracked: no Category  # type: ignore[arg-type]


async def test_manual_mode_dependency_that_failed_is_re_driven(env: Env) -> None:
    await env.set_mode("manual")
    inv = await samples.create("invoice", env.conn, env.company_id)
    publish = route(
        "qbo_publish_requests", "c", None, {"id": 5, "company_id": env.company_id, "entity_type": "invoice", "entity_id": inv}, REGISTRY
    )[0]
    await env.faults(throttle_next=1)  # the first QBO call (a dependency's) is throttled
    out = await env.engine.sync(publish)
    assert out.kind in (Kind.WAITING, Kind.RETRY_LATER), out
    for _ in range(6):  # the worker's re-drive timer (the test client pauses a throttled realm 50 ms)
        await asyncio.sleep(0.1)
        for r in await env.engine.redrive_due(env.engine.clock().replace(year=2100)):
            if r.company_id == env.company_id:
                await env.engine.sync(r)
    entry = await env.idmap.get(env.company_id, "invoice", inv)
    assert entry is not None and entry.qbo_id, "the published invoice never reached QBO"
    assert not [x for x in await env.parking.list() if x.ref.company_id == env.company_id]


async def test_a_slower_worker_never_pushes_an_older_state_over_a_newer_one(env: Env) -> None:
    """Worker A reads a customer, worker B syncs a newer state of it first; A's write of the older state
    fails as stale, A re-reads Bottleneck and finds nothing left to do."""
    from streams.engine.engine import SyncEngine

    cust = await samples.create("customer", env.conn, env.company_id)
    created = await env.engine.sync(ref(env, "customer", cust))
    worker_b = env.engine

    class RacedQbo:
        """Worker A's QBO: between A's read and A's first write, Bottleneck changes and B syncs it."""

        raced = False

        def __getattr__(self, name: str) -> Any:
            return getattr(env.qbo, name)

        async def update(self, *args: Any, **kwargs: Any) -> Any:
            if not self.raced:
                self.raced = True
                await env.conn.execute("update customers set notes = 'newer' where id = %s", (cust,))
                assert (await worker_b.sync(ref(env, "customer", cust))).kind == Kind.SYNCED
            return await env.qbo.update(*args, **kwargs)

    await env.conn.execute("update customers set notes = 'older' where id = %s", (cust,))
    raced = RacedQbo()
    worker_a = SyncEngine(worker_b.source, raced, env.idmap, env.parking, REGISTRY)
    out = await worker_a.sync(ref(env, "customer", cust))
    assert out.ok and raced.raced, out
    assert (await env.qbo.read(env.realm, "Customer", created.qbo_id))["Notes"] == "newer"  # type: ignore[arg-type]


async def test_publish_request_never_crosses_companies(env: Env) -> None:
    other = await one(env, "insert into companies (name, qbo_realm_id) values ('other', %s) returning id", f"x{env.realm}")
    theirs = await samples.create("customer", env.conn, other)
    forged = route(
        "qbo_publish_requests", "c", None, {"id": 9, "company_id": env.company_id, "entity_type": "customer", "entity_id": theirs}, REGISTRY
    )[0]
    out = await env.engine.sync(forged)
    assert out.kind == Kind.DEAD and f"belongs to company {other}" in (out.reason or "")
    assert await env.writes() == 0


async def test_renaming_an_item_renames_its_lot_items(env: Env) -> None:
    lot = await samples.create("lot", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "lot", lot))).kind == Kind.SYNCED
    item = await one(env, "select item_id from lots where id = %s", lot)
    code = await one(env, "select lot_code from lots where id = %s", lot)
    await env.conn.execute("update items set name = 'Renamed widget', sku = 'RW-1' where id = %s", (item,))
    for r in route("items", "u", None, {"id": item, "company_id": env.company_id, "kind": "inventory"}, REGISTRY):
        assert (await env.engine.sync(r)).ok
    lot_item = await env.qbo.read(env.realm, "Item", await qbo_id(env, "lot", lot))
    assert lot_item["Name"] == f"Renamed widget / {code}" and lot_item["Sku"] == f"RW-1-{code}"
    assert lot_item["FullyQualifiedName"] == f"Renamed widget:Renamed widget / {code}"


async def test_a_realm_without_credentials_parks_its_documents_ever_more_slowly(env: Env) -> None:
    """A realm-wide configuration problem (here: no OAuth tokens) parks each document instead of
    dead-lettering it, and backs off exponentially so broken realms cannot starve healthy ones."""
    from sinks.qbo.auth import InMemoryTokenStore, TokenManager
    from sinks.qbo.client import QboClient, RetryPolicy
    from streams.engine.engine import SyncEngine

    no_tokens = QboClient(
        base_url=env.sandbox,
        token_manager=TokenManager(InMemoryTokenStore(), None),
        retry=RetryPolicy(max_attempts=1, rate_limit_max_retries=0),
    )
    engine = SyncEngine(env.engine.source, no_tokens, env.idmap, env.parking, REGISTRY, retry_max_delay_s=10)
    customer = await samples.create("customer", env.conn, env.company_id)
    try:
        delays = []
        for _ in range(3):
            out = await engine.sync(ref(env, "customer", customer))
            assert out.kind == Kind.RETRY_LATER and "configuration problem" in (out.reason or "")
            parked = await env.parking.get(ref(env, "customer", customer))
            assert parked is not None and parked.state == "retry"
            delays.append((out.retry_at - engine.clock()).total_seconds())  # type: ignore[operator]
        assert delays[0] < delays[1] < delays[2]
        assert (await env.stats())["writes_total"] == 0
    finally:
        await no_tokens.aclose()
