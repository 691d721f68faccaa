"""The drift verdict on one CDC object (bottleneck_qbo.ops.drift.classify): ours / consequence / drift."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bottleneck_qbo.ops.drift.classify import Mapped, classify, sync_token
from streams.inbound.cdc_poll import cut_off_at

SYNCED = Mapped(sync_token="3", payload_hash="h1", status="synced")


def obj(token: Any = "4", **extra: Any) -> dict[str, Any]:
    return {"Id": "12", "SyncToken": token, "MetaData": {"LastUpdatedTime": "2026-12-02T01:00:00Z"}, **extra}


def test_a_change_not_past_our_own_write_is_ours() -> None:
    assert classify(obj("3"), SYNCED).kind == "ours"
    assert classify(obj("2"), SYNCED).kind == "ours"  # older than our last write (an overlapping poll)


def test_qbo_moving_the_object_without_touching_owned_fields_is_a_consequence() -> None:
    # e.g. the estimate closed by its invoice, the invoice's balance moved by a payment
    v = classify(obj("4", Balance="40.00"), SYNCED, current_hash="h1", differences=[])
    assert v.kind == "consequence"


def test_an_owned_field_changed_by_someone_else_is_drift() -> None:
    v = classify(obj("5"), SYNCED, current_hash="h1", differences=["PrimaryEmailAddr.Address"])
    assert v.kind == "drift" and "1 field" in v.reason


def test_deleted_in_qbo_while_live_in_bottleneck_is_drift() -> None:
    deleted = {"domain": "QBO", "status": "Deleted", "Id": "12", "MetaData": {"LastUpdatedTime": "2026-12-02T01:00:00Z"}}
    assert classify(deleted, SYNCED, current_hash="h1").kind == "drift"
    assert classify(deleted, SYNCED, live_in_bottleneck=False, current_hash="h1").kind == "pending"


@pytest.mark.parametrize(
    ("entry", "current"),
    [
        (SYNCED, "h2"),  # Bottleneck changed since our last write: the engine's next write settles it
        (Mapped(sync_token="3", payload_hash=None, status="synced"), "h1"),  # a re-drive is queued (no hash)
    ],
)
def test_unwritten_bottleneck_changes_make_it_pending_not_drift(entry: Mapped, current: str) -> None:
    assert classify(obj("9"), entry, current_hash=current, differences=["x"]).kind == "pending"


def test_removed_in_bottleneck_is_left_to_the_remove_path() -> None:
    assert classify(obj("9"), SYNCED, live_in_bottleneck=False, current_hash="h1", differences=["x"]).kind == "pending"


@pytest.mark.parametrize("status", ["voided", "deleted", "inactive", "gone", "creating"])
def test_objects_without_a_live_id_map_entry_are_not_watched(status: str) -> None:
    assert classify(obj("9"), Mapped("1", "h1", status), current_hash="h1", differences=["x"]).kind == "untracked"
    assert classify(obj("9"), None).kind == "untracked"


@pytest.mark.parametrize(
    "bad",
    [None, "text", {}, {"Id": None}, {"Id": "../1"}, {"Id": "1" * 40}, obj(None), obj("abc"), obj(True), obj("1" * 30)],
)
def test_malformed_cdc_objects_are_classified_not_raised(bad: Any) -> None:
    assert classify(bad, SYNCED, current_hash="h1", differences=["x"]).kind == "malformed"


def test_sync_tokens_compare_as_numbers() -> None:
    assert sync_token("10") == 10 and sync_token(7) == 7 and sync_token(None) is None and sync_token("-1") is None
    assert classify(obj("10"), Mapped("9", "h1", "synced"), current_hash="h1", differences=[]).kind == "consequence"
    assert classify(obj("9"), Mapped("10", "h1", "synced")).kind == "ours"


def test_a_full_cdc_answer_is_cut_off_at_its_last_change() -> None:
    objs: list[dict[str, Any]] = [
        {"MetaData": {"LastUpdatedTime": "2026-12-02T01:00:00Z"}},
        {"MetaData": {"LastUpdatedTime": "2026-12-02T01:05:00-08:00"}},
        {"MetaData": {"LastUpdatedTime": "not a time"}},
        {"MetaData": None},
    ]
    assert cut_off_at(objs) == datetime(2026, 12, 2, 9, 5, tzinfo=UTC)
    assert cut_off_at([]) is None
