"""Purchase Order -> PurchaseOrder, Bill -> Bill with a per-line LinkedTxn to the PO line it bills."""

from __future__ import annotations

from typing import Any

from mappers import bottleneck as bn
from mappers import qbo as q
from mappers.common import MAX_DESCRIPTION, MAX_PRIVATE_NOTE, MappingError, Refs, amount, check_doc_number, check_len, price
from mappers.sales import line_item_ref, tax_code_ref


def _line(entity: str, doc_id: int, line: bn.PurchaseLine, refs: Refs, linked: list[q.Link] | None) -> q.ExpenseLine:
    return q.ExpenseLine(
        Amount=amount(line.quantity, line.unit_cost),
        Description=check_len(entity, doc_id, f"line {line.line_no} description", line.description, MAX_DESCRIPTION),
        ItemBasedExpenseLineDetail=q.ItemExpenseDetail(
            ItemRef=line_item_ref(refs, line.item_id, line.lot_id),
            Qty=price(line.quantity),
            UnitPrice=price(line.unit_cost),
            TaxCodeRef=tax_code_ref(refs, "purchase", entity, doc_id, line.item_id, line.item_kind),
        ),
        LinkedTxn=linked,
    )


def _require_lines(entity: str, doc_id: int, lines: list[bn.PurchaseLine]) -> list[bn.PurchaseLine]:
    if not lines:
        raise MappingError(entity, doc_id, "has no lines; QuickBooks needs at least one")
    return sorted(lines, key=lambda ln: ln.line_no)


def purchase_order_to_qbo(po: bn.PurchaseOrder, refs: Refs) -> dict[str, Any]:
    return q.PurchaseOrder(
        DocNumber=check_doc_number("purchase_order", po.id, po.number),
        VendorRef=q.Ref(value=refs.qbo_id("vendor", po.vendor_id)),
        APAccountRef=q.Ref(value=refs.accounts.ap),
        TxnDate=po.order_date,
        DueDate=po.expected_on,
        PrivateNote=check_len("purchase_order", po.id, "memo", po.memo, MAX_PRIVATE_NOTE),
        # Never send "Open": QBO closes a fully billed PO itself and we must not reopen it. A closed order
        # is pushed Closed (billed short or not) only once every bill linked to it is in QBO: QBO drops a
        # bill's link to a closed PO, so closing it first would lose the link whenever the order's update
        # is processed before its bill. The bill's follow-up re-syncs the order when it lands.
        POStatus="Closed" if po.status == "closed" and not po.awaiting_link else None,
        Line=[_line("purchase_order", po.id, ln, refs, None) for ln in _require_lines("purchase_order", po.id, po.lines)],
    ).to_qbo()


def _po_link(bill: bn.Bill, line: bn.PurchaseLine, refs: Refs) -> list[q.Link] | None:
    if line.purchase_order_line_id is None:
        return None
    po_id = line.linked_purchase_order_id or bill.purchase_order_id
    if po_id is None:
        raise MappingError("bill", bill.id, f"line {line.line_no} bills PO line {line.purchase_order_line_id} of an unknown purchase order")
    txn_id = refs.qbo_id("purchase_order", po_id)
    txn_line = refs.qbo_line_id("purchase_order", po_id, line.purchase_order_line_id)
    if txn_line is None:
        raise MappingError(
            "bill",
            bill.id,
            f"line {line.line_no}: PO line {line.purchase_order_line_id} has no QuickBooks line id (purchase order {po_id} changed?)",
        )
    return [q.Link(TxnId=txn_id, TxnType="PurchaseOrder", TxnLineId=txn_line)]


def bill_to_qbo(bill: bn.Bill, refs: Refs) -> dict[str, Any]:
    return q.Bill(
        DocNumber=check_doc_number("bill", bill.id, bill.number),
        VendorRef=q.Ref(value=refs.qbo_id("vendor", bill.vendor_id)),
        APAccountRef=q.Ref(value=refs.accounts.ap),
        TxnDate=bill.bill_date,
        DueDate=bill.due_date,
        PrivateNote=check_len("bill", bill.id, "memo", bill.memo, MAX_PRIVATE_NOTE),
        Line=[_line("bill", bill.id, ln, refs, _po_link(bill, ln, refs)) for ln in _require_lines("bill", bill.id, bill.lines)],
    ).to_qbo()
