"""Transactions: Estimate, Invoice, PurchaseOrder, Bill, Payment, BillPayment, InventoryAdjustment.

Choices (reference UNCONFIRMED/CONFLICT points):
- DocNumber: max 21 (2050); unique per entity type among non-deleted documents (6140) unless the request has
  ``include=allowduplicatedocnum``. Invoice, Estimate and PurchaseOrder get the next number (from 1001)
  when it is omitted or "AUTO_GENERATE".
- Invoice LinkedTxn -> Estimate: a Pending/Accepted estimate becomes Closed and lists the invoice; a
  Closed/Rejected one is ignored (the link is dropped), per the XSD text. A missing estimate -> 2500.
  Deleting the invoice removes the link and re-opens the estimate (Pending) if nothing else links it.
- Bill line LinkedTxn -> PurchaseOrder line: TxnId, TxnType and TxnLineId are required (2020); a missing
  PO or PO line -> 2500; a link to a Closed PO is dropped silently (as QBO is reported to do). The PO is
  Closed when every PO line is fully billed (by Qty, or Amount for account lines) or ManuallyClosed.
- Payments reduce Invoice.Balance (BillPayments Bill.Balance); applying more than the open balance -> 6000.
  A document with payments applied cannot be deleted or voided (6000); nor a PO with linked bills.
- PurchaseOrder.APAccountRef and Bill.APAccountRef default to the A/P account when omitted.
- Linked objects that the server changes (estimate closed, balances, PO status) get SyncToken + 1.
"""

from __future__ import annotations

from decimal import Decimal

from infra.qbo_sandbox import faults, tax
from infra.qbo_sandbox.rules.common import Ctx, check_date, dec, max_len, money, require, resolve
from infra.qbo_sandbox.rules.lines import line_item_id, line_qty, prepare_expense_lines, prepare_sales_lines
from infra.qbo_sandbox.rules.names import account_by_subtype
from infra.qbo_sandbox.store import JsonObj

DOC_NUMBER_MAX = 21
AUTO_NUMBERED = frozenset({"Invoice", "Estimate", "PurchaseOrder"})
ESTIMATE_STATUSES = ("Pending", "Accepted", "Closed", "Rejected")
PO_STATUSES = ("Open", "Closed")


def _common(ctx: Ctx, entity: str, obj: JsonObj, old: JsonObj | None) -> None:
    obj.setdefault("TxnDate", ctx.clock.today())
    for key in ("TxnDate", "DueDate", "ExpirationDate", "ShipDate", "AcceptedDate"):
        check_date(obj, key)
    max_len(obj, "PrivateNote", 4000)
    doc = obj.get("DocNumber")
    if entity in AUTO_NUMBERED and (doc in (None, "", "AUTO_GENERATE")):
        doc = old.get("DocNumber") if old and doc is None and old.get("DocNumber") else _next_doc(ctx, entity)
        obj["DocNumber"] = doc
    if doc is not None:
        doc = str(doc)
        obj["DocNumber"] = doc
        if len(doc) > DOC_NUMBER_MAX:
            raise faults.too_long("DocNumber", DOC_NUMBER_MAX)
        if not ctx.allow_duplicate_docnumber:
            own_id = old["Id"] if old else None
            for other in ctx.realm.table(entity).values():
                if other.get("DocNumber") == doc and other["Id"] != own_id and _same_party(entity, obj, other):
                    raise faults.duplicate_docnumber(doc, entity, other["Id"])
    linked = obj.get("LinkedTxn")
    if linked is not None and not isinstance(linked, list):
        raise faults.required("LinkedTxn")
    obj.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})


def _same_party(entity: str, obj: JsonObj, other: JsonObj) -> bool:
    """A bill's number is the vendor's: two vendors may each send a bill numbered 1001."""
    if entity != "Bill":
        return True
    mine, theirs = obj.get("VendorRef"), other.get("VendorRef")
    if not isinstance(mine, dict) or not isinstance(theirs, dict):
        return True
    return str(mine.get("value")) == str(theirs.get("value"))


