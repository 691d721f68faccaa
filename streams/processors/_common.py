"""Small helpers shared by the built-in processors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def _taken(table: str, alias: str = "r") -> str:
    """SQL: row ``alias`` of ``table`` shares its name with a row that keeps the plain name."""
    same = f"o.company_id = {alias}.company_id and lower(btrim(o.name)) = lower(btrim({alias}.name))"
    taken = f"exists (select 1 from {table} o where {same} and o.id < {alias}.id)"
    if table == "vendors":
        taken += f" or exists (select 1 from customers o where {same})"
    return f"({taken})"


def _suffix(table: str, row: Mapping[str, Any], taken: bool) -> str | None:
    if not taken:
        return None
    return f"SKU {str(row['sku']).strip()}" if table == "items" else f"{table[:-1]} {row['id']}"


async def name_suffix(db: Snapshot, table: str, row: Mapping[str, Any]) -> str | None:
    """The suffix that gives this row a QBO name of its own, or None for the plain name (README, "Names in
    QuickBooks"): among same-named rows of a company the lowest id keeps the plain name; the others are
    ``name (customer 42)``, ``name (vendor 7)``, ``name (SKU W-2)``. DisplayName is one name space across
    customers and vendors in QBO: a vendor named like a customer of the company takes the suffix."""
    found = await db.one(f"select {_taken(table)} as taken from {table} r where r.id = %s", (row["id"],))
    return _suffix(table, row, bool(found and found["taken"]))


async def named_rows(db: Snapshot, table: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Rows ``ids`` of ``table`` with their ``name_suffix`` (as ``name_suffix`` gives it), in one query."""
    rows = await db.all(f"select r.*, {_taken(table)} as _taken from {table} r where r.id = any(%s)", (list(ids),))
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        taken = bool(row.pop("_taken"))
        out[int(row["id"])] = row | {"name_suffix": _suffix(table, row, taken)}
    return out


async def lines_by_parent(db: Snapshot, sql: str, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The lines of many documents in one query: ``sql`` selects them with their parent's id as ``_parent``
    for ``_parent = any(%s)``, ordered by parent and line_no."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in await db.all(sql, (list(ids),)):
        out.setdefault(int(row.pop("_parent")), []).append(row)
    return out
