"""THE table: (HTTP status, QBO fault code) -> what to do, how to report it, and a human message.

Modelled on airbyte-cdk's DEFAULT_ERROR_MAPPING: classification is data, not scattered ``if``s.
Lookup order for a response: the first fault whose code has a row (code rows may also pin a status),
then the HTTP status row, then the status class (5xx transient, other 4xx terminal).
OAuth token-endpoint errors use pseudo-codes ``oauth:<error>`` (e.g. ``oauth:invalid_grant``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sinks.qbo.errors import (
    FailureType,
    QboAuthError,
    QboConfigError,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboError,
    QboFault,
    QboNotFound,
    QboRateLimited,
    QboStaleSyncToken,
    QboTransientError,
    QboValidationError,
)

__all__ = ["ERROR_TABLE", "ErrorResolution", "ResponseAction", "build_error", "resolve"]


class ResponseAction(StrEnum):
    RETRY = "retry"  # transient: retry with backoff (writes only with a requestid)
    RATE_LIMITED = "rate_limited"  # pause the realm until Retry-After / default, then retry
    REFRESH_TOKEN_THEN_RETRY = "refresh_token_then_retry"  # handled by the auth flow once
    CONFLICT = "conflict"  # re-read and re-apply (the sync engine's job)
    FAIL = "fail"  # terminal for this record: dead-letter with the message
    CONFIG = "config"  # a human must fix credentials / subscription


@dataclass(frozen=True)
class ErrorResolution:
    action: ResponseAction
    error_class: type[QboError]
    failure_type: FailureType
    message: str


def _r(action: ResponseAction, cls: type[QboError], ft: FailureType, message: str) -> ErrorResolution:
    return ErrorResolution(action, cls, ft, message)


_RETRY, _RATE, _REFRESH = ResponseAction.RETRY, ResponseAction.RATE_LIMITED, ResponseAction.REFRESH_TOKEN_THEN_RETRY
_CONFLICT, _FAIL, _CONFIG = ResponseAction.CONFLICT, ResponseAction.FAIL, ResponseAction.CONFIG
_T, _RL, _AU = FailureType.TRANSIENT, FailureType.RATE_LIMITED, FailureType.AUTH
_CF, _CO, _TE = FailureType.CONFIG, FailureType.CONFLICT, FailureType.TERMINAL

# Key: (HTTP status or None for any, fault code or None for any). Codes are compared without leading zeros.
ERROR_TABLE: dict[tuple[int | None, str | None], ErrorResolution] = {
    # --- throttling -------------------------------------------------------------------------------------
    (429, None): _r(_RATE, QboRateLimited, _RL, "QBO rate limit reached for this realm; waiting before retrying"),
    (None, "3001"): _r(_RATE, QboRateLimited, _RL, "QBO throttled the request (ThrottleExceeded); waiting before retrying"),
    # --- authentication / authorization -------------------------------------------------------------------
    (401, None): _r(_REFRESH, QboAuthError, _AU, "QBO rejected the access token"),
    (None, "3200"): _r(_REFRESH, QboAuthError, _AU, "QBO access token expired or malformed"),
    (None, "100"): _r(_REFRESH, QboAuthError, _AU, "QBO general authentication error"),
    (None, "120"): _r(_CONFIG, QboConfigError, _CF, "QBO authorization failure: the connected user lacks access to this company"),
    (403, None): _r(_CONFIG, QboConfigError, _CF, "QBO refused access (403): check the app's scopes and the company subscription"),
    (None, "3100"): _r(_CONFIG, QboConfigError, _CF, "QBO authorization failed (3100): the app is not allowed to call this API"),
    (None, "5020"): _r(_CONFIG, QboConfigError, _CF, "The QBO company's subscription does not include this feature"),
    (None, "6190"): _r(_CONFIG, QboConfigError, _CF, "The QBO company's subscription has ended (invalid company status)"),
    (None, "oauth:invalid_grant"): _r(
        _CONFIG, QboConfigError, _CF, "The QBO refresh token is expired, revoked or superseded: reconnect the company"
    ),
    (None, "oauth:invalid_client"): _r(_CONFIG, QboConfigError, _CF, "QBO rejected the client id/secret"),
    (None, "oauth:unauthorized_client"): _r(_CONFIG, QboConfigError, _CF, "The QBO app is not authorized for this grant"),
    (None, "oauth:invalid_request"): _r(_CONFIG, QboConfigError, _CF, "The QBO token request was malformed"),
    # --- concurrency ------------------------------------------------------------------------------------
    (None, "5010"): _r(_CONFLICT, QboStaleSyncToken, _CO, "Stale SyncToken: the object changed in QBO since it was read"),
    # --- the record is bad ------------------------------------------------------------------------------
    (404, None): _r(_FAIL, QboNotFound, _TE, "QBO object or resource not found"),
    (None, "610"): _r(_FAIL, QboNotFound, _TE, "QBO object not found (missing, deleted or inactive)"),
    (None, "2500"): _r(_FAIL, QboValidationError, _TE, "Invalid reference: a referenced QBO object is missing or inactive"),
    (None, "620"): _r(_FAIL, QboValidationError, _TE, "The linked transaction cannot be linked"),
    (None, "630"): _r(_FAIL, QboValidationError, _TE, "Duplicate object violates a QBO unique constraint"),
    (None, "6240"): _r(_FAIL, QboDuplicateName, _TE, "Duplicate name: another customer, vendor, employee or item already uses it"),
    (None, "6140"): _r(_FAIL, QboDuplicateDocNumber, _TE, "Duplicate document number"),
    (None, "2010"): _r(_FAIL, QboValidationError, _TE, "The request has a property QBO does not support"),
    (None, "2020"): _r(_FAIL, QboValidationError, _TE, "A required field is missing"),
    (None, "2050"): _r(_FAIL, QboValidationError, _TE, "A field is longer than QBO allows"),
    (None, "2080"): _r(_FAIL, QboValidationError, _TE, "A number has an illegal format"),
    (None, "2170"): _r(_FAIL, QboValidationError, _TE, "A field has an invalid enumeration value"),
    (None, "4001"): _r(_FAIL, QboValidationError, _TE, "Invalid query"),
    (None, "6000"): _r(_FAIL, QboValidationError, _TE, "QBO business validation error"),
    (None, "6070"): _r(_FAIL, QboValidationError, _TE, "Line amount is not quantity times unit price"),
    (None, "6080"): _r(_FAIL, QboValidationError, _TE, "No name provided"),
    (None, "6540"): _r(_FAIL, QboValidationError, _TE, "A deposited transaction cannot be changed"),
    (None, "800"): _r(_FAIL, QboValidationError, _TE, "The object cannot be deleted: other objects depend on it"),
    (None, "600"): _r(_FAIL, QboValidationError, _TE, "The requestid was already used for a different request"),
    (None, "1040"): _r(_FAIL, QboValidationError, _TE, "Batch has more operations than QBO allows"),
    (None, "500"): _r(_FAIL, QboValidationError, _TE, "Unsupported operation"),
    # --- QBO itself failed ------------------------------------------------------------------------------
    (None, "10000"): _r(_RETRY, QboTransientError, _T, "QBO system failure"),
    (500, None): _r(_RETRY, QboTransientError, _T, "QBO internal error"),
    (502, None): _r(_RETRY, QboTransientError, _T, "QBO gateway error"),
    (503, None): _r(_RETRY, QboTransientError, _T, "QBO service unavailable"),
    (504, None): _r(_RETRY, QboTransientError, _T, "QBO gateway timeout"),
    (408, None): _r(_RETRY, QboTransientError, _T, "QBO request timeout"),
}

_DEFAULT_5XX = _r(_RETRY, QboTransientError, _T, "QBO server error")
_DEFAULT_4XX = _r(_FAIL, QboValidationError, _TE, "QBO rejected the request")
# A Fault in a 2xx body: treat like a 400 the record caused.
_DEFAULT_OTHER = _DEFAULT_4XX


def _norm(code: str) -> str:
    if code.startswith("oauth:"):
        return code
    stripped = code.strip().lstrip("0")
    return stripped or "0"


def resolve(status: int | None, codes: Sequence[str] = ()) -> ErrorResolution:
    """Classify a failed response. First matching fault code wins, then the status, then its class."""
    for code in codes:
        c = _norm(code)
        row = ERROR_TABLE.get((status, c)) or ERROR_TABLE.get((None, c))
        if row is not None:
            return row
    if status is not None and (row := ERROR_TABLE.get((status, None))) is not None:
        return row
    if status is not None and status >= 500:
        return _DEFAULT_5XX
    if status is not None and 400 <= status < 500:
        return _DEFAULT_4XX
    return _DEFAULT_OTHER


def build_error(
    status: int | None,
    faults: Sequence[QboFault] = (),
    *,
    intuit_tid: str | None = None,
    request: str | None = None,
    retry_after_s: float | None = None,
) -> QboError:
    """Make the typed exception for a failed response; the message is the table's plus QBO's own detail."""
    resolution = resolve(status, [f.code for f in faults])
    message = resolution.message
    details = "; ".join(
        part
        for f in faults
        for part in [" - ".join(x for x in (f.message, f.detail) if x) + (f" [{f.element}]" if f.element else "")]
        if part
    )
    if details:
        message = f"{message}: {details}"
    kwargs: dict[str, object] = {
        "message": message,
        "status": status,
        "faults": list(faults),
        "intuit_tid": intuit_tid,
        "request": request,
        "failure_type": resolution.failure_type,
    }
    if issubclass(resolution.error_class, QboRateLimited) and retry_after_s is not None:
        kwargs["retry_after_s"] = retry_after_s
    return resolution.error_class(**kwargs)  # type: ignore[arg-type]
