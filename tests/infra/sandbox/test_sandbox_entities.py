"""The QBO sandbox over real HTTP: response shapes and QBO's entity rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.sandbox import ACCOUNTS, QboHttp, expense_line, inventory_item, sales_line

pytestmark = pytest.mark.integration


def _customer(api: QboHttp, name: str = "Acme Ltd") -> dict:
    return api.create("Customer", {"DisplayName": name})


# --- shapes -----------------------------------------------------------------------------------------


def test_create_returns_qbo_envelope_with_metadata_string_ids_and_tid(qbo_api: QboHttp) -> None:
    resp = qbo_api.post("/customer", {"DisplayName": "Shape Co"}, minorversion=75)
    body = qbo_api.ok(resp)
    assert set(body) == {"Customer", "time"}
    cust = body["Customer"]
    assert cust["domain"] == "QBO" and cust["sparse"] is False
    assert isinstance(cust["Id"], str) and cust["SyncToken"] == "0"
    assert set(cust["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    assert resp.headers["intuit_tid"]
    read = qbo_api.read("Customer", cust["Id"])
    assert read == cust


def test_numbers_are_exact_decimals_and_money_has_two_places(qbo_api: QboHttp) -> None:
    item = qbo_api.create("Item", {"Name": "Precise", "Type": "Service", "UnitPrice": Decimal("0.125")})
    assert item["UnitPrice"] == Decimal("0.125")
    cust = _customer(qbo_api)
    inv = qbo_api.create(
        "Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], Decimal("3"), Decimal("0.125"), Decimal("0.38"))]}
    )
    raw = qbo_api.post(
        "/invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, Decimal("0.125"), Decimal("0.13"))]}
    ).text
    assert '"TotalAmt":0.13' in raw
    assert inv["TotalAmt"] == Decimal("0.38") and inv["Balance"] == Decimal("0.38")
    # QBO appends a SubTotalLine to sales documents.
    assert inv["Line"][-1] == {"Amount": Decimal("0.38"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}


def test_validation_fault_shape(qbo_api: QboHttp) -> None:
    resp = qbo_api.post("/customer", {"DisplayName": "X", "Bogus": 1})
    err = qbo_api.fault(resp)
    assert err["code"] == "2010"
    assert qbo_api.json(resp)["Fault"]["type"] == "ValidationFault"


def test_read_missing_object_is_610(qbo_api: QboHttp) -> None:
    assert qbo_api.fault(qbo_api.get("/invoice/999"))["code"] == "610"


# --- name lists -------------------------------------------------------------------------------------


def test_sparse_and_full_update_and_stale_synctoken(qbo_api: QboHttp) -> None:
    cust = qbo_api.create("Customer", {"DisplayName": "Upd", "CompanyName": "Upd Inc", "Notes": "n"})
    sparse = qbo_api.update("Customer", {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "changed"})
    assert sparse["SyncToken"] == "1" and sparse["CompanyName"] == "Upd Inc" and sparse["Notes"] == "changed"
    full = qbo_api.update("Customer", {"Id": cust["Id"], "SyncToken": "1", "DisplayName": "Upd"})
    assert full["SyncToken"] == "2" and "CompanyName" not in full and "Notes" not in full
    stale = qbo_api.post("/customer", {"Id": cust["Id"], "SyncToken": "1", "sparse": True, "Notes": "late"})
    err = qbo_api.fault(stale)
    assert err["code"] == "5010" and err["Message"] == "Stale Object Error"
    assert qbo_api.read("Customer", cust["Id"]).get("Notes") is None


def test_display_name_unique_across_customers_and_vendors_including_inactive(qbo_api: QboHttp) -> None:
    cust = _customer(qbo_api, "Shared Name")
    assert qbo_api.fault(qbo_api.post("/vendor", {"DisplayName": "shared name"}))["code"] == "6240"
    inactive = qbo_api.update("Customer", {"Id": cust["Id"], "SyncToken": cust["SyncToken"], "sparse": True, "Active": False})
    assert inactive["Active"] is False and inactive["DisplayName"] == "Shared Name (deleted)"
    assert qbo_api.fault(qbo_api.post("/customer", {"DisplayName": "Shared Name"}))["code"] == "6240"
    # Active only by default; inactive on request.
    assert qbo_api.query("select * from Customer where DisplayName = 'Shared Name'") == {}
    found = qbo_api.query("select * from Customer where Active = false")
    assert [c["Id"] for c in found["Customer"]] == [cust["Id"]]
    back = qbo_api.update("Customer", {"Id": cust["Id"], "SyncToken": inactive["SyncToken"], "sparse": True, "Active": True})
    assert back["DisplayName"] == "Shared Name"


def test_name_lists_cannot_be_deleted(qbo_api: QboHttp) -> None:
    cust = _customer(qbo_api)
    err = qbo_api.fault(qbo_api.post("/customer", {"Id": cust["Id"], "SyncToken": "0"}, operation="delete"))
    assert err["code"] == "500"


def test_customer_needs_a_name(qbo_api: QboHttp) -> None:
    assert qbo_api.fault(qbo_api.post("/customer", {"CompanyName": "no display"}))["code"] == "6080"
    made = qbo_api.create("Customer", {"GivenName": "Ada", "FamilyName": "Lovelace"})
    assert made["DisplayName"] == "Ada Lovelace"


# --- items ------------------------------------------------------------------------------------------


def test_item_name_rules(qbo_api: QboHttp) -> None:
    assert qbo_api.fault(qbo_api.post("/item", {"Name": "x" * 101, "Type": "Service"}))["code"] == "2050"
    qbo_api.create("Item", {"Name": "Bolt", "Type": "NonInventory"})
    assert qbo_api.fault(qbo_api.post("/item", {"Name": "BOLT", "Type": "Service"}))["code"] == "6240"


def test_only_categories_parent_items_and_same_name_under_different_parents(qbo_api: QboHttp) -> None:
    cat_a = qbo_api.create("Item", {"Name": "Resin A", "Type": "Category"})
    cat_b = qbo_api.create("Item", {"Name": "Resin B", "Type": "Category"})
    lot_a = qbo_api.create("Item", inventory_item("LOT-1", 5, SubItem=True, ParentRef={"value": cat_a["Id"]}))
    lot_b = qbo_api.create("Item", inventory_item("LOT-1", 7, SubItem=True, ParentRef={"value": cat_b["Id"]}))
    assert lot_a["FullyQualifiedName"] == "Resin A:LOT-1" and lot_a["Level"] == 1
    assert lot_b["FullyQualifiedName"] == "Resin B:LOT-1"
    err = qbo_api.fault(qbo_api.post("/item", {"Name": "Child", "Type": "Service", "SubItem": True, "ParentRef": {"value": lot_a["Id"]}}))
    assert err["code"] == "6000" and err["element"] == "ParentRef"
    # Renaming the category renames its children's FullyQualifiedName.
    qbo_api.update("Item", {"Id": cat_a["Id"], "SyncToken": cat_a["SyncToken"], "sparse": True, "Name": "Resin AA"})
    assert qbo_api.read("Item", lot_a["Id"])["FullyQualifiedName"] == "Resin AA:LOT-1"
    cust = _customer(qbo_api)
    err = qbo_api.fault(qbo_api.post("/invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(cat_b["Id"], 1, 1, 1)]}))
    assert err["code"] == "6000"


def test_inventory_item_requirements(qbo_api: QboHttp) -> None:
    for missing in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "InvStartDate", "QtyOnHand"):
        body = inventory_item(f"Inv {missing}", 1)
        del body[missing]
        err = qbo_api.fault(qbo_api.post("/item", body))
        assert err["code"] == "2020" and missing in err["Detail"], (missing, err)
    item = qbo_api.create("Item", inventory_item("Widget", 3))
    assert item["QtyOnHand"] == 3 and item["TrackQtyOnHand"] is True
    err = qbo_api.fault(qbo_api.post("/item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Type": "Service"}))
    assert err["code"] == "6000"


def test_invalid_references_are_2500(qbo_api: QboHttp) -> None:
    err = qbo_api.fault(
        qbo_api.post("/invoice", {"CustomerRef": {"value": "424242"}, "Line": [{"Amount": 1, "DetailType": "DescriptionOnly"}]})
    )
    assert err["code"] == "2500" and err["element"] == "CustomerRef"
    cust = _customer(qbo_api)
    item = qbo_api.create("Item", {"Name": "Old", "Type": "Service"})
    qbo_api.update("Item", {"Id": item["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    err = qbo_api.fault(qbo_api.post("/invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 1, 1)]}))
    assert err["code"] == "2500"


# --- documents --------------------------------------------------------------------------------------


def test_required_fields_docnumber_and_amount_rules(qbo_api: QboHttp) -> None:
    cust = _customer(qbo_api)
    item = qbo_api.create("Item", {"Name": "Svc", "Type": "Service"})
    err = qbo_api.fault(qbo_api.post("/invoice", {"CustomerRef": {"value": cust["Id"]}}))
    assert err["code"] == "2020" and "Line" in err["Detail"]
    err = qbo_api.fault(qbo_api.post("/invoice", {"Line": [sales_line(item["Id"], 1, 1, 1)]}))
    assert err["code"] == "2020" and err["element"] == "CustomerRef"
    err = qbo_api.fault(
        qbo_api.post("/invoice", {"CustomerRef": {"value": cust["Id"]}, "DocNumber": "X" * 22, "Line": [sales_line(item["Id"], 1, 1, 1)]})
    )
    assert err["code"] == "2050" and err["element"] == "DocNumber"
    err = qbo_api.fault(
        qbo_api.post(
            "/invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 2, Decimal("1.50"), Decimal("3.01"))]}
        )
    )
    assert err["code"] == "6070" and err["element"] == "Line.Amount"
    first = qbo_api.create(
        "Invoice",
        {"CustomerRef": {"value": cust["Id"]}, "DocNumber": "INV-1", "Line": [sales_line(item["Id"], 2, Decimal("1.50"), Decimal("3.00"))]},
    )
    err = qbo_api.fault(
        qbo_api.post("/invoice", {"CustomerRef": {"value": cust["Id"]}, "DocNumber": "INV-1", "Line": [sales_line(item["Id"], 1, 1, 1)]})
    )
    assert err["code"] == "6140" and first["Id"] in err["Detail"]
    # Per type: an estimate may reuse the number.
    qbo_api.create("Estimate", {"CustomerRef": {"value": cust["Id"]}, "DocNumber": "INV-1", "Line": [sales_line(item["Id"], 1, 1, 1)]})
    err = qbo_api.fault(
        qbo_api.post("/invoice", {"CustomerRef": {"value": cust["Id"]}, "TxnDate": "26/11/2026", "Line": [sales_line(item["Id"], 1, 1, 1)]})
    )
    assert err["code"] == "2010" and err["element"] == "TxnDate"
    auto = qbo_api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 1, 1)]})
    assert auto["DocNumber"].isdigit()


def test_invoice_linked_to_estimate_closes_it_and_moves_stock(qbo_api: QboHttp) -> None:
    cust = _customer(qbo_api)
    item = qbo_api.create("Item", inventory_item("Gadget", 10, UnitPrice=5))
    est = qbo_api.create("Estimate", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 4, 5, 20)]})
    assert est["TxnStatus"] == "Pending"
    inv = qbo_api.create(
        "Invoice",
        {
            "CustomerRef": {"value": cust["Id"]},
            "LinkedTxn": [{"TxnId": est["Id"], "TxnType": "Estimate"}],
            "Line": [sales_line(item["Id"], 4, 5, 20)],
        },
    )
    assert inv["LinkedTxn"] == [{"TxnId": est["Id"], "TxnType": "Estimate"}]
    est_after = qbo_api.read("Estimate", est["Id"])
    assert est_after["TxnStatus"] == "Closed"
    assert {"TxnId": inv["Id"], "TxnType": "Invoice"} in est_after["LinkedTxn"]
    assert est_after["SyncToken"] == "1"
    assert qbo_api.read("Item", item["Id"])["QtyOnHand"] == 6
    # An update of the invoiced estimate (full, so TxnStatus is left out) keeps it Closed.
    est_upd = qbo_api.update(
        "Estimate",
        {
            "Id": est["Id"],
            "SyncToken": est_after["SyncToken"],
            "CustomerRef": {"value": cust["Id"]},
            "Line": [sales_line(item["Id"], 4, 5, 20)],
        },
    )
    assert est_upd["TxnStatus"] == "Closed"
    # A closed estimate is ignored by a second invoice (QBO's XSD text).
    inv2 = qbo_api.create(
        "Invoice",
        {
            "CustomerRef": {"value": cust["Id"]},
            "LinkedTxn": [{"TxnId": est["Id"], "TxnType": "Estimate"}],
            "Line": [sales_line(item["Id"], 1, 5, 5)],
        },
    )
    assert inv2["LinkedTxn"] == []
    voided = qbo_api.ok(qbo_api.post("/invoice", {"Id": inv2["Id"], "SyncToken": inv2["SyncToken"]}, operation="void"))["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0 and voided["PrivateNote"] == "Voided" and voided["SyncToken"] == "1"
    assert qbo_api.read("Item", item["Id"])["QtyOnHand"] == 6
    deleted = qbo_api.ok(qbo_api.post("/invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="delete"))
    assert deleted["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": inv["Id"]}
    assert qbo_api.read("Item", item["Id"])["QtyOnHand"] == 10
    assert qbo_api.read("Estimate", est["Id"])["TxnStatus"] == "Pending"
    assert qbo_api.fault(qbo_api.get(f"/invoice/{inv['Id']}"))["code"] == "610"


def test_bill_lines_linked_to_po_lines_close_the_po_when_fully_billed(qbo_api: QboHttp) -> None:
    vendor = qbo_api.create("Vendor", {"DisplayName": "Supplier"})
    a = qbo_api.create("Item", inventory_item("Part A", 0))
    b = qbo_api.create("Item", inventory_item("Part B", 0))
    po = qbo_api.create(
        "PurchaseOrder", {"VendorRef": {"value": vendor["Id"]}, "Line": [expense_line(a["Id"], 10, 2, 20), expense_line(b["Id"], 5, 3, 15)]}
    )
    assert po["POStatus"] == "Open" and po["TotalAmt"] == 35 and po["APAccountRef"]["value"] == ACCOUNTS["ap"]
    line_a, line_b = po["Line"][0]["Id"], po["Line"][1]["Id"]

    def link(lid: str) -> list[dict[str, Any]]:
        return [{"TxnId": po["Id"], "TxnType": "PurchaseOrder", "TxnLineId": lid}]

    bill1 = qbo_api.create(
        "Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": [expense_line(a["Id"], 10, 2, 20, LinkedTxn=link(line_a))]}
    )
    assert bill1["Line"][0]["LinkedTxn"] == link(line_a)
    assert qbo_api.read("PurchaseOrder", po["Id"])["POStatus"] == "Open"
    bill2 = qbo_api.create(
        "Bill", {"VendorRef": {"value": vendor["Id"]}, "Line": [expense_line(b["Id"], 5, 3, 15, LinkedTxn=link(line_b))]}
    )
    po_after = qbo_api.read("PurchaseOrder", po["Id"])
    assert po_after["POStatus"] == "Closed"
    assert po_after["LinkedTxn"] == [{"TxnId": bill1["Id"], "TxnType": "Bill"}, {"TxnId": bill2["Id"], "TxnType": "Bill"}]
    assert qbo_api.read("Item", a["Id"])["QtyOnHand"] == 10 and qbo_api.read("Item", b["Id"])["QtyOnHand"] == 5
    err = qbo_api.fault(
        qbo_api.post(
            "/bill",
            {
                "VendorRef": {"value": vendor["Id"]},
                "Line": [expense_line(a["Id"], 1, 2, 2, LinkedTxn=[{"TxnId": po["Id"], "TxnType": "PurchaseOrder"}])],
            },
        )
    )
    assert err["code"] == "2020"
    qbo_api.ok(qbo_api.post("/bill", {"Id": bill2["Id"], "SyncToken": bill2["SyncToken"]}, operation="delete"))
    assert qbo_api.read("PurchaseOrder", po["Id"])["POStatus"] == "Open"
    assert qbo_api.read("Item", b["Id"])["QtyOnHand"] == 0


def test_inventory_adjustment_moves_quantity(qbo_api: QboHttp) -> None:
    item = qbo_api.create("Item", inventory_item("Adj", 10))
    body = {
        "AdjustAccountRef": {"value": ACCOUNTS["shrinkage"]},
        "Line": [{"DetailType": "ItemAdjustmentLineDetail", "ItemAdjustmentLineDetail": {"ItemRef": {"value": item["Id"]}, "QtyDiff": -3}}],
    }
    adj = qbo_api.create("InventoryAdjustment", body)
    assert qbo_api.read("Item", item["Id"])["QtyOnHand"] == 7
    qbo_api.create(
        "InventoryAdjustment",
        {
            "AdjustAccountRef": {"value": ACCOUNTS["shrinkage"]},
            "Line": [
                {"DetailType": "ItemAdjustmentLineDetail", "ItemAdjustmentLineDetail": {"ItemRef": {"value": item["Id"]}, "NewQty": 12}}
            ],
        },
    )
    assert qbo_api.read("Item", item["Id"])["QtyOnHand"] == 12
    qbo_api.ok(qbo_api.post("/inventoryadjustment", {"Id": adj["Id"], "SyncToken": adj["SyncToken"]}, operation="delete"))
    assert qbo_api.read("Item", item["Id"])["QtyOnHand"] == 15
    assert qbo_api.fault(qbo_api.post("/inventoryadjustment", {"Line": body["Line"]}))["code"] == "2020"


def test_payments_reduce_invoice_balance_and_void_restores_it(qbo_api: QboHttp) -> None:
    cust = _customer(qbo_api)
    item = qbo_api.create("Item", {"Name": "Consult", "Type": "Service"})
    inv = qbo_api.create("Invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], 1, 100, 100)]})
    pay = qbo_api.create(
        "Payment",
        {
            "CustomerRef": {"value": cust["Id"]},
            "TotalAmt": Decimal("40.00"),
            "Line": [{"Amount": Decimal("40.00"), "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert pay["UnappliedAmt"] == 0 and pay["DepositToAccountRef"]["value"] == ACCOUNTS["undeposited"]
    inv_after = qbo_api.read("Invoice", inv["Id"])
    assert inv_after["Balance"] == Decimal("60.00") and {"TxnId": pay["Id"], "TxnType": "Payment"} in inv_after["LinkedTxn"]
    too_much = qbo_api.post(
        "/payment",
        {
            "CustomerRef": {"value": cust["Id"]},
            "TotalAmt": 70,
            "Line": [{"Amount": 70, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert qbo_api.fault(too_much)["code"] == "6000"
    assert (
        qbo_api.fault(qbo_api.post("/invoice", {"Id": inv["Id"], "SyncToken": inv_after["SyncToken"]}, operation="delete"))["code"]
        == "6000"
    )
    voided = qbo_api.ok(qbo_api.post("/payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"]}, operation="void"))["Payment"]
    assert voided["TotalAmt"] == 0 and voided["Line"] == []
    assert qbo_api.read("Invoice", inv["Id"])["Balance"] == 100


def test_bill_payment_pays_the_bill(qbo_api: QboHttp) -> None:
    vendor = qbo_api.create("Vendor", {"DisplayName": "Payee"})
    bill = qbo_api.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "Amount": 50,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": ACCOUNTS["cogs"]}},
                }
            ],
        },
    )
    assert bill["Balance"] == 50
    err = qbo_api.fault(
        qbo_api.post(
            "/billpayment",
            {
                "VendorRef": {"value": vendor["Id"]},
                "PayType": "Check",
                "TotalAmt": 50,
                "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
            },
        )
    )
    assert err["code"] == "2020" and err["element"] == "CheckPayment.BankAccountRef"
    bp = qbo_api.create(
        "BillPayment",
        {
            "VendorRef": {"value": vendor["Id"]},
            "PayType": "Check",
            "CheckPayment": {"BankAccountRef": {"value": ACCOUNTS["checking"]}},
            "TotalAmt": 50,
            "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}],
        },
    )
    bill_after = qbo_api.read("Bill", bill["Id"])
    assert bill_after["Balance"] == 0 and bill_after["LinkedTxn"] == [{"TxnId": bp["Id"], "TxnType": "BillPaymentCheck"}]
    qbo_api.ok(qbo_api.post("/billpayment", {"Id": bp["Id"], "SyncToken": bp["SyncToken"]}, operation="delete"))
    assert qbo_api.read("Bill", bill["Id"])["Balance"] == 50


def test_unsupported_void_and_unknown_line_property(qbo_api: QboHttp) -> None:
    vendor = qbo_api.create("Vendor", {"DisplayName": "V"})
    bill = qbo_api.create(
        "Bill",
        {
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "Amount": 5,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": ACCOUNTS["cogs"]}},
                }
            ],
        },
    )
    assert qbo_api.fault(qbo_api.post("/bill", {"Id": bill["Id"], "SyncToken": "0"}, operation="void"))["code"] == "500"
    err = qbo_api.fault(
        qbo_api.post(
            "/bill",
            {
                "VendorRef": {"value": vendor["Id"]},
                "Line": [
                    {
                        "Amount": 5,
                        "Oops": 1,
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": ACCOUNTS["cogs"]}},
                    }
                ],
            },
        )
    )
    assert err["code"] == "2010"
