"""One table classifies every QBO failure; bodies of every shape QBO sends are parsed into faults."""

import pytest

from sinks.qbo.error_table import ERROR_TABLE, ResponseAction, build_error, resolve
from sinks.qbo.errors import (
    FailureType,
    QboAuthError,
    QboConfigError,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboFault,
    QboNotFound,
    QboRateLimited,
    QboStaleSyncToken,
    QboTransientError,
    QboValidationError,
)
from sinks.qbo.fault_parser import faults_from_json, parse_error_body


@pytest.mark.parametrize(
    ("status", "code", "cls", "action"),
    [
        (400, "6240", QboDuplicateName, ResponseAction.FAIL),
        (400, "6140", QboDuplicateDocNumber, ResponseAction.FAIL),
        (400, "5010", QboStaleSyncToken, ResponseAction.CONFLICT),
        (400, "610", QboNotFound, ResponseAction.FAIL),
        (400, "2500", QboValidationError, ResponseAction.FAIL),
        (400, "2010", QboValidationError, ResponseAction.FAIL),
        (400, "2020", QboValidationError, ResponseAction.FAIL),
        (400, "6070", QboValidationError, ResponseAction.FAIL),
        (400, "4001", QboValidationError, ResponseAction.FAIL),
        (429, "3001", QboRateLimited, ResponseAction.RATE_LIMITED),
        (403, "3001", QboRateLimited, ResponseAction.RATE_LIMITED),  # older throttle variant
        (401, "3200", QboAuthError, ResponseAction.REFRESH_TOKEN_THEN_RETRY),
        (403, "3100", QboConfigError, ResponseAction.CONFIG),
        (400, "oauth:invalid_grant", QboConfigError, ResponseAction.CONFIG),
        (500, "10000", QboTransientError, ResponseAction.RETRY),
        (200, "6240", QboDuplicateName, ResponseAction.FAIL),  # HTTP 200 with a Fault is still an error
    ],
)
def test_code_rows(status: int, code: str, cls: type, action: ResponseAction) -> None:
    row = resolve(status, [code])
    assert row.error_class is cls
    assert row.action is action
    assert type(build_error(status, [QboFault(code, "m")])) is cls


@pytest.mark.parametrize(
    ("status", "cls", "failure"),
    [
        (429, QboRateLimited, FailureType.RATE_LIMITED),
        (401, QboAuthError, FailureType.AUTH),
        (403, QboConfigError, FailureType.CONFIG),
        (404, QboNotFound, FailureType.TERMINAL),
        (500, QboTransientError, FailureType.TRANSIENT),
        (503, QboTransientError, FailureType.TRANSIENT),
        (599, QboTransientError, FailureType.TRANSIENT),
        (400, QboValidationError, FailureType.TERMINAL),
        (418, QboValidationError, FailureType.TERMINAL),
    ],
)
def test_status_rows_without_codes(status: int, cls: type, failure: FailureType) -> None:
    err = build_error(status, [])
    assert type(err) is cls
    assert err.failure_type is failure


def test_leading_zeros_and_unknown_codes() -> None:
    assert resolve(401, ["003200"]).error_class is QboAuthError
    # An unknown code falls back to the HTTP status.
    assert resolve(503, ["99999"]).error_class is QboTransientError
    assert resolve(400, ["99999"]).error_class is QboValidationError


def test_first_known_code_wins_among_several() -> None:
    err = build_error(400, [QboFault("99999", "odd"), QboFault("6240", "Duplicate Name Exists Error")])
    assert isinstance(err, QboDuplicateName)


def test_message_is_human_and_carries_qbo_detail_and_element() -> None:
    err = build_error(
        400,
        [QboFault("2020", "Required param missing", "Required parameter Line is missing in the request", "Line")],
        request="POST /v3/company/123/invoice",
        intuit_tid="tid-1",
    )
    assert "required field is missing" in err.message
    assert "Required parameter Line is missing" in err.message and "[Line]" in err.message
    assert err.to_dict()["request"] == "POST /v3/company/123/invoice"
    assert err.intuit_tid == "tid-1"


def test_rate_limited_keeps_retry_after() -> None:
    err = build_error(429, [], retry_after_s=7.0)
    assert isinstance(err, QboRateLimited) and err.retry_after_s == 7.0


def test_every_row_message_is_nonempty() -> None:
    assert all(row.message for row in ERROR_TABLE.values())


# --- body shapes (real recordings quoted in the reference, sections 2 and 5) ------------------------

UPPER = (
    b'{"Fault":{"Error":[{"Message":"Duplicate Name Exists Error","Detail":"The name supplied already exists. : '
    b'Id=58","code":"6240","element":""}],"type":"ValidationFault"},"time":"2020-09-29T06:58:50.262-07:00"}'
)
LOWER_401 = (
    b'{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message=AuthenticationFailed; '
    b'errorCode=003200; statusCode=401","detail":"Token expired: x","code":"3200","element":null}],'
    b'"type":"AUTHENTICATION"},"report":null,"queryResponse":null,"batchItemResponse":[],"time":1600000000000}'
)
XML_429 = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse xmlns="http://schema.intuit.com/finance/v3" '
    b'time="2020-01-01T00:00:00.000-08:00"><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; '
    b"errorCode=003001; statusCode=429</Message><Detail>The request limit was reached. Try again later</Detail></Error>"
    b"</Fault></IntuitResponse>"
)
XML_401 = (
    b'<Fault type="AuthenticationFault"><Error code="100"><Message>General Authentication Error</Message>'
    b"<Detail>AuthenticationErrorGeneral: SRV-110-Authentication Failure , statusCode: 401</Detail></Error></Fault>"
)


def test_parse_upper_case_fault() -> None:
    [fault] = parse_error_body(UPPER, "application/json")
    assert fault.code == "6240" and fault.message == "Duplicate Name Exists Error" and "Id=58" in fault.detail


def test_parse_lower_case_401_envelope() -> None:
    [fault] = parse_error_body(LOWER_401, "application/json")
    assert fault.code == "3200" and fault.detail == "Token expired: x" and fault.element == ""


def test_parse_lower_case_code_only_in_message() -> None:
    [fault] = faults_from_json({"fault": {"error": [{"message": "message=AuthorizationFailed; errorCode=003100; statusCode=403"}]}})
    assert fault.code == "3100"
    assert isinstance(build_error(403, [fault]), QboConfigError)


def test_parse_xml_throttle_even_when_json_was_asked() -> None:
    [fault] = parse_error_body(XML_429, "application/json")
    assert fault.code == "3001" and "request limit" in fault.detail
    assert isinstance(build_error(429, [fault]), QboRateLimited)


def test_parse_xml_401_without_namespace() -> None:
    [fault] = parse_error_body(XML_401, "text/xml")
    assert fault.code == "100" and fault.message == "General Authentication Error"


def test_parse_broken_xml_still_finds_code() -> None:
    [fault] = parse_error_body(b'<Fault><Error code="3001"><Message>cut', "text/xml")
    assert fault.code == "3001"


def test_unparseable_or_empty_body_yields_no_faults() -> None:
    assert parse_error_body(b"", "") == []
    assert parse_error_body(b"<html>Bad Gateway</html", "text/html") == []
    assert parse_error_body(b"Service Unavailable", "text/plain") == []
    assert faults_from_json({"Customer": {"Id": "1"}}) == []
