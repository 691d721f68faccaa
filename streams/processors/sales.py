"""Sales orders (QBO Estimate) and invoices (QBO Invoice, linked to the estimate)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.sales import invoice_to_qbo, sales_order_to_qbo
from streams.engine.docref import DocRef
from streams.engine.ports import Snapshot
from streams.engine.processor import Processor
from streams.processors._common import dep, line_item_deps, lines_by_parent, quantity_refs

# item_kind picks the line's tax code (mappers/tax.py)
_LINES = (
    "select l.id, l.line_no, l.item_id, l.lot_id, l.description, l.quantity, l.unit_price, "
    "(select i.kind from items i where i.id = l.item_id) as item_kind from {table} l where l.{fk} = %s order by l.line_no"
)
# the same lines of many documents (their parent's id as _parent)
_MANY_LINES = (
    "select l.{fk} as _parent, l.id, l.line_no, l.item_id, l.lot_id, l.description, l.quantity, l.unit_price, "
    "(select i.kind from items i where i.id = l.item_id) as item_kind from {table} l where l.{fk} = any(%s) order by l.{fk}, l.line_no"
)


class SalesOrderProcessor(Processor[bn.SalesOrder]):
    entity_type = "sales_order"
    qbo_entity = "Estimate"
    table = "sales_orders"
    model = bn.SalesOrder
    sources = {"sales_orders": "id", "sales_order_lines": "sales_order_id"}
    natural_key = "DocNumber"
    on_delete = "delete"
    create_only = ()

    async def load(self, db: Snapshot, local_id: int) -> bn.SalesOrder | None:
        head = await db.one("select * from sales_orders where id = %s", (local_id,))
        if head is None:
            return None
        lines = await db.all(_LINES.format(table="sales_order_lines", fk="sales_order_id"), (local_id,))
        invoiced = await db.one(
            "select coalesce(bool_or(true), false) as invoiced, coalesce(bool_or(m.qbo_id is null), false) as awaiting from invoices i "
            "left join qbo_sync.id_map m on m.entity_type = 'invoice' and m.local_id = i.id and m.status = 'synced' "
            "where i.sales_order_id = %s and i.status not in ('draft', 'void')",
            (local_id,),
        )
        facts = {"invoiced": bool(invoiced and invoiced["invoiced"]), "awaiting_link": bool(invoiced and invoiced["awaiting"])}
        return bn.SalesOrder.model_validate(head | {"lines": lines, **facts})

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.SalesOrder]:
        heads = await db.all("select * from sales_orders where id = any(%s)", (list(local_ids),))
        ids = [h["id"] for h in heads]
        lines = await lines_by_parent(db, _MANY_LINES.format(table="sales_order_lines", fk="sales_order_id"), ids)
        rows = await db.all(
            "select i.sales_order_id as id, coalesce(bool_or(true), false) as invoiced, "
            "coalesce(bool_or(m.qbo_id is null), false) as awaiting "
            "from invoices i left join qbo_sync.id_map m on m.entity_type = 'invoice' and m.local_id = i.id and m.status = 'synced' "
            "where i.sales_order_id = any(%s) and i.status not in ('draft', 'void') group by i.sales_order_id",
            (ids,),
        )
        facts = {r["id"]: {"invoiced": bool(r["invoiced"]), "awaiting_link": bool(r["awaiting"])} for r in rows}
        none = {"invoiced": False, "awaiting_link": False}
        return {h["id"]: bn.SalesOrder.model_validate(h | {"lines": lines.get(h["id"], []), **facts.get(h["id"], none)}) for h in heads}

    def dependencies(self, doc: bn.SalesOrder) -> list[DocRef]:
        return [dep("customer", doc.customer_id), *line_item_deps(doc.lines)]

    def matches(self, doc: bn.SalesOrder, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return bool((candidate.get("CustomerRef") or {}).get("value") == payload["CustomerRef"]["value"])

    def map(self, doc: bn.SalesOrder, refs: Refs) -> dict[str, Any]:
        return sales_order_to_qbo(doc, refs)


class InvoiceProcessor(Processor[bn.Invoice]):
    entity_type = "invoice"
    qbo_entity = "Invoice"
    table = "invoices"
    model = bn.Invoice
    sources = {"invoices": "id", "invoice_lines": "invoice_id"}
    natural_key = "DocNumber"
    on_delete = "void"
    create_only = ()

    async def load(self, db: Snapshot, local_id: int) -> bn.Invoice | None:
        head = await db.one("select * from invoices where id = %s", (local_id,))
        if head is None:
            return None
        lines = await db.all(_LINES.format(table="invoice_lines", fk="invoice_id"), (local_id,))
        return bn.Invoice.model_validate(head | {"lines": lines})

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.Invoice]:
        heads = await db.all("select * from invoices where id = any(%s)", (list(local_ids),))
        lines = await lines_by_parent(db, _MANY_LINES.format(table="invoice_lines", fk="invoice_id"), [h["id"] for h in heads])
        return {h["id"]: bn.Invoice.model_validate(h | {"lines": lines.get(h["id"], [])}) for h in heads}

    def dependencies(self, doc: bn.Invoice) -> list[DocRef]:
        deps = [dep("customer", doc.customer_id)]
        if doc.sales_order_id is not None:
            deps.append(dep("sales_order", doc.sales_order_id))  # a draft order is skipped: no link
        return deps + line_item_deps(doc.lines)

    def matches(self, doc: bn.Invoice, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return bool((candidate.get("CustomerRef") or {}).get("value") == payload["CustomerRef"]["value"])

    def map(self, doc: bn.Invoice, refs: Refs) -> dict[str, Any]:
        return invoice_to_qbo(doc, refs)

    async def after_sync(self, doc: bn.Invoice, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        # the order again: closed in Bottleneck, it is pushed Closed now that this invoice (and its link) is in QBO
        order = [dep("sales_order", doc.sales_order_id)] if doc.sales_order_id is not None else []
        return [*quantity_refs(doc.lines), *order]
