"""Drift through the running product: a person's edit in QBO (through its API, as the QBO app makes it)
of a field Bottleneck owns is seen by the worker's CDC poll and, per company policy, put back
(``bottleneck_wins``, the default) or recorded and shown (``report``); QBO's own consequences of our
writes (an estimate closed by its invoice, a balance moved by a payment) and our own writes are not drift.

The worker polls CDC every 3 s here (``fast_cdc_poll``), so each wait is a few polls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, idmap_entry, reconcile, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fast_cdc_poll")]

POLLS_S = 60.0  # generous: a few CDC polls on a loaded machine


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", *argv], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def drift_rows(db: psycopg.Connection[Any], company_id: int) -> list[dict[str, Any]]:
    cur = db.execute(
        "select entity_type, local_id, action, policy, fields, resolved_at from qbo_sync.drift where company_id = %s order by id",
        (company_id,),
    )
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def two_polls_after_now(db: psycopg.Connection[Any], realm: str) -> None:
    """Until a CDC poll that started after this moment has finished for the realm (its checkpoint row
    is written after the drift check): the second checkpoint write after now."""
    (now,) = db.execute("select now()").fetchone() or (None,)

    def polled_after(t: Any) -> Any:
        row = db.execute("select updated_at from qbo_sync.cdc_checkpoints where realm_id = %s", (realm,)).fetchone()
        return row[0] if row and row[0] > t else None

    first = wait_until(lambda: polled_after(now), timeout=POLLS_S, what="a CDC poll after the change", interval=0.5)
    wait_until(lambda: polled_after(first), timeout=POLLS_S, what="a second CDC poll after the change", interval=0.5)


async def hand_edit(qbo: Qbo, t: str, *, customer: str, invoice: str | None = None) -> None:
    """A person changes the customer's email and (optionally) an invoice line's amount in QBO."""
    c = await qbo.one("Customer", f"DisplayName = '{customer}'")
    assert c is not None
    await qbo.client.update(
        qbo.realm, "Customer", {"Id": c["Id"], "SyncToken": c["SyncToken"], "PrimaryEmailAddr": {"Address": "edited@in-qbo.test"}}
    )
    if invoice is None:
        return
    inv = await qbo.one("Invoice", f"DocNumber = '{invoice}'")
    assert inv is not None
    line = next(ln for ln in inv["Line"] if ln.get("DetailType") == "SalesItemLineDetail")
    line["SalesItemLineDetail"]["UnitPrice"] = Decimal("30.00")
    line["Amount"] = Decimal("60.00")
    await qbo.client.update(qbo.realm, "Invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"], "Line": [line]})


def email(c: dict[str, Any]) -> str | None:
    return (c.get("PrimaryEmailAddr") or {}).get("Address")


def first_amount(inv: dict[str, Any]) -> Decimal:
    return dec(next(ln for ln in inv["Line"] if ln.get("DetailType") == "SalesItemLineDetail")["Amount"])


async def test_hand_edit_in_qbo_is_put_back_under_the_default_policy(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Drifty {t}", email="books@example.com")
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    inv = seed.invoice(db, company.id, f"INV-{t}", cust, [Line(svc, Decimal("2"), Decimal("35.00"))])
    await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    wait_until(lambda: idmap_entry(db, company.id, "invoice", inv), what="invoice in the id map")
    pipeline.wait_idle()

    await hand_edit(qbo, t, customer=f"Drifty {t}", invoice=f"INV-{t}")

    back = await qbo.wait_one("Customer", f"DisplayName = 'Drifty {t}'", check=lambda c: email(c) == "books@example.com", timeout=POLLS_S)
    assert email(back) == "books@example.com"
    restored = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'", check=lambda i: first_amount(i) == Decimal("70.00"), timeout=POLLS_S)
    assert dec(restored["TotalAmt"]) == Decimal("70.00")

    # recorded, then resolved by the re-push
    rows = wait_until(
        lambda: (r := drift_rows(db, company.id)) and len(r) == 2 and all(x["resolved_at"] for x in r) and r,
        timeout=POLLS_S,
        what="two drift records, both resolved",
    )
    assert {(r["entity_type"], r["local_id"], r["action"], r["policy"]) for r in rows} == {
        ("customer", cust, "re-pushed", "bottleneck_wins"),
        ("invoice", inv, "re-pushed", "bottleneck_wins"),
    }
    cust_fields = next(r["fields"] for r in rows if r["entity_type"] == "customer")
    assert {"field": "PrimaryEmailAddr.Address", "bottleneck": "books@example.com", "qbo": "edited@in-qbo.test"} in cust_fields
    rc, report = reconcile(company.id)
    assert rc == 0, report["differences"]
    assert report["drift"] == []


async def test_report_policy_keeps_the_edit_and_shows_it(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    set_to = cli("drift-policy", "--company", str(company.id), "report")
    assert set_to.returncode == 0 and "drift policy report" in set_to.stdout, set_to.stdout + set_to.stderr
    cust = seed.customer(db, company.id, f"Reported {t}", email="books@example.com")
    await qbo.wait_one("Customer", f"DisplayName = 'Reported {t}'")
    wait_until(lambda: idmap_entry(db, company.id, "customer", cust), what="customer in the id map")
    pipeline.wait_idle()

    await hand_edit(qbo, t, customer=f"Reported {t}")
    wait_until(lambda: drift_rows(db, company.id), timeout=POLLS_S, what="the drift recorded")
    two_polls_after_now(db, company.realm)
    c = await qbo.one("Customer", f"DisplayName = 'Reported {t}'")
    assert c is not None and email(c) == "edited@in-qbo.test", "under `report` the edit stays in QBO"
    (row,) = drift_rows(db, company.id)
    assert (row["entity_type"], row["local_id"], row["action"], row["resolved_at"]) == ("customer", cust, "reported", None)

    status = cli("status", "--company", str(company.id), "--json")
    assert status.returncode == 0, status.stderr
    counts = json.loads(status.stdout)["companies"][0]["entities"]["customer"]
    assert counts["drifted"] == 1, counts
    state = cli("state", "--company", str(company.id), "--json")
    s = json.loads(state.stdout)
    assert s["drift_policy"] == "report" and [(d["entity_type"], d["local_id"]) for d in s["drift"]] == [("customer", cust)]
    rc, report = reconcile(company.id)
    assert rc == 1 and ("customer", cust, "PrimaryEmailAddr.Address") in {
        (d["entity_type"], d["local_id"], d["field"]) for d in report["differences"]
    }
    assert [(d["entity_type"], d["local_id"], d["action"]) for d in report["drift"]] == [("customer", cust, "reported")]

    # the next change Bottleneck makes to the customer is written over the edit, and resolves the drift
    db.execute("update customers set phone = '555-0199', updated_at = now() where id = %s", (cust,))
    await qbo.wait_one("Customer", f"DisplayName = 'Reported {t}'", check=lambda c: email(c) == "books@example.com")
    wait_until(lambda: all(r["resolved_at"] for r in drift_rows(db, company.id)), what="drift resolved by the write")

    # edited again, reported again; switching the company to bottleneck_wins puts Bottleneck's fields back now
    await hand_edit(qbo, t, customer=f"Reported {t}")
    wait_until(lambda: [r for r in drift_rows(db, company.id) if not r["resolved_at"]], timeout=POLLS_S, what="the second drift")
    switched = cli("drift-policy", "--company", str(company.id), "bottleneck_wins")
    assert switched.returncode == 0 and "re-pushing 1 document(s)" in switched.stdout, switched.stdout + switched.stderr
    await qbo.wait_one("Customer", f"DisplayName = 'Reported {t}'", check=lambda c: email(c) == "books@example.com")
    wait_until(lambda: all(r["resolved_at"] for r in drift_rows(db, company.id)), what="second drift resolved by the re-push")


async def test_our_writes_and_qbo_consequences_are_not_drift(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Calm {t}", email="calm@example.com")
    svc, _ = seed.item(db, company.id, f"SVC-{t}", f"Consulting {t}", "service", sales_price=Decimal("120.00"))
    so = seed.sales_order(db, company.id, f"SO-{t}", cust, [Line(svc, Decimal("2"), Decimal("120.00"))])
    await qbo.wait_one("Estimate", f"DocNumber = 'SO-{t}'")
    pipeline.wait_idle()
    # the invoice closes the estimate in QBO (a QBO change to the Estimate the product did not send)
    inv = seed.invoice(db, company.id, f"INV-{t}", cust, [Line(svc, Decimal("2"), Decimal("120.00"))], sales_order_id=so)
    est = await qbo.wait_one("Estimate", f"DocNumber = 'SO-{t}'", check=lambda e: e.get("TxnStatus") == "Closed")
    qinv = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'")
    wait_until(lambda: idmap_entry(db, company.id, "invoice", inv), what="invoice in the id map")
    # our own write: a Bottleneck change of the customer
    db.execute("update customers set email = 'calm2@example.com', updated_at = now() where id = %s", (cust,))
    await qbo.wait_one("Customer", f"DisplayName = 'Calm {t}'", check=lambda c: email(c) == "calm2@example.com")
    pipeline.wait_idle()
    # a payment recorded in QBO moves the invoice's balance
    await qbo.client.create(
        company.realm,
        "Payment",
        {
            "CustomerRef": {"value": qinv["CustomerRef"]["value"]},
            "TotalAmt": Decimal("100.00"),
            "Line": [{"Amount": Decimal("100.00"), "LinkedTxn": [{"TxnId": qinv["Id"], "TxnType": "Invoice"}]}],
        },
        request_id=f"pay-{t}",
    )
    paid = await qbo.wait_one("Invoice", f"DocNumber = 'INV-{t}'", check=lambda i: dec(i["Balance"]) == Decimal("140.00"))
    writes = await qbo.writes()
    two_polls_after_now(db, company.realm)

    assert drift_rows(db, company.id) == [], "neither our writes nor QBO's consequences are drift"
    assert await qbo.writes() == writes, "nothing was re-pushed"
    est_token = db.execute(
        "select sync_token from qbo_sync.id_map where company_id = %s and entity_type = 'sales_order' and local_id = %s", (company.id, so)
    ).fetchone()
    inv_token = db.execute(
        "select sync_token from qbo_sync.id_map where company_id = %s and entity_type = 'invoice' and local_id = %s", (company.id, inv)
    ).fetchone()
    # QBO's own changes are taken in: the next write is not refused as stale
    est_now = await qbo.read("Estimate", est["Id"])
    assert est_token == (est_now["SyncToken"],) and inv_token == (paid["SyncToken"],)


async def test_malformed_cdc_entries_do_not_break_the_drift_check(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    """The worker's drift check fed a CDC answer with unreadable entries beside a real edited object: the
    bad ones are counted and skipped, the real one is still judged (against the real Postgres and QBO)."""
    from bottleneck_qbo.ops.drift.detect import DriftDetector
    from sinks.postgres import Database
    from streams.engine.accounts import AccountResolver
    from streams.processors.registry import REGISTRY

    t = company.tag
    assert cli("drift-policy", "--company", str(company.id), "report").returncode == 0
    cust = seed.customer(db, company.id, f"Odd {t}", email="books@example.com")
    await qbo.wait_one("Customer", f"DisplayName = 'Odd {t}'")
    wait_until(lambda: idmap_entry(db, company.id, "customer", cust), what="customer in the id map")
    await hand_edit(qbo, t, customer=f"Odd {t}")
    edited = await qbo.one("Customer", f"DisplayName = 'Odd {t}'")
    assert edited is not None

    pool = await Database.open(pipeline.settings.postgres_dsn, name="drift-test")
    try:
        detector = DriftDetector(pool, qbo.client, REGISTRY, AccountResolver(qbo.client))
        bad: list[Any] = [None, "text", {"Id": "../1"}, {"Id": edited["Id"], "SyncToken": "abc"}, {"Id": "1" * 40}]
        result = await detector.check(company.realm, {"Customer": [*bad, edited], "Invoice": "not a list", "Item": [{"Id": []}]})
    finally:
        await pool.close()
    # 4 unreadable customers + the item; the one with our Id and a bad SyncToken is superseded by the real
    # object (one verdict per object and poll, the last listed wins)
    assert result.verdicts.get("malformed") == 5, result.verdicts
    assert result.verdicts.get("drift", 0) + result.verdicts.get("known", 0) == 1, result.verdicts
    assert [(r["entity_type"], r["local_id"]) for r in drift_rows(db, company.id)] == [("customer", cust)]
