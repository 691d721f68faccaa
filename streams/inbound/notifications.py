"""QBO webhook payloads (legacy ``eventNotifications`` and the CloudEvents array) -> typed ``Notification``s.

Pure: no I/O. Both formats carry ids only (never the entity), so a ``Notification`` says *what* changed and
the payment agent fetches the entity. Formats are told apart by shape: a JSON object with
``eventNotifications`` is legacy, a JSON array of objects with ``specversion`` is CloudEvents (qbo.md 11.1-11.2).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Operation = Literal["Create", "Update", "Delete", "Merge", "Void", "Emailed"]
_OPERATIONS: frozenset[str] = frozenset(Operation.__args__)  # type: ignore[attr-defined]
Source = Literal["webhook", "cdc"]

# QBO's webhook entities (qbo.md 11.5) by their lower-case CloudEvents spelling, so a CloudEvent type
# ``qbo.billpayment.created.v1`` yields the same entity name (``BillPayment``) as the legacy payload.
_ENTITY_NAMES = {
    name.lower(): name
    for name in [
        "Account",
        "Bill",
        "BillPayment",
        "Budget",
        "Class",
        "CreditMemo",
        "Currency",
        "Customer",
        "Department",
        "Deposit",
        "Employee",
        "Estimate",
        "Invoice",
        "Item",
        "JournalCode",
        "JournalEntry",
        "Payment",
        "PaymentMethod",
        "Preferences",
        "Purchase",
        "PurchaseOrder",
        "RefundReceipt",
        "SalesReceipt",
        "TaxAgency",
        "Term",
        "TimeActivity",
        "Transfer",
        "Vendor",
        "VendorCredit",
    ]
}

# CloudEvents verbs (past tense, in ``type``) -> legacy operation names.
_CE_OPERATIONS: dict[str, Operation] = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}


log = logging.getLogger(__name__)


class WebhookPayloadError(ValueError):
    """The body is not JSON, or not a QBO webhook payload of either format. The message says what is wrong."""


class Notification(BaseModel):
    """One changed entity in one realm, as QBO announced it (or as the CDC poll found it)."""

    model_config = ConfigDict(frozen=True)

    realm_id: str
    entity: str  # QBO's entity name: "Payment", "BillPayment", "Invoice", ...
    entity_id: str
    operation: Operation
    occurred_at: datetime | None = None  # lastUpdated / CloudEvent time; absent on some CloudEvents
    dedupe_key: str
    source: Source = "webhook"
    deleted_id: str | None = None  # Merge: the id of the entity merged away


def _canonical_entity(name: str) -> str:
    return _ENTITY_NAMES.get(name.lower(), name)


def _parse_time(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WebhookPayloadError(f"{where}: time must be a string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WebhookPayloadError(f"{where}: not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise WebhookPayloadError(f"{where}: time has no UTC offset: {value!r}")
    return parsed


# --- legacy -------------------------------------------------------------------------------------------


class _LegacyEntity(BaseModel):
    name: str
    id: str
    operation: str
    lastUpdated: str | None = None
    deletedId: str | None = None


class _LegacyDataChangeEvent(BaseModel):
    entities: list[_LegacyEntity] = Field(default_factory=list)


class _LegacyEventNotification(BaseModel):
    realmId: str
    dataChangeEvent: _LegacyDataChangeEvent


class _LegacyPayload(BaseModel):
    eventNotifications: list[_LegacyEventNotification]


def _from_legacy(doc: dict[str, Any]) -> list[Notification]:
    try:
        payload = _LegacyPayload.model_validate(doc)
    except ValidationError as exc:
        raise WebhookPayloadError(f"legacy eventNotifications payload is invalid: {_first_error(exc)}") from exc
    out: list[Notification] = []
    for i, event in enumerate(payload.eventNotifications):
        for j, ent in enumerate(event.dataChangeEvent.entities):
            entity = _canonical_entity(ent.name)
            if ent.operation not in _OPERATIONS:
                # An operation Intuit adds later must not fail the whole POST: a non-200 makes Intuit
                # hold back every later event for the app (qbo.md 11.4).
                log.warning("webhook: ignoring unknown operation %r on %s %s", ent.operation, entity, ent.id)
                continue
            occurred = _parse_time(ent.lastUpdated, f"eventNotifications[{i}].entities[{j}].lastUpdated")
            out.append(
                Notification(
                    realm_id=event.realmId,
                    entity=entity,
                    entity_id=ent.id,
                    operation=ent.operation,  # type: ignore[arg-type]  # checked above
                    occurred_at=occurred,
                    # Intuit's advice: dedupe on (realm, entity, id, lastUpdated) (qbo.md 11.4). Two changes
                    # of one kind in the same second look like a redelivery; the CDC poll (keyed by
                    # SyncToken) still brings the later one.
                    dedupe_key=f"{event.realmId}:{entity}:{ent.id}:{ent.operation}:{ent.lastUpdated or ''}",
                    deleted_id=ent.deletedId,
                )
            )
    return out


# --- CloudEvents --------------------------------------------------------------------------------------


class _CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: str
    id: str
    type: str
    time: str | None = None
    intuitentityid: str
    intuitaccountid: str
    data: dict[str, Any] | None = None


def _from_cloudevents(docs: list[Any]) -> list[Notification]:
    out: list[Notification] = []
    for i, raw in enumerate(docs):
        if not isinstance(raw, dict):
            raise WebhookPayloadError(f"CloudEvents[{i}] is not an object")
        try:
            ev = _CloudEvent.model_validate(raw)
        except ValidationError as exc:
            raise WebhookPayloadError(f"CloudEvents[{i}] is invalid: {_first_error(exc)}") from exc
        parts = ev.type.split(".")
        # qbo.<entity>.<verb>.v<N>
        if len(parts) != 4 or parts[0] != "qbo" or not parts[3].startswith("v"):
            raise WebhookPayloadError(f"CloudEvents[{i}].type is not qbo.<entity>.<verb>.v<N>: {ev.type!r}")
        operation = _CE_OPERATIONS.get(parts[2])
        if operation is None:
            log.warning("webhook: ignoring CloudEvent %s with unknown operation in type %r", ev.id, ev.type)
            continue
        deleted_id = (ev.data or {}).get("deletedid")
        out.append(
            Notification(
                realm_id=ev.intuitaccountid,
                entity=_canonical_entity(parts[1]),
                entity_id=ev.intuitentityid,
                operation=operation,
                occurred_at=_parse_time(ev.time, f"CloudEvents[{i}].time"),
                dedupe_key=f"ce:{ev.id}",
                deleted_id=str(deleted_id) if deleted_id is not None else None,
            )
        )
    return out


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def parse_webhook_body(body: bytes) -> list[Notification]:
    """Parse a raw webhook body of either format. Raises ``WebhookPayloadError`` with a readable reason."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookPayloadError(f"body is not valid JSON: {exc}") from exc
    if isinstance(doc, dict) and "eventNotifications" in doc:
        return _from_legacy(doc)
    if isinstance(doc, list):
        return _from_cloudevents(doc)
    raise WebhookPayloadError('body is neither a legacy {"eventNotifications": [...]} object nor a CloudEvents array')
