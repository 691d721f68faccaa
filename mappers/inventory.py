"""InventoryAdjustment that brings QBO's quantity of one item (a lot, or a canonical item) to Bottleneck's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from mappers import qbo as q
from mappers.common import price


def quantity_adjustment(
    *, item_qbo_id: str, qbo_qty: Decimal, target_qty: Decimal, adjust_account: str, txn_date: date, note: str
) -> dict[str, Any] | None:
    """The adjustment from ``qbo_qty`` to ``target_qty``, or None when they already agree."""
    diff = target_qty - qbo_qty
    if diff == 0:
        return None
    return q.InventoryAdjustment(
        AdjustAccountRef=q.Ref(value=adjust_account),
        TxnDate=txn_date,
        PrivateNote=note,
        Line=[q.AdjustmentLine(ItemAdjustmentLineDetail=q.ItemAdjustmentDetail(ItemRef=q.Ref(value=item_qbo_id), QtyDiff=price(diff)))],
    ).to_qbo()
