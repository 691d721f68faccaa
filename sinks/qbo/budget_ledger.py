"""A realm's QBO budget shared by every worker process: a Postgres ledger of token blocks.

Why a ledger and not "all of a realm's traffic on one worker": a realm's calls come from three routes
keyed differently (outbound documents by company partition, payment fetches by webhook partition, CDC
polls by ``owned_realms``); pinning all three to one process would need a custom partition assignor
and would still break during every rebalance. Postgres is already the worker's durable store, so the
budget lives there (``qbo_sync.qbo_budget_grant``, migration 0012).

How: a process takes a *block* of tokens (``reserve``: one call of ``qbo_sync.reserve_qbo_budget``,
which locks the realm's row, so the sum over processes of the grants inside the window never exceeds
the limit). The local limiter spends the block without further queries: one query per K requests. A
block must be spent within a short lifetime and the ledger counts it for window + lifetime after the
grant, so a block spent late still falls inside the counted span; a crashed process holds at most one
block, for one window. A 429 seen anywhere is recorded as the realm's cool-down (``cool_down``): every
process's next reservation waits it out.

If Postgres does not answer within ``timeout_s`` the ledger raises ``LedgerUnavailable`` and the limiter
falls back to its fair share (limit / expected processes) for a while: the sum stays near the budget,
and a 429 (QBO's own counter) still pauses the realm.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import psycopg

from sinks.postgres import Database

__all__ = ["BudgetKind", "BudgetLedger", "Grant", "LedgerUnavailable", "PostgresBudgetLedger", "default_holder"]

log = logging.getLogger(__name__)

BudgetKind = Literal["request", "batch"]


@dataclass(frozen=True)
class Grant:
    """``granted`` tokens (0: none free); then ``wait_s`` until some free up, or ``cooldown_s`` left of a
    realm-wide pause after a 429."""

    granted: int
    wait_s: float = 0.0
    cooldown_s: float = 0.0


class LedgerUnavailable(Exception):
    """The shared ledger did not answer (Postgres down, slow, or not migrated)."""


class BudgetLedger(Protocol):
    async def reserve(self, realm_id: str, kind: BudgetKind, *, want: int, need: int, limit: int, window_s: float) -> Grant: ...

    async def cool_down(self, realm_id: str, seconds: float) -> None: ...


class PostgresBudgetLedger:
    def __init__(self, db: Database, *, holder: str, timeout_s: float = 2.0) -> None:
        self._db = db
        self.holder = holder  # who took a block (diagnostics only: host:pid)
        self.timeout_s = timeout_s
        self.queries = 0  # round trips made (the bench and tests read it: one per block, not per request)

    async def reserve(self, realm_id: str, kind: BudgetKind, *, want: int, need: int, limit: int, window_s: float) -> Grant:
        self.queries += 1
        row = await self._call(
            "select granted, wait_s, cooldown_s from qbo_sync.reserve_qbo_budget(%s, %s, %s, %s, %s, %s, %s)",
            (realm_id, kind, want, need, limit, window_s, self.holder),
        )
        if row is None:
            raise LedgerUnavailable("reserve_qbo_budget returned no row")
        return Grant(granted=int(row["granted"]), wait_s=float(row["wait_s"]), cooldown_s=float(row["cooldown_s"]))

    async def cool_down(self, realm_id: str, seconds: float) -> None:
        self.queries += 1
        await self._call("select qbo_sync.cool_down_qbo_budget(%s, %s) as done", (realm_id, seconds))

    async def _call(self, sql: str, params: tuple[object, ...]) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self._db.fetchone(sql, params), self.timeout_s)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            raise LedgerUnavailable(type(exc).__name__) from exc


def default_holder() -> str:
    """host:pid:start, naming the process that took a block."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
