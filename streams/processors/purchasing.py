"""Purchase orders (QBO PurchaseOrder) and bills (QBO Bill, each line linked to the PO line it bills)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.purchasing import bill_to_qbo, purchase_order_to_qbo
from streams.engine.docref import DocRef
from streams.engine.processor import Processor
from streams.engine.source import Snapshot
from streams.processors._common import dep, insert, line_item_deps, quantity_refs
from streams.processors.items import sample_item, sample_lot
from streams.processors.parties import VendorProcessor


class PurchaseOrderProcessor(Processor[bn.PurchaseOrder]):
    entity_type = "purchase_order"
    qbo_entity = "PurchaseOrder"
    table = "purchase_orders"
    model = bn.PurchaseOrder
    sources = {"purchase_orders": "id", "purchase_order_lines": "purchase_order_id"}
    natural_key = "DocNumber"
    on_delete = "delete"

    async def load(self, db: Snapshot, local_id: int) -> bn.PurchaseOrder | None:
        head = await db.one("select * from purchase_orders where id = %s", (local_id,))
        if head is None:
            return None
        lines = await db.all(
            "select l.id, l.line_no, l.item_id, l.description, l.quantity, l.unit_cost, "
            "(select i.kind from items i where i.id = l.item_id) as item_kind from purchase_order_lines l "
            "where l.purchase_order_id = %s order by l.line_no",
            (local_id,),
        )
        billed = await db.one("select exists (select 1 from bills where purchase_order_id = %s and status <> 'draft') as x", (local_id,))
        return bn.PurchaseOrder.model_validate(head | {"lines": lines, "billed": bool(billed and billed["x"])})

    def dependencies(self, doc: bn.PurchaseOrder) -> list[DocRef]:
        return [dep("vendor", doc.vendor_id), *line_item_deps(doc.lines)]

    def matches(self, doc: bn.PurchaseOrder, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return (candidate.get("VendorRef") or {}).get("value") == payload["VendorRef"]["value"]

    def map(self, doc: bn.PurchaseOrder, refs: Refs) -> dict[str, Any]:
        return purchase_order_to_qbo(doc, refs)

    async def sample(self, conn: Any, company_id: int) -> int:
        vendor = await VendorProcessor().sample(conn, company_id)
        po = await insert(
            conn,
            "insert into purchase_orders (company_id, number, vendor_id, status, order_date, expected_on) values (%s, %s, %s, 'open', current_date, current_date + 14)",
            (company_id, f"PO-{uuid.uuid4().hex[:8]}", vendor),
        )
        item = await sample_item(conn, company_id)
        other = await sample_item(conn, company_id, "non_tracking")
        for no, (item_id, qty, cost) in enumerate([(item, "10", "4.0000"), (other, "3", "1.1111")], 1):
            await conn.execute(
                "insert into purchase_order_lines (purchase_order_id, line_no, item_id, quantity, unit_cost) values (%s, %s, %s, %s, %s)",
                (po, no, item_id, qty, cost),
            )
        return po

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update purchase_orders set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s", (local_id,))


class BillProcessor(Processor[bn.Bill]):
    entity_type = "bill"
    qbo_entity = "Bill"
    table = "bills"
    model = bn.Bill
    sources = {"bills": "id", "bill_lines": "bill_id"}
    natural_key = "DocNumber"
    on_delete = "delete"  # QBO Bills cannot be voided through the API, only deleted

    async def load(self, db: Snapshot, local_id: int) -> bn.Bill | None:
        head = await db.one("select * from bills where id = %s", (local_id,))
        if head is None:
            return None
        lines = await db.all(
            "select bl.id, bl.line_no, bl.item_id, bl.lot_id, bl.purchase_order_line_id, bl.description, bl.quantity, bl.unit_cost, "
            "pol.purchase_order_id as linked_purchase_order_id, (select i.kind from items i where i.id = bl.item_id) as item_kind "
            "from bill_lines bl left join purchase_order_lines pol on pol.id = bl.purchase_order_line_id "
            "where bl.bill_id = %s order by bl.line_no",
            (local_id,),
        )
        return bn.Bill.model_validate(head | {"lines": lines})

    def dependencies(self, doc: bn.Bill) -> list[DocRef]:
        pos = {ln.linked_purchase_order_id for ln in doc.lines if ln.linked_purchase_order_id is not None}
        if doc.purchase_order_id is not None:
            pos.add(doc.purchase_order_id)
        return [dep("vendor", doc.vendor_id), *(dep("purchase_order", po) for po in sorted(pos)), *line_item_deps(doc.lines)]

    def matches(self, doc: bn.Bill, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        # bill numbers are the vendor's: unique per vendor only
        return (candidate.get("VendorRef") or {}).get("value") == payload["VendorRef"]["value"]

    def map(self, doc: bn.Bill, refs: Refs) -> dict[str, Any]:
        return bill_to_qbo(doc, refs)

    async def after_sync(self, doc: bn.Bill, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        return quantity_refs(doc.lines)

    async def sample(self, conn: Any, company_id: int) -> int:
        po = await PurchaseOrderProcessor().sample(conn, company_id)
        cur = await conn.execute("select vendor_id from purchase_orders where id = %s", (po,))
        vendor = (await cur.fetchone())[0]
        bill = await insert(
            conn,
            "insert into bills (company_id, number, vendor_id, purchase_order_id, status, bill_date, due_date) values (%s, %s, %s, %s, 'open', current_date, current_date + 30)",
            (company_id, f"B-{uuid.uuid4().hex[:8]}", vendor, po),
        )
        cur = await conn.execute(
            "select id, item_id, quantity, unit_cost from purchase_order_lines where purchase_order_id = %s order by line_no", (po,)
        )
        po_lines = await cur.fetchall()
        first = po_lines[0]
        lot = await sample_lot(conn, company_id, first[1], qty="0")
        await conn.execute(
            "insert into bill_lines (bill_id, line_no, item_id, lot_id, purchase_order_line_id, quantity, unit_cost) values (%s, 1, %s, %s, %s, %s, %s)",
            (bill, first[1], lot, first[0], first[2], first[3]),
        )
        extra = await sample_item(conn, company_id, "non_tracking")
        await conn.execute(
            "insert into bill_lines (bill_id, line_no, item_id, quantity, unit_cost) values (%s, 2, %s, 1, 2.5)", (bill, extra)
        )
        return bill

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update bills set memo = coalesce(memo, '') || 'x', updated_at = now() where id = %s", (local_id,))
