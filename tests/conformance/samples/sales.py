"""Sales orders and invoices (with an inventory line on a lot, one on the item, and a service line)."""

from __future__ import annotations

import uuid

from tests.conformance.samples import items, parties
from tests.conformance.samples.base import Conn, Sample, insert, touching


async def _lines(conn: Conn, table: str, fk: str, doc_id: int, company_id: int) -> None:
    item = await items.item(conn, company_id)
    lot = await items.lot(conn, company_id, item)
    service = await items.item(conn, company_id, "service")
    for no, (item_id, lot_id, qty, price) in enumerate(
        [(item, lot, "2.0000", "10.0050"), (item, None, "1.0000", "99.9900"), (service, None, "1", "-5.0000")], 1
    ):
        await conn.execute(
            f"insert into {table} ({fk}, line_no, item_id, lot_id, quantity, unit_price) values (%s, %s, %s, %s, %s, %s)",
            (doc_id, no, item_id, lot_id, qty, price),
        )


async def sales_order(conn: Conn, company_id: int) -> int:
    customer = await parties.customer(conn, company_id)
    so = await insert(
        conn,
        "insert into sales_orders (company_id, number, customer_id, status, order_date, ship_by) "
        "values (%s, %s, %s, 'open', current_date, current_date + 7)",
        (company_id, f"SO-{uuid.uuid4().hex[:8]}", customer),
    )
    await _lines(conn, "sales_order_lines", "sales_order_id", so, company_id)
    return so


async def invoice(conn: Conn, company_id: int) -> int:
    customer = await parties.customer(conn, company_id)
    inv = await insert(
        conn,
        "insert into invoices (company_id, number, customer_id, status, issue_date, due_date) "
        "values (%s, %s, %s, 'open', current_date, current_date + 30)",
        (company_id, f"INV-{uuid.uuid4().hex[:8]}", customer),
    )
    await _lines(conn, "invoice_lines", "invoice_id", inv, company_id)
    return inv


SAMPLES = {
    "sales_order": Sample(
        sales_order, touching("update sales_orders set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s")
    ),
    "invoice": Sample(invoice, touching("update invoices set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s")),
}
