"""Intuit webhook signatures: base64(HMAC-SHA256(key=verifier token, msg=raw body)).

Shared by the webhook receiver (verify) and the local QBO sandbox (sign), so both
sides agree byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign_intuit_payload", "verify_intuit_signature"]


def sign_intuit_payload(body: bytes, token: str) -> str:
    """Return the `intuit-signature` header value for `body` signed with `token`."""
    digest = hmac.new(token.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_intuit_signature(body: bytes, signature: str, verifier_token: str) -> bool:
    """True when `signature` is the valid signature of the raw `body` (constant-time compare).

    The raw bytes must be used: re-serialising parsed JSON changes the bytes and breaks the HMAC.
    A missing/blank signature or token is simply invalid (never an exception).
    """
    if not signature or not verifier_token:
        return False
    expected = sign_intuit_payload(body, verifier_token)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii", "replace"))
