"""Column types of Bottleneck's captured tables: the one place the decoder learns what each field is.

Mirrors ``infra/bottleneck/schema.sql`` (a unit test parses that file and compares, and an
integration test compares with ``information_schema``), so a schema change that is not reflected here fails
loudly instead of letting an undecoded string reach QBO.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class ColumnType(enum.Enum):
    BIGINT = "bigint"
    INTEGER = "integer"
    TEXT = "text"
    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    DATE = "date"
    TIMESTAMPTZ = "timestamptz"
    JSONB = "jsonb"


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: Mapping[str, ColumnType]
    primary_key: tuple[str, ...] = ("id",)
    schema: str = "public"


B, INT, T, BOOL, N, D, TS, J = (
    ColumnType.BIGINT,
    ColumnType.INTEGER,
    ColumnType.TEXT,
    ColumnType.BOOLEAN,
    ColumnType.NUMERIC,
    ColumnType.DATE,
    ColumnType.TIMESTAMPTZ,
    ColumnType.JSONB,
)

_STAMPS = {"created_at": TS, "updated_at": TS}

_TABLES: dict[str, dict[str, ColumnType]] = {
    "companies": {"id": B, "name": T, "qbo_realm_id": T, "qbo_sync_mode": T, **_STAMPS},
    "customers": {
        "id": B,
        "company_id": B,
        "name": T,
        "company_name": T,
        "email": T,
        "phone": T,
        "billing_address": J,
        "shipping_address": J,
        "payment_terms_days": INT,
        "is_active": BOOL,
        "notes": T,
        **_STAMPS,
    },
    "vendors": {
        "id": B,
        "company_id": B,
        "name": T,
        "company_name": T,
        "email": T,
        "phone": T,
        "billing_address": J,
        "payment_terms_days": INT,
        "is_active": BOOL,
        "notes": T,
        **_STAMPS,
    },
    "items": {
        "id": B,
        "company_id": B,
        "sku": T,
        "name": T,
        "description": T,
        "kind": T,
        "unit_of_measure": T,
        "sales_price": N,
        "purchase_cost": N,
        "is_active": BOOL,
        **_STAMPS,
    },
    "lots": {
        "id": B,
        "company_id": B,
        "item_id": B,
        "lot_code": T,
        "quantity_on_hand": N,
        "unit_cost": N,
        "expires_on": D,
        **_STAMPS,
    },
    "sales_orders": {
        "id": B,
        "company_id": B,
        "number": T,
        "customer_id": B,
        "status": T,
        "order_date": D,
        "ship_by": D,
        "memo": T,
        **_STAMPS,
    },
    "sales_order_lines": {
        "id": B,
        "sales_order_id": B,
        "line_no": INT,
        "item_id": B,
        "lot_id": B,
        "description": T,
        "quantity": N,
        "unit_price": N,
        **_STAMPS,
    },
    "invoices": {
        "id": B,
        "company_id": B,
        "number": T,
        "customer_id": B,
        "sales_order_id": B,
        "status": T,
        "issue_date": D,
        "due_date": D,
        "memo": T,
        **_STAMPS,
    },
    "invoice_lines": {
        "id": B,
        "invoice_id": B,
        "line_no": INT,
        "item_id": B,
        "lot_id": B,
        "description": T,
        "quantity": N,
        "unit_price": N,
        **_STAMPS,
    },
    "purchase_orders": {
        "id": B,
        "company_id": B,
        "number": T,
        "vendor_id": B,
        "status": T,
        "order_date": D,
        "expected_on": D,
        "memo": T,
        **_STAMPS,
    },
    "purchase_order_lines": {
        "id": B,
        "purchase_order_id": B,
        "line_no": INT,
        "item_id": B,
        "description": T,
        "quantity": N,
        "unit_cost": N,
        **_STAMPS,
    },
    "bills": {
        "id": B,
        "company_id": B,
        "number": T,
        "vendor_id": B,
        "purchase_order_id": B,
        "status": T,
        "bill_date": D,
        "due_date": D,
        "memo": T,
        **_STAMPS,
    },
    "bill_lines": {
        "id": B,
        "bill_id": B,
        "line_no": INT,
        "item_id": B,
        "lot_id": B,
        "purchase_order_line_id": B,
        "description": T,
        "quantity": N,
        "unit_cost": N,
        **_STAMPS,
    },
    "ship_jobs": {
        "id": B,
        "company_id": B,
        "sales_order_id": B,
        "status": T,
        "completed_at": TS,
        **_STAMPS,
    },
    "ship_job_lines": {"id": B, "ship_job_id": B, "lot_id": B, "quantity": N},
    "receive_jobs": {
        "id": B,
        "company_id": B,
        "purchase_order_id": B,
        "status": T,
        "completed_at": TS,
        **_STAMPS,
    },
    "receive_job_lines": {"id": B, "receive_job_id": B, "lot_id": B, "quantity": N},
    "invoice_payments": {
        "id": B,
        "company_id": B,
        "invoice_id": B,
        "qbo_payment_id": T,
        "amount": N,
        "paid_on": D,
        "method": T,
        "reference": T,
        "voided_at": TS,
        **_STAMPS,
    },
    "bill_payments": {
        "id": B,
        "company_id": B,
        "bill_id": B,
        "qbo_bill_payment_id": T,
        "amount": N,
        "paid_on": D,
        "method": T,
        "reference": T,
        "voided_at": TS,
        **_STAMPS,
    },
    "qbo_publish_requests": {
        "id": B,
        "company_id": B,
        "entity_type": T,
        "entity_id": B,
        "requested_by": T,
        "requested_at": TS,
    },
}

#: Bottleneck's captured tables (schema ``public``), keyed by table name.
BOTTLENECK_TABLES: Mapping[str, TableSpec] = {name: TableSpec(name=name, columns=cols) for name, cols in _TABLES.items()}


def table_spec(table: str, tables: Mapping[str, TableSpec] = BOTTLENECK_TABLES) -> TableSpec | None:
    return tables.get(table)
