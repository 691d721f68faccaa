"""The typed QBO error tree (shared contract between the QBO client and the sync engine).

Every failure the client raises is a ``QboError`` subclass. The class says what the caller should do;
``failure_type`` says how it is reported. The client builds them from one table keyed on
(HTTP status, QBO fault code) in ``sinks/qbo/error_table.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FailureType(StrEnum):
    TRANSIENT = "transient"  # retry with backoff (5xx, timeouts, connection errors)
    RATE_LIMITED = "rate_limited"  # 429 / 3001: wait, do not count as a failure of the record
    AUTH = "auth"  # 401: refresh once, then config
    CONFIG = "config"  # bad credentials, missing entitlement, revoked token: a human must act
    CONFLICT = "conflict"  # 5010 stale SyncToken, or a clash with QBO-side edits
    TERMINAL = "terminal"  # the record itself is bad: dead-letter it with a readable reason


@dataclass(frozen=True)
class QboFault:
    """One entry of QBO's ``Fault.Error[]``."""

    code: str
    message: str
    detail: str = ""
    element: str = ""


@dataclass
class QboError(Exception):
    """Base of every error raised by the QBO client."""

    message: str
    status: int | None = None
    faults: list[QboFault] = field(default_factory=list)
    intuit_tid: str | None = None
    request: str | None = None  # "POST /v3/company/<realm>/invoice" (never query strings with secrets)
    failure_type: FailureType = FailureType.TERMINAL

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        codes = ",".join(f.code for f in self.faults)
        return f"{self.message} (status={self.status}, codes={codes or '-'}, request={self.request or '-'})"

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.faults]

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "status": self.status,
            "failure_type": self.failure_type.value,
            "faults": [f.__dict__ for f in self.faults],
            "intuit_tid": self.intuit_tid,
            "request": self.request,
        }


@dataclass
class QboTransientError(QboError):
    failure_type: FailureType = FailureType.TRANSIENT


@dataclass
class QboRateLimited(QboTransientError):
    """429 / fault 3001. ``retry_after_s`` is when the realm may be called again (Intuit says 60 s)."""

    retry_after_s: float = 60.0
    failure_type: FailureType = FailureType.RATE_LIMITED


@dataclass
class QboAuthError(QboError):
    failure_type: FailureType = FailureType.AUTH


@dataclass
class QboConfigError(QboError):
    failure_type: FailureType = FailureType.CONFIG


@dataclass
class QboStaleSyncToken(QboError):
    """5010: somebody changed the object since we read it."""

    failure_type: FailureType = FailureType.CONFLICT


@dataclass
class QboValidationError(QboError):
    """A 4xx the record caused (2010, 2020, 2050, 6070, 6240, 6140, 610, 2500, ...)."""

    failure_type: FailureType = FailureType.TERMINAL


@dataclass
class QboNotFound(QboValidationError):
    """610 Object Not Found, or HTTP 404."""


@dataclass
class QboDuplicateName(QboValidationError):
    """6240 Duplicate Name Exists (Customer/Vendor DisplayName, Item Name)."""


@dataclass
class QboDuplicateDocNumber(QboValidationError):
    """6140 Duplicate Document Number."""


@dataclass
class QboLocalValidationError(QboValidationError):
    """Raised before sending: the payload breaks a QBO rule we can check locally (length, required)."""
