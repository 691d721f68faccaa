"""Pure routing: a decoded change event (table, op, before/after row) -> the documents it touches.

The engine re-reads every document from Postgres, so the router needs only ids: the row values
themselves (which may hold TOAST placeholders) never reach QBO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bottleneck_qbo.sync.docref import DocRef

Row = Mapping[str, Any]


class RoutingError(ValueError):
    """The event cannot be routed; it belongs on the dead-letter topic with this message."""


# header tables: row id is the document id.
_HEADERS = {
    "customers": "customer",
    "vendors": "vendor",
    "sales_orders": "sales_order",
    "invoices": "invoice",
    "purchase_orders": "purchase_order",
    "bills": "bill",
}
# line tables: (parent document type, column holding the parent id).
_LINES = {
    "sales_order_lines": ("sales_order", "sales_order_id"),
    "invoice_lines": ("invoice", "invoice_id"),
    "purchase_order_lines": ("purchase_order", "purchase_order_id"),
    "bill_lines": ("bill", "bill_id"),
}
# Tables whose changes never produce a QBO write, and why:
IGNORED = {
    "companies": "connecting a company is done by `bottleneck-qbo connect`, which re-snapshots its rows",
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
            f"{table} event has no {column}; without it the document cannot be found "
            f"(for deletes, give {table} REPLICA IDENTITY FULL)"
        )
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise RoutingError(f"{table}.{column} is {value!r}, not an id") from exc


def _company(row: Row) -> int | None:
    value = row.get("company_id")
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def route(table: str, op: str, before: Row | None, after: Row | None) -> list[DocRef]:
    """The documents a change touches. ``op`` is Debezium's c/u/d/r (t = truncate is ignored).

    Raises RoutingError for an unknown table or a row without the ids needed to find its document.
    """
    table = table.rsplit(".", 1)[-1]
    if table in IGNORED or op == "t":
        return []
    if op not in ("c", "u", "d", "r"):
        raise RoutingError(f"unknown operation {op!r} on {table}")
    row = after if after is not None else before
    if row is None:
        return []  # tombstone
    if table in _HEADERS:
        return [DocRef(company_id=_company(row), entity_type=_HEADERS[table], local_id=_int(row, "id", table))]
    if table in _LINES:
        parent, column = _LINES[table]
        refs = {DocRef(company_id=None, entity_type=parent, local_id=_int(row, column, table))}
        if before is not None and after is not None and before.get(column) not in (None, after.get(column)):
            # a line moved between documents: both change
            refs.add(DocRef(company_id=None, entity_type=parent, local_id=_int(before, column, table)))
        return sorted(refs, key=lambda r: r.local_id)
    if table == "items":
        item_id, company = _int(row, "id", table), _company(row)
        refs = [DocRef(company_id=company, entity_type="item", local_id=item_id)]
        if row.get("kind") == "inventory":
            # the Category carries the item's name too
            refs.insert(0, DocRef(company_id=company, entity_type="item_category", local_id=item_id))
        return refs
    if table == "lots":
        lot_id, company = _int(row, "id", table), _company(row)
        refs = [DocRef(company_id=company, entity_type="lot", local_id=lot_id)]
        if op != "d":
            refs.append(DocRef(company_id=company, entity_type="lot_quantity", local_id=lot_id))
        return refs
    if table == "qbo_publish_requests":
        if op == "d":
            return []
        return [
            DocRef(company_id=_company(row), entity_type=str(row.get("entity_type")), local_id=_int(row, "entity_id", table), forced=True)
        ]
    raise RoutingError(f"no processor handles table {table!r}")


def route_event(event: Any) -> list[DocRef]:
    """Route a decoded ``bottleneck_qbo.cdc`` record (ChangeEvent; tombstones and others route nowhere)."""
    if getattr(event, "kind", "change") != "change":
        return []
    before = event.before
    if before is None and event.op == "d":
        before = dict(event.key)  # default replica identity: only the key survives a delete
    return route(event.table, event.op, before, event.after)
