"""The product's own database objects, installed next to an existing Bottleneck database.

Versioned SQL migrations (``NNNN_name.sql`` beside this file, shipped as package data), applied in order,
each once: schema ``qbo_sync`` (id map, tokens, parking, checkpoints), schema ``cdc`` (Debezium's signal
and heartbeat tables) and the publication. They never create or alter Bottleneck's tables: Bottleneck's
schema must exist first (the local stack creates a stand-in from ``infra/bottleneck/schema.sql``).

Two steps are not versioned migrations because they depend on the deployment:
- ``grant_cdc_role``: the CDC role's rights (its name is ``settings.pg_cdc_user``), re-granted on every run.
- ``set_replica_identity``: ``REPLICA IDENTITY FULL`` on Bottleneck's line tables. It alters Bottleneck's
  tables, so it only runs when asked (``bottleneck-qbo migrate --set-replica-identity``);
  ``replica_identity_report`` says what is missing.

Bookkeeping lives in ``qbo_sync.schema_migrations`` (version + checksum): re-running is a no-op, and a
migration edited after it was applied is refused rather than silently skipped (``SUPERSEDED`` lists the
earlier texts a deployment may have recorded and that are accepted as the current one).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from connectors.debezium.columns import BOTTLENECK_TABLES

MIGRATIONS_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every runner so concurrent `apply`s serialize.
_LOCK_KEY = 0x5142_4D49  # "QBMI"

# Release 0.1 kept Bottleneck's schema in migration 0001_bottleneck_schema (a deployment that applied it
# keeps its bookkeeping row; nothing reads it) and these earlier texts, accepted as already applied:
SUPERSEDED: dict[str, frozenset[str]] = {
    # also set REPLICA IDENTITY FULL on the line tables and granted to the role `dbz` by name
    "0003_cdc": frozenset({"06567bcb5e5ad3af3d8d4ce032915b73c04caf80bd5ff7874385f6cbaba3b368"}),
    # had a foreign key into public.companies (0006 drops it)
    "0005_oauth_pending": frozenset({"287ec30742757967d19f3780c9ff3c31769962edf5173738e3cdd13bf36cb477"}),
}

# Bottleneck's tables the product reads (and the publication lists): they must exist before `apply`.
CAPTURED_TABLES: tuple[str, ...] = tuple(f"{spec.schema}.{spec.name}" for spec in BOTTLENECK_TABLES.values())
# Line tables carry their parent's id only in the row; with the default replica identity a delete's
# `before` holds just the line's own id, and the parent document could not be found. FULL puts the
# whole old row in the event.
FULL_IDENTITY_TABLES: tuple[str, ...] = (
    "public.sales_order_lines",
    "public.invoice_lines",
    "public.purchase_order_lines",
    "public.bill_lines",
    "public.ship_job_lines",
    "public.receive_job_lines",
)
CDC_TABLES: tuple[str, ...] = ("cdc.debezium_signal", "cdc.heartbeat")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file name must look like 0001_name.sql: {path.name}")
        found.append(Migration(version=path.stem, path=path))
    return found


def _ident(qualified: str) -> sql.Identifier:
    schema, name = qualified.split(".", 1)
    return sql.Identifier(schema, name)


def _ensure_bookkeeping(conn: psycopg.Connection) -> None:
    conn.execute("create schema if not exists qbo_sync")
    conn.execute(
        """create table if not exists qbo_sync.schema_migrations (
               version     text primary key,
               checksum    text not null,
               applied_at  timestamptz not null default now())"""
    )


def missing_bottleneck_tables(conn: psycopg.Connection) -> list[str]:
    return [t for t in CAPTURED_TABLES if conn.execute("select to_regclass(%s)", (t,)).fetchone() == (None,)]


def applied(dsn: str) -> dict[str, str]:
    """Versions already applied, with their checksums."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _ensure_bookkeeping(conn)
        rows = conn.execute("select version, checksum from qbo_sync.schema_migrations").fetchall()
    return dict(rows)


def apply(dsn: str, directory: Path = MIGRATIONS_DIR, cdc_role: str | None = None, require_bottleneck: bool = True) -> list[str]:
    """Apply pending migrations, each in its own transaction, then grant ``cdc_role`` its rights (if
    given and the role exists). Returns the versions applied now."""
    done: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            missing = missing_bottleneck_tables(conn) if require_bottleneck else []
            if missing:
                raise MigrationError(
                    f"Bottleneck's tables are missing ({', '.join(missing)}): migrate installs next to an existing "
                    "Bottleneck database and never creates its tables"
                )
            _ensure_bookkeeping(conn)
            have: dict[str, str] = dict(conn.execute("select version, checksum from qbo_sync.schema_migrations").fetchall())
            for mig in migrations(directory):
                if mig.version in have:
                    if have[mig.version] != mig.checksum and have[mig.version] not in SUPERSEDED.get(mig.version, ()):
                        raise MigrationError(f"migration {mig.version} changed after it was applied; add a new migration instead")
                    continue
                try:
                    with conn.transaction():
                        conn.execute(mig.sql)
                        conn.execute(
                            "insert into qbo_sync.schema_migrations (version, checksum) values (%s, %s)",
                            (mig.version, mig.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {mig.version} failed: {exc}") from exc
                done.append(mig.version)
            if cdc_role:
                grant_cdc_role(conn, cdc_role)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done


def grant_cdc_role(conn: psycopg.Connection, role: str) -> bool:
    """What Debezium's role needs: read the captured tables (snapshots), write the signal and heartbeat
    tables. False if the role does not exist (it is created by whoever runs Debezium, with REPLICATION)."""
    if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
        return False
    who = sql.Identifier(role)
    with conn.transaction():
        conn.execute(sql.SQL("grant usage on schema public, cdc to {}").format(who))
        conn.execute(sql.SQL("grant select on {} to {}").format(sql.SQL(", ").join(_ident(t) for t in CAPTURED_TABLES), who))
        conn.execute(
            sql.SQL("grant select, insert, update, delete on {} to {}").format(sql.SQL(", ").join(_ident(t) for t in CDC_TABLES), who)
        )
    return True


def replica_identity_report(dsn: str) -> dict[str, str]:
    """The line tables whose replica identity is not FULL, with the statement that fixes each."""
    out: dict[str, str] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in FULL_IDENTITY_TABLES:
            row = conn.execute("select relreplident from pg_class where oid = to_regclass(%s)", (table,)).fetchone()
            if row is None:
                raise MigrationError(f"Bottleneck's table {table} is missing")
            if row[0] != "f":
                out[table] = f"alter table {table} replica identity full;"
    return out


def set_replica_identity(dsn: str) -> list[str]:
    """``REPLICA IDENTITY FULL`` on the line tables that lack it (alters Bottleneck's tables: run by an
    owner, briefly locks each table). Returns the tables changed."""
    todo = list(replica_identity_report(dsn))
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in todo:
            conn.execute(sql.SQL("alter table {} replica identity full").format(_ident(table)))
    return todo
