"""QBO webhook payloads (legacy ``eventNotifications`` and the CloudEvents array) -> typed ``Notification``s.

Pure: no I/O. Both formats carry ids only (never the entity), so a ``Notification`` says *what* changed and
the payment agent fetches the entity. Formats are told apart by shape: a JSON object with
``eventNotifications`` is legacy, a JSON array of objects with ``specversion`` is CloudEvents (qbo.md 11.1-11.2).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

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

MAX_ID_LENGTH = 32
QBO_ID = re.compile(rf"[0-9]{{1,{MAX_ID_LENGTH}}}")  # realm ids and entity ids are decimal digits


class WebhookPayloadError(ValueError):
    """The body is not JSON, or not a QBO webhook payload of either format. The message says what is wrong."""


class Notification(BaseModel):
    """One changed entity in one realm, as QBO announced it (or as the CDC poll found it). Ids are QBO's:
    digits only and bounded, so they are safe in URL paths (``1/../../999/payment/7`` never is)."""

    model_config = ConfigDict(frozen=True)

    realm_id: str
    entity: str  # QBO's entity name: "Payment", "BillPayment", "Invoice", ...
    entity_id: str
    operation: Operation
    occurred_at: datetime | None = None  # lastUpdated / CloudEvent time; absent on some CloudEvents
    dedupe_key: str
    source: Source = "webhook"
    deleted_id: str | None = None  # Merge: the id of the entity merged away

    @field_validator("realm_id", "entity_id", "deleted_id")
    @classmethod
    def _qbo_id(cls, v: str | None) -> str | None:
        if v is not None and not QBO_ID.fullmatch(v):
            raise ValueError(f"not a QBO id (digits only, at most {MAX_ID_LENGTH}): {v[:40]!r}")
        return v


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


# --- one POST, entity by entity ---------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedEntity:
    """One entity of a POST that cannot be used (the rest of the POST still is): dead-lettered with this."""

    where: str  # eventNotifications[0].entities[2] | CloudEvents[1]
    reason: str
    raw: Any  # the entity's JSON as received
    realm_id: str | None = None


@dataclass(frozen=True)
class ParsedWebhook:
    notifications: list[Notification] = field(default_factory=list)
    rejected: list[RejectedEntity] = field(default_factory=list)


def _realm_of(value: Any) -> str | None:
    return value if isinstance(value, str) and QBO_ID.fullmatch(value) else None


# --- legacy -------------------------------------------------------------------------------------------


class _LegacyEntity(BaseModel):
    name: str
    id: str
    operation: str
    lastUpdated: str | None = None
    deletedId: str | None = None


def _legacy_entity(realm: Any, raw: Any, where: str) -> Notification | None:
    if not isinstance(realm, str):
        raise WebhookPayloadError(f"{where}: realmId must be a string, got {type(realm).__name__}")
    try:
        ent = _LegacyEntity.model_validate(raw)
    except ValidationError as exc:
        raise WebhookPayloadError(f"{where} is invalid: {_first_error(exc)}") from None
    entity = _canonical_entity(ent.name)
    if ent.operation not in _OPERATIONS:
        # An operation Intuit adds later must not fail the whole POST: a non-200 makes Intuit
        # hold back every later event for the app (qbo.md 11.4).
        log.warning("webhook: ignoring unknown operation %r on %s %s", ent.operation, entity, ent.id)
        return None
    occurred = _parse_time(ent.lastUpdated, f"{where}.lastUpdated")
    return _notification(
        where,
        realm_id=realm,
        entity=entity,
        entity_id=ent.id,
        operation=ent.operation,
        occurred_at=occurred,
        # Intuit's advice: dedupe on (realm, entity, id, lastUpdated) (qbo.md 11.4). Two changes
        # of one kind in the same second look like a redelivery; the CDC poll (keyed by
        # SyncToken) still brings the later one.
        dedupe_key=f"{realm}:{entity}:{ent.id}:{ent.operation}:{ent.lastUpdated or ''}",
        deleted_id=ent.deletedId,
    )


def _from_legacy(doc: dict[str, Any]) -> ParsedWebhook:
    events = doc.get("eventNotifications")
    if not isinstance(events, list):
        raise WebhookPayloadError("legacy eventNotifications payload is invalid: eventNotifications is not a list")
    out = ParsedWebhook()
    for i, event in enumerate(events):
        realm = event.get("realmId") if isinstance(event, dict) else None
        change = event.get("dataChangeEvent") if isinstance(event, dict) else None
        entities = change.get("entities") if isinstance(change, dict) else None
        if not isinstance(entities, list):
            out.rejected.append(RejectedEntity(f"eventNotifications[{i}]", "no dataChangeEvent.entities list", event, _realm_of(realm)))
            continue
        for j, raw in enumerate(entities):
            where = f"eventNotifications[{i}].entities[{j}]"
            try:
                n = _legacy_entity(realm, raw, where)
            except WebhookPayloadError as exc:
                out.rejected.append(RejectedEntity(where, str(exc), raw, _realm_of(realm)))
                continue
            if n is not None:
                out.notifications.append(n)
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


def _cloudevent(raw: Any, where: str) -> Notification | None:
    if not isinstance(raw, dict):
        raise WebhookPayloadError(f"{where} is not an object")
    try:
        ev = _CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise WebhookPayloadError(f"{where} is invalid: {_first_error(exc)}") from None
    parts = ev.type.split(".")
    # qbo.<entity>.<verb>.v<N>
    if len(parts) != 4 or parts[0] != "qbo" or not parts[3].startswith("v"):
        raise WebhookPayloadError(f"{where}.type is not qbo.<entity>.<verb>.v<N>: {ev.type!r}")
    operation = _CE_OPERATIONS.get(parts[2])
    if operation is None:
        log.warning("webhook: ignoring CloudEvent %s with unknown operation in type %r", ev.id, ev.type)
        return None
    deleted_id = (ev.data or {}).get("deletedid")
    return _notification(
        where,
        realm_id=ev.intuitaccountid,
        entity=_canonical_entity(parts[1]),
        entity_id=ev.intuitentityid,
        operation=operation,
        occurred_at=_parse_time(ev.time, f"{where}.time"),
        dedupe_key=f"ce:{ev.id}",
        deleted_id=str(deleted_id) if deleted_id is not None else None,
    )


def _from_cloudevents(docs: list[Any]) -> ParsedWebhook:
    out = ParsedWebhook()
    for i, raw in enumerate(docs):
        where = f"CloudEvents[{i}]"
        try:
            n = _cloudevent(raw, where)
        except WebhookPayloadError as exc:
            realm = raw.get("intuitaccountid") if isinstance(raw, dict) else None
            out.rejected.append(RejectedEntity(where, str(exc), raw, _realm_of(realm)))
            continue
        if n is not None:
            out.notifications.append(n)
    return out


def _notification(where: str, **fields: Any) -> Notification:
    try:
        return Notification(**fields)
    except ValidationError as exc:
        raise WebhookPayloadError(f"{where}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else err["msg"]


def parse_webhook(body: bytes) -> ParsedWebhook:
    """Parse a raw webhook body of either format, entity by entity: the usable notifications and the
    entities that are not (each with a reason). Raises ``WebhookPayloadError`` only when the body as a
    whole is not a webhook payload (not JSON, neither format)."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookPayloadError(f"body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise WebhookPayloadError("body is JSON nested too deeply to decode") from None
    if isinstance(doc, dict) and "eventNotifications" in doc:
        return _from_legacy(doc)
    if isinstance(doc, list):
        return _from_cloudevents(doc)
    raise WebhookPayloadError('body is neither a legacy {"eventNotifications": [...]} object nor a CloudEvents array')


def parse_webhook_body(body: bytes) -> list[Notification]:
    """Like ``parse_webhook`` but strict: any unusable entity raises ``WebhookPayloadError`` with its reason."""
    parsed = parse_webhook(body)
    if parsed.rejected:
        raise WebhookPayloadError(parsed.rejected[0].reason)
    return parsed.notifications
