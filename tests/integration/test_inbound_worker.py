"""Inbound through a real worker: sandbox -> signed webhook over HTTP -> the worker's ``POST /webhooks/qbo``
-> Kafka (qbo.webhooks -> bottleneck.payments) -> Postgres; and the CDC poll when webhooks are lost.

The worker is the real ``bottleneck-qbo worker`` process against the stack's Kafka and Postgres and the
test sandbox. It gets its own topics (and a topic prefix with no Debezium topics behind it), so it reads
only what these tests produce and shares no consumer group with any other worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from faust.types import TP
from kafka import KafkaAdminClient

from bottleneck_qbo.settings import Settings
from infra.stack import StackStatus
from sinks.qbo.webhook_signature import sign_intuit_payload
from streams.agents.inbound import owned_realms
from streams.topics import TopicSpec, ensure_topics
from tests.fixtures.sandbox import QboHttp, RealmInfo, SandboxServer, free_port, sales_line
from tests.fixtures.stack import ConsumerFactory, consume

pytestmark = pytest.mark.integration

VERIFIER = "inbound-worker-verifier"
T = TypeVar("T")


@dataclass
class RunningWorker:
    url: str
    webhook_url: str
    topics: dict[str, str]
    log_file: Path
    settings: Settings

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])


def wait_until(fetch: Callable[[], T], ok: Callable[[T], bool], what: str, timeout: float = 60.0, worker: RunningWorker | None = None) -> T:
    """Poll ``fetch`` until ``ok`` holds (waiting for an asynchronous pipeline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            tail = f"\n--- worker log ---\n{worker.log_tail()}" if worker else ""
            raise AssertionError(f"{what}: still {value!r} after {timeout:.0f}s{tail}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def inbound_worker(stack: StackStatus, qbo_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    uid = uuid.uuid4().hex[:8]
    run_dir = tmp_path_factory.mktemp("inbound-worker")
    port = free_port()
    topics = {
        "BQ_DOCUMENTS_TOPIC": f"inbt{uid}.documents",
        "BQ_WEBHOOKS_TOPIC": f"inbt{uid}.qbo.webhooks",
        "BQ_PAYMENTS_TOPIC": f"inbt{uid}.payments",
        "BQ_DEADLETTER_TOPIC": f"inbt{uid}.deadletter",
    }
    env = (
        dict(os.environ)
        | topics
        | {
            "BQ_WORKER_ID": f"inbound-test-{uid}",
            "BQ_TOPIC_PREFIX": f"inbt{uid}",  # no Debezium topics: the outbound agents stay idle
            "BQ_RUN_DIR": str(run_dir),
            "BQ_WORKER_WEB_PORT": str(port),
            "BQ_QBO_BASE_URL": qbo_sandbox.base_url,
            "BQ_QBO_TOKEN_URL": qbo_sandbox.token_url,
            "BQ_QBO_ACCESS_TOKEN": qbo_sandbox.access_token or "",
            "BQ_WEBHOOK_VERIFIER_TOKEN": VERIFIER,
            "BQ_CDC_POLL_INTERVAL_S": "2",
            "BQ_RETRY_BASE_DELAY_S": "0.2",
            "BQ_RETRY_MAX_DELAY_S": "0.5",
            "BQ_RETRY_MAX_ATTEMPTS": "3",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # Settings validates the strings (as it would from the environment): typed as Any for the call.
    fields: dict[str, Any] = {k[3:].lower(): v for k, v in env.items() if k.startswith("BQ_") and k[3:].lower() in Settings.model_fields}
    settings = Settings(_env_file=None, **fields)
    specs = [TopicSpec(name, settings.topic_partitions) for name in topics.values()]
    ensure_topics(settings, specs)
    log_file = run_dir / "worker.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bottleneck_qbo", "worker", "--loglevel", "info"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    worker = RunningWorker(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/webhooks/qbo", topics, log_file, settings)
    try:

        def health() -> dict[str, Any]:
            if proc.poll() is not None:
                raise AssertionError(f"worker exited with {proc.returncode}\n{worker.log_tail()}")
            try:
                return httpx.get(f"{worker.url}/health", timeout=1).json()
            except httpx.HTTPError:
                return {}

        wait_until(health, lambda h: h.get("ready") is True, "worker ready", timeout=120, worker=worker)
        yield worker
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="inbound-test-cleanup")
        try:
            admin.delete_topics(list(topics.values()))
        finally:
            admin.close()


@pytest.fixture
def conn(stack: StackStatus) -> Iterator[psycopg.Connection]:
    with psycopg.connect(stack.postgres_dsn, autocommit=True) as c:
        yield c


@dataclass
class Tenant:
    company_id: int
    realm_id: str
    customer_id: int


@pytest.fixture
def tenant(conn: psycopg.Connection, qbo_realm: RealmInfo, qbo_sandbox: SandboxServer, inbound_worker: RunningWorker) -> Tenant:
    """A Bottleneck company connected to a fresh sandbox realm whose webhooks go to the worker."""
    company = conn.execute(
        "insert into companies (name, qbo_realm_id) values (%s, %s) returning id", (f"Worker {qbo_realm.realm_id}", qbo_realm.realm_id)
    ).fetchone()[0]
    customer = conn.execute("insert into customers (company_id, name) values (%s, 'Payer') returning id", (company,)).fetchone()[0]
    qbo_sandbox.webhook_config(qbo_realm.realm_id, url=inbound_worker.webhook_url, format="legacy", verifier_token=VERIFIER)
    return Tenant(company, qbo_realm.realm_id, customer)


def _invoice(conn: psycopg.Connection, t: Tenant, qbo_id: str | None, number: str) -> int:
    local = conn.execute(
        "insert into invoices (company_id, number, customer_id, status, issue_date) values (%s, %s, %s, 'open', '2026-11-01') returning id",
        (t.company_id, number, t.customer_id),
    ).fetchone()[0]
    if qbo_id is not None:
        conn.execute(
            "insert into qbo_sync.id_map (company_id, entity_type, local_id, realm_id, qbo_entity, qbo_id)"
            " values (%s, 'invoice', %s, %s, 'Invoice', %s)",
            (t.company_id, str(local), t.realm_id, qbo_id),
        )
    return local


def _rows(conn: psycopg.Connection, t: Tenant) -> list[tuple]:
    return [
        tuple(r)
        for r in conn.execute(
            "select invoice_id, qbo_payment_id, amount, paid_on, voided_at is not null"
            " from invoice_payments where company_id = %s order by qbo_payment_id, invoice_id",
            (t.company_id,),
        ).fetchall()
    ]


def _qbo_invoices(api: QboHttp, n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cust = api.create("Customer", {"DisplayName": f"Payer {uuid.uuid4().hex[:6]}"})
    item = api.create("Item", {"Name": "Consulting", "Type": "Service"})
    return cust, [
        api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 100, 100)]}) for _ in range(n)
    ]


def _pay(api: QboHttp, cust: dict[str, Any], parts: list[tuple[str, str]]) -> dict[str, Any]:
    lines = [{"Amount": Decimal(a), "LinkedTxn": [{"TxnId": i, "TxnType": "Invoice"}]} for i, a in parts]
    return api.create(
        "Payment",
        {"CustomerRef": {"value": cust["Id"]}, "TxnDate": "2026-11-25", "TotalAmt": sum(Decimal(a) for _, a in parts), "Line": lines},
    )


def test_sandbox_payment_on_two_invoices_lands_as_two_rows(
    conn: psycopg.Connection, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer, inbound_worker: RunningWorker
) -> None:
    cust, (inv1, inv2) = _qbo_invoices(qbo_api, 2)
    a, b = _invoice(conn, tenant, inv1["Id"], "W-1"), _invoice(conn, tenant, inv2["Id"], "W-2")
    writes_before = qbo_sandbox.stats(tenant.realm_id)["writes_total"]
    started = time.monotonic()
    pay = _pay(qbo_api, cust, [(inv1["Id"], "70.00"), (inv2["Id"], "30.00")])
    rows = wait_until(lambda: _rows(conn, tenant), lambda r: len(r) == 2, "two invoice_payments rows", worker=inbound_worker)
    latency = time.monotonic() - started
    assert rows == [
        (a, pay["Id"], Decimal("70.00"), date(2026, 11, 25), False),
        (b, pay["Id"], Decimal("30.00"), date(2026, 11, 25), False),
    ]
    print(f"\npayment created in the sandbox -> invoice_payments rows: {latency * 1000:.0f} ms")
    # The webhook was acknowledged (200) and inbound made no write to QBO (loop safety).
    hooks = qbo_sandbox.stats(tenant.realm_id)["webhooks"]
    assert hooks["failed"] == 0 and hooks["delivered"] >= 1
    assert qbo_sandbox.stats(tenant.realm_id)["writes_total"] == writes_before + 1  # the test's own Payment create


def test_receiver_answers_401_413_400_and_writes_nothing_for_bad_posts(
    conn: psycopg.Connection, tenant: Tenant, qbo_api: QboHttp, inbound_worker: RunningWorker, kafka_consumer_factory: ConsumerFactory
) -> None:
    _cust, (inv,) = _qbo_invoices(qbo_api, 1)
    _invoice(conn, tenant, inv["Id"], "W-F")
    qbo_sandbox_body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": tenant.realm_id,
                    "dataChangeEvent": {
                        "entities": [{"name": "Payment", "id": "999999", "operation": "Create", "lastUpdated": "2026-11-25T10:00:00-0800"}]
                    },
                }
            ]
        }
    ).encode()
    consumer = kafka_consumer_factory([inbound_worker.topics["BQ_WEBHOOKS_TOPIC"]], from_beginning=False)

    def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(inbound_worker.webhook_url, content=body, headers=headers, timeout=10)

    forged = post(qbo_sandbox_body, {"intuit-signature": sign_intuit_payload(qbo_sandbox_body, "not-the-token")})
    assert forged.status_code == 401
    assert post(qbo_sandbox_body, {}).status_code == 401
    too_big = b"[" + b" " * inbound_worker.settings.webhook_max_body_bytes + b"]"
    assert post(too_big, {"intuit-signature": sign_intuit_payload(too_big, VERIFIER)}).status_code == 413
    assert post(b"{oops", {"intuit-signature": sign_intuit_payload(b"{oops", VERIFIER)}).status_code == 400
    # A good POST after the bad ones is the first (and only) thing on the topic.
    good = post(qbo_sandbox_body, {"intuit-signature": sign_intuit_payload(qbo_sandbox_body, VERIFIER)})
    assert good.status_code == 200 and good.json()["accepted"] == 1

    # other tests' parked notifications are re-published on this topic too, and the sandbox's own webhooks
    # for the customer and invoice made above may land at any time: look at this realm's Payment 999999
    def mine(rs: list[Any]) -> list[Any]:
        return [r for r in rs if r.key == tenant.realm_id.encode() and json.loads(r.value)["notification"]["entity_id"] == "999999"]

    records = mine(consume(consumer, lambda rs: len(mine(rs)) >= 1, timeout=30))
    # the bad posts wrote nothing: the good one is the only first attempt (a later one is its parked retry)
    assert [json.loads(r.value)["attempt"] for r in records][:1] == [0], records
    assert sum(1 for r in records if json.loads(r.value)["attempt"] == 0) == 1, records
    assert records[0].key == tenant.realm_id.encode()
    # Keyed by realm exactly as the CDC poll's ownership rule assumes (one poller per realm).
    [owner] = [
        p
        for p in range(inbound_worker.settings.topic_partitions)
        if owned_realms([tenant.realm_id], [TP(records[0].topic, p)], records[0].topic, inbound_worker.settings.topic_partitions)
    ]
    assert records[0].partition == owner


