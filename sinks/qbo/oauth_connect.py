"""Connecting a QBO company (authorization-code grant), for ``connect`` against real QBO.

Flow: send the user to ``authorization_url(...)``; Intuit redirects to the redirect URI with ``code``,
``state`` and ``realmId``; check ``state``, then ``exchange_authorization_code`` stores the first tokens.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

import httpx

from sinks.qbo.auth import OAuthClientConfig, TokenSet, TokenStore, request_tokens, token_set_from_response
from sinks.qbo.errors import QboConfigError

__all__ = ["ACCOUNTING_SCOPE", "authorization_url", "check_state", "exchange_authorization_code", "new_state"]

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


def new_state() -> str:
    """An unguessable CSRF state for one authorization attempt."""
    return secrets.token_urlsafe(24)


def check_state(expected: str, received: str) -> None:
    if not received or not hmac.compare_digest(expected.encode(), received.encode()):
        raise QboConfigError(message="OAuth state mismatch: the redirect does not belong to this connect attempt")


def authorization_url(*, auth_url: str, client_id: str, redirect_uri: str, state: str, scope: str = ACCOUNTING_SCOPE) -> str:
    """Intuit's consent page URL (response_type=code)."""
    query = urlencode({"client_id": client_id, "response_type": "code", "scope": scope, "redirect_uri": redirect_uri, "state": state})
    return f"{auth_url}?{query}"


async def exchange_authorization_code(
    *,
    oauth: OAuthClientConfig,
    code: str,
    redirect_uri: str,
    realm_id: str,
    token_store: TokenStore,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TokenSet:
    """Trade the authorization code for the first tokens and persist them; returns what was stored."""
    if not code or not realm_id:
        raise QboConfigError(message="OAuth redirect is missing code or realmId")
    data = await request_tokens(
        oauth, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}, transport=transport
    )
    tokens = token_set_from_response(realm_id, data)
    await token_store.save(tokens)
    return tokens
