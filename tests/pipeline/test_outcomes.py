"""Nothing is acknowledged without an outcome: whatever the router cannot handle is dead-lettered (and
the broker has acknowledged that letter) before the record's offset may move; a letter too large for
the broker is cut down with a pointer to the original; a letter the broker refuses holds the record."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import httpx
import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from bottleneck_qbo.demo import seed
from streams.deadletter import DeadLetter
from tests.fixtures.pipeline import Company, Pipeline, Qbo, wait_until

pytestmark = pytest.mark.integration

DEPTH = 3000  # far past Python's recursion limit for json.loads, well within PostgreSQL's jsonb nesting


def _letter_for(letters: list[DeadLetter], topic: str, offset: int) -> DeadLetter | None:
    return next((d for d in letters if d.original is not None and d.original.topic == topic and d.original.offset == offset), None)


async def test_deeply_nested_jsonb_is_dead_lettered_and_later_customers_still_sync(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    mark = pipeline.mark("customers")
    nested = "[" * DEPTH + "]" * DEPTH
    row = db.execute(
        "insert into customers (company_id, name, billing_address) values (%s, %s, %s::jsonb) returning id",
        (company.id, f"Nested {company.tag}", nested),
    ).fetchone()
    assert row is not None
    tp, rec = pipeline.record_of("customers", row[0], mark)
    seed.customer(db, company.id, f"After nested {company.tag}")

    letters = pipeline.dead_letters(mark, lambda ls: _letter_for(ls, tp.topic, rec.offset) is not None)
    letter = _letter_for(letters, tp.topic, rec.offset)
    assert letter is not None and letter.stage == "decode" and "nested too deeply" in letter.reason
    assert letter.original is not None and letter.original.value == rec.value.decode(), "the original record is kept"
    await qbo.wait_one("Customer", f"DisplayName = 'After nested {company.tag}'")
    assert await qbo.one("Customer", f"DisplayName = 'Nested {company.tag}'") is None


async def test_dead_letter_too_large_for_the_broker_is_truncated_with_a_pointer(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    mark = pipeline.mark("customers")
    # Not UTF-8, so the letter carries it as base64: 4/3 of a record that was itself near the broker's limit.
    garbage = b"\xff" * 900_000
    tp, offset = pipeline.produce(pipeline.table_topic("customers"), b'{"id": 1}', garbage)
    seed.customer(db, company.id, f"After huge {company.tag}")

    letters = pipeline.dead_letters(mark, lambda ls: _letter_for(ls, tp.topic, offset) is not None)
    letter = _letter_for(letters, tp.topic, offset)
    assert letter is not None and letter.stage == "decode"
    original = letter.original
    assert original is not None and original.truncated and original.encoding == "base64"
    assert original.partition == tp.partition and original.offset == offset, "the pointer leads to the full record"
    assert original.value_size == len(garbage) and original.value_sha256 == hashlib.sha256(garbage).hexdigest()
    assert garbage.startswith(base64.b64decode(original.value or "")), "what is kept is the start of the record"
    await qbo.wait_one("Customer", f"DisplayName = 'After huge {company.tag}'")


def _dead_letters_counted(pipeline: Pipeline) -> float:
    """The worker's own count of dead letters it has started to send (``bq_dead_letters_total``)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{pipeline.settings.worker_web_port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1.0
    return sum(float(m) for m in re.findall(r'^bq_dead_letters_total\{[^}]*stage="decode"[^}]*\} (\S+)$', text, re.M))


def _limit_deadletter_topic(pipeline: Pipeline, max_bytes: int | None) -> None:
    """A dead-letter topic that refuses every letter: the broker answers MESSAGE_TOO_LARGE to records over
    the topic's ``max.message.bytes`` (even a letter cut down to its pointer is larger than 200 bytes)."""
    admin = KafkaAdminClient(bootstrap_servers=pipeline.settings.kafka_bootstrap, client_id="bq-test-dl-limit")
    try:
        config = {"max.message.bytes": str(max_bytes if max_bytes is not None else 1048588)}
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, pipeline.settings.deadletter_topic, configs=config)])
    finally:
        admin.close()


async def test_a_dead_letter_the_broker_refuses_leaves_the_record_unacknowledged(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    topic = pipeline.table_topic("customers")
    mark = pipeline.mark("customers")
    before = wait_until(lambda: (n := _dead_letters_counted(pipeline)) >= 0 and (n,), what="worker metrics")[0]
    _limit_deadletter_topic(pipeline, 200)
    try:
        tp, offset = pipeline.produce(topic, b'{"id": 2}', b"{not json, cannot be decoded")
        # The worker has read the record and is trying to dead-letter it...
        wait_until(lambda: _dead_letters_counted(pipeline) > before, what="the worker tried to dead-letter the record")
        # ...and is stopped while the broker refuses the letter.
        pipeline.stop_worker()
        assert pipeline.committed().get(tp, 0) <= offset, "the record was acknowledged although its dead letter never reached Kafka"
    finally:
        _limit_deadletter_topic(pipeline, None)
        pipeline.start_worker()
    # The record was not lost: read again after the restart, its dead letter now goes through.
    letters = pipeline.dead_letters(mark, lambda ls: _letter_for(ls, tp.topic, offset) is not None)
    letter = _letter_for(letters, tp.topic, offset)
    assert letter is not None and letter.stage == "decode"
    seed.customer(db, company.id, f"After refused {company.tag}")
    await qbo.wait_one("Customer", f"DisplayName = 'After refused {company.tag}'")
    assert json.loads(letter.original.key or "{}") == {"id": 2}
