"""Items: the Category of a tracked item, the item itself (NonInventory / Service / canonical Inventory), lots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mappers import bottleneck as bn
from mappers.common import Refs
from mappers.items import CREATE_ONLY, category_to_qbo, item_to_qbo, lot_to_qbo
from streams.engine.docref import DocRef
from streams.engine.ports import Snapshot
from streams.engine.processor import Processor
from streams.processors._common import dep, lines_by_parent, name_suffix, named_rows


class ItemCategoryProcessor(Processor[bn.Item]):
    """QBO allows only a Category as a parent: a tracked item's canonical item and lots live under one."""

    entity_type = "item_category"
    qbo_entity = "Item"
    table = "items"
    model = bn.Item
    sources = {"items": "id"}
    natural_key = "Name"
    on_delete = "deactivate"
    create_only = ()

    async def load(self, db: Snapshot, local_id: int) -> bn.Item | None:
        row = await db.one("select * from items where id = %s", (local_id,))
        return bn.Item.model_validate(row | {"name_suffix": await name_suffix(db, "items", row)}) if row else None

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.Item]:
        return {i: bn.Item.model_validate(row) for i, row in (await named_rows(db, "items", local_ids)).items()}

    def is_publishable(self, doc: bn.Item) -> bool:
        return doc.kind == "inventory"

    def map(self, doc: bn.Item, refs: Refs) -> dict[str, Any]:
        return category_to_qbo(doc)


class ItemProcessor(Processor[bn.ItemWithLots]):
    entity_type = "item"
    qbo_entity = "Item"
    table = "items"
    model = bn.ItemWithLots
    sources = {"items": "id"}
    natural_key = "Name"
    on_delete = "deactivate"
    create_only = CREATE_ONLY

    async def load(self, db: Snapshot, local_id: int) -> bn.ItemWithLots | None:
        row = await db.one("select * from items where id = %s", (local_id,))
        if row is None:
            return None
        lots = await db.all("select id from lots where item_id = %s order by id", (local_id,))
        suffix = await name_suffix(db, "items", row)
        return bn.ItemWithLots.model_validate(row | {"lot_ids": [r["id"] for r in lots], "name_suffix": suffix})

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, bn.ItemWithLots]:
        rows = await named_rows(db, "items", local_ids)
        lots = await lines_by_parent(db, "select item_id as _parent, id from lots where item_id = any(%s) order by item_id, id", list(rows))
        return {i: bn.ItemWithLots.model_validate(row | {"lot_ids": [r["id"] for r in lots.get(i, [])]}) for i, row in rows.items()}

    async def after_sync(self, doc: bn.ItemWithLots, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        # a renamed or deactivated item renames / deactivates its lot items too
        return [dep("lot", lot_id) for lot_id in doc.lot_ids]

    def dependencies(self, doc: bn.Item) -> list[DocRef]:
        return [dep("item_category", doc.id)] if doc.kind == "inventory" else []

    def map(self, doc: bn.Item, refs: Refs) -> dict[str, Any]:
        return item_to_qbo(doc, refs)


class LotProcessor(Processor[bn.LotWithItem]):
    entity_type = "lot"
    qbo_entity = "Item"
    table = "lots"
    model = bn.LotWithItem
    sources = {"lots": "id"}
    natural_key = "Name"
    on_delete = "deactivate"
    create_only = CREATE_ONLY

    async def load(self, db: Snapshot, local_id: int) -> bn.LotWithItem | None:
        lot = await db.one("select * from lots where id = %s", (local_id,))
        if lot is None:
            return None
        item = await db.one("select * from items where id = %s", (lot["item_id"],))
        assert item is not None, "lots.item_id references items"
        named = bn.Item.model_validate(item | {"name_suffix": await name_suffix(db, "items", item)})
        return bn.LotWithItem(lot=bn.Lot.model_validate(lot), item=named)

    def dependencies(self, doc: bn.LotWithItem) -> list[DocRef]:
        return [dep("item_category", doc.item.id)]

    def matches(self, doc: bn.LotWithItem, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        return candidate.get("Sku") in (None, payload.get("Sku"))

    def map(self, doc: bn.LotWithItem, refs: Refs) -> dict[str, Any]:
        return lot_to_qbo(doc, refs)
