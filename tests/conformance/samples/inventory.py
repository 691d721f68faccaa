"""Inventory quantities (append-only adjustments): the touch makes the quantity drift."""

from __future__ import annotations

from tests.conformance.samples.base import Sample, touching
from tests.conformance.samples.items import _item, _lot

SAMPLES = {
    "lot_quantity": Sample(_lot, touching("update lots set quantity_on_hand = quantity_on_hand - 1, updated_at = now() where id = %s")),
    "item_quantity": Sample(_item),
}
