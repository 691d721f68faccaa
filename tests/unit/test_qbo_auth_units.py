"""Token handling that needs no server: parsing token answers, secrecy, stores, connect URLs, stats."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from sinks.qbo.auth import InMemoryTokenStore, TokenManager, TokenSet, token_set_from_response
from sinks.qbo.errors import QboConfigError
from sinks.qbo.oauth_connect import authorization_url, check_state, new_state
from sinks.qbo.stats import QboStats


def test_token_answer_is_parsed_with_expiries() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tokens = token_set_from_response(
        "123",
        {"access_token": "AT-secret", "refresh_token": "RT-secret", "expires_in": 3600, "x_refresh_token_expires_in": 8726400},
        now,
    )
    assert tokens.access_expires_at == now + timedelta(hours=1)
    assert tokens.refresh_expires_at == now + timedelta(seconds=8726400)
    assert tokens.refresh_token.get_secret_value() == "RT-secret"


def test_tokens_never_show_in_repr_or_str() -> None:
    tokens = token_set_from_response("123", {"access_token": "AT-secret", "refresh_token": "RT-secret"})
    assert "secret" not in repr(tokens) and "secret" not in str(tokens)


def test_token_answer_without_tokens_is_a_config_error() -> None:
    with pytest.raises(QboConfigError):
        token_set_from_response("1", {"access_token": "x"})


async def test_missing_tokens_for_a_realm_is_a_clear_config_error() -> None:
    manager = TokenManager(InMemoryTokenStore(), None)
    with pytest.raises(QboConfigError, match="realm 42"):
        await manager.access_token("42")


async def test_valid_stored_token_is_used_without_refresh() -> None:
    store = InMemoryTokenStore(
        TokenSet(
            realm_id="1",
            access_token=SecretStr("a"),
            access_expires_at=datetime.now(UTC) + timedelta(hours=1),
            refresh_token=SecretStr("r"),
        )
    )
    manager = TokenManager(store, None)
    assert await manager.access_token("1") == "a"
    assert manager.refresh_count == 0


def test_authorization_url_and_state() -> None:
    url = authorization_url(
        auth_url="https://appcenter.intuit.com/connect/oauth2",
        client_id="cid",
        redirect_uri="http://127.0.0.1:6066/oauth/callback",
        state="s1",
    )
    parsed = urlparse(url)
    q = parse_qs(parsed.query)
    assert parsed.netloc == "appcenter.intuit.com"
    assert q == {
        "client_id": ["cid"],
        "response_type": ["code"],
        "scope": ["com.intuit.quickbooks.accounting"],
        "redirect_uri": ["http://127.0.0.1:6066/oauth/callback"],
        "state": ["s1"],
    }
    state = new_state()
    assert len(state) >= 24 and state != new_state()
    check_state(state, state)
    with pytest.raises(QboConfigError):
        check_state(state, state + "x")


def test_stats_count_and_render_prometheus() -> None:
    stats = QboStats()
    stats.record("r1", "Invoice", 200)
    stats.record("r1", "Invoice", 429)
    stats.record("r2", "Customer", 200)
    assert stats.total(realm_id="r1") == 2 and stats.total(status=200) == 2
    assert stats.rate_limited["r1"] == 1
    text = stats.prometheus_text()
    assert 'qbo_requests_total{realm="r1",entity="Invoice",status="429"} 1' in text
    assert 'qbo_rate_limited_total{realm="r1"} 1' in text
