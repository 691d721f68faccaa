"""The worker SIGKILLed while a burst of documents is being written and synced, then restarted: every
document reaches QBO exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, until

pytestmark = pytest.mark.integration

BURST = 50


async def test_worker_killed_mid_stream_loses_and_duplicates_nothing(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Burst {t}")
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("10.00"))
    await qbo.wait_one("Item", f"Name = 'Labour {t}'")
    await qbo.wait_one("Customer", f"DisplayName = 'Burst {t}'")

    numbers = [f"INV-{t}-{i:03d}" for i in range(BURST)]
    written: list[str] = []
    failure: list[BaseException] = []

    def write_burst() -> None:
        # Bottleneck keeps committing while the worker dies and comes back.
        try:
            with psycopg.connect(pipeline.settings.postgres_dsn, autocommit=True) as conn:
                for i, number in enumerate(numbers):
                    seed.invoice(conn, company.id, number, cust, [Line(svc, Decimal(i + 1), Decimal("10.00"))])
                    written.append(number)
        except BaseException as exc:
            failure.append(exc)

    writer = threading.Thread(target=write_burst, name="burst-writer")
    writer.start()
    try:
        # Kill once the worker is part-way through: some invoices are in QBO, the rest are not.
        await until(lambda: _invoice_writes_at_least(qbo, 3), timeout=60, what="the worker started writing the burst")
        pipeline.kill_worker()
        at_kill = await qbo.writes("Invoice")
    finally:
        await asyncio.to_thread(writer.join, 60)
    assert not failure, failure
    assert written == numbers
    assert at_kill < BURST, "the worker was killed after the burst had synced: nothing was tested"
    pipeline.start_worker()

    async def all_there() -> list[dict[str, Any]] | None:
        found = await qbo.query("select * from Invoice")
        return found if len({inv["DocNumber"] for inv in found}) >= BURST else None

    found = await until(all_there, timeout=120, what=f"all {BURST} invoices in QBO")
    counts = Counter(inv["DocNumber"] for inv in found)
    assert sorted(counts) == numbers, "lost or foreign invoices"
    assert [n for n, c in counts.items() if c > 1] == [], "duplicated invoices"
    totals = {inv["DocNumber"]: dec(inv["TotalAmt"]) for inv in found}
    assert totals == {n: Decimal(10 * (i + 1)) for i, n in enumerate(numbers)}


async def _invoice_writes_at_least(qbo: Qbo, n: int) -> bool:
    return await qbo.writes("Invoice") >= n
