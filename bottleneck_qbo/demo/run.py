"""`bottleneck-qbo demo`: the whole stack on its defaults, demo data written to Bottleneck, live sync shown.

It starts what is not running (Postgres, Kafka, Connect + Debezium, the QBO sandbox, one worker),
connects the demo company to a sandbox realm, then acts as a Bottleneck user would (SQL only) and
prints each document as it lands in QuickBooks, with the time it took. Last, a payment is recorded
"in QuickBooks" (the sandbox), and the demo waits for it in Bottleneck's invoice_payments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import typer

from bottleneck_qbo.demo import seed
from bottleneck_qbo.demo.seed import Line
from bottleneck_qbo.settings import Settings
from sinks.qbo.auth import PostgresTokenStore
from sinks.qbo.client import QboClient

DEMO_COMPANY = "Hilltop Cold Brew"
DEMO_REALM = "9130357766470986"
T = TypeVar("T")


def say(msg: str, *, color: str | None = None) -> None:
    typer.secho(msg, fg=color)


async def wait_for(what: str, probe: Callable[[], Awaitable[T | None]], *, since: float, timeout_s: float = 30.0) -> T:
    while True:
        found = await probe()
        if found is not None:
            say(f"  ✔ {what}  ({time.monotonic() - since:.2f} s after commit)", color="green")
            return found
        if time.monotonic() - since > timeout_s:
            raise TimeoutError(
                f"{what} did not show up within {timeout_s:.0f} s; see `bottleneck-qbo deadletters list` and .run/logs/worker.log"
            )
        await asyncio.sleep(0.05)


class Qbo:
    """Looks at the realm through the same client the worker uses."""

    def __init__(self, client: QboClient, realm: str) -> None:
        self.client, self.realm = client, realm

    async def one(self, entity: str, where: str) -> dict[str, Any] | None:
        rows = await self.client.query(self.realm, f"select * from {entity} where {where}")
        return rows[0] if rows else None


async def _demo(settings: Settings) -> None:
    from bottleneck_qbo.ops.connect import connect_local

    conn = psycopg.connect(settings.postgres_dsn, autocommit=True)
    stamp = time.strftime("%H%M%S")
    company = seed.company(conn, DEMO_COMPANY)
    realm = DEMO_REALM
    await connect_local(settings, company, realm)  # a demo company left from an earlier run: its initial load resends it
    say(f"Company {company} '{DEMO_COMPANY}' is connected to QBO realm {realm} ({settings.qbo_base_url}).", color="cyan")

    client = QboClient.from_settings(settings, PostgresTokenStore.from_settings(settings))
    qbo = Qbo(client, realm)
    try:
        say("\n1. A customer and a vendor")
        t = time.monotonic()
        cust_name = f"Green Grocer Co-op {stamp}"
        cust = seed.customer(
            conn,
            company,
            cust_name,
            email="ap@greengrocer.example",
            address={"line1": "12 Market St", "city": "Portland", "region": "OR", "postal_code": "97201", "country": "US"},
        )
        vend = seed.vendor(conn, company, f"Bean Importers {stamp}", email="orders@beans.example")
        await wait_for(f"Customer '{cust_name}'", lambda: qbo.one("Customer", f"DisplayName = '{cust_name}'"), since=t)
        await wait_for("Vendor", lambda: qbo.one("Vendor", f"DisplayName = 'Bean Importers {stamp}'"), since=t)

        say("\n2. Items: a tracked item with two lots, filtered water (non-tracking), a discount (service)")
        t = time.monotonic()
        brew, (lot1, _lot2) = seed.item(
            conn,
            company,
            f"CB-{stamp}",
            f"Cold Brew 12oz {stamp}",
            "inventory",
            sales_price=Decimal("4.50"),
            purchase_cost=Decimal("1.25"),
            lots=[("L2026-1101", Decimal("240"), Decimal("1.22")), ("L2026-1115", Decimal("120"), Decimal("1.31"))],
        )
        water, _ = seed.item(conn, company, f"WTR-{stamp}", f"Filtered Water {stamp}", "non_tracking", purchase_cost=Decimal("0.01"))
        disc, _ = seed.item(conn, company, f"DISC-{stamp}", f"Wholesale discount {stamp}", "service", sales_price=Decimal("-5.00"))
        await wait_for(
            "Category + canonical item + 2 lot items", lambda: qbo.one("Item", f"Name = 'Cold Brew 12oz {stamp} / L2026-1115'"), since=t
        )
        await wait_for("Service (discount)", lambda: qbo.one("Item", f"Name = 'Wholesale discount {stamp}'"), since=t)

        say("\n3. A draft sales order (stays out of QBO), then opened -> Estimate")
        so = seed.sales_order(
            conn,
            company,
            f"SO-{stamp}",
            cust,
            [Line(brew, Decimal("48"), Decimal("4.50"), lot_id=lot1), Line(disc, Decimal("1"), Decimal("-5.00"))],
            status="draft",
        )
        await asyncio.sleep(1.5)
        draft = await qbo.one("Estimate", f"DocNumber = 'SO-{stamp}'")
        say(
            f"  ✔ draft sales order in QBO after 1.5 s: {'yes (wrong!)' if draft else 'no, as it should'}",
            color="green" if not draft else "red",
        )
        t = time.monotonic()
        conn.execute("update sales_orders set status = 'open', updated_at = now() where id = %s", (so,))
        await wait_for(f"Estimate SO-{stamp}", lambda: qbo.one("Estimate", f"DocNumber = 'SO-{stamp}'"), since=t)

        say("\n4. Invoice (header + 2 lines in one transaction) linked to the estimate")
        t = time.monotonic()
        inv = seed.invoice(
            conn,
            company,
            f"INV-{stamp}",
            cust,
            [Line(brew, Decimal("48"), Decimal("4.50"), lot_id=lot1), Line(disc, Decimal("1"), Decimal("-5.00"))],
            sales_order_id=so,
        )
        invoice = await wait_for(f"Invoice INV-{stamp}", lambda: qbo.one("Invoice", f"DocNumber = 'INV-{stamp}'"), since=t)
        est = await qbo.one("Estimate", f"DocNumber = 'SO-{stamp}'")
        say(f"  ✔ Invoice TotalAmt {invoice.get('TotalAmt')}, Estimate status {est.get('TxnStatus') if est else '?'}", color="green")

        say("\n5. Ship job completed: lot L2026-1101 240 -> 192 in Bottleneck; QBO's quantity must match")
        t = time.monotonic()
        seed.complete_ship_job(conn, company, so, [(lot1, Decimal("48"))])

        async def lot_matches() -> dict[str, Any] | None:
            item = await qbo.one("Item", f"Name = 'Cold Brew 12oz {stamp} / L2026-1101'")
            return item if item and Decimal(str(item.get("QtyOnHand"))) == Decimal("192") else None

        await wait_for("QBO QtyOnHand of lot L2026-1101 = 192", lot_matches, since=t)

        say("\n6. Purchase order, then a bill linked to it (the PO closes)")
        t = time.monotonic()
        po, po_lines = seed.purchase_order(conn, company, f"PO-{stamp}", vend, [Line(water, Decimal("1000"), Decimal("0.01"))])
        seed.bill(
            conn,
            company,
            f"B-{stamp}",
            vend,
            [Line(water, Decimal("1000"), Decimal("0.01"), purchase_order_line_id=po_lines[0])],
            purchase_order_id=po,
        )
        await wait_for(f"Bill B-{stamp}", lambda: qbo.one("Bill", f"DocNumber = 'B-{stamp}'"), since=t)

        async def po_closed() -> dict[str, Any] | None:
            found = await qbo.one("PurchaseOrder", f"DocNumber = 'PO-{stamp}'")
            return found if found and found.get("POStatus") == "Closed" else None

        await wait_for(f"PurchaseOrder PO-{stamp} Closed", po_closed, since=t)

        say("\n7. A payment recorded in QuickBooks comes back to Bottleneck (webhook -> Kafka -> invoice_payments)")
        t = time.monotonic()
        payment = await client.create(
            realm,
            "Payment",
            {
                "CustomerRef": {"value": invoice["CustomerRef"]["value"]},
                "TotalAmt": invoice["TotalAmt"],
                "Line": [{"Amount": invoice["TotalAmt"], "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
            },
            request_id=f"demo-payment-{stamp}",
        )

        async def payment_row() -> tuple[Any, ...] | None:
            return conn.execute(
                "select amount, paid_on from invoice_payments where invoice_id = %s and qbo_payment_id = %s", (inv, payment["Id"])
            ).fetchone()

        row = await wait_for(f"invoice_payments row for QBO Payment {payment['Id']}", payment_row, since=t)
        say(f"  ✔ Bottleneck shows {row[0]} paid on {row[1]} for INV-{stamp}", color="green")
        say("\nLive sync is running. Write to Bottleneck (psql: see `bottleneck-qbo stack status`) and watch QBO follow;")
        say(f"`bottleneck-qbo state --company {company}` shows per-record sync state; `make stack-down` stops everything.")
    finally:
        await client.aclose()
        conn.close()


def run(settings: Settings) -> None:
    asyncio.run(_demo(settings))
