"""`bottleneck-qbo migrate` against a database where Bottleneck already lives, with data: it installs only the
product's objects, twice is a no-op, and not one of Bottleneck's tables is created, altered or rewritten.

A private cluster (tests/fixtures/private_pg.py): each test gets its own database in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from bottleneck_qbo import migrations
from tests.fixtures.schema_sql import FIXTURE_SCHEMA, fixture_tables

pytestmark = pytest.mark.integration

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "migrations-0.1"
CDC_ROLE = "dbz_install_test"


@pytest.fixture
def bottleneck_db(private_pg_dsn: str) -> Iterator[str]:
    """A new database holding Bottleneck's contract schema (as Bottleneck creates it, nothing of ours)."""
    name = f"bq_install_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(private_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        if not conn.execute("select 1 from pg_roles where rolname = %s", (CDC_ROLE,)).fetchone():
            conn.execute(sql.SQL("create role {} login replication").format(sql.Identifier(CDC_ROLE)))
    dsn = private_pg_dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield dsn
    finally:
        with psycopg.connect(private_pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def _create_bottleneck(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(FIXTURE_SCHEMA.read_text(encoding="utf-8"))
        company = conn.execute("insert into companies (name) values ('Acme') returning id").fetchone()[0]
        customer = conn.execute("insert into customers (company_id, name) values (%s, 'Zed') returning id", (company,)).fetchone()[0]
        item = conn.execute(
            "insert into items (company_id, sku, name, kind) values (%s, 'W-1', 'Widget', 'service') returning id", (company,)
        ).fetchone()[0]
        order = conn.execute(
            "insert into sales_orders (company_id, customer_id, number, order_date) values (%s, %s, 'SO-1', current_date) returning id",
            (company, customer),
        ).fetchone()[0]
        conn.execute(
            "insert into sales_order_lines (sales_order_id, line_no, item_id, quantity, unit_price) values (%s, 1, %s, 3, 12.50)",
            (order, item),
        )


def _catalog(dsn: str) -> dict[str, Any]:
    """Everything about schema public that an ALTER, CREATE, trigger, constraint or rewrite would change,
    and the data. (Not the ACLs: granting the CDC role read access is part of the install.)"""
    with psycopg.connect(dsn) as conn:
        q = conn.execute
        return {
            "relations": q(
                """select c.relname, c.relkind, c.relreplident, c.relhastriggers, c.relhasindex, c.relnatts, c.relchecks,
                          c.relrowsecurity, c.relhasrules, c.relfilenode, c.relpersistence, c.reloptions, c.relowner
                   from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' order by c.relname"""
            ).fetchall(),
            "columns": q(
                """select table_name, column_name, data_type, column_default, is_nullable, ordinal_position
                   from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position"""
            ).fetchall(),
            "constraints": q(
                """select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
                   where connamespace = 'public'::regnamespace or confrelid in
                         (select oid from pg_class where relnamespace = 'public'::regnamespace)
                   order by 1, 2"""
            ).fetchall(),
            "triggers": q(
                """select tgrelid::regclass::text, tgname, tgisinternal from pg_trigger
                   where tgrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace) order by 1, 2"""
            ).fetchall(),
            "indexes": q("select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1").fetchall(),
            "rules_policies": q(
                "select 'rule', rulename from pg_rules where schemaname = 'public' union all "
                "select 'policy', policyname from pg_policies where schemaname = 'public'"
            ).fetchall(),
            "data": {
                t: q(
                    sql.SQL("select coalesce(string_agg(x::text, '|' order by x::text), '') from {} x").format(sql.Identifier(t))
                ).fetchone()
                for t in fixture_tables()
            },
        }


def _migrate_cli(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, configured the way an operator configures it (BQ_* environment)."""
    u = urlsplit(dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQ_")}
    env |= {
        "BQ_PG_HOST": u.hostname or "",
        "BQ_PG_PORT": str(u.port),
        "BQ_PG_USER": u.username or "",
        "BQ_PG_PASSWORD": "",
        "BQ_PG_DATABASE": u.path.lstrip("/"),
        "BQ_PG_CDC_USER": CDC_ROLE,
    }
    return subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", "migrate", *args], env=env, capture_output=True, text=True, timeout=120, cwd="/"
    )


def test_migrate_twice_installs_only_the_products_objects(bottleneck_db: str) -> None:
    _create_bottleneck(bottleneck_db)
    before = _catalog(bottleneck_db)

    first = _migrate_cli(bottleneck_db)
    assert first.returncode == 0, first.stderr
    assert "applied: 0002_qbo_sync, 0003_cdc" in first.stdout
    # The replica identity the product needs is reported with the statement to run, not done.
    assert "alter table public.sales_order_lines replica identity full;" in first.stderr
    second = _migrate_cli(bottleneck_db)
    assert second.returncode == 0, second.stderr
    assert "applied: nothing (up to date)" in second.stdout

    assert _catalog(bottleneck_db) == before
    with psycopg.connect(bottleneck_db) as conn:
        ours = {
            r[0]
            for r in conn.execute(
                "select table_schema || '.' || table_name from information_schema.tables where table_schema in ('qbo_sync', 'cdc')"
            )
        }
        published = {
            r[0] for r in conn.execute("select schemaname || '.' || tablename from pg_publication_tables where pubname = 'bottleneck_cdc'")
        }
        grants = conn.execute(
            """select has_table_privilege(%s, 'public.sales_order_lines', 'select'),
                      has_table_privilege(%s, 'public.customers', 'insert'),
                      has_table_privilege(%s, 'cdc.heartbeat', 'insert'),
                      has_table_privilege(%s, 'cdc.debezium_signal', 'select')""",
            (CDC_ROLE,) * 4,
        ).fetchone()
    assert {"qbo_sync.id_map", "qbo_sync.oauth_tokens", "qbo_sync.sync_parking", "qbo_sync.oauth_pending", "cdc.heartbeat"} <= ours
    assert published == set(migrations.CAPTURED_TABLES) | set(migrations.CDC_TABLES)
    assert grants == (True, False, True, True)


def test_replica_identity_is_a_separate_explicit_step(bottleneck_db: str) -> None:
    _create_bottleneck(bottleneck_db)
    assert _migrate_cli(bottleneck_db).returncode == 0
    assert set(migrations.replica_identity_report(bottleneck_db)) == set(migrations.FULL_IDENTITY_TABLES)

    done = _migrate_cli(bottleneck_db, "--set-replica-identity")
    assert done.returncode == 0, done.stderr
    assert "replica identity full: public.sales_order_lines" in done.stdout and "warning" not in done.stderr
    assert migrations.replica_identity_report(bottleneck_db) == {}
    with psycopg.connect(bottleneck_db) as conn:
        full = {r[0] for r in conn.execute("select oid::regclass::text from pg_class where relreplident = 'f'")}
    assert full == {t.removeprefix("public.") for t in migrations.FULL_IDENTITY_TABLES}


def test_migrate_refuses_a_database_without_bottleneck(bottleneck_db: str) -> None:
    result = _migrate_cli(bottleneck_db)
    assert result.returncode == 1
    assert "Bottleneck's tables are missing (public.companies, public.customers" in result.stderr
    with psycopg.connect(bottleneck_db) as conn:
        assert conn.execute("select count(*) from pg_namespace where nspname in ('qbo_sync', 'cdc')").fetchone() == (0,)


def test_a_deployment_of_release_0_1_upgrades(bottleneck_db: str) -> None:
    """0.1 created Bottleneck's schema in its migration 0001, altered the line tables in 0003_cdc and had a
    foreign key into companies in 0005. Those recorded checksums are accepted; 0006 drops the foreign key."""
    assert migrations.apply(bottleneck_db, LEGACY, require_bottleneck=False)[0] == "0001_bottleneck_schema"
    with psycopg.connect(bottleneck_db, autocommit=True) as conn:
        conn.execute("insert into companies (name) values ('Old')")

    # only what 0.1 did not have: 0.1's versions (their old checksums accepted) are not applied again
    newer = [m.version for m in migrations.migrations() if m.version >= "0006"]
    assert newer[0] == "0006_oauth_pending_unlinked"
    assert migrations.apply(bottleneck_db, cdc_role=CDC_ROLE) == newer
    assert migrations.apply(bottleneck_db, cdc_role=CDC_ROLE) == []
    with psycopg.connect(bottleneck_db) as conn:
        fks = conn.execute(
            "select count(*) from pg_constraint where contype = 'f' and confrelid = 'public.companies'::regclass "
            "and conrelid = 'qbo_sync.oauth_pending'::regclass"
        ).fetchone()
        assert fks == (0,)
        assert conn.execute("select count(*) from companies").fetchone() == (1,)
    assert migrations.replica_identity_report(bottleneck_db) == {}