def test_same_webhook_three_times_and_cloudevents_give_one_row(
    conn: psycopg.Connection, tenant: Tenant, qbo_api: QboHttp, inbound_worker: RunningWorker
) -> None:
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    local = _invoice(conn, tenant, inv["Id"], "W-3")
    pay = _pay(qbo_api, cust, [(inv["Id"], "25.00")])
    wait_until(lambda: _rows(conn, tenant), lambda r: len(r) == 1, "payment row", worker=inbound_worker)
    legacy = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": tenant.realm_id,
                    "dataChangeEvent": {
                        "entities": [{"name": "Payment", "id": pay["Id"], "operation": "Create", "lastUpdated": "2026-11-25T10:00:00-0800"}]
                    },
                }
            ]
        }
    ).encode()
    ce = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "intuit.test",
                "type": "qbo.payment.updated.v1",
                "time": "2026-11-25T18:00:01Z",
                "intuitentityid": pay["Id"],
                "intuitaccountid": tenant.realm_id,
                "data": {},
            }
        ]
    ).encode()
    for body in (legacy, legacy, legacy, ce):
        r = httpx.post(
            inbound_worker.webhook_url, content=body, headers={"intuit-signature": sign_intuit_payload(body, VERIFIER)}, timeout=10
        )
        assert r.status_code == 200
    # A marker payment sent after the duplicates: once it is in, the duplicates before it have been handled.
    marker = _pay(qbo_api, cust, [(inv["Id"], "1.00")])
    rows = wait_until(lambda: _rows(conn, tenant), lambda r: len(r) == 2, "marker payment row", worker=inbound_worker)
    assert rows == sorted(
        [
            (local, pay["Id"], Decimal("25.00"), date(2026, 11, 25), False),
            (local, marker["Id"], Decimal("1.00"), date(2026, 11, 25), False),
        ],
        key=lambda r: (r[1], r[0]),
    )


