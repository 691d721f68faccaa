"""Every processor the worker runs: ONE line per processor. The conformance suite runs for every entry."""

from __future__ import annotations

from streams.engine.registry import Registry
from streams.processors.inventory import ItemQuantityProcessor, LotQuantityProcessor
from streams.processors.items import ItemCategoryProcessor, ItemProcessor, LotProcessor
from streams.processors.parties import CustomerProcessor, VendorProcessor
from streams.processors.purchasing import BillProcessor, PurchaseOrderProcessor
from streams.processors.sales import InvoiceProcessor, SalesOrderProcessor

REGISTRY = Registry(
    [
        CustomerProcessor(),
        VendorProcessor(),
        ItemCategoryProcessor(),
        ItemProcessor(),
        LotProcessor(),
        SalesOrderProcessor(),
        InvoiceProcessor(),
        PurchaseOrderProcessor(),
        BillProcessor(),
        LotQuantityProcessor(),
        ItemQuantityProcessor(),
    ]
)
