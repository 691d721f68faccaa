"""Helpers shared by the rule modules: refs, money, lengths, SyncToken bumps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from infra.qbo_sandbox import faults
from infra.qbo_sandbox.clock import Clock
from infra.qbo_sandbox.store import JsonObj, Realm

CENT = Decimal("0.01")
DELETED_SUFFIX = " (deleted)"


def money(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def dec(v: Any, element: str) -> Decimal:
    if isinstance(v, bool):
        raise faults.bad_value(element, f"{element} must be a number")
    if isinstance(v, Decimal):
        return v
    if isinstance(v, (int, str)):
        try:
            return Decimal(str(v))
        except InvalidOperation:
            pass
    raise faults.bad_value(element, f"{element} must be a number, got {v!r}")


@dataclass
class Change:
    entity: str
    entity_id: str
    operation: str  # Create | Update | Delete | Void (QBO webhook operation names)
    last_updated: str


@dataclass
class Ctx:
    """One write's view of a realm: where rules look things up and record what else they changed."""

    realm: Realm
    clock: Clock
    allow_duplicate_docnumber: bool = False
    changes: list[Change] = field(default_factory=list)

    def touch(self, entity: str, obj: JsonObj, operation: str = "Update") -> None:
        """Record a server-side modification of another object (SyncToken + 1, new LastUpdatedTime)."""
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        ts = self.clock.meta_ts()
        obj["MetaData"]["LastUpdatedTime"] = ts
        self.change(entity, obj["Id"], operation, ts)

    def change(self, entity: str, entity_id: str, operation: str, ts: str) -> None:
        self.changes.append(Change(entity, entity_id, operation, ts))
        self.realm.mark(entity, entity_id)


def ref_id(obj: JsonObj, key: str) -> str | None:
    ref = obj.get(key)
    if ref is None:
        return None
    if not isinstance(ref, dict) or ref.get("value") in (None, ""):
        raise faults.invalid_ref(key, ref, "a reference is an object with a value")
    return str(ref["value"])


def check_date(obj: JsonObj, key: str) -> None:
    """QBO dates are ``yyyy-MM-dd``; anything else fails JSON binding (fault 2010, as QBO's deserializer does)."""
    v = obj.get(key)
    if v is None:
        return
    try:
        if not isinstance(v, str) or len(v) != 10:
            raise ValueError
        date.fromisoformat(v)
    except ValueError:
        raise faults.validation(
            "2010",
            "Request has invalid or unsupported property",
            f"Property Name:{key} Can not construct instance of java.util.Date from {v!r}",
            key,
        ) from None


def require(obj: JsonObj, key: str, element: str | None = None) -> Any:
    v = obj.get(key)
    if v is None or v == "" or v == []:
        raise faults.required(element or key)
    return v


def max_len(obj: JsonObj, key: str, limit: int) -> None:
    v = obj.get(key)
    if v is not None and len(str(v)) > limit:
        raise faults.too_long(key, limit)


def resolve(ctx: Ctx, obj: JsonObj, key: str, entity: str, *, required: bool = False, element: str | None = None) -> JsonObj | None:
    """Check a reference points at an existing, active object; fill in the ref's display name."""
    rid = ref_id(obj, key)
    if rid is None:
        if required:
            raise faults.required(element or key)
        return None
    target = ctx.realm.get(entity, rid)
    if target is None:
        raise faults.invalid_ref(element or key, rid, f"no {entity} with this Id")
    if target.get("Active") is False:
        raise faults.invalid_ref(element or key, rid, f"{entity} is inactive")
    name = target.get("DisplayName") or target.get("FullyQualifiedName") or target.get("Name")
    if name is not None:
        obj[key] = {"value": rid, "name": name}
    return target
