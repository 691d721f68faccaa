"""The QBO sandbox's query, batch and CDC endpoints over real HTTP."""

from __future__ import annotations

import pytest

from tests.fixtures.sandbox import QboHttp, sales_line

pytestmark = pytest.mark.integration


def _customers(api: QboHttp, n: int) -> list[dict]:
    return [api.create("Customer", {"DisplayName": f"Cust {i:03d}"}) for i in range(n)]


def test_paging_ordering_and_count(qbo_api: QboHttp) -> None:
    made = _customers(qbo_api, 7)
    page1 = qbo_api.query("SELECT * FROM Customer ORDERBY DisplayName DESC STARTPOSITION 1 MAXRESULTS 3")
    assert page1["startPosition"] == 1 and page1["maxResults"] == 3
    assert [c["DisplayName"] for c in page1["Customer"]] == ["Cust 006", "Cust 005", "Cust 004"]
    page3 = qbo_api.query("select * from Customer orderby DisplayName desc startposition 7 maxresults 3")
    assert [c["Id"] for c in page3["Customer"]] == [made[0]["Id"]]
    assert qbo_api.query("select count(*) from Customer") == {"totalCount": 7}
    assert qbo_api.query("select * from Customer startposition 8") == {}


def test_filters(qbo_api: QboHttp) -> None:
    made = _customers(qbo_api, 3)
    ids = [c["Id"] for c in made]
    got = qbo_api.query(f"select * from Customer where Id in ('{ids[0]}', '{ids[2]}')")
    assert sorted(c["Id"] for c in got["Customer"]) == sorted([ids[0], ids[2]])
    assert [c["Id"] for c in qbo_api.query("select * from Customer where DisplayName like '%001'")["Customer"]] == [ids[1]]
    stamp = made[0]["MetaData"]["LastUpdatedTime"]
    assert len(qbo_api.query(f"select * from Customer where MetaData.LastUpdatedTime >= '{stamp}'")["Customer"]) == 3
    qbo_api.create("Item", {"Name": "O'Brien \\ Sons", "Type": "Service", "Sku": "SKU-9"})
    assert qbo_api.query("select * from Item where Name = 'O\\'Brien \\\\ Sons'")["Item"][0]["Sku"] == "SKU-9"
    assert qbo_api.query("select * from Item where Sku = 'SKU-9' and Type = 'Service'")["maxResults"] == 1


def test_post_query_with_application_text(qbo_api: QboHttp) -> None:
    _customers(qbo_api, 2)
    resp = qbo_api.http.post("/query", content="select count(*) from Customer", headers={"Content-Type": "application/text"})
    assert qbo_api.ok(resp)["QueryResponse"] == {"totalCount": 2}


@pytest.mark.parametrize(
    "statement",
    [
        "select * from Customer startposition 0",
        "select * from Customer maxresults 1001",
        "select * from customer",
        "select DisplayName from Customer",
        "select * from Customer where DisplayName = 'a' or DisplayName = 'b'",
        "select * from Customer where",
        "delete from Customer",
    ],
)
def test_bad_queries_are_4001(qbo_api: QboHttp, statement: str) -> None:
    err = qbo_api.fault(qbo_api.get("/query", query=statement))
    assert err["code"] == "4001"


def test_batch_mixed_results(qbo_api: QboHttp) -> None:
    cust = qbo_api.create("Customer", {"DisplayName": "Batch Co"})
    body = {
        "BatchItemRequest": [
            {"bId": "b1", "operation": "create", "Vendor": {"DisplayName": "Batch Vendor"}},
            {"bId": "b2", "operation": "create", "Customer": {"DisplayName": "Batch Co"}},
            {"bId": "b3", "operation": "update", "Customer": {"Id": cust["Id"], "SyncToken": "7", "sparse": True, "Notes": "x"}},
            {"bId": "b4", "Query": "select count(*) from Customer"},
            {"bId": "b5", "operation": "update", "Customer": {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "y"}},
        ]
    }
    out = qbo_api.ok(qbo_api.post("/batch", body))
    items = {i["bId"]: i for i in out["BatchItemResponse"]}
    assert items["b1"]["Vendor"]["DisplayName"] == "Batch Vendor"
    assert items["b2"]["Fault"]["Error"][0]["code"] == "6240" and items["b2"]["Fault"]["type"] == "ValidationFault"
    assert items["b3"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["b4"]["QueryResponse"] == {"totalCount": 1}
    assert items["b5"]["Customer"]["Notes"] == "y"
    assert "time" in out


def test_batch_over_30_items_is_1040(qbo_api: QboHttp) -> None:
    body = {"BatchItemRequest": [{"bId": f"b{i}", "Query": "select * from Customer"} for i in range(31)]}
    assert qbo_api.fault(qbo_api.post("/batch", body))["code"] == "1040"


def test_cdc_returns_changes_and_deleted_objects(qbo_api: QboHttp, qbo_realm) -> None:
    cust = qbo_api.create("Customer", {"DisplayName": "CDC Co"})
    item = qbo_api.create("Item", {"Name": "CDC item", "Type": "Service"})
    inv = qbo_api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 10, 10)]})
    keep = qbo_api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 5, 5)]})
    qbo_api.ok(qbo_api.post("/invoice", {"Id": inv["Id"], "SyncToken": "0"}, operation="delete"))
    since = cust["MetaData"]["CreateTime"]
    body = qbo_api.ok(qbo_api.get("/cdc", entities="Customer,Invoice,Vendor", changedSince=since))
    groups = body["CDCResponse"][0]["QueryResponse"]
    assert [c["Id"] for c in groups[0]["Customer"]] == [cust["Id"]]
    invoices = groups[1]["Invoice"]
    assert invoices[0]["Id"] == keep["Id"]
    assert invoices[-1]["Id"] == inv["Id"] and invoices[-1]["status"] == "Deleted" and invoices[-1]["domain"] == "QBO"
    assert groups[2] == {}
    err = qbo_api.fault(qbo_api.get("/cdc", entities="Customer", changedSince="2020-01-01"))
    assert err["code"] == "4001"
