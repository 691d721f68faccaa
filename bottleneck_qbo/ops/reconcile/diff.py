"""Pure comparison of what Bottleneck says a QBO object must hold with what QBO holds.

Only fields Bottleneck owns are compared: the keys of the payload the processor maps (so a field QBO
adds, such as Balance, MetaData or a computed tax, never shows as a difference), lines by position
(QBO's own SubTotal line left out), references by their ``value``, numbers as Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Keys that identify or version an object rather than describe it.
_NOT_CONTENT = frozenset({"Id", "SyncToken", "sparse", "domain", "MetaData"})
# Lines QBO adds to every transaction (a subtotal of the others).
_QBO_LINE_TYPES = frozenset({"SubTotalLineDetail"})
DELETED_SUFFIX = " (deleted)"


@dataclass(frozen=True)
class Difference:
    entity_type: str
    local_id: int | None
    qbo_id: str | None
    field: str
    bottleneck: str
    qbo: str
    # what --fix does about it: "push" (re-send Bottleneck's state), "create" (the object is gone),
    # "quantity" (post an adjustment), "remove" (void/delete/deactivate what QBO still shows), "none"
    fix: str = "push"

    def as_row(self) -> list[str]:
        return [
            self.entity_type,
            "" if self.local_id is None else str(self.local_id),
            self.qbo_id or "",
            self.field,
            self.bottleneck,
            self.qbo,
        ]


def show(value: Any) -> str:
    """A value as a person reads it in the report."""
    if value is None:
        return "(none)"
    if isinstance(value, Mapping) and "value" in value:
        return str(value["value"])
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def same_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (date, datetime)):
        return expected.isoformat() == str(actual)[: len(expected.isoformat())]
    e, a = _number(expected), _number(actual)
    if e is not None and a is not None and not isinstance(expected, str):
        return e == a
    return bool(expected == actual)


def is_voided(obj: Mapping[str, Any]) -> bool:
    """QBO keeps a voided transaction with every amount zero (and says so in PrivateNote)."""
    total = _number(obj.get("TotalAmt"))
    return total == 0 and str(obj.get("PrivateNote", "")).startswith("Voided")


def content_lines(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    lines = obj.get("Line") or []
    return [ln for ln in lines if isinstance(ln, Mapping) and ln.get("DetailType") not in _QBO_LINE_TYPES]


def compare(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, skip: Sequence[str] = (), path: str = ""
) -> list[tuple[str, Any, Any]]:
    """(field path, Bottleneck value, QBO value) for every owned field that differs."""
    out: list[tuple[str, Any, Any]] = []
    for key, want in expected.items():
        if key in _NOT_CONTENT or key in skip:
            continue
        where = f"{path}{key}"
        have = actual.get(key)
        if key == "Line" and isinstance(want, list):
            out.extend(_compare_lines(want, content_lines(actual), where))
        elif isinstance(want, Mapping):
            if "value" in want and set(want) <= {"value", "name"}:  # a reference: the id is what matters
                if not isinstance(have, Mapping) or str(have.get("value")) != str(want["value"]):
                    out.append((where, want, have))
            elif not isinstance(have, Mapping):
                out.append((where, want, have))
            else:
                out.extend(compare(want, have, path=f"{where}."))
        elif key == "LinkedTxn" and isinstance(want, list):
            out.extend(_compare_links(want, have if isinstance(have, list) else [], where))
        elif isinstance(want, list):
            out.extend(_compare_list(want, have if isinstance(have, list) else [], where))
        elif key in ("DisplayName", "Name") and isinstance(want, str) and actual.get("Active") is False and have == want + DELETED_SUFFIX:
            continue  # QBO shows an inactive name as "Name (deleted)"
        elif not same_value(want, have):
            out.append((where, want, have))
    return out


def _compare_list(want: list[Any], have: list[Any], where: str) -> list[tuple[str, Any, Any]]:
    if len(want) != len(have):
        return [(f"{where} (count)", len(want), len(have))]
    out: list[tuple[str, Any, Any]] = []
    for i, (w, h) in enumerate(zip(want, have, strict=True)):
        if isinstance(w, Mapping) and isinstance(h, Mapping):
            out.extend(compare(w, h, path=f"{where}[{i}]."))
        elif not same_value(w, h):
            out.append((f"{where}[{i}]", w, h))
    return out


def _link_key(link: Any) -> tuple[str, str, str]:
    if not isinstance(link, Mapping):
        return ("", "", "")
    return (str(link.get("TxnId")), str(link.get("TxnType")), str(link.get("TxnLineId") or ""))


def _compare_links(want: list[Any], have: list[Any], where: str) -> list[tuple[str, Any, Any]]:
    """Every link Bottleneck makes must be there; QBO adds its own (a payment links to the invoice it pays)."""
    present = {_link_key(h) for h in have}
    present |= {(k[0], k[1], "") for k in list(present)}
    missing = [w for w in want if _link_key(w) not in present]
    return [(where, f"{_link_key(w)[1]} {_link_key(w)[0]}", "dropped" if have else "(none)") for w in missing]


def _compare_lines(want: list[Any], have: list[Mapping[str, Any]], where: str) -> list[tuple[str, Any, Any]]:
    if len(want) != len(have):
        return [(f"{where} (count)", len(want), len(have))]
    out: list[tuple[str, Any, Any]] = []
    for i, (w, h) in enumerate(zip(want, have, strict=True)):
        if isinstance(w, Mapping):
            out.extend(compare(w, h, path=f"{where}[{i + 1}]."))
    return out


def expected_total(payload: Mapping[str, Any]) -> Decimal | None:
    """What QBO's TotalAmt must be before tax: the sum of the line amounts Bottleneck sends."""
    lines = payload.get("Line")
    if not isinstance(lines, list) or not lines:
        return None
    total = Decimal(0)
    for ln in lines:
        value = _number(ln.get("Amount")) if isinstance(ln, Mapping) else None
        if value is None:
            return None
        total += value
    return total


def qbo_total_before_tax(obj: Mapping[str, Any]) -> Decimal | None:
    total = _number(obj.get("TotalAmt"))
    if total is None:
        return None
    tax = _number((obj.get("TxnTaxDetail") or {}).get("TotalTax")) or Decimal(0)
    return total - tax
