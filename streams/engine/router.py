"""Pure routing: a decoded change event (table, op, before/after row) -> the documents it touches.

The engine re-reads every document from Postgres, so the router needs only ids: the row values
themselves (which may hold TOAST placeholders) never reach QBO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streams.engine.docref import DocRef

if TYPE_CHECKING:
    from streams.engine.registry import Registry

Row = Mapping[str, Any]


class RoutingError(ValueError):
    """The event cannot be routed; it belongs on the dead-letter topic with this message."""


# Tables whose changes never produce a QBO write, and why:
IGNORED = {
    "companies": "no document: the route agent hands it to the onboarding step (initial load on manual -> live or connect)",
    "invoice_payments": "written by the pipeline from QBO; pushing it back would loop",
    "bill_payments": "written by the pipeline from QBO; pushing it back would loop",
    # Completing a job updates lots.quantity_on_hand in the same transaction; the lots event drives the adjustment.
    "ship_jobs": "its effect arrives as the lots update of the same transaction",
    "ship_job_lines": "its effect arrives as the lots update of the same transaction",
    "receive_jobs": "its effect arrives as the lots update of the same transaction",
    "receive_job_lines": "its effect arrives as the lots update of the same transaction",
    "debezium_heartbeat": "Debezium heartbeat",
    "debezium_signal": "Debezium signal table",
    "heartbeat": "Debezium heartbeat",
    "signal": "Debezium signal table",
}


def _int(row: Row, column: str, table: str) -> int:
    value = row.get(column)
    if value is None:
        raise RoutingError(
            f"{table} event has no {column}; without it the document cannot be found (for deletes, give {table} REPLICA IDENTITY FULL)"
        )
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise RoutingError(f"{table}.{column} is {value!r}, not an id") from exc


def _company(row: Row) -> int | None:
    value = row.get("company_id")
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def route(table: str, op: str, before: Row | None, after: Row | None, registry: Registry) -> list[DocRef]:
    """The documents a change touches. ``op`` is Debezium's c/u/d/r (t = truncate is ignored).

    Each registered processor declares, in ``sources``, the tables it reads and the column holding its
    document's id (``id`` for the header, the parent's id for a line), so a new processor needs no
    change here. Raises RoutingError for an unknown table or a row without the ids needed.
    """
    table = table.rsplit(".", 1)[-1]
    if table in IGNORED or op == "t":
        return []
    if op not in ("c", "u", "d", "r"):
        raise RoutingError(f"unknown operation {op!r} on {table}")
    row = after if after is not None else before
    if row is None:
        return []  # tombstone
    if table == "qbo_publish_requests":
        if op == "d":
            return []
        return [
            DocRef(company_id=_company(row), entity_type=str(row.get("entity_type")), local_id=_int(row, "entity_id", table), forced=True)
        ]
    refs: dict[str, DocRef] = {}
    for processor in registry:
        column = processor.sources.get(table)
        if column is None:
            continue
        # a header row carries company_id; a line's company is its parent's (the engine looks it up)
        company = _company(row) if column == "id" else None
        ids = [_int(row, column, table)]
        if before is not None and after is not None and before.get(column) not in (None, after.get(column)):
            ids.append(_int(before, column, table))  # a line moved between documents: both change
        for local_id in sorted(set(ids)):
            ref = DocRef(company_id=company, entity_type=processor.entity_type, local_id=local_id)
            refs.setdefault(ref.key, ref)
    if not refs:
        raise RoutingError(f"no processor handles table {table!r}")
    return list(refs.values())


def route_event(event: Any, registry: Registry) -> list[DocRef]:
    """Route a decoded ``connectors.debezium`` record (ChangeEvent; tombstones and others route nowhere)."""
    if getattr(event, "kind", "change") != "change":
        return []
    before = event.before
    if before is None and event.op == "d":
        before = dict(event.key)  # default replica identity: only the key survives a delete
    return route(event.table, event.op, before, event.after, registry)
