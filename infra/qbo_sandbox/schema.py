"""Which entities the sandbox serves and which top-level properties each accepts (unknown -> fault 2010).

Property lists are Intuit's v3 XSD (reference §13 A1) as derived into ``schema_facts/fields.json``; the
engine checks top-level and nested keys against them.
"""

from __future__ import annotations

from infra.qbo_sandbox import schema_facts

NAME_LISTS = ("Customer", "Vendor", "Item", "Account")
TRANSACTIONS = ("Estimate", "Invoice", "PurchaseOrder", "Bill", "Payment", "BillPayment", "InventoryAdjustment")
ENTITIES = NAME_LISTS + TRANSACTIONS

RESOURCE_TO_ENTITY = {e.lower(): e for e in ENTITIES}
# Answered by queries only (the sandbox seeds them per realm's region; infra/qbo_sandbox/tax.py).
TAX_LISTS = ("TaxCode", "TaxRate")
QUERYABLE = ENTITIES + TAX_LISTS

VOIDABLE = frozenset({"Invoice", "Payment", "BillPayment"})
DELETABLE = frozenset(TRANSACTIONS)
# Entities QBO sends webhooks for (reference §11.5); InventoryAdjustment is not among them.
WEBHOOK_ENTITIES = frozenset(
    {"Customer", "Vendor", "Item", "Account", "Estimate", "Invoice", "PurchaseOrder", "Bill", "Payment", "BillPayment"}
)

# Which properties each entity may carry comes from Intuit's XSD, through the facts derived from it
# (schema_facts/derive.py -> fields.json): no hand-kept lists.
KNOWN_PROPERTIES: dict[str, frozenset[str]] = {name: frozenset(schema_facts.fields_of(name)) for name in ENTITIES}

# Fields the server computes; ignored on input (a client echoing a read object back must not break).
READ_ONLY = frozenset(
    {
        "Id",
        "SyncToken",
        "MetaData",
        "domain",
        "sparse",
        "status",
        "FullyQualifiedName",
        "Level",
        "Balance",
        "BalanceWithJobs",
        "UnappliedAmt",
        "HomeBalance",
        "CurrentBalance",
        "CurrentBalanceWithSubAccounts",
    }
)

ITEM_TYPES = ("Inventory", "NonInventory", "Service", "Category")
