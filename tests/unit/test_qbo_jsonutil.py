"""Money crosses the QBO wire exactly: Decimal in, same digits out, Decimal back."""

import json
from datetime import date
from decimal import Decimal

import pytest

from sinks.qbo.jsonutil import JsonEncodeError, dumps, loads


def test_decimal_encodes_as_exact_number() -> None:
    body = {"Amount": Decimal("0.10"), "Qty": Decimal("3"), "UnitPrice": Decimal("12345678901234.123456789")}
    assert dumps(body) == b'{"Amount":0.10,"Qty":3,"UnitPrice":12345678901234.123456789}'


def test_exponent_decimals_are_written_without_exponent() -> None:
    assert dumps([Decimal("1E+2"), Decimal("1E-7")]) == b"[100,0.0000001]"


def test_round_trip_keeps_decimal_digits() -> None:
    body = {"Line": [{"Amount": Decimal("19.99"), "Description": 'Ω widget "A"', "Qty": 2}], "Active": True, "X": None}
    back = loads(dumps(body))
    assert back["Line"][0]["Amount"] == Decimal("19.99")
    assert isinstance(back["Line"][0]["Amount"], Decimal)
    assert isinstance(back["Line"][0]["Qty"], Decimal)
    assert back["Line"][0]["Description"] == 'Ω widget "A"'
    assert back["Active"] is True and back["X"] is None
    # The encoder's output is standard JSON other parsers accept.
    assert json.loads(dumps(body))["Line"][0]["Description"] == 'Ω widget "A"'


def test_loads_never_produces_float() -> None:
    data = loads(b'{"a": 0.1, "b": [1.5e2, 7]}')
    assert data == {"a": Decimal("0.1"), "b": [Decimal("150"), Decimal("7")]}
    assert all(isinstance(v, Decimal) for v in [data["a"], *data["b"]])


def test_float_is_refused_with_path() -> None:
    with pytest.raises(JsonEncodeError) as exc:
        dumps({"Line": [{"Amount": Decimal("1")}, {"Amount": 0.1}]})
    assert exc.value.path == "Line[1].Amount"
    assert "Decimal" in str(exc.value)


def test_non_finite_decimal_is_refused() -> None:
    with pytest.raises(JsonEncodeError):
        dumps({"Amount": Decimal("NaN")})


def test_dates_are_iso_strings() -> None:
    assert dumps({"TxnDate": date(2026, 1, 31)}) == b'{"TxnDate":"2026-01-31"}'
