"""QBO's business rules, one module per family of entities."""
