"""Account resolution per realm: QBO's default names first, then the first active account of the type."""

from __future__ import annotations

import pytest

from sinks.qbo.errors import QboConfigError
from streams.engine.accounts import resolve


def acct(id_: str, name: str, typ: str, sub: str = "", active: bool = True) -> dict[str, object]:
    return {"Id": id_, "Name": name, "AccountType": typ, "AccountSubType": sub, "Active": active}


def test_default_names_win() -> None:
    refs = resolve(
        [
            acct("1", "Other income", "Income", "SalesOfProductIncome"),
            acct("2", "Sales of Product Income", "Income", "SalesOfProductIncome"),
            acct("3", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
            acct("4", "Inventory Asset", "Other Current Asset", "Inventory"),
            acct("5", "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
            acct("6", "Inventory Shrinkage", "Cost of Goods Sold", "OtherCostsOfServiceCos"),
        ]
    )
    assert (refs.income, refs.cogs, refs.asset, refs.ap, refs.adjustment) == ("2", "3", "4", "5", "6")


def test_falls_back_to_type_and_skips_inactive() -> None:
    refs = resolve(
        [
            acct("1", "Widget sales", "Income", "SalesOfProductIncome", active=False),
            acct("2", "Gizmo sales", "Income"),
            acct("3", "COGS", "Cost of Goods Sold"),
            acct("4", "Stock", "Other Current Asset", "Inventory"),
            acct("5", "AP", "Accounts Payable"),
        ]
    )
    assert (refs.income, refs.cogs, refs.asset, refs.ap, refs.adjustment) == ("2", "3", "4", "5", "3")


def test_missing_account_is_a_config_error_naming_it() -> None:
    with pytest.raises(QboConfigError, match="ap"):
        resolve([acct("2", "Sales", "Income"), acct("3", "COGS", "Cost of Goods Sold"), acct("4", "Stock", "Other Current Asset")])
