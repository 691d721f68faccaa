"""The local stack's database: Bottleneck's stand-in schema (infra/bottleneck) is exactly the contract, and the
product's migrations on top of it are idempotent."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bottleneck_qbo import migrations
from bottleneck_qbo.settings import Settings
from infra import bottleneck
from infra.stack import Postgres, StackStatus
from tests.fixtures.schema_sql import fixture_tables

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_db(stack: StackStatus, stack_settings: Settings) -> Iterator[str]:
    """A database owned by the app user with Bottleneck's tables (as the stack makes it); its DSN. Dropped afterwards."""
    name = f"bq_migtest_{uuid.uuid4().hex[:8]}"
    admin = Postgres(stack_settings).superuser_conninfo()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(stack_settings.pg_user)))
    try:
        dsn = stack.postgres_dsn.rsplit("/", 1)[0] + f"/{name}"
        assert bottleneck.ensure_schema(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def _columns(dsn: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """select table_name, column_name, data_type from information_schema.columns
               where table_schema = 'public' order by table_name, ordinal_position"""
        ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, {})[column] = dtype
    return out


def test_applying_twice_is_a_no_op(fresh_db: str) -> None:
    first = migrations.apply(fresh_db)
    assert first == [m.version for m in migrations.migrations()]
    assert first[0] == "0002_qbo_sync" and "0003_cdc" in first
    assert migrations.apply(fresh_db) == []
    assert set(migrations.applied(fresh_db)) == set(first)


def test_schema_equals_the_contract_tables_and_columns(fresh_db: str, stack: StackStatus) -> None:
    migrations.apply(fresh_db)
    contract = fixture_tables()
    assert _columns(fresh_db) == contract
    # ...and the stack's own database was built the same way.
    assert _columns(stack.postgres_dsn) == contract


def test_publication_captures_bottleneck_and_cdc_tables_never_qbo_sync(fresh_db: str) -> None:
    migrations.apply(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        published_rows = set(
            conn.execute("select schemaname || '.' || tablename from pg_publication_tables where pubname = 'bottleneck_cdc'").fetchall()
        )
        qbo_sync_tables = {r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = 'qbo_sync'")}
    published = {p[0] for p in published_rows}
    assert published == {f"public.{t}" for t in fixture_tables()} | {"cdc.debezium_signal", "cdc.heartbeat"}
    assert {"id_map", "oauth_tokens", "cdc_checkpoints", "schema_migrations"} <= qbo_sync_tables


def test_id_map_defaults_and_lookup_index(fresh_db: str) -> None:
    migrations.apply(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        conn.execute(
            """insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id)
               values (1, 'customer', 7, 'r1', 'Customer', '58')"""
        )
        assert conn.execute("select status from qbo_sync.id_map").fetchone() == ("synced",)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                """insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id)
                   values (1, 'customer', 7, 'r1', 'Customer', '59')"""
            )
        conn.rollback()
        indexed = conn.execute(
            """select count(*) from pg_indexes where schemaname = 'qbo_sync' and tablename = 'id_map'
               and indexdef like '%(realm_id, qbo_entity, qbo_id)%'"""
        ).fetchone()[0]
        assert indexed >= 1


def test_an_edited_applied_migration_is_refused(fresh_db: str, tmp_path: Path) -> None:
    for m in migrations.migrations():
        shutil.copy(m.path, tmp_path / m.path.name)
    migrations.apply(fresh_db, tmp_path)
    edited = tmp_path / "0002_qbo_sync.sql"
    edited.write_text(edited.read_text() + "\n-- edited\n")
    with pytest.raises(migrations.MigrationError, match="0002_qbo_sync changed after it was applied"):
        migrations.apply(fresh_db, tmp_path)


def test_updated_at_is_touched_unless_set_explicitly(pg_conn: psycopg.Connection) -> None:
    company = pg_conn.execute("insert into companies (name, updated_at) values ('touch', '2020-01-01T00:00:00Z') returning id").fetchone()[
        0
    ]
    pg_conn.execute("update companies set name = 'touched' where id = %s", (company,))
    year = pg_conn.execute("select extract(year from updated_at) from companies where id = %s", (company,)).fetchone()[0]
    assert year > 2020
    pg_conn.execute("update companies set updated_at = '2021-06-01T00:00:00Z' where id = %s", (company,))
    year = pg_conn.execute("select extract(year from updated_at) from companies where id = %s", (company,)).fetchone()[0]
    assert year == 2021
