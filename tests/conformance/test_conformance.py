"""The shared conformance suite (tests/conformance/suite.py), run for every registered processor
against real Postgres and the QBO sandbox over HTTP. A new processor in the registry is tested here with
no new test code."""

from __future__ import annotations

import pytest

from streams.processors.registry import REGISTRY
from tests.conformance import samples
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


def test_every_registered_processor_has_a_sample() -> None:
    missing = [p.entity_type for p in REGISTRY if p.entity_type not in samples.SAMPLES]
    assert not missing, f"no conformance sample for {missing}: add one to tests/conformance/samples/ (see its __init__.py)"


def test_a_missing_sample_fails_with_a_sentence() -> None:
    with pytest.raises(LookupError, match=r"no conformance sample for entity type 'nothing'.*tests/conformance/samples/"):
        samples.sample_for("nothing")
