"""QBO misbehaving (429s, 5xx, timeouts, lost answers, stale SyncTokens): the pipeline converges to
Bottleneck's state, exactly once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from tests.fixtures.pipeline import Company, Qbo, dec, idmap_entry, until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("faults", "injected"),
    [
        pytest.param({"throttle_next": 3}, {"throttle": 3}, id="429-burst"),
        pytest.param({"error_next": 4}, {"error": 4}, id="500-503"),
        pytest.param({"timeout_next": 2, "hang_s": 8}, {"timeout": 2}, id="timeouts"),
        pytest.param({"lose_response_next": 2}, {"lost_response": 2}, id="lost-responses"),
    ],
)
async def test_faults_converge_exactly_once(
    db: psycopg.Connection[Any], company: Company, qbo: Qbo, faults: dict[str, Any], injected: dict[str, int]
) -> None:
    t = company.tag
    await qbo.faults(**faults)
    cust = seed.customer(db, company.id, f"Faulty {t}", email="f@example.com")
    svc, _ = seed.item(db, company.id, f"LAB-{t}", f"Labour {t}", "service", sales_price=Decimal("35.00"))
    inv = seed.invoice(db, company.id, f"INV-{t}", cust, [Line(svc, Decimal("2"), Decimal("35.00"))])

    # Watch Bottleneck's side (the id map) and the sandbox's counters, not QBO queries: a query of
    # ours would take the faults meant for the worker.
    await until(lambda: _synced(db, company.id, [("customer", cust), ("item", svc), ("invoice", inv)]), timeout=60, what="all three synced")
    stats = await qbo.stats()
    for kind, n in injected.items():
        assert stats["injected"][kind] == n, f"the worker did not meet every injected {kind}: {stats['injected']}"

    invoices = await qbo.query(f"select * from Invoice where DocNumber = 'INV-{t}'")
    assert len(invoices) == 1 and dec(invoices[0]["TotalAmt"]) == Decimal("70.00")
    assert len(await qbo.query(f"select * from Customer where DisplayName = 'Faulty {t}'")) == 1
    assert len([i for i in await qbo.all("Item") if i["Name"] == f"Labour {t}"]) == 1
    assert db.execute("select count(*) from qbo_sync.sync_parking where company_id = %s", (company.id,)).fetchone()[0] == 0


async def _synced(db: psycopg.Connection[Any], company_id: int, refs: list[tuple[str, int]]) -> bool:
    return all(idmap_entry(db, company_id, entity, local_id) for entity, local_id in refs)


async def test_stale_synctoken_after_an_edit_in_qbo_converges(db: psycopg.Connection[Any], company: Company, qbo: Qbo) -> None:
    t = company.tag
    cust = seed.customer(db, company.id, f"Edited {t}", email="old@example.com")
    found = await qbo.wait_one("Customer", f"DisplayName = 'Edited {t}'")
    # Someone edits the customer directly in QuickBooks (a field Bottleneck does not own): the
    # SyncToken the worker holds is now stale.
    await qbo.client.update(
        qbo.realm, "Customer", {"Id": found["Id"], "SyncToken": found["SyncToken"], "Mobile": {"FreeFormNumber": "555-0100"}}
    )
    # ... and, for good measure, the next customer update is answered 5010 once more.
    await qbo.faults(stale_synctoken_once_for=["Customer"])

    db.execute("update customers set email = 'new@example.com', updated_at = now() where id = %s", (cust,))
    final = await qbo.wait_one(
        "Customer", f"DisplayName = 'Edited {t}'", check=lambda c: c.get("PrimaryEmailAddr", {}).get("Address") == "new@example.com"
    )
    assert final["Mobile"]["FreeFormNumber"] == "555-0100", "the QBO-side edit of a field Bottleneck does not own survives"
    assert (await qbo.stats())["injected"]["stale"] == 1
    assert db.execute("select count(*) from qbo_sync.sync_parking where company_id = %s", (company.id,)).fetchone()[0] == 0
