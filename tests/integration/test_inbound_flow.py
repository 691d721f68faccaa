"""Inbound end to end without a broker: the real sandbox (HTTP, signed webhooks, CDC) -> receiver decision
-> fetch + map -> writer -> real Postgres. Kafka topics are replaced by in-memory lists so each step can
be driven and inspected; the Faust shell over the same functions is covered by the worker tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from bottleneck_qbo.settings import Settings
from sinks.qbo.auth import InMemoryTokenStore
from sinks.qbo.client import QboClient
from streams.deadletter import DeadLetter
from streams.inbound.cdc_poll import PgCheckpointStore
from streams.inbound.directory import PgDirectory
from streams.inbound.flow import InboundFlow, RecordMeta
from streams.inbound.receiver import handle_webhook
from tests.fixtures.sandbox import ACCOUNTS, QboHttp, RealmInfo, SandboxServer, sales_line
from tests.integration.inbound_support import (
    Tenant,
    WebhookCatcher,
    add_bill,
    add_invoice,
    make_tenant,
    map_document,
    mentions,
    payment_rows,
)

pytestmark = pytest.mark.integration

VERIFIER = "inbound-flow-verifier"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Bus:
    """Stand-in for the three topics: what the flow sent, in order."""

    webhooks: list[tuple[bytes, bytes]] = field(default_factory=list)
    payments: list[tuple[bytes, bytes]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    async def send_webhook(self, k: bytes, v: bytes) -> None:
        self.webhooks.append((k, v))

    async def send_payment(self, k: bytes, v: bytes) -> None:
        self.payments.append((k, v))

    async def send_deadletter(self, k: bytes, v: bytes) -> None:
        self.dead.append(DeadLetter.model_validate_json(v))


@dataclass
class Harness:
    flow: InboundFlow
    bus: Bus
    clock: Clock
    conn: psycopg.AsyncConnection
    settings: Settings
    handled: list[str] = field(default_factory=list)

    async def receive(self, headers: dict[str, str], body: bytes) -> int:
        """What the web view does with one POST: decide, then put the notifications on qbo.webhooks."""
        result = handle_webhook(body, headers, self.settings)
        if result.status == 200:
            await self.flow.publish_notifications(result.notifications)
        return result.status

    async def drain(self) -> None:
        """Run both agents until both topics are empty."""
        offset = 0
        while self.bus.webhooks or self.bus.payments:
            while self.bus.webhooks:
                k, v = self.bus.webhooks.pop(0)
                self.handled.append(await self.flow.on_webhook_record(k, v, RecordMeta("qbo.webhooks", 0, offset)))
                offset += 1
            while self.bus.payments:
                k, v = self.bus.payments.pop(0)
                await self.flow.on_payment_record(self.conn, k, v, RecordMeta("bottleneck.payments", 0, offset))
                offset += 1


@pytest.fixture
async def harness(inbound_dsn: str, qbo_sandbox: SandboxServer) -> AsyncIterator[Harness]:
    settings = Settings(
        qbo_base_url=qbo_sandbox.base_url,
        qbo_access_token=SecretStr(qbo_sandbox.access_token or ""),
        webhook_verifier_token=SecretStr(VERIFIER),
        retry_max_attempts=3,
        retry_base_delay_s=1.0,
        retry_max_delay_s=4.0,
        qbo_retry_max_attempts=0,  # the flow's own retry is under test, not the client's
    )
    bus, clock = Bus(), Clock()
    async with (
        await psycopg.AsyncConnection.connect(inbound_dsn, autocommit=True) as conn,
        await psycopg.AsyncConnection.connect(inbound_dsn, autocommit=True) as writer_conn,
    ):
        api = QboClient.from_settings(settings, InMemoryTokenStore())
        flow = InboundFlow(
            settings,
            api,
            PgDirectory(conn),
            send_webhook=bus.send_webhook,
            send_payment=bus.send_payment,
            send_deadletter=bus.send_deadletter,
            clock=clock,
        )
        try:
            yield Harness(flow, bus, clock, writer_conn, settings)
        finally:
            await api.aclose()


@pytest.fixture
def catcher(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> Iterator[WebhookCatcher]:
    c = WebhookCatcher()
    qbo_sandbox.webhook_config(qbo_realm.realm_id, url=c.url, format="legacy", verifier_token=VERIFIER)
    yield c
    c.close()


@pytest.fixture
async def tenant(harness: Harness, qbo_realm: RealmInfo) -> Tenant:
    return await make_tenant(harness.conn, qbo_realm.realm_id)


def _qbo_invoices(api: QboHttp, n: int, amount: int = 100) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cust = api.create("Customer", {"DisplayName": f"Payer {id(api)}"})
    item = api.create("Item", {"Name": "Consulting", "Type": "Service"})
    invs = [
        api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, amount, amount)]}) for _ in range(n)
    ]
    return cust, invs


def _pay(api: QboHttp, cust: dict[str, Any], parts: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    total = sum(Decimal(a) for _, a in parts)
    lines = [{"Amount": Decimal(a), "LinkedTxn": [{"TxnId": i, "TxnType": "Invoice"}]} for i, a in parts]
    return api.create("Payment", {"CustomerRef": {"value": cust["Id"]}, "TotalAmt": total, "Line": lines, **extra})


async def test_payment_for_two_invoices_delivered_three_times_makes_two_rows_and_no_qbo_write(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer, catcher: WebhookCatcher
) -> None:
    cust, (inv1, inv2) = _qbo_invoices(qbo_api, 2)
    a = await add_invoice(harness.conn, tenant, inv1["Id"], "INV-A")
    b = await add_invoice(harness.conn, tenant, inv2["Id"], "INV-B")
    pay = _pay(qbo_api, cust, [(inv1["Id"], "60.50"), (inv2["Id"], "39.50")], PaymentRefNum="CHK-7", TxnDate="2026-11-20")
    calls = catcher.wait_for(mentions("Payment", pay["Id"], "Create"))
    writes_before = qbo_sandbox.stats(tenant.realm_id)["writes_total"]

    for headers, body in calls * 3:  # every webhook delivered three times (Intuit retries)
        assert await harness.receive(headers, body) == 200
    await harness.drain()

    assert await payment_rows(harness.conn, tenant) == [
        (a, pay["Id"], Decimal("60.50"), date(2026, 11, 20), None, "CHK-7", False),
        (b, pay["Id"], Decimal("39.50"), date(2026, 11, 20), None, "CHK-7", False),
    ]
    assert harness.handled.count("published") == 1  # the redeliveries cost no QBO read either
    assert harness.bus.dead == []
    # Loop safety: bringing the payment in made no write to QBO.
    assert qbo_sandbox.stats(tenant.realm_id)["writes_total"] == writes_before


async def test_cloudevents_bill_payment_makes_a_bill_payments_row(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer, catcher: WebhookCatcher
) -> None:
    qbo_sandbox.webhook_config(tenant.realm_id, url=catcher.url, format="cloudevents", verifier_token=VERIFIER)
    vendor = qbo_api.create("Vendor", {"DisplayName": "Supplier"})
    line = {
        "Amount": 80,
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": ACCOUNTS["cogs"]}},
    }
    bill = qbo_api.create("Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": [line]})
    local_bill = await add_bill(harness.conn, tenant, bill["Id"], "B-1")
    bp = qbo_api.create(
        "BillPayment",
        {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "CreditCard",
            "TxnDate": "2026-11-22",
            "CreditCardPayment": {"CCAccountRef": {"value": ACCOUNTS["checking"]}},
            "TotalAmt": Decimal("80.00"),
            "Line": [{"Amount": Decimal("80.00"), "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    for headers, body in catcher.wait_for(mentions("BillPayment", bp["Id"], "Create")):
        assert body.startswith(b"[")  # CloudEvents array
        assert await harness.receive(headers, body) == 200
    await harness.drain()
    assert await payment_rows(harness.conn, tenant, "bill") == [
        (local_bill, bp["Id"], Decimal("80.00"), date(2026, 11, 22), "credit_card", None, False)
    ]
    assert await payment_rows(harness.conn, tenant, "invoice") == []


async def test_forged_signature_is_401_and_writes_nothing(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, catcher: WebhookCatcher
) -> None:
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    await add_invoice(harness.conn, tenant, inv["Id"], "INV-F")
    pay = _pay(qbo_api, cust, [(inv["Id"], "10.00")])
    [(headers, body)] = [c for c in catcher.wait_for(mentions("Payment", pay["Id"], "Create")) if b'"Payment"' in c[1]]
    forged = dict(headers, **{"intuit-signature": "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="})
    assert await harness.receive(forged, body) == 401
    assert await harness.receive({k: v for k, v in headers.items() if k != "intuit-signature"}, body) == 401
    assert await harness.receive(headers, body.replace(b"Create", b"Update")) == 401  # body altered after signing
    await harness.drain()
    assert harness.handled == []
    assert await payment_rows(harness.conn, tenant) == []


async def test_create_webhooks_arriving_after_void_and_delete_converge(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, catcher: WebhookCatcher
) -> None:
    cust, (inv1, inv2) = _qbo_invoices(qbo_api, 2)
    await add_invoice(harness.conn, tenant, inv1["Id"], "INV-V1")
    await add_invoice(harness.conn, tenant, inv2["Id"], "INV-V2")
    to_void = _pay(qbo_api, cust, [(inv1["Id"], "10.00"), (inv2["Id"], "5.00")])
    to_delete = _pay(qbo_api, cust, [(inv1["Id"], "20.00")])
    qbo_api.ok(qbo_api.post("/payment", {"Id": to_void["Id"], "SyncToken": to_void["SyncToken"]}, operation="void"))
    qbo_api.ok(qbo_api.post("/payment", {"Id": to_delete["Id"], "SyncToken": to_delete["SyncToken"]}, operation="delete"))
    calls = catcher.wait_for(lambda c: mentions("Payment", to_void["Id"], "Void")(c) and mentions("Payment", to_delete["Id"], "Delete")(c))

    # First only the creations arrive (as if the void/delete webhooks were still on their way)...
    creates = [c for c in calls if mentions("Payment", to_void["Id"], "Create")([c]) or mentions("Payment", to_delete["Id"], "Create")([c])]
    # ...but the agent reads the payment's *current* state from QBO, so it converges at once.
    for headers, body in creates:
        await harness.receive(headers, body)
    await harness.drain()
    assert await payment_rows(harness.conn, tenant) == []  # voided (no lines left) and deleted: nothing paid
    assert "published" in harness.handled

    for headers, body in calls:
        await harness.receive(headers, body)
    await harness.drain()
    assert await payment_rows(harness.conn, tenant) == []
    assert harness.bus.dead == []


async def test_void_and_delete_of_recorded_payments(harness: Harness, tenant: Tenant, qbo_api: QboHttp, catcher: WebhookCatcher) -> None:
    cust, (inv1, inv2) = _qbo_invoices(qbo_api, 2)
    await add_invoice(harness.conn, tenant, inv1["Id"], "INV-W1")
    await add_invoice(harness.conn, tenant, inv2["Id"], "INV-W2")
    p1 = _pay(qbo_api, cust, [(inv1["Id"], "10.00"), (inv2["Id"], "5.00")])
    p2 = _pay(qbo_api, cust, [(inv1["Id"], "20.00")])
    for headers, body in catcher.wait_for(
        lambda c: mentions("Payment", p1["Id"], "Create")(c) and mentions("Payment", p2["Id"], "Create")(c)
    ):
        await harness.receive(headers, body)
    await harness.drain()
    assert [(r[1], r[2], r[-1]) for r in await payment_rows(harness.conn, tenant)] == [
        (p1["Id"], Decimal("10.00"), False),
        (p1["Id"], Decimal("5.00"), False),
        (p2["Id"], Decimal("20.00"), False),
    ]
    seen = len(catcher.calls)
    qbo_api.ok(qbo_api.post("/payment", {"Id": p1["Id"], "SyncToken": p1["SyncToken"]}, operation="void"))
    qbo_api.ok(qbo_api.post("/payment", {"Id": p2["Id"], "SyncToken": p2["SyncToken"]}, operation="delete"))
    calls = catcher.wait_for(lambda c: mentions("Payment", p1["Id"], "Void")(c) and mentions("Payment", p2["Id"], "Delete")(c))
    for headers, body in calls[seen:]:
        await harness.receive(headers, body)
    await harness.drain()
    assert [(r[1], r[2], r[-1]) for r in await payment_rows(harness.conn, tenant)] == [
        (p1["Id"], Decimal("10.00"), True),
        (p1["Id"], Decimal("5.00"), True),
        (p2["Id"], Decimal("20.00"), True),
    ]


async def test_payment_waits_for_its_invoice_then_lands(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, catcher: WebhookCatcher
) -> None:
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    local = await add_invoice(harness.conn, tenant, None, "INV-LATE")  # not yet in the id map
    pay = _pay(qbo_api, cust, [(inv["Id"], "30.00")])
    for headers, body in catcher.wait_for(mentions("Payment", pay["Id"], "Create")):
        await harness.receive(headers, body)
    await harness.drain()
    assert "parked" in harness.handled and len(harness.flow.parking) == 1
    assert await payment_rows(harness.conn, tenant) == []

    # The outbound side records the invoice's QBO id; the parked payment is retried when due.
    await map_document(harness.conn, tenant, "invoice", "Invoice", local, inv["Id"])
    assert await harness.flow.release_due() == 0  # not due yet: nothing is re-sent early
    harness.clock.now += 1.0
    assert await harness.flow.release_due() == 1
    await harness.drain()
    assert [(r[0], r[2]) for r in await payment_rows(harness.conn, tenant)] == [(local, Decimal("30.00"))]
    assert harness.bus.dead == []


async def test_payment_for_an_unknown_invoice_is_dead_lettered_with_a_reason(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, catcher: WebhookCatcher
) -> None:
    cust, (known, unknown) = _qbo_invoices(qbo_api, 2)
    local = await add_invoice(harness.conn, tenant, known["Id"], "INV-K")
    pay = _pay(qbo_api, cust, [(known["Id"], "12.00"), (unknown["Id"], "8.00")])
    for headers, body in catcher.wait_for(mentions("Payment", pay["Id"], "Create")):
        await harness.receive(headers, body)
    await harness.drain()
    for _ in range(harness.settings.retry_max_attempts):
        harness.clock.now += harness.settings.retry_max_delay_s
        await harness.flow.release_due()
        await harness.drain()

    [letter] = harness.bus.dead
    assert letter.stage == "inbound" and letter.failure_type == "missing_reference"
    assert letter.realm_id == tenant.realm_id and letter.company_id == tenant.company_id
    assert f"Invoice {unknown['Id']} (8.00)" in letter.reason and "not in the id map" in letter.reason
    assert letter.original is not None and pay["Id"] in (letter.original.value or "")
    # The invoice Bottleneck knows is still shown as paid.
    assert [(r[0], r[2]) for r in await payment_rows(harness.conn, tenant)] == [(local, Decimal("12.00"))]
    assert len(harness.flow.parking) == 0


async def test_webhook_lost_while_receiver_down_is_recovered_by_the_cdc_poll(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer
) -> None:
    qbo_sandbox.webhook_config(tenant.realm_id, url=None)  # receiver down: the webhook never arrives
    store = PgCheckpointStore(harness.conn)
    assert await harness.flow.poll_cdc(store, [tenant.realm_id]) == 0  # start-up poll: nothing yet
    first_checkpoint = await store.get(tenant.realm_id)
    assert first_checkpoint is not None

    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    local = await add_invoice(harness.conn, tenant, inv["Id"], "INV-CDC")
    pay = _pay(qbo_api, cust, [(inv["Id"], "45.00")])
    assert await harness.flow.poll_cdc(store, [tenant.realm_id]) == 1
    await harness.drain()
    assert [(r[0], r[1], r[2]) for r in await payment_rows(harness.conn, tenant)] == [(local, pay["Id"], Decimal("45.00"))]
    assert (await store.get(tenant.realm_id)) >= first_checkpoint  # type: ignore[operator]

    # The next poll sees it again (overlap) and a late webhook may come too: still one row.
    await harness.flow.poll_cdc(store, [tenant.realm_id])
    await harness.drain()
    assert len(await payment_rows(harness.conn, tenant)) == 1

    # A void seen only by CDC (which says "changed", not "voided") is still recognised as a void.
    current = qbo_api.read("Payment", pay["Id"])
    qbo_api.ok(qbo_api.post("/payment", {"Id": pay["Id"], "SyncToken": current["SyncToken"]}, operation="void"))
    await harness.flow.poll_cdc(store, [tenant.realm_id])
    await harness.drain()
    assert [r[-1] for r in await payment_rows(harness.conn, tenant)] == [True]


async def test_failing_cdc_poll_of_a_realm_backs_off_then_recovers(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer
) -> None:
    qbo_sandbox.webhook_config(tenant.realm_id, url=None)
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    await add_invoice(harness.conn, tenant, inv["Id"], "INV-BO")
    _pay(qbo_api, cust, [(inv["Id"], "5.00")])
    store = PgCheckpointStore(harness.conn)
    qbo_sandbox.set_faults(tenant.realm_id, error_next=1)

    assert await harness.flow.poll_cdc(store, [tenant.realm_id]) == 0  # QBO answered 500
    assert await store.get(tenant.realm_id) is None  # the checkpoint did not move
    calls = qbo_sandbox.stats(tenant.realm_id)["requests_total"]
    assert await harness.flow.poll_cdc(store, [tenant.realm_id]) == 0
    assert qbo_sandbox.stats(tenant.realm_id)["requests_total"] == calls  # paused: not even asked

    harness.clock.now += harness.settings.cdc_poll_interval_s
    assert await harness.flow.poll_cdc(store, [tenant.realm_id]) == 1
    await harness.drain()
    assert len(await payment_rows(harness.conn, tenant)) == 1


async def test_cdc_checkpoint_never_passes_a_payment_still_waiting(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, catcher: WebhookCatcher
) -> None:
    """Parked notifications live in memory; should the worker die, the next start-up poll must find them
    again, so the checkpoint stays at or before the oldest one."""
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    await add_invoice(harness.conn, tenant, None, "INV-HOLD")  # not in the id map: the payment waits
    pay = _pay(qbo_api, cust, [(inv["Id"], "3.00")])
    for headers, body in catcher.wait_for(mentions("Payment", pay["Id"], "Create")):
        await harness.receive(headers, body)
    await harness.drain()
    waiting_since = harness.flow.parking.oldest_occurred_at(tenant.realm_id)
    assert waiting_since is not None

    harness.flow.settings = harness.settings.model_copy(update={"cdc_overlap_s": 0.0})  # only the hold-back may keep it back
    store = PgCheckpointStore(harness.conn)
    await harness.flow.poll_cdc(store, [tenant.realm_id])
    checkpoint = await store.get(tenant.realm_id)
    assert checkpoint is not None and checkpoint <= waiting_since


async def test_qbo_failing_to_answer_parks_then_dead_letters_with_the_fault(
    harness: Harness, tenant: Tenant, qbo_api: QboHttp, qbo_sandbox: SandboxServer, catcher: WebhookCatcher
) -> None:
    cust, (inv,) = _qbo_invoices(qbo_api, 1)
    await add_invoice(harness.conn, tenant, inv["Id"], "INV-500")
    pay = _pay(qbo_api, cust, [(inv["Id"], "7.00")])
    calls = catcher.wait_for(mentions("Payment", pay["Id"], "Create"))
    qbo_sandbox.set_faults(tenant.realm_id, error_next=harness.settings.retry_max_attempts)  # every read gets a 500
    for headers, body in calls:
        await harness.receive(headers, body)
    await harness.drain()
    assert "parked" in harness.handled and harness.bus.dead == []
    for _ in range(harness.settings.retry_max_attempts):
        harness.clock.now += harness.settings.retry_max_delay_s
        await harness.flow.release_due()
        await harness.drain()
    [letter] = harness.bus.dead
    assert letter.failure_type == "retries_exhausted"
    assert letter.fault is not None and letter.fault["status"] == 500
    assert f"reading Payment {pay['Id']}" in letter.reason
    assert await payment_rows(harness.conn, tenant) == []
