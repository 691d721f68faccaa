"""Pure parts of the QBO sandbox: webhook signing, exact JSON numbers, the query parser."""

from __future__ import annotations

from decimal import Decimal

import pytest

from infra.qbo_sandbox import faults, jsonio, query
from infra.qbo_sandbox.webhooks import legacy_body, sign

# Intuit's published vector (QuickBooks-V3-Java-SDK WebhooksServiceTest, reference §11.3).
VECTOR_TOKEN = "b5771f19b12ddb4bcdb9f08bdc50bc63878a"
VECTOR_BODY = (
    '{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":'
    '[{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}'
)
VECTOR_SIGNATURE = "JC2GUwciPmRBwEO7WvrRmKqu9tGOKL8FFallocTFi8Q="


def test_signature_matches_intuit_vector_and_a_changed_byte_does_not() -> None:
    assert sign(VECTOR_TOKEN, VECTOR_BODY.encode()) == VECTOR_SIGNATURE
    assert sign(VECTOR_TOKEN, VECTOR_BODY.replace('"1"', '"2"').encode()) != VECTOR_SIGNATURE


def test_legacy_body_serialises_like_intuits_sample() -> None:
    from infra.qbo_sandbox.rules.common import Change

    body = jsonio.dumps(legacy_body("1185883450", [Change("Customer", "1", "Create", "2015-10-05T14:42:19-07:00")]))
    assert body == VECTOR_BODY


def test_json_numbers_round_trip_exactly() -> None:
    text = '{"a":0.1,"b":100.00,"c":12345678901234567890.123456789,"d":3,"e":[1.50,"x"],"f":null,"g":true}'
    data = jsonio.loads(text)
    assert data["a"] == Decimal("0.1") and isinstance(data["a"], Decimal)
    assert jsonio.dumps(data) == text


def test_bad_json_is_reported() -> None:
    with pytest.raises(jsonio.BadJson):
        jsonio.loads(b"{not json")


def test_query_parser_accepts_qbo_grammar() -> None:
    q = query.parse(
        "Select * From Invoice Where DocNumber IN ('1', '2') And TotalAmt >= 10.5 OrderBy TxnDate Desc, Id StartPosition 11 MaxResults 10"
    )
    assert q.entity == "Invoice" and not q.count
    assert [(c.prop, c.op) for c in q.where] == [("DocNumber", "in"), ("TotalAmt", ">=")]
    assert q.where[0].values == ["1", "2"] and q.where[1].values == [Decimal("10.5")]
    assert q.order == [("TxnDate", True), ("Id", False)] and (q.start, q.max_results) == (11, 10)
    assert query.parse("select count(*) from Item").count


@pytest.mark.parametrize(
    "text",
    [
        "",
        "select * from Nope",
        "select * from Item where Colour = 'red'",
        "select * from Item maxresults 0",
        "select * from Item where Name != 'a'",
    ],
)
def test_query_parser_rejects_with_4001(text: str) -> None:
    with pytest.raises(faults.QboFault) as err:
        query.parse(text)
    assert err.value.code == "4001"
