"""Bad input goes to the dead-letter topic with a reason, and the records behind it keep flowing."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

import connectors
from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from streams.deadletter import DeadLetter
from tests.fixtures.pipeline import Company, Pipeline, Qbo, wait_until

pytestmark = pytest.mark.integration

UNKNOWN_TABLE = "zz_unknown_pipeline"
MISSING_ID = 9_000_000_000_000  # no Bottleneck row has this id


async def test_event_that_fails_to_decode(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    mark = pipeline.mark()
    garbage = b"\x00\xff{not json at all"
    tp, offset = pipeline.produce(pipeline.table_topic("customers"), b'{"id": 1}', garbage)
    seed.customer(db, company.id, f"After garbage {company.tag}")

    letters = pipeline.dead_letters(mark, lambda ls: _from(ls, tp.topic, offset) is not None)
    letter = _from(letters, tp.topic, offset)
    assert letter is not None and letter.stage == "decode" and letter.reason
    assert letter.original is not None and letter.original.encoding == "base64"
    assert base64.b64decode(letter.original.value or "") == garbage, "the original record is kept for a re-drive"
    await qbo.wait_one("Customer", f"DisplayName = 'After garbage {company.tag}'")


async def test_references_to_missing_rows(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Buyer {t}")
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    mark = pipeline.mark("invoice_lines")
    inv = seed.invoice(db, company.id, f"INV-{t}", cust, [Line(svc, Decimal("1"), Decimal("35.00"))])
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    line_id = db.execute("select id from invoice_lines where invoice_id = %s", (inv,)).fetchone()[0]

    # 1. A line event whose invoice does not exist (and never reached QBO): its company is unknowable.
    _, rec = pipeline.record_of("invoice_lines", line_id, mark)
    orphan = json.loads(rec.value)
    orphan["after"] = {**orphan["after"], "id": MISSING_ID, "invoice_id": MISSING_ID}
    line_tp, line_offset = pipeline.produce(rec.topic, json.dumps({"id": MISSING_ID}).encode(), json.dumps(orphan).encode())
    # 2. "Publish to QuickBooks" pressed for an invoice that is not there.
    db.execute(
        "insert into qbo_publish_requests (company_id, entity_type, entity_id, requested_by) values (%s, 'invoice', %s, 'pipeline test')",
        (company.id, MISSING_ID),
    )
    seed.customer(db, company.id, f"After missing {t}")

    def both(ls: list[DeadLetter]) -> bool:
        return _from(ls, line_tp.topic, line_offset) is not None and _publish_letter(ls, company.id) is not None

    letters = pipeline.dead_letters(mark, both)
    orphan_letter = _from(letters, line_tp.topic, line_offset)
    assert orphan_letter is not None and orphan_letter.failure_type == "missing_reference"
    assert str(MISSING_ID) in orphan_letter.reason
    publish_letter = _publish_letter(letters, company.id)
    assert publish_letter is not None and "does not exist" in publish_letter.reason
    await qbo.wait_one("Customer", f"DisplayName = 'After missing {t}'")


def _put_connector(pipeline: Pipeline, config: dict[str, str]) -> None:
    s = pipeline.settings
    r = httpx.put(f"{s.connect_url}/connectors/{s.connector_name}/config", json=config, timeout=60.0)
    r.raise_for_status()


async def test_unknown_table(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    """A table Bottleneck added that this version does not know: its rows are dead-lettered, not ignored.
    Debezium captures only the connector's table.include.list, so the operator adds it there as well as to
    the publication (as a later release of the connector JSON would)."""
    topic = pipeline.table_topic(UNKNOWN_TABLE)
    mark = pipeline.mark()
    # As Bottleneck's migration would (the DB owner), with the table added to the CDC publication.
    db.execute(f"create table if not exists public.{UNKNOWN_TABLE} (id bigserial primary key, note text)")
    published = db.execute(
        "select 1 from pg_publication_tables where pubname = 'bottleneck_cdc' and schemaname = 'public' and tablename = %s",
        (UNKNOWN_TABLE,),
    ).fetchone()
    if not published:
        db.execute(f"alter publication bottleneck_cdc add table public.{UNKNOWN_TABLE}")
    original = connectors.load(pipeline.settings.connector_name)
    wider = original | {"table.include.list": f"{original['table.include.list']},public.{UNKNOWN_TABLE}"}
    # The topic may hold rows of an earlier run: count only what arrives from now on.
    before = sum(pipeline.end_offsets([topic]).values())
    _put_connector(pipeline, wider)
    rows: list[int] = []
    try:
        # A row the old task saw before it stopped is filtered out for good: write until one arrives.
        def arrived() -> bool:
            rows.append(db.execute(f"insert into public.{UNKNOWN_TABLE} (note) values ('hello') returning id").fetchone()[0])
            return sum(pipeline.end_offsets([topic]).values()) > before

        wait_until(arrived, what=f"Debezium wrote {topic}", interval=1.0, timeout=120.0)
        if topic not in pipeline.subscribed:
            # Faust cannot subscribe by pattern: a worker (re)start picks up the new topic.
            pipeline.stop_worker()
            pipeline.start_worker()
            assert topic in pipeline.subscribed
        seed.customer(db, company.id, f"After unknown {company.tag}")

        def found(ls: list[DeadLetter]) -> DeadLetter | None:
            for d in ls:
                if d.original is not None and d.original.topic == topic and json.loads(d.original.key or "{}").get("id") in rows:
                    return d
            return None

        letter = found(pipeline.dead_letters(mark, lambda ls: found(ls) is not None))
        assert letter is not None and letter.stage == "decode"
        assert UNKNOWN_TABLE in letter.reason and "unknown table" in letter.reason
        await qbo.wait_one("Customer", f"DisplayName = 'After unknown {company.tag}'")
    finally:
        # Leave Bottleneck's schema and the connector as the contract says (the topic stays, and with it the subscription).
        _put_connector(pipeline, original)
        db.execute(f"alter publication bottleneck_cdc drop table public.{UNKNOWN_TABLE}")
        db.execute(f"drop table public.{UNKNOWN_TABLE}")


def _from(letters: list[DeadLetter], topic: str, offset: int) -> DeadLetter | None:
    return next((d for d in letters if d.original is not None and d.original.topic == topic and d.original.offset == offset), None)


def _publish_letter(letters: list[DeadLetter], company_id: int) -> DeadLetter | None:
    return next((d for d in letters if d.company_id == company_id and d.entity_type == "invoice" and d.local_id == str(MISSING_ID)), None)
