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


async def test_same_named_rows_get_the_same_names_read_one_by_one_or_many_at_once(env: Env) -> None:
    """The disambiguated names (README, "Names in QuickBooks") are one rule whether a row is read alone or
    in a batch: the lowest id of a name (case and outer spaces ignored) keeps it, the others take a suffix,
    a vendor named like a customer takes one, and another company's rows never count."""
    conn, co = env.conn, env.company_id
    other = (await (await conn.execute("insert into companies (name) values ('Other co') returning id")).fetchone())[0]

    async def row(sql: str, *params: object) -> int:
        return int((await (await conn.execute(sql + " returning id", params)).fetchone())[0])

    await row("insert into customers (company_id, name) values (%s, 'Acme')", other)  # older, other company
    customers = [await row("insert into customers (company_id, name) values (%s, %s)", co, n) for n in ("Acme", " acme ", "ACME", "Solo")]
    vendors = [await row("insert into vendors (company_id, name) values (%s, %s)", co, n) for n in ("acme", "Bolt", "bolt ")]
    items = [
        await row("insert into items (company_id, sku, name, kind, sales_price) values (%s, %s, %s, 'service', 1)", co, sku, n)
        for sku, n in (("W-1", "Widget"), ("W-2", "widget"), ("G-1", "Gadget"))
    ]
    expected = {
        "customer": dict(zip(customers, [None, f"customer {customers[1]}", f"customer {customers[2]}", None], strict=True)),
        "vendor": dict(zip(vendors, [f"vendor {vendors[0]}", None, f"vendor {vendors[2]}"], strict=True)),
        "item": dict(zip(items, [None, "SKU W-2", None], strict=True)),
    }
    for entity_type, want in expected.items():
        processor = REGISTRY.get(entity_type)
        assert processor is not None
        async with env.engine.source.snapshot() as db:
            one = {i: (await processor.load(db, i)).name_suffix for i in want}
            many = {i: doc.name_suffix for i, doc in (await processor.load_many(db, list(want))).items()}
            # a batch holding only the suffixed rows still sees the row that keeps the plain name
            later = [i for i, suffix in want.items() if suffix]
            part = {i: doc.name_suffix for i, doc in (await processor.load_many(db, later)).items()}
        assert one == want, entity_type
        assert many == want, entity_type
        assert part == {i: want[i] for i in later}, entity_type
