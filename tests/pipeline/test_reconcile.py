"""`bottleneck-qbo reconcile` through the running product: clean after a normal sync, every difference
planted in QBO (through its API, the way a person or another app would) reported, and `--fix` repairs
them through the normal path so the next reconcile is clean."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, idmap_entry, reconcile, wait_until

pytestmark = pytest.mark.integration


def fields(report: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {(d["entity_type"], d["local_id"], d["field"]) for d in report["differences"]}


def wait_clean(company: int, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rc, report = reconcile(company)
        if rc == 0 or time.monotonic() > deadline:
            return report
        time.sleep(1.0)


async def test_reconcile_reports_planted_differences_and_fix_repairs_them(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    # these edits in QBO are for reconcile to find: the worker must not put them back first (drift policy)
    db.execute("insert into qbo_sync.drift_policy (company_id, policy) values (%s, 'report')", (company.id,))
    cust = seed.customer(db, company.id, f"Reconciled {t}", email="books@example.com")
    _brew, (lot,) = seed.item(
        db, company.id, f"BRW-{t}", f"Brew {t}", "inventory", sales_price=Decimal("4.50"), lots=[("L1", Decimal("100"), Decimal("1.20"))]
    )
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    kept = seed.invoice(db, company.id, f"INV-A-{t}", cust, [Line(svc, Decimal("2"), Decimal("35.00"))])
    doomed = seed.invoice(db, company.id, f"INV-B-{t}", cust, [Line(svc, Decimal("1"), Decimal("35.00"))])
    db.execute("update lots set quantity_on_hand = 90, updated_at = now() where id = %s", (lot,))
    lot_item = await qbo.wait_one("Item", f"Sku = 'BRW-{t}-L1'", check=lambda i: dec(i.get("QtyOnHand")) == 90)
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-B-{t}'")
    wait_until(lambda: idmap_entry(db, company.id, "invoice", doomed), what="second invoice in the id map")
    pipeline.wait_idle()

    rc, report = reconcile(company.id)
    assert rc == 0, report["differences"]
    assert report["companies"][0]["checked"] >= 6  # customer, 2 items + category, lot, 2 invoices
    # its QBO reads were charged to the realm's budget the workers share (holder host:pid:start)
    worker_pid = (pipeline.settings.run_dir / "pids" / "worker.pid").read_text().strip()
    holders = {r[0] for r in db.execute("select holder from qbo_sync.qbo_budget_grant where realm_id = %s", (company.realm,))}
    assert any(h.split(":")[1] != worker_pid for h in holders), holders

    # a person edits QBO: the customer's email, an invoice line's price, deletes an invoice, counts stock
    c = await qbo.one("Customer", f"DisplayName = 'Reconciled {t}'")
    assert c is not None
    await qbo.client.update(
        company.realm, "Customer", {"Id": c["Id"], "SyncToken": c["SyncToken"], "PrimaryEmailAddr": {"Address": "someone@else.test"}}
    )
    inv = await qbo.one("Invoice", f"DocNumber = 'INV-A-{t}'")
    assert inv is not None
    line = next(ln for ln in inv["Line"] if ln.get("DetailType") == "SalesItemLineDetail")
    line["SalesItemLineDetail"]["UnitPrice"] = Decimal("30.00")
    line["Amount"] = Decimal("60.00")
    await qbo.client.update(company.realm, "Invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"], "Line": [line]})
    gone = await qbo.one("Invoice", f"DocNumber = 'INV-B-{t}'")
    assert gone is not None
    await qbo.client.delete(company.realm, "Invoice", gone["Id"], gone["SyncToken"])
    accounts = await qbo.query("select * from Account")
    adjust = next(a for a in accounts if a.get("AccountType") in ("Other Expense", "Cost of Goods Sold", "Expense"))
    await qbo.client.create(
        company.realm,
        "InventoryAdjustment",
        {
            "AdjustAccountRef": {"value": adjust["Id"]},
            "Line": [
                {
                    "DetailType": "ItemAdjustmentLineDetail",
                    "ItemAdjustmentLineDetail": {"ItemRef": {"value": lot_item["Id"]}, "QtyDiff": Decimal("7")},
                }
            ],
        },
        request_id=f"hand-count-{t}",
    )

    rc, report = reconcile(company.id)
    assert rc == 1
    found = fields(report)
    assert ("customer", cust, "PrimaryEmailAddr.Address") in found
    assert ("invoice", kept, "Line[1].SalesItemLineDetail.UnitPrice") in found
    assert ("invoice", kept, "TotalAmt (before tax)") in found
    assert ("invoice", doomed, "(exists)") in found
    assert ("lot", lot, "QtyOnHand") in found
    by_field = {(d["entity_type"], d["field"]): d for d in report["differences"]}
    assert by_field[("lot", "QtyOnHand")]["bottleneck"] == "90" and by_field[("lot", "QtyOnHand")]["qbo"] == "97"

    rc, report = reconcile(company.id, "--fix")
    assert rc == 1 and report["queued"] >= 4

    after = wait_clean(company.id)
    assert after["clean"], after["differences"]
    c = await qbo.one("Customer", f"DisplayName = 'Reconciled {t}'")
    assert c is not None and c["PrimaryEmailAddr"]["Address"] == "books@example.com"
    again = await qbo.one("Invoice", f"DocNumber = 'INV-B-{t}'")
    assert again is not None and again["Id"] != gone["Id"]
