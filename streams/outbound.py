"""Outbound agents: Debezium row topics -> documents -> sync engine -> QBO (owned by the lead)."""
