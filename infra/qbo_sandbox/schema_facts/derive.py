"""Derive from Intuit's v3 XSD the fields each entity the product uses may carry, with their nesting.

Usage: python -m infra.qbo_sandbox.schema_facts.derive XSD_DIR [--commit SHA]
XSD_DIR holds Finance.xsd, IntuitBaseTypes.xsd and IntuitNamesTypes.xsd from the ``ipp-v3-java-data``
module of github.com/intuit/QuickBooks-V3-Java-SDK (``src/main/xsd``). Writes ``fields.json`` beside this
file: facts (field names, element/attribute, repeated or not, type names, enum values), not the XSD.

JSON mapping (how QBO's JSON renders the XML schema): elements and attributes are both keys; an element
with ``maxOccurs`` > 1 is an array; a type with simple content (``ReferenceType``) is an object whose
text is ``value``.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

XS = "{http://www.w3.org/2001/XMLSchema}"
FILES = ("IntuitBaseTypes.xsd", "IntuitNamesTypes.xsd", "Finance.xsd")
ENTITIES = (
    "Customer",
    "Vendor",
    "Item",
    "Account",
    "Estimate",
    "Invoice",
    "PurchaseOrder",
    "Bill",
    "InventoryAdjustment",
    "Payment",
    "BillPayment",
    "TaxCode",
    "TaxRate",
)
OUT = Path(__file__).resolve().parent / "fields.json"

Field = dict[str, Any]


class Schema:
    def __init__(self, roots: list[ET.Element]) -> None:
        self.complex: dict[str, ET.Element] = {}
        self.simple: dict[str, ET.Element] = {}
        self.groups: dict[str, ET.Element] = {}
        self.elements: dict[str, str] = {}  # global element name -> type
        for root in roots:
            for node in root:
                name = node.get("name")
                if name is None:
                    continue
                if node.tag == XS + "complexType":
                    self.complex[name] = node
                elif node.tag == XS + "simpleType":
                    self.simple[name] = node
                elif node.tag == XS + "group":
                    self.groups[name] = node
                elif node.tag == XS + "element":
                    self.elements[name] = node.get("type") or name
        self.types: dict[str, dict[str, Field]] = {}
        self.enums: dict[str, list[str]] = {}

    def fields_of(self, type_name: str) -> dict[str, Field]:
        if type_name in self.types:
            return self.types[type_name]
        self.types[type_name] = {}  # recursion guard
        self.types[type_name] = self._complex(self.complex[type_name], type_name)
        return self.types[type_name]

    def _complex(self, node: ET.Element, path: str) -> dict[str, Field]:
        out: dict[str, Field] = {}
        for child in node:
            tag = child.tag.replace(XS, "")
            if tag in ("sequence", "choice", "all"):
                out.update(self._particles(child, path))
            elif tag == "attribute":
                out[child.get("name", "")] = self._leaf(child.get("type", "xs:string"), attribute=True)
            elif tag == "group":
                out.update(self._particles(self.groups[child.get("ref", "")], path))
            elif tag in ("complexContent", "simpleContent"):
                for ext in child:
                    etag = ext.tag.replace(XS, "")
                    if etag not in ("extension", "restriction"):
                        continue
                    base = ext.get("base", "")
                    if base in self.complex:
                        out.update(self.fields_of(base))
                    elif tag == "simpleContent":
                        out["value"] = self._leaf(base)
                    out.update(self._complex(ext, path))
        return out

    def _particles(self, node: ET.Element, path: str) -> dict[str, Field]:
        out: dict[str, Field] = {}
        many_block = node.get("maxOccurs") not in (None, "0", "1")
        for child in node:
            tag = child.tag.replace(XS, "")
            if tag in ("sequence", "choice", "all"):
                out.update(self._particles(child, path))
            elif tag == "group":
                out.update(self._particles(self.groups[child.get("ref", "")], path))
            elif tag == "element":
                name = child.get("name") or child.get("ref") or ""
                many = many_block or child.get("maxOccurs") not in (None, "0", "1")
                type_name = child.get("type") or (self.elements.get(name) if child.get("ref") else None)
                inline = child.find(XS + "complexType")
                if inline is not None:
                    anon = f"{path}.{name}"
                    self.types[anon] = self._complex(inline, anon)
                    out[name] = {"kind": "element", "type": anon, "many": many, "complex": True}
                elif type_name is None:
                    out[name] = self._leaf(self._inline_simple(child, f"{path}.{name}"))
                    out[name]["many"] = many
                else:
                    out[name] = self._element(type_name, many)
        return out

    def _inline_simple(self, node: ET.Element, anon: str) -> str:
        simple = node.find(XS + "simpleType")
        if simple is None:
            return "xs:string"
        self.simple[anon] = simple
        return anon

    def _element(self, type_name: str, many: bool) -> Field:
        if type_name in self.complex:
            self.fields_of(type_name)
            return {"kind": "element", "type": type_name, "many": many, "complex": True}
        leaf = self._leaf(type_name)
        leaf["many"] = many
        return leaf

    def _leaf(self, type_name: str, *, attribute: bool = False) -> Field:
        base = type_name
        if type_name in self.simple:
            values = [e.get("value", "") for e in self.simple[type_name].iter(XS + "enumeration")]
            if values:
                self.enums[type_name] = values
            restriction = self.simple[type_name].find(XS + "restriction")
            if restriction is not None and not values:
                base = restriction.get("base", type_name)
        return {"kind": "attribute" if attribute else "element", "type": type_name, "base": base, "many": False, "complex": False}


def derive(xsd_dir: Path, commit: str | None) -> dict[str, Any]:
    roots = [ET.parse(xsd_dir / name).getroot() for name in FILES]
    schema = Schema(roots)
    entities = {}
    for entity in ENTITIES:
        type_name = schema.elements.get(entity, entity)
        schema.fields_of(type_name)
        entities[entity] = type_name
    return {
        "source": {
            "repository": "intuit/QuickBooks-V3-Java-SDK",
            "path": "ipp-v3-java-data/src/main/xsd",
            "files": list(FILES),
            "commit": commit,
        },
        "entities": entities,
        "types": {k: schema.types[k] for k in sorted(schema.types)},
        "enums": {k: schema.enums[k] for k in sorted(schema.enums)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("xsd_dir", type=Path)
    ap.add_argument("--commit", help="the SDK commit the XSD files come from (recorded in the facts)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    facts = derive(args.xsd_dir, args.commit)
    args.out.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(facts['entities'])} entities, {len(facts['types'])} types, {len(facts['enums'])} enums", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
