"""Small helpers shared by the built-in processors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from streams.engine.docref import DocRef


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
