"""The webhook receiver's request handling, free of any web framework (the Faust view is a thin shell).

Order of checks matters: size first (never hash an unbounded body), then the signature over the raw
bytes (nothing from an unsigned body is trusted or parsed), then the payload. Only a 200 makes Intuit
move on to the next event, so anything we merely cannot use (an unknown realm) is dropped with a log line
and still answered 200, and one malformed entity among good ones is dead-lettered (``rejected``) while the
good ones go on; only a request that is not Intuit's (bad signature) or not a payload at all gets 4xx.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bottleneck_qbo.settings import Settings
from sinks.qbo.webhook_signature import verify_intuit_signature
from streams.inbound.notifications import Notification, RejectedEntity, WebhookPayloadError, parse_webhook

SIGNATURE_HEADER = "intuit-signature"


@dataclass(frozen=True)
class WebhookResult:
    """What to answer (``status``, ``reason``) and what to publish (``notifications``)."""

    status: int
    notifications: list[Notification] = field(default_factory=list)
    reason: str = "ok"
    dropped: list[Notification] = field(default_factory=list)  # valid, but for a realm we do not serve
    # Entities of an otherwise good POST that cannot be used: the caller dead-letters them and still
    # answers 200, or Intuit would redeliver the whole POST (and hold back the later ones) forever.
    rejected: list[RejectedEntity] = field(default_factory=list)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive; a plain dict from a test or another server may not be.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    *,
    is_known_realm: Callable[[str], bool] | None = None,
) -> WebhookResult:
    """Decide the answer to one webhook POST. ``is_known_realm`` (default: every realm is known) filters
    notifications for realms no Bottleneck company is connected to."""
    if len(body) > settings.webhook_max_body_bytes:
        return WebhookResult(413, reason=f"body of {len(body)} bytes is over the {settings.webhook_max_body_bytes}-byte limit")
    signature = _header(headers, SIGNATURE_HEADER)
    if not signature:
        return WebhookResult(401, reason="missing intuit-signature header")
    if not verify_intuit_signature(body, signature, settings.webhook_verifier_token.get_secret_value()):
        return WebhookResult(401, reason="intuit-signature does not match the body")
    try:
        parsed = parse_webhook(body)
    except WebhookPayloadError as exc:
        return WebhookResult(400, reason=str(exc))
    if is_known_realm is None:
        return WebhookResult(200, notifications=parsed.notifications, rejected=parsed.rejected)
    kept: list[Notification] = []
    dropped: list[Notification] = []
    for n in parsed.notifications:
        (kept if is_known_realm(n.realm_id) else dropped).append(n)
    # Not logged here: the caller may look the realm up and decide again; it logs what it finally drops.
    return WebhookResult(200, notifications=kept, dropped=dropped, rejected=parsed.rejected)
