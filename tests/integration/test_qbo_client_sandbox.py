"""QboClient against the local QBO sandbox over real HTTP: each QBO rule surfaces as the right error
class, paging, batch faults, OAuth refresh and rotation, 429s, requestid replay and fault injection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from bottleneck_qbo.settings import Settings
from sinks.qbo.auth import InMemoryTokenStore, OAuthClientConfig, TokenManager, TokenSet
from sinks.qbo.client import QboClient, RetryPolicy, batch_item_error
from sinks.qbo.errors import (
    QboConfigError,
    QboDuplicateName,
    QboNotFound,
    QboStaleSyncToken,
    QboValidationError,
)
from sinks.qbo.limiter import LimiterConfig, LimiterRegistry
from tests.fixtures.sandbox import RealmInfo, SandboxServer, sales_line

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, rate_limit_wait_s=0.05, rate_limit_max_retries=50)


def realm_tokens(realm: RealmInfo) -> TokenSet:
    return TokenSet(
        realm_id=realm.realm_id,
        access_token=SecretStr(realm.access_token),
        access_expires_at=datetime.now(UTC) + timedelta(hours=1),
        refresh_token=SecretStr(realm.refresh_token),
    )


def make_client(
    sandbox: SandboxServer,
    store: InMemoryTokenStore,
    *,
    limits: LimiterConfig | None = None,
    retry: RetryPolicy = FAST_RETRY,
    timeout_s: float = 10.0,
    local_validation: bool = True,
) -> QboClient:
    oauth = OAuthClientConfig(token_url=sandbox.token_url, client_id=sandbox.client_id, client_secret=SecretStr(sandbox.client_secret))
    return QboClient(
        base_url=sandbox.base_url,
        token_manager=TokenManager(store, oauth),
        timeout_s=timeout_s,
        limiters=LimiterRegistry(limits or LimiterConfig()),
        retry=retry,
        local_validation=local_validation,
    )


@pytest.fixture
async def client(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> AsyncIterator[QboClient]:
    async with make_client(qbo_sandbox, InMemoryTokenStore(realm_tokens(qbo_realm)), local_validation=False) as c:
        yield c


async def _item(client: QboClient, realm: str, name: str = "Widget") -> dict[str, Any]:
    return await client.create(realm, "Item", {"Name": name, "Type": "Service", "UnitPrice": Decimal("10.00")}, request_id=f"item-{name}")


# --- QBO's rules as typed errors ---------------------------------------------------------------------


async def test_create_read_sparse_update_and_decimal_money(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    cust = await client.create(realm, "Customer", {"DisplayName": "Acme Tools"}, request_id="c-1")
    assert cust["Id"] and cust["SyncToken"] == "0" and cust["DisplayName"] == "Acme Tools"
    item = await _item(client, realm)
    inv = await client.create(
        realm,
        "Invoice",
        {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], Decimal("3"), Decimal("0.10"), Decimal("0.30"))]},
        request_id="inv-1",
    )
    assert inv["TotalAmt"] == Decimal("0.30") and isinstance(inv["TotalAmt"], Decimal)
    updated = await client.update(realm, "Customer", {"Id": cust["Id"], "SyncToken": cust["SyncToken"], "Notes": "vip"})
    assert updated["Notes"] == "vip" and updated["DisplayName"] == "Acme Tools"  # sparse: name kept
    assert (await client.read(realm, "Customer", cust["Id"]))["SyncToken"] == updated["SyncToken"]


async def test_6240_duplicate_name_across_customer_and_vendor(client: QboClient, qbo_realm: RealmInfo) -> None:
    await client.create(qbo_realm.realm_id, "Customer", {"DisplayName": "Same Name"}, request_id="d-1")
    with pytest.raises(QboDuplicateName) as exc:
        await client.create(qbo_realm.realm_id, "Vendor", {"DisplayName": "Same Name"}, request_id="d-2")
    assert exc.value.codes == ["6240"] and exc.value.status == 400
    assert exc.value.request == f"POST /v3/company/{qbo_realm.realm_id}/vendor"


async def test_5010_stale_sync_token(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    cust = await client.create(realm, "Customer", {"DisplayName": "Stale Co"}, request_id="s-1")
    await client.update(realm, "Customer", {"Id": cust["Id"], "SyncToken": "0", "Notes": "first"})
    with pytest.raises(QboStaleSyncToken) as exc:
        await client.update(realm, "Customer", {"Id": cust["Id"], "SyncToken": "0", "Notes": "second"})
    assert exc.value.codes == ["5010"] and exc.value.failure_type.value == "conflict"


async def test_2010_unknown_property(client: QboClient, qbo_realm: RealmInfo) -> None:
    with pytest.raises(QboValidationError) as exc:
        await client.create(qbo_realm.realm_id, "Customer", {"DisplayName": "X", "Bogus": "1"}, request_id="u-1")
    assert exc.value.codes == ["2010"] and "Bogus" in exc.value.message


async def test_2020_required_field_missing(client: QboClient, qbo_realm: RealmInfo) -> None:
    item = await _item(client, qbo_realm.realm_id)
    with pytest.raises(QboValidationError) as exc:
        await client.create(
            qbo_realm.realm_id, "Invoice", {"Line": [sales_line(item["Id"], Decimal(1), Decimal(10), Decimal(10))]}, request_id="r-1"
        )
    assert exc.value.codes == ["2020"] and "CustomerRef" in exc.value.message


async def test_6070_amount_is_not_qty_times_price(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    cust = await client.create(realm, "Customer", {"DisplayName": "Amt"}, request_id="a-1")
    item = await _item(client, realm)
    with pytest.raises(QboValidationError) as exc:
        await client.create(
            realm,
            "Invoice",
            {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], Decimal(3), Decimal(10), Decimal(31))]},
            request_id="a-2",
        )
    assert exc.value.codes == ["6070"]


async def test_610_not_found_and_2500_invalid_reference(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    with pytest.raises(QboNotFound) as missing:
        await client.read(realm, "Customer", "999999")
    assert missing.value.codes == ["610"]
    item = await _item(client, realm)
    with pytest.raises(QboValidationError) as bad_ref:
        await client.create(
            realm,
            "Invoice",
            {"CustomerRef": {"value": "999999"}, "Line": [sales_line(item["Id"], Decimal(1), Decimal(10), Decimal(10))]},
            request_id="ref-1",
        )
    assert bad_ref.value.codes == ["2500"] and bad_ref.value.faults[0].element == "CustomerRef"
    assert type(bad_ref.value) is QboValidationError  # terminal until the reference exists


async def test_4001_invalid_query(client: QboClient, qbo_realm: RealmInfo) -> None:
    with pytest.raises(QboValidationError) as exc:
        await client.query(qbo_realm.realm_id, "select * from Customer where DisplayName = 'a' or Id = '1'")
    assert exc.value.codes == ["4001"]


async def test_void_and_delete(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    cust = await client.create(realm, "Customer", {"DisplayName": "Voids"}, request_id="v-1")
    item = await _item(client, realm)
    body = {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], Decimal(2), Decimal(5), Decimal(10))]}
    inv1 = await client.create(realm, "Invoice", body, request_id="v-2")
    voided = await client.void(realm, "Invoice", inv1["Id"], inv1["SyncToken"], request_id="v-3")
    assert voided["TotalAmt"] == 0 and int(voided["SyncToken"]) > int(inv1["SyncToken"])
    inv2 = await client.create(realm, "Invoice", body, request_id="v-4")
    deleted = await client.delete(realm, "Invoice", inv2["Id"], inv2["SyncToken"])
    assert deleted["status"] == "Deleted"
    with pytest.raises(QboNotFound):
        await client.read(realm, "Invoice", inv2["Id"])
    gone = await client.deactivate(realm, "Customer", cust["Id"], cust["SyncToken"])
    assert gone["Active"] is False


# --- paging, batch, cdc -----------------------------------------------------------------------------


async def test_query_pages_across_several_pages(client: QboClient, qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    for i in range(7):
        await client.create(realm, "Customer", {"DisplayName": f"Pager {i}"}, request_id=f"p-{i}")
    qbo_sandbox.clear_stats(realm)
    rows = await client.query(realm, "select * from Customer where DisplayName like 'Pager%'", page_size=3)
    assert sorted(r["DisplayName"] for r in rows) == [f"Pager {i}" for i in range(7)]
    assert len({r["Id"] for r in rows}) == 7
    assert qbo_sandbox.stats(realm)["requests"]["GET"]["query"] == {"200": 3}


async def test_batch_with_per_item_faults(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    taken = await client.create(realm, "Customer", {"DisplayName": "Taken"}, request_id="b-0")
    answers = await client.batch(
        realm,
        [
            {"bId": "b1", "operation": "create", "Customer": {"DisplayName": "Fresh"}},
            {"bId": "b2", "operation": "create", "Vendor": {"DisplayName": "Taken"}},
            {"bId": "b3", "operation": "update", "Customer": {"Id": taken["Id"], "SyncToken": "7", "sparse": True, "Notes": "x"}},
            {"bId": "b4", "Query": "select * from Customer where DisplayName = 'Taken'"},
        ],
    )
    assert [a["bId"] for a in answers] == ["b1", "b2", "b3", "b4"]
    assert answers[0]["Customer"]["DisplayName"] == "Fresh" and batch_item_error(answers[0]) is None
    assert isinstance(batch_item_error(answers[1]), QboDuplicateName)
    assert isinstance(batch_item_error(answers[2]), QboStaleSyncToken)
    assert answers[3]["QueryResponse"]["Customer"][0]["Id"] == taken["Id"]


async def test_cdc_returns_changes_and_deletions(client: QboClient, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    since = datetime.now(UTC) - timedelta(minutes=5)
    cust = await client.create(realm, "Customer", {"DisplayName": "Cdc"}, request_id="cdc-1")
    item = await _item(client, realm)
    inv = await client.create(
        realm,
        "Invoice",
        {"CustomerRef": {"value": cust["Id"]}, "Line": [sales_line(item["Id"], Decimal(1), Decimal(10), Decimal(10))]},
        request_id="cdc-2",
    )
    await client.delete(realm, "Invoice", inv["Id"], inv["SyncToken"])
    changes = await client.cdc(realm, ["Customer", "Invoice", "Payment"], since)
    assert [c["Id"] for c in changes["Customer"]] == [cust["Id"]]
    assert [(c["Id"], c.get("status")) for c in changes["Invoice"]] == [(inv["Id"], "Deleted")]
    assert changes["Payment"] == []


# --- OAuth -----------------------------------------------------------------------------------------


async def test_refresh_on_401_rotates_and_persists_and_old_refresh_token_is_dead(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    store = InMemoryTokenStore(realm_tokens(qbo_realm))
    async with make_client(qbo_sandbox, store) as client:
        await client.create(realm, "Customer", {"DisplayName": "Before"}, request_id="o-1")
        qbo_sandbox.expire_access_tokens(realm)
        await client.create(realm, "Customer", {"DisplayName": "After"}, request_id="o-2")
        assert client.stats.token_refreshes[realm] == 1
    latest = await store.get(realm)
    assert latest is not None and latest.refresh_token.get_secret_value() != qbo_realm.refresh_token
    assert len(store.history) == 2  # the rotated pair was persisted

    # A second process still holding the superseded refresh token: invalid_grant -> QboConfigError.
    stale_store = InMemoryTokenStore(realm_tokens(qbo_realm))
    qbo_sandbox.expire_access_tokens(realm)
    async with make_client(qbo_sandbox, stale_store) as other:
        with pytest.raises(QboConfigError) as exc:
            await other.read(realm, "Customer", "1")
    assert "reconnect" in exc.value.message
    assert qbo_realm.refresh_token not in str(exc.value)


async def test_client_from_settings_with_static_token(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    settings = Settings(
        qbo_base_url=qbo_sandbox.base_url,
        qbo_token_url=qbo_sandbox.token_url,
        qbo_access_token=SecretStr(qbo_sandbox.access_token or ""),
        qbo_retry_base_delay_s=0.01,
    )
    async with QboClient.from_settings(settings, InMemoryTokenStore()) as client:
        got = await client.create(qbo_realm.realm_id, "Customer", {"DisplayName": "Static"}, request_id="st-1")
    assert got["DisplayName"] == "Static"


# --- limits ------------------------------------------------------------------------------------------


async def test_client_within_the_limits_never_gets_a_429(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    """Same limits on both sides: 12 requests against 8/minute and 2 in flight finish without one 429.
    (Takes about one minute: the sandbox's window is QBO's 60 s.)"""
    realm = qbo_realm.realm_id
    qbo_sandbox.set_limits(realm, requests_per_minute=8, concurrent=2)
    qbo_sandbox.set_faults(realm, latency_ms=30)
    limits = LimiterConfig(requests_per_window=8, max_concurrency=2, window_s=60.0)
    async with make_client(qbo_sandbox, InMemoryTokenStore(realm_tokens(qbo_realm)), limits=limits) as client:
        await asyncio.gather(*(client.create(realm, "Customer", {"DisplayName": f"L{i}"}, request_id=f"l-{i}") for i in range(12)))
    stats = qbo_sandbox.stats(realm)
    assert stats["throttled"] == 0
    assert stats["requests"]["POST"]["customer"] == {"200": 12}


async def test_429s_are_absorbed_and_all_requests_finish(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    """Client limits above the realm's: QBO answers 429, the client pauses the realm and resends."""
    realm = qbo_realm.realm_id
    qbo_sandbox.set_limits(realm, concurrent=2)
    qbo_sandbox.set_faults(realm, latency_ms=40, throttle_next=3)
    async with make_client(qbo_sandbox, InMemoryTokenStore(realm_tokens(qbo_realm))) as client:
        results = await asyncio.gather(
            *(client.create(realm, "Customer", {"DisplayName": f"T{i}"}, request_id=f"t-{i}") for i in range(15))
        )
        assert client.stats.rate_limited[realm] >= 3
    assert len({r["Id"] for r in results}) == 15
    stats = qbo_sandbox.stats(realm)
    assert stats["throttled"] >= 3 and stats["applied_total"] == 15


