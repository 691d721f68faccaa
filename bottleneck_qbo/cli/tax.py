"""``bottleneck-qbo tax``: a company's sales-tax settings (qbo_sync.tax_settings, mappers/tax.py).

US:      bottleneck-qbo tax set --company 1 --kind service=NON --kind inventory=TAX --item 42=NON [--automated-sales-tax]
Non-US:  bottleneck-qbo tax set --company 2 --country CA --sales-code 4 --purchase-code 4
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import psycopg
import typer
from psycopg.rows import dict_row

from bottleneck_qbo.settings import get_settings
from mappers.tax import TaxSettings
from sinks.qbo import tax_settings

app = typer.Typer(no_args_is_help=True, help="Per-company sales-tax settings (line tax codes, automated sales tax).")


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        key, sep, code = v.partition("=")
        if not sep or not key or not code:
            raise typer.BadParameter(f"{what} must look like KEY=CODE, not {v!r}")
        out[key.strip()] = code.strip().upper()
    return out


class _Reader:
    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self.conn = conn

    async def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        return await (await self.conn.execute(sql, params)).fetchone()

    async def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return await (await self.conn.execute(sql, params)).fetchall()


async def _load(dsn: str, company: int) -> TaxSettings:
    async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
        return await tax_settings.load(_Reader(conn), company)


@app.command("set")
def set_(
    company: Annotated[int, typer.Option(help="Bottleneck company id")],
    country: Annotated[str, typer.Option(help="the QBO company's country (ISO code): US, CA, GB, AU...")] = "US",
    automated_sales_tax: Annotated[bool, typer.Option(help="US: the QBO company uses automated sales tax")] = False,
    kind: Annotated[list[str] | None, typer.Option(help="US: ITEM_KIND=TAX|NON (inventory, non_tracking, service); repeatable")] = None,
    item: Annotated[list[str] | None, typer.Option(help="US: ITEM_ID=TAX|NON, overriding the kind; repeatable")] = None,
    sales_code: Annotated[str | None, typer.Option(help="non-US: the TaxCode Id every sales line gets")] = None,
    purchase_code: Annotated[str | None, typer.Option(help="non-US: the TaxCode Id every purchase line gets")] = None,
) -> None:
    """Replace the company's tax settings; documents mapped from now on carry the new codes."""
    try:
        by_item = {int(k): v for k, v in _pairs(item, "--item").items()}
    except ValueError as exc:
        raise typer.BadParameter(f"--item takes ITEM_ID=CODE with a numeric id: {exc}") from exc
    s = TaxSettings(
        country=country.upper(),
        automated_sales_tax=automated_sales_tax,
        code_by_kind=_pairs(kind, "--kind"),
        code_by_item=by_item,
        sales_code=sales_code,
        purchase_code=purchase_code,
    )
    try:
        with psycopg.connect(get_settings().postgres_dsn) as conn:
            tax_settings.save(conn, company, s)
    except tax_settings.TaxSettingsError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"company": company, **tax_settings.describe(s)}))
    typer.echo(f"resync the company to send its documents with these codes: bottleneck-qbo resync --company {company}")


@app.command()
def show(company: Annotated[int, typer.Option(help="Bottleneck company id")]) -> None:
    """Print the company's tax settings as JSON."""
    s = asyncio.run(_load(get_settings().postgres_dsn, company))
    typer.echo(json.dumps({"company": company, **tax_settings.describe(s)}))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tax", help="Per-company sales-tax settings.")
