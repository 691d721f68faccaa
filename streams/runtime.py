"""The worker's shared objects, built once per process inside the worker's event loop.

One QBO client (so one per-realm limiter and one token manager for every agent), the sync engine and
its Postgres connections. Agents call ``await get_runtime()``; nothing here imports an agent.
"""

from __future__ import annotations

import asyncio
import logging

from bottleneck_qbo.settings import Settings, get_settings
from sinks.postgres import Database
from sinks.qbo.auth import PostgresTokenStore
from sinks.qbo.budget_ledger import PostgresBudgetLedger, default_holder
from sinks.qbo.client import QboClient
from sinks.qbo.idmap import IdMap
from sinks.qbo.shared_budget import SharedBudgetConfig
from streams.engine.docref import DocRef
from streams.engine.engine import SyncEngine
from streams.engine.parking import Parking
from streams.engine.source import Source
from streams.processors.registry import REGISTRY

log = logging.getLogger(__name__)


def worker_qbo_settings(settings: Settings) -> Settings:
    """The worker never waits out a 429, nor a realm's spent request budget, inside an agent: the
    engine parks the document until the realm's budget frees up, so one busy or throttled realm cannot
    hold up the others sharing its partition. (Waits up to a second just pace the calls.)"""
    update: dict[str, object] = {"qbo_rate_limit_max_retries": 0}
    if settings.qbo_local_wait_max_s is None:
        update["qbo_local_wait_max_s"] = 1.0
    return settings.model_copy(update=update)


def share_realm_budgets(qbo: QboClient, settings: Settings, db: Database) -> None:
    """Charge this process's QBO calls (made in the running loop) to each realm's shared ledger as well:
    the workers, and a command that calls QBO beside them (``reconcile``), spend one budget per realm."""
    if settings.qbo_shared_budget:
        shared = SharedBudgetConfig(block=settings.qbo_budget_block, processes=settings.qbo_budget_processes)
        qbo.limiters.attach_ledger(PostgresBudgetLedger(db, holder=default_holder()), shared)


class Runtime:
    def __init__(self, settings: Settings, qbo: QboClient, db: Database) -> None:
        self.settings = settings
        self.qbo = qbo
        self.registry = REGISTRY
        # One pool for the engine's reads and bookkeeping; it replaces connections Postgres dropped
        # (a restart, a terminated backend), so the worker recovers by itself (sinks/postgres.py).
        self.db = db
        self.source = Source(db)
        self.idmap = IdMap(db)
        self.parking = Parking(db)
        self.engine = SyncEngine(
            self.source,
            self.qbo,
            self.idmap,
            self.parking,
            REGISTRY,
            retry_base_delay_s=settings.retry_base_delay_s,
            retry_max_delay_s=settings.retry_max_delay_s,
            retry_max_attempts=settings.retry_max_attempts,
            batch_min_docs=settings.qbo_batch_min_docs if settings.qbo_batch_enabled else None,
            batch_max_items=settings.qbo_batch_max_items,
        )

    @classmethod
    async def create(cls, settings: Settings) -> Runtime:
        db = await Database.open(settings.postgres_dsn, name="worker")
        qbo = QboClient.from_settings(worker_qbo_settings(settings), PostgresTokenStore.from_settings(settings, db=db))
        share_realm_budgets(qbo, settings, db)
        return cls(settings, qbo, db)

    async def resolve_company(self, ref: DocRef) -> DocRef | None:
        """``ref`` with its company filled in (the engine's one resolver), or None when the row is gone
        and was never synced."""
        return await self.engine.resolve_company(ref)

    def qbo_metrics_text(self) -> str:
        return self.qbo.stats.prometheus_text()

    async def close(self) -> None:
        await self.qbo.aclose()
        await self.db.close()


_runtime: Runtime | None = None
_lock: asyncio.Lock | None = None


async def get_runtime() -> Runtime:
    global _runtime, _lock
    if _runtime is None:
        if _lock is None:
            _lock = asyncio.Lock()
        async with _lock:
            if _runtime is None:
                _runtime = await Runtime.create(get_settings())
                log.info("runtime ready: QBO at %s, %d processors", _runtime.settings.qbo_base_url, len(REGISTRY))
    return _runtime


def current_runtime() -> Runtime | None:
    return _runtime
