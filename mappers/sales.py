"""Sales Order -> Estimate, Invoice -> Invoice (linked to its Estimate when the sales order is in QBO)."""

from __future__ import annotations

from typing import Any

from mappers import bottleneck as bn
from mappers import qbo as q
from mappers.common import MAX_DESCRIPTION, MAX_PRIVATE_NOTE, MappingError, Refs, amount, check_doc_number, check_len, price
from mappers.tax import Side


def line_item_ref(refs: Refs, item_id: int, lot_id: int | None) -> q.Ref:
    """A line points at the lot's QBO item when the lot is known, else at the item (canonical for tracked ones)."""
    if lot_id is not None:
        return q.Ref(value=refs.qbo_id("lot", lot_id))
    return q.Ref(value=refs.qbo_id("item", item_id))


def tax_code_ref(refs: Refs, side: Side, entity: str, doc_id: int, item_id: int, item_kind: str | None) -> q.Ref | None:
    code = refs.tax.line_code(side, entity, doc_id, item_id, item_kind)
    return q.Ref(value=code) if code else None


def sales_lines(entity: str, doc_id: int, lines: list[bn.SalesLine], refs: Refs) -> list[q.SalesLine]:
    if not lines:
        raise MappingError(entity, doc_id, "has no lines; QuickBooks needs at least one")
    out = []
    for line in sorted(lines, key=lambda ln: ln.line_no):
        out.append(
            q.SalesLine(
                Amount=amount(line.quantity, line.unit_price),
                Description=check_len(entity, doc_id, f"line {line.line_no} description", line.description, MAX_DESCRIPTION),
                SalesItemLineDetail=q.SalesItemDetail(
                    ItemRef=line_item_ref(refs, line.item_id, line.lot_id),
                    Qty=price(line.quantity),
                    UnitPrice=price(line.unit_price),
                    TaxCodeRef=tax_code_ref(refs, "sales", entity, doc_id, line.item_id, line.item_kind),
                ),
            )
        )
    return out


def sales_order_to_qbo(so: bn.SalesOrder, refs: Refs) -> dict[str, Any]:
    return q.Estimate(
        DocNumber=check_doc_number("sales_order", so.id, so.number),
        CustomerRef=q.Ref(value=refs.qbo_id("customer", so.customer_id)),
        TxnDate=so.order_date,
        ShipDate=so.ship_by,
        PrivateNote=check_len("sales_order", so.id, "memo", so.memo, MAX_PRIVATE_NOTE),
        # A closed order is pushed Closed only once every invoice linked to it is in QBO: QBO ignores a
        # link to an estimate that is already Closed, so pushing Closed first would lose the link whenever
        # the order's update is processed before its invoice (the invoice's follow-up re-syncs the order
        # when it lands). Sending "Pending" for open orders would reopen it.
        TxnStatus="Closed" if so.status == "closed" and not so.awaiting_link else None,
        Line=sales_lines("sales_order", so.id, so.lines, refs),
    ).to_qbo()


def invoice_to_qbo(inv: bn.Invoice, refs: Refs) -> dict[str, Any]:
    estimate_id = refs.qbo_id_or_none("sales_order", inv.sales_order_id) if inv.sales_order_id else None
    return q.Invoice(
        DocNumber=check_doc_number("invoice", inv.id, inv.number),
        CustomerRef=q.Ref(value=refs.qbo_id("customer", inv.customer_id)),
        TxnDate=inv.issue_date,
        DueDate=inv.due_date,
        PrivateNote=check_len("invoice", inv.id, "memo", inv.memo, MAX_PRIVATE_NOTE),
        LinkedTxn=[q.Link(TxnId=estimate_id, TxnType="Estimate")] if estimate_id else None,
        Line=sales_lines("invoice", inv.id, inv.lines, refs),
    ).to_qbo()
