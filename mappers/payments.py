"""QBO Payment / BillPayment -> the rows Bottleneck shows on an invoice or bill (pure functions).

A QBO payment may pay several documents: each ``Line`` carries an ``Amount`` and ``LinkedTxn`` to the
invoice (bill) it pays. Bottleneck keeps one row per (payment, document), so amounts for the same
document are summed. Links to anything else (CreditMemo, VendorCredit, JournalEntry) are not Bottleneck
documents and are left out. A void zeroes the payment and drops its lines in QBO (qbo.md 3.9), and a
delete leaves only the id, so both are payment-level states: every row of that payment gets ``voided_at``.

Two steps, both pure: ``read_payment`` understands QBO's object; ``to_payment_change`` turns it into
Bottleneck rows once the id map has said which local documents the QBO ids are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

PaymentEntity = Literal["Payment", "BillPayment"]
DocumentKind = Literal["invoice", "bill"]
PaymentStatus = Literal["active", "voided", "deleted"]

PAYMENT_ENTITIES: tuple[PaymentEntity, ...] = ("Payment", "BillPayment")
# What each payment entity pays, as QBO names it in LinkedTxn.TxnType and in the id map (qbo_entity).
DOCUMENT_TXN_TYPE: dict[PaymentEntity, str] = {"Payment": "Invoice", "BillPayment": "Bill"}
DOCUMENT_KIND: dict[PaymentEntity, DocumentKind] = {"Payment": "invoice", "BillPayment": "bill"}
_PAY_TYPES = {"Check": "check", "CreditCard": "credit_card"}
_CENT = Decimal("0.01")


class PaymentMappingError(ValueError):
    """The QBO object cannot be read as a payment; the message names the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AppliedAmount(_Frozen):
    """The part of a payment applied to one QBO document."""

    qbo_txn_id: str
    amount: Decimal


class QboPaymentState(_Frozen):
    """What QBO says a payment is now, in QBO's ids."""

    entity: PaymentEntity
    qbo_payment_id: str
    status: PaymentStatus
    paid_on: date | None = None
    method: str | None = None
    reference: str | None = None
    applied: tuple[AppliedAmount, ...] = ()
    last_updated: datetime | None = None

    @property
    def kind(self) -> DocumentKind:
        return DOCUMENT_KIND[self.entity]


class PaymentRecord(_Frozen):
    """One row of ``invoice_payments`` (kind invoice) or ``bill_payments`` (kind bill)."""

    kind: DocumentKind
    company_id: int
    document_id: int  # invoices.id or bills.id
    qbo_payment_id: str
    amount: Decimal
    paid_on: date
    method: str | None = None
    reference: str | None = None


class PaymentChange(_Frozen):
    """The message on the payments topic: a payment's whole current state for one company.

    ``records`` are the rows that must exist (active payment); rows of the same payment whose document is
    not among them are voided (the payment no longer pays that document). Voided/deleted: no records, all
    rows of the payment get ``voided_at``.
    """

    kind: DocumentKind
    realm_id: str
    company_id: int
    qbo_payment_id: str
    status: PaymentStatus
    records: tuple[PaymentRecord, ...] = ()
    changed_at: datetime | None = None  # QBO's LastUpdatedTime (or the webhook time): when it was voided


