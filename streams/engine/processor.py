"""The extension point: one ``Processor`` subclass per Bottleneck document type that goes to QBO.

A processor declares what it syncs (class attributes) and implements ONE method, ``map(doc, refs)``:
a pure function from the typed Bottleneck document to the QBO JSON body. The engine owns everything
else (reading a consistent state, drafts, dependencies, id map, payload hash, requestid, SyncToken,
retries, parking). The optional hooks below have defaults that fit ordinary documents.

Minimal example (see README "Adding a stream processor")::

    class VendorProcessor(Processor[bn.Vendor]):
        entity_type = "vendor"
        qbo_entity = "Vendor"
        table = "vendors"
        model = bn.Vendor
        natural_key = "DisplayName"
        on_delete = "deactivate"

        def map(self, doc, refs):
            return vendor_to_qbo(doc)

and one line in ``streams/processors/registry.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel

from mappers.common import Refs
from streams.engine.docref import DocRef

if TYPE_CHECKING:
    import psycopg

    from sinks.qbo.writer import Writer, WriteResult
    from streams.engine.source import Snapshot

DocT = TypeVar("DocT", bound=BaseModel)
OnDelete = Literal["void", "delete", "deactivate", "ignore"]


class Processor(Generic[DocT]):
    # --- what it syncs ---------------------------------------------------------------------------
    entity_type: ClassVar[str]  # DocRef.entity_type, e.g. "invoice"
    qbo_entity: ClassVar[str]  # QBO entity name, e.g. "Invoice"
    table: ClassVar[str]  # header table holding the document (and its company_id)
    model: ClassVar[type[BaseModel]]  # typed row model of the header
    # How rows of each source table find this document: table -> column holding the document id.
    # The router (streams/engine/router.py) applies the same mapping; it is here as documentation
    # and for the conformance suite.
    sources: ClassVar[Mapping[str, str]] = {}
    natural_key: ClassVar[str | None] = None  # QBO field users search by (DisplayName, DocNumber, Name)
    on_delete: ClassVar[OnDelete] = "ignore"  # what a deleted/voided/cancelled document does in QBO
    create_only: ClassVar[tuple[str, ...]] = ()  # fields sent on create only (and left out of the hash)

    # --- the one required method ----------------------------------------------------------------
    def map(self, doc: DocT, refs: Refs) -> dict[str, Any]:
        """The QBO JSON body for ``doc``. Pure: look up QBO ids of dependencies through ``refs``."""
        raise NotImplementedError

    # --- optional hooks (defaults fit ordinary documents) ----------------------------------------
    async def load(self, db: Snapshot, local_id: int) -> DocT | None:
        """The document's current state, or None if it no longer exists. ``db`` is one snapshot:
        read header and lines through it so they are consistent."""
        row = await db.one(f"select * from {self.table} where id = %s", (local_id,))
        return self.model.model_validate(row) if row else None  # type: ignore[return-value]

    def is_publishable(self, doc: DocT) -> bool:
        """False keeps the document out of QBO for now (drafts)."""
        return getattr(doc, "status", None) != "draft"

    def is_removed(self, doc: DocT) -> bool:
        """True when the document should be voided/deleted in QBO (``on_delete``)."""
        return getattr(doc, "status", None) in ("void", "cancelled")

    def dependencies(self, doc: DocT) -> list[DocRef]:
        """Documents that must be in QBO before this one (synced first through the same path)."""
        return []

    def line_ids(self, doc: DocT) -> list[int]:
        """Bottleneck line ids in the order ``map`` emits lines. The engine records QBO's line Id for
        each, so updates change lines in place (a Bill line's link to a PurchaseOrder line survives an
        edit of the PO). Default: ``doc.lines`` ordered by ``line_no``, as the built-in mappers emit them."""
        lines = getattr(doc, "lines", None) or []
        return [ln.id for ln in sorted(lines, key=lambda ln: ln.line_no)]

    def matches(self, doc: DocT, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        """Whether a QBO object found by natural key is this document (to adopt it instead of creating)."""
        return True

    async def write(self, writer: Writer, doc: DocT, refs: Refs) -> WriteResult:
        """How the document reaches QBO. Default: upsert ``map``'s body (hash check, lookup, create or
        sparse update). Override for append-only effects such as inventory adjustments."""
        return await writer.upsert(self.map(doc, refs))

    async def after_sync(self, doc: DocT, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        """Documents to sync after this one was written (e.g. lot quantities after an invoice posts)."""
        return []

    # --- conformance suite factory ---------------------------------------------------------------
    async def sample(self, conn: psycopg.AsyncConnection[Any], company_id: int) -> int:
        """Insert one publishable document (and what it needs) with SQL; return its local id."""
        raise NotImplementedError(f"{type(self).__name__} has no sample() for the conformance suite")

    async def touch(self, conn: psycopg.AsyncConnection[Any], local_id: int) -> None:
        """Change a Bottleneck-owned field of the document (for the conformance suite)."""
        raise NotImplementedError(f"{type(self).__name__} has no touch() for the conformance suite")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.entity_type}->{self.qbo_entity}>"
