"""Per-company sales-tax settings in qbo_sync.tax_settings / tax_item_codes (migration 0007).

``load`` is what the engine hands the mappers (through ``Refs.tax``); ``save`` is what
``bottleneck-qbo tax set`` writes. The pure model and its rules are in mappers/tax.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb

from mappers.tax import ITEM_KINDS, US_CODES, TaxSettings


class _Reader(Protocol):
    async def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None: ...

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...


async def load(db: _Reader, company_id: int) -> TaxSettings:
    """The company's settings (a US company with no tax codes when it has none)."""
    row = await db.one(
        "select country, automated_sales_tax, code_by_kind, sales_tax_code, purchase_tax_code from qbo_sync.tax_settings "
        "where company_id = %s",
        (company_id,),
    )
    if row is None:
        return TaxSettings()
    items = await db.all("select item_id, tax_code from qbo_sync.tax_item_codes where company_id = %s", (company_id,))
    return TaxSettings(
        country=row["country"],
        automated_sales_tax=row["automated_sales_tax"],
        code_by_kind=dict(row["code_by_kind"] or {}),
        code_by_item={int(r["item_id"]): r["tax_code"] for r in items},
        sales_code=row["sales_tax_code"],
        purchase_code=row["purchase_tax_code"],
    )


class TaxSettingsError(ValueError):
    pass


def validate(s: TaxSettings) -> None:
    if len(s.country) != 2 or not s.country.isalpha() or not s.country.isupper():
        raise TaxSettingsError(f"country must be a two-letter ISO code such as US, CA or GB, not {s.country!r}")
    if s.us:
        for kind, code in s.code_by_kind.items():
            if kind not in ITEM_KINDS:
                raise TaxSettingsError(f"unknown item kind {kind!r} (one of {', '.join(ITEM_KINDS)})")
            if code not in US_CODES:
                raise TaxSettingsError(f"a US line tax code is TAX or NON, not {code!r}")
        for item, code in s.code_by_item.items():
            if code not in US_CODES:
                raise TaxSettingsError(f"item {item}: a US line tax code is TAX or NON, not {code!r}")
        if s.sales_code or s.purchase_code:
            raise TaxSettingsError("--sales-code/--purchase-code are for companies outside the US (US lines use TAX/NON)")
    else:
        if s.automated_sales_tax:
            raise TaxSettingsError("automated sales tax exists only for US companies")
        if s.code_by_kind or s.code_by_item:
            raise TaxSettingsError(
                "TAX/NON codes by item kind or item are for US companies; outside the US set --sales-code/--purchase-code"
            )
        if not s.sales_code or not s.purchase_code:
            raise TaxSettingsError("a company outside the US needs both --sales-code and --purchase-code (QuickBooks TaxCode Ids)")


def save(conn: psycopg.Connection[Any], company_id: int, s: TaxSettings) -> None:
    """Replace the company's settings (one transaction)."""
    validate(s)
    with conn.transaction():
        conn.execute(
            """insert into qbo_sync.tax_settings
                   (company_id, country, automated_sales_tax, code_by_kind, sales_tax_code, purchase_tax_code, updated_at)
               values (%s, %s, %s, %s, %s, %s, now())
               on conflict (company_id) do update
                  set country = excluded.country, automated_sales_tax = excluded.automated_sales_tax,
                      code_by_kind = excluded.code_by_kind, sales_tax_code = excluded.sales_tax_code,
                      purchase_tax_code = excluded.purchase_tax_code, updated_at = now()""",
            (company_id, s.country, s.automated_sales_tax, Jsonb(dict(s.code_by_kind)), s.sales_code, s.purchase_code),
        )
        conn.execute("delete from qbo_sync.tax_item_codes where company_id = %s", (company_id,))
        for item_id, code in s.code_by_item.items():
            conn.execute(
                "insert into qbo_sync.tax_item_codes (company_id, item_id, tax_code) values (%s, %s, %s)", (company_id, item_id, code)
            )


def describe(s: TaxSettings) -> Mapping[str, Any]:
    return {
        "country": s.country,
        "automated_sales_tax": s.automated_sales_tax,
        "code_by_kind": dict(s.code_by_kind),
        "code_by_item": {str(k): v for k, v in s.code_by_item.items()},
        "sales_code": s.sales_code,
        "purchase_code": s.purchase_code,
    }
