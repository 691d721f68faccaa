"""Customers and vendors (QBO name lists: deleted ones become Active:false)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.customers import customer_to_qbo, vendor_to_qbo
from streams.engine.ports import Snapshot
from streams.engine.processor import Processor
from streams.processors._common import name_suffix, named_rows


class CustomerProcessor(Processor[bn.Customer]):
    entity_type = "customer"
    qbo_entity = "Customer"
    table = "customers"
    model = bn.Customer
    sources = {"customers": "id"}
    natural_key = "DisplayName"
    on_delete = "deactivate"
    create_only = ()

    async def load(self, db: Snapshot, local_id: int) -> bn.Customer | None:
        row = await db.one("select * from customers where id = %s", (local_id,))
        return bn.Customer.model_validate(row | {"name_suffix": await name_suffix(db, "customers", row)}) if row else None

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.Customer]:
        return {i: bn.Customer.model_validate(row) for i, row in (await named_rows(db, "customers", local_ids)).items()}

    def map(self, doc: bn.Customer, refs: Refs) -> dict[str, Any]:
        return customer_to_qbo(doc)


class VendorProcessor(Processor[bn.Vendor]):
    entity_type = "vendor"
    qbo_entity = "Vendor"
    table = "vendors"
    model = bn.Vendor
    sources = {"vendors": "id"}
    natural_key = "DisplayName"
    on_delete = "deactivate"
    create_only = ()

    async def load(self, db: Snapshot, local_id: int) -> bn.Vendor | None:
        row = await db.one("select * from vendors where id = %s", (local_id,))
        return bn.Vendor.model_validate(row | {"name_suffix": await name_suffix(db, "vendors", row)}) if row else None

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.Vendor]:
        return {i: bn.Vendor.model_validate(row) for i, row in (await named_rows(db, "vendors", local_ids)).items()}

    def map(self, doc: bn.Vendor, refs: Refs) -> dict[str, Any]:
        return vendor_to_qbo(doc)
