"""Customers and vendors (QBO name lists: deleted ones become Active:false)."""

from __future__ import annotations

import uuid
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.customers import customer_to_qbo, vendor_to_qbo
from streams.engine.processor import Processor
from streams.processors._common import insert


class CustomerProcessor(Processor[bn.Customer]):
    entity_type = "customer"
    qbo_entity = "Customer"
    table = "customers"
    model = bn.Customer
    sources = {"customers": "id"}
    natural_key = "DisplayName"
    on_delete = "deactivate"

    def map(self, doc: bn.Customer, refs: Refs) -> dict[str, Any]:
        return customer_to_qbo(doc)

    async def sample(self, conn: Any, company_id: int) -> int:
        return await insert(
            conn,
            "insert into customers (company_id, name, email, billing_address) values (%s, %s, %s, %s::jsonb)",
            (company_id, f"Customer {uuid.uuid4().hex[:8]}", "ap@example.test", '{"line1": "1 Main St", "city": "Springfield"}'),
        )

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update customers set notes = coalesce(notes, '') || 'x', updated_at = now() where id = %s", (local_id,))


class VendorProcessor(Processor[bn.Vendor]):
    entity_type = "vendor"
    qbo_entity = "Vendor"
    table = "vendors"
    model = bn.Vendor
    sources = {"vendors": "id"}
    natural_key = "DisplayName"
    on_delete = "deactivate"

    def map(self, doc: bn.Vendor, refs: Refs) -> dict[str, Any]:
        return vendor_to_qbo(doc)

    async def sample(self, conn: Any, company_id: int) -> int:
        return await insert(
            conn,
            "insert into vendors (company_id, name, phone) values (%s, %s, %s)",
            (company_id, f"Vendor {uuid.uuid4().hex[:8]}", "555-0100"),
        )

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update vendors set notes = coalesce(notes, '') || 'x', updated_at = now() where id = %s", (local_id,))