def _money(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PaymentMappingError(f"{where}: expected an amount, got {value!r}")
    if isinstance(value, float):
        raise PaymentMappingError(f"{where}: float amount {value!r}; decode QBO JSON numbers as Decimal")
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise PaymentMappingError(f"{where}: not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise PaymentMappingError(f"{where}: not a finite amount: {value!r}")
    try:
        cents = amount.quantize(_CENT)
    except ArithmeticError as exc:  # decimal.InvalidOperation: more digits than any context holds (1E+30)
        raise PaymentMappingError(f"{where}: {value!r} is out of range for an amount") from exc
    if amount != cents:
        raise PaymentMappingError(f"{where}: {amount} has more than 2 decimal places")
    return amount


def _ref_name(obj: Mapping[str, Any], key: str) -> str | None:
    ref = obj.get(key)
    name = ref.get("name") if isinstance(ref, Mapping) else None
    if isinstance(name, str) and name.strip():
        return name.strip()
    return None


def _method_slug(name: str) -> str:
    return "_".join(name.lower().split())


def _last_updated(obj: Mapping[str, Any]) -> datetime | None:
    meta = obj.get("MetaData")
    text = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PaymentMappingError(f"MetaData.LastUpdatedTime: not an ISO 8601 time: {text!r}") from exc


def _is_voided(obj: Mapping[str, Any]) -> bool:
    # QBO keeps a voided payment with TotalAmt 0, no lines and "Voided" in PrivateNote (qbo.md 3.9, 4);
    # some responses also carry a status.
    if obj.get("status") == "Voided" or obj.get("TxnStatus") == "Voided":
        return True
    note = obj.get("PrivateNote")
    total = obj.get("TotalAmt")
    try:
        zero = total is not None and not isinstance(total, float) and Decimal(total) == 0
    except (InvalidOperation, TypeError, ValueError):
        zero = False
    return zero and not obj.get("Line") and isinstance(note, str) and note.strip().lower().startswith("voided")


def deleted_payment(entity: PaymentEntity, qbo_payment_id: str, *, when: datetime | None = None) -> QboPaymentState:
    return QboPaymentState(entity=entity, qbo_payment_id=qbo_payment_id, status="deleted", last_updated=when)


def read_payment(entity: str, obj: Mapping[str, Any], *, operation: str | None = None) -> QboPaymentState:
    """Read a QBO Payment or BillPayment (as returned by read or CDC). ``operation`` is the webhook's
    (``"Void"``/``"Delete"`` force that state even if the object read looks otherwise)."""
    if entity not in PAYMENT_ENTITIES:
        raise PaymentMappingError(f"{entity} is not a payment entity (expected Payment or BillPayment)")
    ent: PaymentEntity = entity
    qbo_id = obj.get("Id")
    if not isinstance(qbo_id, str | int) or isinstance(qbo_id, bool) or str(qbo_id) == "":
        raise PaymentMappingError(f"{entity}.Id is missing")
    pid = str(qbo_id)
    updated = _last_updated(obj)
    if obj.get("status") == "Deleted" or operation == "Delete":
        return deleted_payment(ent, pid, when=updated)
    if operation == "Void" or _is_voided(obj):
        return QboPaymentState(entity=ent, qbo_payment_id=pid, status="voided", last_updated=updated)

    txn_date = obj.get("TxnDate")
    try:
        paid_on = date.fromisoformat(txn_date) if isinstance(txn_date, str) else None
    except ValueError as exc:
        raise PaymentMappingError(f"{entity}.TxnDate: not a date: {txn_date!r}") from exc
    if paid_on is None:
        raise PaymentMappingError(f"{entity}.TxnDate is missing")

    if ent == "Payment":
        method_name = _ref_name(obj, "PaymentMethodRef")
        method = _method_slug(method_name) if method_name else None
        reference = obj.get("PaymentRefNum")
    else:
        pay_type = obj.get("PayType")
        if pay_type not in _PAY_TYPES:
            raise PaymentMappingError(f"BillPayment.PayType must be Check or CreditCard, got {pay_type!r}")
        method = _PAY_TYPES[pay_type]
        reference = obj.get("DocNumber")  # the check number

    want = DOCUMENT_TXN_TYPE[ent]
    totals: dict[str, Decimal] = {}
    lines = obj.get("Line") or []
    if not isinstance(lines, list):
        raise PaymentMappingError(f"{entity}.Line is not a list")
    for i, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise PaymentMappingError(f"{entity}.Line[{i}] is not an object")
        links = [t for t in (line.get("LinkedTxn") or []) if isinstance(t, Mapping) and t.get("TxnType") == want]
        if not links:
            continue
        if len(links) > 1:
            # One amount cannot be split between documents without guessing.
            raise PaymentMappingError(f"{entity}.Line[{i}] links {len(links)} {want}s to one Amount")
        txn_id = links[0].get("TxnId")
        if not isinstance(txn_id, str | int) or isinstance(txn_id, bool) or str(txn_id) == "":
            raise PaymentMappingError(f"{entity}.Line[{i}].LinkedTxn[].TxnId is missing")
        amount = _money(line.get("Amount"), f"{entity}.Line[{i}].Amount")
        try:
            totals[str(txn_id)] = totals.get(str(txn_id), Decimal("0")) + amount
        except ArithmeticError as exc:
            raise PaymentMappingError(f"{entity}.Line[{i}].Amount: the amounts for {want} {txn_id} add up out of range") from exc
    return QboPaymentState(
        entity=ent,
        qbo_payment_id=pid,
        status="active",
        paid_on=paid_on,
        method=method,
        reference=str(reference) if reference not in (None, "") else None,
        applied=tuple(AppliedAmount(qbo_txn_id=k, amount=v) for k, v in totals.items()),
        last_updated=updated,
    )


def to_payment_change(
    state: QboPaymentState, *, realm_id: str, company_id: int, local_ids: Mapping[str, int]
) -> tuple[PaymentChange, list[AppliedAmount]]:
    """Bottleneck rows for ``state``; ``local_ids`` maps QBO document ids to Bottleneck ids (id map).

    Returns the change and the applied amounts whose document is not in ``local_ids`` (not (yet) known).
    """
    records: list[PaymentRecord] = []
    unresolved: list[AppliedAmount] = []
    if state.status == "active":
        assert state.paid_on is not None  # read_payment guarantees it for active payments
        for applied in state.applied:
            local = local_ids.get(applied.qbo_txn_id)
            if local is None:
                unresolved.append(applied)
                continue
            records.append(
                PaymentRecord(
                    kind=state.kind,
                    company_id=company_id,
                    document_id=local,
                    qbo_payment_id=state.qbo_payment_id,
                    amount=applied.amount,
                    paid_on=state.paid_on,
                    method=state.method,
                    reference=state.reference,
                )
            )
    change = PaymentChange(
        kind=state.kind,
        realm_id=realm_id,
        company_id=company_id,
        qbo_payment_id=state.qbo_payment_id,
        status=state.status,
        records=tuple(records),
        changed_at=state.last_updated,
    )
    return change, unresolved
