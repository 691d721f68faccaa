"""Bad input to the QBO sandbox gets a QBO fault (HTTP 400 with a code), never a crash, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.sandbox import QboHttp

pytestmark = pytest.mark.integration

ENTITIES = [
    "Customer",
    "Vendor",
    "Item",
    "Account",
    "Estimate",
    "Invoice",
    "PurchaseOrder",
    "Bill",
    "Payment",
    "BillPayment",
    "InventoryAdjustment",
]

BAD_BODIES: list[Any] = [
    [],
    "text",
    {"Line": "x"},
    {"Line": [1]},
    {"Line": [{}]},
    {"Line": [{"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": "x", "Amount": 1}]},
    {"Line": [{"DetailType": "ItemBasedExpenseLineDetail", "ItemBasedExpenseLineDetail": {"ItemRef": "1"}, "Amount": 1}]},
    {"Line": [{"DetailType": "ItemAdjustmentLineDetail", "ItemAdjustmentLineDetail": {"ItemRef": {"value": "1"}, "QtyDiff": "many"}}]},
    {"Line": [{"Amount": "lots", "LinkedTxn": [{"TxnId": "1"}]}]},
    {"CustomerRef": "1", "VendorRef": 2, "Line": []},
    {"CustomerRef": {"value": None}},
    {"Id": "1"},
    {"Id": "999", "SyncToken": "0"},
    {"Name": 12, "DisplayName": True, "Type": "Group"},
    {"TotalAmt": True, "PayType": "Cash"},
    {"TxnDate": 20260101},
    {"sparse": True},
]


@pytest.mark.parametrize("entity", ENTITIES)
def test_bad_bodies_get_faults(qbo_api: QboHttp, entity: str) -> None:
    before = qbo_api.query(f"select count(*) from {entity}")
    for body in BAD_BODIES:
        resp = qbo_api.post(f"/{entity.lower()}", body)
        assert resp.status_code == 400, (entity, body, resp.text)
        err = qbo_api.fault(resp)
        assert err["code"].isdigit() and err["Detail"], (entity, body, err)
    for op in ("delete", "void"):
        for body in ([], {"Id": "1"}, {"Id": "999", "SyncToken": "0"}):
            assert qbo_api.post(f"/{entity.lower()}", body, operation=op).status_code == 400
    assert qbo_api.query(f"select count(*) from {entity}") == before


def test_malformed_json_and_unknown_resource(qbo_api: QboHttp) -> None:
    resp = qbo_api.http.post("/customer", content=b"{not json", headers={"Content-Type": "application/json"})
    assert qbo_api.fault(resp)["code"] == "2010"
    assert qbo_api.fault(qbo_api.post("/employee", {"DisplayName": "x"}))["code"] == "500"
    assert qbo_api.fault(qbo_api.post("/customer", {"DisplayName": "x"}, operation="merge"))["code"] == "500"
    batch = qbo_api.post("/batch", {"BatchItemRequest": [{"bId": "1", "operation": "create", "Customer": []}, {"bId": "2", "Nope": {}}, 5]})
    items = qbo_api.ok(batch)["BatchItemResponse"]
    assert [i["bId"] for i in items] == ["1", "2", None]
    assert [i["Fault"]["Error"][0]["code"] for i in items] == ["2010", "2010", "2020"]
