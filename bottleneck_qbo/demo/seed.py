"""Write Bottleneck data the way Bottleneck does: plain SQL, one transaction per business action.

Used by the demo and the benchmarks (and handy in a REPL). Each function commits its own transaction,
so the pipeline sees exactly what Bottleneck's UI would produce: a document with its lines in one
transaction, a completed ship job and its lot quantity changes in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg


@dataclass(frozen=True)
class Line:
    item_id: int
    quantity: Decimal
    price: Decimal  # unit_price on sales documents, unit_cost on purchasing documents
    lot_id: int | None = None
    description: str | None = None
    purchase_order_line_id: int | None = None  # bills only


def _one(conn: psycopg.Connection[Any], sql: str, args: Sequence[Any]) -> int:
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    return int(row[0])


def company(conn: psycopg.Connection[Any], name: str, *, mode: str = "live") -> int:
    with conn.transaction():
        row = conn.execute("select id from companies where name = %s", (name,)).fetchone()
        if row:
            return int(row[0])
        return _one(conn, "insert into companies (name, qbo_sync_mode) values (%s, %s) returning id", (name, mode))


def customer(
    conn: psycopg.Connection[Any], company_id: int, name: str, *, email: str | None = None, address: dict[str, str] | None = None
) -> int:
    with conn.transaction():
        return _one(
            conn,
            "insert into customers (company_id, name, email, billing_address, payment_terms_days) values (%s, %s, %s, %s, 30) returning id",
            (company_id, name, email, json.dumps(address) if address else None),
        )


def vendor(conn: psycopg.Connection[Any], company_id: int, name: str, *, email: str | None = None) -> int:
    with conn.transaction():
        return _one(conn, "insert into vendors (company_id, name, email) values (%s, %s, %s) returning id", (company_id, name, email))


def item(
    conn: psycopg.Connection[Any],
    company_id: int,
    sku: str,
    name: str,
    kind: str,
    *,
    sales_price: Decimal | None = None,
    purchase_cost: Decimal | None = None,
    lots: Sequence[tuple[str, Decimal, Decimal]] = (),
) -> tuple[int, list[int]]:
    """An item and (for kind 'inventory') its lots (code, quantity, unit cost), in one transaction."""
    with conn.transaction():
        item_id = _one(
            conn,
            "insert into items (company_id, sku, name, kind, sales_price, purchase_cost) values (%s, %s, %s, %s, %s, %s) returning id",
            (company_id, sku, name, kind, sales_price, purchase_cost),
        )
        lot_ids = [
            _one(
                conn,
                "insert into lots (company_id, item_id, lot_code, quantity_on_hand, unit_cost) values (%s, %s, %s, %s, %s) returning id",
                (company_id, item_id, code, qty, cost),
            )
            for code, qty, cost in lots
        ]
    return item_id, lot_ids


def _lines(
    conn: psycopg.Connection[Any], table: str, fk: str, doc_id: int, lines: Sequence[Line], price_col: str, with_lot: bool
) -> list[int]:
    ids = []
    for no, ln in enumerate(lines, start=1):
        cols = [fk, "line_no", "item_id", "description", "quantity", price_col]
        vals: list[Any] = [doc_id, no, ln.item_id, ln.description, ln.quantity, ln.price]
        if with_lot:
            cols.append("lot_id")
            vals.append(ln.lot_id)
        if table == "bill_lines":
            cols.append("purchase_order_line_id")
            vals.append(ln.purchase_order_line_id)
        ids.append(_one(conn, f"insert into {table} ({', '.join(cols)}) values ({', '.join(['%s'] * len(vals))}) returning id", vals))
    return ids


def sales_order(
    conn: psycopg.Connection[Any], company_id: int, number: str, customer_id: int, lines: Sequence[Line], *, status: str = "open"
) -> int:
    with conn.transaction():
        so = _one(
            conn,
            "insert into sales_orders (company_id, number, customer_id, status, order_date)"
            " values (%s, %s, %s, %s, current_date) returning id",
            (company_id, number, customer_id, status),
        )
        _lines(conn, "sales_order_lines", "sales_order_id", so, lines, "unit_price", True)
    return so


def invoice(
    conn: psycopg.Connection[Any],
    company_id: int,
    number: str,
    customer_id: int,
    lines: Sequence[Line],
    *,
    sales_order_id: int | None = None,
    status: str = "open",
) -> int:
    """An invoice with its lines; invoicing a sales order closes it, in the same transaction."""
    with conn.transaction():
        inv = _one(
            conn,
            "insert into invoices (company_id, number, customer_id, sales_order_id, status, issue_date, due_date)"
            " values (%s, %s, %s, %s, %s, current_date, current_date + 30) returning id",
            (company_id, number, customer_id, sales_order_id, status),
        )
        _lines(conn, "invoice_lines", "invoice_id", inv, lines, "unit_price", True)
        if sales_order_id is not None and status != "draft":
            conn.execute("update sales_orders set status = 'closed', updated_at = now() where id = %s", (sales_order_id,))
    return inv


def purchase_order(
    conn: psycopg.Connection[Any], company_id: int, number: str, vendor_id: int, lines: Sequence[Line], *, status: str = "open"
) -> tuple[int, list[int]]:
    with conn.transaction():
        po = _one(
            conn,
            "insert into purchase_orders (company_id, number, vendor_id, status, order_date)"
            " values (%s, %s, %s, %s, current_date) returning id",
            (company_id, number, vendor_id, status),
        )
        line_ids = _lines(conn, "purchase_order_lines", "purchase_order_id", po, lines, "unit_cost", False)
    return po, line_ids


def bill(
    conn: psycopg.Connection[Any],
    company_id: int,
    number: str,
    vendor_id: int,
    lines: Sequence[Line],
    *,
    purchase_order_id: int | None = None,
    status: str = "open",
) -> int:
    with conn.transaction():
        b = _one(
            conn,
            "insert into bills (company_id, number, vendor_id, purchase_order_id, status, bill_date, due_date)"
            " values (%s, %s, %s, %s, %s, current_date, current_date + 30) returning id",
            (company_id, number, vendor_id, purchase_order_id, status),
        )
        _lines(conn, "bill_lines", "bill_id", b, lines, "unit_cost", True)
        if purchase_order_id is not None and status != "draft":
            conn.execute("update purchase_orders set status = 'closed', updated_at = now() where id = %s", (purchase_order_id,))
    return b


def complete_ship_job(conn: psycopg.Connection[Any], company_id: int, sales_order_id: int, picks: Sequence[tuple[int, Decimal]]) -> int:
    """A ship job for (lot, quantity) picks, completed: lots go down in the same transaction."""
    with conn.transaction():
        job = _one(
            conn,
            "insert into ship_jobs (company_id, sales_order_id, status) values (%s, %s, 'in_progress') returning id",
            (company_id, sales_order_id),
        )
        for lot_id, qty in picks:
            conn.execute("insert into ship_job_lines (ship_job_id, lot_id, quantity) values (%s, %s, %s)", (job, lot_id, qty))
            conn.execute("update lots set quantity_on_hand = quantity_on_hand - %s, updated_at = now() where id = %s", (qty, lot_id))
        conn.execute("update ship_jobs set status = 'completed', completed_at = now(), updated_at = now() where id = %s", (job,))
    return job


def complete_receive_job(
    conn: psycopg.Connection[Any], company_id: int, purchase_order_id: int, receipts: Sequence[tuple[int, Decimal]]
) -> int:
    """A receive job for (lot, quantity) receipts, completed: lots go up in the same transaction."""
    with conn.transaction():
        job = _one(
            conn,
            "insert into receive_jobs (company_id, purchase_order_id, status) values (%s, %s, 'in_progress') returning id",
            (company_id, purchase_order_id),
        )
        for lot_id, qty in receipts:
            conn.execute("insert into receive_job_lines (receive_job_id, lot_id, quantity) values (%s, %s, %s)", (job, lot_id, qty))
            conn.execute("update lots set quantity_on_hand = quantity_on_hand + %s, updated_at = now() where id = %s", (qty, lot_id))
        conn.execute("update receive_jobs set status = 'completed', completed_at = now(), updated_at = now() where id = %s", (job,))
    return job
