"""Items: Inventory, NonInventory, Service and Category, with sub-items under Categories.

Choices:
- Type defaults to NonInventory when omitted; other QBO item types (Group, Assembly, ...) -> 2170.
- Duplicate Name -> 6240 (reference: code UNCONFIRMED for items). Uniqueness compares FullyQualifiedName,
  case-insensitively, inactive items included: same-name sub-items under different parents are fine.
- Only a Category may be a parent (6000); at most 5 levels.
- Inventory needs IncomeAccountRef, ExpenseAccountRef, AssetAccountRef, InvStartDate, QtyOnHand (2020).
  Service/NonInventory accounts are optional here (validated when given).
- Item update may set QtyOnHand (reference §3.4 UNCONFIRMED): taken as the new quantity on hand.
- Stock moved by invoices/bills/adjustments changes QtyOnHand without bumping the item's SyncToken.
"""

from __future__ import annotations

from decimal import Decimal

from infra.qbo_sandbox import faults
from infra.qbo_sandbox.rules.common import Ctx, check_date, dec, max_len, require, resolve
from infra.qbo_sandbox.rules.names import strip_deleted
from infra.qbo_sandbox.schema import ITEM_TYPES
from infra.qbo_sandbox.store import JsonObj

NAME_MAX = 100
MAX_LEVEL = 4  # Level is 0-based: five levels in all
INVENTORY_REQUIRED = ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef")


def prepare_item(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    obj.setdefault("Active", True)
    name = strip_deleted(obj.get("Name"), obj)
    if not name:
        raise faults.required("Name")
    name = str(name).strip()
    obj["Name"] = name
    if len(name) > NAME_MAX:
        raise faults.too_long("Name", NAME_MAX)
    if ":" in name:
        raise faults.business("Item Name cannot contain a colon", "Name")
    max_len(obj, "Sku", 100)
    max_len(obj, "Description", 4000)
    max_len(obj, "PurchaseDesc", 1000)
    item_type = obj.setdefault("Type", old["Type"] if old else "NonInventory")
    if item_type not in ITEM_TYPES:
        raise faults.bad_enum("Type", item_type)
    if old is not None and old["Type"] != item_type and "Inventory" in (old["Type"], item_type):
        raise faults.business(f"Item type cannot be changed from {old['Type']} to {item_type}", "Type")
    for key in ("UnitPrice", "PurchaseCost", "QtyOnHand"):
        if obj.get(key) is not None:
            obj[key] = dec(obj[key], key)

    level, fqn = 0, name
    if obj.get("ParentRef"):
        parent = resolve(ctx, obj, "ParentRef", "Item")
        assert parent is not None
        if parent["Type"] != "Category":
            raise faults.business("Only a Category can be the parent of an item", "ParentRef")
        if old is not None and (parent["Id"] == old["Id"] or _is_descendant(ctx, parent, old["Id"])):
            raise faults.business("An item cannot be its own parent", "ParentRef")
        level = int(parent["Level"]) + 1
        if level > MAX_LEVEL:
            raise faults.business("Items can be nested at most 5 levels deep", "ParentRef")
        fqn = f"{parent['FullyQualifiedName']}:{name}"
        obj["SubItem"] = True
    elif obj.get("SubItem"):
        raise faults.required("ParentRef")
    else:
        obj["SubItem"] = False
    obj["Level"], obj["FullyQualifiedName"] = level, fqn

    own_id = old["Id"] if old else None
    for other in ctx.realm.table("Item").values():
        if other["Id"] != own_id and other["FullyQualifiedName"].casefold() == fqn.casefold():
            raise faults.duplicate_item_name(fqn)

    if item_type == "Inventory":
        for key in INVENTORY_REQUIRED:
            require(obj, key)
        if obj.get("InvStartDate") in (None, ""):
            raise faults.validation(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter InvStartDate is missing in the request: As of date for initial quantity on hand is required",
                "InvStartDate",
            )
        check_date(obj, "InvStartDate")
        require(obj, "QtyOnHand")
        if obj.setdefault("TrackQtyOnHand", True) is not True:
            raise faults.business("An Inventory item must have TrackQtyOnHand true", "TrackQtyOnHand")
    else:
        obj["TrackQtyOnHand"] = False
        obj.pop("QtyOnHand", None)
    if item_type == "Category":
        for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "UnitPrice", "PurchaseCost"):
            obj.pop(key, None)
    for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
        resolve(ctx, obj, key, "Account")
    if item_type != "Category":
        obj.setdefault("UnitPrice", Decimal(0))


def _is_descendant(ctx: Ctx, item: JsonObj, ancestor_id: str) -> bool:
    seen = 0
    while item.get("ParentRef") and seen < 10:
        pid = str(item["ParentRef"]["value"])
        if pid == ancestor_id:
            return True
        nxt = ctx.realm.get("Item", pid)
        if nxt is None:
            return False
        item, seen = nxt, seen + 1
    return False


def refresh_children(ctx: Ctx, parent: JsonObj) -> None:
    """A renamed or moved Category renames its sub-items' FullyQualifiedName (QBO derives it)."""
    for child in ctx.realm.table("Item").values():
        ref = child.get("ParentRef")
        if ref and str(ref.get("value")) == parent["Id"]:
            fqn = f"{parent['FullyQualifiedName']}:{child['Name']}"
            level = int(parent["Level"]) + 1
            if fqn != child["FullyQualifiedName"] or level != child["Level"]:
                child["FullyQualifiedName"], child["Level"] = fqn, level
                child["ParentRef"] = {"value": parent["Id"], "name": parent["FullyQualifiedName"]}
                ctx.touch("Item", child)
                refresh_children(ctx, child)
