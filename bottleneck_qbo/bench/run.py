"""`bottleneck-qbo bench`: figures measured through the whole real stack on this machine.

1. Commit-to-QBO latency at a steady mixed load (sales orders, invoices, purchase orders, bills and
   customer edits): time from the Bottleneck COMMIT returning to QBO's answer being recorded in the id
   map (``qbo_sync.id_map.synced_at``, written as soon as QBO answers), p50/p95/p99/max.
2. Replay: the worker stopped, its group rewound to offset zero, restarted; events/s until it has caught
   up, and how many QBO writes that made (target: zero, nothing changed). The baseline is a plain
   kafka-python consumer reading the same topics in the same run.
3. QBO sink efficiency: a burst of customers into one realm; documents/min and requests/min against
   the limits, and the 429s QBO (the sandbox, enforcing QBO's published limits) answered.
4. Crash recovery: the worker SIGKILLed and started again; seconds from the new process starting to
   the first document committed after the kill being recorded as synced.
5. Peak resident memory of the worker (VmHWM).
6. Scaling out (``bottleneck_qbo.bench.scale_out``): before the replay the CDC topics are topped up to
   ``--replay-events`` events (set-based SQL); the replay is then also run with ``--workers`` workers.
Results are printed and written to ``bench-results/<time>.json``.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from bottleneck_qbo.kafka_config import kafka_python_kwargs
from bottleneck_qbo.ops.connect import connect_local
from bottleneck_qbo.ops.replay import reset_offsets
from bottleneck_qbo.settings import Settings, get_settings

LATENCY_TARGET_P50_MS = 150.0
LATENCY_TARGET_P99_MS = 300.0
RSS_TARGET_MB = 300.0
RECOVERY_TARGET_S = 10.0
CDC_TOPICS = r"bottleneck\.public\..+"
FIGURES = ("latency", "sink", "batch", "replay", "recovery")
# batch: the initial load of one realm, single-call path vs QBO's batch API. 1,000 by default, not
# 5,000: at QBO's 500 requests/min per realm (every batch item counts as one) 5,000 documents take >= 10 min
# per path; 1,000 spans three rolling windows, enough to show the sustained rate against the limits.
BATCH_DOCS = 1000
# the last latency run's samples (ms), for the plot; not part of the JSON (it would be thousands of numbers)
LATENCY_SAMPLES_MS: list[float] = []


@dataclass
class Figures:
    latency_ms: dict[str, float] = field(default_factory=dict)
    latency_documents: int = 0
    latency_rate_per_s: float = 0.0
    replay: dict[str, float] = field(default_factory=dict)
    sink: dict[str, float] = field(default_factory=dict)
    recovery: dict[str, float] = field(default_factory=dict)
    batch: dict[str, dict[str, float]] = field(default_factory=dict)  # "single" / "batch" -> figures
    worker_peak_rss_mb: float = 0.0
    scale_out: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _asyncio_run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def _sandbox_writes(settings: Settings) -> int:
    """Write requests the sandbox received, all realms together."""
    r = httpx.get(f"{settings.qbo_base_url}/__sandbox/stats", timeout=10)
    r.raise_for_status()
    return sum(int(realm["writes_total"]) for realm in r.json()["realms"].values())


def _sandbox_stats(settings: Settings, realm: str) -> dict[str, Any]:
    r = httpx.get(f"{settings.qbo_base_url}/__sandbox/stats", params={"realm": realm}, timeout=10)
    r.raise_for_status()
    return r.json()


def _wait_synced(
    conn: psycopg.Connection[Any], company: int, keys: list[tuple[str, int]], timeout_s: float
) -> dict[tuple[str, int], float]:
    """Epoch seconds at which each document's QBO answer was recorded."""
    deadline = time.monotonic() + timeout_s
    done: dict[tuple[str, int], float] = {}
    pending = set(keys)
    while pending and time.monotonic() < deadline:
        rows = conn.execute(
            "select entity_type, local_id, extract(epoch from synced_at) from qbo_sync.id_map"
            " where company_id = %s and qbo_id is not null and synced_at is not null",
            (company,),
        ).fetchall()
        for et, lid, ts in rows:
            k = (et, int(lid))
            if k in pending:
                done[k] = float(ts)
                pending.discard(k)
        time.sleep(0.2)
    if pending:
        raise TimeoutError(f"{len(pending)} of {len(keys)} documents not in QBO after {timeout_s:.0f} s, e.g. {sorted(pending)[:5]}")
    return done


