"""Facts derived from Intuit's v3 XSD (``derive.py`` -> ``fields.json``) and a checker for QBO JSON objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

FIELDS = Path(__file__).resolve().parent / "fields.json"
_NUMERIC = frozenset({"xs:decimal", "xs:int", "xs:integer", "xs:long", "xs:positiveInteger", "xs:nonNegativeInteger", "xs:double"})


@cache
def facts() -> Mapping[str, Any]:
    return json.loads(FIELDS.read_text(encoding="utf-8"))


def entities() -> Mapping[str, str]:
    return facts()["entities"]


def fields_of(entity_or_type: str) -> Mapping[str, Any]:
    """The fields (name -> spec) of an entity or of a schema type such as ``Line``."""
    type_name = entities().get(entity_or_type, entity_or_type)
    return facts()["types"][type_name]


def unknown_keys(entity: str, obj: Any) -> list[str]:
    """Paths of keys in ``obj`` that Intuit's schema does not have (nesting checked too)."""
    return [v.split(":", 1)[0] for v in violations(entity, obj) if v.endswith(f"not a field of {v.rsplit(' ', 1)[-1]}")]


def violations(entity: str, obj: Any) -> list[str]:
    """Where ``obj`` (a QBO JSON object of ``entity``) leaves Intuit's schema: unknown keys, wrong nesting
    (object vs array vs scalar), scalars of the wrong JSON kind, values outside an enumeration."""
    out: list[str] = []
    _walk(entities()[entity], obj, entity, out)
    return out


def _walk(type_name: str, obj: Any, path: str, out: list[str]) -> None:
    f = facts()
    if not isinstance(obj, Mapping):
        out.append(f"{path}: expected an object ({type_name}), got {type(obj).__name__}")
        return
    fields = f["types"][type_name]
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is None:
            out.append(f"{path}.{key}: not a field of {type_name}")
            continue
        if spec["many"]:
            if not isinstance(value, list):
                out.append(f"{path}.{key}: expected an array, got {type(value).__name__}")
                continue
            for i, v in enumerate(value):
                _one(spec, v, f"{path}.{key}[{i}]", out)
        else:
            _one(spec, value, f"{path}.{key}", out)


def _one(spec: Mapping[str, Any], value: Any, path: str, out: list[str]) -> None:
    if spec["complex"]:
        _walk(spec["type"], value, path, out)
        return
    if isinstance(value, (Mapping, list)):
        out.append(f"{path}: expected a scalar ({spec['type']}), got {type(value).__name__}")
        return
    if value is None:
        return
    base = spec.get("base", spec["type"])
    if base == "xs:boolean" and not isinstance(value, bool):
        out.append(f"{path}: expected a boolean, got {value!r}")
    elif base in _NUMERIC and (isinstance(value, bool) or not isinstance(value, (int, Decimal, float))):
        out.append(f"{path}: expected a number, got {value!r}")
    elif base not in _NUMERIC and base != "xs:boolean" and not isinstance(value, (str, date)):
        out.append(f"{path}: expected a string ({spec['type']}), got {value!r}")
    enum = facts()["enums"].get(spec["type"])
    if enum is not None and isinstance(value, str) and value not in enum:
        out.append(f"{path}: {value!r} is not one of {spec['type']}")


def response_violations(body: Any) -> list[str]:
    """Check every entity object in a QBO response envelope (entity, query, batch and CDC answers)."""
    out: list[str] = []
    _envelope(body, "", out)
    return out


def _envelope(body: Any, path: str, out: list[str]) -> None:
    if isinstance(body, list):
        for i, v in enumerate(body):
            _envelope(v, f"{path}[{i}]", out)
        return
    if not isinstance(body, Mapping):
        return
    known = entities()
    for key, value in body.items():
        where = f"{path}.{key}" if path else key
        if key in known:
            for i, obj in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(obj, Mapping) and obj.get("status") == "Deleted" and set(obj) <= {"domain", "status", "Id"}:
                    continue  # a delete's answer / CDC tombstone: just the id
                out.extend(
                    violations(key, obj)
                    if not isinstance(value, list)
                    else [v.replace(key, f"{where}[{i}]", 1) for v in violations(key, obj)]
                )
        elif key in ("QueryResponse", "BatchItemResponse", "CDCResponse"):
            _envelope(value, where, out)
