"""Pydantic models of the QBO entities we send (and the parts of responses we read).

Field names are QBO's JSON keys, so ``to_qbo()`` (``model_dump(exclude_none=True)``) is the request body.
Money and quantities are ``Decimal``; the QBO client encodes them as exact JSON numbers.
Only the fields Bottleneck owns are modelled: sparse updates then never touch QBO-side fields.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class QboModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_qbo(self) -> dict[str, Any]:
        """The JSON-ready body (Decimals kept as Decimal, dates as ISO strings, None fields dropped)."""
        return self.model_dump(mode="python", exclude_none=True, by_alias=True, round_trip=False) | _dates(self)


def _dates(model: BaseModel) -> dict[str, Any]:
    # model_dump(mode="python") keeps date objects; QBO wants "yyyy-MM-dd" strings.
    out: dict[str, Any] = {}
    for name, value in model:
        if isinstance(value, date):
            out[type(model).model_fields[name].alias or name] = value.isoformat()
    return out


class Ref(QboModel):
    value: str
    name: str | None = None


class EmailAddr(QboModel):
    Address: str


class Phone(QboModel):
    FreeFormNumber: str


class PhysicalAddress(QboModel):
    Line1: str | None = None
    Line2: str | None = None
    City: str | None = None
    CountrySubDivisionCode: str | None = None
    PostalCode: str | None = None
    Country: str | None = None


class Link(QboModel):
    TxnId: str
    TxnType: Literal["Estimate", "Invoice", "PurchaseOrder", "Bill", "ReceivePayment", "BillPaymentCheck"]
    TxnLineId: str | None = None


# --- name lists ------------------------------------------------------------------------------------


class NameEntity(QboModel):
    DisplayName: str
    CompanyName: str | None = None
    PrimaryEmailAddr: EmailAddr | None = None
    PrimaryPhone: Phone | None = None
    BillAddr: PhysicalAddress | None = None
    Notes: str | None = None
    Active: bool = True


class Customer(NameEntity):
    ShipAddr: PhysicalAddress | None = None


class Vendor(NameEntity):
    pass


class Item(QboModel):
    Name: str
    Type: Literal["Inventory", "NonInventory", "Service", "Category"]
    Sku: str | None = None
    Description: str | None = None
    Active: bool = True
    SubItem: bool | None = None
    ParentRef: Ref | None = None
    UnitPrice: Decimal | None = None
    PurchaseCost: Decimal | None = None
    TrackQtyOnHand: bool | None = None
    QtyOnHand: Decimal | None = None
    InvStartDate: date | None = None
    IncomeAccountRef: Ref | None = None
    ExpenseAccountRef: Ref | None = None
    AssetAccountRef: Ref | None = None


# --- transactions -----------------------------------------------------------------------------------


class SalesItemDetail(QboModel):
    ItemRef: Ref
    Qty: Decimal
    UnitPrice: Decimal
    TaxCodeRef: Ref | None = None


class SalesLine(QboModel):
    Amount: Decimal
    DetailType: Literal["SalesItemLineDetail"] = "SalesItemLineDetail"
    SalesItemLineDetail: SalesItemDetail
    Description: str | None = None
    LineNum: int | None = None


class ItemExpenseDetail(QboModel):
    ItemRef: Ref
    Qty: Decimal
    UnitPrice: Decimal
    TaxCodeRef: Ref | None = None


class ExpenseLine(QboModel):
    Amount: Decimal
    DetailType: Literal["ItemBasedExpenseLineDetail"] = "ItemBasedExpenseLineDetail"
    ItemBasedExpenseLineDetail: ItemExpenseDetail
    Description: str | None = None
    LineNum: int | None = None
    LinkedTxn: list[Link] | None = None


class Estimate(QboModel):
    DocNumber: str
    CustomerRef: Ref
    TxnDate: date
    ShipDate: date | None = None
    PrivateNote: str | None = None
    TxnStatus: Literal["Pending", "Accepted", "Closed", "Rejected"] | None = None
    Line: list[SalesLine] = Field(min_length=1)


class Invoice(QboModel):
    DocNumber: str
    CustomerRef: Ref
    TxnDate: date
    DueDate: date | None = None
    PrivateNote: str | None = None
    LinkedTxn: list[Link] | None = None
    Line: list[SalesLine] = Field(min_length=1)


class PurchaseOrder(QboModel):
    DocNumber: str
    VendorRef: Ref
    APAccountRef: Ref
    TxnDate: date
    DueDate: date | None = None
    PrivateNote: str | None = None
    POStatus: Literal["Open", "Closed"] | None = None
    Line: list[ExpenseLine] = Field(min_length=1)


class Bill(QboModel):
    DocNumber: str
    VendorRef: Ref
    TxnDate: date
    DueDate: date | None = None
    PrivateNote: str | None = None
    APAccountRef: Ref | None = None
    Line: list[ExpenseLine] = Field(min_length=1)


class ItemAdjustmentDetail(QboModel):
    ItemRef: Ref
    QtyDiff: Decimal


class AdjustmentLine(QboModel):
    DetailType: Literal["ItemAdjustmentLineDetail"] = "ItemAdjustmentLineDetail"
    ItemAdjustmentLineDetail: ItemAdjustmentDetail
    Description: str | None = None


class InventoryAdjustment(QboModel):
    AdjustAccountRef: Ref
    TxnDate: date
    PrivateNote: str | None = None
    Line: list[AdjustmentLine] = Field(min_length=1)
