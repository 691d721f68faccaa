"""The README's worked example end to end: its migration creates `carriers` in the private Postgres, its
processor joins the registry and its sample joins the conformance samples, and every conformance check
that applies to it passes against the QBO sandbox (tests/fixtures/readme_example.py runs the README)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streams.engine.docref import DocRef
from streams.engine.engine import SyncEngine
from streams.engine.registry import Registry
from streams.processors.registry import REGISTRY
from tests.conformance import samples
from tests.conformance import suite as conformance
from tests.fixtures.readme_example import example, migration
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration

CARRIER = example()["CarrierProcessor"]()
WITH_CARRIER = Registry([*REGISTRY, CARRIER])


async def _with_carriers(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    cur = await env.conn.execute("select to_regclass('carriers') is not null")
    row = await cur.fetchone()
    if not (row and row[0]):
        await env.conn.execute(migration())
    monkeypatch.setattr(samples, "SAMPLES", {**samples.SAMPLES, **example()["SAMPLES"]})
    return dataclasses.replace(env, engine=SyncEngine(env.engine.source, env.qbo, env.idmap, env.parking, WITH_CARRIER))


@pytest.mark.parametrize("check", conformance.applicable(CARRIER))
async def test_the_guides_processor_conforms(check: str, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    await conformance.run(WITH_CARRIER, "carrier", check, await _with_carriers(env, monkeypatch))


async def test_the_guides_carrier_becomes_a_qbo_vendor(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    h: Any = await _with_carriers(env, monkeypatch)
    local_id = await samples.create("carrier", h.conn, h.company_id)
    await h.conn.execute("update carriers set phone = '555-0142' where id = %s", (local_id,))
    out = await h.engine.sync(DocRef(company_id=h.company_id, entity_type="carrier", local_id=local_id))
    assert out.kind.value == "synced" and out.action == "create", out
    vendor = await h.qbo.read(h.realm, "Vendor", out.qbo_id)
    assert vendor["DisplayName"].startswith("Carrier ") and vendor["PrimaryPhone"]["FreeFormNumber"] == "555-0142"
