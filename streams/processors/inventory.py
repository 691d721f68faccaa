"""Inventory quantities: InventoryAdjustments that bring QBO's QtyOnHand to Bottleneck's.

Per lot (target: lots.quantity_on_hand) and per canonical item (target: 0, since real stock lives in
lots). Re-checked when a lot changes (Bottleneck updates lots in the transaction that completes a ship
or receive job) and after an invoice or bill posts (QBO moves stock itself). The requestid derives from
(item, QBO quantity, target), so a retry of the same correction is never applied twice, and a replay
that finds the quantities equal makes no write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.inventory import quantity_adjustment
from sinks.qbo.writer import Writer, WriteResult
from streams.engine.docref import DocRef
from streams.engine.processor import Processor
from streams.processors._common import dep
from streams.processors.items import sample_item, sample_lot


class _QuantityProcessor(Processor[Any]):
    qbo_entity = "InventoryAdjustment"
    item_entity: str  # whose QBO item holds the quantity

    def target(self, doc: Any) -> Decimal:
        raise NotImplementedError

    def map(self, doc: Any, refs: Refs) -> dict[str, Any]:
        raise NotImplementedError("quantity processors write through write(): the adjustment depends on QBO's quantity")

    def is_removed(self, doc: Any) -> bool:
        return False

    async def write(self, writer: Writer, doc: Any, refs: Refs) -> WriteResult:
        item_id = refs.qbo_id(self.item_entity, doc.id)
        item = await writer.qbo.read(writer.realm_id, "Item", item_id)
        qbo_qty = Decimal(str(item.get("QtyOnHand", 0)))
        target = self.target(doc)
        body = quantity_adjustment(
            item_qbo_id=item_id,
            qbo_qty=qbo_qty,
            target_qty=target,
            adjust_account=refs.accounts.adjustment,
            txn_date=writer.today(),
            note=f"Bottleneck {self.item_entity} {doc.id}: quantity {qbo_qty} -> {target}",
        )
        if body is None:
            return WriteResult("none", None)
        return await writer.create_once("InventoryAdjustment", body, "adjust", item_id, qbo_qty.normalize(), target.normalize())


class LotQuantityProcessor(_QuantityProcessor):
    entity_type = "lot_quantity"
    table = "lots"
    model = bn.Lot
    sources = {"lots": "id"}
    item_entity = "lot"

    def target(self, doc: bn.Lot) -> Decimal:
        return doc.quantity_on_hand

    def dependencies(self, doc: bn.Lot) -> list[DocRef]:
        return [dep("lot", doc.id)]

    async def sample(self, conn: Any, company_id: int) -> int:
        return await sample_lot(conn, company_id)

    async def touch(self, conn: Any, local_id: int) -> None:
        await conn.execute("update lots set quantity_on_hand = quantity_on_hand - 1, updated_at = now() where id = %s", (local_id,))


class ItemQuantityProcessor(_QuantityProcessor):
    entity_type = "item_quantity"
    table = "items"
    model = bn.Item
    sources = {}
    item_entity = "item"

    def is_publishable(self, doc: bn.Item) -> bool:
        return doc.kind == "inventory"

    def target(self, doc: bn.Item) -> Decimal:
        return Decimal(0)  # the canonical item holds no stock: lots do

    def dependencies(self, doc: bn.Item) -> list[DocRef]:
        return [dep("item", doc.id)]

    async def sample(self, conn: Any, company_id: int) -> int:
        return await sample_item(conn, company_id)
