"""The webhook receiver's decisions (handle_webhook) and both payload formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from bottleneck_qbo.settings import Settings
from sinks.qbo.webhook_signature import sign_intuit_payload
from streams.inbound import handle_webhook, parse_webhook_body
from streams.inbound.notifications import Notification, WebhookPayloadError

# Intuit's published test vector (Java SDK WebhooksServiceTest; qbo.md 11.3).
VECTOR_TOKEN = "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
VECTOR_BODY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[{"name":"Customer",'
    b'"id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}'
)
VECTOR_SIGNATURE = "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="

TOKEN = "test-verifier-token"


def _settings(token: str = TOKEN, max_body: int = 1_048_576) -> Settings:
    return Settings(webhook_verifier_token=SecretStr(token), webhook_max_body_bytes=max_body)


def _signed(body: bytes, token: str = TOKEN) -> dict[str, str]:
    return {"intuit-signature": sign_intuit_payload(body, token), "content-type": "application/json"}


def _legacy(*events: tuple[str, list[dict[str, str]]]) -> bytes:
    return json.dumps(
        {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": ents}} for realm, ents in events]}
    ).encode()


def _cloudevent(realm: str, type_: str, entity_id: str, event_id: str, time: str | None = "2026-11-26T10:00:00.123456789Z") -> dict:
    ev = {
        "specversion": "1.0",
        "id": event_id,
        "source": "intuit.abc",
        "type": type_,
        "datacontenttype": "application/json",
        "intuitentityid": entity_id,
        "intuitaccountid": realm,
        "data": {},
    }
    if time is not None:
        ev["time"] = time
    return ev


def test_intuit_published_vector_is_accepted() -> None:
    result = handle_webhook(VECTOR_BODY, {"Intuit-Signature": VECTOR_SIGNATURE}, _settings(VECTOR_TOKEN))
    assert result.status == 200
    [n] = result.notifications
    assert (n.realm_id, n.entity, n.entity_id, n.operation) == ("1185883450", "Customer", "1", "Create")
    assert n.occurred_at == datetime(2015, 10, 5, 14, 42, 19, tzinfo=timezone(timedelta(hours=-7)))


def test_vector_with_one_byte_changed_is_rejected() -> None:
    tampered = VECTOR_BODY.replace(b'"id":"1"', b'"id":"2"')
    result = handle_webhook(tampered, {"intuit-signature": VECTOR_SIGNATURE}, _settings(VECTOR_TOKEN))
    assert result.status == 401
    assert result.notifications == []


def test_signature_made_with_another_token_is_rejected() -> None:
    result = handle_webhook(VECTOR_BODY, {"intuit-signature": VECTOR_SIGNATURE}, _settings("some-other-token"))
    assert result.status == 401
    assert result.notifications == []


@pytest.mark.parametrize("headers", [{}, {"intuit-signature": ""}, {"intuit-signature": "not base64 at all"}])
def test_missing_or_garbage_signature_is_401(headers: dict[str, str]) -> None:
    result = handle_webhook(VECTOR_BODY, headers, _settings(VECTOR_TOKEN))
    assert result.status == 401
    assert result.notifications == []


def test_body_over_the_limit_is_413_before_anything_else() -> None:
    body = _legacy(("1", [{"name": "Payment", "id": "9", "operation": "Create", "lastUpdated": "2026-01-01T00:00:00Z"}]))
    result = handle_webhook(body, _signed(body), _settings(max_body=len(body) - 1))
    assert result.status == 413
    assert handle_webhook(body, _signed(body), _settings(max_body=len(body))).status == 200


@pytest.mark.parametrize("body", [b"{not json", b"", b'"a string"', b'{"something": "else"}', b"\xff\xfe"])
def test_signed_but_malformed_body_is_400(body: bytes) -> None:
    result = handle_webhook(body, _signed(body), _settings())
    assert result.status == 400
    assert result.notifications == []


def test_unknown_realm_is_dropped_but_answered_200() -> None:
    body = _legacy(
        ("111", [{"name": "Payment", "id": "5", "operation": "Create", "lastUpdated": "2026-01-01T00:00:00Z"}]),
        ("999", [{"name": "Payment", "id": "6", "operation": "Create", "lastUpdated": "2026-01-01T00:00:00Z"}]),
    )
    result = handle_webhook(body, _signed(body), _settings(), is_known_realm=lambda r: r == "111")
    assert result.status == 200
    assert [n.entity_id for n in result.notifications] == ["5"]
    assert [n.realm_id for n in result.dropped] == ["999"]


def test_legacy_payload_with_several_entities() -> None:
    body = _legacy(
        (
            "4620816365",
            [
                {"name": "Payment", "id": "101", "operation": "Create", "lastUpdated": "2026-11-26T10:00:00.000Z"},
                {"name": "BillPayment", "id": "7", "operation": "Void", "lastUpdated": "2026-11-26T10:00:01-0800"},
                {"name": "Customer", "id": "3", "operation": "Merge", "lastUpdated": "2026-11-26T10:00:02Z", "deletedId": "4"},
            ],
        )
    )
    got = parse_webhook_body(body)
    assert [(n.entity, n.entity_id, n.operation) for n in got] == [
        ("Payment", "101", "Create"),
        ("BillPayment", "7", "Void"),
        ("Customer", "3", "Merge"),
    ]
    assert got[2].deleted_id == "4"
    assert all(n.source == "webhook" for n in got)
    # Redelivery of the same event gives the same dedupe key; another change does not.
    assert parse_webhook_body(body)[0].dedupe_key == got[0].dedupe_key
    assert len({n.dedupe_key for n in got}) == 3


def test_cloudevents_array_with_several_realms() -> None:
    body = json.dumps(
        [
            _cloudevent("111", "qbo.payment.created.v1", "55", "e-1"),
            _cloudevent("222", "qbo.billpayment.voided.v1", "8", "e-2", time=None),
            _cloudevent("111", "qbo.payment.deleted.v1", "56", "e-3"),
        ]
    ).encode()
    result = handle_webhook(body, _signed(body), _settings())
    assert result.status == 200
    assert [(n.realm_id, n.entity, n.entity_id, n.operation) for n in result.notifications] == [
        ("111", "Payment", "55", "Create"),
        ("222", "BillPayment", "8", "Void"),
        ("111", "Payment", "56", "Delete"),
    ]
    first = result.notifications[0]
    assert first.occurred_at == datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
    assert first.dedupe_key == "ce:e-1"
    assert result.notifications[1].occurred_at is None


def test_cloudevent_missing_account_id_is_rejected_with_reason_and_answered_200() -> None:
    ev = _cloudevent("111", "qbo.payment.created.v1", "55", "e-1")
    del ev["intuitaccountid"]
    body = json.dumps([ev]).encode()
    result = handle_webhook(body, _signed(body), _settings())
    assert result.status == 200 and result.notifications == []
    [bad] = result.rejected
    assert bad.where == "CloudEvents[0]" and "intuitaccountid" in bad.reason and bad.raw == ev


def test_one_malformed_entity_does_not_reject_the_good_ones() -> None:
    """Intuit redelivers a POST it got no 200 for, forever: the good entities go on, the bad one is rejected."""
    body = _legacy(
        (
            "4620816365",
            [
                {"name": "Payment", "id": "101", "operation": "Create", "lastUpdated": "2026-11-26T10:00:00Z"},
                {"name": "Payment", "id": "102", "operation": "Create", "lastUpdated": "yesterday"},
                {"name": "Payment", "operation": "Create"},
                {"name": "Payment", "id": "1/../../999/payment/7", "operation": "Update"},
                {"name": "BillPayment", "id": "7", "operation": "Void", "lastUpdated": "2026-11-26T10:00:01-0800"},
            ],
        ),
        ("../1", [{"name": "Payment", "id": "5", "operation": "Create"}]),
    )
    result = handle_webhook(body, _signed(body), _settings())
    assert result.status == 200
    assert [(n.entity, n.entity_id) for n in result.notifications] == [("Payment", "101"), ("BillPayment", "7")]
    assert [r.where for r in result.rejected] == [
        "eventNotifications[0].entities[1]",
        "eventNotifications[0].entities[2]",
        "eventNotifications[0].entities[3]",
        "eventNotifications[1].entities[0]",
    ]
    assert "lastUpdated" in result.rejected[0].reason and "id" in result.rejected[1].reason
    assert "not a QBO id" in result.rejected[2].reason and "not a QBO id" in result.rejected[3].reason
    assert result.rejected[0].realm_id == "4620816365" and result.rejected[3].realm_id is None


@pytest.mark.parametrize("bad", ["1/../../999/payment/7", "12a", "", " 12", "1" * 33, "١٢"])
def test_ids_are_digits_only_and_bounded(bad: str) -> None:
    ev = _cloudevent("111", "qbo.payment.created.v1", bad, "e-1")
    body = json.dumps([ev, _cloudevent(bad, "qbo.payment.created.v1", "5", "e-2")]).encode()
    result = handle_webhook(body, _signed(body), _settings())
    assert result.status == 200 and result.notifications == [] and len(result.rejected) == 2
    with pytest.raises(ValueError, match="not a QBO id"):
        Notification(realm_id="1", entity="Payment", entity_id=bad, operation="Create", dedupe_key="k")


def test_deeply_nested_body_is_400_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    result = handle_webhook(body, _signed(body), _settings(max_body=len(body)))
    assert result.status == 400 and "nested" in result.reason


def test_unknown_operation_is_skipped_not_fatal() -> None:
    body = json.dumps(
        [_cloudevent("1", "qbo.payment.archived.v1", "1", "e-9"), _cloudevent("1", "qbo.payment.updated.v1", "2", "e-10")]
    ).encode()
    assert [n.entity_id for n in parse_webhook_body(body)] == ["2"]


def test_bad_time_is_a_payload_error() -> None:
    body = _legacy(("1", [{"name": "Payment", "id": "9", "operation": "Create", "lastUpdated": "yesterday"}]))
    with pytest.raises(WebhookPayloadError, match="lastUpdated"):
        parse_webhook_body(body)


def test_realm_cache_looks_up_a_missing_realm_once_then_remembers() -> None:
    from streams.inbound.directory import RealmCache

    cache = RealmCache(negative_ttl_s=3600)
    cache.replace(["1"])
    assert "1" in cache and "2" not in cache
    assert cache.to_check(["1", "2", "3", "2"]) == ["2", "3"]
    cache.record(["2", "3"], connected=["2"])
    assert "2" in cache
    assert cache.to_check(["2", "3"]) == []  # "3" was just found unconnected: not asked again yet
