"""QBO's query language: ``SELECT * | COUNT(*) FROM Entity [WHERE p op v [AND ...]] [ORDERBY p [ASC|DESC], ...]
[STARTPOSITION n] [MAXRESULTS m]``.

Choices: keywords are case-insensitive, entity names case-sensitive (reference §6). String comparison
(=, IN, LIKE) is case-insensitive, as QBO's name uniqueness is. Default MAXRESULTS is 100 (UNCONFIRMED).
Inside quotes a backslash escapes the next character (\\' is a quote). A reference property
(``CustomerRef``) compares on its ``value``. Name lists return active objects only unless the query
filters on ``Active``. An empty result is ``"QueryResponse": {}`` as QBO sends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from infra.qbo_sandbox import faults
from infra.qbo_sandbox.clock import parse_ts
from infra.qbo_sandbox.engine import render
from infra.qbo_sandbox.schema import NAME_LISTS, QUERYABLE
from infra.qbo_sandbox.store import JsonObj, Realm

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS = 1000

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:\\.|[^'\\])*')
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),*])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<num>-?\d+(?:\.\d+)?)
    )""",
    re.VERBOSE,
)

_FILTERABLE = {
    "Id",
    "Active",
    "DisplayName",
    "Name",
    "FullyQualifiedName",
    "GivenName",
    "FamilyName",
    "CompanyName",
    "PrimaryEmailAddr",
    "DocNumber",
    "Sku",
    "Type",
    "TxnDate",
    "DueDate",
    "TotalAmt",
    "Balance",
    "CustomerRef",
    "VendorRef",
    "TxnStatus",
    "POStatus",
    "ParentRef",
    "SubItem",
    "Level",
    "AccountType",
    "AccountSubType",
    "Classification",
    "QtyOnHand",
    "UnitPrice",
    "MetaData.CreateTime",
    "MetaData.LastUpdatedTime",
    "PaymentRefNum",
    "PrivateNote",
}
_TIMES = {"MetaData.CreateTime", "MetaData.LastUpdatedTime"}


