"""QBO query language helpers: the one place that quotes a value into a ``select ... where`` statement."""

from __future__ import annotations


def quote(value: str) -> str:
    """``value`` as a QBO query string literal: single quotes, with backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where_equals(entity: str, field: str, value: str) -> str:
    """``select * from <entity> where <field> = '<value>'`` with ``value`` quoted."""
    return f"select * from {entity} where {field} = {quote(value)}"
