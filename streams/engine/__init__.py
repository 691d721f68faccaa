"""The outbound sync engine: Bottleneck documents -> QBO, idempotent, dependency-ordered. No Faust here."""