# --- idempotency and faults -----------------------------------------------------------------------


async def test_requestid_replay_creates_nothing(client: QboClient, qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    first = await client.create(realm, "Customer", {"DisplayName": "Once"}, request_id="once-1")
    again = await client.create(realm, "Customer", {"DisplayName": "Once"}, request_id="once-1")
    assert again["Id"] == first["Id"]
    # A lost answer: the client resends with the same requestid and QBO replays the first response.
    qbo_sandbox.set_faults(realm, lose_response_next=1)
    lost = await client.create(realm, "Customer", {"DisplayName": "Lost Answer"}, request_id="once-2")
    stats = qbo_sandbox.stats(realm)
    assert stats["applied"]["Customer"]["create"] == 2
    assert stats["replays"] == 2
    assert [r["Id"] for r in await client.query(realm, "select * from Customer where DisplayName = 'Lost Answer'")] == [lost["Id"]]


async def test_fault_injection_converges(qbo_sandbox: SandboxServer, qbo_realm: RealmInfo) -> None:
    realm = qbo_realm.realm_id
    qbo_sandbox.set_faults(realm, error_rate=0.25, timeout_rate=0.1, lose_response_rate=0.15, hang_s=2, seed=7)
    retry = RetryPolicy(max_attempts=12, base_delay_s=0.01, max_delay_s=0.05, rate_limit_wait_s=0.05)
    async with make_client(qbo_sandbox, InMemoryTokenStore(realm_tokens(qbo_realm)), retry=retry, timeout_s=0.5) as client:
        created = await asyncio.gather(
            *(client.create(realm, "Customer", {"DisplayName": f"F{i}"}, request_id=f"f-{i}") for i in range(20))
        )
        assert client.stats.retries[realm] > 0
        qbo_sandbox.clear_faults(realm)
        rows = await client.query(realm, "select * from Customer where DisplayName like 'F%'")
    assert sorted(r["DisplayName"] for r in rows) == sorted(f"F{i}" for i in range(20))
    assert sorted(r["Id"] for r in rows) == sorted(c["Id"] for c in created)
    stats = qbo_sandbox.stats(realm)
    assert stats["applied"]["Customer"]["create"] == 20
    assert stats["injected"]["error"] + stats["injected"]["timeout"] + stats["injected"]["lost_response"] > 0
