"""Customer, Vendor and Account: display names, uniqueness, inactivation.

Choices (reference marks these UNCONFIRMED or CONFLICT):
- DisplayName max length 500 (API-reference copy; import tools say 100). Change ``DISPLAY_NAME_MAX``.
- Uniqueness is case-insensitive and includes inactive objects (6240). An inactive object is *shown* with
  " (deleted)" appended (captured QBO fixture) but its stored name is unchanged, so it still blocks the name
  and re-activating restores it. A client echoing "X (deleted)" back has the suffix stripped.
"""

from __future__ import annotations

from infra.qbo_sandbox import faults
from infra.qbo_sandbox.rules.common import DELETED_SUFFIX, Ctx, max_len, resolve
from infra.qbo_sandbox.store import JsonObj

DISPLAY_NAME_MAX = 500
_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
_PART_LIMITS = {
    "Title": 16,
    "Suffix": 16,
    "GivenName": 100,
    "MiddleName": 100,
    "FamilyName": 100,
    "CompanyName": 100,
    "PrintOnCheckName": 110,
    "Notes": 2000,
}

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}


def strip_deleted(name: str | None, obj: JsonObj) -> str | None:
    if name and obj.get("Active") is False and name.endswith(DELETED_SUFFIX):
        return name[: -len(DELETED_SUFFIX)]
    return name


def prepare_party(ctx: Ctx, entity: str, obj: JsonObj, old: JsonObj | None) -> None:
    """Customer or Vendor."""
    obj.setdefault("Active", True)
    name = strip_deleted(obj.get("DisplayName"), obj)
    if not name:
        parts = [str(obj[p]) for p in _NAME_PARTS if obj.get(p)]
        if parts:
            name = " ".join(parts)
        elif old is not None:
            name = old["DisplayName"]
        else:
            raise faults.no_name()
    name = str(name).strip()
    obj["DisplayName"] = name
    if len(name) > DISPLAY_NAME_MAX:
        raise faults.too_long("DisplayName", DISPLAY_NAME_MAX)
    for key, limit in _PART_LIMITS.items():
        max_len(obj, key, limit)
    for key in ("DisplayName", *_NAME_PARTS, "PrintOnCheckName"):
        v = obj.get(key)
        if isinstance(v, str) and any(c in v for c in ":\t\n"):
            raise faults.business(f"{key} cannot contain a colon, tab or newline", key)
    own_id = old["Id"] if old else None
    folded = name.casefold()
    for other_entity in ("Customer", "Vendor"):
        for other in ctx.realm.table(other_entity).values():
            if other["DisplayName"].casefold() == folded and not (other_entity == entity and other["Id"] == own_id):
                raise faults.duplicate_name(name)
    fqn = name
    if entity == "Customer":
        obj["Level"] = 0  # Vendor has no Level in Intuit's schema
    else:
        obj.pop("Level", None)
    if entity == "Customer" and obj.get("ParentRef"):
        parent = resolve(ctx, obj, "ParentRef", "Customer")
        assert parent is not None
        if parent["Level"] >= 4:
            raise faults.business("Customers can be nested at most 4 levels deep", "ParentRef")
        fqn = f"{parent['FullyQualifiedName']}:{name}"
        obj["Level"] = parent["Level"] + 1
        obj["Job"] = obj.get("Job", True)
    obj["FullyQualifiedName"] = fqn
    obj.setdefault("PrintOnCheckName", name)
    obj.setdefault("Balance", old.get("Balance", 0) if old else 0)


def prepare_account(ctx: Ctx, obj: JsonObj, old: JsonObj | None) -> None:
    obj.setdefault("Active", True)
    name = strip_deleted(obj.get("Name"), obj)
    if not name:
        raise faults.required("Name")
    obj["Name"] = name
    max_len(obj, "Name", 100)
    acct_type = obj.get("AccountType")
    if not acct_type:
        raise faults.required("AccountType")
    if acct_type not in ACCOUNT_CLASSIFICATION:
        raise faults.bad_enum("AccountType", acct_type)
    obj["Classification"] = ACCOUNT_CLASSIFICATION[acct_type]
    own_id = old["Id"] if old else None
    for other in ctx.realm.table("Account").values():
        if other["Name"].casefold() == name.casefold() and other["Id"] != own_id:
            raise faults.validation("6240", "Duplicate Name Exists Error", f"The name supplied already exists. : Account {name!r}")
    obj["FullyQualifiedName"] = name
    obj.setdefault("SubAccount", False)
    obj.setdefault("CurrentBalance", 0)
    obj.setdefault("CurrentBalanceWithSubAccounts", 0)


SEED_ACCOUNTS: list[JsonObj] = [
    {"Name": "Inventory Asset", "AccountType": "Other Current Asset", "AccountSubType": "Inventory"},
    {"Name": "Sales of Product Income", "AccountType": "Income", "AccountSubType": "SalesOfProductIncome"},
    {"Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold", "AccountSubType": "SuppliesMaterialsCogs"},
    {"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable", "AccountSubType": "AccountsPayable"},
    {"Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable", "AccountSubType": "AccountsReceivable"},
    {"Name": "Checking", "AccountType": "Bank", "AccountSubType": "Checking"},
    {"Name": "Inventory Shrinkage", "AccountType": "Cost of Goods Sold", "AccountSubType": "OtherCostsOfServiceCos"},
    {"Name": "Undeposited Funds", "AccountType": "Other Current Asset", "AccountSubType": "UndepositedFunds"},
    {"Name": "Services", "AccountType": "Income", "AccountSubType": "ServiceFeeIncome"},
]


def account_by_subtype(ctx: Ctx, subtype: str) -> JsonObj | None:
    for acct in ctx.realm.table("Account").values():
        if acct.get("AccountSubType") == subtype and acct.get("Active", True):
            return acct
    return None
