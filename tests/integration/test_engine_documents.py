"""SyncEngine against real Postgres and the QBO sandbox over HTTP: documents reach QBO in the right shape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.engine.docref import DocRef
from streams.engine.outcome import Kind, SkipReason
from tests.conformance import samples
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


def ref(env: Env, entity: str, local_id: int, forced: bool = False) -> DocRef:
    return DocRef(company_id=env.company_id, entity_type=entity, local_id=local_id, forced=forced)


async def test_invoice_brings_customer_items_lots_and_estimate_link(env: Env) -> None:
    so = await samples.create("sales_order", env.conn, env.company_id)
    out = await env.engine.sync(ref(env, "sales_order", so))
    assert out.kind == Kind.SYNCED, out.reason
    cur = await env.conn.execute("select customer_id from sales_orders where id = %s", (so,))
    customer = (await cur.fetchone())[0]
    cur = await env.conn.execute(
        "insert into invoices (company_id, number, customer_id, sales_order_id, status, issue_date) "
        "values (%s, 'INV-100', %s, %s, 'open', current_date) returning id",
        (env.company_id, customer, so),
    )
    inv = (await cur.fetchone())[0]
    await env.conn.execute(
        "insert into invoice_lines (invoice_id, line_no, item_id, lot_id, quantity, unit_price) "
        "select %s, line_no, item_id, lot_id, quantity, unit_price from sales_order_lines where sales_order_id = %s",
        (inv, so),
    )
    out = await env.engine.sync(ref(env, "invoice", inv))
    assert out.kind == Kind.SYNCED, out.reason
    invoice = await env.qbo.read(env.realm, "Invoice", out.qbo_id)  # type: ignore[arg-type]
    estimate_id = (await env.idmap.get(env.company_id, "sales_order", so)).qbo_id
    assert invoice["LinkedTxn"][0] == {"TxnId": estimate_id, "TxnType": "Estimate"}
    assert invoice["DocNumber"] == "INV-100"
    estimate = await env.qbo.read(env.realm, "Estimate", estimate_id)  # type: ignore[arg-type]
    assert estimate["TxnStatus"] == "Closed"
    # the lot line points at the lot's item, under the item's Category
    lot_line = invoice["Line"][0]["SalesItemLineDetail"]
    lot_item = await env.qbo.read(env.realm, "Item", lot_line["ItemRef"]["value"])
    parent = await env.qbo.read(env.realm, "Item", lot_item["ParentRef"]["value"])
    assert parent["Type"] == "Category" and lot_item["Type"] == "Inventory"
    # QBO moved the lot's stock when the invoice posted; the follow-up adjustment brought it back to Bottleneck's
    cur = await env.conn.execute(
        "select quantity_on_hand from lots where id = "
        "(select lot_id from invoice_lines where invoice_id = %s and lot_id is not null limit 1)",
        (inv,),
    )
    assert Decimal(str(lot_item["QtyOnHand"])) == (await cur.fetchone())[0]
    assert (await env.stats())["writes"]["InventoryAdjustment"]["create"] >= 1


async def test_order_closed_by_its_invoice_keeps_the_link_whatever_syncs_first(env: Env) -> None:
    """Invoicing closes the sales order in the same transaction; Debezium's events for the two tables can
    reach the sync in either order. The estimate must end Closed AND linked to the invoice."""
    so = await samples.create("sales_order", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "sales_order", so))).kind == Kind.SYNCED
    async with env.conn.transaction():
        cur = await env.conn.execute(
            "insert into invoices (company_id, number, customer_id, sales_order_id, status, issue_date) "
            "select company_id, 'INV-RACE', customer_id, id, 'open', current_date from sales_orders where id = %s returning id",
            (so,),
        )
        inv = (await cur.fetchone())[0]
        await env.conn.execute(
            "insert into invoice_lines (invoice_id, line_no, item_id, lot_id, quantity, unit_price) "
            "select %s, line_no, item_id, lot_id, quantity, unit_price from sales_order_lines where sales_order_id = %s",
            (inv, so),
        )
        await env.conn.execute("update sales_orders set status = 'closed' where id = %s", (so,))
    # the order's change first, then the invoice's
    assert (await env.engine.sync(ref(env, "sales_order", so))).ok
    out = await env.engine.sync(ref(env, "invoice", inv))
    assert out.kind == Kind.SYNCED, out.reason
    estimate_id = (await env.idmap.get(env.company_id, "sales_order", so)).qbo_id
    invoice = await env.qbo.read(env.realm, "Invoice", out.qbo_id)  # type: ignore[arg-type]
    assert {"TxnId": estimate_id, "TxnType": "Estimate"} in invoice.get("LinkedTxn", [])
    assert (await env.qbo.read(env.realm, "Estimate", estimate_id))["TxnStatus"] == "Closed"  # type: ignore[arg-type]


async def test_bill_links_po_lines_and_closes_po(env: Env) -> None:
    bill = await samples.create("bill", env.conn, env.company_id)
    out = await env.engine.sync(ref(env, "bill", bill))
    assert out.kind == Kind.SYNCED, out.reason
    qbo_bill = await env.qbo.read(env.realm, "Bill", out.qbo_id)  # type: ignore[arg-type]
    link = qbo_bill["Line"][0]["LinkedTxn"][0]
    cur = await env.conn.execute("select purchase_order_id from bills where id = %s", (bill,))
    po_entry = await env.idmap.get(env.company_id, "purchase_order", (await cur.fetchone())[0])
    assert link["TxnType"] == "PurchaseOrder" and link["TxnId"] == po_entry.qbo_id
    assert link["TxnLineId"] in po_entry.line_ids.values()


async def test_draft_skipped_then_published_creates(env: Env) -> None:
    so = await samples.create("sales_order", env.conn, env.company_id)
    await env.conn.execute("update sales_orders set status = 'draft' where id = %s", (so,))
    out = await env.engine.sync(ref(env, "sales_order", so))
    assert out.kind == Kind.SKIPPED and out.skip == SkipReason.DRAFT
    assert await env.writes() == 0
    await env.conn.execute("update sales_orders set status = 'open' where id = %s", (so,))
    assert (await env.engine.sync(ref(env, "sales_order", so))).kind == Kind.SYNCED


async def test_manual_mode_and_company_without_realm(env: Env) -> None:
    await env.set_mode("manual")
    cust = await samples.create("customer", env.conn, env.company_id)
    out = await env.engine.sync(ref(env, "customer", cust))
    assert out.kind == Kind.SKIPPED and out.skip == SkipReason.MANUAL_MODE
    inv = await samples.create("invoice", env.conn, env.company_id)
    out = await env.engine.sync(ref(env, "invoice", inv, forced=True))
    assert out.kind == Kind.SYNCED, out.reason  # a publish request brings its dependencies along
    cur = await env.conn.execute("insert into companies (name) values ('unconnected') returning id")
    other = (await cur.fetchone())[0]
    lonely = await samples.create("customer", env.conn, other)
    out = await env.engine.sync(DocRef(company_id=None, entity_type="customer", local_id=lonely))
    assert out.kind == Kind.SKIPPED and out.skip == SkipReason.NO_REALM


async def test_deactivate_void_delete(env: Env) -> None:
    inv = await samples.create("invoice", env.conn, env.company_id)
    out = await env.engine.sync(ref(env, "invoice", inv))
    await env.conn.execute("update invoices set status = 'void' where id = %s", (inv,))
    voided = await env.engine.sync(ref(env, "invoice", inv))
    assert voided.kind == Kind.SYNCED and voided.action == "void"
    assert Decimal(str((await env.qbo.read(env.realm, "Invoice", out.qbo_id))["TotalAmt"])) == 0  # type: ignore[arg-type]
    assert (await env.engine.sync(ref(env, "invoice", inv))).kind == Kind.UNCHANGED

    so = await samples.create("sales_order", env.conn, env.company_id)
    est = await env.engine.sync(ref(env, "sales_order", so))
    await env.conn.execute("delete from sales_orders where id = %s", (so,))
    gone = await env.engine.sync(DocRef(company_id=None, entity_type="sales_order", local_id=so))
    assert gone.kind == Kind.SYNCED and gone.action == "delete"
    assert not await env.qbo.query(env.realm, f"select * from Estimate where Id = '{est.qbo_id}'")

    cur = await env.conn.execute("select customer_id from invoices where id = %s", (inv,))
    cust = (await cur.fetchone())[0]
    await env.conn.execute("update customers set is_active = false where id = %s", (cust,))
    out = await env.engine.sync(ref(env, "customer", cust))
    assert out.kind == Kind.SYNCED
    assert (await env.qbo.read(env.realm, "Customer", out.qbo_id))["Active"] is False  # type: ignore[arg-type]
