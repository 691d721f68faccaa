"""The batch path's pure planning: calls per realm of at most 30, the batch requestid, when to flush."""

from __future__ import annotations

import pytest

from sinks.qbo.requestid import MAX_LEN
from sinks.qbo.writer import BatchOp
from streams.engine.batching import batch_item, batch_request_id, calls, needs_flush


def test_calls_are_per_realm_in_order_and_at_most_max_items() -> None:
    items = [("r1", n) for n in range(65)] + [("r2", n) for n in range(3)] + [("r1", 65)]
    out = calls(items, lambda it: it[0], 30)
    assert [len(c) for c in out] == [30, 30, 6, 3]
    assert all(len({realm for realm, _ in c}) == 1 for c in out)
    # the documents of a realm keep their order across its calls
    assert [n for c in out if c[0][0] == "r1" for _, n in c] == list(range(66))
    assert calls([], lambda it: it, 30) == []
    with pytest.raises(ValueError):
        calls(items, lambda it: it[0], 0)


def test_the_batch_requestid_is_deterministic_and_fits_the_batch_limit() -> None:
    a = batch_request_id("9130", ["bq-1", "bq-2"])
    assert a == batch_request_id("9130", ["bq-1", "bq-2"])  # a resend is answered with the first answer
    assert a != batch_request_id("9130", ["bq-2", "bq-1"]) != batch_request_id("9131", ["bq-1", "bq-2"])
    # the client appends "-n" per call: the whole must stay within QBO's 36 characters inside a batch
    assert len(a) + 3 <= MAX_LEN


def test_a_dependant_waits_for_its_pending_dependency() -> None:
    pending = [("customer", 1), ("customer", 2)]
    assert needs_flush(pending, [("customer", 2), ("item", 9)])
    assert not needs_flush(pending, [("customer", 3), ("item", 9)])
    assert not needs_flush([], [("customer", 1)])


def test_a_batch_item_carries_its_operation_and_entity() -> None:
    op = BatchOp("update", {"Id": "7", "SyncToken": "2", "sparse": True, "DisplayName": "A"}, "bq-x", "h", {"DisplayName": "A"})
    assert batch_item("3", "Customer", op) == {
        "bId": "3",
        "operation": "update",
        "Customer": {"Id": "7", "SyncToken": "2", "sparse": True, "DisplayName": "A"},
    }
