"""Bottleneck rows the inbound tests need: a connected company with invoices and bills known to the id map."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from infra.stack import StackStatus


@dataclass
class Tenant:
    company_id: int
    realm_id: str
    customer_id: int
    vendor_id: int
    invoices: dict[str, int] = field(default_factory=dict)  # QBO invoice id -> invoices.id
    bills: dict[str, int] = field(default_factory=dict)  # QBO bill id -> bills.id


async def make_tenant(conn: psycopg.AsyncConnection, realm_id: str | None = None) -> Tenant:
    realm = realm_id or f"9{uuid.uuid4().int % 10**14:014d}"
    cur = await conn.execute("insert into companies (name, qbo_realm_id) values (%s, %s) returning id", (f"Inbound test {realm}", realm))
    company_id = (await cur.fetchone())[0]
    cur = await conn.execute("insert into customers (company_id, name) values (%s, %s) returning id", (company_id, f"Cust {realm}"))
    customer_id = (await cur.fetchone())[0]
    cur = await conn.execute("insert into vendors (company_id, name) values (%s, %s) returning id", (company_id, f"Vend {realm}"))
    vendor_id = (await cur.fetchone())[0]
    return Tenant(company_id, realm, customer_id, vendor_id)


async def add_invoice(conn: psycopg.AsyncConnection, t: Tenant, qbo_id: str | None, number: str) -> int:
    """An open invoice; with ``qbo_id`` it is also in the id map (as the outbound side would have left it)."""
    cur = await conn.execute(
        "insert into invoices (company_id, number, customer_id, status, issue_date) values (%s, %s, %s, 'open', %s) returning id",
        (t.company_id, number, t.customer_id, date(2026, 11, 1)),
    )
    local = (await cur.fetchone())[0]
    if qbo_id is not None:
        await map_document(conn, t, "invoice", "Invoice", local, qbo_id)
        t.invoices[qbo_id] = local
    return local


async def add_bill(conn: psycopg.AsyncConnection, t: Tenant, qbo_id: str | None, number: str) -> int:
    cur = await conn.execute(
        "insert into bills (company_id, number, vendor_id, status, bill_date) values (%s, %s, %s, 'open', %s) returning id",
        (t.company_id, number, t.vendor_id, date(2026, 11, 2)),
    )
    local = (await cur.fetchone())[0]
    if qbo_id is not None:
        await map_document(conn, t, "bill", "Bill", local, qbo_id)
        t.bills[qbo_id] = local
    return local


async def map_document(conn: psycopg.AsyncConnection, t: Tenant, entity_type: str, qbo_entity: str, local: int, qbo_id: str) -> None:
    await conn.execute(
        "insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id) values (%s, %s, %s, %s, %s, %s)",
        (t.company_id, entity_type, str(local), t.realm_id, qbo_entity, qbo_id),
    )


async def payment_rows(conn: psycopg.AsyncConnection, t: Tenant, kind: str = "invoice") -> list[tuple]:
    if kind == "invoice":
        q = (
            "select invoice_id, qbo_payment_id, amount, paid_on, method, reference, voided_at is not null"
            " from invoice_payments where company_id = %s order by qbo_payment_id, invoice_id"
        )
    else:
        q = (
            "select bill_id, qbo_bill_payment_id, amount, paid_on, method, reference, voided_at is not null"
            " from bill_payments where company_id = %s order by qbo_bill_payment_id, bill_id"
        )
    cur = await conn.execute(q, (t.company_id,))
    return [tuple(r) for r in await cur.fetchall()]


@pytest.fixture
def inbound_dsn(stack: StackStatus) -> str:
    """DSN of the stack's migrated Bottleneck database (the inbound code is async: tests open their own
    async connections rather than use the sync ``pg_conn``)."""
    return stack.postgres_dsn


class WebhookCatcher:
    """A plain HTTP endpoint that records what the sandbox POSTs (raw headers and body) and answers 200.
    The inbound code then gets exactly the bytes and signature Intuit's servers would send."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.cond:
                    outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/qbo"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(
        self, pred: Callable[[list[tuple[dict[str, str], bytes]]], bool], timeout: float = 10.0
    ) -> list[tuple[dict[str, str], bytes]]:
        """Wait until ``pred(calls)`` holds (a condition, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"webhooks received so far: {[b for _, b in self.calls]}")
                self.cond.wait(left)
            return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def mentions(entity: str, entity_id: str, operation: str) -> Callable[[list[tuple[dict[str, str], bytes]]], bool]:
    """Predicate: some received webhook names this change (either format)."""
    ce_type = f"qbo.{entity.lower()}.{ {'Create': 'created', 'Update': 'updated', 'Delete': 'deleted', 'Void': 'voided'}[operation] }.v1"

    def named(body: bytes) -> bool:
        doc = json.loads(body)
        if isinstance(doc, list):
            return any(e.get("type") == ce_type and e.get("intuitentityid") == entity_id for e in doc)
        return any(
            (e["name"], e["id"], e["operation"]) == (entity, entity_id, operation)
            for note in doc["eventNotifications"]
            for e in note["dataChangeEvent"]["entities"]
        )

    return lambda calls: any(named(body) for _, body in calls)
