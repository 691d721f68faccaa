"""The extension point: one ``Processor`` subclass per Bottleneck document type that goes to QBO.

A processor declares what it syncs (eight class attributes, every one required and checked when the
class is defined) and implements ONE method, ``map(doc, refs)``: a pure function from the typed
Bottleneck document to the QBO JSON body. The engine owns everything else (reading a consistent state,
drafts, dependencies, id map, payload hash, requestid, SyncToken, retries, parking). The optional hooks
have defaults that fit ordinary documents. Methods marked ``@final`` belong to the framework.

Minimal example (the README's "Adding a stream processor" walks through it)::

    class VendorProcessor(Processor[bn.Vendor]):
        entity_type = "vendor"
        qbo_entity = "Vendor"
        table = "vendors"
        model = bn.Vendor
        sources = {"vendors": "id"}
        natural_key = "DisplayName"
        on_delete = "deactivate"
        create_only = ()

        def map(self, doc: bn.Vendor, refs: Refs) -> dict[str, Any]:
            return vendor_to_qbo(doc)

and one line in ``streams/processors/registry.py``.

Append-only effects (inventory adjustments: the body depends on QBO's current state and every write is a
new object) subclass ``AdjustmentProcessor`` and implement ``adjustment`` instead of ``map``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, final, get_args

from pydantic import BaseModel

from mappers.common import Refs
from streams.engine.docref import DocRef
from streams.engine.ports import Snapshot

DocT = TypeVar("DocT", bound=BaseModel)
OnDelete = Literal["void", "delete", "deactivate", "ignore"]
ON_DELETE: tuple[str, ...] = get_args(OnDelete)


class ProcessorDefinitionError(TypeError):
    """A processor class is incomplete or inconsistent; raised when its module is imported."""


def _is_str(v: object) -> bool:
    return isinstance(v, str) and bool(v)


def _is_model(v: object) -> bool:
    return isinstance(v, type) and issubclass(v, BaseModel)


def _is_sources(v: object) -> bool:
    return isinstance(v, Mapping) and all(_is_str(k) and _is_str(c) for k, c in v.items())


def _is_key(v: object) -> bool:
    return v is None or _is_str(v)


def _is_on_delete(v: object) -> bool:
    return v in ON_DELETE


def _is_fields(v: object) -> bool:
    return isinstance(v, tuple) and all(_is_str(f) for f in v)


# attribute -> (check, what it must be): the declarations every concrete processor spells out
_REQUIRED = {
    "entity_type": (_is_str, 'a non-empty str (the DocRef entity type, e.g. "invoice")'),
    "qbo_entity": (_is_str, 'a non-empty str (the QBO entity name, e.g. "Invoice")'),
    "table": (_is_str, "a non-empty str (the header table holding the document and its company_id)"),
    "model": (_is_model, "a pydantic model class (the typed row of the header)"),
    "sources": (_is_sources, 'a mapping of source table -> column holding the document id (e.g. {"vendors": "id"})'),
    "natural_key": (_is_key, "a QBO field name, or None when QBO has no field to find the object by"),
    "on_delete": (_is_on_delete, f"one of {', '.join(ON_DELETE)}"),
    "create_only": (_is_fields, "a tuple of QBO field names (() for none)"),
}
# Framework-owned: a processor must not redefine them.
_FRAMEWORK = ("append_only", "line_ids", "has_lines", "removable", "has_drafts")


class Processor(ABC, Generic[DocT]):
    # --- what it syncs (all required) ------------------------------------------------------------
    entity_type: ClassVar[str]  # DocRef.entity_type, e.g. "invoice"
    qbo_entity: ClassVar[str]  # QBO entity name, e.g. "Invoice"
    table: ClassVar[str]  # header table holding the document (and its company_id)
    model: ClassVar[type[BaseModel]]  # typed row model of the header
    # Which rows trigger a sync: source table -> column holding the document id ("id" for the header
    # table, the parent's id for a line table). The router reads it; {} for a processor that only runs
    # as another's dependency or follow-up.
    sources: ClassVar[Mapping[str, str]]
    natural_key: ClassVar[str | None]  # QBO field users search by (DisplayName, DocNumber, Name), or None
    on_delete: ClassVar[OnDelete]  # what a deleted/voided/cancelled document does in QBO
    create_only: ClassVar[tuple[str, ...]]  # fields sent on create only (and left out of the hash)

    # --- capability, set by the framework's base classes -----------------------------------------
    append_only: ClassVar[bool] = False  # every write is a new QBO object (AdjustmentProcessor)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owned = [name for name in _FRAMEWORK if name in vars(cls) and cls.__module__ != __name__]
        if owned:
            raise ProcessorDefinitionError(f"processor {cls.__name__} redefines {', '.join(owned)}, which the framework owns")
        if any(getattr(getattr(cls, name, None), "__isabstractmethod__", False) for name in dir(cls)):
            return  # an intermediate base (e.g. AdjustmentProcessor): checked in its concrete subclasses
        for name, (ok, what) in _REQUIRED.items():
            if not hasattr(cls, name):
                raise ProcessorDefinitionError(f"processor {cls.__name__} does not declare {name}: it must be {what}")
            if not ok(getattr(cls, name)):
                raise ProcessorDefinitionError(f"processor {cls.__name__} has {name} = {getattr(cls, name)!r}: it must be {what}")
        if cls.sources and cls.sources.get(cls.table) != "id":
            raise ProcessorDefinitionError(
                f"processor {cls.__name__} has sources {dict(cls.sources)!r} without its header table: "
                f'add "{cls.table}": "id" (its own rows must trigger it), or leave sources empty if it only runs as a dependency'
            )
        if cls.append_only and cls.on_delete != "ignore":
            raise ProcessorDefinitionError(f"processor {cls.__name__} is append-only: its on_delete must be 'ignore'")

    # --- the one required method ----------------------------------------------------------------
    @abstractmethod
    def map(self, doc: DocT, refs: Refs) -> dict[str, Any]:
        """The QBO JSON body for ``doc``. Pure: look up QBO ids of dependencies through ``refs``."""

    # --- optional hooks (defaults fit ordinary documents) ----------------------------------------
    async def load(self, db: Snapshot, local_id: int) -> DocT | None:
        """The document's current state, or None if it no longer exists. ``db`` is one snapshot:
        read header and lines through it so they are consistent."""
        row = await db.one(f"select * from {self.table} where id = %s", (local_id,))
        return self.model.model_validate(row) if row else None  # type: ignore[return-value]

    async def load_many(self, db: Snapshot, local_ids: Sequence[int]) -> dict[int, DocT]:
        """``load`` for many documents from one snapshot (the engine's batches): id -> document, a missing
        id absent. The default asks ``load`` for each; override it with set-based reads (``= any(%s)``)
        when one document costs several queries."""
        if type(self).load is Processor.load:  # the default load: the same read, set-based
            rows = await db.all(f"select * from {self.table} where id = any(%s)", (list(local_ids),))
            return {int(r["id"]): self.model.model_validate(r) for r in rows}  # type: ignore[misc]
        found: dict[int, DocT] = {}
        for local_id in dict.fromkeys(local_ids):
            doc = await self.load(db, local_id)
            if doc is not None:
                found[local_id] = doc
        return found

    def is_publishable(self, doc: DocT) -> bool:
        """False keeps the document out of QBO for now (drafts)."""
        return getattr(doc, "status", None) != "draft"

    def is_removed(self, doc: DocT) -> bool:
        """True when the document should be voided/deleted in QBO (``on_delete``)."""
        return getattr(doc, "status", None) in ("void", "cancelled")

    def dependencies(self, doc: DocT) -> list[DocRef]:
        """Documents that must be in QBO before this one (synced first through the same path)."""
        return []

    def matches(self, doc: DocT, payload: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
        """Whether a QBO object found by natural key is this document (to adopt it instead of creating)."""
        return True

    async def after_sync(self, doc: DocT, qbo_object: Mapping[str, Any]) -> list[DocRef]:
        """Documents to sync after this one was written (e.g. lot quantities after an invoice posts)."""
        return []

    # --- framework-owned ---------------------------------------------------------------------------
    @final
    def line_ids(self, doc: DocT) -> list[int]:
        """Bottleneck line ids in the order ``map`` emits lines (``doc.lines`` by ``line_no``). The writer
        records QBO's line Id for each, so updates change lines in place (a Bill line's link to a
        PurchaseOrder line survives an edit of the PO)."""
        lines = getattr(doc, "lines", None) or []
        return [ln.id for ln in sorted(lines, key=lambda ln: ln.line_no)]

    @final
    @classmethod
    def has_lines(cls) -> bool:
        """The document has lines (its model has a ``lines`` field)."""
        return "lines" in cls.model.model_fields

    @final
    @classmethod
    def has_drafts(cls) -> bool:
        """The document has a status, so it can be a draft."""
        return "status" in cls.model.model_fields

    @final
    @classmethod
    def removable(cls) -> bool:
        """A delete in Bottleneck does something in QBO."""
        return cls.on_delete != "ignore"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.entity_type}->{self.qbo_entity}>"


class QboState(Protocol):
    """What an ``AdjustmentProcessor`` may ask of QBO: the realm's current objects, and today's date."""

    async def read(self, entity: str, qbo_id: str) -> Mapping[str, Any]: ...

    def today(self) -> date: ...


@dataclass(frozen=True)
class Adjustment:
    """One append-only QBO object to create. ``key`` says which change it is (e.g. item, QBO quantity,
    target quantity): its requestid derives from it, so a retry of the same change is applied once."""

    payload: Mapping[str, Any]
    key: tuple[object, ...]


class AdjustmentProcessor(Processor[DocT]):
    """A processor whose writes are append-only objects computed from QBO's current state (inventory
    adjustments): implement ``adjustment``; ``map`` does not apply. ``on_delete`` must be ``"ignore"``."""

    append_only = True

    @abstractmethod
    async def adjustment(self, doc: DocT, refs: Refs, qbo: QboState) -> Adjustment | None:
        """The object that brings QBO to Bottleneck's state, or None when QBO already matches."""

    @final
    def map(self, doc: DocT, refs: Refs) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} is append-only: the engine calls adjustment(), not map()")

    @final
    def is_removed(self, doc: DocT) -> bool:
        return False


def public_members(cls: type[Processor[Any]]) -> dict[str, list[str]]:
    """The processor API by who owns it (the README's and the issue's member count)."""
    names = [n for n in dir(cls) if not n.startswith("_")]
    declared = list(_REQUIRED)
    framework = [n for n in names if n in _FRAMEWORK or getattr(inspect.getattr_static(cls, n), "__final__", False)]
    hooks = [n for n in names if n not in declared and n not in framework and inspect.isfunction(getattr(cls, n))]
    return {"declarations": declared, "hooks": hooks, "framework": framework}
