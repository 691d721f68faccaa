"""The Bottleneck writer against real Postgres: idempotent upserts, updates, void/delete, nothing else touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import psycopg
import pytest

from mappers.payments import PaymentChange, PaymentRecord
from sinks.bottleneck_writer import PaymentWriteError, apply_payment_change
from tests.integration.inbound_support import Tenant, add_bill, add_invoice, make_tenant, payment_rows

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(inbound_dsn: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(inbound_dsn, autocommit=True) as c:
        yield c


def _change(
    t: Tenant,
    pid: str,
    docs: dict[int, str],
    *,
    status: Literal["active", "voided", "deleted"] = "active",
    kind: Literal["invoice", "bill"] = "invoice",
    **over: Any,
) -> PaymentChange:
    fields: dict[str, Any] = {"paid_on": date(2026, 11, 20), "method": "check", "reference": "CHK-1"} | over
    return PaymentChange(
        kind=kind,
        realm_id=t.realm_id,
        company_id=t.company_id,
        qbo_payment_id=pid,
        status=status,
        records=tuple(
            PaymentRecord(kind=kind, company_id=t.company_id, document_id=d, qbo_payment_id=pid, amount=Decimal(a), **fields)
            for d, a in docs.items()
        ),
        changed_at=datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
    )


async def _table_snapshot(conn: psycopg.AsyncConnection, t: Tenant) -> list[tuple]:
    cur = await conn.execute(
        "select 'inv', id, status, updated_at from invoices where company_id = %s"
        " union all select 'bill', id, status, updated_at from bills where company_id = %s"
        " union all select 'cust', id, null, updated_at from customers where company_id = %s order by 1, 2",
        (t.company_id, t.company_id, t.company_id),
    )
    return await cur.fetchall()


async def test_payment_for_two_invoices_makes_two_rows_and_redelivery_changes_nothing(conn: psycopg.AsyncConnection) -> None:
    t = await make_tenant(conn)
    a = await add_invoice(conn, t, "41", "INV-1")
    b = await add_invoice(conn, t, "42", "INV-2")
    before = await _table_snapshot(conn, t)
    change = _change(t, "301", {a: "100.25", b: "50.25"})

    first = await apply_payment_change(conn, change)
    assert (first.inserted, first.updated, first.voided) == (2, 0, 0)
    rows = await payment_rows(conn, t)
    assert rows == [
        (a, "301", Decimal("100.25"), date(2026, 11, 20), "check", "CHK-1", False),
        (b, "301", Decimal("50.25"), date(2026, 11, 20), "check", "CHK-1", False),
    ]
    cur = await conn.execute("select updated_at from invoice_payments where company_id = %s order by id", (t.company_id,))
    stamps = await cur.fetchall()

    for _ in range(2):  # the same change delivered again (webhook retry, CDC overlap, replay)
        again = await apply_payment_change(conn, change)
        assert not again.changed
    assert await payment_rows(conn, t) == rows
    cur = await conn.execute("select updated_at from invoice_payments where company_id = %s order by id", (t.company_id,))
    assert await cur.fetchall() == stamps  # not even rewritten
    # Loop safety: the invoices (and everything else the outbound side watches) are untouched.
    assert await _table_snapshot(conn, t) == before


async def test_update_changes_the_row_and_voids_a_document_no_longer_paid(conn: psycopg.AsyncConnection) -> None:
    t = await make_tenant(conn)
    a = await add_invoice(conn, t, "41", "INV-1")
    b = await add_invoice(conn, t, "42", "INV-2")
    await apply_payment_change(conn, _change(t, "301", {a: "100.25", b: "50.25"}))

    result = await apply_payment_change(conn, _change(t, "301", {a: "120.00"}, reference="CHK-2"))
    assert (result.inserted, result.updated, result.voided) == (0, 1, 1)
    assert await payment_rows(conn, t) == [
        (a, "301", Decimal("120.00"), date(2026, 11, 20), "check", "CHK-2", False),
        (b, "301", Decimal("50.25"), date(2026, 11, 20), "check", "CHK-1", True),
    ]


@pytest.mark.parametrize("status", ["voided", "deleted"])
async def test_void_and_delete_set_voided_at_on_every_row_of_the_payment(
    conn: psycopg.AsyncConnection, status: Literal["voided", "deleted"]
) -> None:
    t = await make_tenant(conn)
    a = await add_invoice(conn, t, "41", "INV-1")
    b = await add_invoice(conn, t, "42", "INV-2")
    await apply_payment_change(conn, _change(t, "301", {a: "10.00", b: "20.00"}))
    await apply_payment_change(conn, _change(t, "302", {a: "5.00"}))

    gone = _change(t, "301", {}, status=status)
    assert (await apply_payment_change(conn, gone)).voided == 2
    assert not (await apply_payment_change(conn, gone)).changed  # redelivered: harmless
    cur = await conn.execute(
        "select qbo_payment_id, voided_at from invoice_payments where company_id = %s order by qbo_payment_id, invoice_id",
        (t.company_id,),
    )
    assert await cur.fetchall() == [
        ("301", datetime(2026, 11, 21, 8, 0, tzinfo=UTC)),
        ("301", datetime(2026, 11, 21, 8, 0, tzinfo=UTC)),
        ("302", None),  # another payment of the same invoice is not affected
    ]


async def test_bill_payment_row(conn: psycopg.AsyncConnection) -> None:
    t = await make_tenant(conn)
    bill = await add_bill(conn, t, "90", "B-77")
    change = _change(t, "77", {bill: "980.00"}, kind="bill", method="credit_card", reference=None)
    assert (await apply_payment_change(conn, change)).inserted == 1
    assert await payment_rows(conn, t, "bill") == [(bill, "77", Decimal("980.00"), date(2026, 11, 20), "credit_card", None, False)]
    assert await payment_rows(conn, t, "invoice") == []


async def test_same_qbo_payment_id_in_two_companies_are_separate_rows(conn: psycopg.AsyncConnection) -> None:
    t1, t2 = await make_tenant(conn), await make_tenant(conn)
    a1 = await add_invoice(conn, t1, "41", "INV-1")
    a2 = await add_invoice(conn, t2, "41", "INV-1")
    await apply_payment_change(conn, _change(t1, "301", {a1: "1.00"}))
    await apply_payment_change(conn, _change(t2, "301", {a2: "2.00"}))
    await apply_payment_change(conn, _change(t1, "301", {}, status="voided"))
    assert [r[-1] for r in await payment_rows(conn, t1)] == [True]
    assert [(r[2], r[-1]) for r in await payment_rows(conn, t2)] == [(Decimal("2.00"), False)]


async def test_document_bottleneck_does_not_have_is_a_clear_error_and_writes_nothing(conn: psycopg.AsyncConnection) -> None:
    t = await make_tenant(conn)
    a = await add_invoice(conn, t, "41", "INV-1")
    with pytest.raises(PaymentWriteError, match="invoice Bottleneck does not have"):
        await apply_payment_change(conn, _change(t, "301", {a: "1.00", 999_999_999: "2.00"}))
    assert await payment_rows(conn, t) == []  # one transaction: the valid row was rolled back too
