"""Manual mode and onboarding through the real stack (issue 9, item 7): a manual company switched to live
gets everything publishable loaded, dependencies first, exactly once; `connect` of a company with data
loads it; a worker killed while a load is being queued loses nothing; a document published in manual
mode brings its lots' stock along."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Pipeline, Qbo, dec, until, wait_until

pytestmark = pytest.mark.integration


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bottleneck_qbo", *argv], capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})}
    )


def state_json(company: int) -> dict[str, Any]:
    done = cli("state", "--company", str(company), "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def load_done(company: int) -> dict[str, Any] | None:
    load = state_json(company).get("initial_load")
    return load if load and load["state"] == "done" else None


def to_manual(pipeline: Pipeline, db: psycopg.Connection[Any], company: Company) -> None:
    """Switch the company to manual mode and wait until the worker has seen it (its companies event)."""
    mark = pipeline.mark("companies")
    db.execute("update companies set qbo_sync_mode = 'manual', updated_at = now() where id = %s", (company.id,))
    pipeline.settle("companies", company.id, mark, where=lambda v: (v.get("after") or {}).get("qbo_sync_mode") == "manual")


def manual_company_with_data(db: psycopg.Connection[Any], company: Company, n_customers: int = 3) -> dict[str, Any]:
    """Customers, a service, a tracked item with a lot, open invoices and a draft one."""
    t = company.tag
    customers = [seed.customer(db, company.id, f"Onb {i} {t}") for i in range(n_customers)]
    svc, _ = seed.item(db, company.id, f"SVC-{t}", f"Setup {t}", "service", sales_price=Decimal("20.00"))
    brew, (lot,) = seed.item(
        db, company.id, f"CB-{t}", f"Brew {t}", "inventory", sales_price=Decimal("4.50"), lots=[("L1", Decimal("10"), Decimal("1.00"))]
    )
    invoices = [
        seed.invoice(db, company.id, f"OI-{t}-1", customers[0], [Line(svc, Decimal("1"), Decimal("20.00"))]),
        seed.invoice(db, company.id, f"OI-{t}-2", customers[1], [Line(brew, Decimal("2"), Decimal("4.50"), lot_id=lot)]),
    ]
    draft = seed.invoice(db, company.id, f"OD-{t}", customers[2], [Line(svc, Decimal("1"), Decimal("20.00"))], status="draft")
    return {"customers": customers, "items": [svc, brew], "lot": lot, "invoices": invoices, "draft": draft}


async def assert_loaded_once(qbo: Qbo, t: str, n_customers: int) -> None:
    customers = [c for c in await qbo.all("Customer") if c["DisplayName"].endswith(t)]
    assert sorted(Counter(c["DisplayName"] for c in customers).values()) == [1] * n_customers, "each customer exactly once"
    invoices = [i for i in await qbo.all("Invoice") if str(i.get("DocNumber", "")).startswith(("OI-", "OD-"))]
    assert sorted(i["DocNumber"] for i in invoices) == [f"OI-{t}-1", f"OI-{t}-2"], "both open invoices once, the draft never"
    items = Counter(i["Name"] for i in await qbo.all("Item") if i.get("Type") != "Category" and t in i["Name"])
    assert items == {f"Setup {t}": 1, f"Brew {t}": 1, f"Brew {t} / L1": 1}
    # dependencies first: every customer and item existed before the first invoice was created
    first_invoice = min(i["MetaData"]["CreateTime"] for i in invoices)
    assert all(c["MetaData"]["CreateTime"] <= first_invoice for c in customers)
    lot = await qbo.one("Item", f"Name = 'Brew {t} / L1'")
    assert lot is not None and dec(lot["QtyOnHand"]) == Decimal("10"), "QBO's stock is Bottleneck's after the invoice moved it"


async def test_switching_a_manual_company_to_live_loads_what_is_publishable_once(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    to_manual(pipeline, db, company)
    mark = pipeline.mark("invoices")
    data = manual_company_with_data(db, company)
    pipeline.settle("invoices", data["draft"], mark)
    assert await qbo.writes() == 0, "manual mode: nothing syncs before the switch"

    db.execute("update companies set qbo_sync_mode = 'live', updated_at = now() where id = %s", (company.id,))
    await qbo.wait_one("Invoice", f"DocNumber = 'OI-{t}-2'", timeout=90)
    load = wait_until(lambda: load_done(company.id), timeout=120, what="the initial load finished (state --json)")
    # 3 customers, 1 service, the tracked item (category + item), its lot and the lot's quantity, 2 invoices
    assert load["total"] == 10 and load["queued"] == 10 and load["remaining"] == 0 and load["parked"] == 0, load
    assert load["in_qbo"] >= 8 and load["started_at"], load
    await assert_loaded_once(qbo, t, 3)
    shown = cli("state", "--company", str(company.id), env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr

    # nothing more to do: a repeated switch (live -> manual -> live) loads again, and writes nothing
    before = await qbo.writes()
    pipeline.wait_idle()
    db.execute("update companies set qbo_sync_mode = 'manual', updated_at = now() where id = %s", (company.id,))
    db.execute("update companies set qbo_sync_mode = 'live', updated_at = now() where id = %s", (company.id,))

    def second_load() -> dict[str, Any] | None:
        again = load_done(company.id)
        return again if again and again["job_id"] != load["job_id"] else None

    wait_until(second_load, timeout=120, what="the second load finished")
    pipeline.wait_idle()
    assert await qbo.writes() == before, "a second load of an unchanged company made QBO writes"


async def test_connect_loads_a_company_with_existing_data(pipeline: Pipeline, db: psycopg.Connection[Any]) -> None:
    tag = uuid.uuid4().hex[:8]
    company = Company(id=seed.company(db, f"Onboard connect {tag}"), realm=f"78{uuid.uuid4().int % 10**14:014d}", tag=tag)
    mark = pipeline.mark("invoices")
    data = manual_company_with_data(db, company, n_customers=4)
    pipeline.settle("invoices", data["draft"], mark)  # not connected yet: nothing went anywhere

    done = cli("connect", "--company", str(company.id), "--realm", company.realm, "--wait", "--timeout", "120")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "initial load of company" in done.stdout and "11 row(s)" in done.stdout, done.stdout
    assert "initial load done" in done.stderr, done.stderr
    status = cli("status", "--company", str(company.id), "--json")
    report = json.loads(status.stdout)
    (mine,) = [c for c in report["companies"] if c["company_id"] == company.id]
    load = mine["initial_load"]
    assert load["state"] == "done" and load["total"] == 11 and load["remaining"] == 0 and load["reason"] == "connect", load
    text = cli("status", "--company", str(company.id))
    assert "initial load done: 11 row(s)" in text.stdout, text.stdout
    qbo = Qbo(pipeline.settings, company.realm)
    try:
        await assert_loaded_once(qbo, tag, 4)
    finally:
        await qbo.aclose()


async def test_a_worker_killed_while_a_load_is_queued_loses_nothing(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    n = 30
    # small batches, so the load is queued in several rounds and the kill lands between two of them
    pipeline.stop_worker()
    os.environ["BQ_ONBOARDING_BATCH"] = "4"
    try:
        pipeline.start_worker()
        to_manual(pipeline, db, company)
        mark = pipeline.mark("customers")
        last = [seed.customer(db, company.id, f"Kill {i:02d} {t}") for i in range(n)][-1]
        pipeline.settle("customers", last, mark)
        db.execute("update companies set qbo_sync_mode = 'live', updated_at = now() where id = %s", (company.id,))

        def part_queued() -> int | None:
            row = db.execute("select queued, total from qbo_sync.onboarding where company_id = %s order by id desc limit 1", (company.id,))
            got = row.fetchone()
            return got[0] if got and 0 < got[0] < got[1] else None

        wait_until(part_queued, timeout=60, what="the load partly queued", interval=0.05)
        pipeline.kill_worker()
        at_kill = db.execute("select queued, total from qbo_sync.onboarding where company_id = %s order by id desc limit 1", (company.id,))
        queued, total = at_kill.fetchone() or (0, 0)
        assert queued < total == n, "the kill came after the whole load was queued: nothing was tested"
        pipeline.start_worker()
        load = wait_until(lambda: load_done(company.id), timeout=180, what="the initial load finished after the restart")
        assert load["total"] == n and load["in_qbo"] == n, load
    finally:
        os.environ.pop("BQ_ONBOARDING_BATCH", None)
        pipeline.stop_worker()
        pipeline.start_worker()

    async def all_there() -> list[dict[str, Any]] | None:
        found = [c for c in await qbo.all("Customer") if c["DisplayName"].endswith(t)]
        return found if len(found) >= n else None

    found = await until(all_there, timeout=60, what=f"all {n} customers in QBO")
    assert sorted(Counter(c["DisplayName"] for c in found).values()) == [1] * n, "lost or duplicated customers"


async def test_an_invoice_published_in_manual_mode_brings_its_lots_stock_along(
    pipeline: Pipeline, db: psycopg.Connection[Any], company: Company, qbo: Qbo
) -> None:
    t = company.tag
    to_manual(pipeline, db, company)
    cust = seed.customer(db, company.id, f"Stock {t}")
    brew, (lot,) = seed.item(
        db, company.id, f"SB-{t}", f"Stock Brew {t}", "inventory", sales_price=Decimal("4.50"), lots=[("L1", Decimal("10"), Decimal("1"))]
    )
    inv = seed.invoice(db, company.id, f"SI-{t}", cust, [Line(brew, Decimal("3"), Decimal("4.50"), lot_id=lot)])
    done = cli("publish", "--company", str(company.id), "--entity", "invoice", "--id", str(inv))
    assert done.returncode == 0, done.stderr
    await qbo.wait_one("Invoice", f"DocNumber = 'SI-{t}'")
    # QBO took 3 off the lot when the invoice posted; Bottleneck's lot still holds 10 (no ship job yet)
    await qbo.wait_one("Item", f"Name = 'Stock Brew {t} / L1'", check=lambda i: dec(i["QtyOnHand"]) == Decimal("10"))
