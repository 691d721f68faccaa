"""Stock stays equal (issue 9): every lot a change touches, before and after, is re-checked. QBO moves a
lot's QtyOnHand itself when an invoice or bill posts, changes or is voided/deleted; the lots the previous
state named (kept in the id map) are re-checked with the current ones."""

from __future__ import annotations

import copy
import uuid
from decimal import Decimal
from typing import Any

import pytest

from streams.engine.docref import DocRef
from streams.engine.outcome import Kind, SkipReason
from tests.conformance import samples
from tests.conformance.samples import items
from tests.integration.sync_support import Env

pytestmark = pytest.mark.integration


def ref(env: Env, entity: str, local_id: int) -> DocRef:
    return DocRef(company_id=env.company_id, entity_type=entity, local_id=local_id)


async def one(env: Env, sql: str, *params: object) -> Any:
    cur = await env.conn.execute(sql, params)
    return (await cur.fetchone())[0]


async def assert_lot_equal(env: Env, lot: int) -> None:
    qbo_id = (await env.idmap.get(env.company_id, "lot", lot)).qbo_id
    in_qbo = Decimal(str((await env.qbo.read(env.realm, "Item", str(qbo_id)))["QtyOnHand"]))
    assert in_qbo == await one(env, "select quantity_on_hand from lots where id = %s", lot), f"lot {lot}"


async def _invoice_with_lot(env: Env) -> tuple[int, int, int]:
    inv = await samples.create("invoice", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "invoice", inv))).kind == Kind.SYNCED
    lot = await one(env, "select lot_id from invoice_lines where invoice_id = %s and lot_id is not null", inv)
    item = await one(env, "select item_id from lots where id = %s", lot)
    await assert_lot_equal(env, lot)
    return inv, lot, item


async def test_a_swapped_lot_rechecks_the_old_lot_too(env: Env) -> None:
    inv, old_lot, item = await _invoice_with_lot(env)
    new_lot = await items.lot(env.conn, env.company_id, item)
    await env.conn.execute("update invoice_lines set lot_id = %s where invoice_id = %s and lot_id = %s", (new_lot, inv, old_lot))
    assert (await env.engine.sync(ref(env, "invoice", inv))).kind == Kind.SYNCED
    # QBO gave the old lot its 2 back and took them from the new one: both are brought to Bottleneck's
    await assert_lot_equal(env, old_lot)
    await assert_lot_equal(env, new_lot)


async def test_a_removed_line_rechecks_its_lot(env: Env) -> None:
    inv, lot, _ = await _invoice_with_lot(env)
    await env.conn.execute("delete from invoice_lines where invoice_id = %s and lot_id = %s", (inv, lot))
    assert (await env.engine.sync(ref(env, "invoice", inv))).kind == Kind.SYNCED
    await assert_lot_equal(env, lot)


async def test_a_deleted_invoice_rechecks_its_lots(env: Env) -> None:
    inv, lot, _ = await _invoice_with_lot(env)
    await env.conn.execute("delete from invoice_lines where invoice_id = %s", (inv,))
    await env.conn.execute("delete from invoices where id = %s", (inv,))
    out = await env.engine.sync(DocRef(company_id=None, entity_type="invoice", local_id=inv))
    assert out.kind == Kind.SYNCED and out.action == "void", out
    await assert_lot_equal(env, lot)


async def test_a_deleted_bill_rechecks_its_lots(env: Env) -> None:
    bill = await samples.create("bill", env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "bill", bill))).kind == Kind.SYNCED
    lot = await one(env, "select lot_id from bill_lines where bill_id = %s and lot_id is not null limit 1", bill)
    await assert_lot_equal(env, lot)
    await env.conn.execute("delete from bill_lines where bill_id = %s", (bill,))
    await env.conn.execute("delete from bills where id = %s", (bill,))
    out = await env.engine.sync(DocRef(company_id=None, entity_type="bill", local_id=bill))
    assert out.kind == Kind.SYNCED and out.action == "delete", out
    await assert_lot_equal(env, lot)


class _SomeoneElseAdjusts:
    """The real client, with a person in QBO moving the same item by +1 right after each of our stock
    adjustments lands (``times`` times): the interleaving the read-back exists for."""

    def __init__(self, real: Any, times: int) -> None:
        self._real = real
        self.times = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def create(self, realm_id: str, entity: str, body: Any, *, request_id: str) -> Any:
        answer = await self._real.create(realm_id, entity, body, request_id=request_id)
        if entity == "InventoryAdjustment" and self.times > 0:
            self.times -= 1
            theirs = copy.deepcopy(dict(body))
            theirs["Line"][0]["ItemAdjustmentLineDetail"]["QtyDiff"] = "1"
            await self._real.create(realm_id, entity, theirs, request_id=uuid.uuid4().hex)
        return answer


async def _lot_in_qbo(env: Env) -> int:
    lot = await items.lot(env.conn, env.company_id)
    assert (await env.engine.sync(ref(env, "lot_quantity", lot))).kind in (Kind.SYNCED, Kind.UNCHANGED)
    await assert_lot_equal(env, lot)
    await env.conn.execute("update lots set quantity_on_hand = quantity_on_hand + 5 where id = %s", (lot,))
    return lot


async def test_an_adjustment_qbo_moved_meanwhile_is_read_back_and_adjusted_once_more(env: Env) -> None:
    lot = await _lot_in_qbo(env)
    env.engine.qbo = _SomeoneElseAdjusts(env.qbo, times=1)
    out = await env.engine.sync(ref(env, "lot_quantity", lot))
    assert out.kind == Kind.SYNCED, out
    # ours (+5), theirs (+1), ours again (-1): QBO ends at Bottleneck's quantity
    await assert_lot_equal(env, lot)


async def test_an_adjustment_qbo_keeps_moving_is_a_readable_conflict(env: Env) -> None:
    lot = await _lot_in_qbo(env)
    env.engine.qbo = _SomeoneElseAdjusts(env.qbo, times=10)
    out = await env.engine.sync(ref(env, "lot_quantity", lot))
    assert out.kind == Kind.CONFLICT and "kept moving" in (out.reason or ""), out
    parked = await env.parking.get(ref(env, "lot_quantity", lot))
    assert parked is not None and parked.state == "conflict"


async def test_manual_mode_keeps_the_stock_of_a_lot_already_in_qbo(env: Env) -> None:
    """A ship or receive job moves a published lot's quantity in Bottleneck: QBO follows in manual mode too,
    while a lot nobody published stays out of QBO."""
    _inv, lot, item = await _invoice_with_lot(env)
    await env.set_mode("manual")
    await env.conn.execute("update lots set quantity_on_hand = quantity_on_hand - 3 where id = %s", (lot,))
    assert (await env.engine.sync(ref(env, "lot_quantity", lot))).kind == Kind.SYNCED
    await assert_lot_equal(env, lot)
    unpublished = await items.lot(env.conn, env.company_id, item)
    writes = await env.writes()
    out = await env.engine.sync(ref(env, "lot_quantity", unpublished))
    assert out.kind == Kind.SKIPPED and out.skip is SkipReason.MANUAL_MODE, out
    assert await env.writes() == writes
