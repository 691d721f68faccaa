"""Two workers in one consumer group split the documents topic: both get partitions and both write to
QBO, a burst over several companies reaches QBO exactly once, and when one worker is SIGKILLed mid-burst
the other takes its partitions over and finishes."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from bottleneck_qbo.ops.connect import connect_local
from infra.stack import Worker
from tests.fixtures.pipeline import Company, Pipeline, Qbo, until, wait_until

pytestmark = pytest.mark.integration

COMPANIES = 6  # over 4 documents partitions: both workers own some of them (checked below)
PER_COMPANY = 8


def _assigned(worker: Worker) -> int:
    r = httpx.get(f"http://127.0.0.1:{worker.web_port}/health", timeout=2)
    return int(r.json().get("assigned_partitions", 0)) if r.status_code == 200 else 0


def _realms_written(worker: Worker, realms: set[str]) -> set[str]:
    """The test's realms this worker process sent a QBO create/update to (its own /metrics)."""
    text = httpx.get(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=5).text
    found = set()
    for m in re.finditer(r'qbo_requests_total\{realm="([^"]+)",entity="Invoice",status="200"\} (\d+)', text):
        if m.group(1) in realms and int(m.group(2)) > 0:
            found.add(m.group(1))
    return found


async def test_two_workers_split_the_documents_and_one_killed_leaves_the_other_to_finish(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company
) -> None:
    extra = pipeline.start_extra_worker(2)
    qbos: list[Qbo] = []
    try:
        wait_until(lambda: _assigned(pipeline.worker) > 0 and _assigned(extra) > 0, timeout=90, what="both workers hold partitions")
        companies = [company]
        for _ in range(COMPANIES - 1):
            tag = uuid.uuid4().hex[:8]
            cid = seed.company(db, f"Two workers {tag}")
            realm = f"78{uuid.uuid4().int % 10**14:014d}"
            await connect_local(pipeline.settings, cid, realm)
            companies.append(Company(id=cid, realm=realm, tag=tag))
        qbos = [Qbo(pipeline.settings, c.realm) for c in companies]
        masters = []
        for c in companies:
            cust = seed.customer(db, c.id, f"Split {c.tag}")
            svc, _ = seed.item(db, c.id, f"SPL-{c.tag}", f"Split work {c.tag}", "service", sales_price=Decimal("10.00"))
            masters.append((cust, svc))
        for c, q in zip(companies, qbos, strict=True):
            await q.wait_one("Customer", f"DisplayName = 'Split {c.tag}'", timeout=90)

        # First half of the burst with both workers up: both write.
        numbers = {c.realm: [f"SP-{c.tag}-{i:02d}" for i in range(PER_COMPANY)] for c in companies}
        half = PER_COMPANY // 2
        for c, (cust, svc) in zip(companies, masters, strict=True):
            for i, n in enumerate(numbers[c.realm][:half]):
                seed.invoice(db, c.id, n, cust, [Line(svc, Decimal(i + 1), Decimal("10.00"))])
        realms = {c.realm for c in companies}

        async def first_half_done() -> bool:
            counts = await asyncio.gather(*(q.writes("Invoice") for q in qbos))
            return all(n >= half for n in counts)

        await until(first_half_done, timeout=120, what="first half of the burst in QBO")
        by_one, by_two = _realms_written(pipeline.worker, realms), _realms_written(extra, realms)
        assert by_one and by_two, f"one worker did all the writing: worker {by_one}, worker-2 {by_two}"
        assert not by_one & by_two, "a company's documents were written by both workers"

        # Kill worker-2; the rest of the burst is finished by worker 1 after the rebalance.
        pid = extra.pid()
        assert pid is not None
        os.kill(pid, 9)
        wait_until(lambda: not extra.process_alive(), timeout=15, what="worker-2 gone")
        for c, (cust, svc) in zip(companies, masters, strict=True):
            for i, n in enumerate(numbers[c.realm][half:], start=half):
                seed.invoice(db, c.id, n, cust, [Line(svc, Decimal(i + 1), Decimal("10.00"))])

        async def all_there() -> bool:
            found = await asyncio.gather(*(q.query("select * from Invoice") for q in qbos))
            return all(len({inv["DocNumber"] for inv in f}) >= PER_COMPANY for f in found)

        await until(all_there, timeout=180, what="the whole burst in QBO after worker-2 died")
        for c, q in zip(companies, qbos, strict=True):
            counts = Counter(inv["DocNumber"] for inv in await q.query("select * from Invoice"))
            assert sorted(counts) == numbers[c.realm], "lost or foreign invoices"
            assert [n for n, k in counts.items() if k > 1] == [], "duplicated invoices"
    finally:
        extra.stop()
        for q in qbos:
            await q.aclose()
