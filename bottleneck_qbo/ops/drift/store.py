"""Where drift is kept: ``qbo_sync.drift_policy`` (per company) and ``qbo_sync.drift`` (migration 0014).

Sync functions for the CLI and the status report; the worker's detector writes through its own pool
(``bottleneck_qbo.ops.drift.detect``) with the same SQL shapes.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import psycopg
from psycopg.rows import dict_row, tuple_row

Policy = Literal["bottleneck_wins", "report"]
POLICIES: tuple[str, ...] = get_args(Policy)
DEFAULT_POLICY: Policy = "bottleneck_wins"

POLICY_SQL = "select policy from qbo_sync.drift_policy where company_id = %s"
OPEN_COLUMNS = (
    "id, company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id, qbo_sync_token, qbo_updated_at, fields, policy, action, "
    "detected_at, last_seen_at"
)


def get_policy(conn: psycopg.Connection[Any], company_id: int) -> Policy:
    with conn.cursor(row_factory=tuple_row) as cur:  # whatever rows the caller's connection makes
        row = cur.execute(POLICY_SQL, (company_id,)).fetchone()
    return str(row[0]) if row else DEFAULT_POLICY  # type: ignore[return-value]


def set_policy(conn: psycopg.Connection[Any], company_id: int, policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown drift policy {policy!r}; use one of {', '.join(POLICIES)}")
    conn.execute(
        "insert into qbo_sync.drift_policy (company_id, policy) values (%s, %s) "
        "on conflict (company_id) do update set policy = excluded.policy, updated_at = now()",
        (company_id, policy),
    )


def open_drift(conn: psycopg.Connection[Any], company_id: int | None = None, *, entity: str | None = None) -> list[dict[str, Any]]:
    """Drift recorded and not yet resolved (newest first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"select {OPEN_COLUMNS} from qbo_sync.drift where resolved_at is null "
            "and (%s::bigint is null or company_id = %s) and (%s::text is null or entity_type = %s) order by detected_at desc",
            (company_id, company_id, entity, entity),
        )
        return list(cur.fetchall())


def open_counts(conn: psycopg.Connection[Any], company_id: int | None = None) -> dict[tuple[int, str], int]:
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            "select company_id, entity_type, count(*) from qbo_sync.drift where resolved_at is null "
            "and (%s::bigint is null or company_id = %s) group by 1, 2",
            (company_id, company_id),
        ).fetchall()
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}


def take_over_reported(conn: psycopg.Connection[Any], company_id: int) -> list[tuple[str, int]]:
    """The company switched to ``bottleneck_wins``: its open reported drift is to be re-pushed now (the
    changes may be past the CDC window). Clears their payload hash and parking as ``reconcile --fix``
    does; returns (entity type, local id) for the caller to queue as forced touches."""
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            "update qbo_sync.drift set policy = 'bottleneck_wins', action = 're-pushed' "
            "where company_id = %s and resolved_at is null and action = 'reported' returning entity_type, local_id",
            (company_id,),
        ).fetchall()
        for entity_type, local_id in rows:
            where = (company_id, entity_type, local_id)
            cur.execute(
                "update qbo_sync.id_map set payload_hash = null where company_id = %s and entity_type = %s and local_id = %s", where
            )
            cur.execute("delete from qbo_sync.sync_parking where company_id = %s and entity_type = %s and local_id = %s", where)
    return [(str(r[0]), int(r[1])) for r in rows]


def describe(fields: list[dict[str, Any]], limit: int = 3) -> str:
    """The changed fields as a person reads them: ``field: bottleneck -> qbo``."""
    shown = [f"{f.get('field')}: {f.get('bottleneck')} -> {f.get('qbo')}" for f in fields[:limit]]
    more = f" (+{len(fields) - limit} more)" if len(fields) > limit else ""
    return "; ".join(shown) + more
