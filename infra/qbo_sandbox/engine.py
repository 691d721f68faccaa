"""Create / read / update / delete / void for every entity, with QBO's SyncToken and sparse semantics.

Writes are synchronous and atomic: a rule fault raised before the store is touched leaves nothing
changed (the candidate object is a deep copy until it is committed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from infra.qbo_sandbox import faults, schema_facts
from infra.qbo_sandbox.rules import items, names, txns
from infra.qbo_sandbox.rules.common import DELETED_SUFFIX, Change, Ctx
from infra.qbo_sandbox.schema import DELETABLE, KNOWN_PROPERTIES, NAME_LISTS, READ_ONLY, VOIDABLE
from infra.qbo_sandbox.store import JsonObj

Prepare = Callable[[Ctx, JsonObj, JsonObj | None], None]

PREPARE: dict[str, Prepare] = {
    "Customer": lambda c, o, old: names.prepare_party(c, "Customer", o, old),
    "Vendor": lambda c, o, old: names.prepare_party(c, "Vendor", o, old),
    "Account": names.prepare_account,
    "Item": items.prepare_item,
    "Estimate": txns.prepare_estimate,
    "Invoice": txns.prepare_invoice,
    "PurchaseOrder": txns.prepare_purchase_order,
    "Bill": txns.prepare_bill,
    "Payment": lambda c, o, old: txns.prepare_payment(c, "Payment", o, old),
    "BillPayment": lambda c, o, old: txns.prepare_payment(c, "BillPayment", o, old),
    "InventoryAdjustment": txns.prepare_inventory_adjustment,
}


def _effects(ctx: Ctx, entity: str, new: JsonObj | None, old: JsonObj | None) -> None:
    if entity in ("Invoice", "Bill", "InventoryAdjustment"):
        txns.apply_inventory(ctx, entity, new, old)
    if entity == "Invoice":
        txns.invoice_effects(ctx, new, old)
    elif entity == "Bill":
        txns.bill_effects(ctx, new, old)
    elif entity in ("Payment", "BillPayment"):
        txns.payment_effects(ctx, entity, new, old)
    elif entity == "Item" and new is not None and new["Type"] == "Category" and old is not None:
        items.refresh_children(ctx, new)


def render(entity: str, obj: JsonObj) -> JsonObj:
    """The object as QBO returns it: internal keys dropped, inactive names shown with " (deleted)"."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
    if entity in NAME_LISTS and out.get("Active") is False:
        for key in ("DisplayName", "Name", "FullyQualifiedName"):
            if isinstance(out.get(key), str):
                out[key] += DELETED_SUFFIX
    return out


def drop_empty(value: Any) -> Any:
    """Empty strings for optional scalars are absent, as QBO reads them: widely used clients (python-quickbooks)
    send ``"TxnDate": ""`` for every field they have not set."""
    if isinstance(value, dict):
        return {k: drop_empty(v) for k, v in value.items() if v != ""}
    if isinstance(value, list):
        return [drop_empty(v) for v in value]
    return value


def _check_body(entity: str, body: Any) -> JsonObj:
    if not isinstance(body, dict):
        raise faults.validation("2010", "Request has invalid or unsupported property", f"The request body must be a {entity} object")
    body = drop_empty(body)
    known = KNOWN_PROPERTIES[entity]
    for key in body:
        if key not in known:
            raise faults.unknown_property(entity, key)
    nested = schema_facts.unknown_keys(entity, body)
    if nested:
        # QBO's JSON binding refuses an unknown key at any depth (e.g. a misplaced AccountRef on a line)
        path = nested[0]
        raise faults.unknown_property(path.rsplit(".", 1)[0].split("[")[0].rsplit(".", 1)[-1], path.rsplit(".", 1)[-1])
    return body


def _writable(entity: str, body: JsonObj) -> JsonObj:
    return {
        k: copy.deepcopy(v)
        for k, v in body.items()
        if k not in READ_ONLY and not (k == "TotalAmt" and entity not in ("Payment", "BillPayment"))
    }


