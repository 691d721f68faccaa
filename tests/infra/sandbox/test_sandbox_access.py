"""The QBO sandbox's OAuth token endpoint, bearer checks, throttles, requestid replay and fault injection."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from tests.fixtures.sandbox import RealmInfo, SandboxServer

pytestmark = pytest.mark.integration


def _refresh(sb: SandboxServer, refresh_token: str, *, basic: bool = True) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if basic:
        return httpx.post(sb.token_url, data=data, auth=(sb.client_id, sb.client_secret))
    return httpx.post(sb.token_url, data={**data, "client_id": sb.client_id, "client_secret": sb.client_secret})


def test_refresh_rotates_and_superseded_token_is_invalid_grant(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    first = _refresh(qbo_sandbox, qbo_realm.refresh_token)
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert tokens["refresh_token"] != qbo_realm.refresh_token and "x_refresh_token_expires_in" in tokens
    again = _refresh(qbo_sandbox, qbo_realm.refresh_token)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    assert qbo_sandbox.stats(qbo_realm.realm_id)["oauth"] == {"refresh": 1, "authorization_code": 0, "invalid_grant": 1}
    # client_secret_post works too, with the rotated token.
    assert _refresh(qbo_sandbox, tokens["refresh_token"], basic=False).status_code == 200
    api = qbo_realm.client(tokens["access_token"])
    assert api.get("/customer/1").status_code == 400  # authenticated (610), not 401


def test_bad_client_credentials(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    resp = httpx.post(
        qbo_sandbox.token_url, data={"grant_type": "refresh_token", "refresh_token": qbo_realm.refresh_token}, auth=("x", "y")
    )
    assert resp.status_code == 401 and resp.json() == {"error": "invalid_client"}


def test_authorization_code_grant_is_single_use(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    code = qbo_sandbox.mint_code(qbo_realm.realm_id)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://localhost/cb"}
    ok = httpx.post(qbo_sandbox.token_url, data=data, auth=(qbo_sandbox.client_id, qbo_sandbox.client_secret))
    assert ok.status_code == 200 and ok.json()["access_token"]
    again = httpx.post(qbo_sandbox.token_url, data=data, auth=(qbo_sandbox.client_id, qbo_sandbox.client_secret))
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    # Connecting a company the sandbox has not seen creates it, as a user picking a company would.
    minted = qbo_sandbox.control.post("/__sandbox/oauth/codes", json={"realm": "77001"}).json()
    tokens = httpx.post(
        qbo_sandbox.token_url, data={**data, "code": minted["code"]}, auth=(qbo_sandbox.client_id, qbo_sandbox.client_secret)
    ).json()
    new_realm = RealmInfo(minted["realm_id"], tokens["access_token"], tokens["refresh_token"], qbo_sandbox.base_url).client()
    assert minted["realm_id"] == "77001" and new_realm.query("select count(*) from Account") == {"totalCount": 9}


def test_expired_and_foreign_tokens(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    api = qbo_realm.client()
    assert api.get("/query", query="select * from Account").status_code == 200
    assert qbo_sandbox.expire_access_tokens(qbo_realm.realm_id) >= 1
    resp = api.get("/query", query="select * from Account")
    assert resp.status_code == 401
    fault = resp.json()["fault"]
    assert fault["type"] == "AUTHENTICATION" and fault["error"][0]["code"] == "3200"
    other = qbo_sandbox.create_realm()
    foreign = RealmInfo(qbo_realm.realm_id, other.access_token, other.refresh_token, qbo_sandbox.base_url).client()
    assert foreign.get("/query", query="select * from Account").status_code == 403
    static = qbo_realm.client(qbo_sandbox.access_token)
    assert static.get("/query", query="select * from Account").status_code == 200
    unknown = RealmInfo("1", "", "", qbo_sandbox.base_url).client(qbo_sandbox.access_token)
    assert unknown.get("/query", query="select * from Account").status_code == 403


def test_requests_per_minute_limit_gives_429_3001(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    qbo_sandbox.set_limits(qbo_realm.realm_id, requests_per_minute=5)
    codes = [qbo_api.get("/query", query="select * from Account").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    resp = qbo_api.get("/query", query="select * from Account")
    assert qbo_api.fault(resp, 429)["code"] == "3001"
    assert "Retry-After" not in resp.headers
    assert qbo_sandbox.stats(qbo_realm.realm_id)["throttled"] == 3
    # Another realm is not affected.
    other = qbo_sandbox.create_realm().client()
    assert other.get("/query", query="select * from Account").status_code == 200


def test_concurrency_limit(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    qbo_sandbox.set_limits(qbo_realm.realm_id, concurrent=2)
    qbo_sandbox.set_faults(qbo_realm.realm_id, latency_ms=300)

    def call(_: int) -> int:
        with httpx.Client(headers={"Authorization": f"Bearer {qbo_realm.access_token}"}) as c:
            return c.get(f"{qbo_realm.api}/query", params={"query": "select * from Account"}).status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(call, range(6)))
    assert codes.count(200) >= 2 and codes.count(429) >= 1 and set(codes) <= {200, 429}


def test_batch_calls_per_minute(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    qbo_sandbox.set_limits(qbo_realm.realm_id, batch_per_minute=2)
    body = {"BatchItemRequest": [{"bId": "q", "Query": "select * from Account"}]}
    codes = [qbo_api.post("/batch", body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_requestid_replay_returns_first_response_and_writes_nothing(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    first = qbo_api.post("/customer", {"DisplayName": "Once"}, requestid="req-1")
    again = qbo_api.post("/customer", {"DisplayName": "Once"}, requestid="req-1")
    different = qbo_api.post("/customer", {"DisplayName": "Other body"}, requestid="req-1")
    assert first.status_code == again.status_code == different.status_code == 200
    assert first.content == again.content == different.content
    assert qbo_api.query("select count(*) from Customer") == {"totalCount": 1}
    stats = qbo_sandbox.stats(qbo_realm.realm_id)
    assert stats["replays"] == 2
    assert stats["writes"]["Customer"] == {"create": 3} and stats["applied"]["Customer"] == {"create": 1}
    # A faulted write is remembered too: the same id answers the same fault.
    bad = qbo_api.post("/customer", {"DisplayName": "Once"}, requestid="req-2")
    assert bad.status_code == 400 and qbo_api.post("/customer", {"DisplayName": "Fresh"}, requestid="req-2").content == bad.content


def test_injected_errors_and_deterministic_throttle(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    qbo_sandbox.set_faults(qbo_realm.realm_id, error_next=2, throttle_next=1)
    first = qbo_api.get("/query", query="select * from Account")
    assert first.status_code == 429 and qbo_api.fault(first, 429)["code"] == "3001"
    statuses = [qbo_api.post("/customer", {"DisplayName": f"E{i}"}).status_code for i in range(3)]
    assert statuses == [500, 503, 200]
    assert qbo_api.query("select count(*) from Customer") == {"totalCount": 1}
    qbo_sandbox.set_faults(qbo_realm.realm_id, fault_200_next=1)
    hidden = qbo_api.post("/customer", {"DisplayName": "Hidden fault"})
    assert hidden.status_code == 200 and qbo_api.json(hidden)["Fault"]["Error"][0]["code"] == "10000"
    assert qbo_api.query("select count(*) from Customer") == {"totalCount": 1}
    qbo_sandbox.set_faults(qbo_realm.realm_id, error_rate=1.0)
    err = qbo_api.get("/query", query="select * from Account")
    assert err.status_code in (500, 503) and qbo_api.json(err)["Fault"]["type"] == "SystemFault"
    qbo_sandbox.clear_faults(qbo_realm.realm_id)
    assert qbo_api.get("/query", query="select * from Account").status_code == 200


def test_timeout_and_lost_response_then_requestid_converges(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    qbo_sandbox.set_faults(qbo_realm.realm_id, timeout_next=1, hang_s=5)
    with pytest.raises(httpx.ReadTimeout):
        qbo_api.http.post("/customer", content=b'{"DisplayName": "Slow"}', timeout=0.5)
    qbo_sandbox.set_faults(qbo_realm.realm_id, timeout_next=1, timeout_mode="close")
    with pytest.raises(httpx.RemoteProtocolError):
        qbo_api.post("/customer", {"DisplayName": "Reset"})
    qbo_sandbox.set_faults(qbo_realm.realm_id, lose_response_next=1)
    with pytest.raises(httpx.TransportError):
        qbo_api.post("/customer", {"DisplayName": "Lost"}, requestid="lost-1")
    # The write happened; retrying with the same requestid returns it without a duplicate.
    again = qbo_api.ok(qbo_api.post("/customer", {"DisplayName": "Lost"}, requestid="lost-1"))
    assert again["Customer"]["DisplayName"] == "Lost"
    assert qbo_api.query("select count(*) from Customer") == {"totalCount": 1}
    injected = qbo_sandbox.stats(qbo_realm.realm_id)["injected"]
    assert injected["timeout"] == 2 and injected["lost_response"] == 1


def test_stale_synctoken_once(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    cust = qbo_api.create("Customer", {"DisplayName": "Racy"})
    qbo_sandbox.set_faults(qbo_realm.realm_id, stale_synctoken_once_for=[f"Customer:{cust['Id']}"])
    body = {"Id": cust["Id"], "SyncToken": "0", "sparse": True, "Notes": "n"}
    assert qbo_api.fault(qbo_api.post("/customer", body))["code"] == "5010"
    assert qbo_api.update("Customer", body)["SyncToken"] == "1"


def test_batch_requestid_replay_applies_nothing(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    body = {"BatchItemRequest": [{"bId": "c1", "operation": "create", "Customer": {"DisplayName": "Batched once"}}]}
    first = qbo_api.post("/batch", body, requestid="batch-1")
    again = qbo_api.post("/batch", body, requestid="batch-1")
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert qbo_api.query("select count(*) from Customer") == {"totalCount": 1}
    stats = qbo_sandbox.stats(qbo_realm.realm_id)
    assert stats["replays"] == 1 and stats["applied_total"] == 1 and stats["writes"]["Customer"] == {"create": 2}


def test_throttle_can_answer_in_xml_with_retry_after(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo, qbo_api) -> None:
    qbo_sandbox.set_limits(qbo_realm.realm_id, requests_per_minute=1, retry_after_s=7, throttle_body="xml")
    try:
        assert qbo_api.get("/query", query="select * from Account").status_code == 200
        resp = qbo_api.get("/query", query="select * from Account")
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
        assert resp.headers["Content-Type"].startswith("application/xml")
        assert '<Error code="3001">' in resp.text and "ThrottleExceeded" in resp.text
    finally:
        qbo_sandbox.set_limits(retry_after_s=0, throttle_body="json")


def test_revoked_refresh_token_is_invalid_grant(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    assert qbo_sandbox.revoke_refresh_tokens(qbo_realm.realm_id) == 1
    resp = _refresh(qbo_sandbox, qbo_realm.refresh_token)
    assert resp.status_code == 400 and resp.json() == {"error": "invalid_grant"}
