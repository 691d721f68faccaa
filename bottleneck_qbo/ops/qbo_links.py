"""Where a person opens a QBO object: QuickBooks' own pages for real QBO, the API URL for the local sandbox."""

from __future__ import annotations

from urllib.parse import quote

from bottleneck_qbo.settings import Settings

# QBO web app pages by entity (https://app.qbo.intuit.com/app/...); names by nameId, transactions by txnId.
_APP_PAGES: dict[str, str] = {
    "Customer": "customerdetail?nameId={id}",
    "Vendor": "vendordetail?nameId={id}",
    "Invoice": "invoice?txnId={id}",
    "Estimate": "estimate?txnId={id}",
    "SalesReceipt": "salesreceipt?txnId={id}",
    "PurchaseOrder": "purchaseorder?txnId={id}",
    "Bill": "bill?txnId={id}",
    "Payment": "recvpayment?txnId={id}",
    "BillPayment": "billpayment?txnId={id}",
    "CreditMemo": "creditmemo?txnId={id}",
    "InventoryAdjustment": "inventoryadjustment?txnId={id}",
    "Item": "items",  # QBO has no per-item page: the list, searchable
}


def qbo_url(settings: Settings, realm_id: str, qbo_entity: str, qbo_id: str) -> str:
    if settings.qbo_environment == "local":
        return f"{settings.qbo_base_url.rstrip('/')}/v3/company/{quote(realm_id)}/{qbo_entity.lower()}/{quote(qbo_id)}"
    host = "app.sandbox.qbo.intuit.com" if "sandbox" in settings.qbo_base_url else "app.qbo.intuit.com"
    page = _APP_PAGES.get(qbo_entity, "homepage").format(id=quote(qbo_id))
    return f"https://{host}/app/{page}"