def _new_company(settings: Settings, conn: psycopg.Connection[Any], label: str) -> tuple[int, str]:
    stamp = time.strftime("%Y%m%d%H%M%S")
    company = seed.company(conn, f"{label} {stamp}")
    # QBO realm ids are digits only (the client refuses anything else): 9, the company id, the time
    realm = f"9{company:06d}{time.time_ns() // 1_000_000}"
    _asyncio_run(connect_local(settings, company, realm))
    return company, realm


def latency_run(
    settings: Settings, conn: psycopg.Connection[Any], documents: int, rate: float, realms: int = 5, warmup_s: float = 0.0
) -> dict[str, float]:
    """``documents`` spread over ``realms`` companies (Bottleneck is multi-tenant): at the default 10/s
    that is 2 documents/s per realm, about 240 QBO requests/min, inside QBO's 500/min per realm.
    The bench's companies are disconnected afterwards (``qbo_realm_id`` null, as the worker reads it): a
    connected realm is CDC-polled and drift-checked by the worker for ever, and runs would pile them up."""
    companies: list[int] = []
    try:
        return _latency_run(settings, conn, documents, rate, realms, companies, warmup_s)
    finally:
        conn.execute("update companies set qbo_realm_id = null, updated_at = now() where id = any(%s)", (companies,))


def _drive(
    conn: psycopg.Connection[Any], tenants: list[tuple[int, list[int], list[int], list[int]]], numbers: range, rate: float
) -> dict[int, dict[tuple[str, int], float]]:
    """Commit documents ``numbers`` at ``rate``/s, round-robin over the tenants; when each was committed."""
    realms = len(tenants)
    committed: dict[int, dict[tuple[str, int], float]] = {t[0]: {} for t in tenants}
    interval = 1.0 / rate
    next_at = time.monotonic()
    for n in numbers:
        company, customers, vendors, items = tenants[n % realms]
        k = n // realms
        cust, vend = customers[k % len(customers)], vendors[k % len(vendors)]
        lines = [
            Line(items[k % len(items)], Decimal(1 + k % 7), Decimal("9.50")),
            Line(items[(k + 1) % len(items)], Decimal(2), Decimal("9.50")),
        ]
        kind = k % 4
        if kind == 0:
            key = ("sales_order", seed.sales_order(conn, company, f"SO-{k}", cust, lines))
        elif kind == 1:
            key = ("invoice", seed.invoice(conn, company, f"INV-{k}", cust, lines))
        elif kind == 2:
            key = ("purchase_order", seed.purchase_order(conn, company, f"PO-{k}", vend, lines)[0])
        else:
            key = ("bill", seed.bill(conn, company, f"B-{k}", vend, lines))
        committed[company][key] = time.time()
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return committed


def _latencies(conn: psycopg.Connection[Any], committed: dict[int, dict[tuple[str, int], float]]) -> list[float]:
    """Commit -> in QBO (the id map's synced_at), in ms, once every document is there."""
    lat: list[float] = []
    for company, docs in committed.items():
        synced = _wait_synced(conn, company, list(docs), timeout_s=300)
        lat += [(synced[k] - docs[k]) * 1000 for k in docs]
    return lat


