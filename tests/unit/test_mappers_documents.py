"""Mappers: Bottleneck rows -> QBO payloads (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from mappers import bottleneck as bn
from mappers.common import AccountRefs, MappingError, MissingReference, StaticRefs, amount
from mappers.customers import customer_to_qbo, vendor_to_qbo
from mappers.inventory import quantity_adjustment
from mappers.items import category_to_qbo, item_to_qbo, lot_to_qbo
from mappers.purchasing import bill_to_qbo, purchase_order_to_qbo
from mappers.sales import invoice_to_qbo, sales_order_to_qbo

ACC = AccountRefs(income="79", cogs="80", asset="81", ap="33", adjustment="82")
REFS = StaticRefs(
    ACC,
    {
        ("customer", 1): "58",
        ("vendor", 2): "41",
        ("item", 3): "19",
        ("item_category", 3): "18",
        ("lot", 4): "20",
        ("sales_order", 5): "130",
        ("purchase_order", 6): "140",
    },
    {("purchase_order", 6): {"61": "1", "62": "2"}},
)


def _item(**kw: object) -> bn.Item:
    base = {
        "id": 3,
        "company_id": 1,
        "sku": "WID-1",
        "name": "Widget",
        "kind": "inventory",
        "sales_price": D("12.5000"),
        "purchase_cost": D("4.0000"),
    }
    return bn.Item.model_validate(base | kw)


def test_customer_maps_contact_fields_and_addresses() -> None:
    c = bn.Customer(
        id=1,
        company_id=1,
        name=" Acme Corp ",
        company_name="Acme Corporation",
        email="ap@acme.test",
        phone="555-0100",
        billing_address=bn.Address(line1="1 Main St", city="Springfield", region="IL", postal_code="62701", country="US"),
        shipping_address=bn.Address(line1="Dock 4"),
        notes="net 30",
        is_active=False,
    )
    body = customer_to_qbo(c)
    assert body == {
        "DisplayName": "Acme Corp",
        "CompanyName": "Acme Corporation",
        "PrimaryEmailAddr": {"Address": "ap@acme.test"},
        "PrimaryPhone": {"FreeFormNumber": "555-0100"},
        "BillAddr": {"Line1": "1 Main St", "City": "Springfield", "CountrySubDivisionCode": "IL", "PostalCode": "62701", "Country": "US"},
        "ShipAddr": {"Line1": "Dock 4"},
        "Notes": "net 30",
        "Active": False,
    }


def test_vendor_has_no_ship_address_and_rejects_colon_in_name() -> None:
    v = bn.Vendor(id=2, company_id=1, name="Beans Inc", billing_address=bn.Address(line1=None))
    assert vendor_to_qbo(v) == {"DisplayName": "Beans Inc", "Active": True}
    with pytest.raises(MappingError, match="contains ':'"):
        vendor_to_qbo(bn.Vendor(id=2, company_id=1, name="Beans: Inc"))


def test_display_name_too_long_is_a_readable_mapping_error() -> None:
    with pytest.raises(MappingError) as err:
        customer_to_qbo(bn.Customer(id=7, company_id=1, name="x" * 501))
    assert "customer 7" in str(err.value) and "501 characters" in str(err.value)
    # the one QBO limit (mappers/limits.py): what QBO accepts, the mapper accepts
    assert customer_to_qbo(bn.Customer(id=7, company_id=1, name="x" * 500))["DisplayName"] == "x" * 500


def test_item_kinds() -> None:
    service = item_to_qbo(_item(kind="service", name="Discount", sku="DISC", sales_price=D("-5.0000"), purchase_cost=None), REFS)
    assert service == {
        "Name": "Discount",
        "Type": "Service",
        "Sku": "DISC",
        "UnitPrice": D("-5"),
        "Active": True,
        "IncomeAccountRef": {"value": "79"},
        # QBO refuses items without an expense account on purchase lines (issue 13)
        "ExpenseAccountRef": {"value": "80"},
    }
    non = item_to_qbo(_item(kind="non_tracking"), REFS)
    assert non["Type"] == "NonInventory" and non["PurchaseCost"] == D(4) and non["ExpenseAccountRef"] == {"value": "80"}
    canonical = item_to_qbo(_item(), REFS)
    assert canonical["Type"] == "Inventory" and canonical["ParentRef"] == {"value": "18"} and canonical["SubItem"] is True
    assert canonical["QtyOnHand"] == 0 and canonical["PurchaseCost"] == 0 and canonical["TrackQtyOnHand"] is True
    assert canonical["AssetAccountRef"] == {"value": "81"} and canonical["InvStartDate"] == "2000-01-01"
    assert category_to_qbo(_item()) == {"Name": "Widget", "Type": "Category", "Active": True}
    with pytest.raises(MappingError):
        category_to_qbo(_item(kind="service"))


def test_lot_item_carries_code_quantity_cost_under_the_category() -> None:
    lot = bn.Lot(
        id=4,
        company_id=1,
        item_id=3,
        lot_code="L-0042",
        quantity_on_hand=D("25.5000"),
        unit_cost=D("3.2500"),
        created_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
    )
    body = lot_to_qbo(bn.LotWithItem(lot=lot, item=_item()), REFS)
    assert body["Name"] == "Widget / L-0042" and body["Sku"] == "WID-1-L-0042"
    assert body["QtyOnHand"] == D("25.5") and body["PurchaseCost"] == D("3.25") and body["InvStartDate"] == "2026-03-01"
    assert body["ParentRef"] == {"value": "18"} and body["Type"] == "Inventory"
    long_name = lot_to_qbo(bn.LotWithItem(lot=lot, item=_item(name="N" * 100)), REFS)["Name"]
    assert len(long_name) == 100 and long_name.endswith(" / L-0042")


def test_amount_rounds_half_up_to_cents() -> None:
    assert amount(D("3"), D("0.3333")) == D("1.00")
    assert amount(D("1"), D("0.125")) == D("0.13")
    assert amount(D("2.5"), D("-4.0010")) == D("-10.00")


def _sales_lines() -> list[bn.SalesLine]:
    return [
        bn.SalesLine(id=12, line_no=2, item_id=3, lot_id=4, quantity=D("2.0000"), unit_price=D("10.0050")),
        bn.SalesLine(id=11, line_no=1, item_id=3, quantity=D("1.0000"), unit_price=D("99.9900"), description="first"),
    ]


def test_sales_order_to_estimate_orders_lines_and_points_at_lots() -> None:
    so = bn.SalesOrder(
        id=5,
        company_id=1,
        number="SO-1001",
        customer_id=1,
        status="open",
        order_date=date(2026, 4, 1),
        memo="rush",
        ship_by=date(2026, 4, 9),
        lines=_sales_lines(),
    )
    body = sales_order_to_qbo(so, REFS)
    assert body["DocNumber"] == "SO-1001" and body["CustomerRef"] == {"value": "58"} and body["TxnDate"] == "2026-04-01"
    assert body["ShipDate"] == "2026-04-09"
    assert "TxnStatus" not in body and body["PrivateNote"] == "rush"
    first, second = body["Line"]
    assert first["SalesItemLineDetail"]["ItemRef"] == {"value": "19"} and first["Description"] == "first"
    assert second["SalesItemLineDetail"] == {"ItemRef": {"value": "20"}, "Qty": D(2), "UnitPrice": D("10.005")}
    assert second["Amount"] == D("20.01")
    closed = sales_order_to_qbo(so.model_copy(update={"status": "closed"}), REFS)
    assert closed["TxnStatus"] == "Closed"
    # An invoice not yet in QBO would lose its link to an estimate closed first: Closed waits for it.
    invoiced = sales_order_to_qbo(so.model_copy(update={"status": "closed", "invoiced": True, "awaiting_link": True}), REFS)
    assert "TxnStatus" not in invoiced
    # once every linked invoice is in QBO, the order closed in Bottleneck is closed in QBO too
    landed = sales_order_to_qbo(so.model_copy(update={"status": "closed", "invoiced": True}), REFS)
    assert landed["TxnStatus"] == "Closed"


def test_invoice_links_its_estimate_only_when_synced() -> None:
    inv = bn.Invoice(
        id=8,
        company_id=1,
        number="INV-1",
        customer_id=1,
        sales_order_id=5,
        status="open",
        issue_date=date(2026, 4, 2),
        due_date=date(2026, 5, 2),
        lines=_sales_lines(),
    )
    assert invoice_to_qbo(inv, REFS)["LinkedTxn"] == [{"TxnId": "130", "TxnType": "Estimate"}]
    unsynced = inv.model_copy(update={"sales_order_id": 99})
    assert "LinkedTxn" not in invoice_to_qbo(unsynced, REFS)


def test_document_errors_are_typed() -> None:
    inv = bn.Invoice(id=8, company_id=1, number="X" * 22, customer_id=1, status="open", issue_date=date(2026, 4, 2), lines=_sales_lines())
    with pytest.raises(MappingError, match="DocNumber allows 21"):
        invoice_to_qbo(inv, REFS)
    with pytest.raises(MappingError, match="no lines"):
        invoice_to_qbo(inv.model_copy(update={"number": "I-1", "lines": []}), REFS)
    with pytest.raises(MissingReference):
        invoice_to_qbo(inv.model_copy(update={"number": "I-1", "customer_id": 404}), REFS)


def _po_lines() -> list[bn.PurchaseLine]:
    return [
        bn.PurchaseLine(id=61, line_no=1, item_id=3, quantity=D("10"), unit_cost=D("4.0000")),
        bn.PurchaseLine(id=62, line_no=2, item_id=3, quantity=D("3"), unit_cost=D("1.1111")),
    ]


def test_purchase_order() -> None:
    po = bn.PurchaseOrder(id=6, company_id=1, number="PO-7", vendor_id=2, status="open", order_date=date(2026, 4, 3), lines=_po_lines())
    body = purchase_order_to_qbo(po, REFS)
    assert body["VendorRef"] == {"value": "41"} and body["APAccountRef"] == {"value": "33"} and "POStatus" not in body
    assert [ln["Amount"] for ln in body["Line"]] == [D("40.00"), D("3.33")]
    assert body["Line"][0]["ItemBasedExpenseLineDetail"] == {"ItemRef": {"value": "19"}, "Qty": D(10), "UnitPrice": D(4)}
    assert purchase_order_to_qbo(po.model_copy(update={"status": "closed"}), REFS)["POStatus"] == "Closed"
    # QBO drops a bill's link to a closed PO: Closed waits until every linked bill is in QBO, then is
    # pushed whether the order was fully billed or billed short.
    waiting = po.model_copy(update={"status": "closed", "billed": True, "awaiting_link": True})
    assert "POStatus" not in purchase_order_to_qbo(waiting, REFS)
    assert purchase_order_to_qbo(po.model_copy(update={"status": "closed", "billed": True}), REFS)["POStatus"] == "Closed"


def test_bill_links_each_line_to_its_po_line() -> None:
    lines = [
        bn.PurchaseLine(
            id=71,
            line_no=1,
            item_id=3,
            lot_id=4,
            purchase_order_line_id=62,
            linked_purchase_order_id=6,
            quantity=D("3"),
            unit_cost=D("1.1111"),
        ),
        bn.PurchaseLine(id=72, line_no=2, item_id=3, quantity=D("1"), unit_cost=D("2")),
    ]
    bill = bn.Bill(
        id=9, company_id=1, number="V-88", vendor_id=2, purchase_order_id=6, status="open", bill_date=date(2026, 4, 4), lines=lines
    )
    body = bill_to_qbo(bill, REFS)
    assert body["Line"][0]["LinkedTxn"] == [{"TxnId": "140", "TxnType": "PurchaseOrder", "TxnLineId": "2"}]
    assert body["Line"][0]["ItemBasedExpenseLineDetail"]["ItemRef"] == {"value": "20"}
    assert "LinkedTxn" not in body["Line"][1]
    unknown_line = bill.model_copy(update={"lines": [lines[0].model_copy(update={"purchase_order_line_id": 63})]})
    with pytest.raises(MappingError, match="no QuickBooks line id"):
        bill_to_qbo(unknown_line, REFS)


def test_inventory_adjustment_moves_qbo_to_target() -> None:
    body = quantity_adjustment(
        item_qbo_id="20", qbo_qty=D("10"), target_qty=D("7.5000"), adjust_account="82", txn_date=date(2026, 4, 5), note="lot 4"
    )
    assert body == {
        "AdjustAccountRef": {"value": "82"},
        "TxnDate": "2026-04-05",
        "PrivateNote": "lot 4",
        "Line": [
            {"DetailType": "ItemAdjustmentLineDetail", "ItemAdjustmentLineDetail": {"ItemRef": {"value": "20"}, "QtyDiff": D("-2.5")}}
        ],
    }
    assert (
        quantity_adjustment(
            item_qbo_id="20", qbo_qty=D("7.5"), target_qty=D("7.5000"), adjust_account="82", txn_date=date(2026, 4, 5), note=""
        )
        is None
    )
