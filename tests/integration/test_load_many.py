"""Every registered processor's ``load_many`` reads what its ``load`` reads (set-based overrides included),
on the conformance samples in real Postgres: one document, several, and ids that do not exist."""

from __future__ import annotations

import pytest

from streams.engine.docref import DocRef
from streams.processors.registry import REGISTRY
from tests.conformance import samples
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("entity_type", sorted(p.entity_type for p in REGISTRY))
async def test_load_many_reads_what_load_reads(entity_type: str, env: Env) -> None:
    processor = REGISTRY.get(entity_type)
    assert processor is not None
    ids = [await samples.create(entity_type, env.conn, env.company_id) for _ in range(2)]
    # a document synced once (the id map feeds facts such as a sales order's awaiting_link)
    await env.engine.sync(DocRef(company_id=env.company_id, entity_type=entity_type, local_id=ids[0], forced=True))
    async with env.engine.source.snapshot() as db:
        one = {i: await processor.load(db, i) for i in [*ids, 987_654_321]}
        many = await processor.load_many(db, [*ids, 987_654_321])
    assert many == {i: doc for i, doc in one.items() if doc is not None}
    assert set(many) == set(ids)