class Engine:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    @property
    def changes(self) -> list[Change]:
        return self.ctx.changes

    def read(self, entity: str, entity_id: str) -> JsonObj:
        obj = self.ctx.realm.get(entity, entity_id)
        if obj is None:
            raise faults.not_found(entity, entity_id)
        return render(entity, obj)

    def save(self, entity: str, body: Any, *, stale_once: bool = False) -> JsonObj:
        """POST /{entity}: a body with an Id is an update, otherwise a create."""
        body = _check_body(entity, body)
        if body.get("Id") not in (None, ""):
            return self.update(entity, body, stale_once=stale_once)
        return self.create(entity, body)

    def create(self, entity: str, body: JsonObj) -> JsonObj:
        obj = _writable(entity, body)
        PREPARE[entity](self.ctx, obj, None)
        realm, ts = self.ctx.realm, self.ctx.clock.meta_ts()
        new_id = realm.new_id(entity)
        stored = {"domain": "QBO", "sparse": False, "Id": new_id, "SyncToken": "0", "MetaData": {"CreateTime": ts, "LastUpdatedTime": ts}}
        stored.update(obj)
        realm.table(entity)[new_id] = stored
        self.ctx.change(entity, new_id, "Create", ts)
        _effects(self.ctx, entity, stored, None)
        return render(entity, stored)

    def _current(self, entity: str, body: JsonObj, *, stale_once: bool = False) -> JsonObj:
        entity_id = str(body.get("Id") or "")
        if not entity_id:
            raise faults.required("Id")
        if body.get("SyncToken") in (None, ""):
            raise faults.required("SyncToken")
        current = self.ctx.realm.get(entity, entity_id)
        if current is None:
            raise faults.not_found(entity, entity_id)
        if str(body["SyncToken"]) != current["SyncToken"] or stale_once:
            raise faults.stale(entity)
        return current

    def update(self, entity: str, body: JsonObj, *, stale_once: bool = False) -> JsonObj:
        current = self._current(entity, body, stale_once=stale_once)
        if current.get("_voided"):
            raise faults.business(f"A voided {entity} cannot be changed")
        if body.get("sparse") is True:
            merged = copy.deepcopy({k: v for k, v in current.items() if k not in READ_ONLY})
            merged.update(_writable(entity, body))
        else:
            # Full update: writable fields left out are cleared (QBO sets them to NULL).
            merged = _writable(entity, body)
        merged["Id"] = current["Id"]
        PREPARE[entity](self.ctx, merged, current)
        old = copy.deepcopy(current)
        ts = self.ctx.clock.meta_ts()
        stored = {
            "domain": "QBO",
            "sparse": False,
            "Id": current["Id"],
            "SyncToken": str(int(current["SyncToken"]) + 1),
            "MetaData": {"CreateTime": current["MetaData"]["CreateTime"], "LastUpdatedTime": ts},
        }
        stored.update({k: v for k, v in merged.items() if k != "Id"})
        self.ctx.realm.table(entity)[current["Id"]] = stored
        self.ctx.change(entity, current["Id"], "Update", ts)
        _effects(self.ctx, entity, stored, old)
        return render(entity, stored)

    def delete(self, entity: str, body: Any) -> JsonObj:
        body = _check_body(entity, body)
        if entity not in DELETABLE:
            raise faults.unsupported(f"Operation Delete is not supported for {entity}; make it inactive (Active=false) instead.")
        current = self._current(entity, body)
        txns.check_deletable(self.ctx, entity, current, "delete")
        old = copy.deepcopy(current)
        del self.ctx.realm.table(entity)[current["Id"]]
        ts = self.ctx.clock.meta_ts()
        self.ctx.realm.tombstones.setdefault(entity, {})[current["Id"]] = ts
        self.ctx.change(entity, current["Id"], "Delete", ts)
        _effects(self.ctx, entity, None, old)
        return {"domain": "QBO", "status": "Deleted", "Id": current["Id"]}

    def void(self, entity: str, body: Any) -> JsonObj:
        body = _check_body(entity, body)
        if entity not in VOIDABLE:
            raise faults.unsupported(f"Operation Void is not supported for {entity}.")
        current = self._current(entity, body)
        txns.check_deletable(self.ctx, entity, current, "void")
        old = copy.deepcopy(current)
        txns.void(current, entity)
        ts = self.ctx.clock.meta_ts()
        current["SyncToken"] = str(int(current["SyncToken"]) + 1)
        current["MetaData"]["LastUpdatedTime"] = ts
        self.ctx.change(entity, current["Id"], "Void", ts)
        _effects(self.ctx, entity, current, old)
        return render(entity, current)
