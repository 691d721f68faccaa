"""Where the status page sends a person for a QBO object."""

from __future__ import annotations

from bottleneck_qbo.ops.qbo_links import qbo_url
from bottleneck_qbo.settings import Settings


def test_local_sandbox_links_to_its_api_url() -> None:
    s = Settings(_env_file=None, qbo_environment="local", qbo_base_url="http://127.0.0.1:8765")
    assert qbo_url(s, "9130", "Customer", "58") == "http://127.0.0.1:8765/v3/company/9130/customer/58"


def test_real_qbo_links_to_the_web_app() -> None:
    prod = Settings(_env_file=None, qbo_environment="intuit", qbo_base_url="https://quickbooks.api.intuit.com")
    sandbox = Settings(_env_file=None, qbo_environment="intuit", qbo_base_url="https://sandbox-quickbooks.api.intuit.com")
    assert qbo_url(prod, "9130", "Invoice", "130") == "https://app.qbo.intuit.com/app/invoice?txnId=130"
    assert qbo_url(prod, "9130", "Customer", "58") == "https://app.qbo.intuit.com/app/customerdetail?nameId=58"
    assert qbo_url(sandbox, "9130", "Bill", "7") == "https://app.sandbox.qbo.intuit.com/app/bill?txnId=7"
