"""A stand-in for Bottleneck's own database, for the local stack, docker-compose and the demo.

``schema.sql`` is Bottleneck's contract (``tests/fixtures/bottleneck-schema.sql``) plus the triggers and
indexes Bottleneck has. In production Bottleneck owns these tables; the product only installs its own
objects beside them (``bottleneck_qbo.migrations``).
"""

from __future__ import annotations

from pathlib import Path

import psycopg

SCHEMA_SQL = Path(__file__).resolve().parent / "schema.sql"


def ensure_schema(dsn: str) -> bool:
    """Create Bottleneck's tables unless ``companies`` exists (a stack created by release 0.1 has them
    from its migration 0001). True if created now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("select to_regclass('public.companies')").fetchone() != (None,):
            return False
        with conn.transaction():
            conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
    return True