def _next_doc(ctx: Ctx, entity: str) -> str:
    used = {o.get("DocNumber") for o in ctx.realm.table(entity).values()}
    n = ctx.realm.doc_seq.get(entity, 1001)
    while str(n) in used:
        n += 1
    ctx.realm.doc_seq[entity] = n + 1
    return str(n)


# --- sales -----------------------------------------------------------------------------------------


def prepare_estimate(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    _common(ctx, "Estimate", obj, old)
    resolve(ctx, obj, "CustomerRef", "Customer", required=True)
    tax.check_lines(ctx, obj)
    obj["TotalAmt"] = tax.apply(ctx, obj, sales=True, net=prepare_sales_lines(ctx, obj, old))
    obj["LinkedTxn"] = list(old.get("LinkedTxn", [])) if old else []
    status = obj.setdefault("TxnStatus", "Pending")
    if status not in ESTIMATE_STATUSES:
        raise faults.bad_enum("TxnStatus", status)
    if any(link.get("TxnType") == "Invoice" for link in obj["LinkedTxn"]):
        obj["TxnStatus"] = "Closed"  # an invoiced estimate stays closed whatever an update says


def prepare_invoice(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    _common(ctx, "Invoice", obj, old)
    resolve(ctx, obj, "CustomerRef", "Customer", required=True)
    tax.check_lines(ctx, obj)
    total = tax.apply(ctx, obj, sales=True, net=prepare_sales_lines(ctx, obj, old))
    obj["TotalAmt"] = total
    obj.setdefault("DueDate", obj["TxnDate"])
    obj.setdefault("PrintStatus", "NotSet")
    obj.setdefault("EmailStatus", "NotSet")
    old_estimates = {link["TxnId"] for link in (old or {}).get("LinkedTxn", []) if link.get("TxnType") == "Estimate"}
    kept: list[JsonObj] = []
    for link in obj.get("LinkedTxn") or []:
        if not isinstance(link, dict) or not link.get("TxnId") or not link.get("TxnType"):
            raise faults.required("LinkedTxn.TxnId")
        if link["TxnType"] != "Estimate":
            continue  # payment links are the server's to maintain
        est = ctx.realm.get("Estimate", str(link["TxnId"]))
        if est is None:
            raise faults.invalid_ref("LinkedTxn.TxnId", link["TxnId"], "no Estimate with this Id")
        if est["TxnStatus"] in ("Closed", "Rejected") and str(link["TxnId"]) not in old_estimates:
            continue
        kept.append({"TxnId": str(link["TxnId"]), "TxnType": "Estimate"})
    obj["LinkedTxn"] = kept + _payment_links(ctx, obj.get("Id"), "Payment", "Invoice")
    applied = _applied(ctx, obj.get("Id"), "Payment", "Invoice")
    if applied > total:
        raise faults.business(f"Invoice total {total} is less than the payments applied to it ({applied})", "TotalAmt")
    obj["Balance"] = money(total - applied)


def invoice_effects(ctx: Ctx, new: JsonObj | None, old: JsonObj | None) -> None:
    inv_id = (new or old or {})["Id"]
    new_links = {link["TxnId"] for link in (new or {}).get("LinkedTxn", []) if link["TxnType"] == "Estimate"}
    old_links = {link["TxnId"] for link in (old or {}).get("LinkedTxn", []) if link["TxnType"] == "Estimate"}
    for est_id in new_links - old_links:
        est = ctx.realm.get("Estimate", est_id)
        if est is not None:
            est["TxnStatus"] = "Closed"
            est.setdefault("LinkedTxn", []).append({"TxnId": inv_id, "TxnType": "Invoice"})
            ctx.touch("Estimate", est)
    for est_id in old_links - new_links:
        est = ctx.realm.get("Estimate", est_id)
        if est is not None:
            est["LinkedTxn"] = [link for link in est.get("LinkedTxn", []) if not (link["TxnType"] == "Invoice" and link["TxnId"] == inv_id)]
            if not any(link["TxnType"] == "Invoice" for link in est["LinkedTxn"]) and est["TxnStatus"] == "Closed":
                est["TxnStatus"] = "Pending"
            ctx.touch("Estimate", est)


# --- purchasing ------------------------------------------------------------------------------------


def _default_ap(ctx: Ctx, obj: JsonObj) -> None:
    if not obj.get("APAccountRef"):
        ap = account_by_subtype(ctx, "AccountsPayable")
        if ap is not None:
            obj["APAccountRef"] = {"value": ap["Id"], "name": ap["Name"]}
    resolve(ctx, obj, "APAccountRef", "Account", required=True)


def prepare_purchase_order(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    _common(ctx, "PurchaseOrder", obj, old)
    resolve(ctx, obj, "VendorRef", "Vendor", required=True)
    _default_ap(ctx, obj)
    tax.check_lines(ctx, obj)
    obj["TotalAmt"] = tax.apply(ctx, obj, sales=False, net=prepare_expense_lines(ctx, obj, old))
    obj["LinkedTxn"] = list(old.get("LinkedTxn", [])) if old else []
    asked = obj.get("POStatus")
    if asked is not None:
        if asked not in PO_STATUSES:
            raise faults.bad_enum("POStatus", asked)
        if old is None or asked != old.get("POStatus"):
            # a client closing (or reopening) the order: QBO records it as manually closed
            obj["ManuallyClosed"] = asked == "Closed"
    obj["POStatus"] = _po_status(ctx, obj)
    obj.setdefault("EmailStatus", "NotSet")


def _po_status(ctx: Ctx, po: JsonObj) -> str:
    if po.get("ManuallyClosed"):
        return "Closed"
    billed: dict[str, Decimal] = {}
    for bill in ctx.realm.table("Bill").values():
        for line in bill.get("Line", []):
            for link in line.get("LinkedTxn", []):
                if link.get("TxnType") == "PurchaseOrder" and link.get("TxnId") == po.get("Id"):
                    qty = line_qty(line) if "ItemBasedExpenseLineDetail" in line else Decimal(line["Amount"])
                    billed[str(link["TxnLineId"])] = billed.get(str(link["TxnLineId"]), Decimal(0)) + qty
    lines = po.get("Line", [])
    if not lines or not billed:
        return "Open"
    for line in lines:
        need = line_qty(line) if "ItemBasedExpenseLineDetail" in line else Decimal(line["Amount"])
        if billed.get(str(line["Id"]), Decimal(0)) < need:
            return "Open"
    return "Closed"


def _bill_links(obj: JsonObj) -> set[str]:
    return {
        str(link["TxnId"]) for line in obj.get("Line", []) for link in line.get("LinkedTxn", []) if link.get("TxnType") == "PurchaseOrder"
    }


def prepare_bill(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    _common(ctx, "Bill", obj, old)
    resolve(ctx, obj, "VendorRef", "Vendor", required=True)
    _default_ap(ctx, obj)
    old_pos = _bill_links(old or {})
    for line in obj.get("Line") or []:
        links = line.get("LinkedTxn") if isinstance(line, dict) else None
        if not links:
            continue
        kept = []
        for link in links:
            for key in ("TxnId", "TxnType", "TxnLineId"):
                if not isinstance(link, dict) or not link.get(key):
                    raise faults.required(f"Line.LinkedTxn.{key}")
            if link["TxnType"] != "PurchaseOrder":
                continue
            po = ctx.realm.get("PurchaseOrder", str(link["TxnId"]))
            if po is None:
                raise faults.invalid_ref("Line.LinkedTxn.TxnId", link["TxnId"], "no PurchaseOrder with this Id")
            if not any(str(pl["Id"]) == str(link["TxnLineId"]) for pl in po.get("Line", [])):
                raise faults.invalid_ref("Line.LinkedTxn.TxnLineId", link["TxnLineId"], f"PurchaseOrder {po['Id']} has no such line")
            if po["POStatus"] == "Closed" and str(po["Id"]) not in old_pos:
                continue  # QBO drops a link to an unavailable PO and still creates the bill
            kept.append({"TxnId": str(link["TxnId"]), "TxnType": "PurchaseOrder", "TxnLineId": str(link["TxnLineId"])})
        line["LinkedTxn"] = kept
    tax.check_lines(ctx, obj)
    total = tax.apply(ctx, obj, sales=False, net=prepare_expense_lines(ctx, obj, old))
    obj["TotalAmt"] = total
    obj.setdefault("DueDate", obj["TxnDate"])
    obj["LinkedTxn"] = _payment_links(ctx, obj.get("Id"), "BillPayment", "Bill")
    applied = _applied(ctx, obj.get("Id"), "BillPayment", "Bill")
    if applied > total:
        raise faults.business(f"Bill total {total} is less than the payments applied to it ({applied})", "TotalAmt")
    obj["Balance"] = money(total - applied)


def bill_effects(ctx: Ctx, new: JsonObj | None, old: JsonObj | None) -> None:
    for po_id in _bill_links(new or {}) | _bill_links(old or {}):
        po = ctx.realm.get("PurchaseOrder", po_id)
        if po is None:
            continue
        status = _po_status(ctx, po)
        bills = sorted(
            {b["Id"] for b in ctx.realm.table("Bill").values() if po_id in _bill_links(b)}, key=lambda s: int(s) if s.isdigit() else 0
        )
        links = [{"TxnId": b, "TxnType": "Bill"} for b in bills]
        if status != po["POStatus"] or links != po.get("LinkedTxn", []):
            po["POStatus"], po["LinkedTxn"] = status, links
            ctx.touch("PurchaseOrder", po)


# --- payments --------------------------------------------------------------------------------------

_PAYMENT_KIND = {"Payment": ("Invoice", "Customer", "CustomerRef"), "BillPayment": ("Bill", "Vendor", "VendorRef")}


def _applied(ctx: Ctx, doc_id: str | None, payment_entity: str, doc_type: str) -> Decimal:
    if doc_id is None:
        return Decimal(0)
    total = Decimal(0)
    for pay in ctx.realm.table(payment_entity).values():
        for line in pay.get("Line", []):
            if any(link.get("TxnType") == doc_type and link.get("TxnId") == doc_id for link in line.get("LinkedTxn", [])):
                total += Decimal(line["Amount"])
    return total


def _payment_links(ctx: Ctx, doc_id: str | None, payment_entity: str, doc_type: str) -> list[JsonObj]:
    if doc_id is None:
        return []
    out = []
    for pay in ctx.realm.table(payment_entity).values():
        if any(
            link.get("TxnType") == doc_type and link.get("TxnId") == doc_id
            for line in pay.get("Line", [])
            for link in line.get("LinkedTxn", [])
        ):
            if payment_entity == "Payment":
                txn_type = "Payment"
            else:
                txn_type = "BillPaymentCheck" if pay.get("PayType") == "Check" else "BillPaymentCreditCard"
            out.append({"TxnId": pay["Id"], "TxnType": txn_type})
    return out


def prepare_payment(ctx: Ctx, entity: str, obj: JsonObj, old: JsonObj | None) -> None:
    doc_type, party, party_ref = _PAYMENT_KIND[entity]
    _common(ctx, entity, obj, old)
    party_obj = resolve(ctx, obj, party_ref, party, required=True)
    assert party_obj is not None
    total = money(dec(require(obj, "TotalAmt"), "TotalAmt"))
    if total < 0:
        raise faults.business("TotalAmt cannot be negative", "TotalAmt")
    obj["TotalAmt"] = total
    if entity == "BillPayment":
        pay_type = require(obj, "PayType")
        if pay_type not in ("Check", "CreditCard"):
            raise faults.bad_enum("PayType", pay_type)
        if pay_type == "Check":
            check = obj.get("CheckPayment") or {}
            resolve(ctx, check, "BankAccountRef", "Account", required=True, element="CheckPayment.BankAccountRef")
            obj["CheckPayment"] = {"PrintStatus": "NotSet", **check}
        else:
            cc = obj.get("CreditCardPayment") or {}
            resolve(ctx, cc, "CCAccountRef", "Account", required=True, element="CreditCardPayment.CCAccountRef")
            obj["CreditCardPayment"] = cc
        require(obj, "Line")
    else:
        if not obj.get("DepositToAccountRef"):
            uf = account_by_subtype(ctx, "UndepositedFunds")
            if uf is not None:
                obj["DepositToAccountRef"] = {"value": uf["Id"]}
        resolve(ctx, obj, "DepositToAccountRef", "Account")
    applied = Decimal(0)
    for line in obj.get("Line") or []:
        if not isinstance(line, dict) or line.get("Amount") is None:
            raise faults.required("Line.Amount")
        amount = money(dec(line["Amount"], "Line.Amount"))
        line["Amount"] = amount
        for link in line.get("LinkedTxn") or []:
            if not isinstance(link, dict) or not link.get("TxnId") or not link.get("TxnType"):
                raise faults.required("Line.LinkedTxn.TxnId")
            if link["TxnType"] != doc_type:
                raise faults.bad_enum("Line.LinkedTxn.TxnType", link["TxnType"])
            link["TxnId"] = str(link["TxnId"])
            doc = ctx.realm.get(doc_type, link["TxnId"])
            if doc is None or doc.get("_voided"):
                raise faults.invalid_ref("Line.LinkedTxn.TxnId", link["TxnId"], f"no open {doc_type} with this Id")
            if str(doc[party_ref]["value"]) != party_obj["Id"]:
                raise faults.business(f"{doc_type} {doc['Id']} belongs to another {party.lower()}", "Line.LinkedTxn")
            already = Decimal(0)
            if old is not None:
                already = sum(
                    (Decimal(ln["Amount"]) for ln in old.get("Line", []) if any(x["TxnId"] == doc["Id"] for x in ln.get("LinkedTxn", []))),
                    Decimal(0),
                )
            if amount > Decimal(doc["Balance"]) + already:
                raise faults.business(
                    f"The amount applied ({amount}) exceeds the open balance of {doc_type} {doc['Id']} ({doc['Balance']})", "Line.Amount"
                )
        applied += amount
    if applied > total:
        raise faults.business(f"The lines apply {applied}, more than TotalAmt {total}", "TotalAmt")
    if entity == "Payment":
        obj["UnappliedAmt"] = money(total - applied)
    obj.setdefault("Line", [])


def payment_effects(ctx: Ctx, entity: str, new: JsonObj | None, old: JsonObj | None) -> None:
    doc_type = _PAYMENT_KIND[entity][0]
    doc_ids = {link["TxnId"] for src in (new, old) if src for line in src.get("Line", []) for link in line.get("LinkedTxn", [])}
    for doc_id in doc_ids:
        doc = ctx.realm.get(doc_type, doc_id)
        if doc is None:
            continue
        balance = money(Decimal(doc["TotalAmt"]) - _applied(ctx, doc_id, entity, doc_type))
        keep = [link for link in doc.get("LinkedTxn", []) if link["TxnType"] in ("Estimate",)]
        links = keep + _payment_links(ctx, doc_id, entity, doc_type)
        if balance != Decimal(doc["Balance"]) or links != doc.get("LinkedTxn", []):
            doc["Balance"], doc["LinkedTxn"] = balance, links
            ctx.touch(doc_type, doc)


# --- inventory adjustment ---------------------------------------------------------------------------


def prepare_inventory_adjustment(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    _common(ctx, "InventoryAdjustment", obj, old)
    if old is not None and obj["TxnDate"] != old["TxnDate"]:
        raise faults.business("TxnDate of an inventory adjustment cannot be changed", "TxnDate")
    resolve(ctx, obj, "AdjustAccountRef", "Account", required=True)
    resolve(ctx, obj, "CustomerRef", "Customer")
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required("Line")
    old_diff = {line_item_id(ln): Decimal(ln["ItemAdjustmentLineDetail"]["QtyDiff"]) for ln in (old or {}).get("Line", [])}
    for n, line in enumerate(lines, start=1):
        if not isinstance(line, dict) or line.get("DetailType") != "ItemAdjustmentLineDetail":
            raise faults.bad_enum("Line.DetailType", line.get("DetailType") if isinstance(line, dict) else line)
        detail = line.get("ItemAdjustmentLineDetail")
        if not isinstance(detail, dict):
            raise faults.required("Line.ItemAdjustmentLineDetail")
        item = resolve(ctx, detail, "ItemRef", "Item", required=True, element="Line.ItemAdjustmentLineDetail.ItemRef")
        assert item is not None
        if item["Type"] != "Inventory":
            raise faults.business(
                f"Item {item['FullyQualifiedName']} does not track quantity on hand", "Line.ItemAdjustmentLineDetail.ItemRef"
            )
        if detail.get("QtyDiff") is not None:
            detail["QtyDiff"] = dec(detail["QtyDiff"], "QtyDiff")
        elif detail.get("NewQty") is not None:
            new_qty = dec(detail["NewQty"], "NewQty")
            # QtyOnHand already includes this adjustment's old effect when updating.
            base = Decimal(item["QtyOnHand"]) - old_diff.get(item["Id"], Decimal(0))
            detail["QtyDiff"] = new_qty - base
        else:
            raise faults.required("Line.ItemAdjustmentLineDetail.QtyDiff")
        line["Id"], line["LineNum"] = str(n), n


# --- stock movement ---------------------------------------------------------------------------------


def inventory_moves(ctx: Ctx, entity: str, obj: JsonObj | None) -> dict[str, Decimal]:
    """Signed QtyOnHand change a document causes, per Inventory item (voided documents cause none)."""
    moves: dict[str, Decimal] = {}
    if obj is None or obj.get("_voided"):
        return moves
    sign = {"Invoice": -1, "Bill": 1, "InventoryAdjustment": 1}.get(entity)
    if sign is None:
        return moves
    for line in obj.get("Line", []):
        item_id = line_item_id(line)
        if item_id is None:
            continue
        if entity == "Invoice" and "SalesItemLineDetail" not in line:
            continue
        if entity == "Bill" and "ItemBasedExpenseLineDetail" not in line:
            continue
        item = ctx.realm.get("Item", item_id)
        if item is None or item.get("Type") != "Inventory":
            continue
        qty = Decimal(line["ItemAdjustmentLineDetail"]["QtyDiff"]) if entity == "InventoryAdjustment" else line_qty(line)
        moves[item_id] = moves.get(item_id, Decimal(0)) + sign * qty
    return moves


def apply_inventory(ctx: Ctx, entity: str, new: JsonObj | None, old: JsonObj | None) -> None:
    delta = inventory_moves(ctx, entity, new)
    for item_id, qty in inventory_moves(ctx, entity, old).items():
        delta[item_id] = delta.get(item_id, Decimal(0)) - qty
    for item_id, qty in delta.items():
        item = ctx.realm.get("Item", item_id)
        if item is not None and qty:
            item["QtyOnHand"] = Decimal(item.get("QtyOnHand", 0)) + qty
            ctx.realm.mark("Item", item_id)


def check_deletable(ctx: Ctx, entity: str, obj: JsonObj, operation: str) -> None:
    if entity == "Invoice" and _applied(ctx, obj["Id"], "Payment", "Invoice"):
        raise faults.business(f"Invoice {obj['Id']} has payments applied; remove them before you {operation} it")
    if entity == "Bill" and _applied(ctx, obj["Id"], "BillPayment", "Bill"):
        raise faults.business(f"Bill {obj['Id']} has payments applied; remove them before you {operation} it")
    if entity == "PurchaseOrder" and obj.get("LinkedTxn"):
        raise faults.business(f"PurchaseOrder {obj['Id']} is linked to bills; unlink them before you {operation} it")


def void(obj: JsonObj, entity: str) -> None:
    """QBO's void: the document stays, amounts become 0, PrivateNote says Voided."""
    obj["_voided"] = True
    obj["PrivateNote"] = "Voided"
    obj["TotalAmt"] = Decimal("0.00")
    if "Balance" in obj:
        obj["Balance"] = Decimal("0.00")
    if entity in ("Payment", "BillPayment"):
        obj["Line"] = []
        if entity == "Payment":
            obj["UnappliedAmt"] = Decimal("0.00")
    else:
        for line in obj.get("Line", []):
            line["Amount"] = Decimal("0.00")
