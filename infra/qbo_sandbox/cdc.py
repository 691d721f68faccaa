"""``GET /cdc?entities=A,B&changedSince=T``: what changed since T (at most 30 days back, 1000 objects).

Deleted objects come after the live ones of their type as ``{"domain":"QBO","status":"Deleted","Id",
"MetaData":{"LastUpdatedTime"}}``. Choice: a ``changedSince`` older than 30 days, missing parameters or an
unknown entity answer a ValidationFault with code 4001 (QBO's exact code is not in the reference).
"""

from __future__ import annotations

from datetime import timedelta, timezone

from infra.qbo_sandbox import faults
from infra.qbo_sandbox.clock import Clock, parse_ts
from infra.qbo_sandbox.engine import render
from infra.qbo_sandbox.schema import ENTITIES
from infra.qbo_sandbox.store import JsonObj, Realm

MAX_OBJECTS = 1000
LOOKBACK = timedelta(days=30)


def run(realm: Realm, entities_param: str | None, changed_since: str | None, clock: Clock) -> JsonObj:
    if not entities_param:
        raise faults.query_error("Required parameter entities is missing")
    if not changed_since:
        raise faults.query_error("Required parameter changedSince is missing")
    names = [e.strip() for e in entities_param.split(",") if e.strip()]
    lookup = {e.lower(): e for e in ENTITIES}
    resolved = []
    for n in names:
        if n.lower() not in lookup:
            raise faults.query_error(f"CDC is not supported for entity {n!r}")
        resolved.append(lookup[n.lower()])
    try:
        since = parse_ts(changed_since, clock.tz)
    except ValueError:
        raise faults.query_error(f"changedSince {changed_since!r} is not a valid date or date-time") from None
    if since < clock.now() - LOOKBACK:
        raise faults.query_error("changedSince cannot be more than 30 days in the past")
    budget = MAX_OBJECTS
    groups: list[JsonObj] = []
    tz: timezone = clock.tz
    for entity in resolved:
        live = [o for o in realm.table(entity).values() if parse_ts(o["MetaData"]["LastUpdatedTime"], tz) >= since]
        live.sort(key=lambda o: parse_ts(o["MetaData"]["LastUpdatedTime"], tz))
        dead = [(i, ts) for i, ts in realm.tombstones.get(entity, {}).items() if parse_ts(ts, tz) >= since]
        dead.sort(key=lambda p: parse_ts(p[1], tz))
        objs = [render(entity, o) for o in live] + [
            {"domain": "QBO", "status": "Deleted", "Id": i, "MetaData": {"LastUpdatedTime": ts}} for i, ts in dead
        ]
        objs = objs[:budget]
        budget -= len(objs)
        groups.append({entity: objs, "startPosition": 1, "maxResults": len(objs)} if objs else {})
    return {"CDCResponse": [{"QueryResponse": groups}]}
