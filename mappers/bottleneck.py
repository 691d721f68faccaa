"""Typed Bottleneck rows (see tests/fixtures/bottleneck-schema.sql), as the sync reads them from Postgres.

Extra columns are ignored so Bottleneck may add columns without breaking the pipeline.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Address(Row):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Company(Row):
    id: int
    name: str
    qbo_realm_id: str | None = None
    qbo_sync_mode: Literal["manual", "live"] = "live"


class Customer(Row):
    id: int
    company_id: int
    name: str
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    payment_terms_days: int | None = None
    is_active: bool = True
    notes: str | None = None
    # not a Bottleneck column: set by the processor when another row holds the plain name in QBO's name space
    name_suffix: str | None = None

    @property
    def qbo_name(self) -> str:
        """The QBO name: Bottleneck's name, disambiguated as ``name (suffix)`` (README, "Names in QuickBooks")."""
        return f"{self.name.strip()} ({self.name_suffix})" if self.name_suffix else self.name


class Vendor(Row):
    id: int
    company_id: int
    name: str
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    billing_address: Address | None = None
    payment_terms_days: int | None = None
    is_active: bool = True
    notes: str | None = None
    # not a Bottleneck column: set by the processor when another row holds the plain name in QBO's name space
    name_suffix: str | None = None

    @property
    def qbo_name(self) -> str:
        """The QBO name: Bottleneck's name, disambiguated as ``name (suffix)`` (README, "Names in QuickBooks")."""
        return f"{self.name.strip()} ({self.name_suffix})" if self.name_suffix else self.name


ItemKind = Literal["inventory", "non_tracking", "service"]


class Item(Row):
    id: int
    company_id: int
    sku: str
    name: str
    description: str | None = None
    kind: ItemKind
    unit_of_measure: str = "each"
    sales_price: Decimal | None = None
    purchase_cost: Decimal | None = None
    is_active: bool = True
    created_at: datetime | None = None
    # not a Bottleneck column: set by the processor when another row holds the plain name in QBO's name space
    name_suffix: str | None = None

    @property
    def qbo_name(self) -> str:
        """The QBO name: Bottleneck's name, disambiguated as ``name (suffix)`` (README, "Names in QuickBooks")."""
        return f"{self.name.strip()} ({self.name_suffix})" if self.name_suffix else self.name


class ItemWithLots(Item):
    """An item with the ids of its lots (their QBO names, skus and Active flag derive from the item)."""

    lot_ids: list[int] = Field(default_factory=list)


class Lot(Row):
    id: int
    company_id: int
    item_id: int
    lot_code: str
    quantity_on_hand: Decimal = Decimal(0)
    unit_cost: Decimal = Decimal(0)
    expires_on: date | None = None
    created_at: datetime | None = None


class LotWithItem(Row):
    """A lot with the item it belongs to (the lot's QBO Name and Sku come from both)."""

    lot: Lot
    item: Item

    @property
    def company_id(self) -> int:
        return self.lot.company_id


class SalesLine(Row):
    id: int
    line_no: int
    item_id: int
    lot_id: int | None = None
    description: str | None = None
    quantity: Decimal
    unit_price: Decimal
    item_kind: ItemKind | None = None  # joined from items on load: picks the line's tax code (mappers/tax.py)


class SalesOrder(Row):
    id: int
    company_id: int
    number: str
    customer_id: int
    status: Literal["draft", "open", "closed", "cancelled"]
    order_date: date
    ship_by: date | None = None
    memo: str | None = None
    lines: list[SalesLine] = Field(default_factory=list)
    # Not columns: whether a published invoice is linked to this order, and whether one of them is not in
    # QBO yet (read with it in one snapshot).
    invoiced: bool = False
    awaiting_link: bool = False


class Invoice(Row):
    id: int
    company_id: int
    number: str
    customer_id: int
    sales_order_id: int | None = None
    status: Literal["draft", "open", "paid", "void"]
    issue_date: date
    due_date: date | None = None
    memo: str | None = None
    lines: list[SalesLine] = Field(default_factory=list)


class PurchaseLine(Row):
    id: int
    line_no: int
    item_id: int
    lot_id: int | None = None
    purchase_order_line_id: int | None = None
    linked_purchase_order_id: int | None = None  # the PO owning purchase_order_line_id (joined on load)
    description: str | None = None
    quantity: Decimal
    unit_cost: Decimal
    item_kind: ItemKind | None = None  # joined from items on load: picks the line's tax code (mappers/tax.py)


class PurchaseOrder(Row):
    id: int
    company_id: int
    number: str
    vendor_id: int
    status: Literal["draft", "open", "closed", "cancelled"]
    order_date: date
    expected_on: date | None = None
    memo: str | None = None
    lines: list[PurchaseLine] = Field(default_factory=list)
    # Not columns: whether a published bill is linked to this order, and whether one of them is not in
    # QBO yet (read with it in one snapshot).
    billed: bool = False
    awaiting_link: bool = False


class Bill(Row):
    id: int
    company_id: int
    number: str
    vendor_id: int
    purchase_order_id: int | None = None
    status: Literal["draft", "open", "paid", "void"]
    bill_date: date
    due_date: date | None = None
    memo: str | None = None
    lines: list[PurchaseLine] = Field(default_factory=list)


class JobLine(Row):
    id: int
    lot_id: int
    quantity: Decimal


class ShipJob(Row):
    id: int
    company_id: int
    sales_order_id: int
    status: Literal["pending", "in_progress", "completed", "cancelled"]
    completed_at: datetime | None = None
    lines: list[JobLine] = Field(default_factory=list)


class ReceiveJob(Row):
    id: int
    company_id: int
    purchase_order_id: int
    status: Literal["pending", "in_progress", "completed", "cancelled"]
    completed_at: datetime | None = None
    lines: list[JobLine] = Field(default_factory=list)
