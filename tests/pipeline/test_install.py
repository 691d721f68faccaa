"""`bottleneck-qbo migrate`, run twice against the live stack's database (Bottleneck's tables with their rows,
Debezium streaming, a worker running): it changes nothing of Bottleneck's, and rows written before and after
it reach QBO. (The stack itself is built the same way: Bottleneck's tables first, then `migrate`.)"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from tests.fixtures.pipeline import Company, Pipeline, Qbo
from tests.integration.test_install_existing_bottleneck import _catalog

pytestmark = pytest.mark.integration


def _migrate(pipeline: Pipeline) -> subprocess.CompletedProcess[str]:
    s = pipeline.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")} | {
        "BQ_PG_HOST": s.pg_host,
        "BQ_PG_PORT": str(s.pg_port),
        "BQ_PG_DATABASE": s.pg_database,
        "BQ_PG_USER": s.pg_user,
        "BQ_PG_PASSWORD": s.pg_password.get_secret_value(),
    }
    return subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", "migrate"], env=env, capture_output=True, text=True, timeout=120, cwd="/"
    )


async def test_migrate_twice_on_a_live_bottleneck_then_its_rows_sync(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    before_name = f"Before migrate {company.tag}"
    seed.customer(db, company.id, before_name)
    shape = {k: v for k, v in _catalog(pipeline.settings.postgres_dsn).items() if k != "data"}

    for _ in range(2):
        run = _migrate(pipeline)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "applied: nothing (up to date)" and "warning" not in run.stderr

    assert {k: v for k, v in _catalog(pipeline.settings.postgres_dsn).items() if k != "data"} == shape
    after_name = f"After migrate {company.tag}"
    seed.customer(db, company.id, after_name)
    await qbo.wait_one("Customer", f"DisplayName = '{before_name}'")
    await qbo.wait_one("Customer", f"DisplayName = '{after_name}'")
