"""The worker's shared objects, built once per process inside the worker's event loop.

One QBO client (so one per-realm limiter and one token manager for every agent), the sync engine and
its Postgres connections. Agents call ``await get_runtime()``; nothing here imports an agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from bottleneck_qbo.settings import Settings, get_settings
from sinks.qbo.auth import PostgresTokenStore
from sinks.qbo.client import QboClient
from sinks.qbo.idmap import IdMap
from streams.engine.docref import DocRef
from streams.engine.engine import SyncEngine
from streams.engine.parking import Parking
from streams.engine.source import Source
from streams.processors.registry import REGISTRY

log = logging.getLogger(__name__)

_COMPANY_CACHE_SIZE = 100_000


def worker_qbo_settings(settings: Settings) -> Settings:
    """The worker never waits out a 429, nor a realm's spent request budget, inside an agent: the
    engine parks the document until the realm's budget frees up, so one busy or throttled realm cannot
    hold up the others sharing its partition. (Waits up to a second just pace the calls.)"""
    update: dict[str, object] = {"qbo_rate_limit_max_retries": 0}
    if settings.qbo_local_wait_max_s is None:
        update["qbo_local_wait_max_s"] = 1.0
    return settings.model_copy(update=update)


class Runtime:
    def __init__(self, settings: Settings, qbo: QboClient) -> None:
        self.settings = settings
        self.qbo = qbo
        self.registry = REGISTRY
        # A document's company never changes: remember it instead of asking Postgres per line event.
        self._company_of: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._heal_lock = asyncio.Lock()

    async def _connect(self) -> None:
        dsn = self.settings.postgres_dsn
        self.source = await Source.connect(dsn)
        self.idmap = await IdMap.connect(dsn)
        self.parking = await Parking.connect(dsn)
        self.engine = SyncEngine(
            self.source,
            self.qbo,
            self.idmap,
            self.parking,
            REGISTRY,
            retry_base_delay_s=self.settings.retry_base_delay_s,
            retry_max_delay_s=self.settings.retry_max_delay_s,
            retry_max_attempts=self.settings.retry_max_attempts,
        )

    @classmethod
    async def create(cls, settings: Settings) -> Runtime:
        qbo = QboClient.from_settings(worker_qbo_settings(settings), PostgresTokenStore.from_settings(settings))
        rt = cls(settings, qbo)
        await rt._connect()
        return rt

    async def heal(self) -> None:
        """Reconnect to Postgres if a connection was lost (a restart, a terminated backend), so the
        worker recovers by itself instead of failing every document until it is restarted."""
        if not (self.source.broken or self.idmap.broken or self.parking.broken):
            return
        async with self._heal_lock:  # companies sync concurrently: reconnect once
            if not (self.source.broken or self.idmap.broken or self.parking.broken):
                return
            log.warning("lost a connection to Bottleneck's database; reconnecting")
            for closeable in (self.source, self.idmap, self.parking):
                try:
                    await closeable.close()
                except Exception:
                    pass
            await self._connect()

    async def resolve_company(self, ref: DocRef) -> DocRef | None:
        """``ref`` with its company filled in, or None when the row is gone and was never synced."""
        if ref.company_id is not None:
            return ref
        key = (ref.entity_type, ref.local_id)
        company = self._company_of.get(key)
        if company is None:
            processor = self.registry.get(ref.entity_type)
            if processor is not None:
                company = await self.source.company_of(processor.table, ref.local_id)
            if company is None:
                entry = await self.idmap.find(ref.entity_type, ref.local_id)
                company = entry.company_id if entry else None
            if company is None:
                return None
            self._company_of[key] = company
            if len(self._company_of) > _COMPANY_CACHE_SIZE:
                self._company_of.popitem(last=False)
        return ref.model_copy(update={"company_id": company})

    def qbo_metrics_text(self) -> str:
        return self.qbo.stats.prometheus_text()

    async def close(self) -> None:
        await self.qbo.aclose()
        for closeable in (self.source, self.idmap, self.parking):
            await closeable.close()


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
