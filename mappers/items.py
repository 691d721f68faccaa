"""Items: NonInventory (non_tracking), Service (negative price = discount), tracked items and their lots.

QBO only lets a Category be a parent, so a tracked Bottleneck item becomes a Category (Name = item name)
holding the canonical Inventory item (quantity 0, cost 0: lines whose lot is unknown point at it) and one
Inventory item per lot (lot code in Name and Sku, the lot's quantity at creation and its unit cost).
QtyOnHand / InvStartDate / TrackQtyOnHand are create-only (``CREATE_ONLY``): later quantity changes go
through InventoryAdjustments, never through an item update.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from mappers import bottleneck as bn
from mappers import qbo as q
from mappers.common import (
    MAX_DESCRIPTION,
    MAX_ITEM_NAME,
    MAX_SKU,
    MappingError,
    Refs,
    check_len,
    check_name,
    price,
)

CREATE_ONLY = ("QtyOnHand", "InvStartDate", "TrackQtyOnHand")
# The canonical item starts empty; its start date only has to precede any transaction using it.
CANONICAL_START = date(2000, 1, 1)
LOT_SEPARATOR = " / "


def category_to_qbo(item: bn.Item) -> dict[str, Any]:
    if item.kind != "inventory":
        raise MappingError("item", item.id, f"only tracked (inventory) items get a category, not {item.kind!r}")
    return q.Item(Name=check_name("item", item.id, "name", item.qbo_name, MAX_ITEM_NAME), Type="Category", Active=item.is_active).to_qbo()


def item_to_qbo(item: bn.Item, refs: Refs) -> dict[str, Any]:
    name = check_name("item", item.id, "name", item.qbo_name, MAX_ITEM_NAME)
    sku = check_name("item", item.id, "sku", item.sku, MAX_SKU)
    desc = check_len("item", item.id, "description", item.description, MAX_DESCRIPTION)
    acc = refs.accounts
    sales = price(item.sales_price) if item.sales_price is not None else None
    cost = price(item.purchase_cost) if item.purchase_cost is not None else None
    if item.kind == "service":
        model = q.Item(
            Name=name,
            Type="Service",
            Sku=sku,
            Description=desc,
            UnitPrice=sales,
            Active=item.is_active,
            IncomeAccountRef=q.Ref(value=acc.income),
            # QBO refuses an item without an expense account on purchase-order and bill lines, and
            # Bottleneck buys services too: cost of the bought service goes to the realm's COGS account
            ExpenseAccountRef=q.Ref(value=acc.cogs),
        )
    elif item.kind == "non_tracking":
        model = q.Item(
            Name=name,
            Type="NonInventory",
            Sku=sku,
            Description=desc,
            UnitPrice=sales,
            PurchaseCost=cost,
            Active=item.is_active,
            IncomeAccountRef=q.Ref(value=acc.income),
            ExpenseAccountRef=q.Ref(value=acc.cogs),
        )
    else:
        model = q.Item(
            Name=name,
            Type="Inventory",
            Sku=sku,
            Description=desc,
            UnitPrice=sales,
            PurchaseCost=Decimal(0),
            Active=item.is_active,
            SubItem=True,
            ParentRef=q.Ref(value=refs.qbo_id("item_category", item.id)),
            TrackQtyOnHand=True,
            QtyOnHand=Decimal(0),
            InvStartDate=CANONICAL_START,
            IncomeAccountRef=q.Ref(value=acc.income),
            ExpenseAccountRef=q.Ref(value=acc.cogs),
            AssetAccountRef=q.Ref(value=acc.asset),
        )
    return model.to_qbo()


def lot_name(item: bn.Item, lot: bn.Lot) -> str:
    """ "<item name> / <lot code>", shortening the item name (never the lot code) to fit 100 characters."""
    code = check_name("lot", lot.id, "lot_code", lot.lot_code, MAX_ITEM_NAME - len(LOT_SEPARATOR) - 1)
    room = MAX_ITEM_NAME - len(LOT_SEPARATOR) - len(code)
    return f"{item.qbo_name.strip()[:room].rstrip()}{LOT_SEPARATOR}{code}"


def lot_to_qbo(row: bn.LotWithItem, refs: Refs) -> dict[str, Any]:
    lot, item = row.lot, row.item
    if item.kind != "inventory":
        raise MappingError("lot", lot.id, f"belongs to item {item.id} of kind {item.kind!r}; only inventory items have lots")
    name = check_name("lot", lot.id, "name", lot_name(item, lot), MAX_ITEM_NAME)
    sku = check_name("lot", lot.id, "sku", f"{item.sku.strip()}-{lot.lot_code.strip()}", MAX_SKU)
    acc = refs.accounts
    start = lot.created_at.date() if lot.created_at else CANONICAL_START
    return q.Item(
        Name=name,
        Type="Inventory",
        Sku=sku,
        Description=check_len("lot", lot.id, "description", item.description, MAX_DESCRIPTION),
        UnitPrice=price(item.sales_price) if item.sales_price is not None else None,
        PurchaseCost=price(lot.unit_cost),
        Active=item.is_active,
        SubItem=True,
        ParentRef=q.Ref(value=refs.qbo_id("item_category", item.id)),
        TrackQtyOnHand=True,
        QtyOnHand=price(lot.quantity_on_hand),
        InvStartDate=start,
        IncomeAccountRef=q.Ref(value=acc.income),
        ExpenseAccountRef=q.Ref(value=acc.cogs),
        AssetAccountRef=q.Ref(value=acc.asset),
    ).to_qbo()
