"""QBO Payment / BillPayment -> Bottleneck payment rows (mappers.payments), and the inbound retry pieces."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from mappers.payments import PaymentChange, PaymentMappingError, read_payment, to_payment_change
from streams.inbound.cdc_poll import MAX_LOOKBACK, next_checkpoint, notifications_from_cdc, poll_window_start
from streams.inbound.notifications import Notification
from streams.inbound.parking import Envelope, ParkingLot, retry_delay


def _payment(**over: object) -> dict:
    body: dict = {
        "Id": "301",
        "SyncToken": "0",
        "TxnDate": "2026-11-20",
        "TotalAmt": Decimal("150.50"),
        "CustomerRef": {"value": "12"},
        "PaymentRefNum": "CHK-881",
        "PaymentMethodRef": {"value": "2", "name": "Credit Card"},
        "Line": [
            {"Amount": Decimal("100.25"), "LinkedTxn": [{"TxnId": "41", "TxnType": "Invoice"}]},
            {"Amount": Decimal("50.25"), "LinkedTxn": [{"TxnId": "42", "TxnType": "Invoice"}]},
        ],
        "MetaData": {"CreateTime": "2026-11-20T09:00:00-08:00", "LastUpdatedTime": "2026-11-20T09:00:00-08:00"},
    }
    body.update(over)
    return body


def _bill_payment(**over: object) -> dict:
    body: dict = {
        "Id": "77",
        "TxnDate": "2026-11-21",
        "TotalAmt": Decimal("980.00"),
        "VendorRef": {"value": "5"},
        "PayType": "Check",
        "DocNumber": "1042",
        "CheckPayment": {"BankAccountRef": {"value": "35"}},
        "Line": [{"Amount": Decimal("980.00"), "LinkedTxn": [{"TxnId": "90", "TxnType": "Bill"}]}],
    }
    body.update(over)
    return body


def test_payment_applied_to_two_invoices_gives_two_rows() -> None:
    state = read_payment("Payment", _payment())
    change, unresolved = to_payment_change(state, realm_id="R1", company_id=3, local_ids={"41": 1001, "42": 1002})
    assert unresolved == []
    assert change.status == "active" and change.kind == "invoice"
    assert [(r.document_id, r.amount) for r in change.records] == [(1001, Decimal("100.25")), (1002, Decimal("50.25"))]
    r = change.records[0]
    assert (r.company_id, r.qbo_payment_id, r.paid_on, r.method, r.reference) == (3, "301", date(2026, 11, 20), "credit_card", "CHK-881")
    assert all(isinstance(x.amount, Decimal) for x in change.records)


def test_amounts_for_the_same_invoice_are_summed_and_credit_memo_links_ignored() -> None:
    state = read_payment(
        "Payment",
        _payment(
            Line=[
                {"Amount": Decimal("10.10"), "LinkedTxn": [{"TxnId": "41", "TxnType": "Invoice"}]},
                {"Amount": Decimal("0.20"), "LinkedTxn": [{"TxnId": "41", "TxnType": "Invoice"}]},
                {"Amount": Decimal("5.00"), "LinkedTxn": [{"TxnId": "9", "TxnType": "CreditMemo"}]},
            ]
        ),
    )
    assert [(a.qbo_txn_id, a.amount) for a in state.applied] == [("41", Decimal("10.30"))]


def test_bill_payment_by_check_and_by_credit_card() -> None:
    state = read_payment("BillPayment", _bill_payment())
    change, _ = to_payment_change(state, realm_id="R1", company_id=3, local_ids={"90": 55})
    [r] = change.records
    assert (r.kind, r.document_id, r.amount, r.method, r.reference) == ("bill", 55, Decimal("980.00"), "check", "1042")
    cc = read_payment("BillPayment", _bill_payment(PayType="CreditCard", DocNumber=None, CheckPayment=None))
    assert (cc.method, cc.reference) == ("credit_card", None)


def test_unknown_invoice_is_reported_unresolved() -> None:
    state = read_payment("Payment", _payment())
    change, unresolved = to_payment_change(state, realm_id="R1", company_id=3, local_ids={"41": 1001})
    assert [r.document_id for r in change.records] == [1001]
    assert [(a.qbo_txn_id, a.amount) for a in unresolved] == [("42", Decimal("50.25"))]


def test_void_is_recognised_from_the_object_and_from_the_operation() -> None:
    voided = _payment(TotalAmt=Decimal("0"), Line=[], PrivateNote="Voided")
    assert read_payment("Payment", voided).status == "voided"
    assert read_payment("Payment", _payment(), operation="Void").status == "voided"
    change, _ = to_payment_change(read_payment("Payment", voided), realm_id="R1", company_id=3, local_ids={})
    assert change.records == () and change.status == "voided"
    assert change.changed_at == datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=-8)))


def test_deleted_object_from_cdc_and_delete_operation() -> None:
    assert read_payment("Payment", {"domain": "QBO", "status": "Deleted", "Id": "301"}).status == "deleted"
    assert read_payment("BillPayment", _bill_payment(), operation="Delete").status == "deleted"


def test_unapplied_payment_has_no_rows() -> None:
    state = read_payment("Payment", _payment(Line=[]))
    assert state.status == "active" and state.applied == ()


@pytest.mark.parametrize(
    ("entity", "body", "match"),
    [
        ("Payment", _payment(TxnDate=None), "TxnDate is missing"),
        ("Payment", _payment(TxnDate="20/11/2026"), "TxnDate"),
        ("Payment", _payment(Line=[{"Amount": 1.5, "LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}]}]), "float"),
        ("Payment", _payment(Line=[{"Amount": Decimal("1.005"), "LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}]}]), "2 decimal"),
        ("Payment", _payment(Line=[{"Amount": "abc", "LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}]}]), "not an amount"),
        (
            "Payment",
            _payment(
                Line=[{"Amount": Decimal("2"), "LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}, {"TxnId": "2", "TxnType": "Invoice"}]}]
            ),
            "links 2 Invoices",
        ),
        ("BillPayment", _bill_payment(PayType="Cash"), "PayType"),
        ("Invoice", _payment(), "not a payment entity"),
        ("Payment", _payment(Id=None), "Id is missing"),
    ],
)
def test_bad_objects_give_a_clear_error(entity: str, body: dict, match: str) -> None:
    with pytest.raises(PaymentMappingError, match=match):
        read_payment(entity, body)


def test_payment_change_survives_the_topic_exactly() -> None:
    change, _ = to_payment_change(read_payment("Payment", _payment()), realm_id="R1", company_id=3, local_ids={"41": 1, "42": 2})
    again = PaymentChange.model_validate_json(change.model_dump_json())
    assert again == change
    assert again.records[0].amount == Decimal("100.25")


# --- retry and gap-recovery pieces -------------------------------------------------------------------


def _n(i: str, occurred: datetime | None) -> Notification:
    return Notification(realm_id="17", entity="Payment", entity_id=i, operation="Create", occurred_at=occurred, dedupe_key=i)


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay(a, 0.5, 3.0) for a in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_parking_lot_releases_in_due_order_and_knows_the_oldest_change() -> None:
    lot = ParkingLot()
    t0 = datetime(2026, 11, 26, 10, tzinfo=UTC)
    lot.park(Envelope(notification=_n("2", t0 + timedelta(minutes=1)), attempt=1), due=20.0)
    lot.park(Envelope(notification=_n("1", t0), attempt=1), due=10.0)
    lot.park(Envelope(notification=_n("3", None), attempt=1), due=30.0)
    assert lot.oldest_occurred_at() == t0
    assert lot.oldest_occurred_at("17") == t0 and lot.oldest_occurred_at("other realm") is None
    assert lot.pop_due(5.0) == []
    assert [e.notification.entity_id for e in lot.pop_due(25.0)] == ["1", "2"]
    assert len(lot) == 1 and lot.oldest_occurred_at() is None


def test_cdc_changes_become_notifications_with_deletes() -> None:
    changes: dict[str, list[dict[str, Any]]] = {
        "Payment": [
            {"Id": "301", "MetaData": {"LastUpdatedTime": "2026-11-26T10:00:00-08:00"}, "TotalAmt": Decimal("5")},
            {"domain": "QBO", "status": "Deleted", "Id": "302", "MetaData": {"LastUpdatedTime": "2026-11-26T11:00:00-08:00"}},
        ],
        "BillPayment": [{"Id": "9", "MetaData": {"LastUpdatedTime": "2026-11-26T10:30:00-08:00"}}],
        "Invoice": [{"Id": "1"}],
    }
    got = notifications_from_cdc("7", changes)
    assert [(n.entity, n.entity_id, n.operation, n.source) for n in got] == [
        ("Payment", "301", "Update", "cdc"),
        ("Payment", "302", "Delete", "cdc"),
        ("BillPayment", "9", "Update", "cdc"),
    ]
    assert notifications_from_cdc("7", changes)[0].dedupe_key == got[0].dedupe_key
    # The same payment changed again within the same second (e.g. voided) is a new change.
    changes["Payment"][0] = dict(changes["Payment"][0], SyncToken="1")
    assert notifications_from_cdc("7", changes)[0].dedupe_key != got[0].dedupe_key


def test_cdc_window_and_checkpoint_rules() -> None:
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert poll_window_start(None, now, timedelta(hours=1)) == now - timedelta(hours=1)
    assert poll_window_start(now - timedelta(days=90), now, timedelta(hours=1)) == now - MAX_LOOKBACK
    current = now - timedelta(minutes=10)
    assert next_checkpoint(now, timedelta(minutes=2), None, current) == now - timedelta(minutes=2)
    # a change still parked for retry holds the checkpoint back...
    assert next_checkpoint(now, timedelta(minutes=2), now - timedelta(minutes=5), current) == now - timedelta(minutes=5)
    # ...but the checkpoint never goes backwards
    assert next_checkpoint(now, timedelta(minutes=2), now - timedelta(hours=5), current) == current
