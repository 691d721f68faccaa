"""The pure comparison behind `reconcile`: only Bottleneck-owned fields count, QBO's own additions do not."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bottleneck_qbo.ops.reconcile.diff import compare, expected_total, is_voided, qbo_total_before_tax

INVOICE = {
    "DocNumber": "INV-1",
    "CustomerRef": {"value": "7"},
    "TxnDate": date(2026, 11, 30),
    "LinkedTxn": [{"TxnId": "3", "TxnType": "Estimate"}],
    "Line": [
        {
            "Amount": Decimal("70.00"),
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "5"}, "Qty": Decimal("2"), "UnitPrice": Decimal("35.00")},
        },
    ],
}


def qbo_invoice(**changes: object) -> dict[str, object]:
    obj: dict[str, object] = {
        "Id": "12",
        "SyncToken": "3",
        "DocNumber": "INV-1",
        "CustomerRef": {"value": "7", "name": "Acme"},
        "TxnDate": "2026-11-30",
        "Balance": Decimal("70.00"),
        "TotalAmt": Decimal("70.00"),
        "LinkedTxn": [{"TxnId": "3", "TxnType": "Estimate"}, {"TxnId": "9", "TxnType": "Payment"}],
        "Line": [
            {
                "Id": "1",
                "LineNum": 1,
                "Amount": 70,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "5", "name": "Labour"}, "Qty": 2, "UnitPrice": Decimal("35")},
            },
            {"Amount": Decimal("70.00"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        ],
    }
    obj.update(changes)
    return obj


def test_equal_object_with_qbo_additions_is_clean() -> None:
    # names on refs, Balance, MetaData, a payment's link, QBO's subtotal line, numbers as int: all fine
    assert compare(INVOICE, qbo_invoice()) == []


def test_owned_field_differences_are_reported_with_their_path() -> None:
    actual = qbo_invoice(DocNumber="INV-X", CustomerRef={"value": "8"})
    assert {p for p, _, _ in compare(INVOICE, actual)} == {"DocNumber", "CustomerRef"}


def test_line_price_and_count() -> None:
    line = {**qbo_invoice()["Line"][0]}
    line["SalesItemLineDetail"] = {**line["SalesItemLineDetail"], "UnitPrice": Decimal("30")}
    assert [p for p, _, _ in compare(INVOICE, qbo_invoice(Line=[line]))] == ["Line[1].SalesItemLineDetail.UnitPrice"]
    assert [p for p, _, _ in compare(INVOICE, qbo_invoice(Line=[]))] == ["Line (count)"]


def test_a_dropped_link_is_reported() -> None:
    diffs = compare(INVOICE, qbo_invoice(LinkedTxn=[{"TxnId": "9", "TxnType": "Payment"}]))
    assert diffs == [("LinkedTxn", "Estimate 3", "dropped")]


def test_inactive_name_shown_as_deleted_is_the_same_name() -> None:
    expected = {"DisplayName": "Acme", "Active": False}
    assert compare(expected, {"DisplayName": "Acme (deleted)", "Active": False}) == []
    assert compare(expected, {"DisplayName": "Acme (deleted)", "Active": True}) != []


def test_totals_and_void() -> None:
    assert expected_total(INVOICE) == Decimal("70.00")
    taxed = qbo_invoice(TotalAmt=Decimal("75.60"), TxnTaxDetail={"TotalTax": Decimal("5.60")})
    assert qbo_total_before_tax(taxed) == Decimal("70.00")
    assert is_voided({"TotalAmt": 0, "PrivateNote": "Voided"})
    assert not is_voided(qbo_invoice())
