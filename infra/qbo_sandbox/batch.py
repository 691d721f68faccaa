"""``POST /batch``: up to ``max_batch_items`` operations, each answered on its own (HTTP 200 overall).

Items run in order; an item sees the effects of the items before it (QBO's docs conflict on ordering,
reference §7, and say a create is not visible to a later item: not emulated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.qbo_sandbox import faults, query
from infra.qbo_sandbox.engine import Engine
from infra.qbo_sandbox.schema import ENTITIES
from infra.qbo_sandbox.store import JsonObj

WRITE_OPS = ("create", "update", "delete", "void")


def run(
    engine: Engine,
    body: Any,
    max_items: int,
    tz: Any,
    on_write: Callable[[str, str, bool], None],
    stale_once: Callable[[str, str | None], bool],
) -> JsonObj:
    if not isinstance(body, dict) or not isinstance(body.get("BatchItemRequest"), list):
        raise faults.required("BatchItemRequest")
    items = body["BatchItemRequest"]
    if len(items) > max_items:
        raise faults.batch_too_large(len(items), max_items)
    out: list[JsonObj] = []
    for item in items:
        bid = item.get("bId") if isinstance(item, dict) else None
        resp: JsonObj = {}
        try:
            if not isinstance(item, dict):
                raise faults.required("BatchItemRequest")
            resp = _one(engine, item, tz, on_write, stale_once)
        except faults.QboFault as fault:
            resp = {"Fault": fault.fault_json()}
        resp["bId"] = bid
        out.append(resp)
    return {"BatchItemResponse": out}


def _one(
    engine: Engine, item: JsonObj, tz: Any, on_write: Callable[[str, str, bool], None], stale_once: Callable[[str, str | None], bool]
) -> JsonObj:
    if "Query" in item:
        return {"QueryResponse": query.run(engine.ctx.realm, str(item["Query"]), tz)}
    keys = [k for k in item if k in ENTITIES]
    if len(keys) != 1:
        unknown = [k for k in item if k not in ("bId", "operation", "optionsData")]
        raise faults.validation(
            "2010", "Request has invalid or unsupported property", f"A batch item needs exactly one entity, got {unknown}"
        )
    entity = keys[0]
    op = str(item.get("operation") or "create").lower()
    if op not in WRITE_OPS:
        raise faults.unsupported(f"Operation {op} is not supported in the sandbox's batch")
    payload = item[entity]
    applied = False
    try:
        entity_id = str(payload.get("Id")) if isinstance(payload, dict) and payload.get("Id") else None
        stale = op != "create" and stale_once(entity, entity_id)
        if op in ("create", "update"):
            if op == "update" and not entity_id:
                raise faults.required("Id")
            result = engine.save(entity, payload, stale_once=stale)
        elif op == "delete":
            if stale:
                raise faults.stale(entity)
            result = engine.delete(entity, payload)
        else:
            if stale:
                raise faults.stale(entity)
            result = engine.void(entity, payload)
        applied = True
        return {entity: result}
    finally:
        on_write(entity, op, applied)
