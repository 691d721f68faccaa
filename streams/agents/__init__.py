"""Faust agents: the only modules that move records between topics (thin; logic lives below them)."""
