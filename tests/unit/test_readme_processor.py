"""The README's worked example (a `carriers` table synced as QBO vendors) fits the processor contract:
executed from the README itself (tests/fixtures/readme_example.py), without services."""

from __future__ import annotations

from typing import Any

import pytest

from mappers.common import AccountRefs, StaticRefs
from streams.engine.processor import Processor, ProcessorDefinitionError
from streams.engine.registry import Registry
from streams.engine.router import route
from streams.processors.registry import REGISTRY
from tests.fixtures.readme_example import example

REFS = StaticRefs(accounts=AccountRefs(income="1", cogs="2", asset="3", ap="4", adjustment="5"))


def test_the_guides_processor_is_a_valid_processor() -> None:
    carrier = example()["CarrierProcessor"]
    assert issubclass(carrier, Processor) and carrier.entity_type == "carrier"
    assert carrier.removable() and not carrier.has_drafts() and not carrier.append_only


def test_the_guides_mapping_makes_a_qbo_vendor() -> None:
    ex = example()
    row = ex["Carrier"](id=5, company_id=1, name=" Fast Freight ", phone="555-0199")
    assert ex["CarrierProcessor"]().map(row, REFS) == {
        "DisplayName": "Fast Freight",
        "PrimaryPhone": {"FreeFormNumber": "555-0199"},
        "Active": True,
    }


def test_a_carriers_event_routes_to_the_guides_processor() -> None:
    registry = Registry([*REGISTRY, example()["CarrierProcessor"]()])
    (ref,) = route("carriers", "u", None, {"id": 5, "company_id": 1}, registry)
    assert (ref.entity_type, ref.local_id, ref.company_id) == ("carrier", 5, 1)


def test_sources_without_the_header_table_fail_at_definition() -> None:
    base: Any = example()["CarrierProcessor"]
    with pytest.raises(ProcessorDefinitionError, match="processor Broken has sources"):

        class Broken(base):
            sources = {"carrier_contacts": "carrier_id"}  # noqa: RUF012
