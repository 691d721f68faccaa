"""What every mapper shares: the mapping error, resolved references, QBO money rounding, field rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from mappers import limits
from mappers.tax import TaxSettings

CENT = Decimal("0.01")

# QBO field limits, under the names the mappers use (the one set lives in mappers/limits.py).
MAX_ITEM_NAME = limits.ITEM_NAME
MAX_SKU = limits.SKU
MAX_DOC_NUMBER = limits.DOC_NUMBER
MAX_DISPLAY_NAME = limits.DISPLAY_NAME
MAX_COMPANY_NAME = limits.COMPANY_NAME
MAX_NOTES = limits.NOTES
MAX_PRIVATE_NOTE = limits.PRIVATE_NOTE
MAX_DESCRIPTION = limits.DESCRIPTION
MAX_PHONE = limits.PHONE
_FORBIDDEN_NAME_CHARS = (":", "\t", "\n", "\r")


class MappingError(ValueError):
    """A Bottleneck row cannot become a valid QBO object. ``str()`` is a message for a human."""

    def __init__(self, entity: str, local_id: int | None, message: str) -> None:
        self.entity = entity
        self.local_id = local_id
        self.reason = message
        super().__init__(f"{entity} {local_id}: {message}")


class MissingReference(MappingError):
    """A dependency has no QBO id yet (the engine ensures dependencies before mapping)."""


@dataclass(frozen=True)
class AccountRefs:
    """QBO account ids of one realm, resolved once per realm by the engine."""

    income: str
    cogs: str
    asset: str
    ap: str
    adjustment: str


class Refs(Protocol):
    """Resolves Bottleneck ids to QBO ids for a mapper (pure lookups, no I/O)."""

    @property
    def accounts(self) -> AccountRefs: ...

    @property
    def tax(self) -> TaxSettings: ...

    def qbo_id(self, entity_type: str, local_id: int) -> str: ...

    def qbo_id_or_none(self, entity_type: str, local_id: int) -> str | None: ...

    def qbo_line_id(self, entity_type: str, local_id: int, local_line_id: int) -> str | None: ...


@dataclass
class StaticRefs:
    """A dict-backed ``Refs``: what the engine builds from the id map after ensuring dependencies."""

    accounts: AccountRefs
    ids: Mapping[tuple[str, int], str] = field(default_factory=dict)
    line_ids: Mapping[tuple[str, int], Mapping[str, str]] = field(default_factory=dict)
    tax: TaxSettings = field(default_factory=TaxSettings)  # the company's sales-tax settings (mappers/tax.py)

    def qbo_id(self, entity_type: str, local_id: int) -> str:
        found = self.ids.get((entity_type, local_id))
        if found is None:
            raise MissingReference(entity_type, local_id, "is not in QuickBooks yet")
        return found

    def qbo_id_or_none(self, entity_type: str, local_id: int) -> str | None:
        return self.ids.get((entity_type, local_id))

    def qbo_line_id(self, entity_type: str, local_id: int, local_line_id: int) -> str | None:
        return self.line_ids.get((entity_type, local_id), {}).get(str(local_line_id))


def amount(qty: Decimal, unit_price: Decimal) -> Decimal:
    """A line's Amount the way QBO checks it: Qty x UnitPrice rounded half-up to the cent.

    Bottleneck keeps quantities and prices at 4 decimals; we send Qty and UnitPrice unchanged (so the
    quantity QBO moves in stock is exact) and Amount as their product rounded to cents. QBO's 6070 check
    compares Amount with the product rounded to the currency's 2 decimals, which this satisfies by
    construction.
    """
    return (qty * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def price(value: Decimal) -> Decimal:
    """Drop trailing zeros of a numeric(14,4) (12.5000 -> 12.5) so payloads and their hashes are canonical."""
    normal = value.normalize()
    # normalize() turns 100 into 1E+2: put it back to a plain exponent-0 number.
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def check_name(entity: str, local_id: int, field_name: str, value: str, max_len: int) -> str:
    text = value.strip()
    if not text:
        raise MappingError(entity, local_id, f"{field_name} is empty")
    if len(text) > max_len:
        raise MappingError(entity, local_id, f"{field_name} {text[:30]!r}... is {len(text)} characters; QuickBooks allows {max_len}")
    bad = [c for c in _FORBIDDEN_NAME_CHARS if c in text]
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise MappingError(entity, local_id, f"{field_name} {text!r} contains {shown}, which QuickBooks does not allow in names")
    return text


def check_len(entity: str, local_id: int, field_name: str, value: str | None, max_len: int) -> str | None:
    if value is None:
        return None
    if len(value) > max_len:
        raise MappingError(entity, local_id, f"{field_name} is {len(value)} characters; QuickBooks allows {max_len}")
    return value


def check_doc_number(entity: str, local_id: int, number: str) -> str:
    text = number.strip()
    if not text:
        raise MappingError(entity, local_id, "number is empty")
    if len(text) > MAX_DOC_NUMBER:
        raise MappingError(entity, local_id, f"number {text!r} is {len(text)} characters; QuickBooks DocNumber allows {MAX_DOC_NUMBER}")
    return text
