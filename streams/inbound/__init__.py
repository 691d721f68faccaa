"""Inbound: QBO webhooks and CDC bring invoice and bill payments into Bottleneck.

Pure parts (no Faust): ``notifications`` (payload parsing), ``receiver`` (``handle_webhook``),
``payments`` (fetch + map), ``cdc_poll`` (gap recovery), ``parking`` (retry without sleeping),
``directory`` (realm -> company, QBO id -> Bottleneck id). ``streams.agents.inbound`` wires them to Kafka.
"""

from streams.inbound.notifications import Notification, WebhookPayloadError, parse_webhook_body
from streams.inbound.receiver import WebhookResult, handle_webhook

__all__ = ["Notification", "WebhookPayloadError", "WebhookResult", "handle_webhook", "parse_webhook_body"]
