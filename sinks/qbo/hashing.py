"""Canonical payload hash: equal QBO payloads (whatever the key order or Decimal spelling) hash equal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (Decimal, int)):
        # 1.50, 1.5 and Decimal("1.5E0") are the same amount to QBO: hash one spelling.
        d = Decimal(value).normalize()
        return "n:" + (format(d.quantize(Decimal(1)), "f") if d == d.to_integral_value() else format(d, "f"))
    if isinstance(value, float):
        raise TypeError("floats must not reach a QBO payload (money is Decimal)")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def canonical_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Computed by QBO, never owned by Bottleneck: with automated sales tax QBO adds the tax it computes to
# TotalAmt, so a hash (or comparison) including them would fight QBO forever.
QBO_COMPUTED = frozenset({"TxnTaxDetail", "TotalAmt", "Balance", "HomeTotalAmt", "HomeBalance", "TotalTax"})


def payload_hash(payload: Mapping[str, Any], *, exclude: Iterable[str] = ()) -> str:
    """sha256 hex of the canonical JSON, leaving out top-level keys in ``exclude`` (create-only fields)
    and the totals QBO computes (``QBO_COMPUTED``)."""
    skip = set(exclude) | QBO_COMPUTED
    return hashlib.sha256(canonical_json({k: v for k, v in payload.items() if k not in skip}).encode()).hexdigest()
