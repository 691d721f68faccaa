"""A realm's QBO budget has one owner across processes: two real worker-like processes (each its own
limiter registry and Postgres pool) charging one realm admit at most the realm's 500 requests per
window between them, while each alone admits the whole 500; a 429 one process records pauses the other.
Counts within one window, never timings."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from bottleneck_qbo import migrations
from bottleneck_qbo.settings import Settings
from infra.stack import StackStatus
from sinks.postgres import Database
from sinks.qbo.budget_ledger import PostgresBudgetLedger
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry, RealmBusy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 500  # QBO's requests per minute per realm (the default limits)
ATTEMPTS = 700


def _run_two(shared_realm: str) -> list[dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        start = Path(tmp) / "start"
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.budget_process",
                    shared_realm,
                    f"own-{i}-{shared_realm}",
                    str(ATTEMPTS),
                    str(start),
                ],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        start.touch()
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0
            results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_processes_share_one_realm_budget(stack: StackStatus) -> None:
    migrations.apply(stack.postgres_dsn)
    started = time.monotonic()
    first, second = _run_two(f"budget-{uuid.uuid4().hex[:10]}")
    assert time.monotonic() - started < 55, "the counts must fall inside one 60 s window"
    # Each alone may spend the realm's whole budget (its own realm) ...
    assert first["own"] == LIMIT and second["own"] == LIMIT
    # ... but together they spend it once: the sum is capped, and both got a part.
    assert first["shared"] + second["shared"] <= LIMIT, (first, second)
    assert first["shared"] + second["shared"] >= LIMIT - 2 * 10, (first, second)  # at most a block each left unspent
    assert first["shared"] > 0 and second["shared"] > 0, (first, second)
    # One ledger query per block of 10, not one per request (3 x 500 admitted over the three realms,
    # plus one refusal per realm and process: a refusal is remembered until the budget frees up).
    assert first["queries"] + second["queries"] <= (3 * LIMIT) // 10 + 10, (first, second)


def test_a_429_in_one_process_pauses_the_realm_in_the_other(stack: StackStatus, stack_settings: Settings) -> None:
    migrations.apply(stack.postgres_dsn)
    realm = f"cool-{uuid.uuid4().hex[:10]}"

    async def scenario() -> float:
        dbs = [await Database.open(stack.postgres_dsn, name=f"budget-{i}") for i in range(2)]
        try:
            registries = [LimiterRegistry(LimiterConfig()) for _ in dbs]
            for registry, db in zip(registries, dbs, strict=True):
                registry.attach_ledger(PostgresBudgetLedger(db, holder="test"))
            one, other = (r.for_realm(realm) for r in registries)
            await one.rate_limited(30.0)  # what the client does on a 429
            with pytest.raises(RealmBusy) as busy:
                async with other.slot(max_wait_s=0):
                    pass
            return busy.value.wait_s
        finally:
            for db in dbs:
                await db.close()

    wait = asyncio.run(scenario())
    assert 25 < wait <= 30
