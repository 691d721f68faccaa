"""QBO field limits: the one set every check uses (the mappers before mapping, the QBO client's local
validation before sending). Source: /work/shared/reference/qbo.md section 12 (Intuit's API reference).

DisplayName is 500 in Intuit's API reference, which the QBO sandbox enforces too; third-party import tools
quote 100 (a QuickBooks Desktop figure), which QBO's API does not enforce.
"""

from __future__ import annotations

DISPLAY_NAME = 500  # Customer / Vendor / Employee DisplayName
COMPANY_NAME = 100
ITEM_NAME = 100
SKU = 100
DOC_NUMBER = 21
NOTES = 2000  # Customer / Vendor Notes
PRIVATE_NOTE = 4000
DESCRIPTION = 4000  # Line.Description, Item.Description
PHONE = 30
