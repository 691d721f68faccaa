"""Versioned SQL migrations (``NNNN_name.sql`` beside this file), applied in order, each once.

Bookkeeping lives in ``qbo_sync.schema_migrations`` (version + checksum): re-running is a no-op, and a
migration edited after it was applied is refused rather than silently skipped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every runner so concurrent `apply`s serialize.
_LOCK_KEY = 0x5142_4D49  # "QBMI"


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


def _ensure_bookkeeping(conn: psycopg.Connection) -> None:
    conn.execute("create schema if not exists qbo_sync")
    conn.execute(
        """create table if not exists qbo_sync.schema_migrations (
               version     text primary key,
               checksum    text not null,
               applied_at  timestamptz not null default now())"""
    )


def applied(dsn: str) -> dict[str, str]:
    """Versions already applied, with their checksums."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _ensure_bookkeeping(conn)
        rows = conn.execute("select version, checksum from qbo_sync.schema_migrations").fetchall()
    return dict(rows)


def apply(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the versions applied now."""
    done: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            _ensure_bookkeeping(conn)
            have: dict[str, str] = dict(conn.execute("select version, checksum from qbo_sync.schema_migrations").fetchall())
            for mig in migrations(directory):
                if mig.version in have:
                    if have[mig.version] != mig.checksum:
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
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done
