"""Where the status page sends a person for a QBO object."""

from __future__ import annotations

from bottleneck_qbo.ops.qbo_links import qbo_url
from bottleneck_qbo.settings import Settings


def test_local_sandbox_links_to_its_api_url() -> None:
    s = Settings(_env_file=None, qbo_environment="local", qbo_base_url="http://127.0.0.1:8765")
    assert qbo_url(s, "9130", "Customer", "58") == "http://127.0.0.1:8765/v3/company/9130/customer/58"


def test_real_qbo_links_to_the_web_app() -> None:
    # production refuses public defaults: a real app's keys
    keys = {
        "webhook_verifier_token": "v3rifier-" + "x" * 20,
        "qbo_client_id": "ABcd1234",
        "qbo_client_secret": "s3cr3t-" + "y" * 20,
        "qbo_token_url": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        "qbo_redirect_uri": "https://sync.example.com/oauth/callback",
    }
    prod = Settings.model_validate({"qbo_environment": "intuit", "qbo_base_url": "https://quickbooks.api.intuit.com", **keys})
    sandbox = Settings.model_validate({"qbo_environment": "intuit", "qbo_base_url": "https://sandbox-quickbooks.api.intuit.com", **keys})
    assert qbo_url(prod, "9130", "Invoice", "130") == "https://app.qbo.intuit.com/app/invoice?txnId=130"
    assert qbo_url(prod, "9130", "Customer", "58") == "https://app.qbo.intuit.com/app/customerdetail?nameId=58"
    assert qbo_url(sandbox, "9130", "Bill", "7") == "https://app.sandbox.qbo.intuit.com/app/bill?txnId=7"
