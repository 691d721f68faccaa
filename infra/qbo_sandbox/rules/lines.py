"""Transaction lines: detail types, item checks, Amount = Qty x UnitPrice (6070), line Ids, totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from infra.qbo_sandbox import faults, schema_facts
from infra.qbo_sandbox.rules.common import Ctx, dec, max_len, money, resolve
from infra.qbo_sandbox.store import JsonObj

SALES_DETAILS = frozenset({"SalesItemLineDetail", "DiscountLineDetail", "SubTotalLineDetail", "DescriptionOnly"})
EXPENSE_DETAILS = frozenset({"ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail"})
# Line keys other than the detail objects, from Intuit's XSD (schema_facts).
_LINE_KEYS = frozenset(k for k in schema_facts.fields_of("Line") if not k.endswith("Detail")) | {"DescriptionLineDetail"}


def _lines(obj: JsonObj) -> list[Any]:
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required("Line")
    return lines


def _line_ids(old: JsonObj | None) -> tuple[set[str], int]:
    ids = {str(ln["Id"]) for ln in (old or {}).get("Line", []) if ln.get("Id")}
    return ids, max((int(i) for i in ids if i.isdigit()), default=0)


def _assign_id(line: JsonObj, old_ids: set[str], counter: list[int]) -> None:
    lid = line.get("Id")
    if lid is not None and str(lid) in old_ids:
        line["Id"] = str(lid)
    else:
        counter[0] += 1
        line["Id"] = str(counter[0])


def _check_keys(line: JsonObj, detail_type: str, n: int) -> None:
    for key in line:
        if key not in _LINE_KEYS and key != detail_type:
            raise faults.unknown_property("Line", key)
    if detail_type != "DescriptionOnly" and detail_type != "SubTotalLineDetail" and not isinstance(line.get(detail_type), dict):
        raise faults.required(f"Line.{detail_type}")
    max_len(line, "Description", 4000)


def _item_amount(ctx: Ctx, line: JsonObj, detail: JsonObj, n: int, *, element: str) -> Decimal:
    item = resolve(ctx, detail, "ItemRef", "Item", required=True, element=f"Line.{element}.ItemRef")
    assert item is not None
    if item["Type"] == "Category":
        raise faults.business(f"A Category ({item['FullyQualifiedName']}) cannot be used on a transaction line", f"Line.{element}.ItemRef")
    if line.get("Amount") is None:
        raise faults.required("Line.Amount")
    amount = money(dec(line["Amount"], "Line.Amount"))
    qty = detail.get("Qty")
    price = detail.get("UnitPrice")
    if qty is not None:
        detail["Qty"] = qty = dec(qty, "Qty")
    if price is not None:
        detail["UnitPrice"] = price = dec(price, "UnitPrice")
    if qty is not None and price is not None and money(qty * price) != amount:
        raise faults.amount_mismatch(n)
    line["Amount"] = amount
    return amount


def prepare_sales_lines(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> Decimal:
    """Normalise Estimate/Invoice lines; returns TotalAmt. QBO adds a SubTotalLine to the response."""
    old_ids, top = _line_ids(old)
    counter = [top]
    out: list[JsonObj] = []
    subtotal = Decimal(0)
    discounts: list[JsonObj] = []
    for n, line in enumerate(_lines(obj), start=1):
        if not isinstance(line, dict):
            raise faults.required("Line")
        dt = line.get("DetailType")
        if not dt:
            raise faults.required("Line.DetailType")
        if dt not in SALES_DETAILS:
            raise faults.bad_enum("Line.DetailType", dt)
        _check_keys(line, dt, n)
        if dt == "SubTotalLineDetail":
            continue  # recomputed below
        if dt == "SalesItemLineDetail":
            subtotal += _item_amount(ctx, line, line[dt], n, element=dt)
        elif dt == "DiscountLineDetail":
            discounts.append(line)
        elif line.get("Amount") is not None:
            line["Amount"] = money(dec(line["Amount"], "Line.Amount"))
        _assign_id(line, old_ids, counter)
        out.append(line)
    discount_total = Decimal(0)
    for line in discounts:
        detail = line["DiscountLineDetail"]
        if detail.get("PercentBased"):
            pct = dec(detail.get("DiscountPercent", 0), "DiscountPercent")
            line["Amount"] = money(subtotal * pct / 100)
        elif line.get("Amount") is None:
            raise faults.required("Line.Amount")
        else:
            line["Amount"] = money(abs(dec(line["Amount"], "Line.Amount")))
        discount_total += line["Amount"]
    for i, line in enumerate(out, start=1):
        line["LineNum"] = i
    out.append({"Amount": money(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    obj["Line"] = out
    return money(subtotal - discount_total)


def _require_expense_account(ctx: Ctx, detail: JsonObj, element: str) -> None:
    """QBO refuses an item without an expense account on a purchase line (reference §3.7)."""
    ref = detail.get("ItemRef")
    item = ctx.realm.get("Item", str(ref.get("value"))) if isinstance(ref, dict) else None
    if item is not None and item.get("Type") != "Category" and not item.get("ExpenseAccountRef"):
        raise faults.business(
            f"Item {item['FullyQualifiedName']} has no expense account; an item on a purchase line must have one",
            f"Line.{element}.ItemRef",
        )


def prepare_expense_lines(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> Decimal:
    """Normalise PurchaseOrder/Bill lines; returns TotalAmt."""
    old_ids, top = _line_ids(old)
    counter = [top]
    total = Decimal(0)
    for n, line in enumerate(_lines(obj), start=1):
        if not isinstance(line, dict):
            raise faults.required("Line")
        dt = line.get("DetailType")
        if not dt:
            raise faults.required("Line.DetailType")
        if dt not in EXPENSE_DETAILS:
            raise faults.bad_enum("Line.DetailType", dt)
        _check_keys(line, dt, n)
        if dt == "ItemBasedExpenseLineDetail":
            _require_expense_account(ctx, line[dt], dt)
            total += _item_amount(ctx, line, line[dt], n, element=dt)
        else:
            resolve(ctx, line[dt], "AccountRef", "Account", required=True, element=f"Line.{dt}.AccountRef")
            if line.get("Amount") is None:
                raise faults.required("Line.Amount")
            line["Amount"] = money(dec(line["Amount"], "Line.Amount"))
            total += line["Amount"]
        _assign_id(line, old_ids, counter)
        line["LineNum"] = n
    return money(total)


def line_qty(line: JsonObj) -> Decimal:
    for key in ("SalesItemLineDetail", "ItemBasedExpenseLineDetail"):
        detail = line.get(key)
        if isinstance(detail, dict):
            q = detail.get("Qty")
            return Decimal(q) if q is not None else Decimal(0)
    return Decimal(0)


def line_item_id(line: JsonObj) -> str | None:
    for key in ("SalesItemLineDetail", "ItemBasedExpenseLineDetail", "ItemAdjustmentLineDetail"):
        detail = line.get(key)
        if isinstance(detail, dict) and detail.get("ItemRef"):
            return str(detail["ItemRef"]["value"])
    return None
