"""Checks the client runs before sending, so a data error fails fast with a human message.

Works on plain dicts (the bodies the sync engine hands over). Only rules QBO is known to enforce
(reference section 12 and the fault table) are checked here; QBO remains the final judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from mappers import limits
from sinks.qbo.errors import QboFault, QboLocalValidationError

__all__ = ["TRANSACTION_ENTITIES", "validate_body"]

TRANSACTION_ENTITIES = frozenset(
    {"Invoice", "Estimate", "PurchaseOrder", "Bill", "SalesReceipt", "CreditMemo", "RefundReceipt", "VendorCredit"}
)
NAME_ENTITIES = frozenset({"Customer", "Vendor", "Employee"})
ITEM_LINE_DETAILS = ("SalesItemLineDetail", "ItemBasedExpenseLineDetail")

DISPLAY_NAME_MAX = limits.DISPLAY_NAME
ITEM_NAME_MAX = limits.ITEM_NAME
DOC_NUMBER_MAX = limits.DOC_NUMBER
NOTE_MAX = limits.PRIVATE_NOTE  # PrivateNote and Description share QBO's 4000
_CENT = Decimal("0.01")


def _fail(entity: str, element: str, message: str, code: str) -> QboLocalValidationError:
    return QboLocalValidationError(
        message=f"{entity}.{element}: {message}",
        faults=[QboFault(code=code, message=message, element=element)],
        request=f"local validation of {entity}",
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _check_len(entity: str, element: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        raise _fail(entity, element, f"is {len(value)} characters long; QBO allows at most {limit}", "2050")


def validate_body(entity: str, body: Mapping[str, Any], *, creating: bool, sparse: bool = False) -> None:
    """Raise QboLocalValidationError naming the field when ``body`` breaks a QBO rule we can check.

    ``creating`` or a full update (``sparse=False``) requires the required fields; a sparse update only
    checks the fields it carries.
    """
    complete = creating or not sparse
    if entity in NAME_ENTITIES:
        name = body.get("DisplayName")
        if name is None or (isinstance(name, str) and not name.strip()):
            if complete:
                raise _fail(entity, "DisplayName", "is required", "2020")
        elif not isinstance(name, str):
            raise _fail(entity, "DisplayName", "must be a string", "2020")
        else:
            if any(ch in name for ch in (":", "\t", "\n", "\r")):
                raise _fail(entity, "DisplayName", f"{name!r} must not contain ':', tab or newline", "2050")
            _check_len(entity, "DisplayName", name, DISPLAY_NAME_MAX)
    if entity == "Item":
        name = body.get("Name")
        if name is None or (isinstance(name, str) and not name.strip()):
            if complete:
                raise _fail(entity, "Name", "is required", "2020")
        else:
            if isinstance(name, str) and ":" in name:
                # ':' separates levels of FullyQualifiedName; sub-items use ParentRef instead.
                raise _fail(entity, "Name", f"{name!r} must not contain ':' (use ParentRef for sub-items)", "6000")
            _check_len(entity, "Name", name, ITEM_NAME_MAX)
        _check_len(entity, "Description", body.get("Description"), NOTE_MAX)
    _check_len(entity, "DocNumber", body.get("DocNumber"), DOC_NUMBER_MAX)
    _check_len(entity, "PrivateNote", body.get("PrivateNote"), NOTE_MAX)

    lines = body.get("Line")
    if entity in TRANSACTION_ENTITIES and complete and not lines:
        raise _fail(entity, "Line", "at least one line is required", "2020")
    if lines is None:
        return
    if not isinstance(lines, list):
        raise _fail(entity, "Line", "must be a list of lines", "2020")
    for i, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise _fail(entity, f"Line[{i}]", "must be an object", "2020")
        _check_len(entity, f"Line[{i}].Description", line.get("Description"), NOTE_MAX)
        _check_item_line_amount(entity, i, line)


def _check_item_line_amount(entity: str, index: int, line: Mapping[str, Any]) -> None:
    for detail_key in ITEM_LINE_DETAILS:
        detail = line.get(detail_key)
        if not isinstance(detail, Mapping):
            continue
        amount, qty, price = _decimal(line.get("Amount")), _decimal(detail.get("Qty")), _decimal(detail.get("UnitPrice"))
        if amount is None or qty is None or price is None:
            return
        # QBO computes Qty x UnitPrice rounded to cents; the sent Amount must match it.
        expected = (qty * price).quantize(_CENT, rounding=ROUND_HALF_UP)
        if amount != expected and amount != qty * price:
            raise _fail(
                entity,
                f"Line[{index}].Amount",
                f"is {amount} but Qty x UnitPrice = {qty} x {price} = {expected}",
                "6070",
            )
        return
