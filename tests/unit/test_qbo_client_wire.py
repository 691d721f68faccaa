"""QboClient's wire behaviours on an ``httpx.MockTransport`` (no sockets), for what QBO shows that the
sandbox does not reproduce on demand: XML throttle bodies, Retry-After, HTTP 200 carrying a Fault, a
second 401 after refresh, timeouts, tokens echoed in error text, and the order "persist the rotated
refresh token, then use the new access token". The same transport serves the OAuth token endpoint, so the
refresh flow runs for real. QBO's business rules are tested against the sandbox in
tests/integration/test_qbo_client_sandbox.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr

from sinks.qbo.auth import InMemoryTokenStore, OAuthClientConfig, TokenManager, TokenSet
from sinks.qbo.client import QboClient, RetryPolicy, batch_item_error
from sinks.qbo.errors import (
    QboConfigError,
    QboDuplicateName,
    QboLocalValidationError,
    QboRateLimited,
    QboTransientError,
)
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry

REALM = "9130350000000001"
BASE_URL = "https://qbo.test"  # never resolved: the MockTransport answers every request
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
Handler = Callable[[httpx.Request, bytes], Awaitable[httpx.Response]]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    authorization: str
    body: bytes


@dataclass
class ScriptedQbo:
    """What each test scripts (``api``, ``token``) and what the client sent (``seen``, ``token_calls``)."""

    api: Handler | None = None
    token: Handler | None = None
    seen: list[Seen] = field(default_factory=list)
    token_calls: list[dict[str, str]] = field(default_factory=list)

    def api_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/v3/")]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.seen.append(Seen(request.method, request.url.path, dict(request.url.params), request.headers.get("Authorization", ""), body))
        if request.url.path == TOKEN_PATH:
            form = dict(parse_qsl(body.decode()))
            form["_auth"] = request.headers.get("Authorization", "")
            self.token_calls.append(form)
            assert self.token is not None, "unexpected token call"
            return await self.token(request, body)
        assert self.api is not None
        return await self.api(request, body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(data).encode(), headers={"Content-Type": "application/json", **(headers or {})})


def _text(text: str, status: int, content_type: str = "text/plain; charset=utf-8", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=text.encode(), headers={"Content-Type": content_type, **(headers or {})})


def answer(response: httpx.Response) -> Handler:
    """A handler that always gives the same answer."""

    async def handler(request: httpx.Request, body: bytes) -> httpx.Response:
        return response

    return handler


def customer(id_: str = "1", token: str = "0") -> dict[str, Any]:
    return {
        "Customer": {"Id": id_, "SyncToken": token, "DisplayName": "Acme", "domain": "QBO", "sparse": False},
        "time": "2026-01-01T00:00:00.000-07:00",
    }


LOWER_401 = {
    "fault": {
        "error": [
            {
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired",
                "code": "3200",
                "element": None,
            }
        ],
        "type": "AUTHENTICATION",
    },
    "time": 1,
}
XML_429 = (
    '<?xml version="1.0" encoding="UTF-8"?><IntuitResponse xmlns="http://schema.intuit.com/finance/v3">'
    '<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429'
    "</Message><Detail>The request limit was reached. Try again later</Detail></Error></Fault></IntuitResponse>"
)


@pytest.fixture
def qbo() -> ScriptedQbo:
    return ScriptedQbo()


def tokens(access: str = "AT-1", refresh: str = "RT-1", valid_for: timedelta = timedelta(hours=1)) -> TokenSet:
    return TokenSet(
        realm_id=REALM,
        access_token=SecretStr(access),
        access_expires_at=datetime.now(UTC) + valid_for,
        refresh_token=SecretStr(refresh),
        refresh_expires_at=datetime.now(UTC) + timedelta(days=100),
    )


def make_client(
    qbo: ScriptedQbo,
    store: InMemoryTokenStore,
    *,
    timeout_s: float = 5.0,
    retry: RetryPolicy | None = None,
    limits: LimiterConfig | None = None,
) -> QboClient:
    oauth = OAuthClientConfig(token_url=f"{BASE_URL}{TOKEN_PATH}", client_id="cid", client_secret=SecretStr("csecret"))
    transport = qbo.transport()
    return QboClient(
        base_url=BASE_URL,
        token_manager=TokenManager(store, oauth, transport=transport),
        timeout_s=timeout_s,
        transport=transport,
        limiters=LimiterRegistry(limits or LimiterConfig()),
        retry=retry or RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, rate_limit_wait_s=0.05),
    )


def rotating_token_endpoint(qbo: ScriptedQbo, store: InMemoryTokenStore) -> None:
    """Refresh RT-n -> AT-(n+1)/RT-(n+1); a superseded refresh token gets invalid_grant, like QBO."""
    generation = [1]  # n of the current RT-n

    async def token(request: httpx.Request, body: bytes) -> httpx.Response:
        form = qbo.token_calls[-1]
        if form.get("refresh_token") != f"RT-{generation[0]}":
            return _json({"error": "invalid_grant"}, status=400)
        generation[0] += 1
        return _json(
            {
                "access_token": f"AT-{generation[0]}",
                "refresh_token": f"RT-{generation[0]}",
                "expires_in": 3600,
                "x_refresh_token_expires_in": 8726400,
                "token_type": "bearer",
            }
        )

    qbo.token = token


async def test_401_refreshes_once_and_persists_rotation_before_use(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    rotating_token_endpoint(qbo, store)
    stored_when_new_token_used: list[str] = []

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        if request.headers["Authorization"] != "Bearer AT-2":
            return _json(LOWER_401, status=401)
        current = await store.get(REALM)
        assert current is not None
        stored_when_new_token_used.append(current.refresh_token.get_secret_value())
        return _json(customer())

    qbo.api = api
    async with make_client(qbo, store) as client:
        got = await client.read(REALM, "Customer", "1")
    assert got["DisplayName"] == "Acme"
    assert stored_when_new_token_used == ["RT-2"]  # the rotated token was saved before AT-2 went out
    assert len(qbo.token_calls) == 1
    call = qbo.token_calls[0]
    assert call["grant_type"] == "refresh_token" and call["refresh_token"] == "RT-1"
    assert call["_auth"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert client.stats.token_refreshes[REALM] == 1


async def test_concurrent_401s_share_one_refresh(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    rotating_token_endpoint(qbo, store)

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        if request.headers["Authorization"] != "Bearer AT-2":
            await asyncio.sleep(0.02)  # let all ten requests be in flight with the old token
            return _json(LOWER_401, status=401)
        return _json(customer())

    qbo.api = api
    async with make_client(qbo, store) as client:
        results = await asyncio.gather(*(client.read(REALM, "Customer", "1") for _ in range(10)))
    assert len(results) == 10
    # One refresh: a second one would have spent the superseded RT-1 and disconnected the realm.
    assert len(qbo.token_calls) == 1


async def test_superseded_refresh_token_is_a_config_error(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens(refresh="RT-old"))
    rotating_token_endpoint(qbo, store)
    qbo.api = answer(_json(LOWER_401, status=401))
    async with make_client(qbo, store) as client:
        with pytest.raises(QboConfigError) as exc:
            await client.read(REALM, "Customer", "1")
    assert "reconnect" in exc.value.message
    assert "RT-old" not in str(exc.value) and "csecret" not in str(exc.value)


async def test_401_after_a_successful_refresh_is_a_config_error(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    rotating_token_endpoint(qbo, store)
    qbo.api = answer(_json(LOWER_401, status=401))
    async with make_client(qbo, store) as client:
        with pytest.raises(QboConfigError):
            await client.read(REALM, "Customer", "1")
    assert len(qbo.token_calls) == 1  # refreshed once, not in a loop


async def test_token_near_expiry_is_refreshed_before_the_call(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens(valid_for=timedelta(seconds=30)))
    rotating_token_endpoint(qbo, store)

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        return _json(customer())

    qbo.api = api
    async with make_client(qbo, store) as client:
        await client.read(REALM, "Customer", "1")
    assert [s.authorization for s in qbo.api_calls()] == ["Bearer AT-2"]


async def test_xml_429_pauses_the_realm_then_succeeds(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    calls = {"n": 0}

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return _text(XML_429, 429, "application/xml")
        return _json(customer())

    qbo.api = api
    async with make_client(qbo, store) as client:
        got = await client.read(REALM, "Customer", "1")
    assert got["Id"] == "1"
    assert client.stats.rate_limited[REALM] == 1 and client.stats.retries[REALM] == 1


async def test_retry_after_header_sets_the_pause(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        return _text(XML_429, 429, "application/xml", headers={"Retry-After": "0"})

    qbo.api = api
    retry = RetryPolicy(max_attempts=0, rate_limit_wait_s=999, rate_limit_max_retries=2)
    async with make_client(qbo, store, retry=retry) as client:
        with pytest.raises(QboRateLimited) as exc:
            await client.read(REALM, "Customer", "1")
    # Retry-After: 0 was honoured (instead of the 999 s default), three attempts then the typed error.
    assert exc.value.retry_after_s == 0
    assert len(qbo.api_calls()) == 3


async def test_http_200_with_fault_is_an_error(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    fault = {
        "Fault": {
            "Error": [{"Message": "Duplicate Name Exists Error", "Detail": "name in use", "code": "6240", "element": ""}],
            "type": "ValidationFault",
        },
        "time": "x",
    }
    qbo.api = answer(_json(fault, status=200))
    async with make_client(qbo, store) as client:
        with pytest.raises(QboDuplicateName) as exc:
            await client.create(REALM, "Customer", {"DisplayName": "Acme"}, request_id="r-1")
    assert exc.value.status == 200
    assert exc.value.request == f"POST /v3/company/{REALM}/customer"


async def test_transient_5xx_retry_policy(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    calls: dict[str, int] = {}

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        key = request.method + request.url.params.get("requestid", "-")
        calls[key] = calls.get(key, 0) + 1
        if calls[key] <= 2:
            return _text("Service Unavailable", 503)
        return _json(customer())

    qbo.api = api
    async with make_client(qbo, store) as client:
        assert (await client.read(REALM, "Customer", "1"))["Id"] == "1"  # GET retried
        assert (await client.create(REALM, "Customer", {"DisplayName": "Acme"}, request_id="rq-1"))["Id"] == "1"
        with pytest.raises(QboTransientError) as exc:  # a write without requestid is never resent
            await client.update(REALM, "Customer", {"Id": "1", "SyncToken": "0", "DisplayName": "B"})
    assert calls == {"GET-": 3, "POSTrq-1": 3, "POST-": 1}
    assert exc.value.status == 503
    creates = [s for s in qbo.api_calls() if s.query.get("requestid") == "rq-1"]
    assert len({s.body for s in creates}) == 1  # the very same request each time


async def test_timeouts_on_a_write_with_requestid_are_retried(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    calls = {"n": 0}

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            # What httpx raises when the read exceeds timeout_s; a real socket would only make the test slower.
            raise httpx.ReadTimeout("timed out", request=request)
        return _json(customer())

    qbo.api = api
    async with make_client(qbo, store, timeout_s=0.3) as client:
        await client.create(REALM, "Customer", {"DisplayName": "Acme"}, request_id="rq-t")
        assert client.stats.requests[(REALM, "Customer", "error")] == 1
    assert [s.query["requestid"] for s in qbo.api_calls()] == ["rq-t", "rq-t"]


async def test_bounded_retries_then_typed_error(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    qbo.api = answer(_text("boom", 500))
    async with make_client(qbo, store) as client:
        with pytest.raises(QboTransientError):
            await client.read(REALM, "Customer", "1")
    assert len(qbo.api_calls()) == 4  # first try + max_attempts=3


async def test_tokens_never_reach_error_text(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens(access="AT-very-secret"))

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        echo = request.headers["Authorization"]
        fault = {
            "Fault": {
                "Error": [
                    {
                        "Message": f"bad header {echo}",
                        "Detail": f"token={echo.split()[1]} eyJhbGciOiJIUzI1.eyJzdWIiOiIx.sig",
                        "code": "2010",
                        "element": "",
                    }
                ],
                "type": "ValidationFault",
            }
        }
        return _json(fault, status=400)

    qbo.api = api
    async with make_client(qbo, store) as client:
        with pytest.raises(Exception) as exc:
            await client.create(REALM, "Customer", {"DisplayName": "Acme"}, request_id="r")
    text = str(exc.value) + repr(exc.value.to_dict())  # type: ignore[attr-defined]
    assert "AT-very-secret" not in text and "eyJhbGciOiJIUzI1" not in text
    assert "***" in text


async def test_wire_format_decimal_minorversion_and_headers(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        return _text(
            '{"Invoice":{"Id":"7","SyncToken":"0","TotalAmt":12345678901234.10,"Line":[{"Amount":0.10}]},"time":"t"}',
            200,
            "application/json",
        )

    qbo.api = api
    body = {
        "CustomerRef": {"value": "1"},
        "Line": [
            {
                "Amount": Decimal("12345678901234.10"),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "3"}, "Qty": Decimal("1"), "UnitPrice": Decimal("12345678901234.10")},
            }
        ],
    }
    async with make_client(qbo, store) as client:
        got = await client.create(REALM, "Invoice", body, request_id="inv-1")
    assert got["TotalAmt"] == Decimal("12345678901234.10") and isinstance(got["Line"][0]["Amount"], Decimal)
    [sent] = qbo.api_calls()
    assert sent.path == f"/v3/company/{REALM}/invoice"
    assert sent.query == {"requestid": "inv-1", "minorversion": "75"}
    assert b'"Amount":12345678901234.10' in sent.body


async def test_local_validation_sends_nothing(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    async with make_client(qbo, store) as client:
        with pytest.raises(QboLocalValidationError, match=r"Customer\.DisplayName"):
            await client.create(REALM, "Customer", {"DisplayName": "A:B"}, request_id="r")
        with pytest.raises(QboLocalValidationError, match=r"Line\[0\].Amount"):
            await client.create(REALM, "Invoice", {"Line": [{"Amount": 1.5}]}, request_id="r")
        with pytest.raises(QboLocalValidationError, match="SyncToken"):
            await client.update(REALM, "Customer", {"Id": "1", "DisplayName": "x"})
    assert qbo.api_calls() == []


async def test_batch_splits_over_30_and_keeps_per_item_faults(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        items = json.loads(body)["BatchItemRequest"]
        out = []
        for item in items:
            if item["bId"] == "b5":
                out.append(
                    {
                        "bId": "b5",
                        "Fault": {
                            "Error": [{"Message": "Stale Object Error", "Detail": "d", "code": "5010", "element": ""}],
                            "type": "ValidationFault",
                        },
                    }
                )
            else:
                out.append({"bId": item["bId"], "Customer": {"Id": item["bId"][1:], "DisplayName": item["Customer"]["DisplayName"]}})
        return _json({"BatchItemResponse": out, "time": "t"})

    qbo.api = api
    items = [{"bId": f"b{i}", "operation": "create", "Customer": {"DisplayName": f"C{i}"}} for i in range(31)]
    items.append({"bId": "bad", "operation": "create", "Customer": {"DisplayName": "has:colon"}})
    async with make_client(qbo, store) as client:
        answers = await client.batch(REALM, items, request_id="batch-1")
    assert [a["bId"] for a in answers] == [i["bId"] for i in items]
    calls = qbo.api_calls()
    assert [len(json.loads(c.body)["BatchItemRequest"]) for c in calls] == [30, 1]
    assert [c.query["requestid"] for c in calls] == ["batch-1-0", "batch-1-1"]
    assert answers[0]["Customer"]["DisplayName"] == "C0"
    assert type(batch_item_error(answers[5])).__name__ == "QboStaleSyncToken"
    assert batch_item_error(answers[0]) is None
    local = answers[-1]
    assert local["Fault"]["local"] is True and "DisplayName" in local["Fault"]["Error"][0]["Message"]


async def test_query_pages_until_a_short_page(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    total = 7

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        import re

        q = request.url.params["query"]
        start, size = map(int, re.search(r"STARTPOSITION (\d+) MAXRESULTS (\d+)", q).groups())
        rows = [{"Id": str(i)} for i in range(start, min(start + size, total + 1))]
        return _json({"QueryResponse": {"Customer": rows, "startPosition": start, "maxResults": len(rows)} if rows else {}, "time": "t"})

    qbo.api = api
    async with make_client(qbo, store) as client:
        rows = await client.query(REALM, "select * from Customer", page_size=3)
        exact = await client.query(REALM, "select * from Customer where Id < '7'", page_size=7)
    assert [r["Id"] for r in rows] == [str(i) for i in range(1, 8)]
    assert len(exact) == 7
    starts = [s.query["query"].split("STARTPOSITION ")[1].split()[0] for s in qbo.api_calls()]
    assert starts == ["1", "4", "7", "1", "8"]


async def test_cdc_groups_objects_by_entity(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    payload = {
        "CDCResponse": [
            {
                "QueryResponse": [
                    {"Payment": [{"Id": "5", "TotalAmt": 10.5}], "startPosition": 1, "maxResults": 1},
                    {"Invoice": [{"Id": "9", "status": "Deleted", "domain": "QBO"}], "startPosition": 1, "maxResults": 1},
                ]
            }
        ],
        "time": "t",
    }
    qbo.api = answer(_json(payload))
    async with make_client(qbo, store) as client:
        got = await client.cdc(REALM, ["Payment", "Invoice", "BillPayment"], datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert got["Payment"][0]["TotalAmt"] == Decimal("10.5")
    assert got["Invoice"][0]["status"] == "Deleted" and got["BillPayment"] == []
    [sent] = qbo.api_calls()
    assert sent.query["entities"] == "Payment,Invoice,BillPayment"
    assert sent.query["changedSince"] == "2026-01-02T03:04:05+00:00"


async def test_no_token_or_secret_in_logs(qbo: ScriptedQbo, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    store = InMemoryTokenStore(tokens())
    rotating_token_endpoint(qbo, store)

    async def api(request: httpx.Request, body: bytes) -> httpx.Response:
        if request.headers["Authorization"] != "Bearer AT-2":
            return _json(LOWER_401, status=401)
        return _text(XML_429, 429) if len(qbo.api_calls()) == 2 else _json(customer())

    qbo.api = api
    async with make_client(qbo, store) as client:
        await client.create(REALM, "Customer", {"DisplayName": "Acme"}, request_id="log-1")
    logged = caplog.text + " ".join(repr(r.__dict__) for r in caplog.records)
    assert "HTTP Request" in logged or "qbo." in logged  # logging was captured at all
    for secret in ("AT-1", "AT-2", "RT-1", "RT-2", "csecret", base64.b64encode(b"cid:csecret").decode()):
        assert secret not in logged


async def test_caller_that_does_not_wait_gets_rate_limited_without_sending(qbo: ScriptedQbo) -> None:
    store = InMemoryTokenStore(tokens())
    qbo.api = answer(_text(XML_429, 429))
    retry = RetryPolicy(max_attempts=0, rate_limit_wait_s=30, rate_limit_max_retries=0)
    async with make_client(qbo, store, retry=retry) as client:
        with pytest.raises(QboRateLimited):
            await client.read(REALM, "Customer", "1")
        assert client.paused_for(REALM) > 20
        with pytest.raises(QboRateLimited) as exc:  # realm still paused: refused locally, nothing sent
            await client.read(REALM, "Customer", "2")
        assert exc.value.retry_after_s > 20
        assert client.paused_for("another-realm") == 0
    assert len(qbo.api_calls()) == 1