def _latency_run(
    settings: Settings, conn: psycopg.Connection[Any], documents: int, rate: float, realms: int, companies: list[int], warmup_s: float
) -> dict[str, float]:
    tenants = []
    realm_ids: list[str] = []
    warm: list[tuple[int, list[tuple[str, int]]]] = []
    for r in range(realms):
        company, realm_id = _new_company(settings, conn, f"Latency {r}")
        companies.append(company)
        realm_ids.append(realm_id)
        customers = [seed.customer(conn, company, f"Bench customer {i}") for i in range(4)]
        vendors = [seed.vendor(conn, company, f"Bench vendor {i}") for i in range(2)]
        items = [
            seed.item(
                conn, company, f"SKU-{i}", f"Bench item {i}", "non_tracking", sales_price=Decimal("9.50"), purchase_cost=Decimal("3.25")
            )[0]
            for i in range(3)
        ]
        tenants.append((company, customers, vendors, items))
        warm.append((company, [("customer", c) for c in customers] + [("vendor", v) for v in vendors] + [("item", i) for i in items]))
    for company, keys in warm:
        _wait_synced(conn, company, keys, timeout_s=120)

    # A warm-up at the same rate first, reported on its own: a fresh stack's first seconds (JVM JIT in
    # Kafka and Connect, the worker's first connections) are not the steady path the target is about.
    n_warm = int(warmup_s * rate)
    warm_lat = _latencies(conn, _drive(conn, tenants, range(n_warm), rate)) if n_warm else []
    before = {r: int(_sandbox_stats(settings, r)["requests_total"]) for r in realm_ids}
    load_t0 = time.time()
    lat = _latencies(conn, _drive(conn, tenants, range(n_warm, n_warm + documents), rate))
    minutes = max(1e-9, time.time() - load_t0) / 60
    per_realm = [(int(_sandbox_stats(settings, r)["requests_total"]) - before[r]) / minutes for r in realm_ids]
    LATENCY_SAMPLES_MS[:] = sorted(lat)
    return {
        "requests_per_min_per_realm_max": max(per_realm),
        "requests_per_min_per_realm_mean": statistics.fmean(per_realm),
        "limit_requests_per_min": settings.qbo_requests_per_minute,
        "p50": _pct(lat, 50),
        "p95": _pct(lat, 95),
        "p99": _pct(lat, 99),
        "max": max(lat),
        "mean": statistics.fmean(lat),
        "realms": realms,
        "warmup_s": warmup_s,
        "warmup_documents": float(len(warm_lat)),
        "warmup_p50": _pct(warm_lat, 50) if warm_lat else 0.0,
        "warmup_p99": _pct(warm_lat, 99) if warm_lat else 0.0,
    }


def _total_messages(bootstrap: str, pattern: str) -> int:
    import re

    c = KafkaConsumer(**kafka_python_kwargs(get_settings(), bootstrap))
    try:
        topics = [t for t in c.topics() if re.fullmatch(pattern, t)]
        parts = [TopicPartition(t, p) for t in topics for p in c.partitions_for_topic(t) or ()]
        begin, end = c.beginning_offsets(parts), c.end_offsets(parts)
        return sum(end[tp] - begin[tp] for tp in parts)
    finally:
        c.close()


def _group_lag(bootstrap: str, group: str, pattern: str) -> int:
    import re

    admin = KafkaAdminClient(**kafka_python_kwargs(get_settings(), bootstrap))
    c = KafkaConsumer(**kafka_python_kwargs(get_settings(), bootstrap))
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        topics = [t for t in c.topics() if re.fullmatch(pattern, t)]
        parts = [TopicPartition(t, p) for t in topics for p in c.partitions_for_topic(t) or ()]
        end = c.end_offsets(parts)
        return sum(end[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0) for tp in parts)
    finally:
        admin.close()
        c.close()


def wait_caught_up(settings: Settings, below: int | None = None) -> tuple[float, tuple[float, int] | None]:
    """Until the worker has routed everything on the CDC topics and synced every document touch. Returns
    when (``perf_counter``), and the first time and CDC lag seen under ``below`` (None: never, or not asked)."""
    docs = settings.documents_topic.replace(".", r"\.")
    first: tuple[float, int] | None = None
    while True:
        cdc = _group_lag(settings.kafka_bootstrap, settings.worker_id, CDC_TOPICS)
        now = time.perf_counter()
        if first is None and below is not None and cdc < below:
            first = (now, cdc)
        if cdc == 0 and _group_lag(settings.kafka_bootstrap, settings.worker_id, docs) == 0:
            return now, first
        time.sleep(0.25)


def replay_clock(settings: Settings, total: int, t0: float) -> dict[str, float]:
    """Wait until the group has caught up after a replay of ``total`` events started at ``t0``; the time
    with the worker's start-up and group join, and the steady rate: from the first committed progress to
    caught up (the bare Faust baseline's clock also starts at its first event, not at its start-up)."""
    now, first = wait_caught_up(settings, below=total)
    elapsed = now - t0
    steady = first[1] / (now - first[0]) if first is not None and now > first[0] and first[1] > 0 else 0.0
    return {
        "seconds_incl_worker_start": elapsed,
        "events_per_s_incl_worker_start": total / elapsed if elapsed > 0 else 0.0,
        "events_per_s": steady or (total / elapsed if elapsed > 0 else 0.0),
    }


