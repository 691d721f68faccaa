"""Inbound agents: QBO webhooks -> qbo.webhooks -> payments -> Bottleneck (owned by the inbound work)."""
