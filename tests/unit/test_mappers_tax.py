"""Sales tax on lines (issue 13): the company's settings reach the mappers through Refs.tax."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from mappers import bottleneck as bn
from mappers.common import AccountRefs, MappingError, StaticRefs
from mappers.purchasing import bill_to_qbo, purchase_order_to_qbo
from mappers.sales import invoice_to_qbo, sales_order_to_qbo
from mappers.tax import TaxSettings
from sinks.qbo.hashing import payload_hash

ACC = AccountRefs(income="79", cogs="80", asset="81", ap="33", adjustment="82")
IDS = {("customer", 1): "58", ("vendor", 2): "41", ("item", 3): "19", ("item", 9): "29", ("lot", 4): "20"}
US = StaticRefs(ACC, IDS)


def _invoice() -> bn.Invoice:
    return bn.Invoice(
        id=7,
        company_id=1,
        number="INV-7",
        customer_id=1,
        status="open",
        issue_date=date(2026, 12, 1),
        lines=[
            bn.SalesLine(id=1, line_no=1, item_id=3, lot_id=4, quantity=D(2), unit_price=D(10), item_kind="inventory"),
            bn.SalesLine(id=2, line_no=2, item_id=9, quantity=D(1), unit_price=D(50), item_kind="service"),
        ],
    )


def _bill() -> bn.Bill:
    return bn.Bill(
        id=8,
        company_id=1,
        number="B-8",
        vendor_id=2,
        status="open",
        bill_date=date(2026, 12, 1),
        lines=[bn.PurchaseLine(id=1, line_no=1, item_id=3, quantity=D(5), unit_cost=D(4), item_kind="inventory")],
    )


def _codes(payload: dict, detail: str) -> list[str | None]:
    return [(ln[detail].get("TaxCodeRef") or {}).get("value") for ln in payload["Line"]]


def test_without_settings_lines_carry_no_tax_code() -> None:
    assert _codes(invoice_to_qbo(_invoice(), US), "SalesItemLineDetail") == [None, None]
    assert _codes(bill_to_qbo(_bill(), US), "ItemBasedExpenseLineDetail") == [None]


def test_us_codes_by_kind_with_item_overrides() -> None:
    tax = TaxSettings(code_by_kind={"inventory": "TAX", "service": "TAX"}, code_by_item={9: "NON"}, automated_sales_tax=True)
    refs = replace(US, tax=tax)
    assert _codes(invoice_to_qbo(_invoice(), refs), "SalesItemLineDetail") == ["TAX", "NON"]
    so = bn.SalesOrder(
        id=5, company_id=1, number="SO-5", customer_id=1, status="open", order_date=date(2026, 12, 1), lines=_invoice().lines
    )
    assert _codes(sales_order_to_qbo(so, refs), "SalesItemLineDetail") == ["TAX", "NON"]
    # US purchases carry no sales-tax code
    assert _codes(bill_to_qbo(_bill(), refs), "ItemBasedExpenseLineDetail") == [None]


def test_non_us_every_line_gets_the_default_codes() -> None:
    refs = replace(US, tax=TaxSettings(country="CA", sales_code="4", purchase_code="5"))
    assert _codes(invoice_to_qbo(_invoice(), refs), "SalesItemLineDetail") == ["4", "4"]
    assert _codes(bill_to_qbo(_bill(), refs), "ItemBasedExpenseLineDetail") == ["5"]
    po = bn.PurchaseOrder(id=6, company_id=1, number="PO-6", vendor_id=2, status="open", order_date=date(2026, 12, 1), lines=_bill().lines)
    assert _codes(purchase_order_to_qbo(po, refs), "ItemBasedExpenseLineDetail") == ["5"]


def test_non_us_without_codes_is_a_mapping_error_naming_the_fix() -> None:
    refs = replace(US, tax=TaxSettings(country="GB", sales_code="4"))
    invoice_to_qbo(_invoice(), refs)
    with pytest.raises(MappingError, match="bottleneck-qbo tax set"):
        bill_to_qbo(_bill(), refs)


def test_hash_ignores_totals_qbo_computes() -> None:
    payload = invoice_to_qbo(_invoice(), replace(US, tax=TaxSettings(automated_sales_tax=True, code_by_kind={"service": "TAX"})))
    echoed = payload | {"TotalAmt": D("104.13"), "TxnTaxDetail": {"TotalTax": D("4.13")}, "Balance": D("104.13")}
    assert payload_hash(echoed) == payload_hash(payload)
    assert payload_hash(payload | {"DocNumber": "INV-8"}) != payload_hash(payload)