@dataclass
class Condition:
    prop: str
    op: str
    values: list[Any]


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (prop, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, text = 0, text.strip().rstrip(";")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise faults.query_error(f"Encountered unexpected input at position {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self, what: str) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise faults.query_error(f"Unexpected end of query, expected {what}")
        self.i += 1
        return tok

    def keyword(self, kw: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() == kw:
            self.i += 1
            return True
        return False

    def expect_keyword(self, kw: str) -> None:
        if not self.keyword(kw):
            tok = self.peek()
            raise faults.query_error(f"Expected {kw.upper()} but found {tok[1] if tok else 'end of query'!r}")

    def punct(self, p: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "punct" and tok[1] == p:
            self.i += 1
            return True
        return False

    def value(self) -> Any:
        kind, text = self.next("a value")
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "num":
            return Decimal(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise faults.query_error(f"Expected a value but found {text!r}")

    def integer(self, name: str) -> int:
        kind, text = self.next(f"a number after {name}")
        if kind != "num" or "." in text:
            raise faults.query_error(f"{name} needs an integer, found {text!r}")
        return int(text)

    def parse(self) -> Query:
        self.expect_keyword("select")
        count = False
        if self.punct("*"):
            pass
        elif self.keyword("count"):
            if not (self.punct("(") and self.punct("*") and self.punct(")")):
                raise faults.query_error("Expected COUNT(*)")
            count = True
        else:
            tok = self.peek()
            raise faults.query_error(f"Only SELECT * and SELECT COUNT(*) are supported, found {tok[1] if tok else 'nothing'!r}")
        self.expect_keyword("from")
        kind, entity = self.next("an entity name")
        if kind != "word" or entity not in QUERYABLE:
            raise faults.query_error(f"Invalid entity name {entity!r} (entity names are case-sensitive)")
        q = Query(entity, count)
        if self.keyword("where"):
            while True:
                q.where.append(self.condition(entity))
                if not self.keyword("and"):
                    break
                if self.keyword("or"):
                    raise faults.query_error("OR is not supported")
        if self.keyword("orderby") or (self.keyword("order") and self._by()):
            while True:
                kind, prop = self.next("a property to order by")
                if kind != "word":
                    raise faults.query_error(f"Expected a property after ORDERBY, found {prop!r}")
                desc = False
                if self.keyword("desc"):
                    desc = True
                else:
                    self.keyword("asc")
                q.order.append((prop, desc))
                if not self.punct(","):
                    break
        if self.keyword("startposition"):
            q.start = self.integer("STARTPOSITION")
            if q.start < 1:
                raise faults.query_error(f"STARTPOSITION value {q.start} is too small. Min allowed value is 1")
        if self.keyword("maxresults"):
            q.max_results = self.integer("MAXRESULTS")
            if q.max_results > MAX_RESULTS:
                raise faults.query_error(f"MAXRESULTS value {q.max_results} is too large. Max allowed value is {MAX_RESULTS}")
            if q.max_results < 1:
                raise faults.query_error(f"MAXRESULTS value {q.max_results} is too small. Min allowed value is 1")
        tok = self.peek()
        if tok is not None:
            raise faults.query_error(f"Unexpected {tok[1]!r} after the end of the query")
        return q

    def _by(self) -> bool:
        self.expect_keyword("by")
        return True

    def condition(self, entity: str) -> Condition:
        kind, prop = self.next("a property")
        if kind != "word":
            raise faults.query_error(f"Expected a property, found {prop!r}")
        if prop not in _FILTERABLE:
            raise faults.query_error(f"property '{prop}' is not queryable for entity {entity}")
        tok = self.next("an operator")
        if tok[0] == "op":
            op = tok[1]
            if op in ("!=", "<>"):
                raise faults.query_error(f"Operator {op} is not supported")
            return Condition(prop, op, [self.value()])
        if tok[0] == "word" and tok[1].lower() == "in":
            if not self.punct("("):
                raise faults.query_error("Expected ( after IN")
            values = [self.value()]
            while self.punct(","):
                values.append(self.value())
            if not self.punct(")"):
                raise faults.query_error("Expected ) to close IN")
            return Condition(prop, "in", values)
        if tok[0] == "word" and tok[1].lower() == "like":
            return Condition(prop, "like", [self.value()])
        raise faults.query_error(f"Unsupported operator {tok[1]!r}")


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise faults.query_error("The query is empty")
    return _Parser(text).parse()


def _get(obj: JsonObj, prop: str) -> Any:
    cur: Any = obj
    for part in prop.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    if isinstance(cur, dict) and "value" in cur:
        cur = cur["value"]
    return cur


def _coerce(prop: str, left: Any, right: Any, tz: timezone) -> tuple[Any, Any] | None:
    if left is None:
        return None
    if prop in _TIMES:
        try:
            return parse_ts(str(left), tz), parse_ts(str(right), tz)
        except ValueError:
            raise faults.query_error(f"Invalid date-time value {right!r} for {prop}") from None
    if isinstance(left, bool) or isinstance(right, bool):
        rv = right if isinstance(right, bool) else str(right).lower() == "true"
        return bool(left), rv
    if isinstance(left, (Decimal, int)) or prop == "Id":
        try:
            return Decimal(str(left)), Decimal(str(right))
        except InvalidOperation:
            return str(left).casefold(), str(right).casefold()
    return str(left).casefold(), str(right).casefold()


def _like(pattern: str, value: str) -> bool:
    rx = "^" + ".*".join(re.escape(p) for p in pattern.casefold().split("%")) + "$"
    return re.match(rx, value, re.DOTALL) is not None


def _matches(obj: JsonObj, cond: Condition, tz: timezone) -> bool:
    left = _get(obj, cond.prop)
    if cond.op == "like":
        return left is not None and _like(str(cond.values[0]), str(left).casefold())
    if cond.op == "in":
        for v in cond.values:
            pair = _coerce(cond.prop, left, v, tz)
            if pair is not None and pair[0] == pair[1]:
                return True
        return False
    pair = _coerce(cond.prop, left, cond.values[0], tz)
    if pair is None:
        return False
    a, b = pair
    try:
        return {"=": a == b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[cond.op]
    except TypeError:
        return False


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return (1, Decimal(value))
    if isinstance(value, str) and value.isdigit():
        return (1, Decimal(value))
    return (2, str(value).casefold())


def select(realm: Realm, q: Query, tz: timezone) -> list[JsonObj]:
    rows = list(realm.table(q.entity).values())
    if q.entity in NAME_LISTS and not any(c.prop == "Active" for c in q.where):
        rows = [r for r in rows if r.get("Active", True)]
    # filters see the object as QBO shows it (an inactive name reads "Name (deleted)")
    rows = [r for r in rows if all(_matches(render(q.entity, r), c, tz) for c in q.where)]
    order = q.order or [("Id", False)]
    for prop, desc in reversed(order):
        rows.sort(key=lambda r: _sort_key(_get(r, prop)), reverse=desc)
    return rows


def run(realm: Realm, text: str, tz: timezone) -> JsonObj:
    """Execute a statement; returns the value of ``QueryResponse``."""
    q = parse(text)
    rows = select(realm, q, tz)
    if q.count:
        return {"totalCount": len(rows)}
    page = rows[q.start - 1 : q.start - 1 + q.max_results]
    if not page:
        return {}
    return {q.entity: [render(q.entity, r) for r in page], "startPosition": q.start, "maxResults": len(page)}
