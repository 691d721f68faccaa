"""Purchase orders (QBO PurchaseOrder) and bills (QBO Bill, each line linked to the PO line it bills)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.purchasing import bill_to_qbo, purchase_order_to_qbo
from streams.engine.docref import DocRef
from streams.engine.ports import Snapshot
from streams.engine.processor import Processor
from streams.processors._common import dep, line_item_deps, lines_by_parent, quantity_refs


class PurchaseOrderProcessor(Processor[bn.PurchaseOrder]):
    entity_type = "purchase_order"
    qbo_entity = "PurchaseOrder"
    table = "purchase_orders"
    model = bn.PurchaseOrder
    sources = {"purchase_orders": "id", "purchase_order_lines": "purchase_order_id"}
    natural_key = "DocNumber"
    on_delete = "delete"
    create_only = ()

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
        billed = await db.one(
            "select coalesce(bool_or(true), false) as billed, coalesce(bool_or(m.qbo_id is null), false) as awaiting from bills b "
            "left join qbo_sync.id_map m on m.entity_type = 'bill' and m.local_id = b.id and m.status = 'synced' "
            "where b.status not in ('draft', 'void') and (b.purchase_order_id = %s or exists (select 1 from bill_lines bl "
            "join purchase_order_lines pol on pol.id = bl.purchase_order_line_id where bl.bill_id = b.id and pol.purchase_order_id = %s))",
            (local_id, local_id),
        )
        facts = {"billed": bool(billed and billed["billed"]), "awaiting_link": bool(billed and billed["awaiting"])}
        return bn.PurchaseOrder.model_validate(head | {"lines": lines, **facts})

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.PurchaseOrder]:
        heads = await db.all("select * from purchase_orders where id = any(%s)", (list(local_ids),))
        ids = [h["id"] for h in heads]
        lines = await lines_by_parent(
            db,
            "select l.purchase_order_id as _parent, l.id, l.line_no, l.item_id, l.description, l.quantity, l.unit_cost, "
            "(select i.kind from items i where i.id = l.item_id) as item_kind from purchase_order_lines l "
            "where l.purchase_order_id = any(%s) order by l.purchase_order_id, l.line_no",
            ids,
        )
        rows = await db.all(
            "select po.id, coalesce(bool_or(true), false) as billed, coalesce(bool_or(m.qbo_id is null), false) as awaiting "
            "from unnest(%s::bigint[]) po(id) join bills b on b.status not in ('draft', 'void') and (b.purchase_order_id = po.id "
            "or exists (select 1 from bill_lines bl join purchase_order_lines pol on pol.id = bl.purchase_order_line_id "
            "where bl.bill_id = b.id and pol.purchase_order_id = po.id)) "
            "left join qbo_sync.id_map m on m.entity_type = 'bill' and m.local_id = b.id and m.status = 'synced' group by po.id",
            (ids,),
        )
        facts = {r["id"]: {"billed": bool(r["billed"]), "awaiting_link": bool(r["awaiting"])} for r in rows}
        none = {"billed": False, "awaiting_link": False}
        return {h["id"]: bn.PurchaseOrder.model_validate(h | {"lines": lines.get(h["id"], []), **facts.get(h["id"], none)}) for h in heads}

    def dependencies(self, doc: bn.PurchaseOrder) -> list[DocRef]:
        return [dep("vendor", doc.vendor_id), *line_item_deps(doc.lines)]

    def matches(self, doc: bn.PurchaseOrder, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return bool((candidate.get("VendorRef") or {}).get("value") == payload["VendorRef"]["value"])

    def map(self, doc: bn.PurchaseOrder, refs: Refs) -> dict[str, Any]:
        return purchase_order_to_qbo(doc, refs)


class BillProcessor(Processor[bn.Bill]):
    entity_type = "bill"
    qbo_entity = "Bill"
    table = "bills"
    model = bn.Bill
    sources = {"bills": "id", "bill_lines": "bill_id"}
    natural_key = "DocNumber"
    on_delete = "delete"  # QBO Bills cannot be voided through the API, only deleted
    create_only = ()

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

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.Bill]:
        heads = await db.all("select * from bills where id = any(%s)", (list(local_ids),))
        lines = await lines_by_parent(
            db,
            "select bl.bill_id as _parent, bl.id, bl.line_no, bl.item_id, bl.lot_id, bl.purchase_order_line_id, bl.description, "
            "bl.quantity, bl.unit_cost, pol.purchase_order_id as linked_purchase_order_id, "
            "(select i.kind from items i where i.id = bl.item_id) as item_kind "
            "from bill_lines bl left join purchase_order_lines pol on pol.id = bl.purchase_order_line_id "
            "where bl.bill_id = any(%s) order by bl.bill_id, bl.line_no",
            [h["id"] for h in heads],
        )
        return {h["id"]: bn.Bill.model_validate(h | {"lines": lines.get(h["id"], [])}) for h in heads}

    def dependencies(self, doc: bn.Bill) -> list[DocRef]:
        pos = {ln.linked_purchase_order_id for ln in doc.lines if ln.linked_purchase_order_id is not None}
        if doc.purchase_order_id is not None:
            pos.add(doc.purchase_order_id)
        return [dep("vendor", doc.vendor_id), *(dep("purchase_order", po) for po in sorted(pos)), *line_item_deps(doc.lines)]

    def matches(self, doc: bn.Bill, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        # bill numbers are the vendor's: unique per vendor only
        return bool((candidate.get("VendorRef") or {}).get("value") == payload["VendorRef"]["value"])

    def map(self, doc: bn.Bill, refs: Refs) -> dict[str, Any]:
        return bill_to_qbo(doc, refs)

    async def after_sync(self, doc: bn.Bill, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        # the PO again: closed in Bottleneck, it is pushed Closed now that this bill (and its link) is in QBO
        pos = {ln.linked_purchase_order_id for ln in doc.lines if ln.linked_purchase_order_id is not None}
        if doc.purchase_order_id is not None:
            pos.add(doc.purchase_order_id)
        return [*quantity_refs(doc.lines), *(dep("purchase_order", po) for po in sorted(pos))]
