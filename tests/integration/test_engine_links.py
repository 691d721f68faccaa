"""Links and status (issue 9): a link QBO drops is a readable ``link_dropped`` conflict; a PO (sales
order) closed in Bottleneck is closed in QBO whether or not fully billed (invoiced), without losing the
bill's (invoice's) link whatever syncs first."""

from __future__ import annotations

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


async def _po_state(env: Env, po: int) -> str:
    entry = await env.idmap.get(env.company_id, "purchase_order", po)
    assert entry is not None and entry.qbo_id
    return str((await env.qbo.read(env.realm, "PurchaseOrder", entry.qbo_id))["POStatus"])


async def _bill_link_kept(env: Env, bill: int) -> bool:
    entry = await env.idmap.get(env.company_id, "bill", bill)
    assert entry is not None and entry.qbo_id
    qbo_bill = await env.qbo.read(env.realm, "Bill", entry.qbo_id)
    return any(link.get("TxnType") == "PurchaseOrder" for ln in qbo_bill["Line"] for link in ln.get("LinkedTxn", []))


async def test_a_po_billed_short_then_closed_is_closed_in_qbo(env: Env) -> None:
    bill = await samples.create("bill", env.conn, env.company_id)  # bills line 1 of the PO, not line 2
    assert (await env.engine.sync(ref(env, "bill", bill))).kind == Kind.SYNCED
    po = await one(env, "select purchase_order_id from bills where id = %s", bill)
    assert await _po_state(env, po) == "Open"
    await env.conn.execute("update purchase_orders set status = 'closed' where id = %s", (po,))
    out = await env.engine.sync(ref(env, "purchase_order", po))
    assert out.kind == Kind.SYNCED, out
    assert await _po_state(env, po) == "Closed"
    assert await _bill_link_kept(env, bill)


async def test_a_closed_po_synced_before_its_bill_keeps_the_link_and_ends_closed(env: Env) -> None:
    bill = await samples.create("bill", env.conn, env.company_id)
    po = await one(env, "select purchase_order_id from bills where id = %s", bill)
    await env.conn.execute("update purchase_orders set status = 'closed' where id = %s", (po,))
    assert (await env.engine.sync(ref(env, "purchase_order", po))).kind == Kind.SYNCED
    assert await _po_state(env, po) == "Open"  # its bill is not in QBO yet: closing now would lose the link
    assert (await env.engine.sync(ref(env, "bill", bill))).kind == Kind.SYNCED
    assert await _bill_link_kept(env, bill)
    assert await _po_state(env, po) == "Closed"  # the bill's follow-up closed it


async def test_a_sales_order_invoiced_short_then_closed_is_closed_in_qbo(env: Env) -> None:
    so = await samples.create("sales_order", env.conn, env.company_id)
    customer = await one(env, "select customer_id from sales_orders where id = %s", so)
    inv = await one(
        env,
        "insert into invoices (company_id, number, customer_id, sales_order_id, status, issue_date) "
        "values (%s, %s, %s, %s, 'open', current_date) returning id",
        env.company_id,
        f"INV-S{so}",
        customer,
        so,
    )
    await env.conn.execute(
        "insert into invoice_lines (invoice_id, line_no, item_id, lot_id, quantity, unit_price) "
        "select %s, line_no, item_id, lot_id, quantity, unit_price from sales_order_lines where sales_order_id = %s and line_no = 1",
        (inv, so),
    )
    await env.conn.execute("update sales_orders set status = 'closed' where id = %s", (so,))
    assert (await env.engine.sync(ref(env, "sales_order", so))).kind == Kind.SYNCED
    out = await env.engine.sync(ref(env, "invoice", inv))
    assert out.kind == Kind.SYNCED, out
    invoice = await env.qbo.read(env.realm, "Invoice", str(out.qbo_id))
    estimate = (await env.idmap.get(env.company_id, "sales_order", so)).qbo_id
    assert {"TxnId": estimate, "TxnType": "Estimate"} in invoice["LinkedTxn"]
    assert (await env.qbo.read(env.realm, "Estimate", str(estimate)))["TxnStatus"] == "Closed"


async def test_a_link_qbo_drops_is_a_readable_link_dropped_conflict(env: Env) -> None:
    so = await samples.create("sales_order", env.conn, env.company_id)
    await env.conn.execute("update sales_orders set status = 'closed' where id = %s", (so,))
    assert (await env.engine.sync(ref(env, "sales_order", so))).kind == Kind.SYNCED  # Closed in QBO, no invoice yet
    customer = await one(env, "select customer_id from sales_orders where id = %s", so)
    inv = await one(
        env,
        "insert into invoices (company_id, number, customer_id, sales_order_id, status, issue_date) "
        "values (%s, %s, %s, %s, 'open', current_date) returning id",
        env.company_id,
        f"INV-L{so}",
        customer,
        so,
    )
    await env.conn.execute(
        "insert into invoice_lines (invoice_id, line_no, item_id, lot_id, quantity, unit_price) "
        "select %s, line_no, item_id, lot_id, quantity, unit_price from sales_order_lines where sales_order_id = %s",
        (inv, so),
    )
    out = await env.engine.sync(ref(env, "invoice", inv))
    assert out.kind == Kind.CONFLICT and out.qbo_id, out
    assert out.reason is not None and out.reason.startswith("link_dropped:") and "Estimate" in out.reason
    parked = await env.parking.get(ref(env, "invoice", inv))
    assert parked is not None and parked.state == "conflict" and "link_dropped" in parked.reason
    # a re-drive checks again (no hash skip) and the conflict stays until a person acts
    again = await env.engine.sync(ref(env, "invoice", inv))
    assert again.kind == Kind.CONFLICT, again
