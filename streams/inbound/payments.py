"""Notification -> fetch the payment from QBO -> map it to Bottleneck rows (no Faust, no sleeping).

``process_notification`` decides; the caller acts on the ``Outcome``: publish the change, park the
notification for a later retry, or dead-letter it. Waiting is the caller's business (parking), so a
payment whose invoice is not yet in the id map never blocks the payments behind it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from mappers.payments import (
    DOCUMENT_TXN_TYPE,
    PAYMENT_ENTITIES,
    AppliedAmount,
    PaymentChange,
    PaymentEntity,
    PaymentMappingError,
    deleted_payment,
    read_payment,
    to_payment_change,
)
from sinks.qbo.api import QboApi
from sinks.qbo.errors import QboError, QboNotFound
from streams.engine.classify import classify
from streams.inbound.directory import Directory
from streams.inbound.notifications import Notification

log = logging.getLogger(__name__)

Action = Literal["publish", "retry", "dead_letter", "ignore"]


@dataclass(frozen=True)
class Outcome:
    """What to do with a notification. ``publish`` may come with a ``reason`` too: on the last attempt the
    documents that are known are written and the unknown ones (``unresolved``) are dead-lettered."""

    action: Action
    change: PaymentChange | None = None
    reason: str = ""
    unresolved: list[AppliedAmount] = field(default_factory=list)
    retry_after_s: float | None = None  # QBO asked us to wait this long (429)
    failure_type: str = "terminal"  # for dead letters: terminal | retries_exhausted | mapping_error
    fault: dict[str, Any] | None = None  # QboError.to_dict() when QBO refused


async def process_notification(api: QboApi, directory: Directory, n: Notification, *, final_attempt: bool) -> Outcome:
    if n.entity not in PAYMENT_ENTITIES:
        return Outcome("ignore", reason=f"{n.entity} notifications are not handled inbound")
    entity: PaymentEntity = n.entity
    company_id = await directory.company_for_realm(n.realm_id)
    if company_id is None:
        return Outcome("ignore", reason=f"no Bottleneck company is connected to realm {n.realm_id}")

    if n.operation == "Delete":
        state = deleted_payment(entity, n.entity_id, when=n.occurred_at)
    else:
        try:
            obj = await api.read(n.realm_id, entity, n.entity_id)
        except QboNotFound:
            # Gone by the time we asked (deleted after this notification): that is its current state.
            state = deleted_payment(entity, n.entity_id, when=n.occurred_at)
        except RecursionError:
            # QBO's answer nests deeper than JSON decoding can go: bad input, not a bug to retry forever.
            return Outcome(
                "dead_letter", reason=f"{entity} {n.entity_id}: QBO's answer is nested too deeply to decode", failure_type="decode_error"
            )
        except QboError as exc:
            reason = f"reading {entity} {n.entity_id} from QBO failed: {exc}"
            if classify(exc).remedy.retryable:
                if not final_attempt:
                    return Outcome("retry", reason=reason, retry_after_s=getattr(exc, "retry_after_s", None))
                return Outcome("dead_letter", reason=reason, failure_type="retries_exhausted", fault=exc.to_dict())
            return Outcome("dead_letter", reason=reason, fault=exc.to_dict())
        else:
            try:
                state = read_payment(entity, obj, operation=n.operation)
            except PaymentMappingError as exc:
                return Outcome("dead_letter", reason=f"{entity} {n.entity_id} cannot be mapped: {exc}", failure_type="mapping_error")
            except (RecursionError, ArithmeticError) as exc:  # decimal errors are ArithmeticErrors
                reason = f"{entity} {n.entity_id} cannot be mapped: {type(exc).__name__}: {exc}"
                return Outcome("dead_letter", reason=reason, failure_type="mapping_error")

    doc_entity = DOCUMENT_TXN_TYPE[entity]
    local_ids = await directory.local_documents(n.realm_id, doc_entity, [a.qbo_txn_id for a in state.applied])
    change, unresolved = to_payment_change(state, realm_id=n.realm_id, company_id=company_id, local_ids=local_ids)
    if not unresolved:
        return Outcome("publish", change=change)
    missing = ", ".join(f"{doc_entity} {a.qbo_txn_id} ({a.amount})" for a in unresolved)
    reason = f"{entity} {n.entity_id} in realm {n.realm_id} pays {missing}, not in the id map"
    if not final_attempt:
        return Outcome("retry", reason=reason, unresolved=unresolved)
    # Last attempt: what is known is written (a payment may also pay invoices made directly in QBO);
    # the rest goes to the dead-letter topic with this reason.
    return Outcome("publish", change=change, reason=reason, unresolved=unresolved)
