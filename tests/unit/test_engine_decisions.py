"""The engine's state machine, through in-memory ports (tests/unit/engine_fakes.py): which documents are
skipped, removed, held back by a dependency or written, and how each failure is recorded."""

from __future__ import annotations

from datetime import timedelta

from sinks.qbo.errors import QboAuthError, QboConfigError, QboRateLimited, QboTransientError, QboValidationError
from streams.engine.docref import DocRef
from streams.engine.outcome import Kind, SkipReason
from tests.unit.engine_fakes import NOW, World


async def test_a_draft_is_skipped_and_nothing_is_written() -> None:
    w = World()
    out = await w.engine.sync(w.gadget(1, status="draft"))
    assert (out.kind, out.skip) == (Kind.SKIPPED, SkipReason.DRAFT)
    assert w.qbo.writes == 0


async def test_a_company_without_a_realm_is_skipped_and_its_retries_are_moot() -> None:
    w = World()
    w.source.company(2, realm=None)
    ref = w.gadget(1, company_id=2)
    await w.parking.park(ref, "retry", "QBO was down", next_attempt_at=NOW)
    await w.parking.park(w.gadget(3, company_id=2), "conflict", "edited in QBO")
    out = await w.engine.sync(ref)
    assert (out.kind, out.skip) == (Kind.SKIPPED, SkipReason.NO_REALM)
    assert await w.parking.get(ref) is None, "a retry parked before the disconnect is cleared"
    out = await w.engine.sync(DocRef(company_id=2, entity_type="gadget", local_id=3))
    assert await w.parking.get(out.ref) is not None, "a conflict stays visible"
    assert w.qbo.writes == 0


async def test_manual_mode_skips_unless_published_or_needed_as_a_dependency() -> None:
    w = World()
    w.source.company(1, mode="manual")
    w.gadget(1)
    widget = w.widget(2, gadget_id=1)
    out = await w.engine.sync(widget)
    assert (out.kind, out.skip) == (Kind.SKIPPED, SkipReason.MANUAL_MODE)
    out = await w.engine.sync(widget.model_copy(update={"forced": True}))
    assert out.kind == Kind.SYNCED, out
    assert (await w.idmap.get(1, "gadget", 1)) is not None, "its dependency went along, though the company is manual"


async def test_the_company_is_resolved_once_and_remembered() -> None:
    w = World()
    w.gadget(1)
    ref = DocRef(company_id=None, entity_type="gadget", local_id=1)
    resolved = await w.engine.resolve_company(ref)
    assert resolved is not None and resolved.company_id == 1
    out = await w.engine.sync(ref)
    assert out.kind == Kind.SYNCED and out.ref.company_id == 1
    assert w.source.company_lookups == 1, "the router step resolved it; the engine found it remembered"


async def test_a_row_that_never_existed_is_skipped_but_a_publish_request_for_it_is_dead() -> None:
    w = World()
    gone = DocRef(company_id=None, entity_type="gadget", local_id=404)
    out = await w.engine.sync(gone)
    assert (out.kind, out.skip) == (Kind.SKIPPED, SkipReason.NOT_FOUND)
    out = await w.engine.sync(gone.model_copy(update={"forced": True}))
    assert out.kind == Kind.DEAD and "which does not exist" in (out.reason or "")


async def test_a_deleted_document_is_removed_from_qbo_once_and_a_never_synced_one_is_skipped() -> None:
    w = World()
    ref = w.gadget(1)
    created = await w.engine.sync(ref)
    assert created.kind == Kind.SYNCED
    del w.source.tables["gadgets"][1]
    out = await w.engine.sync(ref)
    assert (out.kind, out.action) == (Kind.SYNCED, "deactivate")
    assert w.qbo.objects[str(created.qbo_id)]["Active"] is False
    assert (await w.engine.sync(ref)).kind == Kind.UNCHANGED, "a repeated delete writes nothing"
    never = w.gadget(2, status="void")
    out = await w.engine.sync(never)
    assert (out.kind, out.skip) == (Kind.SKIPPED, SkipReason.NOT_IN_QBO)


async def test_a_failed_dependency_parks_its_dependant_as_waiting_until_it_syncs() -> None:
    w = World()
    w.gadget(1, name="bad")
    widget = w.widget(2, gadget_id=1)
    out = await w.engine.sync(widget)
    assert out.kind == Kind.WAITING and out.waiting_on is not None and out.waiting_on.key == "gadget:1"
    parked = await w.parking.get(widget)
    assert parked is not None and parked.state == "waiting" and parked.next_attempt_at is None
    assert (await w.parking.get(out.waiting_on)).state == "dead"
    w.source.tables["gadgets"][1]["name"] = "Good"
    assert (await w.engine.sync(out.waiting_on)).kind == Kind.SYNCED
    assert [r.key for r in await w.engine.redrive_due(NOW)] == ["widget:2"], "the dependant is released"
    assert (await w.engine.sync(widget)).kind == Kind.SYNCED
    assert await w.parking.get(widget) is None


