"""QBO fault responses: one exception carrying QBO's Fault shape, and builders for the codes we emit.

Shapes follow recorded QBO traffic (reference §5): validation faults are HTTP 400
``{"Fault":{"Error":[{"Message","Detail","code","element"}],"type":"ValidationFault"},"time":..}``;
authentication failures use the lower-case ``fault`` envelope (reference §2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultError:
    code: str
    message: str
    detail: str
    element: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}


@dataclass
class QboFault(Exception):
    status: int
    errors: list[FaultError]
    type: str = "ValidationFault"
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, "; ".join(f"{e.code} {e.detail}" for e in self.errors))

    def fault_json(self) -> dict[str, Any]:
        return {"Error": [e.to_json() for e in self.errors], "type": self.type}

    @property
    def code(self) -> str:
        return self.errors[0].code


def validation(code: str, message: str, detail: str, element: str = "", status: int = 400) -> QboFault:
    return QboFault(status, [FaultError(code, message, detail, element)])


def stale(entity: str) -> QboFault:
    return validation(
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and sandbox were working on this at the same time. "
        f"sandbox finished before you did, so your work was not saved. ({entity})",
    )


def not_found(entity: str, entity_id: str) -> QboFault:
    return validation(
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive or deleted. {entity} Id={entity_id}",
    )


def required(element: str) -> QboFault:
    return validation(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element,
    )


def invalid_ref(element: str, ref_id: Any, why: str = "") -> QboFault:
    return validation(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : Something you're trying to use has been made inactive. Check the fields with "
        f"accounts, customers, items, vendors or employees. ({element}={ref_id}{'; ' + why if why else ''})",
        element,
    )


def unknown_property(entity: str, prop: str) -> QboFault:
    return validation(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{prop}" (class com.intuit.schema.finance.v3.{entity}), '
        "not marked as ignorable specified is unsupported or invalid",
    )


def too_long(element: str, limit: int) -> QboFault:
    return validation(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{limit} supported. ({element})",
        element,
    )


def bad_value(element: str, detail: str) -> QboFault:
    return validation("2080", "Illegal number format", detail, element)


def bad_enum(element: str, value: Any) -> QboFault:
    return validation("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element)


def duplicate_name(name: str) -> QboFault:
    return validation(
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another customer, vendor or employee is already using this name. "
        f"Please use a different name. ({name})",
    )


def duplicate_item_name(name: str) -> QboFault:
    # Reference §4: the code for a duplicate Item name is UNCONFIRMED; 6240 is the name-uniqueness code QBO uses.
    return validation("6240", "Duplicate Name Exists Error", f"The name supplied already exists. : Item name {name!r} is in use.")


def duplicate_docnumber(doc: str, entity: str, txn_id: str) -> QboFault:
    return validation(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number has already been used. "
        f"DocNumber={doc} is assigned to TxnType={entity} with TxnId={txn_id}",
        "DocNumber",
    )


def amount_mismatch(line_no: int) -> QboFault:
    return validation(
        "6070",
        "Amount calculation incorrect in the request",
        f"Amount calculation incorrect in the request. Amount is not equal to UnitPrice * Qty (line {line_no})",
        "Line.Amount",
    )


def no_name() -> QboFault:
    return validation("6080", "No Name Provided", "No Name Provided : Please provide a name.")


def business(detail: str, element: str = "") -> QboFault:
    return validation(
        "6000", "A business validation error has occurred while processing your request", f"Business Validation Error: {detail}", element
    )


def unsupported(detail: str) -> QboFault:
    return validation("500", "Unsupported Operation", detail)


def query_error(detail: str) -> QboFault:
    return validation("4001", "Invalid query", f"QueryValidationError: {detail}")


def batch_too_large(n: int, limit: int) -> QboFault:
    return validation("1040", "Batch size exceeds allowed limit", f"Batch size {n} exceeds the limit of {limit} items")


def throttled(retry_after_s: int | None) -> QboFault:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s else {}
    return QboFault(
        429,
        [
            FaultError(
                "3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "The request limit was reached. Try again later"
            )
        ],
        type="SERVICE",
        headers=headers,
    )


def system_error(detail: str = "System Failure Error: injected by the sandbox") -> QboFault:
    return QboFault(
        500, [FaultError("10000", "An application error has occurred while processing your request", detail)], type="SystemFault"
    )


def unavailable() -> QboFault:
    return QboFault(
        503,
        [FaultError("10000", "Service Unavailable", "The service is temporarily unavailable (injected by the sandbox)")],
        type="SystemFault",
    )


def authorization_failed(realm_id: str) -> QboFault:
    return QboFault(
        403,
        [FaultError("3100", "message=AuthorizationFailed; errorCode=003100; statusCode=403", f"Not authorized for company {realm_id}")],
        type="SERVICE",
    )


def auth_envelope(detail: str, epoch_ms: int) -> dict[str, Any]:
    """The 401 body QBO sends for a missing/expired/invalid bearer token (lower-case keys, reference §2)."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }
