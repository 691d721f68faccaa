"""Customers and vendors."""

from __future__ import annotations

import uuid

from tests.conformance.samples.base import Conn, Sample, insert, touching


async def customer(conn: Conn, company_id: int) -> int:
    return await insert(
        conn,
        "insert into customers (company_id, name, email, billing_address) values (%s, %s, %s, %s::jsonb)",
        (company_id, f"Customer {uuid.uuid4().hex[:8]}", "ap@example.test", '{"line1": "1 Main St", "city": "Springfield"}'),
    )


async def vendor(conn: Conn, company_id: int) -> int:
    return await insert(
        conn,
        "insert into vendors (company_id, name, phone) values (%s, %s, %s)",
        (company_id, f"Vendor {uuid.uuid4().hex[:8]}", "555-0100"),
    )


SAMPLES = {
    "customer": Sample(customer, touching("update customers set notes = coalesce(notes, '') || 'x', updated_at = now() where id = %s")),
    "vendor": Sample(vendor, touching("update vendors set notes = coalesce(notes, '') || 'x', updated_at = now() where id = %s")),
}
