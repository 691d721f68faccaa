"""Customer and Vendor (QBO name lists): DisplayName = Bottleneck name, the natural key users search by."""

from __future__ import annotations

from typing import Any

from mappers import bottleneck as bn
from mappers import qbo as q
from mappers.common import (
    MAX_COMPANY_NAME,
    MAX_DISPLAY_NAME,
    MAX_NOTES,
    MAX_PHONE,
    check_len,
    check_name,
)


def address(addr: bn.Address | None) -> q.PhysicalAddress | None:
    if addr is None or not any(addr.model_dump().values()):
        return None
    return q.PhysicalAddress(
        Line1=addr.line1,
        Line2=addr.line2,
        City=addr.city,
        CountrySubDivisionCode=addr.region,
        PostalCode=addr.postal_code,
        Country=addr.country,
    )


def _contact(entity: str, row: bn.Customer | bn.Vendor) -> dict[str, Any]:
    email = row.email.strip() if row.email else None
    phone = check_len(entity, row.id, "phone", row.phone.strip() if row.phone else None, MAX_PHONE)
    return {
        "DisplayName": check_name(entity, row.id, "name", row.qbo_name, MAX_DISPLAY_NAME),
        "CompanyName": check_len(entity, row.id, "company_name", row.company_name, MAX_COMPANY_NAME),
        "PrimaryEmailAddr": q.EmailAddr(Address=email) if email else None,
        "PrimaryPhone": q.Phone(FreeFormNumber=phone) if phone else None,
        "BillAddr": address(row.billing_address),
        "Notes": check_len(entity, row.id, "notes", row.notes, MAX_NOTES),
        "Active": row.is_active,
    }


def customer_to_qbo(row: bn.Customer) -> dict[str, Any]:
    return q.Customer(**_contact("customer", row), ShipAddr=address(row.shipping_address)).to_qbo()


def vendor_to_qbo(row: bn.Vendor) -> dict[str, Any]:
    return q.Vendor(**_contact("vendor", row)).to_qbo()
