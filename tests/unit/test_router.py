"""Router: change events -> the documents they touch (pure)."""

from __future__ import annotations

from functools import partial

import pytest

from sinks.qbo.hashing import payload_hash
from sinks.qbo.requestid import request_id
from streams.engine import router
from streams.engine.docref import DocRef
from streams.engine.router import RoutingError
from streams.processors.registry import REGISTRY

route = partial(router.route, registry=REGISTRY)  # the worker's processors

UNAVAILABLE = "__debezium_unavailable_value"


def test_header_and_lines_of_one_transaction_route_to_one_document() -> None:
    refs = {r.key for r in route("invoices", "c", None, {"id": 8, "company_id": 1, "status": "open"})}
    for line in (1, 2, 3):
        refs |= {r.key for r in route("invoice_lines", "c", None, {"id": 100 + line, "invoice_id": 8, "description": UNAVAILABLE})}
    assert refs == {"invoice:8"}


def test_header_carries_company_line_does_not() -> None:
    assert route("customers", "u", {"id": 3}, {"id": 3, "company_id": 2, "notes": UNAVAILABLE}) == [
        DocRef(company_id=2, entity_type="customer", local_id=3)
    ]
    assert route("bill_lines", "d", {"id": 9, "bill_id": 4}, None) == [DocRef(company_id=None, entity_type="bill", local_id=4)]


def test_line_moved_between_documents_touches_both() -> None:
    refs = route("sales_order_lines", "u", {"id": 1, "sales_order_id": 5}, {"id": 1, "sales_order_id": 6})
    assert [r.local_id for r in refs] == [5, 6]


def test_line_delete_without_parent_id_is_a_clear_error() -> None:
    with pytest.raises(RoutingError, match="REPLICA IDENTITY FULL"):
        route("invoice_lines", "d", {"id": 9, "invoice_id": None}, None)


def test_items_lots_and_publish_requests() -> None:
    # the Category is routed for every item; the engine skips it for items that are not tracked
    assert [r.entity_type for r in route("items", "r", None, {"id": 3, "company_id": 1, "kind": "inventory"})] == ["item_category", "item"]
    assert [r.entity_type for r in route("lots", "u", None, {"id": 4, "company_id": 1})] == ["lot", "lot_quantity"]
    forced = route("qbo_publish_requests", "c", None, {"id": 1, "company_id": 1, "entity_type": "invoice", "entity_id": 8})
    assert forced == [DocRef(company_id=1, entity_type="invoice", local_id=8, forced=True)]
    assert route("qbo_publish_requests", "d", {"id": 1}, None) == []


@pytest.mark.parametrize(
    "table", ["invoice_payments", "bill_payments", "companies", "ship_jobs", "receive_job_lines", "debezium_heartbeat"]
)
def test_ignored_tables(table: str) -> None:
    assert route(table, "c", None, {"id": 1, "company_id": 1}) == []


def test_unknown_table_and_tombstone() -> None:
    with pytest.raises(RoutingError, match="no processor handles table 'widgets'"):
        route("bottleneck.public.widgets", "c", None, {"id": 1})
    assert route("invoices", "d", None, None) == []


def test_payload_hash_is_canonical() -> None:
    from decimal import Decimal as D

    a = {"Line": [{"Amount": D("1.50"), "Qty": D("2")}], "DocNumber": "X", "Memo": None}
    b = {"DocNumber": "X", "Line": [{"Qty": 2, "Amount": D("1.5")}]}
    assert payload_hash(a) == payload_hash(b)
    assert payload_hash(a) != payload_hash({"DocNumber": "X", "Line": [{"Qty": 2, "Amount": D("1.51")}]})
    assert payload_hash({"A": 1, "QtyOnHand": 5}, exclude=["QtyOnHand"]) == payload_hash({"A": 1})
    with pytest.raises(TypeError):
        payload_hash({"Amount": 1.5})


def test_request_id_is_deterministic_and_short() -> None:
    rid = request_id("realm1", "Invoice", 8, "create", "abc")
    assert rid == request_id("realm1", "Invoice", 8, "create", "abc") and len(rid) <= 36
    assert rid != request_id("realm2", "Invoice", 8, "create", "abc")


def test_routes_come_from_the_registered_processors_sources() -> None:
    from streams.processors.registry import REGISTRY

    for p in REGISTRY:
        for table, column in p.sources.items():
            row = {"id": 11, "company_id": 2, column: 11}
            assert p.entity_type in [r.entity_type for r in route(table, "c", None, row)], (p, table)
