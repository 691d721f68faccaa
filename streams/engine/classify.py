"""One answer to "this failed: what now?" for every exception a sync can meet.

``classify(exc)`` is pure: it names the remedy (``Remedy``) and a sentence for a person. The outbound
engine acts on it (park for a retry, park a conflict, dead-letter, restart once after a stale SyncToken);
the inbound flow uses it to tell a notification worth retrying from one to dead-letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import psycopg
from pydantic import ValidationError

from mappers.common import MappingError
from sinks.qbo.errors import QboAuthError, QboConfigError, QboError, QboRateLimited, QboStaleSyncToken, QboTransientError
from sinks.qbo.writer import StaleRestart, SyncConflict


class Remedy(StrEnum):
    RESTART = "restart"  # QBO's object moved under us: re-read Bottleneck and QBO, try once more
    RETRY = "retry"  # transient (QBO 5xx, auth hiccup, database unreachable): retry with backoff, bounded
    RATE_LIMITED = "rate_limited"  # the realm is throttled: retry when QBO says
    CONFIG = "config"  # realm-wide, a person must act: keep retrying, ever more slowly
    CONFLICT = "conflict"  # QBO-side edits clash with ours: park with a readable reason
    DEAD = "dead"  # the record itself is bad (or a bug): dead-letter it

    @property
    def retryable(self) -> bool:
        """Trying the same thing later may succeed."""
        return self in (Remedy.RETRY, Remedy.RATE_LIMITED, Remedy.CONFIG)


@dataclass(frozen=True)
class Failure:
    remedy: Remedy
    reason: str  # for logs, parking and the dead-letter topic
    error: QboError | None = None  # what QBO said, when it said no
    retry_after_s: float | None = None  # RATE_LIMITED: when the realm may be called again
    unexpected: bool = False  # a bug, not a data or QBO problem: log the traceback


def classify(exc: BaseException) -> Failure:
    # order matters: QboRateLimited is a QboTransientError, QboStaleSyncToken a QboError
    if isinstance(exc, StaleRestart):
        return Failure(Remedy.RESTART, str(exc))
    if isinstance(exc, QboStaleSyncToken):  # from a void or delete
        return Failure(Remedy.RESTART, f"QuickBooks object changed concurrently: {exc.message}", exc)
    if isinstance(exc, SyncConflict):
        return Failure(Remedy.CONFLICT, exc.reason, exc.error)
    if isinstance(exc, QboRateLimited):
        return Failure(Remedy.RATE_LIMITED, "QuickBooks rate limit", exc, retry_after_s=exc.retry_after_s)
    if isinstance(exc, (QboTransientError, QboAuthError)):
        return Failure(Remedy.RETRY, f"QuickBooks is failing: {exc.message}", exc)
    if isinstance(exc, QboConfigError):
        return Failure(Remedy.CONFIG, f"QuickBooks configuration problem (a person must act): {exc.message}", exc)
    if isinstance(exc, QboError):
        return Failure(Remedy.DEAD, human(exc), exc)
    if isinstance(exc, MappingError):
        return Failure(Remedy.DEAD, str(exc))
    if isinstance(exc, psycopg.OperationalError):
        # Bottleneck's database is unreachable: nothing is wrong with the document
        return Failure(Remedy.RETRY, f"database unavailable: {exc}")
    if isinstance(exc, ValidationError):
        return Failure(Remedy.DEAD, f"the Bottleneck row does not fit the expected shape: {exc}")
    return Failure(Remedy.DEAD, f"internal error: {type(exc).__name__}: {exc}", unexpected=True)


def human(exc: QboError) -> str:
    """QBO's refusal as one sentence (fault code, message and detail of each fault)."""
    details = "; ".join(f"{f.code} {f.message}{(': ' + f.detail) if f.detail else ''}" for f in exc.faults)
    return f"QuickBooks rejected it: {details or exc.message}"
