"""Bad records fail before any HTTP call, with a message naming the field."""

from decimal import Decimal

import pytest

from sinks.qbo.errors import QboLocalValidationError
from sinks.qbo.validation import validate_body


def _err(entity: str, body: dict, **kw: bool) -> QboLocalValidationError:
    with pytest.raises(QboLocalValidationError) as exc:
        validate_body(entity, body, creating=kw.get("creating", True), sparse=kw.get("sparse", False))
    return exc.value


@pytest.mark.parametrize("entity", ["Customer", "Vendor"])
def test_display_name_rules(entity: str) -> None:
    assert "DisplayName: is required" in _err(entity, {}).message
    assert "DisplayName: is required" in _err(entity, {"DisplayName": "   "}).message
    for bad in ["Acme: West", "Acme\tWest", "Acme\nWest"]:
        err = _err(entity, {"DisplayName": bad})
        assert "DisplayName" in err.message and err.faults[0].element == "DisplayName"
    assert "at most 500" in _err(entity, {"DisplayName": "x" * 501}).message
    validate_body(entity, {"DisplayName": "x" * 500}, creating=True)


def test_sparse_update_does_not_require_display_name_but_checks_it() -> None:
    validate_body("Customer", {"Id": "1", "SyncToken": "0", "Active": False}, creating=False, sparse=True)
    assert "DisplayName" in _err("Customer", {"Id": "1", "DisplayName": "a:b"}, creating=False, sparse=True).message


def test_item_name_rules() -> None:
    assert "Item.Name: is required" in _err("Item", {"Type": "Service"}).message
    assert "at most 100" in _err("Item", {"Name": "n" * 101}).message
    assert "Item.Name" in _err("Item", {"Name": "Widgets:Blue"}).message
    assert "Item.Description" in _err("Item", {"Name": "ok", "Description": "d" * 4001}).message
    validate_body("Item", {"Name": "n" * 100, "Description": "d" * 4000}, creating=True)


def test_doc_number_and_private_note_lengths() -> None:
    line = [{"Amount": Decimal("1"), "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]
    err = _err("Invoice", {"DocNumber": "D" * 22, "Line": line})
    assert "Invoice.DocNumber" in err.message and "22 characters" in err.message
    assert "PrivateNote" in _err("Invoice", {"DocNumber": "1", "PrivateNote": "p" * 4001, "Line": line}).message
    assert "Line[0].Description" in _err("Invoice", {"Line": [{"Description": "d" * 4001}]}).message


@pytest.mark.parametrize("entity", ["Invoice", "Estimate", "PurchaseOrder", "Bill"])
def test_transactions_need_lines(entity: str) -> None:
    assert f"{entity}.Line" in _err(entity, {"CustomerRef": {"value": "1"}}).message
    assert f"{entity}.Line" in _err(entity, {"Line": []}).message
    # a sparse update that does not touch lines is fine
    validate_body(entity, {"Id": "1", "SyncToken": "0", "PrivateNote": "x"}, creating=False, sparse=True)


def _item_line(amount: str, qty: str, price: str, detail: str = "SalesItemLineDetail") -> dict:
    return {"Amount": Decimal(amount), "DetailType": detail, detail: {"Qty": Decimal(qty), "UnitPrice": Decimal(price)}}


def test_amount_must_equal_qty_times_unit_price() -> None:
    validate_body("Invoice", {"Line": [_item_line("30.00", "3", "10")]}, creating=True)
    validate_body("Invoice", {"Line": [_item_line("3.33", "1", "3.333")]}, creating=True)  # rounded to cents
    validate_body("Invoice", {"Line": [_item_line("-5", "1", "-5")]}, creating=True)  # discount service
    err = _err("Invoice", {"Line": [_item_line("30.00", "3", "10"), _item_line("31", "3", "10")]})
    assert "Invoice.Line[1].Amount" in err.message and "3 x 10" in err.message
    assert err.codes == ["6070"]
    err = _err("Bill", {"Line": [_item_line("1", "2", "3", "ItemBasedExpenseLineDetail")]})
    assert "Bill.Line[0].Amount" in err.message
