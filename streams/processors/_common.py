"""Small helpers shared by the built-in processors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from streams.engine.docref import DocRef
from streams.engine.ports import Snapshot


class _Line(Protocol):
    # read-only: the row models are frozen
    @property
    def item_id(self) -> int: ...

    @property
    def lot_id(self) -> int | None: ...


def dep(entity_type: str, local_id: int) -> DocRef:
    # company_id is filled in by the engine (dependencies belong to the document's company)
    return DocRef(company_id=None, entity_type=entity_type, local_id=local_id)


def line_item_deps(lines: Iterable[_Line]) -> list[DocRef]:
    """The QBO items lines point at: the lot's item when the lot is known, else the item."""
    seen: dict[str, DocRef] = {}
    for line in lines:
        ref = dep("lot", line.lot_id) if line.lot_id is not None else dep("item", line.item_id)
        seen.setdefault(ref.key, ref)
    return list(seen.values())


def quantity_refs(lines: Iterable[_Line]) -> list[DocRef]:
    """After QBO posts a document that moves stock, re-check the quantities it moved (Bottleneck is the
    source of truth for quantities)."""
    seen: dict[str, DocRef] = {}
    for line in lines:
        ref = dep("lot_quantity", line.lot_id) if line.lot_id is not None else dep("item_quantity", line.item_id)
        seen.setdefault(ref.key, ref)
    return list(seen.values())


_SAME_NAME = "company_id = %s and lower(btrim(name)) = lower(btrim(%s))"


async def name_suffix(db: Snapshot, table: str, row: Mapping[str, Any]) -> str | None:
    """The suffix that gives this row a QBO name of its own, or None for the plain name (README, "Names in
    QuickBooks"): among same-named rows of a company the lowest id keeps the plain name; the others are
    ``name (customer 42)``, ``name (vendor 7)``, ``name (SKU W-2)``. DisplayName is one name space across
    customers and vendors in QBO: a vendor named like a customer of the company takes the suffix."""
    same = [f"exists (select 1 from {table} where {_SAME_NAME} and id < %s)"]
    params: list[Any] = [row["company_id"], row["name"], row["id"]]
    if table == "vendors":
        same.append(f"exists (select 1 from customers where {_SAME_NAME})")
        params += [row["company_id"], row["name"]]
    found = await db.one(f"select {' or '.join(same)} as taken", params)
    if not (found and found["taken"]):
        return None
    return f"SKU {str(row['sku']).strip()}" if table == "items" else f"{table[:-1]} {row['id']}"
