"""Moving the QBO sandbox's clock forward reaches token expiry and CDC's 30-day limit without waiting."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.sandbox import SandboxServer, start_sandbox

pytestmark = pytest.mark.integration

DAY = 86_400


@pytest.fixture
def own_sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox()
    yield server
    server.stop()


def test_access_token_expires_after_an_hour_and_refresh_token_after_its_lifetime(own_sandbox: SandboxServer) -> None:
    realm = own_sandbox.create_realm()
    api = realm.client()
    assert api.get("/query", query="select count(*) from Account").status_code == 200
    own_sandbox.advance_clock(3599)
    assert api.get("/query", query="select count(*) from Account").status_code == 200
    own_sandbox.advance_clock(2)
    expired = api.get("/query", query="select count(*) from Account")
    assert expired.status_code == 401 and expired.json()["fault"]["error"][0]["code"] == "3200"
    assert realm.client(own_sandbox.access_token).get("/query", query="select count(*) from Account").status_code == 200
    auth = (own_sandbox.client_id, own_sandbox.client_secret)
    fresh = httpx.post(own_sandbox.token_url, data={"grant_type": "refresh_token", "refresh_token": realm.refresh_token}, auth=auth).json()
    own_sandbox.advance_clock(102 * DAY)
    stale = httpx.post(own_sandbox.token_url, data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}, auth=auth)
    assert stale.status_code == 400 and stale.json() == {"error": "invalid_grant"}


def test_cdc_refuses_more_than_30_days_back(own_sandbox: SandboxServer) -> None:
    realm = own_sandbox.create_realm()
    api = realm.client(own_sandbox.access_token)
    cust = api.create("Customer", {"DisplayName": "Old news"})
    since = cust["MetaData"]["CreateTime"]
    own_sandbox.advance_clock(29 * DAY)
    groups = api.ok(api.get("/cdc", entities="Customer", changedSince=since))["CDCResponse"][0]["QueryResponse"]
    assert [c["Id"] for c in groups[0]["Customer"]] == [cust["Id"]]
    own_sandbox.advance_clock(2 * DAY)
    assert api.fault(api.get("/cdc", entities="Customer", changedSince=since))["code"] == "4001"
    later = api.create("Customer", {"DisplayName": "New news"})
    assert later["MetaData"]["CreateTime"][:10] > since[:10]


def test_reset_forgets_realms_tokens_and_clock_shift(own_sandbox: SandboxServer) -> None:
    realm = own_sandbox.create_realm()
    realm.client().create("Customer", {"DisplayName": "Gone soon"})
    own_sandbox.advance_clock(DAY)
    own_sandbox.reset()
    assert own_sandbox.control.get("/__sandbox/realms").json() == {"realms": []}
    assert own_sandbox.control.get("/__sandbox/clock").json()["shift_s"] == 0
    assert realm.client().get("/query", query="select * from Customer").status_code == 401
    assert own_sandbox.stats(realm.realm_id)["requests_total"] == 1
