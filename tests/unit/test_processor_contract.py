"""The processor contract (streams/engine/processor.py): a processor that misses a declaration, declares one
of the wrong type, or redefines what the framework owns fails when its class is defined (so at import),
with a sentence naming the class and the attribute."""

from __future__ import annotations

from typing import Any

import pytest

from mappers import bottleneck as bn
from mappers.common import Refs
from streams.engine.processor import Adjustment, AdjustmentProcessor, Processor, ProcessorDefinitionError, QboState, public_members
from streams.processors.inventory import LotQuantityProcessor
from streams.processors.parties import VendorProcessor
from streams.processors.registry import REGISTRY

DECLARATIONS = {
    "entity_type": "vendor2",
    "qbo_entity": "Vendor",
    "table": "vendors",
    "model": bn.Vendor,
    "sources": {"vendors": "id"},
    "natural_key": "DisplayName",
    "on_delete": "deactivate",
    "create_only": (),
}


def _define(base: Any = Processor, **attrs: Any) -> Any:
    def map_(self: Any, doc: Any, refs: Refs) -> dict[str, Any]:
        return {}

    body = {k: v for k, v in {**DECLARATIONS, **attrs}.items() if v is not ...}
    if base is Processor:
        body["map"] = map_
    return type("Thing", (base,), body)


def test_a_complete_processor_is_accepted() -> None:
    assert _define().entity_type == "vendor2"


@pytest.mark.parametrize("missing", list(DECLARATIONS))
def test_every_declaration_is_required(missing: str) -> None:
    with pytest.raises(ProcessorDefinitionError, match=f"processor Thing does not declare {missing}: it must be"):
        _define(**{missing: ...})


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("entity_type", ""),
        ("model", dict),
        ("sources", ["vendors"]),
        ("natural_key", 3),
        ("on_delete", "archive"),
        ("create_only", ["Sku"]),
    ],
)
def test_a_declaration_of_the_wrong_type_is_refused(attr: str, value: Any) -> None:
    with pytest.raises(ProcessorDefinitionError, match=f"processor Thing has {attr} = "):
        _define(**{attr: value})


def test_natural_key_may_be_none_but_must_be_said() -> None:
    assert _define(natural_key=None).natural_key is None


def test_sources_must_include_the_header_table_or_be_empty() -> None:
    with pytest.raises(ProcessorDefinitionError, match='without its header table: add "vendors": "id"'):
        _define(sources={"vendor_contacts": "vendor_id"})
    assert _define(sources={}).sources == {}


def test_map_is_the_one_abstract_method() -> None:
    assert Processor.__abstractmethods__ == frozenset({"map"})
    with pytest.raises(TypeError, match=r"abstract method.*map"):
        type("NoMap", (Processor,), dict(DECLARATIONS))()


def test_the_framework_owns_its_members() -> None:
    with pytest.raises(ProcessorDefinitionError, match="processor Thing redefines append_only, which the framework owns"):
        _define(append_only=True)
    with pytest.raises(ProcessorDefinitionError, match="redefines line_ids"):
        _define(line_ids=lambda self, doc: [])


def test_an_append_only_processor_implements_adjustment_and_never_removes() -> None:
    assert AdjustmentProcessor.__abstractmethods__ == frozenset({"adjustment"})

    async def adjustment(self: Any, doc: Any, refs: Refs, qbo: QboState) -> Adjustment | None:
        return None

    adjusts = _define(AdjustmentProcessor, adjustment=adjustment, qbo_entity="InventoryAdjustment", on_delete="ignore")
    assert adjusts.append_only and not adjusts.removable()
    with pytest.raises(ProcessorDefinitionError, match="is append-only: its on_delete must be 'ignore'"):
        _define(AdjustmentProcessor, adjustment=adjustment, on_delete="void")
    with pytest.raises(TypeError, match="append-only"):
        LotQuantityProcessor().map(None, None)  # type: ignore[arg-type]


def test_capabilities_come_from_the_declarations() -> None:
    by_type = {p.entity_type: p for p in REGISTRY}
    assert by_type["invoice"].has_lines() and by_type["invoice"].has_drafts() and by_type["invoice"].removable()
    assert not by_type["customer"].has_lines() and not by_type["customer"].has_drafts()
    assert by_type["lot_quantity"].append_only and not by_type["lot_quantity"].removable()


def test_the_processor_api_surface() -> None:
    """19 members before (8 attributes, 9 hooks, sample/touch); now 8 declarations and 6 optional hooks
    around the one abstract ``map``, and the framework's final members."""
    members = public_members(VendorProcessor)
    assert members["declarations"] == list(DECLARATIONS)
    assert sorted(members["hooks"]) == ["after_sync", "dependencies", "is_publishable", "is_removed", "load", "load_many", "map", "matches"]
    assert sorted(members["framework"]) == ["append_only", "has_drafts", "has_lines", "line_ids", "removable"]
