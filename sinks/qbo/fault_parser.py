"""Extract QBO faults from any body shape QBO returns.

Shapes seen in real traffic (reference section 5 and 2): ``{"Fault":{"Error":[{"Message","Detail","code",
"element"}]}}``; the lower-case 401/403 envelope ``{"fault":{"error":[{"message","detail","code"}]}}``;
and XML ``<Fault><Error code=".."><Message/><Detail/></Error></Fault>`` (throttling and some 401s,
even for JSON clients). Bodies we cannot parse yield no faults: the HTTP status then decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from sinks.qbo.errors import QboFault
from sinks.qbo.jsonutil import loads

__all__ = ["faults_from_json", "parse_error_body"]


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def faults_from_json(data: Any) -> list[QboFault]:
    """Faults of a decoded JSON object (either case), or [] when it carries none."""
    if not isinstance(data, Mapping):
        return []
    fault = data.get("Fault")
    errors_key, lower = "Error", False
    if not isinstance(fault, Mapping):
        fault = data.get("fault")
        errors_key, lower = "error", True
    if not isinstance(fault, Mapping):
        return []
    errors = fault.get(errors_key) or fault.get("Error" if lower else "error") or []
    if isinstance(errors, Mapping):
        errors = [errors]
    out: list[QboFault] = []
    for err in errors:
        if not isinstance(err, Mapping):
            continue
        message = err.get("Message", err.get("message"))
        detail = err.get("Detail", err.get("detail"))
        code = _s(err.get("code", err.get("Code")))
        # The lower-case envelope sometimes only carries the code inside the message text.
        if not code and (m := re.search(r"errorCode=0*(\d+)", _s(message))):
            code = m.group(1)
        out.append(QboFault(code=code or "0", message=_s(message), detail=_s(detail), element=_s(err.get("element"))))
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _faults_from_xml(text: str) -> list[QboFault]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        # Minimal fallback: a code attribute is enough to classify.
        return [QboFault(code=c.lstrip("0") or "0", message="") for c in re.findall(r'<Error[^>]*code="(\d+)"', text)]
    out: list[QboFault] = []
    for el in root.iter():
        if _local(el.tag) != "Error":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in el}
        out.append(
            QboFault(
                code=(el.get("code") or "0").lstrip("0") or "0",
                message=fields.get("Message", ""),
                detail=fields.get("Detail", ""),
                element=el.get("element") or "",
            )
        )
    return out


def parse_error_body(body: bytes, content_type: str = "") -> list[QboFault]:
    """Faults in a raw response body (JSON or XML, whatever the Content-Type claims)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    if text.startswith("<") or "xml" in content_type.lower():
        return _faults_from_xml(text)
    try:
        return faults_from_json(loads(text))
    except ValueError:
        return []
