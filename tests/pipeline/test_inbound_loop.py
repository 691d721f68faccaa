"""Inbound and outbound together: a payment made in QuickBooks lands in Bottleneck through the running
worker (signed webhook -> qbo.webhooks -> fetch -> bottleneck.payments -> writer), and nothing it causes
in Bottleneck is pushed back to QuickBooks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, wait_until

pytestmark = pytest.mark.integration


async def test_payment_in_qbo_reaches_bottleneck_and_causes_no_outbound_write(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Payer {t}")
    svc, _ = seed.item(db, company.id, f"SVC-{t}", f"Consulting {t}", "service", sales_price=Decimal("120.00"))
    inv_a = seed.invoice(db, company.id, f"INV-A-{t}", cust, [Line(svc, Decimal("2"), Decimal("120.00"))])
    inv_b = seed.invoice(db, company.id, f"INV-B-{t}", cust, [Line(svc, Decimal("1"), Decimal("120.00"))])
    qa = await qbo.wait_one("Invoice", f"DocNumber = 'INV-A-{t}'")
    qb = await qbo.wait_one("Invoice", f"DocNumber = 'INV-B-{t}'")
    pipeline.wait_idle()
    writes_before = await qbo.writes()

    # A payment recorded "in QuickBooks" against both invoices.
    payment = await qbo.client.create(
        company.realm,
        "Payment",
        {
            "CustomerRef": {"value": qa["CustomerRef"]["value"]},
            "TotalAmt": Decimal("300.00"),
            "Line": [
                {"Amount": Decimal("240.00"), "LinkedTxn": [{"TxnId": qa["Id"], "TxnType": "Invoice"}]},
                {"Amount": Decimal("60.00"), "LinkedTxn": [{"TxnId": qb["Id"], "TxnType": "Invoice"}]},
            ],
        },
        request_id=f"pay-{t}",
    )

    def rows() -> list[tuple[Any, ...]]:
        return db.execute(
            "select invoice_id, amount, voided_at from invoice_payments where company_id = %s and qbo_payment_id = %s order by invoice_id",
            (company.id, payment["Id"]),
        ).fetchall()

    got = wait_until(lambda: len(rows()) == 2 and rows(), what="two invoice_payments rows")
    assert [(r[0], dec(r[1]), r[2]) for r in got] == [(inv_a, Decimal("240.00"), None), (inv_b, Decimal("60.00"), None)]

    # Bottleneck reacts as it would: the fully paid invoice is marked paid. That is an invoices change
    # Debezium streams to the worker; it maps to the same QBO payload, so no write may follow.
    mark = pipeline.mark("invoices")
    db.execute("update invoices set status = 'paid', updated_at = now() where id = %s", (inv_a,))
    pipeline.settle("invoices", inv_a, mark, where=lambda v: (v.get("after") or {}).get("status") == "paid")
    pipeline.wait_idle()

    assert await qbo.writes() == writes_before + 1, "the only write is the test's own Payment create"
    assert (await qbo.read("Invoice", qa["Id"]))["Balance"] == 0
