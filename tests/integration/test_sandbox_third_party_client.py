"""python-quickbooks (with intuit-oauth), a widely used open-source QBO client, runs its ordinary flows
unchanged against the sandbox: OAuth refresh, create/read/query/update customers, items and invoices,
apply a payment, a batch with one failing item, CDC and paging.

Pointing it at the sandbox takes two settings and no code change: intuit-oauth's ``environment`` accepts a
discovery-document URL (the sandbox serves Intuit's document, naming its own token endpoint), and the
QuickBooks client's API root is its ``api_url_v3`` attribute (set on the instance).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from intuitlib.client import AuthClient  # type: ignore[import-untyped]
from quickbooks import QuickBooks  # type: ignore[import-untyped]
from quickbooks.batch import batch_create  # type: ignore[import-untyped]
from quickbooks.cdc import change_data_capture  # type: ignore[import-untyped]
from quickbooks.exceptions import QuickbooksException  # type: ignore[import-untyped]
from quickbooks.objects.account import Account  # type: ignore[import-untyped]
from quickbooks.objects.customer import Customer  # type: ignore[import-untyped]
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail  # type: ignore[import-untyped]
from quickbooks.objects.invoice import Invoice  # type: ignore[import-untyped]
from quickbooks.objects.item import Item  # type: ignore[import-untyped]
from quickbooks.objects.payment import Payment, PaymentLine  # type: ignore[import-untyped]

from tests.fixtures.sandbox import RealmInfo, SandboxServer, qbo_realm, qbo_sandbox  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


@pytest.fixture
def qb(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, monkeypatch: pytest.MonkeyPatch) -> Iterator[QuickBooks]:  # noqa: F811
    # oauthlib's documented switch for a plain-http test server (the sandbox does not do TLS)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth = AuthClient(
        client_id=qbo_sandbox.client_id,
        client_secret=qbo_sandbox.client_secret,
        redirect_uri="http://localhost/callback",
        environment=f"{qbo_sandbox.base_url}/.well-known/openid_sandbox_configuration",
    )
    # no access token yet: the client refreshes through the discovered (sandbox) token endpoint
    client = QuickBooks(auth_client=auth, refresh_token=qbo_realm.refresh_token, company_id=qbo_realm.realm_id, minorversion=75)
    client.api_url_v3 = f"{qbo_sandbox.base_url}/v3"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield client


def _customer(qb: QuickBooks, name: str) -> Customer:
    c = Customer()
    c.DisplayName = name
    c.CompanyName = f"{name} Ltd"
    return c.save(qb=qb)


def _service_item(qb: QuickBooks, name: str, price: Decimal) -> Item:
    income = Account.filter(Name="Services", qb=qb)[0]
    item = Item()
    item.Name = name
    item.Type = "Service"
    item.UnitPrice = price
    item.IncomeAccountRef = income.to_ref()
    return item.save(qb=qb)


def _invoice(qb: QuickBooks, customer: Customer, item: Item, qty: int, price: Decimal) -> Invoice:
    detail = SalesItemLineDetail()
    detail.ItemRef = item.to_ref()
    detail.Qty = qty
    detail.UnitPrice = price
    line = SalesItemLine()
    line.Amount = price * qty
    line.Description = "consulting"
    line.SalesItemLineDetail = detail
    inv = Invoice()
    inv.CustomerRef = customer.to_ref()
    inv.Line.append(line)
    return inv.save(qb=qb)


def test_oauth_refresh_went_through_the_sandbox(qb: QuickBooks, qbo_sandbox: SandboxServer) -> None:  # noqa: F811
    assert qb.auth_client.token_endpoint == qbo_sandbox.token_url
    assert qb.auth_client.access_token and qb.refresh_token


def test_customers_create_read_query_update(qb: QuickBooks) -> None:
    created = _customer(qb, "PyQB Customer")
    assert created.Id and created.SyncToken == "0"
    read = Customer.get(created.Id, qb=qb)
    assert read.DisplayName == "PyQB Customer" and read.CompanyName == "PyQB Customer Ltd"
    assert [c.Id for c in Customer.filter(DisplayName="PyQB Customer", qb=qb)] == [created.Id]
    assert [c.Id for c in Customer.where("DisplayName LIKE 'PyQB%'", qb=qb)] == [created.Id]
    read.Notes = "updated by python-quickbooks"
    updated = read.save(qb=qb)  # a full update, echoing what was read (incl. read-only fields)
    assert updated.SyncToken == "1" and Customer.get(created.Id, qb=qb).Notes == "updated by python-quickbooks"
    updated.Active = False
    gone = updated.save(qb=qb)
    assert gone.DisplayName == "PyQB Customer (deleted)"


def test_items_and_invoices_then_a_payment(qb: QuickBooks) -> None:
    customer = _customer(qb, "PyQB Buyer")
    item = _service_item(qb, "PyQB Consulting", Decimal("150.00"))
    assert Item.get(item.Id, qb=qb).Type == "Service"
    inv = _invoice(qb, customer, item, 2, Decimal("150.00"))
    assert Decimal(str(inv.TotalAmt)) == Decimal("300.00") and inv.DocNumber and inv.TxnDate
    assert [i.Id for i in Invoice.filter(CustomerRef=customer.Id, qb=qb)] == [inv.Id]

    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = 300
    line = PaymentLine()
    line.Amount = 300
    line.LinkedTxn.append(inv.to_linked_txn())
    payment.Line.append(line)
    paid = payment.save(qb=qb)
    assert paid.Id and Decimal(str(Invoice.get(inv.Id, qb=qb).Balance)) == 0


def test_a_batch_with_one_failing_item(qb: QuickBooks) -> None:
    _customer(qb, "PyQB Taken")
    fresh, dup = Customer(), Customer()
    fresh.DisplayName = "PyQB Batch New"
    dup.DisplayName = "PyQB Taken"
    result = batch_create([fresh, dup], qb=qb)
    assert [c.DisplayName for c in result.successes] == ["PyQB Batch New"]
    assert len(result.faults) == 1 and result.faults[0].Error[0].code == "6240"


def test_cdc_reports_what_changed(qb: QuickBooks) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    customer = _customer(qb, "PyQB CDC")
    inv = _invoice(qb, customer, _service_item(qb, "PyQB CDC item", Decimal(10)), 1, Decimal(10))
    # a string goes through unchanged; a datetime would lose its offset (qb_datetime_format) and be read
    # in the company's time zone
    cdc = change_data_capture([Customer, Invoice], since.isoformat(timespec="seconds"), qb=qb)
    assert [c.Id for c in cdc.Customer] == [customer.Id]
    assert [i.Id for i in cdc.Invoice] == [inv.Id]


def test_paging_and_count(qb: QuickBooks) -> None:
    names = [f"PyQB Page {n}" for n in range(5)]
    for name in names:
        _customer(qb, name)
    first = Customer.all(start_position=1, max_results=2, qb=qb)
    second = Customer.all(start_position=3, max_results=2, qb=qb)
    third = Customer.all(start_position=5, max_results=2, qb=qb)
    assert [c.DisplayName for c in first + second + third] == names
    assert Customer.count(qb=qb) == 5


def test_faults_reach_the_client_as_its_exceptions(qb: QuickBooks) -> None:
    bad = Customer()
    bad.DisplayName = "Colon: not allowed"
    with pytest.raises(QuickbooksException) as err:
        bad.save(qb=qb)
    assert err.value.error_code == 6000
