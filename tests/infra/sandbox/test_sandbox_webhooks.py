"""The QBO sandbox's webhooks, delivered over real HTTP to a local receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fixtures.sandbox import QboHttp, RealmInfo, SandboxServer

pytestmark = pytest.mark.integration


class Receiver:
    """A webhook endpoint that answers the given statuses in turn (then 200) and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        self.statuses: list[int] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.cond:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                    outer.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/qbo"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[tuple[dict[str, str], bytes, int]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.calls) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} webhook calls, got {len(self.calls)}")
                self.cond.wait(left)
            return list(self.calls)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _verify(token: str, headers: dict[str, str], body: bytes) -> bool:
    expected = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["intuit-signature"])


def test_legacy_notification_is_signed_and_names_the_payment(
    qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api: QboHttp, receiver: Receiver
) -> None:
    qbo_sandbox.webhook_config(qbo_realm.realm_id, url=receiver.url, format="legacy", verifier_token="verifier-1")
    cust = qbo_api.create("Customer", {"DisplayName": "Payer"})
    pay = qbo_api.create("Payment", {"CustomerRef": {"value": cust["Id"]}, "TotalAmt": 10})
    headers, body, _ = receiver.wait_for(2)[1]
    assert _verify("verifier-1", headers, body)
    assert not _verify("verifier-1", headers, body.replace(b"Payment", b"Paymenx"))
    assert headers["content-type"].startswith("application/json") and headers["intuit-t-id"]
    note = json.loads(body)["eventNotifications"][0]
    assert note["realmId"] == qbo_realm.realm_id
    entity = note["dataChangeEvent"]["entities"][0]
    assert entity["name"] == "Payment" and entity["id"] == pay["Id"] and entity["operation"] == "Create"
    assert entity["lastUpdated"][-5] in "+-"  # "...-0700", Intuit's sample format


def test_cloudevents_format_and_void(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api: QboHttp, receiver: Receiver) -> None:
    qbo_sandbox.webhook_config(qbo_realm.realm_id, url=receiver.url, format="cloudevents", verifier_token="verifier-2")
    vendor = qbo_api.create("Vendor", {"DisplayName": "CE Vendor"})
    bill = qbo_api.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "Amount": 5,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "3"}},
                }
            ],
        },
    )
    bp = qbo_api.create(
        "BillPayment",
        {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": "6"}},
            "TotalAmt": 5,
            "Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    qbo_api.ok(qbo_api.post("/billpayment", {"Id": bp["Id"], "SyncToken": bp["SyncToken"]}, operation="void"))
    calls = receiver.wait_for(4)
    events = [e for _, body, _ in calls for e in json.loads(body)]
    assert all(_verify("verifier-2", h, b) for h, b, _ in calls)
    types = [(e["type"], e["intuitentityid"]) for e in events]
    assert ("qbo.billpayment.created.v1", bp["Id"]) in types and ("qbo.billpayment.voided.v1", bp["Id"]) in types
    # Paying the bill changed it: QBO notifies that too.
    assert ("qbo.bill.updated.v1", bill["Id"]) in types
    first = events[0]
    assert first["specversion"] == "1.0" and first["intuitaccountid"] == qbo_realm.realm_id and first["time"].endswith("Z")


def test_failed_deliveries_are_retried_in_order(
    qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api: QboHttp, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    qbo_sandbox.webhook_config(qbo_realm.realm_id, url=receiver.url, format="legacy", verifier_token="v")
    a = qbo_api.create("Customer", {"DisplayName": "First"})
    b = qbo_api.create("Customer", {"DisplayName": "Second"})
    calls = receiver.wait_for(4)
    ids = [json.loads(body)["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"] for _, body, _ in calls]
    assert [s for _, _, s in calls] == [500, 503, 200, 200]
    assert ids == [a["Id"], a["Id"], a["Id"], b["Id"]]
    deadline = time.monotonic() + 5
    while qbo_sandbox.stats(qbo_realm.realm_id)["webhooks"]["delivered"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    hooks = qbo_sandbox.stats(qbo_realm.realm_id)["webhooks"]
    assert hooks["delivered"] == 2 and hooks["attempts"] == 4 and hooks["failed"] == 0


def test_inventory_adjustment_sends_no_webhook(
    qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api: QboHttp, receiver: Receiver
) -> None:
    from tests.fixtures.sandbox import inventory_item

    item = qbo_api.create("Item", inventory_item("Quiet", 1))
    qbo_sandbox.webhook_config(qbo_realm.realm_id, url=receiver.url)
    qbo_api.create(
        "InventoryAdjustment",
        {
            "AdjustAccountRef": {"value": "7"},
            "Line": [
                {"DetailType": "ItemAdjustmentLineDetail", "ItemAdjustmentLineDetail": {"ItemRef": {"value": item["Id"]}, "QtyDiff": 1}}
            ],
        },
    )
    qbo_api.create("Customer", {"DisplayName": "Marker"})
    calls = receiver.wait_for(1)
    entities = json.loads(calls[0][1])["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [e["name"] for e in entities] == ["Customer"]
