"""Deterministic QBO ``requestid`` values: the same intended write always carries the same id.

QBO answers a repeated requestid with the original response instead of writing again, so a crash
between "QBO wrote it" and "we recorded it" cannot produce a duplicate. Max 50 characters per realm
(36 inside a batch): we use 36 so the same id is valid in both.
"""

from __future__ import annotations

import hashlib

MAX_LEN = 36


def request_id(*parts: object) -> str:
    """``bq-`` + 33 hex chars of sha256 over the parts (realm, entity, local id, operation, payload hash...)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return ("bq-" + digest)[:MAX_LEN]
