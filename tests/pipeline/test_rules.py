"""The sync rules a user relies on: TOAST placeholders, manual mode, duplicates and replays."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from connectors.debezium.models import Unavailable
from tests.fixtures.pipeline import Company, Pipeline, Qbo

pytestmark = pytest.mark.integration

UNAVAILABLE = Unavailable.UNAVAILABLE.value  # what Debezium puts in place of an unchanged TOASTed value


def long_notes(n_chars: int = 2000) -> str:
    """Within QBO's 2000-character Notes limit but 8 kB of UTF-8 (4-byte characters, random so
    PostgreSQL cannot compress it inline): the value is TOASTed out of line."""
    rnd = random.Random(4)
    return "".join(chr(rnd.randrange(0x20000, 0x2A6DF)) for _ in range(n_chars))


async def test_toast_placeholder_never_reaches_qbo(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Long Notes {t}", email="first@example.com")
    await qbo.wait_one("Customer", f"DisplayName = 'Long Notes {t}'")
    notes = long_notes()
    assert len(notes.encode()) == 8000  # 8 kB: far past the ~2 kB TOAST threshold
    db.execute("update customers set notes = %s, updated_at = now() where id = %s", (notes, cust))
    await qbo.wait_one("Customer", f"DisplayName = 'Long Notes {t}'", check=lambda c: c.get("Notes") == notes)

    mark = pipeline.mark("customers")
    db.execute("update customers set email = 'second@example.com', updated_at = now() where id = %s", (cust,))
    event = pipeline.settle("customers", cust, mark, where=lambda v: v.get("op") == "u")
    assert event["after"]["notes"] == UNAVAILABLE, "the scenario needs Debezium's placeholder for the unchanged TOASTed notes"

    synced = await qbo.wait_one(
        "Customer", f"DisplayName = 'Long Notes {t}'", check=lambda c: c.get("PrimaryEmailAddr", {}).get("Address") == "second@example.com"
    )
    assert synced["Notes"] == notes
    assert UNAVAILABLE not in json.dumps(synced, default=str)


async def test_manual_mode_syncs_only_what_is_published_with_its_dependencies(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    db.execute("update companies set qbo_sync_mode = 'manual', updated_at = now() where id = %s", (company.id,))
    mark = pipeline.mark("customers", "items", "invoices")
    seed.customer(db, company.id, f"Bystander {t}")
    buyer = seed.customer(db, company.id, f"Buyer {t}")
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    other, _ = seed.item(db, company.id, f"OTH-{t}", f"Unused {t}", "service", sales_price=Decimal("1.00"))
    inv = seed.invoice(db, company.id, f"INV-{t}", buyer, [Line(svc, Decimal("3"), Decimal("35.00"))])
    pipeline.settle("customers", buyer, mark)
    pipeline.settle("items", other, mark)
    pipeline.settle("invoices", inv, mark)
    assert await qbo.writes() == 0, "manual mode: nothing syncs before a publish request"

    mark = pipeline.mark("qbo_publish_requests")
    req = db.execute(
        "insert into qbo_publish_requests (company_id, entity_type, entity_id, requested_by)"
        " values (%s, 'invoice', %s, 'pipeline test') returning id",
        (company.id, inv),
    ).fetchone()[0]
    invoice = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    pipeline.settle("qbo_publish_requests", req, mark)
    buyer_qbo = await qbo.one("Customer", f"DisplayName = 'Buyer {t}'")
    assert buyer_qbo is not None and invoice["CustomerRef"]["value"] == buyer_qbo["Id"]
    assert await qbo.one("Customer", f"DisplayName = 'Bystander {t}'") is None
    names = sorted(i["Name"] for i in await qbo.all("Item") if i.get("Type") != "Category")
    assert f"Labour {t}" in names and f"Unused {t}" not in names
    s = await qbo.stats()
    assert {e: sum(ops.values()) for e, ops in s["writes"].items()} == {"Customer": 1, "Item": 1, "Invoice": 1}


async def test_duplicate_event_and_replay_from_zero_make_no_writes(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    mark = pipeline.mark("invoices")
    cust = seed.customer(db, company.id, f"Dup {t}", email="dup@example.com")
    brew, (lot1,) = seed.item(
        db, company.id, f"CB-{t}", f"Cold Brew {t}", "inventory", sales_price=Decimal("4.50"), lots=[("L1", Decimal("10"), Decimal("1.00"))]
    )
    inv = seed.invoice(db, company.id, f"INV-{t}", cust, [Line(brew, Decimal("2"), Decimal("4.50"), lot_id=lot1)])
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    pipeline.settle("invoices", inv, mark)
    # QBO moved the lot's stock when the invoice posted; let the quantity adjustment settle too.
    await qbo.wait_one("Item", f"Name = 'Cold Brew {t} / L1'", check=lambda i: Decimal(str(i["QtyOnHand"])) == Decimal("10"))
    pipeline.wait_consumed(pipeline.end_offsets([pipeline.settings.documents_topic]))
    before = await qbo.stats()

    tp, rec = pipeline.record_of("invoices", inv, mark)
    dup_tp, dup_offset = pipeline.produce(tp.topic, rec.key, rec.value)
    pipeline.wait_consumed({dup_tp: dup_offset + 1}, what="router consumed the duplicate")
    pipeline.wait_consumed(pipeline.end_offsets([pipeline.settings.documents_topic]))
    assert (await qbo.stats())["writes"] == before["writes"], "a duplicate event made a QBO write"

    pipeline.replay_from_zero()
    after = await qbo.stats()
    assert after["writes"] == before["writes"], "a replay from offset zero made QBO writes"
    assert len(await qbo.query(f"select * from Invoice where DocNumber = 'INV-{t}'")) == 1
