"""Pure parts of the production hardening: dead-letter size cap, bad-input classes, OAuth state binding,
ids checked before URL paths, token encryption."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bottleneck_qbo.ops.oauth_state import CallbackRefused, StateBinding, check_callback, make_state, parse_state
from connectors.debezium import DecodeError
from connectors.debezium.decoder import _jsonb
from mappers.payments import PaymentMappingError, read_payment
from sinks.qbo.auth import InMemoryTokenStore, TokenCipher, TokenManager
from sinks.qbo.client import QboClient
from sinks.qbo.errors import QboConfigError, QboLocalValidationError
from streams.deadletter import DeadLetter, OriginalRecord


def test_dead_letter_over_the_limit_is_cut_with_a_pointer_to_the_original() -> None:
    raw = b"\xff" * 50_000
    letter = DeadLetter(
        stage="decode", failure_type="DecodeError", reason="x" * 30_000, original=OriginalRecord.from_bytes("t", 3, 42, b"k", raw)
    )
    data = letter.to_bytes(10_000)
    assert len(data) <= 10_000
    cut = DeadLetter.model_validate_json(data)
    assert cut.original is not None and cut.original.truncated
    assert (cut.original.topic, cut.original.partition, cut.original.offset) == ("t", 3, 42)
    assert cut.original.value_size == len(raw) and cut.original.value_sha256 == hashlib.sha256(raw).hexdigest()
    assert raw.startswith(base64.b64decode(cut.original.value or ""))
    assert cut.reason.endswith("[truncated]")
    small = DeadLetter(stage="s", failure_type="f", reason="r", original=OriginalRecord.from_bytes("t", 0, 1, None, b"v"))
    assert DeadLetter.model_validate_json(small.to_bytes(10_000)) == small, "a letter that fits is untouched"


def test_deeply_nested_jsonb_is_a_decode_error_not_a_crash() -> None:
    from connectors.debezium.decoder import _Bad

    with pytest.raises(_Bad, match="nested too deeply"):
        _jsonb("[" * 5000 + "]" * 5000)
    assert issubclass(DecodeError, ValueError)


def test_amount_no_decimal_context_can_hold_is_a_mapping_error() -> None:
    payment = {
        "Id": "5",
        "TxnDate": "2026-11-25",
        "Line": [{"Amount": Decimal("1E+30"), "LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}]}],
    }
    with pytest.raises(PaymentMappingError, match="out of range"):
        read_payment("Payment", payment)


def test_oauth_state_names_its_company_and_realm() -> None:
    first, reconnect = make_state(12, None), make_state(12, "9130")
    assert parse_state(first) == StateBinding(12, None) and parse_state(reconnect) == StateBinding(12, "9130")
    check_callback(parse_state(first), "4620816365")  # a first connection may pick any realm
    check_callback(parse_state(reconnect), "9130")
    with pytest.raises(CallbackRefused, match="started for realm 9130"):
        check_callback(parse_state(reconnect), "9131")
    for bad_realm in ("", "1/../../2", "12a"):
        with pytest.raises(CallbackRefused, match="realmId"):
            check_callback(parse_state(first), bad_realm)
    for bad in ("", "not-a-state", "12..short", "x.1.abcdefghijklmnopqrstuvwxyz"):
        with pytest.raises(CallbackRefused):
            parse_state(bad)


async def test_ids_are_checked_before_they_reach_a_url_path() -> None:
    manager = TokenManager(InMemoryTokenStore(), None, static_access_token=SecretStr("t"))
    client = QboClient(base_url="http://127.0.0.1:9", token_manager=manager)  # nothing listens: nothing may be sent
    try:
        with pytest.raises(QboLocalValidationError, match="not a QBO id"):
            await client.read("123", "Payment", "1/../../999/payment/7")
        with pytest.raises(QboLocalValidationError, match="realm id"):
            await client.read("1/../999", "Payment", "7")
    finally:
        await client.aclose()


def test_token_cipher_marks_what_it_seals_and_passes_plaintext_through() -> None:
    cipher = TokenCipher(Fernet.generate_key().decode())
    sealed = cipher.seal("RT-1")
    assert sealed.startswith(TokenCipher.MARKER) and "RT-1" not in sealed
    assert cipher.open(sealed) == "RT-1" and cipher.open("RT-plain") == "RT-plain"
    with pytest.raises(QboConfigError, match="not a Fernet key"):
        TokenCipher("not a key")