def test_lost_webhook_is_recovered_by_the_cdc_poll(
    conn: psycopg.Connection, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer, inbound_worker: RunningWorker
) -> None:
    qbo_sandbox.webhook_config(tenant.realm_id, url=None)  # the receiver is unreachable for this realm
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    local = _invoice(conn, tenant, inv["Id"], "W-CDC")
    pay = _pay(qbo_api, cust, [(inv["Id"], "44.00")])
    rows = wait_until(lambda: _rows(conn, tenant), lambda r: len(r) == 1, "row from the CDC poll", worker=inbound_worker)
    assert rows == [(local, pay["Id"], Decimal("44.00"), date(2026, 11, 25), False)]
    assert qbo_sandbox.stats(tenant.realm_id)["webhooks"]["delivered"] == 0


def test_void_reaches_bottleneck(conn: psycopg.Connection, tenant: Tenant, qbo_api: QboHttp, inbound_worker: RunningWorker) -> None:
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    _invoice(conn, tenant, inv["Id"], "W-V")
    pay = _pay(qbo_api, cust, [(inv["Id"], "15.00")])
    wait_until(lambda: _rows(conn, tenant), lambda r: len(r) == 1, "payment row", worker=inbound_worker)
    qbo_api.ok(qbo_api.post("/payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"]}, operation="void"))
    wait_until(lambda: _rows(conn, tenant), lambda r: bool(r) and r[0][-1] is True, "voided_at set", worker=inbound_worker)


