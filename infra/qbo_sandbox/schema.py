"""Which entities the sandbox serves and which top-level properties each accepts (unknown -> fault 2010).

Property lists follow Intuit's v3 XSD (reference §13 A1). Only top-level properties are checked.
"""

from __future__ import annotations

NAME_LISTS = ("Customer", "Vendor", "Item", "Account")
TRANSACTIONS = ("Estimate", "Invoice", "PurchaseOrder", "Bill", "Payment", "BillPayment", "InventoryAdjustment")
ENTITIES = NAME_LISTS + TRANSACTIONS

RESOURCE_TO_ENTITY = {e.lower(): e for e in ENTITIES}

VOIDABLE = frozenset({"Invoice", "Payment", "BillPayment"})
DELETABLE = frozenset(TRANSACTIONS)
# Entities QBO sends webhooks for (reference §11.5); InventoryAdjustment is not among them.
WEBHOOK_ENTITIES = frozenset({"Customer", "Vendor", "Item", "Account", "Estimate", "Invoice", "PurchaseOrder", "Bill", "Payment", "BillPayment"})

_COMMON = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "CustomField", "AttachableRef", "TxnSource"}

_NAME_BASE = {
    "Organization", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "FullyQualifiedName", "CompanyName",
    "DisplayName", "PrintOnCheckName", "UserId", "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax",
    "PrimaryEmailAddr", "WebAddr", "OtherContactInfo", "DefaultTaxCodeRef", "Source",
}

_CUSTOMER = _NAME_BASE | {
    "Taxable", "BillAddr", "ShipAddr", "OtherAddr", "ContactName", "AltContactName", "Notes", "Job", "BillWithParent",
    "RootCustomerRef", "ParentRef", "Level", "CustomerTypeRef", "SalesTermRef", "SalesRepRef", "PaymentMethodRef",
    "CCDetail", "PriceLevelRef", "Balance", "OpenBalanceDate", "BalanceWithJobs", "CreditLimit", "AcctNum",
    "CurrencyRef", "OverDueBalance", "TotalRevenue", "TotalExpense", "PreferredDeliveryMethod", "ResaleNum",
    "JobInfo", "TDSEnabled", "CustomerEx", "SecondaryTaxIdentifier", "ARAccountRef", "PrimaryTaxIdentifier",
    "TaxExemptionReasonId", "IsProject", "BusinessNumber", "GSTIN", "GSTRegistrationType", "IsCISContractor",
    "ClientCompanyId", "ClientEntityId", "TaxRegistrationNumber",
}

_VENDOR = _NAME_BASE | {
    "ContactName", "AltContactName", "Notes", "BillAddr", "ShipAddr", "OtherAddr", "TaxCountry", "TaxIdentifier",
    "BusinessNumber", "ParentRef", "VendorTypeRef", "TermRef", "PrefillAccountRef", "Balance", "BillRate",
    "OpenBalanceDate", "CreditLimit", "AcctNum", "Vendor1099", "T4AEligible", "T5018Eligible", "CurrencyRef",
    "TaxReportingBasis", "APAccountRef", "VendorEx", "GSTIN", "GSTRegistrationType", "IsSalesTaxVendor",
    "HasTPAR", "CostRate", "VendorPaymentBankDetail", "TaxRegistrationNumber",
}

_ITEM = {
    "Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level", "FullyQualifiedName", "Taxable",
    "SalesTaxIncluded", "PercentBased", "UnitPrice", "RatePercent", "Type", "PaymentMethodRef", "UOMSetRef",
    "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost", "ExpenseAccountRef",
    "COGSAccountRef", "AssetAccountRef", "PrefVendorRef", "AvgCost", "TrackQtyOnHand", "QtyOnHand",
    "QtyOnPurchaseOrder", "QtyOnSalesOrder", "ReorderPoint", "ManPartNum", "DepositToAccountRef",
    "SalesTaxCodeRef", "PurchaseTaxCodeRef", "InvStartDate", "BuildPoint", "PrintGroupedItems", "SpecialItem",
    "SpecialItemType", "ItemGroupDetail", "ItemAssemblyDetail", "AbatementRate", "ReverseChargeRate",
    "ServiceType", "ItemCategoryType", "ItemEx", "TaxClassificationRef", "UQCDisplayText", "UQCId",
    "ClassRef", "Source",
}

