"""The demo's story through the running pipeline in a non-US realm (Canada, HST 13 %) and in a US realm on
automated sales tax (8.25 %): every line carries the company's tax code, QBO's totals are the subtotal plus
the tax QBO computes, the product never rewrites a document because of QBO's tax, and a payment of QBO's
total (tax included) still lands in Bottleneck.

Totals are compared through the sandbox's API (``reconcile`` does not exist yet).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from bottleneck_qbo.ops.connect import connect_local
from mappers.tax import TaxSettings
from sinks.qbo import tax_settings
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, reconcile, wait_until

pytestmark = pytest.mark.integration

CENT = Decimal("0.01")


def _tax(base: Decimal, percent: Decimal) -> Decimal:
    return (base * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Region:
    realm: dict[str, Any]  # how the sandbox realm is created (/__sandbox/realms)
    sales_percent: Decimal
    purchase_percent: Decimal


REGIONS = {
    "CA": Region({"country": "CA", "tax_rate": "13"}, Decimal("13"), Decimal("13")),
    "US-AST": Region({"country": "US", "automated_sales_tax": True, "tax_rate": "8.25"}, Decimal("8.25"), Decimal("0")),
}


@pytest_asyncio.fixture(params=sorted(REGIONS))
async def regional(
    request: pytest.FixtureRequest, pipeline: Pipeline, db: psycopg.Connection[Any]
) -> AsyncIterator[tuple[str, Company, Qbo]]:
    """A live company connected to a new sandbox realm of the region (``connect_local`` reuses a realm that exists)."""
    name: str = request.param
    tag = uuid.uuid4().hex[:8]
    company_id = seed.company(db, f"Tax test {tag}")
    realm = f"78{uuid.uuid4().int % 10**14:014d}"
    async with httpx.AsyncClient(base_url=pipeline.settings.qbo_base_url, timeout=10) as http:
        created = await http.post("/__sandbox/realms", json={"realm_id": realm, **REGIONS[name].realm})
        created.raise_for_status()
    await connect_local(pipeline.settings, company_id, realm)
    q = Qbo(pipeline.settings, realm)
    try:
        yield name, Company(id=company_id, realm=realm, tag=tag), q
    finally:
        await q.aclose()


async def test_demo_story_with_sales_tax(pipeline: Pipeline, db: psycopg.Connection[Any], regional: tuple[str, Company, Qbo]) -> None:
    region, company, qbo = regional
    sales_percent, purchase_percent = REGIONS[region].sales_percent, REGIONS[region].purchase_percent
    t = company.tag
    cust = seed.customer(db, company.id, f"Tax Grocer {t}")
    vend = seed.vendor(db, company.id, f"Tax Beans {t}")
    brew, (lot1, _lot2) = seed.item(
        db,
        company.id,
        f"CB-{t}",
        f"Cold Brew {t}",
        "inventory",
        sales_price=Decimal("4.50"),
        purchase_cost=Decimal("1.25"),
        lots=[("L1", Decimal("240"), Decimal("1.22")), ("L2", Decimal("120"), Decimal("1.31"))],
    )
    water, _ = seed.item(db, company.id, f"WTR-{t}", f"Filtered Water {t}", "non_tracking", purchase_cost=Decimal("0.01"))
    disc, _ = seed.item(db, company.id, f"DISC-{t}", f"Wholesale discount {t}", "service", sales_price=Decimal("-5.00"))
    if region == "CA":
        settings = TaxSettings(country="CA", sales_code="4", purchase_code="4")
    else:
        # TAX by kind, and a per-item override: the discount is not taxable, so it does not lower the taxable amount
        by_kind = {"inventory": "TAX", "non_tracking": "TAX", "service": "TAX"}
        settings = TaxSettings(automated_sales_tax=True, code_by_kind=by_kind, code_by_item={disc: "NON"})
    with psycopg.connect(pipeline.settings.postgres_dsn) as conn:
        tax_settings.save(conn, company.id, settings)

    lines = [Line(brew, Decimal("48"), Decimal("4.50"), lot_id=lot1), Line(disc, Decimal("1"), Decimal("-5.00"))]
    so = seed.sales_order(db, company.id, f"SO-{t}", cust, lines)
    est = await qbo.wait_one("Estimate", f"DocNumber = 'SO-{t}'")
    inv_id = seed.invoice(db, company.id, f"INV-{t}", cust, lines, sales_order_id=so)
    inv = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    po, po_lines = seed.purchase_order(db, company.id, f"PO-{t}", vend, [Line(water, Decimal("1000"), Decimal("0.01"))])
    seed.bill(
        db,
        company.id,
        f"B-{t}",
        vend,
        [Line(water, Decimal("1000"), Decimal("0.01"), purchase_order_line_id=po_lines[0])],
        purchase_order_id=po,
    )
    bill = await qbo.wait_one("Bill", f"DocNumber = 'B-{t}'")
    pipeline.wait_idle()

    # every line carries the company's code
    sales_codes = [ln["SalesItemLineDetail"].get("TaxCodeRef", {}).get("value") for ln in inv["Line"] if "SalesItemLineDetail" in ln]
    bill_codes = [ln["ItemBasedExpenseLineDetail"].get("TaxCodeRef", {}).get("value") for ln in bill["Line"]]
    if region == "CA":
        assert sales_codes == ["4", "4"] and bill_codes == ["4"]
        taxable = Decimal("211.00")  # 48 x 4.50 - 5.00, all at the HST code
    else:
        assert sales_codes == ["TAX", "NON"] and bill_codes == [None]
        taxable = Decimal("216.00")  # the NON discount line is not taxed

    # QBO's totals: Bottleneck's subtotal plus the tax QBO computes
    subtotal = Decimal("211.00")
    expected = subtotal + _tax(taxable, sales_percent)
    for doc in (inv, est):
        assert dec(doc["TxnTaxDetail"]["TotalTax"]) == _tax(taxable, sales_percent)
        assert dec(doc["TotalAmt"]) == expected
    assert dec(inv["Balance"]) == expected
    assert dec(bill["TotalAmt"]) == Decimal("10.00") + _tax(Decimal("10.00"), purchase_percent)
    assert (await qbo.one("PurchaseOrder", f"DocNumber = 'PO-{t}'") or {}).get("POStatus") == "Closed"
    total = db.execute("select sum(round(quantity * unit_price, 2)) from invoice_lines where invoice_id = %s", (inv_id,)).fetchone()
    assert total is not None and dec(total[0]) == subtotal, "Bottleneck's own total is the subtotal"

    # the product does not fight QBO's tax: touching the documents in Bottleneck writes nothing
    writes = await qbo.writes()
    mark = pipeline.mark("invoices", "sales_orders")
    db.execute("update invoices set updated_at = now() where id = %s", (inv_id,))
    db.execute("update sales_orders set updated_at = now() where id = %s", (so,))
    pipeline.settle("invoices", inv_id, mark)
    pipeline.wait_idle()
    assert await qbo.writes() == writes

    # a payment of QBO's total (tax included) comes back to Bottleneck
    payment = await qbo.client.create(
        company.realm,
        "Payment",
        {
            "CustomerRef": {"value": inv["CustomerRef"]["value"]},
            "TotalAmt": dec(inv["TotalAmt"]),
            "Line": [{"Amount": dec(inv["TotalAmt"]), "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
        request_id=f"tax-pay-{t}",
    )
    row = wait_until(
        lambda: db.execute(
            "select amount from invoice_payments where invoice_id = %s and qbo_payment_id = %s", (inv_id, payment["Id"])
        ).fetchone(),
        what="invoice_payments row for the taxed invoice",
    )
    assert row is not None and dec(row[0]) == expected
    assert dec((await qbo.read("Invoice", inv["Id"]))["Balance"]) == 0

    # and reconcile, comparing what Bottleneck owns (subtotal, lines, tax codes), finds QBO equal
    rc, report = reconcile(company.id)
    assert rc == 0, report["differences"]