def test_payment_for_unknown_invoice_is_dead_lettered_with_a_reason(
    conn: psycopg.Connection, tenant: Tenant, qbo_api: QboHttp, inbound_worker: RunningWorker, kafka_consumer_factory: ConsumerFactory
) -> None:
    consumer = kafka_consumer_factory([inbound_worker.topics["BQ_DEADLETTER_TOPIC"]], from_beginning=False)
    cust, (inv,) = _qbo_invoices(qbo_api, 1)  # never in the id map
    pay = _pay(qbo_api, cust, [(inv["Id"], "9.00")])

    def mine(rs: list[Any]) -> list[dict[str, Any]]:
        return [d for d in (json.loads(r.value) for r in rs) if d.get("realm_id") == tenant.realm_id]

    records = consume(consumer, lambda rs: bool(mine(rs)), timeout=60)
    [letter] = mine(records)
    assert letter["stage"] == "inbound" and letter["failure_type"] == "missing_reference"
    assert f"Invoice {inv['Id']} (9.00)" in letter["reason"] and pay["Id"] in letter["reason"]
    assert _rows(conn, tenant) == []


# --- nothing acknowledged without an outcome; webhook and OAuth hardening ---------------------------------


def _sandbox_payment(server: SandboxServer, realm_id: str, payment_id: str, amount: Decimal) -> None:
    """Give a stored sandbox Payment an amount no real client would send (as a corrupt or hostile QBO
    answer would carry), as a new change (SyncToken + 1, new LastUpdatedTime) so the CDC poll sees it."""
    from infra.qbo_sandbox.app import STATE_KEY

    sb = server._runner.app[STATE_KEY]

    async def edit() -> None:
        obj = sb.store.realms[realm_id].get("Payment", payment_id)
        obj["Line"][0]["Amount"] = amount
        obj["TotalAmt"] = amount
        obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
        obj["MetaData"]["LastUpdatedTime"] = sb.clock.meta_ts()

    import asyncio

    asyncio.run_coroutine_threadsafe(edit(), server._loop).result(timeout=10)