async def test_a_dependency_already_in_qbo_is_not_synced_again() -> None:
    w = World()
    w.gadget(1)
    await w.engine.sync(DocRef(company_id=1, entity_type="gadget", local_id=1))
    writes = w.qbo.writes
    w.source.tables["gadgets"][1]["name"] = "Renamed"  # its own event will carry this
    assert (await w.engine.sync(w.widget(2, gadget_id=1))).kind == Kind.SYNCED
    assert w.qbo.writes == writes + 1, "only the widget was written"


async def test_a_mapping_error_is_dead_with_the_mappers_sentence() -> None:
    w = World()
    out = await w.engine.sync(w.gadget(1, name="bad"))
    assert out.kind == Kind.DEAD and "cannot be called bad" in (out.reason or "")


async def test_transient_failures_back_off_then_give_up() -> None:
    w = World()
    ref = w.gadget(1)
    delays = []
    for _ in range(8):
        w.qbo.fail.append(QboTransientError(message="503"))
        out = await w.engine.sync(ref)
        assert out.kind == Kind.RETRY_LATER and out.retry_at is not None
        delays.append((out.retry_at - NOW).total_seconds())
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    w.qbo.fail.append(QboAuthError(message="401"))
    out = await w.engine.sync(ref)
    assert out.kind == Kind.DEAD and (out.reason or "").startswith("gave up after 8 attempts")


async def test_a_rate_limit_parks_until_qbo_says() -> None:
    w = World()
    w.qbo.fail.append(QboRateLimited(message="429", retry_after_s=42.0))
    out = await w.engine.sync(w.gadget(1))
    assert out.kind == Kind.RETRY_LATER and out.retry_at == NOW + timedelta(seconds=42)
    assert "rate limit for realm 9130" in (out.reason or "")


async def test_a_config_problem_retries_ever_more_slowly_up_to_an_hour() -> None:
    w = World()
    ref = w.gadget(1)
    delays = []
    for _ in range(8):
        w.qbo.fail.append(QboConfigError(message="token revoked"))
        out = await w.engine.sync(ref)
        assert out.kind == Kind.RETRY_LATER and "a person must act" in (out.reason or "")
        delays.append((out.retry_at - NOW).total_seconds())  # type: ignore[operator]
    assert delays == [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0]


async def test_a_refusal_is_dead_and_the_next_attempt_gets_a_new_requestid() -> None:
    w = World()
    ref = w.gadget(1)
    w.qbo.fail.append(QboValidationError(message="bad", status=400))
    out = await w.engine.sync(ref)
    assert out.kind == Kind.DEAD and out.fault is not None and out.failure_type == "terminal"
    assert (await w.engine.sync(ref)).kind == Kind.SYNCED


async def test_stale_once_is_re_read_and_stale_twice_is_a_conflict() -> None:
    w = World()
    ref = w.gadget(1)
    created = await w.engine.sync(ref)
    obj = w.qbo.objects[str(created.qbo_id)]
    obj["SyncToken"] = "7"  # edited in QBO
    w.source.tables["gadgets"][1]["name"] = "Renamed"
    out = await w.engine.sync(ref)
    assert (out.kind, out.action) == (Kind.SYNCED, "update"), "the second run read QBO's current SyncToken"
    w.source.tables["gadgets"][1]["name"] = "Again"
    from sinks.qbo.errors import QboStaleSyncToken

    w.qbo.fail += [QboStaleSyncToken(message="stale"), QboStaleSyncToken(message="stale")]
    out = await w.engine.sync(ref)
    assert out.kind == Kind.CONFLICT and "SyncToken" in (out.reason or "")
    assert w.idmap.errors[(1, "gadget", 1)] == out.reason


async def test_a_bug_is_dead_with_the_exception_named() -> None:
    w = World()
    ref = w.gadget(1)
    w.qbo.fail.append(ZeroDivisionError("oops"))
    out = await w.engine.sync(ref)
    assert out.kind == Kind.DEAD and out.reason == "internal error: ZeroDivisionError: oops"


async def test_another_companys_document_is_never_written() -> None:
    w = World()
    w.source.company(2)
    w.gadget(1, company_id=2)
    out = await w.engine.sync(DocRef(company_id=1, entity_type="gadget", local_id=1, forced=True))
    assert out.kind == Kind.DEAD and "belongs to company 2, not 1" in (out.reason or "")
    assert w.qbo.writes == 0
