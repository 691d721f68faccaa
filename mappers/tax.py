"""Per-company sales-tax settings and the line tax code they give (pure; loaded by the engine, set by ``bottleneck-qbo tax``).

- US realms: a line's ``TaxCodeRef`` is ``TAX`` or ``NON``, chosen per item (override) or per item kind;
  with no setting for the item the line carries no code (QBO's default, or automated sales tax, decides).
  Purchases carry no code in the US.
- Non-US realms (CA, GB, AU...): QBO refuses any line without a tax code (fault 6000), so every sales
  line gets the company's default sales tax code id and every purchase line its purchase code id; a
  company without them cannot be mapped (a person must set them).
- Automated sales tax (US): QBO computes ``TxnTaxDetail`` and adds it to ``TotalAmt``; the product never
  sends or compares those (see ``sinks/qbo/hashing.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

US_CODES = ("TAX", "NON")
ITEM_KINDS = ("inventory", "non_tracking", "service")
Side = Literal["sales", "purchase"]


@dataclass(frozen=True)
class TaxSettings:
    country: str = "US"
    automated_sales_tax: bool = False
    code_by_kind: Mapping[str, str] = field(default_factory=dict)  # US: item kind -> TAX | NON
    code_by_item: Mapping[int, str] = field(default_factory=dict)  # US: Bottleneck item id -> TAX | NON
    sales_code: str | None = None  # non-US: TaxCode Id for sales lines
    purchase_code: str | None = None  # non-US: TaxCode Id for purchase lines

    @property
    def us(self) -> bool:
        return self.country.upper() == "US"

    def line_code(self, side: Side, entity: str, doc_id: int, item_id: int, item_kind: str | None) -> str | None:
        """The TaxCodeRef value for one line, or None for no code."""
        if self.us:
            if side == "purchase":
                return None
            return self.code_by_item.get(item_id) or (self.code_by_kind.get(item_kind) if item_kind else None)
        code = self.sales_code if side == "sales" else self.purchase_code
        if not code:
            from mappers.common import MappingError  # here: mappers.common imports this module

            raise MappingError(
                entity,
                doc_id,
                f"the company's QuickBooks is in {self.country.upper()}, where every line needs a tax code; "
                f"set its default {side} tax code with `bottleneck-qbo tax set --company <id> --{side}-code <TaxCode Id>`",
            )
        return code


US_DEFAULT = TaxSettings()