def raw_consume_rate(bootstrap: str, pattern: str, total: int) -> float:
    consumer = KafkaConsumer(
        **kafka_python_kwargs(get_settings(), bootstrap),
        group_id=f"bench-raw-{time.time_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
        max_poll_records=2000,
    )
    consumer.subscribe(pattern=pattern)
    n = 0
    t0 = time.perf_counter()
    for msg in consumer:
        if msg.value is not None:
            # an undecodable record (the tests write some on purpose) costs the same to skip
            with contextlib.suppress(ValueError):
                json.loads(msg.value)  # the same decoding work the worker's first step does
        n += 1
        if n >= total:
            break
    elapsed = time.perf_counter() - t0
    consumer.close()
    return n / elapsed if elapsed > 0 else 0.0


def _reset_offsets_when_group_empty(settings: Settings, timeout_s: float = 60.0) -> None:
    """A stopped static member (group.instance.id) stays in the group until its session times out, and
    the broker refuses offset commits for the group until then: retry until it accepts."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            reset_offsets(settings, settings.worker_id, [CDC_TOPICS])
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def bare_faust_rate(settings: Settings, total: int, timeout_s: float = 600.0) -> float:
    """events/s of a bare Faust agent (decode + draft filter) over the same topics, from offset zero."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bare.json"
        log = (settings.run_dir / "logs" / "bench-bare-faust.log").open("w")
        port = settings.worker_web_port + 1000
        proc = subprocess.Popen(
            [sys.executable, "-m", "bottleneck_qbo.bench.bare_faust", settings.kafka_bootstrap, str(total), str(out), str(port), tmp],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not out.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    return 0.0
                time.sleep(0.5)
            time.sleep(0.2)  # the writer has finished the file
            return float(json.loads(out.read_text())["events_per_s"])
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def replay_run(settings: Settings) -> dict[str, float]:
    from infra.stack.worker import Worker

    worker = Worker(settings)
    worker.stop()
    writes_before = _sandbox_writes(settings)
    _reset_offsets_when_group_empty(settings)
    total = _total_messages(settings.kafka_bootstrap, CDC_TOPICS)
    t0 = time.perf_counter()
    worker.start()
    worker.wait_healthy()
    clock = replay_clock(settings, total, t0)
    writes = _sandbox_writes(settings) - writes_before
    raw = raw_consume_rate(settings.kafka_bootstrap, CDC_TOPICS, total)
    bare = bare_faust_rate(settings, total)
    return {
        "bare_faust_events_per_s": bare,
        "vs_bare_faust": clock["events_per_s"] / bare if bare else 0.0,
        "events": total,
        **clock,
        "qbo_writes": writes,
        "raw_kafka_python_events_per_s": raw,
    }


def sink_run(settings: Settings, conn: psycopg.Connection[Any], burst: int) -> dict[str, float]:
    company, realm = _new_company(settings, conn, "Sink")
    t0 = time.time()
    ids = [seed.customer(conn, company, f"Burst customer {i}") for i in range(burst)]
    synced = _wait_synced(conn, company, [("customer", i) for i in ids], timeout_s=600)
    elapsed = max(synced.values()) - t0
    stats = _sandbox_stats(settings, realm)
    requests = int(stats["requests_total"])
    # QBO's limit is per rolling window and each window's budget goes out at once, so a short burst looks
    # faster than a realm can sustain; the sustained rate is what the whole windows of the run carried.
    window = settings.qbo_rate_window_s
    whole = int((max(synced.values()) - t0) // window)
    carried = sum(1 for t in synced.values() if t - t0 < whole * window)
    steady = carried / (whole * window) * 60 if whole else 0.0
    return {
        "documents": burst,
        "seconds": elapsed,
        "documents_per_min": burst / elapsed * 60,
        "steady_documents_per_min": steady,
        "window_s": window,
        "requests": requests,
        "requests_per_min": requests / elapsed * 60,
        "limit_requests_per_min": settings.qbo_requests_per_minute,
        "http_429": int(stats["throttled"]),
    }


def _kill_and_restart(settings: Settings, conn: psycopg.Connection[Any], company: int, label: str) -> float:
    """SIGKILL the worker (no LeaveGroup: its partitions stay with the dead member), start a new one and
    time "process started -> a customer committed after the kill is in QBO"."""
    import os
    import signal

    from infra.stack.worker import Worker

    worker = Worker(settings)
    pid = worker.pid()
    if pid and worker.process_alive():
        os.kill(pid, signal.SIGKILL)
        while worker.process_alive():
            time.sleep(0.05)
    customer = seed.customer(conn, company, f"Recovery customer {label}")
    t0 = time.time()
    worker.start()
    synced = _wait_synced(conn, company, [("customer", customer)], timeout_s=180)
    worker.wait_healthy()
    return synced[("customer", customer)] - t0


def recovery_run(settings: Settings, conn: psycopg.Connection[Any]) -> dict[str, float]:
    """The crash drill twice: with the default dynamic group membership (the dead member's partitions move
    after the session timeout) and with static membership (BQ_WORKER_INSTANCE_ID: the restarted member takes
    them back at once). The worker is left running as it was (dynamic)."""
    import os

    from infra.stack.worker import Worker

    company, _realm = _new_company(settings, conn, "Recovery")
    dynamic = _kill_and_restart(settings, conn, company, "dynamic")
    worker = Worker(settings)
    saved = os.environ.get("BQ_WORKER_INSTANCE_ID")
    os.environ["BQ_WORKER_INSTANCE_ID"] = f"{settings.worker_id}-bench-1"
    try:
        worker.stop()
        worker.start()
        worker.wait_healthy()
        wait_caught_up(settings)
        static = _kill_and_restart(settings, conn, company, "static")
    finally:
        if saved is None:
            os.environ.pop("BQ_WORKER_INSTANCE_ID", None)
        else:
            os.environ["BQ_WORKER_INSTANCE_ID"] = saved
        worker.stop()
        worker.start()
        worker.wait_healthy()
    return {
        "seconds_start_to_first_sync": dynamic,
        "seconds_start_to_first_sync_static": static,
        "session_timeout_s": settings.worker_session_timeout_s,
    }


def _restart_worker(settings: Settings, env: dict[str, str]) -> None:
    import os

    from infra.stack.worker import Worker

    worker = Worker(settings)
    worker.stop()
    os.environ.update(env)
    worker.start()
    worker.wait_healthy()


def _batch_load(settings: Settings, conn: psycopg.Connection[Any], documents: int, label: str) -> dict[str, float]:
    """One realm's initial load: ``documents`` customers inserted set-based while the company is not connected
    (their change events skip it), then the company connected, its documents queued on the documents topic
    by the initial load `connect` starts; timed from connecting to the last one recorded in the id map."""
    from bottleneck_qbo.ops.resync import company_refs

    stamp = time.strftime("%Y%m%d%H%M%S")
    company = seed.company(conn, f"Batch load {label} {stamp}")
    conn.execute(
        "insert into customers (company_id, name, email) select %s, 'Load ' || %s || ' customer ' || g, 'ap' || g || '@example.com' "
        "from generate_series(1, %s) g",
        (company, label, documents),
    )
    wait_caught_up(settings)  # the inserts' events went by (no realm yet)
    realm = f"9{company:06d}{time.time_ns() // 1_000_000}"
    refs = company_refs(settings.postgres_dsn, company, ["customer"])
    t0 = time.time()
    # connecting starts the company's initial load (ops/onboarding.py): the worker queues the backlog
    _asyncio_run(connect_local(settings, company, realm))
    synced = _wait_synced(conn, company, [(r.entity_type, r.local_id) for r in refs], timeout_s=max(600.0, documents / 100 * 60))
    elapsed = max(synced.values()) - t0
    stats = _sandbox_stats(settings, realm)
    batch_calls = sum(int(n) for n in stats["requests"].get("POST", {}).get("batch", {}).values())
    window = settings.qbo_rate_window_s
    whole = int(elapsed // window)
    steady = sum(1 for t in synced.values() if t - t0 < whole * window) / (whole * window) * 60 if whole else 0.0
    mapped = conn.execute(
        "select count(distinct qbo_id) from qbo_sync.id_map where company_id = %s and entity_type = 'customer' and qbo_id is not null",
        (company,),
    ).fetchone()
    return {
        "documents": documents,
        "seconds": elapsed,
        "documents_per_min": documents / elapsed * 60,
        "steady_documents_per_min": steady,
        "http_requests": int(stats["requests_total"]),
        "batch_calls": batch_calls,
        "batch_calls_per_min": batch_calls / elapsed * 60,
        "http_429": int(stats["throttled"]),
        "qbo_customers_created": int(stats["applied"].get("Customer", {}).get("create", 0)),
        "id_map_objects": int(mapped[0]) if mapped else 0,
        "limit_requests_per_min": settings.qbo_requests_per_minute,
        "limit_batch_per_min": settings.qbo_batch_per_minute,
    }


def batch_run(settings: Settings, conn: psycopg.Connection[Any], documents: int) -> dict[str, dict[str, float]]:
    """The same initial load twice in one run: single-call path (BQ_QBO_BATCH_ENABLED=false), then QBO's
    batch API. The worker is restarted for each and left on the batch path (the default)."""
    out: dict[str, dict[str, float]] = {}
    try:
        for label, enabled in (("single", "false"), ("batch", "true")):
            _restart_worker(settings, {"BQ_QBO_BATCH_ENABLED": enabled})
            print(f"      {label}: {documents} customers ...", flush=True)
            out[label] = _batch_load(settings, conn, documents, label)
            print(f"      {label}: {out[label]}", flush=True)
    finally:
        _restart_worker(settings, {"BQ_QBO_BATCH_ENABLED": "true"})
    return out


def worker_peak_rss_mb(settings: Settings) -> float:
    from infra.stack.worker import Worker

    pid = Worker(settings).pid()
    if not pid:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scale_out_seed(settings: Settings, replay_events: int) -> dict[str, float]:
    from bottleneck_qbo.bench.scale_out import ensure_replay_events

    print(f"[replay] topping the CDC topics up to {replay_events} events ...", flush=True)
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        seeded = ensure_replay_events(settings, conn, replay_events)
    print(f"      {seeded}", flush=True)
    return seeded


def scale_out_replay(settings: Settings, workers: int) -> dict[str, float]:
    from bottleneck_qbo.bench.scale_out import replay_with_workers

    print(f"[replay] from offset zero with {workers} workers ...", flush=True)
    figures = replay_with_workers(settings, workers)
    print(f"      {figures}", flush=True)
    return figures


def scale_out_rows(f: Figures) -> list[tuple[str, str, str, str]]:
    """The table rows of the scale-out replay (empty unless it ran)."""
    multi = f.scale_out.get("replay_workers")
    if not multi or not f.replay:
        return []
    one, n = f.replay["events_per_s"], multi["events_per_s"]
    cdc = multi["cdc_partitions"]
    note = "one CDC partition: the route step runs on one worker" if cdc <= 1 else f"{cdc:.0f} CDC partitions"
    return [
        (
            f"replay from offset 0, {multi['workers']:.0f} workers",
            f"{multi['events']:.0f} events, {n:.0f}/s vs {one:.0f}/s with one worker ({n / one if one else 0:.2f}x); "
            f"{multi['qbo_writes']:.0f} QBO writes; {note}",
            "more than one worker's rate, 0 QBO writes",
            f"{'faster' if n >= 1.05 * one else 'NOT faster (within 5%)' if n > 0.95 * one else 'SLOWER'}; "
            f"writes {_verdict(multi['qbo_writes'], 0, at_most=True)}",
        )
    ]


def run(
    settings: Settings,
    *,
    documents: int,
    rate: float,
    burst: int = 400,
    realms: int = 25,
    only: tuple[str, ...] = FIGURES,
    replay_events: int = 100_000,
    workers: int = 2,
    batch_docs: int = BATCH_DOCS,
    warmup_s: float = 0.0,
) -> Figures:
    import os
    import platform

    fig = Figures(latency_documents=documents, latency_rate_per_s=rate)
    fig.machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    wait_caught_up(settings)  # measure a worker with no backlog
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        if "latency" in only:
            warm = f" after a {warmup_s:g}-s warm-up at that rate" if warmup_s else ""
            print(f"[latency] {documents} documents at {rate:g}/s over {realms} realms{warm} ...", flush=True)
            fig.latency_ms = latency_run(settings, conn, documents, rate, realms, warmup_s)
            print(f"      {fig.latency_ms}", flush=True)
        if "sink" in only:
            print(f"[sink] burst of {burst} customers into one realm ...", flush=True)
            fig.sink = sink_run(settings, conn, burst)
            print(f"      {fig.sink}", flush=True)
        if "batch" in only:
            print(f"[batch] initial load of {batch_docs} customers into one realm, single-call path then batch API ...", flush=True)
            fig.batch = batch_run(settings, conn, batch_docs)
    if "replay" in only:
        if replay_events > 0:
            fig.scale_out["seed"] = scale_out_seed(settings, replay_events)
        print("[replay] from offset zero (worker restarted) ...", flush=True)
        fig.replay = replay_run(settings)
        print(f"      {fig.replay}", flush=True)
        # The machine may be shared: the 1-minute load average after each replay says how comparable they are.
        fig.scale_out["load_avg_after_one_worker"] = os.getloadavg()[0]
        if workers > 1:
            fig.scale_out["replay_workers"] = scale_out_replay(settings, workers)
            fig.scale_out["load_avg_after_workers"] = os.getloadavg()[0]
    fig.worker_peak_rss_mb = worker_peak_rss_mb(settings)
    if "recovery" in only:
        print("[recovery] worker SIGKILLed and restarted ...", flush=True)
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
            fig.recovery = recovery_run(settings, conn)
        print(f"      {fig.recovery}", flush=True)
    print()
    print(render(fig))
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = out / f"{stamp}.json"
    path.write_text(json.dumps(asdict(fig), indent=2))
    print(f"\n(written to {path})")
    if LATENCY_SAMPLES_MS:
        png = plot_latency(LATENCY_SAMPLES_MS, out / f"{stamp}-latency.png", f"{documents} documents at {rate:g}/s over {realms} realms")
        if png:
            print(f"(latency plot: {png})")
    return fig


def plot_latency(samples_ms: list[float], path: Path, title: str) -> Path | None:
    """A histogram and the CDF of commit-to-QBO latency, with the p50/p99 targets; None without matplotlib
    (a dev extra: the product does not need it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, (hist, cdf) = plt.subplots(1, 2, figsize=(11, 4))
    hist.hist(samples_ms, bins=60, color="#3b6ea5")
    hist.set_xlabel("commit -> QBO (ms)")
    hist.set_ylabel("documents")
    n = len(samples_ms)
    cdf.plot(samples_ms, [(i + 1) / n for i in range(n)], color="#3b6ea5")
    for target, label, y in ((LATENCY_TARGET_P50_MS, "p50 target", 0.9), (LATENCY_TARGET_P99_MS, "p99 target", 0.8)):
        for ax in (hist, cdf):
            ax.axvline(target, color="#c0392b", linestyle="--", linewidth=1)
        cdf.text(target, y, f" {label}", color="#c0392b", fontsize=8)
    cdf.set_xlabel("commit -> QBO (ms)")
    cdf.set_ylabel("fraction of documents")
    figure.suptitle(f"commit-to-QBO latency: {title}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _verdict(value: float, target: float, *, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    if met:
        return "met"
    by = value - target if at_most else target - value
    return f"MISSED by {by:,.0f}" + (f" ({by / target:.0%})" if target else "")


def _batch_rows(batch: dict[str, dict[str, float]]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for label, b in batch.items():
        once = b["qbo_customers_created"] == b["documents"] == b["id_map_objects"]
        rows.append(
            (
                f"initial load, {b['documents']:.0f} customers into one realm ({'batch API' if label == 'batch' else 'single calls'})",
                f"{b['steady_documents_per_min']:.0f} docs/min over whole windows ({b['documents_per_min']:.0f} overall), "
                f"{b['http_requests']:.0f} HTTP requests, {b['batch_calls']:.0f} batch calls ({b['batch_calls_per_min']:.0f}/min), "
                f"{b['http_429']:.0f} x 429, {b['qbo_customers_created']:.0f} created for {b['documents']:.0f} rows",
                f"limits {b['limit_requests_per_min']:.0f} req/min, {b['limit_batch_per_min']:.0f} batch/min; 0 x 429; exactly once",
                ("exactly once" if once else "NOT exactly once") + ("" if b["http_429"] == 0 else f"; {b['http_429']:.0f} x 429"),
            )
        )
    return rows


def render(f: Figures) -> str:
    """One row per figure: what was measured, its baseline, the target and whether it was met."""
    rows: list[tuple[str, str, str, str]] = []
    lat, r, s, rec = f.latency_ms, f.replay, f.sink, f.recovery
    if lat:
        limit = lat["limit_requests_per_min"]
        binds = lat["requests_per_min_per_realm_max"] >= 0.9 * limit
        rows.append(
            (
                f"commit->QBO, {f.latency_documents} docs at {f.latency_rate_per_s:g}/s over {lat['realms']:.0f} realms",
                f"p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms"
                + (
                    f" (before it, not counted: a {lat['warmup_s']:g}-s warm-up of {lat['warmup_documents']:.0f} docs, "
                    f"p50 {lat['warmup_p50']:.0f} ms, p99 {lat['warmup_p99']:.0f} ms)"
                    if lat.get("warmup_documents")
                    else ""
                ),
                f"p50 <= {LATENCY_TARGET_P50_MS:.0f}, p99 <= {LATENCY_TARGET_P99_MS:.0f} ms",
                f"p50 {_verdict(lat['p50'], LATENCY_TARGET_P50_MS, at_most=True)}; "
                f"p99 {_verdict(lat['p99'], LATENCY_TARGET_P99_MS, at_most=True)}",
            )
        )
        rows.append(
            (
                "QBO requests/min per realm during the latency run",
                f"max {lat['requests_per_min_per_realm_max']:.0f}, mean {lat['requests_per_min_per_realm_mean']:.0f}",
                f"limit {limit:.0f}/min",
                "THE LIMIT BINDS: this run measures QBO's limit, not the pipeline (use more --realms)" if binds else "limit does not bind",
            )
        )
    if s:
        per_doc = s["requests"] / s["documents"]
        window_s = s.get("window_s", 60.0)
        rows.append(
            (
                f"QBO sink, {s['documents']:.0f} new customers into one realm (single-call path)",
                f"{s.get('steady_documents_per_min', 0):.0f} docs/min over the run's whole {window_s:g}-s windows "
                f"({s['documents_per_min']:.0f} overall), {per_doc:.2f} requests/doc, {s['http_429']:.0f} x 429",
                f">= {0.9 * s['limit_requests_per_min']:.0f} docs/min, 0 x 429",
                _verdict(s.get("steady_documents_per_min", 0), 0.9 * s["limit_requests_per_min"], at_most=False)
                + ("" if s["http_429"] == 0 else f"; {s['http_429']:.0f} x 429"),
            )
        )
    rows += _batch_rows(f.batch)
    if r:
        rows.append(
            (
                "replay from offset 0, one worker",
                f"{r['events']:.0f} events, {r['events_per_s']:.0f}/s steady "
                f"({r.get('events_per_s_incl_worker_start', 0):.0f}/s with the worker's start); {r['qbo_writes']:.0f} QBO writes; "
                f"bare Faust agent {r['bare_faust_events_per_s']:.0f}/s, plain kafka-python {r['raw_kafka_python_events_per_s']:.0f}/s",
                ">= 80% of bare Faust, 0 QBO writes",
                f"{r['vs_bare_faust']:.0%} of bare Faust: {_verdict(r['vs_bare_faust'] * 100, 80, at_most=False)}; "
                f"writes {_verdict(r['qbo_writes'], 0, at_most=True)}",
            )
        )
    rows += scale_out_rows(f)
    if rec:
        secs = rec.get("seconds_start_to_first_sync", 0.0)
        static = rec.get("seconds_start_to_first_sync_static", 0.0)
        rows.append(
            (
                "SIGKILL -> restart -> first sync",
                f"{secs:.1f} s dynamic membership (session timeout {rec.get('session_timeout_s', 0):g} s); "
                f"{static:.1f} s static (BQ_WORKER_INSTANCE_ID)",
                f"<= {RECOVERY_TARGET_S:.0f} s",
                f"dynamic {_verdict(secs, RECOVERY_TARGET_S, at_most=True)}; static {_verdict(static, RECOVERY_TARGET_S, at_most=True)}",
            )
        )
    rows.append(
        (
            "worker peak RSS (VmHWM)",
            f"{f.worker_peak_rss_mb:.0f} MiB",
            f"<= {RSS_TARGET_MB:.0f} MB",
            _verdict(f.worker_peak_rss_mb, RSS_TARGET_MB, at_most=True),
        )
    )
    header = ("figure", "measured (baseline)", "target", "verdict")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
