"""Conformance fixtures: for each registered entity type, how to write one publishable document into
Bottleneck with SQL (``create``) and how to change a Bottleneck-owned field of it (``touch``).

They are test code, so they live here and not on the production processors. One module per family;
``SAMPLES`` maps entity_type -> ``Sample``. A registered processor without an entry fails the suite
(``tests/conformance/test_conformance.py``) with a sentence saying where to add it.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.samples import inventory, items, parties, purchasing, sales
from tests.conformance.samples.base import Conn, Sample

__all__ = ["SAMPLES", "Conn", "Sample", "create", "sample_for", "touch"]

SAMPLES: dict[str, Sample] = {**parties.SAMPLES, **items.SAMPLES, **sales.SAMPLES, **purchasing.SAMPLES, **inventory.SAMPLES}


def sample_for(entity_type: str) -> Sample:
    found = SAMPLES.get(entity_type)
    if found is None:
        raise LookupError(
            f"no conformance sample for entity type {entity_type!r}: add a Sample for it to a module in "
            "tests/conformance/samples/ (and to that module's SAMPLES)"
        )
    return found


async def create(entity_type: str, conn: Conn, company_id: int) -> int:
    """Insert one publishable ``entity_type`` document (and what it needs); returns its local id."""
    return await sample_for(entity_type).create(conn, company_id)


async def touch(entity_type: str, conn: Conn, local_id: int) -> Any:
    sample = sample_for(entity_type)
    if sample.touch is None:
        raise LookupError(f"the conformance sample of {entity_type!r} has no touch")
    return await sample.touch(conn, local_id)
