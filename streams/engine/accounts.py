"""The QBO accounts items and documents post to, resolved once per realm by name, then by type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mappers.common import AccountRefs
from sinks.qbo.api import QboApi
from sinks.qbo.errors import QboConfigError


@dataclass(frozen=True)
class AccountNames:
    """Preferred account names (QBO's defaults); when absent, the first account of the right type is used."""

    income: str = "Sales of Product Income"
    cogs: str = "Cost of Goods Sold"
    asset: str = "Inventory Asset"
    ap: str = "Accounts Payable (A/P)"
    adjustment: str = "Inventory Shrinkage"


def _pick(accounts: list[dict[str, Any]], name: str, *tests: Callable[[dict[str, Any]], bool]) -> str | None:
    for acc in accounts:
        if acc.get("Name") == name:
            return str(acc["Id"])
    for test in tests:
        for acc in accounts:
            if test(acc):
                return str(acc["Id"])
    return None


def resolve(accounts: list[dict[str, Any]], names: AccountNames = AccountNames()) -> AccountRefs:
    active = [a for a in accounts if a.get("Active", True) is not False]

    def typ(t: str) -> Callable[[dict[str, Any]], bool]:
        return lambda a: a.get("AccountType") == t

    def sub(s: str) -> Callable[[dict[str, Any]], bool]:
        return lambda a: a.get("AccountSubType") == s

    found = {
        "income": _pick(active, names.income, sub("SalesOfProductIncome"), typ("Income")),
        "cogs": _pick(active, names.cogs, sub("SuppliesMaterialsCogs"), typ("Cost of Goods Sold")),
        "asset": _pick(active, names.asset, sub("Inventory"), typ("Other Current Asset")),
        "ap": _pick(active, names.ap, typ("Accounts Payable")),
    }
    found["adjustment"] = _pick(active, names.adjustment) or found["cogs"]
    missing = [k for k, v in found.items() if v is None]
    if missing:
        raise QboConfigError(
            f"the QuickBooks company has no account for: {', '.join(missing)} "
            f"(looked for {', '.join(getattr(names, k) for k in missing)} or an account of that type)"
        )
    return AccountRefs(**found)  # type: ignore[arg-type]


class AccountResolver:
    def __init__(self, qbo: QboApi, names: AccountNames = AccountNames()) -> None:
        self._qbo = qbo
        self._names = names
        self._cache: dict[str, AccountRefs] = {}

    async def for_realm(self, realm_id: str) -> AccountRefs:
        if realm_id not in self._cache:
            self._cache[realm_id] = resolve(await self._qbo.query(realm_id, "select * from Account"), self._names)
        return self._cache[realm_id]
