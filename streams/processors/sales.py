"""Sales orders (QBO Estimate) and invoices (QBO Invoice, linked to the estimate)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.sales import invoice_to_qbo, sales_order_to_qbo
from streams.engine.docref import DocRef
from streams.engine.processor import Processor
from streams.engine.source import Snapshot
from streams.processors._common import dep, insert, line_item_deps, quantity_refs
from streams.processors.items import sample_item, sample_lot
from streams.processors.parties import CustomerProcessor

# item_kind picks the line's tax code (mappers/tax.py)
_LINES = (
    "select l.id, l.line_no, l.item_id, l.lot_id, l.description, l.quantity, l.unit_price, "
    "(select i.kind from items i where i.id = l.item_id) as item_kind from {table} l where l.{fk} = %s order by l.line_no"
)


async def _sample_lines(conn: Any, table: str, fk: str, doc_id: int, company_id: int) -> None:
    item = await sample_item(conn, company_id)
    lot = await sample_lot(conn, company_id, item)
    service = await sample_item(conn, company_id, "service")
    for no, (item_id, lot_id, qty, price) in enumerate(
        [(item, lot, "2.0000", "10.0050"), (item, None, "1.0000", "99.9900"), (service, None, "1", "-5.0000")], 1
    ):
        await conn.execute(
            f"insert into {table} ({fk}, line_no, item_id, lot_id, quantity, unit_price) values (%s, %s, %s, %s, %s, %s)",
            (doc_id, no, item_id, lot_id, qty, price),
        )


class SalesOrderProcessor(Processor[bn.SalesOrder]):
    entity_type = "sales_order"
    qbo_entity = "Estimate"
    table = "sales_orders"
    model = bn.SalesOrder
    sources = {"sales_orders": "id", "sales_order_lines": "sales_order_id"}
    natural_key = "DocNumber"
    on_delete = "delete"

    async def load(self, db: Snapshot, local_id: int) -> bn.SalesOrder | None:
        head = await db.one("select * from sales_orders where id = %s", (local_id,))
        if head is None:
            return None
        lines = await db.all(_LINES.format(table="sales_order_lines", fk="sales_order_id"), (local_id,))
        invoiced = await db.one("select exists (select 1 from invoices where sales_order_id = %s and status <> 'draft') as x", (local_id,))
        return bn.SalesOrder.model_validate(head | {"lines": lines, "invoiced": bool(invoiced and invoiced["x"])})

    def dependencies(self, doc: bn.SalesOrder) -> list[DocRef]:
        return [dep("customer", doc.customer_id), *line_item_deps(doc.lines)]

    def matches(self, doc: bn.SalesOrder, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return (candidate.get("CustomerRef") or {}).get("value") == payload["CustomerRef"]["value"]

    def map(self, doc: bn.SalesOrder, refs: Refs) -> dict[str, Any]:
        return sales_order_to_qbo(doc, refs)

    async def sample(self, conn: Any, company_id: int) -> int:
        customer = await CustomerProcessor().sample(conn, company_id)
        so = await insert(
            conn,
            "insert into sales_orders (company_id, number, customer_id, status, order_date, ship_by) values (%s, %s, %s, 'open', current_date, current_date + 7)",
            (company_id, f"SO-{uuid.uuid4().hex[:8]}", customer),
        )
        await _sample_lines(conn, "sales_order_lines", "sales_order_id", so, company_id)
        return so

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update sales_orders set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s", (local_id,))


class InvoiceProcessor(Processor[bn.Invoice]):
    entity_type = "invoice"
    qbo_entity = "Invoice"
    table = "invoices"
    model = bn.Invoice
    sources = {"invoices": "id", "invoice_lines": "invoice_id"}
    natural_key = "DocNumber"
    on_delete = "void"

    async def load(self, db: Snapshot, local_id: int) -> bn.Invoice | None:
        head = await db.one("select * from invoices where id = %s", (local_id,))
        if head is None:
            return None
        lines = await db.all(_LINES.format(table="invoice_lines", fk="invoice_id"), (local_id,))
        return bn.Invoice.model_validate(head | {"lines": lines})

    def dependencies(self, doc: bn.Invoice) -> list[DocRef]:
        deps = [dep("customer", doc.customer_id)]
        if doc.sales_order_id is not None:
            deps.append(dep("sales_order", doc.sales_order_id))  # a draft order is skipped: no link
        return deps + line_item_deps(doc.lines)

    def matches(self, doc: bn.Invoice, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return (candidate.get("CustomerRef") or {}).get("value") == payload["CustomerRef"]["value"]

    def map(self, doc: bn.Invoice, refs: Refs) -> dict[str, Any]:
        return invoice_to_qbo(doc, refs)

    async def after_sync(self, doc: bn.Invoice, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        return quantity_refs(doc.lines)

    async def sample(self, conn: Any, company_id: int) -> int:
        customer = await CustomerProcessor().sample(conn, company_id)
        inv = await insert(
            conn,
            "insert into invoices (company_id, number, customer_id, status, issue_date, due_date) values (%s, %s, %s, 'open', current_date, current_date + 30)",
            (company_id, f"INV-{uuid.uuid4().hex[:8]}", customer),
        )
        await _sample_lines(conn, "invoice_lines", "invoice_id", inv, company_id)
        return inv

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update invoices set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s", (local_id,))
