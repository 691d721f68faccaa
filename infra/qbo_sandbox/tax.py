"""Sales tax and regional companies (reference §12b).

A realm has a country and, for the US, an automated-sales-tax (AST) flag, set when it is created
(``POST /__sandbox/realms {"country": "CA", "automated_sales_tax": false, "tax_rate": "13"}``).

- US: a line's ``TaxCodeRef`` is ``TAX`` or ``NON``; anything else faults 6100. With AST, QBO computes the
  tax: ``TxnTaxDetail`` is filled and ``TotalAmt`` = subtotal - discounts + tax on sales documents. A line
  without a code is taxable (AST assigns the code; choice). Without AST no tax is computed (manual tax
  is not modelled) and purchases are never taxed.
- Non-US: every sales and purchase line needs a ``TaxCodeRef`` naming one of the realm's numbered tax
  codes, else fault 6000 "Make sure all your transactions have a GST/HST rate" (VAT for GB, GST for AU).
  Tax is computed per line from its code's rate; ``GlobalTaxCalculation`` TaxExcluded (default) adds it to
  ``TotalAmt``, TaxInclusive takes it out of the line amounts, NotApplicable computes none. A US realm
  ignores ``GlobalTaxCalculation`` (choice: widely used clients send it on every document).
- Rounding: tax per document, half-up to the cent (QBO's own rounding is UNCONFIRMED, §12).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from infra.qbo_sandbox import faults
from infra.qbo_sandbox.rules.common import Ctx, dec, money
from infra.qbo_sandbox.store import JsonObj, Realm

DEFAULT_RATE = Decimal("8.25")  # percent; set per realm with tax_rate
US_CODES = ("TAX", "NON")
_TAX_NAME = {"CA": "GST/HST", "GB": "VAT", "UK": "VAT", "AU": "GST", "IN": "GST"}
TAXED_DETAILS = ("SalesItemLineDetail", "ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail")
GLOBAL_TAX = ("TaxExcluded", "TaxInclusive", "NotApplicable")


def settings(realm: Realm) -> JsonObj:
    s = realm.settings
    return {
        "country": str(s.get("country") or "US").upper(),
        "automated_sales_tax": bool(s.get("automated_sales_tax", False)),
        "tax_rate": Decimal(str(s.get("tax_rate", DEFAULT_RATE))),
    }


def is_us(realm: Realm) -> bool:
    return bool(settings(realm)["country"] == "US")


def seed(realm: Realm, ts: str) -> None:
    """The realm's TaxCode (and TaxRate) list: TAX/NON in the US, numbered codes elsewhere."""
    cfg = settings(realm)
    meta = {"CreateTime": ts, "LastUpdatedTime": ts}
    base: JsonObj = {"domain": "QBO", "sparse": False, "SyncToken": "0", "MetaData": meta, "Active": True}
    codes, rates = realm.table("TaxCode"), realm.table("TaxRate")
    if cfg["country"] == "US":
        codes["TAX"] = {**base, "Id": "TAX", "Name": "TAX", "Description": "TAX", "Taxable": True, "TaxGroup": False}
        codes["NON"] = {**base, "Id": "NON", "Name": "NON", "Description": "NON", "Taxable": False, "TaxGroup": False}
        if cfg["automated_sales_tax"]:
            rates["1"] = {**base, "Id": "1", "Name": "Automated sales tax", "RateValue": cfg["tax_rate"], "SpecialTaxType": "NONE"}
        return
    label = _TAX_NAME.get(cfg["country"], "Sales tax")
    for rid, code_id, name, rate in (
        ("1", "2", "Exempt", Decimal(0)),
        ("2", "3", "Zero-rated", Decimal(0)),
        ("3", "4", label, cfg["tax_rate"]),
    ):
        rates[rid] = {**base, "Id": rid, "Name": name, "Description": name, "RateValue": rate, "SpecialTaxType": "NONE"}
        detail = {"TaxRateDetail": [{"TaxRateRef": {"value": rid, "name": name}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]}
        codes[code_id] = {
            **base,
            "Id": code_id,
            "Name": name,
            "Description": name,
            "Taxable": True,
            "TaxGroup": True,
            "SalesTaxRateList": detail,
            "PurchaseTaxRateList": detail,
        }


def _missing_code(country: str) -> faults.QboFault:
    label = _TAX_NAME.get(country, "tax")
    return faults.validation(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: Make sure all your transactions have a {label} rate before you save.",
    )


def _line_code(ctx: Ctx, line: JsonObj, detail_type: str) -> str | None:
    detail = line.get(detail_type)
    if not isinstance(detail, dict):
        return None
    ref = detail.get("TaxCodeRef")
    if ref is None:
        return None
    if not isinstance(ref, dict) or ref.get("value") in (None, ""):
        raise faults.invalid_ref(f"Line.{detail_type}.TaxCodeRef", ref, "a reference is an object with a value")
    return str(ref["value"])


def check_lines(ctx: Ctx, obj: JsonObj) -> None:
    """Refuse lines whose tax code is missing (non-US) or not one of the realm's (any region)."""
    cfg = settings(ctx.realm)
    for line in obj.get("Line") or []:
        if not isinstance(line, dict) or line.get("DetailType") not in TAXED_DETAILS:
            continue
        dt = line["DetailType"]
        code = _line_code(ctx, line, dt)
        if cfg["country"] == "US":
            if code is not None and code not in US_CODES:
                raise faults.validation(
                    "6100",
                    "Invalid Line TaxCode in the request",
                    f"Valid line TaxCodes for US should be TAX or NON. Supplied value: {code}",
                    f"Line.{dt}.TaxCodeRef",
                )
        elif code is None:
            raise _missing_code(cfg["country"])
        elif ctx.realm.get("TaxCode", code) is None:
            raise faults.invalid_ref(f"Line.{dt}.TaxCodeRef", code, "no TaxCode with this Id")
    gtc = obj.get("GlobalTaxCalculation")
    if gtc is not None and gtc not in GLOBAL_TAX:
        raise faults.bad_enum("GlobalTaxCalculation", gtc)
    if cfg["country"] == "US":
        # non-US only; US companies ignore it (python-quickbooks sends TaxExcluded on every sales document)
        obj.pop("GlobalTaxCalculation", None)


def _rate_of(ctx: Ctx, code: str) -> tuple[str, Decimal]:
    tc = ctx.realm.get("TaxCode", code) or {}
    details = (tc.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
    total, rate_id = Decimal(0), "1"
    for d in details:
        rate_id = str(d["TaxRateRef"]["value"])
        rate = ctx.realm.get("TaxRate", rate_id) or {}
        total += Decimal(str(rate.get("RateValue", 0)))
    return rate_id, total


def apply(ctx: Ctx, obj: JsonObj, *, sales: bool, net: Decimal) -> Decimal:
    """Compute TxnTaxDetail for a document whose lines are normalised; returns the new TotalAmt."""
    cfg = settings(ctx.realm)
    groups: dict[str, tuple[str, Decimal, Decimal]] = {}  # code -> (rate id, percent, taxable base)
    if cfg["country"] == "US":
        if not (sales and cfg["automated_sales_tax"]):
            return net
        base = Decimal(0)
        for line in obj.get("Line") or []:
            if line.get("DetailType") == "SalesItemLineDetail" and _line_code(ctx, line, "SalesItemLineDetail") != "NON":
                base += dec(line["Amount"], "Line.Amount")
        groups["TAX"] = ("1", cfg["tax_rate"], max(base, Decimal(0)))
        inclusive = False
    else:
        mode = obj.setdefault("GlobalTaxCalculation", "TaxExcluded")
        if mode == "NotApplicable":
            obj.pop("TxnTaxDetail", None)
            return net
        inclusive = mode == "TaxInclusive"
        for line in obj.get("Line") or []:
            dt = line.get("DetailType")
            if dt not in TAXED_DETAILS:
                continue
            code = _line_code(ctx, line, dt)
            assert code is not None  # check_lines ran first
            rate_id, pct = _rate_of(ctx, code)
            _, _, base = groups.get(code, (rate_id, pct, Decimal(0)))
            groups[code] = (rate_id, pct, base + dec(line["Amount"], "Line.Amount"))
    tax_lines: list[JsonObj] = []
    total_tax = Decimal(0)
    for rate_id, pct, base in groups.values():
        if inclusive:
            amount = money(base - base * 100 / (100 + pct))
            base = money(base - amount)
        else:
            amount = money(base * pct / 100)
        total_tax += amount
        tax_lines.append(
            {
                "Amount": amount,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate_id},
                    "PercentBased": True,
                    "TaxPercent": pct,
                    "NetAmountTaxable": money(base),
                },
            }
        )
    detail: dict[str, Any] = {"TotalTax": money(total_tax), "TaxLine": tax_lines}
    if len(groups) == 1 and not is_us(ctx.realm):
        detail["TxnTaxCodeRef"] = {"value": next(iter(groups))}
    obj["TxnTaxDetail"] = detail
    return net if inclusive else money(net + total_tax)
