"""Through the real stack: rows written to Bottleneck's Postgres arrive on Kafka as decoded Debezium events."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from connectors.debezium import ChangeEvent, Tombstone, TransactionMarker, decode
from tests.fixtures.stack import ConsumerFactory, consume

pytestmark = pytest.mark.integration

CUSTOMERS = "bottleneck.public.customers"


def _company(conn: psycopg.Connection) -> int:
    return conn.execute("insert into companies (name) values (%s) returning id", (f"cdc-test-{uuid.uuid4().hex[:8]}",)).fetchone()[0]


def _decoded(records: list) -> list:
    return [decode(r.topic, r.partition, r.offset, r.key, r.value) for r in records]


def test_customer_insert_update_delete(pg_conn: psycopg.Connection, kafka_consumer_factory: ConsumerFactory) -> None:
    consumer = kafka_consumer_factory([CUSTOMERS], from_beginning=False)
    company = _company(pg_conn)
    cid = pg_conn.execute(
        """insert into customers (company_id, name, email, billing_address, payment_terms_days)
           values (%s, 'Green Grocer', 'ap@gg.example', '{"city": "Portland", "credit": 12.50}', 30) returning id""",
        (company,),
    ).fetchone()[0]
    pg_conn.execute("update customers set email = 'billing@gg.example' where id = %s", (cid,))
    pg_conn.execute("delete from customers where id = %s", (cid,))

    def mine(recs: list) -> list:
        return [d for d in _decoded(recs) if d.key.get("id") == cid]

    records = mine(consume(consumer, lambda recs: len(mine(recs)) >= 4))
    create, update, delete, tomb = records[:4]

    assert isinstance(create, ChangeEvent) and create.op == "c"
    assert create.after is not None
    assert create.after["company_id"] == company
    assert create.after["billing_address"] == {"city": "Portland", "credit": Decimal("12.50")}
    assert create.after["payment_terms_days"] == 30 and create.after["is_active"] is True
    assert create.after["created_at"].tzinfo is not None
    assert create.transaction is not None and create.txid is not None

    assert isinstance(update, ChangeEvent) and update.op == "u"
    assert update.after is not None and update.after["email"] == "billing@gg.example"

    assert isinstance(delete, ChangeEvent) and delete.op == "d" and delete.after is None
    assert delete.before is not None and delete.before["id"] == cid

    assert isinstance(tomb, Tombstone) and tomb.key == {"id": cid}


def test_invoice_with_lines_in_one_transaction_is_grouped(pg_conn: psycopg.Connection, kafka_consumer_factory: ConsumerFactory) -> None:
    company = _company(pg_conn)
    customer = pg_conn.execute("insert into customers (company_id, name) values (%s, 'Buyer') returning id", (company,)).fetchone()[0]
    item = pg_conn.execute(
        "insert into items (company_id, sku, name, kind, sales_price) values (%s, 'CB-12', 'Cold brew', 'inventory', 4.5) returning id",
        (company,),
    ).fetchone()[0]
    consumer = kafka_consumer_factory(
        ["bottleneck.public.invoices", "bottleneck.public.invoice_lines", "bottleneck.transaction"],
        from_beginning=False,
    )
    with pg_conn.transaction():
        invoice = pg_conn.execute(
            """insert into invoices (company_id, number, customer_id, status, issue_date, due_date)
               values (%s, 'INV-1', %s, 'open', '2026-11-22', '2026-12-22') returning id""",
            (company, customer),
        ).fetchone()[0]
        for n, (qty, price) in enumerate([("48", "4.5000"), ("1", "-5.0000")], start=1):
            pg_conn.execute(
                """insert into invoice_lines (invoice_id, line_no, item_id, quantity, unit_price)
                   values (%s, %s, %s, %s, %s)""",
                (invoice, n, item, Decimal(qty), Decimal(price)),
            )
        txid = pg_conn.execute("select txid_current()").fetchone()[0]

    def end_seen(recs: list) -> bool:
        return any(isinstance(d, TransactionMarker) and d.status == "END" and d.txid == txid for d in _decoded(recs))

    decoded = _decoded(consume(consumer, end_seen))
    rows = [d for d in decoded if isinstance(d, ChangeEvent) and d.txid == txid]
    markers = [d for d in decoded if isinstance(d, TransactionMarker) and d.txid == txid]

    assert [m.status for m in markers] == ["BEGIN", "END"]
    end = markers[1]
    assert end.event_count == 3
    assert {c.data_collection: c.event_count for c in end.data_collections or []} == {
        "public.invoices": 1,
        "public.invoice_lines": 2,
    }
    assert sorted(r.table for r in rows) == ["invoice_lines", "invoice_lines", "invoices"]
    assert all(r.transaction is not None and r.transaction.txid == txid for r in rows)
    assert sorted(r.transaction.total_order for r in rows if r.transaction) == [1, 2, 3]

    header = next(r for r in rows if r.table == "invoices")
    assert header.after is not None
    assert header.after["issue_date"] == date(2026, 11, 22) and header.after["status"] == "open"
    lines = sorted((r for r in rows if r.table == "invoice_lines"), key=lambda r: r.key["id"])
    assert [(ln.after or {})["unit_price"] for ln in lines] == [Decimal("4.5000"), Decimal("-5.0000")]
    assert all((ln.after or {})["invoice_id"] == invoice for ln in lines)


def test_signal_table_resnapshots_chosen_rows(pg_conn: psycopg.Connection, kafka_consumer_factory: ConsumerFactory) -> None:
    consumer = kafka_consumer_factory(["bottleneck.public.companies"], from_beginning=False)
    company = _company(pg_conn)
    signal = {
        "data-collections": ["public.companies"],
        "type": "incremental",
        "additional-conditions": [{"data-collection": "public.companies", "filter": f"id = {company}"}],
    }
    pg_conn.execute(
        "insert into cdc.debezium_signal (id, type, data) values (%s, 'execute-snapshot', %s)",
        (uuid.uuid4().hex, json.dumps(signal)),
    )

    def reads(recs: list) -> list[ChangeEvent]:
        return [d for d in _decoded(recs) if isinstance(d, ChangeEvent) and d.op == "r" and d.key == {"id": company}]

    read = reads(consume(consumer, lambda recs: bool(reads(recs))))[0]
    assert read.source.snapshot == "incremental"
    assert read.after is not None and read.after["id"] == company
