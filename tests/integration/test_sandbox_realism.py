# ruff: noqa: F811  (pytest fixtures imported from tests.fixtures.sandbox, then requested by name)
"""The sandbox accepts what real clients send and refuses what QBO refuses (issue 13), and models sales tax."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.sandbox import (  # noqa: F401  (fixtures)
    ACCOUNTS,
    QboHttp,
    SandboxServer,
    expense_line,
    inventory_item,
    qbo_api,
    qbo_realm,
    qbo_sandbox,
    sales_line,
)

pytestmark = pytest.mark.integration


def _api(sandbox: SandboxServer, **tax: Any) -> Iterator[QboHttp]:
    client = sandbox.create_realm(**tax).client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def ca_api(qbo_sandbox: SandboxServer) -> Iterator[QboHttp]:
    yield from _api(qbo_sandbox, country="CA", tax_rate=Decimal("13"))


@pytest.fixture
def ast_api(qbo_sandbox: SandboxServer) -> Iterator[QboHttp]:
    yield from _api(qbo_sandbox, country="US", automated_sales_tax=True, tax_rate=Decimal("8.25"))


def _party(api: QboHttp, entity: str, name: str) -> str:
    return str(api.create(entity, {"DisplayName": name})["Id"])


# --- leniency real clients rely on -------------------------------------------------------------------


def test_empty_strings_for_optional_fields_are_absent(qbo_api: QboHttp) -> None:
    cust = _party(qbo_api, "Customer", "Blank Fields Co")
    item = qbo_api.create("Item", {"Name": "Blank svc", "Type": "Service", "IncomeAccountRef": {"value": ACCOUNTS["services"]}})
    line = sales_line(item["Id"], 1, 10, 10)
    line["SalesItemLineDetail"]["ServiceDate"] = ""
    inv = qbo_api.create(
        "Invoice",
        {"CustomerRef": {"value": cust}, "TxnDate": "", "DueDate": "", "DocNumber": "", "PrivateNote": "", "Line": [line]},
    )
    assert inv["TxnDate"] and inv["DueDate"] == inv["TxnDate"]
    assert inv["DocNumber"]  # auto-numbered as when omitted
    assert "PrivateNote" not in inv and "ServiceDate" not in inv["Line"][0]["SalesItemLineDetail"]


def test_bills_of_different_vendors_may_share_a_number(qbo_api: QboHttp) -> None:
    item = qbo_api.create("Item", inventory_item("Shared bill part"))
    a, b = _party(qbo_api, "Vendor", "Vendor A"), _party(qbo_api, "Vendor", "Vendor B")
    qbo_api.create("Bill", {"VendorRef": {"value": a}, "DocNumber": "INV-1", "Line": [expense_line(item["Id"], 1, 5, 5)]})
    qbo_api.create("Bill", {"VendorRef": {"value": b}, "DocNumber": "INV-1", "Line": [expense_line(item["Id"], 1, 5, 5)]})
    again = qbo_api.post("/bill", {"VendorRef": {"value": a}, "DocNumber": "INV-1", "Line": [expense_line(item["Id"], 1, 5, 5)]})
    assert qbo_api.fault(again)["code"] == "6140"


def test_pos_status_is_writable(qbo_api: QboHttp) -> None:
    item = qbo_api.create("Item", inventory_item("PO close part"))
    po = qbo_api.create(
        "PurchaseOrder", {"VendorRef": {"value": _party(qbo_api, "Vendor", "PO Vendor")}, "Line": [expense_line(item["Id"], 2, 3, 6)]}
    )
    assert po["POStatus"] == "Open"
    closed = qbo_api.update("PurchaseOrder", {"Id": po["Id"], "SyncToken": po["SyncToken"], "sparse": True, "POStatus": "Closed"})
    assert closed["POStatus"] == "Closed" and closed["ManuallyClosed"] is True
    reopened = qbo_api.update("PurchaseOrder", {"Id": po["Id"], "SyncToken": closed["SyncToken"], "sparse": True, "POStatus": "Open"})
    assert reopened["POStatus"] == "Open"
    bad = qbo_api.post("/purchaseorder", {"Id": po["Id"], "SyncToken": reopened["SyncToken"], "sparse": True, "POStatus": "Shut"})
    assert qbo_api.fault(bad)["element"] == "POStatus"


# --- strictness the product must meet ------------------------------------------------------------------


def test_purchase_lines_need_an_item_with_an_expense_account(qbo_api: QboHttp) -> None:
    svc = qbo_api.create("Item", {"Name": "Consulting", "Type": "Service", "IncomeAccountRef": {"value": ACCOUNTS["services"]}})
    vendor = _party(qbo_api, "Vendor", "Expense Vendor")
    for entity in ("purchaseorder", "bill"):
        err = qbo_api.fault(qbo_api.post(f"/{entity}", {"VendorRef": {"value": vendor}, "Line": [expense_line(svc["Id"], 1, 50, 50)]}))
        assert err["code"] == "6000" and err["element"] == "Line.ItemBasedExpenseLineDetail.ItemRef"
    bought = qbo_api.create(
        "Item",
        {
            "Name": "Bought consulting",
            "Type": "Service",
            "IncomeAccountRef": {"value": ACCOUNTS["services"]},
            "ExpenseAccountRef": {"value": ACCOUNTS["cogs"]},
        },
    )
    bill = qbo_api.create("Bill", {"VendorRef": {"value": vendor}, "Line": [expense_line(bought["Id"], 1, 50, 50)]})
    assert bill["TotalAmt"] == Decimal("50.00")


@pytest.mark.parametrize(
    ("entity", "body", "key"),
    [
        ("Customer", {"DisplayName": "Gone Cust"}, "DisplayName"),
        ("Vendor", {"DisplayName": "Gone Vend"}, "DisplayName"),
        ("Item", {"Name": "Gone Item", "Type": "Service"}, "Name"),
    ],
)
def test_inactive_names_read_and_match_as_deleted(qbo_api: QboHttp, entity: str, body: dict, key: str) -> None:
    obj = qbo_api.create(entity, body)
    gone = qbo_api.update(entity, {"Id": obj["Id"], "SyncToken": obj["SyncToken"], "sparse": True, "Active": False})
    shown = f"{body[key]} (deleted)"
    assert gone[key] == shown and qbo_api.read(entity, obj["Id"])[key] == shown
    assert qbo_api.query(f"select * from {entity} where {key} = '{body[key]}' and Active = false") == {}
    found = qbo_api.query(f"select * from {entity} where {key} = '{shown}' and Active = false")[entity]
    assert [o["Id"] for o in found] == [obj["Id"]]
    # the name is still taken (QBO answers 6240 for a new object with the inactive one's name)
    assert qbo_api.fault(qbo_api.post(f"/{entity.lower()}", body))["code"] == "6240"
    back = qbo_api.update(entity, {"Id": obj["Id"], "SyncToken": gone["SyncToken"], "sparse": True, "Active": True, key: body[key]})
    assert back[key] == body[key]


def test_vendor_has_no_level(qbo_api: QboHttp) -> None:
    vendor = qbo_api.create("Vendor", {"DisplayName": "Flat Vendor"})
    assert "Level" not in vendor
    assert qbo_api.create("Customer", {"DisplayName": "Top Customer"})["Level"] == 0


# --- sales tax -----------------------------------------------------------------------------------------


def test_realm_reports_its_region(qbo_sandbox: SandboxServer) -> None:
    realm = qbo_sandbox.create_realm(country="GB", tax_rate=Decimal("20"))
    listed = {r["realm_id"]: r for r in qbo_sandbox.control.get("/__sandbox/realms").json()["realms"]}
    assert listed[realm.realm_id]["country"] == "GB" and listed[realm.realm_id]["tax_rate"] == "20"


def test_us_tax_codes_are_tax_and_non(qbo_api: QboHttp) -> None:
    codes = qbo_api.query("select * from TaxCode")["TaxCode"]
    assert sorted(c["Id"] for c in codes) == ["NON", "TAX"]


def test_us_line_tax_code_must_be_tax_or_non(qbo_api: QboHttp) -> None:
    cust = _party(qbo_api, "Customer", "US Tax Cust")
    item = qbo_api.create("Item", {"Name": "US svc", "Type": "Service"})
    line = sales_line(item["Id"], 1, 10, 10)
    line["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "8"}
    err = qbo_api.fault(qbo_api.post("/invoice", {"CustomerRef": {"value": cust}, "Line": [line]}))
    assert err["code"] == "6100" and err["Message"] == "Invalid Line TaxCode in the request"
    assert err["Detail"] == "Valid line TaxCodes for US should be TAX or NON. Supplied value: 8"
    assert err["element"] == "Line.SalesItemLineDetail.TaxCodeRef"


def test_us_without_ast_computes_no_tax(qbo_api: QboHttp) -> None:
    cust = _party(qbo_api, "Customer", "No AST Cust")
    item = qbo_api.create("Item", {"Name": "Plain svc", "Type": "Service"})
    line = sales_line(item["Id"], 2, 10, 20)
    line["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "TAX"}
    inv = qbo_api.create("Invoice", {"CustomerRef": {"value": cust}, "Line": [line]})
    assert inv["TotalAmt"] == Decimal("20.00") and "TxnTaxDetail" not in inv


def test_us_automated_sales_tax_is_computed_into_total(ast_api: QboHttp) -> None:
    cust = _party(ast_api, "Customer", "AST Cust")
    item = ast_api.create("Item", {"Name": "Taxed svc", "Type": "Service"})
    taxed, exempt = sales_line(item["Id"], 3, Decimal("33.33"), Decimal("99.99")), sales_line(item["Id"], 1, 50, 50)
    taxed["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "TAX"}
    exempt["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "NON"}
    inv = ast_api.create("Invoice", {"CustomerRef": {"value": cust}, "Line": [taxed, exempt]})
    tax = (Decimal("99.99") * Decimal("8.25") / 100).quantize(Decimal("0.01"))  # 8.25 %, half-up
    assert inv["TxnTaxDetail"]["TotalTax"] == tax == Decimal("8.25")
    detail = inv["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]
    assert detail["TaxPercent"] == Decimal("8.25") and detail["NetAmountTaxable"] == Decimal("99.99")
    assert inv["TotalAmt"] == Decimal("149.99") + tax == inv["Balance"]
    est = ast_api.create("Estimate", {"CustomerRef": {"value": cust}, "Line": [taxed]})
    assert est["TotalAmt"] == Decimal("99.99") + tax
    # a payment of QBO's total (tax included) closes the invoice
    pay = ast_api.create(
        "Payment",
        {
            "CustomerRef": {"value": cust},
            "TotalAmt": inv["TotalAmt"],
            "Line": [{"Amount": inv["TotalAmt"], "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert pay["UnappliedAmt"] == 0 and ast_api.read("Invoice", inv["Id"])["Balance"] == 0


def test_non_us_codes_are_numbered(ca_api: QboHttp) -> None:
    codes = {c["Id"]: c for c in ca_api.query("select * from TaxCode")["TaxCode"]}
    assert set(codes) == {"2", "3", "4"} and codes["4"]["Name"] == "GST/HST"
    rate_ref = codes["4"]["SalesTaxRateList"]["TaxRateDetail"][0]["TaxRateRef"]["value"]
    assert ca_api.query(f"select * from TaxRate where Id = '{rate_ref}'")["TaxRate"][0]["RateValue"] == Decimal("13")


def test_non_us_lines_without_a_tax_code_are_refused(ca_api: QboHttp) -> None:
    cust = _party(ca_api, "Customer", "CA Cust")
    item = ca_api.create("Item", inventory_item("CA part"))
    vendor = _party(ca_api, "Vendor", "CA Vendor")
    for path, body in (
        ("/invoice", {"CustomerRef": {"value": cust}, "Line": [sales_line(item["Id"], 1, 10, 10)]}),
        ("/estimate", {"CustomerRef": {"value": cust}, "Line": [sales_line(item["Id"], 1, 10, 10)]}),
        ("/bill", {"VendorRef": {"value": vendor}, "Line": [expense_line(item["Id"], 1, 10, 10)]}),
        ("/purchaseorder", {"VendorRef": {"value": vendor}, "Line": [expense_line(item["Id"], 1, 10, 10)]}),
    ):
        err = ca_api.fault(ca_api.post(path, body))
        assert err["code"] == "6000"
        assert err["Detail"] == "Business Validation Error: Make sure all your transactions have a GST/HST rate before you save."
    line = sales_line(item["Id"], 1, 10, 10)
    line["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "99"}
    assert ca_api.fault(ca_api.post("/invoice", {"CustomerRef": {"value": cust}, "Line": [line]}))["code"] == "2500"


def test_non_us_tax_is_computed_per_code(ca_api: QboHttp) -> None:
    cust = _party(ca_api, "Customer", "CA Taxed")
    item = ca_api.create("Item", inventory_item("CA taxed part", 10))
    hst, exempt = sales_line(item["Id"], 2, Decimal("10.05"), Decimal("20.10")), sales_line(item["Id"], 1, 5, 5)
    hst["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "4"}
    exempt["SalesItemLineDetail"]["TaxCodeRef"] = {"value": "2"}
    inv = ca_api.create("Invoice", {"CustomerRef": {"value": cust}, "Line": [hst, exempt]})
    assert inv["GlobalTaxCalculation"] == "TaxExcluded"
    assert inv["TxnTaxDetail"]["TotalTax"] == Decimal("2.61")  # 13 % of 20.10 = 2.613
    assert inv["TotalAmt"] == Decimal("27.71")
    line = expense_line(item["Id"], 1, 100, 100)
    line["ItemBasedExpenseLineDetail"]["TaxCodeRef"] = {"value": "4"}
    bill = ca_api.create("Bill", {"VendorRef": {"value": _party(ca_api, "Vendor", "CA supplier")}, "Line": [line]})
    assert bill["TotalAmt"] == Decimal("113.00") == bill["Balance"]
    inclusive = ca_api.create(
        "Bill", {"VendorRef": {"value": _party(ca_api, "Vendor", "CA incl")}, "GlobalTaxCalculation": "TaxInclusive", "Line": [line]}
    )
    assert inclusive["TotalAmt"] == Decimal("100.00") and inclusive["TxnTaxDetail"]["TotalTax"] == Decimal("11.50")
