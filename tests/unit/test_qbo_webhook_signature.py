"""Intuit's published webhook signature vector (Java SDK WebhooksServiceTest, reference 11.3)."""

from sinks.qbo.webhook_signature import sign_intuit_payload, verify_intuit_signature

TOKEN = "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
BODY = (
    b'{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":'
    b'[{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}'
)
SIGNATURE = "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="


def test_sign_reproduces_intuit_vector() -> None:
    assert sign_intuit_payload(BODY, TOKEN) == SIGNATURE


def test_verify_accepts_intuit_vector() -> None:
    assert verify_intuit_signature(BODY, SIGNATURE, TOKEN)


def test_changed_byte_in_body_fails() -> None:
    tampered = BODY.replace(b'"id":"1"', b'"id":"2"')
    assert not verify_intuit_signature(tampered, SIGNATURE, TOKEN)


def test_wrong_token_fails() -> None:
    assert not verify_intuit_signature(BODY, SIGNATURE, TOKEN[:-1] + "b")


def test_changed_signature_fails() -> None:
    assert not verify_intuit_signature(BODY, "K" + SIGNATURE[1:], TOKEN)


def test_empty_or_garbage_signature_is_false_not_error() -> None:
    assert not verify_intuit_signature(BODY, "", TOKEN)
    assert not verify_intuit_signature(BODY, "not base64 ü", TOKEN)
    assert not verify_intuit_signature(BODY, SIGNATURE, "")
