"""The shared conformance suite (tests/conformance/suite.py), run for every registered processor
against real Postgres and the QBO sandbox over HTTP. A new processor in the registry is tested here with
no new test code."""

from __future__ import annotations

import pytest

from streams.processors.registry import REGISTRY
from tests.conformance import suite as conformance
from tests.integration.sync_support import *  # noqa: F403
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("entity_type", "check"), conformance.cases(REGISTRY), ids=lambda v: str(v))
async def test_processor_conforms(entity_type: str, check: str, env: Env) -> None:
    await conformance.run(REGISTRY, entity_type, check, env)


def test_every_registered_processor_has_the_core_checks() -> None:
    cases = set(conformance.cases(REGISTRY))
    for p in REGISTRY:
        for check in ("duplicate_events", "replay", "child_before_parent", "rate_limited"):
            assert (p.entity_type, check) in cases
