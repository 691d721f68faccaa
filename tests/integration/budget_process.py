"""One worker-like process for the shared-budget test: the worker's limiter registry (default QBO limits)
with the Postgres budget ledger attached as the worker's runtime attaches it (unless
BQ_QBO_SHARED_BUDGET=0: the limiter of the release before the ledger). After a start file appears it
tries ``attempts`` calls on the shared realm, never waiting (``max_wait_s=0``), and as many on a realm of
its own; prints one JSON line: calls admitted per realm, ledger queries made.

    python -m tests.integration.budget_process <shared_realm> <own_realm> <attempts> <start_file>
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bottleneck_qbo.settings import get_settings
from sinks.postgres import Database
from sinks.qbo.budget_ledger import PostgresBudgetLedger, default_holder
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry, RealmBusy
from sinks.qbo.shared_budget import SharedBudgetConfig


async def _admitted(registry: LimiterRegistry, realm_id: str, attempts: int) -> int:
    limiter = registry.for_realm(realm_id)
    admitted = 0
    for _ in range(attempts):
        try:
            async with limiter.slot(max_wait_s=0):
                admitted += 1
        except RealmBusy:
            pass
        await asyncio.sleep(0)  # let the other process's calls interleave with ours
    return admitted


async def main(shared_realm: str, own_realm: str, attempts: int, start_file: Path) -> int:
    settings = get_settings()
    db = await Database.open(settings.postgres_dsn, name="budget-test")
    try:
        registry = LimiterRegistry(LimiterConfig(requests_per_window=settings.qbo_requests_per_minute))
        ledger = PostgresBudgetLedger(db, holder=default_holder())
        if settings.qbo_shared_budget:
            registry.attach_ledger(ledger, SharedBudgetConfig(block=settings.qbo_budget_block))
        print("ready", flush=True)
        while not start_file.exists():
            await asyncio.sleep(0.002)
        shared = await _admitted(registry, shared_realm, attempts)
        own = await _admitted(registry, own_realm, attempts)
        print(json.dumps({"shared": shared, "own": own, "queries": ledger.queries}))
        return 0
    finally:
        await db.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))))
