"""`bottleneck-qbo tax set/show` against a real Postgres with the project's migrations (0006 tax settings)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg.rows import dict_row
from typer.testing import CliRunner

from bottleneck_qbo.cli import app
from bottleneck_qbo.settings import get_settings
from mappers.tax import TaxSettings
from sinks.qbo import tax_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def pg(private_pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = urlparse(private_pg_dsn)
    for key, value in {
        "BQ_PG_HOST": url.hostname,
        "BQ_PG_PORT": str(url.port),
        "BQ_PG_USER": url.username,
        "BQ_PG_DATABASE": url.path[1:],
    }.items():
        monkeypatch.setenv(key, str(value))
    # the CLI reads settings once per process: an earlier test may have cached the stack's
    get_settings.cache_clear()
    yield private_pg_dsn
    get_settings.cache_clear()


def _company(dsn: str, name: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("insert into companies (name) values (%s) returning id", (name,)).fetchone()
        assert row is not None
        return int(row[0])


class _Reader:
    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self.conn = conn

    async def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        return await (await self.conn.execute(sql, params)).fetchone()

    async def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return await (await self.conn.execute(sql, params)).fetchall()


def _load(dsn: str, company: int) -> TaxSettings:
    async def go() -> TaxSettings:
        async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
            return await tax_settings.load(_Reader(conn), company)

    return asyncio.run(go())


def test_us_settings_by_kind_with_item_overrides(pg: str) -> None:
    company = _company(pg, "US tax co")
    assert _load(pg, company) == TaxSettings(), "no row: a US company whose lines carry no code"
    args = ["tax", "set", "--company", str(company), "--automated-sales-tax", "--kind", "service=non", "--kind", "inventory=TAX"]
    out = CliRunner().invoke(app, [*args, "--item", "42=TAX"])
    assert out.exit_code == 0, out.output
    want = TaxSettings(automated_sales_tax=True, code_by_kind={"service": "NON", "inventory": "TAX"}, code_by_item={42: "TAX"})
    assert _load(pg, company) == want
    shown = CliRunner().invoke(app, ["tax", "show", "--company", str(company)])
    assert json.loads(shown.output)["code_by_item"] == {"42": "TAX"}
    # set replaces: the override is gone
    assert CliRunner().invoke(app, ["tax", "set", "--company", str(company), "--kind", "service=TAX"]).exit_code == 0
    assert _load(pg, company) == TaxSettings(code_by_kind={"service": "TAX"})


def test_non_us_settings_need_both_codes(pg: str) -> None:
    company = _company(pg, "CA tax co")
    half = CliRunner().invoke(app, ["tax", "set", "--company", str(company), "--country", "ca", "--sales-code", "4"])
    assert half.exit_code == 1 and "--purchase-code" in half.output
    assert _load(pg, company) == TaxSettings(), "a refused setting writes nothing"
    ok = CliRunner().invoke(app, ["tax", "set", "--company", str(company), "--country", "CA", "--sales-code", "4", "--purchase-code", "6"])
    assert ok.exit_code == 0, ok.output
    assert _load(pg, company) == TaxSettings(country="CA", sales_code="4", purchase_code="6")
    for bad in (["--automated-sales-tax"], ["--kind", "service=TAX"]):
        refused = CliRunner().invoke(
            app, ["tax", "set", "--company", str(company), "--country", "CA", "--sales-code", "4", "--purchase-code", "6", *bad]
        )
        assert refused.exit_code == 1


def test_us_codes_are_tax_or_non(pg: str) -> None:
    company = _company(pg, "US bad code co")
    out = CliRunner().invoke(app, ["tax", "set", "--company", str(company), "--kind", "service=8"])
    assert out.exit_code == 1 and "TAX or NON" in out.output
