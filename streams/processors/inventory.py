"""Inventory quantities: InventoryAdjustments that bring QBO's QtyOnHand to Bottleneck's.

Per lot (target: lots.quantity_on_hand) and per canonical item (target: 0, since real stock lives in
lots). Re-checked when a lot changes (Bottleneck updates lots in the transaction that completes a ship
or receive job) and after an invoice or bill posts (QBO moves stock itself). The requestid derives from
(item, QBO quantity, target), so a retry of the same correction is never applied twice, and a replay
that finds the quantities equal makes no write.
"""

from __future__ import annotations

from abc import abstractmethod
from decimal import Decimal
from typing import Any, ClassVar

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.inventory import quantity_adjustment
from streams.engine.docref import DocRef
from streams.engine.processor import Adjustment, AdjustmentProcessor, QboState
from streams.processors._common import dep


class _QuantityProcessor(AdjustmentProcessor[Any]):
    qbo_entity = "InventoryAdjustment"
    natural_key = None
    on_delete = "ignore"
    create_only = ()
    item_entity: ClassVar[str]  # whose QBO item holds the quantity

    @abstractmethod
    def target(self, doc: Any) -> Decimal:
        """The quantity QBO should hold."""

    async def adjustment(self, doc: Any, refs: Refs, qbo: QboState) -> Adjustment | None:
        item_id = refs.qbo_id(self.item_entity, doc.id)
        item = await qbo.read("Item", item_id)
        qbo_qty = Decimal(str(item.get("QtyOnHand", 0)))
        target = self.target(doc)
        body = quantity_adjustment(
            item_qbo_id=item_id,
            qbo_qty=qbo_qty,
            target_qty=target,
            adjust_account=refs.accounts.adjustment,
            txn_date=qbo.today(),
            note=f"Bottleneck {self.item_entity} {doc.id}: quantity {qbo_qty} -> {target}",
        )
        if body is None:
            return None
        return Adjustment(body, ("adjust", item_id, qbo_qty.normalize(), target.normalize()))


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


class ItemQuantityProcessor(_QuantityProcessor):
    entity_type = "item_quantity"
    table = "items"
    model = bn.Item
    sources = {}  # only a follow-up of invoices and bills
    item_entity = "item"

    def is_publishable(self, doc: bn.Item) -> bool:
        return doc.kind == "inventory"

    def target(self, doc: bn.Item) -> Decimal:
        return Decimal(0)  # the canonical item holds no stock: lots do

    def dependencies(self, doc: bn.Item) -> list[DocRef]:
        return [dep("item", doc.id)]
