"""A messy company through the whole product (issue 9): same-named customers, a customer and a vendor
sharing a name, a lot swapped and a line removed, an invoice voided, a PO billed short then closed, a hand
edit in QBO through its API and an item renamed. It ends with `reconcile` exiting 0."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, idmap_entry, reconcile

pytestmark = pytest.mark.integration


def wait_clean(company: int, timeout: float = 90.0) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rc, report = reconcile(company)
        if rc == 0 or time.monotonic() > deadline:
            return rc, report
        time.sleep(1.0)


async def test_a_messy_company_ends_equal_in_qbo(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    # these edits in QBO are for reconcile to find: the worker must not put them back first (drift policy)
    db.execute("insert into qbo_sync.drift_policy (company_id, policy) values (%s, 'report')", (company.id,))
    acme_1 = seed.customer(db, company.id, f"Acme {t}", email="one@acme.test")
    acme_2 = seed.customer(db, company.id, f"Acme {t}", email="two@acme.test")
    globex_c = seed.customer(db, company.id, f"Globex {t}")
    globex_v = seed.vendor(db, company.id, f"Globex {t}")
    brew, (l1, l2) = seed.item(
        db,
        company.id,
        f"BRW-{t}",
        f"Brew {t}",
        "inventory",
        sales_price=Decimal("4.50"),
        lots=[("L1", Decimal("100"), Decimal("1.20")), ("L2", Decimal("50"), Decimal("1.30"))],
    )
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    inv = seed.invoice(
        db,
        company.id,
        f"INV-M1-{t}",
        acme_2,
        [Line(brew, Decimal("2"), Decimal("4.50"), lot_id=l1), Line(svc, Decimal("1"), Decimal("35.00"))],
    )
    doomed = seed.invoice(db, company.id, f"INV-M2-{t}", acme_1, [Line(brew, Decimal("5"), Decimal("4.50"), lot_id=l2)])
    po, (pol1, _pol2) = seed.purchase_order(
        db, company.id, f"PO-M-{t}", globex_v, [Line(brew, Decimal("10"), Decimal("1.20")), Line(svc, Decimal("2"), Decimal("20.00"))]
    )
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-M1-{t}'")
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-M2-{t}'")
    await qbo.wait_one("PurchaseOrder", f"DocNumber = 'PO-M-{t}'")
    pipeline.wait_idle()

    # the invoice's lot is swapped and its service line removed; the other invoice is voided
    db.execute("update invoice_lines set lot_id = %s where invoice_id = %s and lot_id = %s", (l2, inv, l1))
    db.execute("delete from invoice_lines where invoice_id = %s and item_id = %s", (inv, svc))
    db.execute("update invoices set updated_at = now() where id = %s", (inv,))
    db.execute("update invoices set status = 'void', updated_at = now() where id = %s", (doomed,))
    # the PO is billed short (3 of 10 on one line, nothing on the other); billing closes it in Bottleneck
    seed.bill(db, company.id, f"B-M-{t}", globex_v, [Line(brew, Decimal("3"), Decimal("1.20"), lot_id=l1, purchase_order_line_id=pol1)],
              purchase_order_id=po)  # fmt: skip
    # an item is renamed
    db.execute("update items set name = %s, updated_at = now() where id = %s", (f"Brew Deluxe {t}", brew))
    await qbo.wait_one("Bill", f"DocNumber = 'B-M-{t}'")
    await qbo.wait_one("PurchaseOrder", f"DocNumber = 'PO-M-{t}'", check=lambda p: p.get("POStatus") == "Closed")
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-M2-{t}'", check=lambda i: dec(i.get("TotalAmt")) == 0)
    await qbo.wait_one("Item", f"Name = 'Brew Deluxe {t}' and Type = 'Category'")
    pipeline.wait_idle()

    # every same-named row has its own object, under the documented name
    a1 = await qbo.one("Customer", f"DisplayName = 'Acme {t}'")
    a2 = await qbo.one("Customer", f"DisplayName = 'Acme {t} (customer {acme_2})'")
    assert a1 is not None and a2 is not None and a1["PrimaryEmailAddr"]["Address"] == "one@acme.test"
    assert a2["PrimaryEmailAddr"]["Address"] == "two@acme.test"
    assert await qbo.one("Customer", f"DisplayName = 'Globex {t}'") is not None
    assert await qbo.one("Vendor", f"DisplayName = 'Globex {t} (vendor {globex_v})'") is not None
    assert idmap_entry(db, company.id, "customer", globex_c) is not None

    rc, report = wait_clean(company.id)
    assert rc == 0, report["differences"]

    # a person edits the customer in QBO through its API: reconcile sees it, --fix puts Bottleneck's back
    c = await qbo.one("Customer", f"DisplayName = 'Acme {t}'")
    assert c is not None
    await qbo.client.update(
        company.realm, "Customer", {"Id": c["Id"], "SyncToken": c["SyncToken"], "PrimaryEmailAddr": {"Address": "hand@edit.test"}}
    )
    rc, report = reconcile(company.id)
    assert rc == 1 and ("customer", acme_1) in {(d["entity_type"], d["local_id"]) for d in report["differences"]}
    rc, report = reconcile(company.id, "--fix")
    assert report["queued"] >= 1
    rc, report = wait_clean(company.id)
    assert rc == 0, report["differences"]