def _drain(consumer: Any) -> list[Any]:
    """Every record on the consumer's partitions up to their current end."""
    out: list[Any] = []
    while True:
        got = [r for batch in consumer.poll(timeout_ms=1000).values() for r in batch]
        if not got:
            return out
        out += got


def test_payment_with_amount_1e30_is_dead_lettered_once_not_polled_forever(
    conn: psycopg.Connection,
    tenant: Tenant,
    qbo_api: QboHttp,
    qbo_sandbox: SandboxServer,
    inbound_worker: RunningWorker,
    kafka_consumer_factory: ConsumerFactory,
) -> None:
    qbo_sandbox.webhook_config(tenant.realm_id, url=None)  # the CDC poll finds it, again and again (overlap)
    consumer = kafka_consumer_factory([inbound_worker.topics["BQ_DEADLETTER_TOPIC"]], from_beginning=False)
    cust, (inv, inv2) = _qbo_invoices(qbo_api, 2)
    _invoice(conn, tenant, inv["Id"], "W-BIG")
    after = _invoice(conn, tenant, inv2["Id"], "W-AFTER-BIG")
    pay = _pay(qbo_api, cust, [(inv["Id"], "10.00")])
    _sandbox_payment(qbo_sandbox, tenant.realm_id, pay["Id"], Decimal("1E+30"))

    def about_it(rs: list[Any]) -> list[dict[str, Any]]:
        return [d for d in (json.loads(r.value) for r in rs) if d.get("realm_id") == tenant.realm_id and pay["Id"] in d.get("reason", "")]

    records = consume(consumer, lambda rs: bool(about_it(rs)), timeout=60)
    [letter] = about_it(records)
    assert letter["stage"] == "inbound" and letter["failure_type"] == "mapping_error"
    assert "out of range" in letter["reason"]
    # A later payment still arrives through the CDC poll, after polls that saw the 1E+30 one again...
    marker = _pay(qbo_api, cust, [(inv2["Id"], "5.00")])
    wait_until(
        lambda: [r for r in _rows(conn, tenant) if r[1] == marker["Id"]],
        lambda r: len(r) == 1 and r[0][0] == after,
        "later payment row",
        worker=inbound_worker,
    )
    # ...and those polls did not dead-letter (or fetch) it again.
    assert about_it(records + _drain(consumer)) == [letter]


