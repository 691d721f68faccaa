"""classify(exception): one remedy per failure class, for the outbound engine and the inbound flow alike."""

from __future__ import annotations

import psycopg
import pytest
from pydantic import BaseModel, ValidationError

from mappers.common import MappingError
from sinks.qbo.errors import (
    QboAuthError,
    QboConfigError,
    QboDuplicateName,
    QboError,
    QboFault,
    QboNotFound,
    QboRateLimited,
    QboStaleSyncToken,
    QboTransientError,
    QboValidationError,
)
from sinks.qbo.writer import StaleRestart, SyncConflict
from streams.engine.classify import Remedy, classify


def _validation_error() -> ValidationError:
    class Row(BaseModel):
        id: int

    try:
        Row.model_validate({"id": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize(
    ("exc", "remedy"),
    [
        (StaleRestart("moved"), Remedy.RESTART),
        (QboStaleSyncToken(message="5010"), Remedy.RESTART),
        (SyncConflict("deleted in QuickBooks"), Remedy.CONFLICT),
        (QboRateLimited(message="429", retry_after_s=7.0), Remedy.RATE_LIMITED),
        (QboTransientError(message="503"), Remedy.RETRY),
        (QboAuthError(message="401"), Remedy.RETRY),
        (QboConfigError(message="no realm"), Remedy.CONFIG),
        (QboValidationError(message="2010"), Remedy.DEAD),
        (QboDuplicateName(message="6240"), Remedy.DEAD),
        (QboNotFound(message="610"), Remedy.DEAD),
        (QboError(message="?"), Remedy.DEAD),
        (MappingError("invoice", 3, "no lines"), Remedy.DEAD),
        (psycopg.OperationalError("server closed the connection"), Remedy.RETRY),
        (_validation_error(), Remedy.DEAD),
        (KeyError("bug"), Remedy.DEAD),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_failure_class_has_one_remedy(exc: BaseException, remedy: Remedy) -> None:
    assert classify(exc).remedy is remedy


def test_reasons_and_details() -> None:
    assert classify(QboRateLimited(message="429", retry_after_s=7.0)).retry_after_s == 7.0
    refused = classify(QboValidationError(message="bad", faults=[QboFault("6000", "Business Validation Error", "Amount is wrong")]))
    assert refused.reason == "QuickBooks rejected it: 6000 Business Validation Error: Amount is wrong"
    assert classify(MappingError("invoice", 3, "no lines")).reason == "invoice 3: no lines"
    assert classify(psycopg.OperationalError("gone")).reason == "database unavailable: gone"
    bug = classify(KeyError("x"))
    assert bug.unexpected and bug.reason == "internal error: KeyError: 'x'"
    assert not classify(QboTransientError(message="503")).unexpected


def test_what_is_worth_retrying() -> None:
    # the inbound flow retries a notification exactly when the remedy is retryable
    assert {r for r in Remedy if r.retryable} == {Remedy.RETRY, Remedy.RATE_LIMITED, Remedy.CONFIG}
