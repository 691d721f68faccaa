"""The worker's admin listener: the status page, its JSON, health and Prometheus metrics.

A second aiohttp site on ``BQ_ADMIN_HOST:BQ_ADMIN_PORT`` (default 127.0.0.1:6067), separate from the
public port that Intuit's webhooks reach: what is stuck in the sync is nobody else's business. Started
and stopped with the worker (a ``mode.Service``); ``BQ_ADMIN_PORT=0`` turns it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import mode
import psycopg
from aiohttp import web

from bottleneck_qbo import metrics
from bottleneck_qbo.ops.deadletters import LetterReader
from bottleneck_qbo.ops.status import StatusReport, collect
from streams.app import app, settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "admin_static"
REPORT_TTL_S = 1.5  # the page polls every 2 s; several open pages share one collection
READY_TTL_S = 2.0


class _Reports:
    """Status reports, collected in a thread (the ops readers are synchronous), cached briefly."""

    def __init__(self) -> None:
        self._cache: dict[int | None, tuple[float, StatusReport]] = {}
        self._reader = LetterReader(settings)  # reads only new dead letters on each refresh
        self._lock = asyncio.Lock()

    async def get(self, company: int | None) -> StatusReport:
        async with self._lock:
            hit = self._cache.get(company)
            if hit and time.monotonic() - hit[0] < REPORT_TTL_S:
                return hit[1]
            report = await asyncio.get_running_loop().run_in_executor(None, lambda: collect(settings, company, reader=self._reader))
            self._cache[company] = (time.monotonic(), report)
            return report


_reports = _Reports()
_ready_cache: tuple[float, bool, dict[str, Any]] | None = None


async def _postgres_answers() -> bool:
    try:
        conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(settings.postgres_dsn, connect_timeout=2, autocommit=True), 3)
        try:
            await asyncio.wait_for(conn.execute("select 1"), 2)
        finally:
            await conn.close()
        return True
    except Exception:
        return False


async def _kafka_answers() -> bool:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(client.bootstrap(), 3)  # a metadata round trip, not just a TCP connect
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def readiness() -> tuple[bool, dict[str, Any]]:
    """Ready: partitions assigned (not rebalancing), Postgres and Kafka answer. Cached for 2 s so a busy
    load balancer does not open a connection per probe."""
    global _ready_cache
    if _ready_cache and time.monotonic() - _ready_cache[0] < READY_TTL_S:
        return _ready_cache[1], _ready_cache[2]
    try:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
    except Exception:  # ConsumerNotStarted while the worker starts: not ready, not a 500
        assigned = 0
    pg_ok, kafka_ok = await asyncio.gather(_postgres_answers(), _kafka_answers())
    checks = {
        "assigned_partitions": assigned,
        "rebalancing": bool(app.rebalancing),
        "postgres": pg_ok,
        "kafka": kafka_ok,
    }
    ready = assigned > 0 and not app.rebalancing and pg_ok and kafka_ok
    _ready_cache = (time.monotonic(), ready, checks)
    return ready, checks


async def health_live(request: web.Request) -> web.Response:
    return web.json_response({"live": True})


async def health_ready(request: web.Request) -> web.Response:
    ready, checks = await readiness()
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)


def _company(request: web.Request) -> int | None:
    raw = request.query.get("company", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise web.HTTPBadRequest(text="company must be a number")
    return int(raw)


async def api_status(request: web.Request) -> web.Response:
    report = await _reports.get(_company(request))
    return web.Response(text=report.model_dump_json(), content_type="application/json", headers={"Cache-Control": "no-store"})


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "status.html", headers={"Cache-Control": "no-store"})


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def ops_metrics_text(report: StatusReport, budget: dict[str, tuple[int, int]]) -> str:
    lines = ["# HELP bq_consumer_lag Records not yet consumed by the worker group, per topic-partition", "# TYPE bq_consumer_lag gauge"]
    lines += [f'bq_consumer_lag{{topic="{_label(p.topic)}",partition="{p.partition}"}} {p.lag}' for p in report.consumer_lag]
    lines += ["# HELP bq_replication_slot_lag_bytes WAL not yet confirmed by Debezium", "# TYPE bq_replication_slot_lag_bytes gauge"]
    lines += [f'bq_replication_slot_lag_bytes{{slot="{_label(s.slot_name)}"}} {s.lag_bytes or 0}' for s in report.replication_slots]
    lines += ["# HELP bq_parked_documents_by_state Documents parked in qbo_sync.sync_parking", "# TYPE bq_parked_documents_by_state gauge"]
    for state in ("waiting", "retry", "conflict", "dead"):
        lines.append(f'bq_parked_documents_by_state{{state="{state}"}} {getattr(report.totals, state)}')
    lines += ["# HELP bq_dead_letters_open Dead letters not yet retried or dropped", "# TYPE bq_dead_letters_open gauge"]
    lines.append(f"bq_dead_letters_open {report.dead_letters.open}")
    lines += ["# HELP bq_qbo_budget_used Requests in the realm's current rate window", "# TYPE bq_qbo_budget_used gauge"]
    lines += [f'bq_qbo_budget_used{{realm="{_label(r)}"}} {used}' for r, (used, _) in sorted(budget.items())]
    lines += ["# HELP bq_qbo_budget_limit Requests allowed per rate window", "# TYPE bq_qbo_budget_limit gauge"]
    lines += [f'bq_qbo_budget_limit{{realm="{_label(r)}"}} {limit}' for r, (_, limit) in sorted(budget.items())]
    lines += ["# HELP bq_status_source_up 1 when the status source answered", "# TYPE bq_status_source_up gauge"]
    for source in ("postgres", "kafka", "connect", "dead_letters", "webhooks"):
        lines.append(f'bq_status_source_up{{source="{source}"}} {0 if source in report.errors else 1}')
    return "\n".join(lines) + "\n"


async def metrics_view(request: web.Request) -> web.Response:
    from streams.runtime import current_runtime

    report = await _reports.get(None)
    for state in ("waiting", "retry", "conflict", "dead"):
        metrics.parked_documents.labels(state).set(getattr(report.totals, state))
    rt = current_runtime()
    budget = rt.qbo.limiters.usage() if rt is not None else {}
    body = metrics.render().decode() + (rt.qbo_metrics_text() if rt is not None else "") + ops_metrics_text(report, budget)
    return web.Response(text=body, content_type="text/plain", charset="utf-8", headers={"X-Content-Type": "version=0.0.4"})


def make_app() -> web.Application:
    admin = web.Application()
    admin.router.add_get("/", page)
    admin.router.add_get("/status", page)
    admin.router.add_get("/api/status", api_status)
    admin.router.add_get("/health/live", health_live)
    admin.router.add_get("/health/ready", health_ready)
    admin.router.add_get("/metrics", metrics_view)
    return admin


@app.service
class AdminListener(mode.Service):
    """The admin site, alongside Faust's own web server (which keeps the public port)."""

    _runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        if not settings.admin_port:
            log.info("admin listener disabled (BQ_ADMIN_PORT=0)")
            return
        self._runner = web.AppRunner(make_app(), access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, settings.admin_host, settings.admin_port).start()
        except OSError as exc:
            # Several workers on one host: the first serves the page; the others keep syncing without it.
            log.warning(
                "admin listener not started on %s:%s (%s); another worker may serve it", settings.admin_host, settings.admin_port, exc
            )
            await self._runner.cleanup()
            self._runner = None
            return
        log.info("admin listener (status page, /metrics, /health) on http://%s:%s/", settings.admin_host, settings.admin_port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