_ACCOUNT = {
    "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName", "AccountAlias", "TxnLocationType",
    "Active", "Classification", "AccountType", "AccountSubType", "AccountPurposes", "AcctNum", "BankNum",
    "OpeningBalance", "OpeningBalanceDate", "CurrentBalance", "CurrentBalanceWithSubAccounts", "CurrencyRef",
    "TaxAccount", "TaxCodeRef", "OnlineBankingEnabled", "FIName", "JournalCodeRef", "AccountEx",
}

_TXN = {
    "DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef", "ExchangeRate", "PrivateNote", "TxnStatus", "LinkedTxn",
    "Line", "TxnTaxDetail", "TaxFormType", "TaxFormNum", "TransactionLocationType", "Tag", "TxnApprovalInfo",
    "RecurDataRef", "RecurringInfo", "ProjectRef", "GlobalTaxCalculation", "HomeTotalAmt",
}

_SALES = _TXN | {
    "AutoDocNumber", "CustomerRef", "CustomerMemo", "BillAddr", "ShipAddr", "FreeFormAddress", "ShipFromAddr",
    "RemitToRef", "ClassRef", "SalesTermRef", "DueDate", "SalesRepRef", "PONumber", "FOB", "ShipMethodRef",
    "ShipDate", "TrackingNum", "TotalAmt", "ApplyTaxAfterDiscount", "TemplateRef", "PrintStatus", "EmailStatus",
    "BillEmail", "BillEmailCc", "BillEmailBcc", "ARAccountRef", "Balance", "HomeBalance", "FinanceCharge",
    "PaymentMethodRef", "PaymentRefNum", "PaymentType", "CheckPayment", "CreditCardPayment", "DepositToAccountRef",
    "DeliveryInfo", "DiscountRate", "DiscountAmt", "GovtTxnRefIdentifier", "TaxExemptionRef", "SalesTransactionEx",
}

_ESTIMATE = _SALES | {"ExpirationDate", "AcceptedBy", "AcceptedDate", "EstimateEx"}
_INVOICE = _SALES | {
    "Deposit", "AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment",
    "InvoiceEx", "InvoiceLink", "EInvoiceStatus", "ECloudStatusTimeStamp", "CfdiUse", "Exportation", "GlobalInfo",
}

_PURCHASE_BY_VENDOR = _TXN | {"VendorRef", "APAccountRef", "TotalAmt", "BillEmail", "ReplyEmail", "VendorAddr", "ShipAddr", "ClassRef", "SalesTermRef", "DueDate", "ShipMethodRef"}
_PO = _PURCHASE_BY_VENDOR | {"POEmail", "ShipTo", "Memo", "POStatus", "ManuallyClosed", "EmailStatus", "PrintStatus", "PurchaseOrderEx"}
_BILL = _PURCHASE_BY_VENDOR | {"RemitToAddr", "Balance", "HomeBalance", "BillEx", "IncludeInAnnualTPAR"}

_PAYMENT = _TXN | {
    "CustomerRef", "RemitToRef", "ARAccountRef", "DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
    "PaymentType", "AccountRef", "CheckPayment", "CreditCardPayment", "TotalAmt", "UnappliedAmt", "ProcessPayment",
    "PaymentEx",
}
_BILL_PAYMENT = _TXN | {"VendorRef", "PayType", "CheckPayment", "CreditCardPayment", "APAccountRef", "TotalAmt", "ProcessBillPayment", "BillPaymentEx"}
_INVENTORY_ADJUSTMENT = _TXN | {"AdjustAccountRef", "ShippingAdjustment", "CustomerRef", "ClassRef"}

KNOWN_PROPERTIES: dict[str, frozenset[str]] = {
    name: frozenset(props | _COMMON)
    for name, props in {
        "Customer": _CUSTOMER,
        "Vendor": _VENDOR,
        "Item": _ITEM,
        "Account": _ACCOUNT,
        "Estimate": _ESTIMATE,
        "Invoice": _INVOICE,
        "PurchaseOrder": _PO,
        "Bill": _BILL,
        "Payment": _PAYMENT,
        "BillPayment": _BILL_PAYMENT,
        "InventoryAdjustment": _INVENTORY_ADJUSTMENT,
    }.items()
}

# Fields the server computes; ignored on input (a client echoing a read object back must not break).
READ_ONLY = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "FullyQualifiedName", "Level", "Balance", "BalanceWithJobs", "UnappliedAmt", "HomeBalance", "CurrentBalance", "CurrentBalanceWithSubAccounts", "POStatus"})

ITEM_TYPES = ("Inventory", "NonInventory", "Service", "Category")
