"""Items, their categories and lots."""

from __future__ import annotations

import uuid

from tests.conformance.samples.base import Conn, Sample, insert, touching


async def item(conn: Conn, company_id: int, kind: str = "inventory") -> int:
    tag = uuid.uuid4().hex[:8]
    return await insert(
        conn,
        "insert into items (company_id, sku, name, kind, sales_price, purchase_cost) values (%s, %s, %s, %s, %s, %s)",
        (company_id, f"SKU-{tag}", f"Item {tag}", kind, "12.5000", "4.2500"),
    )


async def lot(conn: Conn, company_id: int, item_id: int | None = None, qty: str = "25.0000") -> int:
    item_id = item_id or await item(conn, company_id)
    return await insert(
        conn,
        "insert into lots (company_id, item_id, lot_code, quantity_on_hand, unit_cost) values (%s, %s, %s, %s, %s)",
        (company_id, item_id, f"L{uuid.uuid4().hex[:6]}", qty, "3.2500"),
    )


async def _item(conn: Conn, company_id: int) -> int:
    return await item(conn, company_id)


async def _lot(conn: Conn, company_id: int) -> int:
    return await lot(conn, company_id)


SAMPLES = {
    "item_category": Sample(_item, touching("update items set name = name || 'x', updated_at = now() where id = %s")),
    "item": Sample(_item, touching("update items set sales_price = sales_price + 1, updated_at = now() where id = %s")),
    "lot": Sample(_lot, touching("update lots set unit_cost = unit_cost + 1, updated_at = now() where id = %s")),
}
