"""Pending OAuth consents: the CSRF ``state`` sent to Intuit, and which company it connects."""

from __future__ import annotations

import psycopg

from sinks.qbo.oauth_connect import new_state

# States older than this are refused: a consent link is for now, not for later.
STATE_TTL = "30 minutes"


def remember_state(dsn: str, company_id: int) -> str:
    state = new_state()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Checked here rather than by a foreign key into Bottleneck's table (see migration 0006).
        if not conn.execute("select 1 from public.companies where id = %s", (company_id,)).fetchone():
            raise ValueError(f"no Bottleneck company {company_id}")
        conn.execute("insert into qbo_sync.oauth_pending (state, company_id) values (%s, %s)", (state, company_id))
    return state


def take_state(dsn: str, state: str) -> int | None:
    """The company a state was issued for (consumed: a state works once), or None if unknown/expired."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            f"delete from qbo_sync.oauth_pending where state = %s and created_at > now() - interval '{STATE_TTL}' returning company_id",
            (state,),
        ).fetchone()
    return int(row[0]) if row else None
