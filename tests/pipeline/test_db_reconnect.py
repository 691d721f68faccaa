"""The worker survives losing its Postgres connections (a database restart, a terminated backend)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from tests.fixtures.pipeline import Company, Pipeline, Qbo

pytestmark = pytest.mark.integration


async def test_documents_sync_after_the_workers_connections_are_killed(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    seed.customer(db, company.id, f"Before {t}")
    await qbo.wait_one("Customer", f"DisplayName = 'Before {t}'")
    pipeline.wait_idle()

    # What a Postgres restart does to the worker: every one of its sessions is gone. (The test's own
    # session and Debezium's replication connection, which belongs to the role dbz, are spared.)
    killed = db.execute(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity"
        " where usename = current_user and pid <> pg_backend_pid() and backend_type = 'client backend') k"
    ).fetchone()
    assert killed is not None and killed[0] > 0

    seed.customer(db, company.id, f"After {t}")
    await qbo.wait_one("Customer", f"DisplayName = 'After {t}'")
    pipeline.wait_idle()
    assert await qbo.writes("Customer") == 2
