"""Purchase orders and bills (a bill line linked to a PO line, on a lot; another on a non-tracked item)."""

from __future__ import annotations

import uuid

from tests.conformance.samples import items, parties
from tests.conformance.samples.base import Conn, Sample, insert, touching


async def purchase_order(conn: Conn, company_id: int) -> int:
    vendor = await parties.vendor(conn, company_id)
    po = await insert(
        conn,
        "insert into purchase_orders (company_id, number, vendor_id, status, order_date, expected_on) "
        "values (%s, %s, %s, 'open', current_date, current_date + 14)",
        (company_id, f"PO-{uuid.uuid4().hex[:8]}", vendor),
    )
    item = await items.item(conn, company_id)
    other = await items.item(conn, company_id, "non_tracking")
    for no, (item_id, qty, cost) in enumerate([(item, "10", "4.0000"), (other, "3", "1.1111")], 1):
        await conn.execute(
            "insert into purchase_order_lines (purchase_order_id, line_no, item_id, quantity, unit_cost) values (%s, %s, %s, %s, %s)",
            (po, no, item_id, qty, cost),
        )
    return po


async def bill(conn: Conn, company_id: int) -> int:
    po = await purchase_order(conn, company_id)
    cur = await conn.execute("select vendor_id from purchase_orders where id = %s", (po,))
    row = await cur.fetchone()
    assert row is not None
    vendor = row[0]
    bill_id = await insert(
        conn,
        "insert into bills (company_id, number, vendor_id, purchase_order_id, status, bill_date, due_date) "
        "values (%s, %s, %s, %s, 'open', current_date, current_date + 30)",
        (company_id, f"B-{uuid.uuid4().hex[:8]}", vendor, po),
    )
    cur = await conn.execute(
        "select id, item_id, quantity, unit_cost from purchase_order_lines where purchase_order_id = %s order by line_no", (po,)
    )
    first = (await cur.fetchall())[0]
    lot = await items.lot(conn, company_id, first[1], qty="0")
    await conn.execute(
        "insert into bill_lines (bill_id, line_no, item_id, lot_id, purchase_order_line_id, quantity, unit_cost) "
        "values (%s, 1, %s, %s, %s, %s, %s)",
        (bill_id, first[1], lot, first[0], first[2], first[3]),
    )
    extra = await items.item(conn, company_id, "non_tracking")
    await conn.execute(
        "insert into bill_lines (bill_id, line_no, item_id, quantity, unit_cost) values (%s, 2, %s, 1, 2.5)", (bill_id, extra)
    )
    return bill_id


SAMPLES = {
    "purchase_order": Sample(
        purchase_order, touching("update purchase_orders set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s")
    ),
    "bill": Sample(bill, touching("update bills set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s")),
}
