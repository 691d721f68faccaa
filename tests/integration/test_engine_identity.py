"""Create intent, orphans and identity (issue 9): a new document costs one QBO request; a create whose
answer was lost is found by natural key (to adopt, or to void when Bottleneck voided it meanwhile); two
Bottleneck rows never stand for one QBO object."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from streams.engine.docref import DocRef
from streams.engine.outcome import Kind
from tests.conformance import samples
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


def ref(env: Env, entity: str, local_id: int) -> DocRef:
    return DocRef(company_id=env.company_id, entity_type=entity, local_id=local_id)


async def one(env: Env, sql: str, *params: object) -> Any:
    cur = await env.conn.execute(sql, params)
    return (await cur.fetchone())[0]


async def test_a_new_customer_costs_one_qbo_request(env: Env) -> None:
    warm = await samples.create("customer", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "customer", warm))).ok  # the realm's accounts are read once, here
    cust = await samples.create("customer", env.conn, env.company_id)
    before = (await env.stats())["requests_total"]
    out = await env.engine.sync(ref(env, "customer", cust))
    assert out.kind == Kind.SYNCED and out.action == "create"
    # the create alone: no natural-key query first (the id map's create intent says no attempt came before)
    assert (await env.stats())["requests_total"] - before == 1
    entry = await env.idmap.get(env.company_id, "customer", cust)
    assert entry is not None and entry.qbo_id == out.qbo_id and entry.create_intent is None


async def test_lost_create_answer_is_found_by_natural_key_after_an_edit(env: Env) -> None:
    cust = await samples.create("customer", env.conn, env.company_id)
    await env.faults(lose_response_next=2)  # the client retries once, same requestid: both answers lost
    lost = await env.engine.sync(ref(env, "customer", cust))
    assert lost.kind == Kind.RETRY_LATER, lost
    entry = await env.idmap.get(env.company_id, "customer", cust)
    assert entry is not None and entry.qbo_id is None and entry.create_intent is not None
    # an edit changes the payload (and so the create's requestid): only the lookup prevents a duplicate
    await env.conn.execute("update customers set email = 'new@example.test' where id = %s", (cust,))
    again = await env.engine.sync(ref(env, "customer", cust))
    assert again.kind == Kind.SYNCED and again.action == "adopt", again
    name = await one(env, "select name from customers where id = %s", cust)
    found = await env.qbo.query(env.realm, f"select * from Customer where DisplayName = '{name}'")
    assert len(found) == 1 and found[0]["PrimaryEmailAddr"]["Address"] == "new@example.test"


async def test_invoice_voided_after_a_lost_create_answer_is_voided_in_qbo(env: Env) -> None:
    first = await samples.create("invoice", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "invoice", first))).kind == Kind.SYNCED  # its customer and items
    number = f"INV-ORPHAN-{first}"
    inv = await one(
        env,
        "insert into invoices (company_id, number, customer_id, status, issue_date, due_date) "
        "select company_id, %s, customer_id, 'open', issue_date, due_date from invoices where id = %s returning id",
        number,
        first,
    )
    await env.conn.execute(
        "insert into invoice_lines (invoice_id, line_no, item_id, lot_id, quantity, unit_price) "
        "select %s, line_no, item_id, lot_id, quantity, unit_price from invoice_lines where invoice_id = %s",
        (inv, first),
    )
    await env.faults(lose_response_next=2)  # QBO creates the invoice; the answer (and the retry's) never arrives
    assert (await env.engine.sync(ref(env, "invoice", inv))).kind == Kind.RETRY_LATER
    assert len(await env.qbo.query(env.realm, f"select * from Invoice where DocNumber = '{number}'")) == 1
    await env.conn.execute("update invoices set status = 'void' where id = %s", (inv,))
    out = await env.engine.sync(ref(env, "invoice", inv))
    assert out.kind == Kind.SYNCED and out.action == "void", out
    (orphan,) = await env.qbo.query(env.realm, f"select * from Invoice where DocNumber = '{number}'")
    assert Decimal(str(orphan["TotalAmt"])) == 0
    entry = await env.idmap.get(env.company_id, "invoice", inv)
    assert entry is not None and entry.qbo_id == str(orphan["Id"]) and entry.status == "voided"


async def test_customer_deleted_after_a_lost_create_answer_is_deactivated(env: Env) -> None:
    cust = await samples.create("customer", env.conn, env.company_id)
    name = await one(env, "select name from customers where id = %s", cust)
    await env.faults(lose_response_next=2)  # the client retries once, same requestid: both answers lost
    assert (await env.engine.sync(ref(env, "customer", cust))).kind == Kind.RETRY_LATER
    await env.conn.execute("delete from customers where id = %s", (cust,))
    out = await env.engine.sync(DocRef(company_id=None, entity_type="customer", local_id=cust))
    assert out.kind == Kind.SYNCED and out.action == "deactivate", out
    assert not await env.qbo.query(env.realm, f"select * from Customer where DisplayName = '{name}'")  # only inactive left


async def test_same_named_customers_each_get_their_own_qbo_customer(env: Env) -> None:
    first = await one(env, "insert into customers (company_id, name, email) values (%s, 'Acme', 'a@x.test') returning id", env.company_id)
    second = await one(env, "insert into customers (company_id, name, email) values (%s, 'acme ', 'b@x.test') returning id", env.company_id)
    a = await env.engine.sync(ref(env, "customer", first))
    b = await env.engine.sync(ref(env, "customer", second))
    assert a.kind == b.kind == Kind.SYNCED and b.action == "create", b
    assert a.qbo_id != b.qbo_id
    qa, qb = [await env.qbo.read(env.realm, "Customer", str(x.qbo_id)) for x in (a, b)]
    # the lowest id keeps the plain name; the other is named for what it is, and keeps its own email
    assert qa["DisplayName"] == "Acme" and qa["PrimaryEmailAddr"]["Address"] == "a@x.test"
    assert qb["DisplayName"] == f"acme (customer {second})" and qb["PrimaryEmailAddr"]["Address"] == "b@x.test"
    # stable: syncing again changes nothing
    assert (await env.engine.sync(ref(env, "customer", second))).kind == Kind.UNCHANGED


async def test_a_customer_and_a_vendor_may_share_a_name(env: Env) -> None:
    cust = await one(env, "insert into customers (company_id, name) values (%s, 'Globex') returning id", env.company_id)
    vend = await one(env, "insert into vendors (company_id, name) values (%s, 'Globex') returning id", env.company_id)
    v = await env.engine.sync(ref(env, "vendor", vend))  # the vendor first: still the customer keeps the plain name
    c = await env.engine.sync(ref(env, "customer", cust))
    assert v.kind == c.kind == Kind.SYNCED, (v, c)
    assert (await env.qbo.read(env.realm, "Vendor", str(v.qbo_id)))["DisplayName"] == f"Globex (vendor {vend})"
    assert (await env.qbo.read(env.realm, "Customer", str(c.qbo_id)))["DisplayName"] == "Globex"


async def test_same_named_items_each_get_their_own_qbo_item(env: Env) -> None:
    ids = [
        await one(
            env,
            "insert into items (company_id, sku, name, kind, sales_price) values (%s, %s, 'Bolt', 'non_tracking', 1) returning id",
            env.company_id,
            sku,
        )
        for sku in ("B-1", "B-2")
    ]
    outs = [await env.engine.sync(ref(env, "item", i)) for i in ids]
    assert all(o.kind == Kind.SYNCED for o in outs) and outs[0].qbo_id != outs[1].qbo_id, outs
    names = [(await env.qbo.read(env.realm, "Item", str(o.qbo_id)))["Name"] for o in outs]
    assert names == ["Bolt", "Bolt (SKU B-2)"]


async def test_an_existing_qbo_customer_is_adopted_only_when_nothing_else_maps_to_it(env: Env) -> None:
    made_in_qbo = await env.qbo.create(env.realm, "Customer", {"DisplayName": "Initech"}, request_id="made-by-hand-1")
    first = await one(env, "insert into customers (company_id, name) values (%s, 'Initech') returning id", env.company_id)
    out = await env.engine.sync(ref(env, "customer", first))
    assert out.kind == Kind.SYNCED and out.action == "adopt" and out.qbo_id == str(made_in_qbo["Id"]), out
    # a second local row may never take the same object: the id map refuses and says why
    await env.conn.execute(
        "insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, status) "
        "values (%s, 'customer', 999999, %s, 'Customer', 'x-other', 'synced')",
        (env.company_id, env.realm),
    )
    with pytest.raises(Exception, match="already stands for customer 999999"):
        await env.idmap.record(
            company_id=env.company_id, entity_type="customer", local_id=first, realm_id=env.realm, qbo_entity="Customer",
            qbo_id="x-other", sync_token="0", payload_hash=None,
        )  # fmt: skip
