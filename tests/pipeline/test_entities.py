"""Every row of the entity table, written to Bottleneck with SQL, lands in QBO in the right shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec

pytestmark = pytest.mark.integration


def by_name(items: list[dict[str, Any]], name: str, type_: str) -> dict[str, Any]:
    found = [i for i in items if i.get("Name") == name and i.get("Type") == type_]
    assert len(found) == 1, f"{len(found)} {type_} items named {name!r}"
    return found[0]


async def test_parties_and_every_kind_of_item(db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    seed.customer(
        db,
        company.id,
        f"Green Grocer {t}",
        email="ap@greengrocer.example",
        address={"line1": "12 Market St", "city": "Portland", "region": "OR", "postal_code": "97201", "country": "US"},
    )
    seed.vendor(db, company.id, f"Bean Importers {t}", email="orders@beans.example")
    seed.item(db, company.id, f"WTR-{t}", f"Filtered Water {t}", "non_tracking", purchase_cost=Decimal("0.01"), sales_price=Decimal("0.05"))
    seed.item(
        db,
        company.id,
        f"CB-{t}",
        f"Cold Brew {t}",
        "inventory",
        sales_price=Decimal("4.50"),
        purchase_cost=Decimal("1.25"),
        lots=[("L1", Decimal("240"), Decimal("1.22")), ("L2", Decimal("120.5"), Decimal("1.31"))],
    )
    seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    seed.item(db, company.id, f"DISC-{t}", f"Wholesale discount {t}", "service", sales_price=Decimal("-5.00"))

    cust = await qbo.wait_one("Customer", f"DisplayName = 'Green Grocer {t}'")
    assert cust["PrimaryEmailAddr"]["Address"] == "ap@greengrocer.example"
    assert cust["BillAddr"]["City"] == "Portland"
    vend = await qbo.wait_one("Vendor", f"DisplayName = 'Bean Importers {t}'")
    assert vend["PrimaryEmailAddr"]["Address"] == "orders@beans.example"

    await qbo.wait_one("Item", f"Name = 'Cold Brew {t} / L2'")
    await qbo.wait_one("Item", f"Name = 'Wholesale discount {t}'")
    await qbo.wait_one("Item", f"Name = 'Labour {t}'")
    await qbo.wait_one("Item", f"Name = 'Filtered Water {t}'")
    items = await qbo.all("Item")

    water = by_name(items, f"Filtered Water {t}", "NonInventory")
    assert water["Sku"] == f"WTR-{t}" and dec(water["PurchaseCost"]) == Decimal("0.01")

    category = by_name(items, f"Cold Brew {t}", "Category")
    canonical = by_name(items, f"Cold Brew {t}", "Inventory")
    assert canonical["ParentRef"]["value"] == category["Id"]
    assert dec(canonical["QtyOnHand"]) == 0 and dec(canonical["PurchaseCost"]) == 0
    assert canonical["Sku"] == f"CB-{t}"
    for code, qty, cost in (("L1", "240", "1.22"), ("L2", "120.5", "1.31")):
        lot = by_name(items, f"Cold Brew {t} / {code}", "Inventory")
        assert lot["ParentRef"]["value"] == category["Id"], "lot items are grouped under the item's Category"
        assert lot["Sku"] == f"CB-{t}-{code}"
        assert dec(lot["QtyOnHand"]) == Decimal(qty)
        assert dec(lot["PurchaseCost"]) == Decimal(cost)

    assert dec(by_name(items, f"Labour {t}", "Service")["UnitPrice"]) == Decimal("35.00")
    assert dec(by_name(items, f"Wholesale discount {t}", "Service")["UnitPrice"]) == Decimal("-5.00")


async def test_draft_then_open_estimate_then_invoice_closes_it(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Cafe {t}")
    brew, (lot1, _) = seed.item(
        db,
        company.id,
        f"CB-{t}",
        f"Cold Brew {t}",
        "inventory",
        sales_price=Decimal("4.50"),
        lots=[("L1", Decimal("100"), Decimal("1.20")), ("L2", Decimal("50"), Decimal("1.30"))],
    )
    disc, _ = seed.item(db, company.id, f"DISC-{t}", f"Discount {t}", "service", sales_price=Decimal("-5.00"))
    lines = [Line(brew, Decimal("10"), Decimal("4.50"), lot_id=lot1), Line(disc, Decimal("1"), Decimal("-5.00"))]

    mark = pipeline.mark("sales_orders")
    so = seed.sales_order(db, company.id, f"SO-{t}", cust, lines, status="draft")
    pipeline.settle("sales_orders", so, mark)
    assert await qbo.one("Estimate", f"DocNumber = 'SO-{t}'") is None, "a draft reached QBO"
    assert await qbo.writes("Estimate") == 0

    db.execute("update sales_orders set status = 'open', updated_at = now() where id = %s", (so,))
    est = await qbo.wait_one("Estimate", f"DocNumber = 'SO-{t}'")
    assert dec(est["TotalAmt"]) == Decimal("40.00")

    seed.invoice(db, company.id, f"INV-{t}", cust, lines, sales_order_id=so)
    invoice = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    assert {"TxnId": est["Id"], "TxnType": "Estimate"} in [
        {"TxnId": link["TxnId"], "TxnType": link["TxnType"]} for link in invoice.get("LinkedTxn", [])
    ]
    assert dec(invoice["TotalAmt"]) == Decimal("40.00")
    items = {i["Id"]: i for i in await qbo.all("Item")}
    line_items = [
        items[ln["SalesItemLineDetail"]["ItemRef"]["value"]]["Name"]
        for ln in invoice["Line"]
        if ln.get("DetailType") == "SalesItemLineDetail"
    ]
    assert line_items == [f"Cold Brew {t} / L1", f"Discount {t}"], "a line with a known lot points at the lot's item"
    await qbo.wait_one("Estimate", f"DocNumber = 'SO-{t}'", check=lambda e: e.get("TxnStatus") == "Closed")
    assert await qbo.writes("Invoice") == 1, "header and lines in one transaction make one QBO write"


async def test_invoice_inserted_with_its_new_customer_in_one_transaction(db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    with db.transaction():
        cust = db.execute(
            "insert into customers (company_id, name) values (%s, %s) returning id", (company.id, f"Newcomer {t}")
        ).fetchone()[0]
        inv = db.execute(
            "insert into invoices (company_id, number, customer_id, status, issue_date, due_date)"
            " values (%s, %s, %s, 'open', current_date, current_date + 30) returning id",
            (company.id, f"INV-{t}", cust),
        ).fetchone()[0]
        db.execute(
            "insert into invoice_lines (invoice_id, line_no, item_id, quantity, unit_price) values (%s, 1, %s, 2, 35.00)", (inv, svc)
        )
    invoice = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    customer = await qbo.wait_one("Customer", f"DisplayName = 'Newcomer {t}'")
    assert invoice["CustomerRef"]["value"] == customer["Id"]
    assert dec(invoice["TotalAmt"]) == Decimal("70.00")
    assert await qbo.writes("Customer") == 1 and await qbo.writes("Invoice") == 1


async def test_purchase_order_then_bill_linked_per_line_closes_it(db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    vend = seed.vendor(db, company.id, f"Supplier {t}")
    water, _ = seed.item(db, company.id, f"WTR-{t}", f"Water {t}", "non_tracking", purchase_cost=Decimal("0.01"))
    cups, _ = seed.item(db, company.id, f"CUP-{t}", f"Cups {t}", "non_tracking", purchase_cost=Decimal("0.10"))
    po, po_lines = seed.purchase_order(
        db, company.id, f"PO-{t}", vend, [Line(water, Decimal("1000"), Decimal("0.01")), Line(cups, Decimal("200"), Decimal("0.10"))]
    )
    purchase_order = await qbo.wait_one("PurchaseOrder", f"DocNumber = 'PO-{t}'")
    assert dec(purchase_order["TotalAmt"]) == Decimal("30.00")

    seed.bill(
        db,
        company.id,
        f"B-{t}",
        vend,
        [
            Line(water, Decimal("1000"), Decimal("0.01"), purchase_order_line_id=po_lines[0]),
            Line(cups, Decimal("200"), Decimal("0.10"), purchase_order_line_id=po_lines[1]),
        ],
        purchase_order_id=po,
    )
    bill = await qbo.wait_one("Bill", f"DocNumber = 'B-{t}'")
    item_lines = [ln for ln in bill["Line"] if ln.get("DetailType") == "ItemBasedExpenseLineDetail"]
    assert len(item_lines) == 2
    for ln in item_lines:
        assert [(x["TxnId"], x["TxnType"]) for x in ln.get("LinkedTxn", [])] == [(purchase_order["Id"], "PurchaseOrder")]
    assert dec(bill["TotalAmt"]) == Decimal("30.00")
    await qbo.wait_one("PurchaseOrder", f"DocNumber = 'PO-{t}'", check=lambda p: p.get("POStatus") == "Closed")


async def test_ship_and_receive_jobs_bring_qbo_quantities_to_bottleneck(db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Cafe {t}")
    vend = seed.vendor(db, company.id, f"Roaster {t}")
    brew, (lot1, lot2) = seed.item(
        db,
        company.id,
        f"CB-{t}",
        f"Cold Brew {t}",
        "inventory",
        sales_price=Decimal("4.50"),
        lots=[("L1", Decimal("240"), Decimal("1.22")), ("L2", Decimal("120"), Decimal("1.31"))],
    )
    so = seed.sales_order(db, company.id, f"SO-{t}", cust, [Line(brew, Decimal("48"), Decimal("4.50"), lot_id=lot1)])
    seed.invoice(db, company.id, f"INV-{t}", cust, [Line(brew, Decimal("48"), Decimal("4.50"), lot_id=lot1)], sales_order_id=so)
    seed.complete_ship_job(db, company.id, so, [(lot1, Decimal("48"))])
    po, po_lines = seed.purchase_order(db, company.id, f"PO-{t}", vend, [Line(brew, Decimal("30"), Decimal("1.31"))])
    seed.bill(
        db,
        company.id,
        f"B-{t}",
        vend,
        [Line(brew, Decimal("30"), Decimal("1.31"), lot_id=lot2, purchase_order_line_id=po_lines[0])],
        purchase_order_id=po,
    )
    seed.complete_receive_job(db, company.id, po, [(lot2, Decimal("30"))])
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    await qbo.wait_one("Bill", f"DocNumber = 'B-{t}'")

    expected = {
        code: Decimal(str(q))
        for code, q in db.execute("select lot_code, quantity_on_hand from lots where item_id = %s", (brew,)).fetchall()
    }
    assert expected == {"L1": Decimal("192"), "L2": Decimal("150")}

    for code, qty in expected.items():

        def has_qty(item: dict[str, Any], qty: Decimal = qty) -> bool:
            return dec(item["QtyOnHand"]) == qty

        await qbo.wait_one("Item", f"Name = 'Cold Brew {t} / {code}'", check=has_qty, timeout=45)
    canonical = [i for i in await qbo.all("Item") if i.get("Name") == f"Cold Brew {t}" and i.get("Type") == "Inventory"]
    assert len(canonical) == 1 and dec(canonical[0]["QtyOnHand"]) == 0
    assert await qbo.writes("InventoryAdjustment") >= 1