def test_one_malformed_entity_is_dead_lettered_the_rest_processed_and_200(
    conn: psycopg.Connection,
    tenant: Tenant,
    qbo_api: QboHttp,
    qbo_sandbox: SandboxServer,
    inbound_worker: RunningWorker,
    kafka_consumer_factory: ConsumerFactory,
) -> None:
    qbo_sandbox.webhook_config(tenant.realm_id, url=None)  # only the POST below announces the payment
    consumer = kafka_consumer_factory([inbound_worker.topics["BQ_DEADLETTER_TOPIC"]], from_beginning=False)
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    local = _invoice(conn, tenant, inv["Id"], "W-MIX")
    pay = _pay(qbo_api, cust, [(inv["Id"], "12.00")])
    entities = [
        {"name": "Payment", "id": "1/../../999/payment/7", "operation": "Update", "lastUpdated": "2026-11-25T10:00:00Z"},
        {"name": "Payment", "id": pay["Id"], "operation": "Create", "lastUpdated": "2026-11-25T10:00:00Z"},
        {"name": "Payment", "operation": "Create"},
    ]
    body = json.dumps({"eventNotifications": [{"realmId": tenant.realm_id, "dataChangeEvent": {"entities": entities}}]}).encode()
    r = httpx.post(inbound_worker.webhook_url, content=body, headers={"intuit-signature": sign_intuit_payload(body, VERIFIER)}, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["rejected"] == 2
    rows = wait_until(lambda: _rows(conn, tenant), lambda rs: len(rs) == 1, "the good entity's payment row", worker=inbound_worker)
    assert rows == [(local, pay["Id"], Decimal("12.00"), date(2026, 11, 25), False)]

    def mine(rs: list[Any]) -> list[dict[str, Any]]:
        return [d for d in (json.loads(r.value) for r in rs) if d.get("realm_id") == tenant.realm_id and d["stage"] == "webhook"]

    letters = mine(consume(consumer, lambda rs: len(mine(rs)) >= 2, timeout=30))
    assert [d["failure_type"] for d in letters] == ["malformed_entity", "malformed_entity"]
    assert "not a QBO id" in letters[0]["reason"] and json.loads(letters[0]["original"]["value"]) == entities[0]
    assert json.loads(letters[1]["original"]["value"]) == entities[2]


@pytest.mark.parametrize("path", ["/", "/router/", "/table/", "/stats/", "/graph/", "/performance/"])
def test_faust_builtin_views_are_not_served_on_the_public_port(inbound_worker: RunningWorker, path: str) -> None:
    assert httpx.get(f"{inbound_worker.url}{path}", timeout=5).status_code == 404
    assert httpx.get(f"{inbound_worker.url}/health", timeout=5).status_code == 200


def _code(server: SandboxServer, realm_id: str) -> str:
    return str(server._post("/__sandbox/oauth/codes", {"realm": realm_id})["code"])


def _callback(worker: RunningWorker, **query: str) -> httpx.Response:
    return httpx.get(f"{worker.url}/oauth/callback", params=query, timeout=30)


def _tokens(conn: psycopg.Connection, realm_id: str) -> tuple | None:
    row = conn.execute("select access_token, refresh_token from qbo_sync.oauth_tokens where realm_id = %s", (realm_id,)).fetchone()
    return tuple(row) if row else None


def test_oauth_callback_state_is_bound_to_its_company_and_realm(
    conn: psycopg.Connection, tenant: Tenant, qbo_sandbox: SandboxServer, inbound_worker: RunningWorker
) -> None:
    from bottleneck_qbo.ops.oauth_state import remember_state

    dsn = inbound_worker.settings.postgres_dsn
    fresh = conn.execute("insert into companies (name) values ('OAuth fresh') returning id").fetchone()[0]
    other = conn.execute("insert into companies (name) values ('OAuth other') returning id").fetchone()[0]
    tenant_tokens = _tokens(conn, tenant.realm_id)

    # A consent for a new company that comes back naming a realm another company is connected to: refused
    # before the code is spent, and that company's tokens are untouched.
    state = remember_state(dsn, fresh)
    code = _code(qbo_sandbox, tenant.realm_id)
    r = _callback(inbound_worker, code=code, state=state, realmId=tenant.realm_id)
    assert r.status_code == 400 and f"already connected to company {tenant.company_id}" in r.text
    assert _tokens(conn, tenant.realm_id) == tenant_tokens

    # A reconnect of the tenant's company is bound to its realm: a callback naming another realm is refused.
    state = remember_state(dsn, tenant.company_id)
    assert state.split(".")[1] == tenant.realm_id
    new_realm = f"8{uuid.uuid4().int % 10**14:014d}"
    r = _callback(inbound_worker, code=_code(qbo_sandbox, new_realm), state=state, realmId=new_realm)
    assert r.status_code == 400 and "started for realm" in r.text
    assert _tokens(conn, new_realm) is None

    # A state edited to name another company is unknown; the edit cannot move a consent between companies.
    state = remember_state(dsn, fresh)
    forged = f"{other}." + state.split(".", 1)[1]
    r = _callback(inbound_worker, code=_code(qbo_sandbox, new_realm), state=forged, realmId=new_realm)
    assert r.status_code == 400
    assert conn.execute("select qbo_realm_id from companies where id = %s", (other,)).fetchone()[0] is None

    # Ids are checked before use.
    r = _callback(inbound_worker, code="x", state=state, realmId="1/../../2")
    assert r.status_code == 400 and "realmId" in r.text

    # The genuine callback still works (the unforged state was not consumed by the attempts above).
    r = _callback(inbound_worker, code=_code(qbo_sandbox, new_realm), state=state, realmId=new_realm)
    assert r.status_code == 200, r.text
    assert conn.execute("select qbo_realm_id from companies where id = %s", (fresh,)).fetchone()[0] == new_realm
    assert _tokens(conn, new_realm) is not None
    # A state works once.
    assert _callback(inbound_worker, code=_code(qbo_sandbox, new_realm), state=state, realmId=new_realm).status_code == 400
