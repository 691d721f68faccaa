"""Operating it, through the real stack: `status`, `deadletters list|show|retry|drop`, `state`, `replay
--dry-run`, `resync --wait`, `config show`, `--version`, one-line failures, health, metrics, JSON logs."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
from typing import Any

import httpx
import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from kafka import KafkaConsumer

from bottleneck_qbo.demo import seed
from streams.messages import DocumentTouch
from tests.fixtures.pipeline import Company, Pipeline, Qbo, wait_until

pytestmark = pytest.mark.integration

TOO_LONG = "x" * 520  # QBO allows 500 characters in a DisplayName (API reference)


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", *argv], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def cli_tty(*argv: str) -> str:
    """Run with stdout on a pseudo-terminal (what a person at a shell sees)."""
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bottleneck_qbo", *argv], stdout=slave, stderr=subprocess.PIPE, timeout=60, env=os.environ
        )
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert done.returncode == 0, done.stderr
        return b"".join(chunks).decode()
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def letters(*argv: str) -> list[dict[str, Any]]:
    done = cli("deadletters", "list", "--json", *argv)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def dead_customer(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company) -> tuple[int, dict[str, Any]]:
    cust = seed.customer(db, company.id, f"Long {company.tag} {TOO_LONG}")

    def found() -> dict[str, Any] | None:
        return next((d for d in letters("--company", str(company.id)) if d["local_id"] == str(cust)), None)

    letter = wait_until(found, timeout=60, what="the dead letter of the too-long customer", interval=0.5)
    assert letter is not None
    return cust, letter


async def test_status_counts_lag_slot_connector_and_tokens(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    seed.customer(db, company.id, f"Fine {company.tag}")
    await qbo.wait_one("Customer", f"DisplayName = 'Fine {company.tag}'")
    cust, _ = dead_customer(pipeline, db, company)

    done = cli("status", "--company", str(company.id), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads(done.stdout)
    assert r["errors"] == {}
    (c,) = r["companies"]
    assert c["company_id"] == company.id and c["realm_id"] == company.realm
    counts = c["entities"]["customer"]
    assert counts["synced"] == 1 and counts["dead"] == 1 and counts["drifted"] == 0, counts
    assert r["drift_tracked"] is True
    assert c["refresh_token_expires_at"] and "refresh_token" not in json.dumps(c).replace("refresh_token_expires_at", "")
    assert any(p["topic"] == pipeline.settings.documents_topic for p in r["consumer_lag"])
    assert r["replication_slots"] and r["replication_slots"][0]["lag_bytes"] is not None
    assert r["connector"]["state"] == "RUNNING" and r["connector"]["tasks"][0]["state"] == "RUNNING"
    kinds = {(p["kind"], p["local_id"]) for p in r["problems"]}
    assert ("dead", str(cust)) in kinds and ("dead_letter", str(cust)) in kinds

    text = cli_tty("status", "--company", str(company.id))
    assert (
        f"company {company.id}" in text
        and "drifted" in text
        and "not tracked" not in text
        and "connector bottleneck-postgres: RUNNING" in text
    )


async def test_deadletters_by_id_retry_once_drop_and_malformed(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    cust, letter = dead_customer(pipeline, db, company)
    lid = letter["id"]
    assert letter["state"] == "open" and letter["stage"] == "sync" and "QuickBooks allows 500" in letter["reason"]
    assert [d["id"] for d in letters("--company", str(company.id), "--entity", "customer", "--stage", "sync", "--since", "1h")] == [lid]
    assert letters("--company", str(company.id), "--stage", "decode") == []

    shown = cli("deadletters", "show", lid)
    assert shown.returncode == 0 and json.loads(shown.stdout)["local_id"] == str(cust)

    dry = cli("deadletters", "retry", "--all", "--company", str(company.id), "--dry-run")
    assert dry.returncode == 0 and f"would re-drive {lid}" in dry.stdout
    assert [d["state"] for d in letters("--company", str(company.id))] == ["open"], "a dry run changes nothing"

    # Re-driven without a fix: it dead-letters again (a new letter); the re-driven one is not sent twice.
    mark = pipeline.end_offsets([pipeline.settings.documents_topic])
    done = cli("deadletters", "retry", "--all", "--company", str(company.id))
    assert done.returncode == 0 and _redriven(done.stdout) == [lid], done.stdout
    assert _redrive_touch(pipeline, mark, cust), "the letter went back to the documents topic as a document touch"

    def second() -> str | None:
        return next((d["id"] for d in letters("--company", str(company.id)) if d["local_id"] == str(cust) and d["id"] != lid), None)

    lid2 = wait_until(second, timeout=60, what="the re-driven document dead-lettered again", interval=0.5)
    again = cli("deadletters", "retry", "--all", "--company", str(company.id))
    assert again.returncode == 0 and _redriven(again.stdout) == [lid2], "a re-driven letter is not re-sent"
    lid3 = wait_until(
        lambda: next((d["id"] for d in letters("--company", str(company.id)) if d["id"] not in (lid, lid2)), None),
        timeout=60,
        what="third letter",
        interval=0.5,
    )

    # Fixed, then re-driven by id: it syncs, and nothing is left open.
    db.execute("update customers set name = %s where id = %s", (f"Short {company.tag}", cust))
    assert lid3 is not None
    by_id = cli("deadletters", "retry", lid3)
    assert by_id.returncode == 0 and _redriven(by_id.stdout) == [lid3]
    await qbo.wait_one("Customer", f"DisplayName = 'Short {company.tag}'")
    assert wait_until(lambda: letters("--company", str(company.id)) == [], timeout=30, what="no open letters")
    handled = letters("--company", str(company.id), "--all")
    assert sorted(d["id"] for d in handled) == sorted([lid, lid2, lid3])
    assert all(d["state"] in ("retried", "synced") for d in handled), handled

    # A record on the dead-letter topic that is not a dead letter: listed as malformed, then dropped.
    tp, offset = pipeline.produce(pipeline.settings.deadletter_topic, b"x", b"\x00 not a dead letter")
    bad_id = f"{tp.partition}-{offset}"
    bad = next(d for d in letters() if d["id"] == bad_id)
    assert bad["state"] == "malformed" and "not a dead letter" in bad["reason"]
    text = cli("deadletters", "list")
    assert text.returncode == 0 and bad_id in text.stdout and "malformed" in text.stdout
    dropped = cli("deadletters", "drop", bad_id)
    assert dropped.returncode == 0 and bad_id in dropped.stdout
    assert bad_id not in [d["id"] for d in letters()]

    missing = cli("deadletters", "show", "99-999999")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "deadletters list" in missing.stderr


def _redriven(stdout: str) -> list[str]:
    return [line.split()[1].rstrip(":") for line in stdout.splitlines() if line.startswith("re-drove ") and ":" in line]


def _redrive_touch(pipeline: Pipeline, mark: dict[Any, int], local_id: int) -> bool:
    consumer = KafkaConsumer(bootstrap_servers=pipeline.settings.kafka_bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        consumer.assign(list(mark))
        for tp, off in mark.items():
            consumer.seek(tp, off)
        for rec in consumer:
            t = DocumentTouch.from_bytes(rec.value)
            if t.origin and t.origin.topic == "deadletter-redrive" and t.ref.local_id == local_id and t.ref.forced:
                return True
        return False
    finally:
        consumer.close()


async def test_state_replay_dry_run_and_resync_wait(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    ids = [seed.customer(db, company.id, f"Resync {i} {company.tag}") for i in range(3)]
    for i in range(3):
        await qbo.wait_one("Customer", f"DisplayName = 'Resync {i} {company.tag}'")

    as_json = json.loads(cli("state", "--company", str(company.id), "--json").stdout)
    assert sorted(r["local_id"] for r in as_json["synced"]) == sorted(ids)
    table = cli_tty("state", "--company", str(company.id))
    assert "qbo id" in table and "synced" in table and all(str(i) in table for i in ids)

    topic = pipeline.table_topic("customers")
    before = {tp: off for tp, off in pipeline.committed().items() if tp.topic == topic}
    dry = cli("replay", "--dry-run", "--to", "earliest", "--topics", r"bottleneck\.public\.customers")
    assert dry.returncode == 0, dry.stderr
    assert f"{topic}[0] {before[next(iter(before))]} -> 0" in dry.stdout and "dry run" in dry.stdout
    assert {tp: off for tp, off in pipeline.committed().items() if tp.topic == topic} == before, "a dry run moves nothing"

    writes = await qbo.writes("Customer")
    done = cli("resync", "--company", str(company.id), "--entity", "customer", "--wait", "--timeout", "120")
    assert done.returncode == 0, done.stderr
    assert "queued 3 document(s)" in done.stdout
    assert "done: 0 written to QBO, 3 already up to date, 0 parked" in done.stdout
    assert "synced" in done.stderr and "3/3" in done.stderr  # the progress bar
    assert await qbo.writes("Customer") == writes


def test_cli_habits_version_help_config_and_one_line_failures(pipeline: Pipeline) -> None:
    v = cli("--version")
    assert v.returncode == 0 and v.stdout.startswith("bottleneck-qbo ")
    help_text = cli("--help").stdout
    assert "BQ_PG_PORT" in help_text and "BQ_KAFKA_PORT" in help_text and "config show" in help_text

    shown = cli("config", "show", "--json", env={"BQ_QBO_CLIENT_SECRET": "very-secret-value", "BQ_PG_PASSWORD": "pw-not-shown"})
    cfg = json.loads(shown.stdout)
    assert cfg["BQ_QBO_CLIENT_SECRET"] == "********" and cfg["BQ_PG_PASSWORD"] == "********"
    assert cfg["BQ_KAFKA_PORT"] == str(pipeline.settings.kafka_port)
    assert "very-secret-value" not in shown.stdout and "pw-not-shown" not in shown.stdout

    nowhere = str(free_port())
    failures = [
        (["deadletters", "list"], {"BQ_KAFKA_PORT": nowhere}, "Kafka"),
        (["status"], {"BQ_KAFKA_PORT": nowhere, "BQ_PG_PORT": nowhere, "BQ_CONNECT_PORT": nowhere}, "Postgres"),
        (["state", "--company", "1"], {"BQ_PG_PORT": nowhere}, "Postgres"),
        (["replay", "--to", "yesterday"], {}, "--to"),
        (["resync", "--company", "1"], {"BQ_KAFKA_PORT": nowhere}, "Kafka"),
    ]
    for argv, env, what in failures:
        # The bound is the point: no broker / no database answers within 5 s with a sentence, not a hang.
        done = cli(*argv, env=env, timeout=5 if "BQ_KAFKA_PORT" in env else 30)
        assert done.returncode == 1, (argv, done.stdout, done.stderr)
        assert what in done.stderr and "Traceback" not in done.stderr, (argv, done.stderr)
        if argv[0] != "status":
            assert done.stderr.count("\n") == 1, (argv, done.stderr)
    debug = cli("--debug", "state", "--company", "1", env={"BQ_PG_PORT": nowhere})
    assert debug.returncode == 1 and "Traceback" in debug.stderr


async def test_health_metrics_on_the_admin_listener(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    s = pipeline.settings
    admin = f"http://{s.admin_host}:{s.admin_port}"
    public = f"http://127.0.0.1:{s.worker_web_port}"
    seed.customer(db, company.id, f"Metered {company.tag}")
    await qbo.wait_one("Customer", f"DisplayName = 'Metered {company.tag}'")
    async with httpx.AsyncClient(timeout=10) as http:
        for base in (admin, public):
            assert (await http.get(f"{base}/health/live")).status_code == 200
            ready = await http.get(f"{base}/health/ready")
            assert (
                ready.status_code == 200 and ready.json()["postgres"] and ready.json()["kafka"] and ready.json()["assigned_partitions"] > 0
            )
        assert (await http.get(f"{public}/api/status")).status_code == 404, "the status page is not on the public port"
        page = await http.get(f"{admin}/")
        assert page.status_code == 200 and "sync status" in page.text
        body = (await http.get(f"{admin}/metrics")).text
    for name in (
        "bq_consumer_lag{",
        "bq_replication_slot_lag_bytes{",
        'bq_parked_documents_by_state{state="dead"}',
        "bq_dead_letters_open",
    ):
        assert name in body, name
    assert f'bq_qbo_budget_used{{realm="{company.realm}"}}' in body

    # JSON log lines carry the document's context (and, as the unit tests check, never a secret).
    cust, _ = dead_customer(pipeline, db, company)
    log_file = s.run_dir / "logs" / "worker.log"

    def logged() -> dict[str, Any] | None:
        for line in log_file.read_text(errors="replace").splitlines()[-2000:]:
            if line.startswith("{") and '"dead-letter' in line:
                rec = json.loads(line)
                if rec.get("local_id") == str(cust) and rec.get("company_id") == company.id:
                    return dict(rec)
        return None

    rec = wait_until(logged, timeout=30, what="the dead letter's JSON log line")
    assert rec is not None and rec["entity_type"] == "customer" and rec["level"] == "WARNING"


async def test_ready_is_503_until_partitions_are_assigned(pipeline: Pipeline) -> None:
    """In this process the Faust app was never started: Postgres and Kafka answer, no partition is assigned."""
    from streams import admin

    async with TestClient(TestServer(admin.make_app())) as client:
        resp = await client.get("/health/ready")
        body = await resp.json()
        assert resp.status == 503 and body["ready"] is False and body["assigned_partitions"] == 0
        assert body["postgres"] is True and body["kafka"] is True
        assert (await client.get("/health/live")).status == 200
