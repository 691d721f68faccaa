"""Every payload the product's mappers send fits Intuit's v3 schema (facts derived by
infra/qbo_sandbox/schema_facts/derive.py from the XSD), for US, US automated-sales-tax and non-US companies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from infra.qbo_sandbox.schema_facts import derive, violations
from mappers import bottleneck as bn
from mappers.common import AccountRefs, StaticRefs
from mappers.customers import customer_to_qbo, vendor_to_qbo
from mappers.inventory import quantity_adjustment
from mappers.items import category_to_qbo, item_to_qbo, lot_to_qbo
from mappers.purchasing import bill_to_qbo, purchase_order_to_qbo
from mappers.sales import invoice_to_qbo, sales_order_to_qbo
from mappers.tax import TaxSettings

ACC = AccountRefs(income="79", cogs="80", asset="81", ap="33", adjustment="82")
BASE = StaticRefs(
    ACC,
    {
        ("customer", 1): "58",
        ("vendor", 2): "41",
        ("item", 3): "19",
        ("item", 9): "29",
        ("item_category", 3): "18",
        ("lot", 4): "20",
        ("sales_order", 5): "130",
        ("purchase_order", 6): "140",
    },
    {("purchase_order", 6): {"61": "1"}},
)
TAXES = {
    "us": TaxSettings(),
    "us-ast": TaxSettings(automated_sales_tax=True, code_by_kind={"inventory": "TAX", "service": "NON"}, code_by_item={9: "TAX"}),
    "ca": TaxSettings(country="CA", sales_code="4", purchase_code="4"),
}
DAY = date(2026, 12, 1)


def _item(**kw: Any) -> bn.Item:
    base = {
        "id": 3,
        "company_id": 1,
        "sku": "WID-1",
        "name": "Widget",
        "kind": "inventory",
        "sales_price": D("12.5"),
        "purchase_cost": D(4),
    }
    return bn.Item.model_validate(base | kw)


def _payloads(refs: StaticRefs) -> list[tuple[str, dict[str, Any]]]:
    addr = bn.Address.model_validate({"line1": "1 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"})
    sales = [
        bn.SalesLine(
            id=11, line_no=1, item_id=3, lot_id=4, quantity=D(2), unit_price=D("10.005"), description="lot", item_kind="inventory"
        ),
        bn.SalesLine(id=12, line_no=2, item_id=9, quantity=D(1), unit_price=D(-5), item_kind="service"),
    ]
    buys = [bn.PurchaseLine(id=61, line_no=1, item_id=3, quantity=D(10), unit_cost=D(4), item_kind="inventory")]
    billed = [
        bn.PurchaseLine(
            id=71,
            line_no=1,
            item_id=3,
            lot_id=4,
            purchase_order_line_id=61,
            linked_purchase_order_id=6,
            quantity=D(3),
            unit_cost=D(4),
            item_kind="inventory",
        )
    ]
    lot = bn.Lot(
        id=4, company_id=1, item_id=3, lot_code="L-1", quantity_on_hand=D(5), unit_cost=D(3), created_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    adjustment = quantity_adjustment(item_qbo_id="20", qbo_qty=D(10), target_qty=D(7), adjust_account="82", txn_date=DAY, note="lot 4")
    assert adjustment is not None
    return [
        (
            "Customer",
            customer_to_qbo(
                bn.Customer(
                    id=1,
                    company_id=1,
                    name="Acme",
                    company_name="Acme Co",
                    email="a@b.test",
                    phone="1",
                    billing_address=addr,
                    shipping_address=addr,
                    notes="n",
                )
            ),
        ),
        ("Vendor", vendor_to_qbo(bn.Vendor(id=2, company_id=1, name="Beans", email="v@b.test", billing_address=addr))),
        ("Item", category_to_qbo(_item())),
        ("Item", item_to_qbo(_item(), refs)),
        ("Item", item_to_qbo(_item(kind="service", id=9), refs)),
        ("Item", item_to_qbo(_item(kind="non_tracking"), refs)),
        ("Item", lot_to_qbo(bn.LotWithItem(lot=lot, item=_item()), refs)),
        (
            "Estimate",
            sales_order_to_qbo(
                bn.SalesOrder(
                    id=5, company_id=1, number="SO-5", customer_id=1, status="closed", order_date=DAY, ship_by=DAY, memo="m", lines=sales
                ),
                refs,
            ),
        ),
        (
            "Invoice",
            invoice_to_qbo(
                bn.Invoice(
                    id=7,
                    company_id=1,
                    number="I-7",
                    customer_id=1,
                    sales_order_id=5,
                    status="open",
                    issue_date=DAY,
                    due_date=DAY,
                    memo="m",
                    lines=sales,
                ),
                refs,
            ),
        ),
        (
            "PurchaseOrder",
            purchase_order_to_qbo(
                bn.PurchaseOrder(
                    id=6, company_id=1, number="PO-6", vendor_id=2, status="closed", order_date=DAY, expected_on=DAY, lines=buys
                ),
                refs,
            ),
        ),
        (
            "Bill",
            bill_to_qbo(
                bn.Bill(
                    id=8,
                    company_id=1,
                    number="B-8",
                    vendor_id=2,
                    purchase_order_id=6,
                    status="open",
                    bill_date=DAY,
                    due_date=DAY,
                    lines=billed,
                ),
                refs,
            ),
        ),
        ("InventoryAdjustment", adjustment),
    ]


@pytest.mark.parametrize("region", sorted(TAXES))
def test_mapper_payloads_use_only_schema_fields(region: str) -> None:
    payloads = _payloads(replace(BASE, tax=TAXES[region]))
    assert {e for e, _ in payloads} == {"Customer", "Vendor", "Item", "Estimate", "Invoice", "PurchaseOrder", "Bill", "InventoryAdjustment"}
    problems = [p for entity, body in payloads for p in violations(entity, body)]
    assert problems == []


def test_checker_catches_what_qbo_would_refuse() -> None:
    assert violations("Vendor", {"DisplayName": "V", "Level": 0}) == ["Vendor.Level: not a field of Vendor"]
    bad_line = {"Amount": 1, "DetailType": "AccountBasedExpenseLineDetail", "AccountRef": {"value": "1"}}
    assert violations("Bill", {"Line": [bad_line]}) == ["Bill.Line[0].AccountRef: not a field of Line"]
    assert violations("Invoice", {"Line": {"Amount": 1}}) == ["Invoice.Line: expected an array, got dict"]
    assert violations("PurchaseOrder", {"POStatus": "Shut"}) == ["PurchaseOrder.POStatus: 'Shut' is not one of PurchaseOrderStatusEnum"]


_MINI_XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
 <xs:complexType name="IntuitEntity"><xs:sequence><xs:element name="Id" type="xs:string" minOccurs="0"/></xs:sequence>
  <xs:attribute name="domain" type="xs:string"/></xs:complexType>
 <xs:complexType name="ReferenceType"><xs:simpleContent><xs:extension base="xs:string">
  <xs:attribute name="name" type="xs:string"/></xs:extension></xs:simpleContent></xs:complexType>
 <xs:simpleType name="ColorEnum"><xs:restriction base="xs:string"><xs:enumeration value="Red"/></xs:restriction></xs:simpleType>
 <xs:complexType name="Line"><xs:sequence><xs:element name="Amount" type="xs:decimal" minOccurs="0"/>
  <xs:choice><xs:element name="ItemRef" type="ReferenceType"/></xs:choice></xs:sequence></xs:complexType>
 <xs:complexType name="Widget"><xs:complexContent><xs:extension base="IntuitEntity"><xs:sequence>
  <xs:element name="Color" type="ColorEnum" minOccurs="0"/>
  <xs:element name="Line" type="Line" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:extension></xs:complexContent>
 </xs:complexType>
 <xs:element name="Widget" type="Widget"/>
</xs:schema>"""


def test_derive_reads_extensions_choices_attributes_and_simple_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Finance.xsd").write_text(_MINI_XSD)
    for name in ("IntuitBaseTypes.xsd", "IntuitNamesTypes.xsd"):
        (tmp_path / name).write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    monkeypatch.setattr(derive, "ENTITIES", ("Widget",))
    facts = derive.derive(tmp_path, "abc")
    widget = facts["types"]["Widget"]
    assert set(widget) == {"Id", "domain", "Color", "Line"}
    assert widget["Line"]["many"] is True and widget["Line"]["complex"] is True and widget["domain"]["kind"] == "attribute"
    assert set(facts["types"]["Line"]) == {"Amount", "ItemRef"} and set(facts["types"]["ReferenceType"]) == {"value", "name"}
    assert facts["enums"]["ColorEnum"] == ["Red"] and facts["source"]["commit"] == "abc"
