"""Decimal-exact JSON for QBO bodies.

``json.dumps`` turns Decimal into float (or refuses it); money must survive the wire exactly, so this
module encodes ``Decimal`` as a plain JSON number with the same digits, refuses ``float`` (a float in a
money path is a bug upstream), and decodes every JSON number as ``Decimal``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["JsonEncodeError", "dumps", "loads"]


class JsonEncodeError(ValueError):
    """A value cannot be sent to QBO as exact JSON. ``path`` names where it is (``Line[0].Amount``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '<root>'}: {reason}")
        self.path = path
        self.reason = reason


def _decimal_literal(value: Decimal, path: str) -> str:
    if not value.is_finite():
        raise JsonEncodeError(path, f"{value} is not a finite number")
    # 'f' keeps every digit and never emits an exponent (QBO rejects 1E+2 style numbers).
    return format(value, "f")


def _encode(value: Any, path: str, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out.append(_decimal_literal(value, path))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        raise JsonEncodeError(path, f"float {value!r} is not allowed: use Decimal for money and quantities")
    elif isinstance(value, datetime | date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise JsonEncodeError(path, f"object key {key!r} is not a string")
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(item, f"{path}.{key}" if path else key, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, f"{path}[{i}]", out)
        out.append("]")
    else:
        raise JsonEncodeError(path, f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """Encode to compact UTF-8 JSON; Decimal digits are kept exactly. Raises JsonEncodeError."""
    out: list[str] = []
    _encode(value, "", out)
    return "".join(out).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode JSON with every number (integer or not) as Decimal, so money is never a float."""
    return json.loads(data, parse_float=Decimal, parse_int=Decimal)
