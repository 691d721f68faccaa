"""OAuth 2 as Intuit runs it: ``POST /oauth2/v1/tokens/bearer`` and bearer checks on the data API.

Choices: every refresh rotates the refresh token (reference §2 says QBO *may*; rotating every time
exercises the client's persistence path) and the superseded one answers 400 ``invalid_grant``.
Authorization codes are minted by ``POST /__sandbox/oauth/codes``, are single-use and live 5 minutes.
The static ``access_token`` of the config is accepted for every realm and never expires.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from infra.qbo_sandbox.clock import Clock
from infra.qbo_sandbox.config import SandboxConfig
from infra.qbo_sandbox.stats import Stats
from infra.qbo_sandbox.store import Store

CODE_TTL_S = 300


class OAuth:
    def __init__(self, config: SandboxConfig, store: Store, stats: Stats, clock: Clock) -> None:
        self.clock = clock
        self.config = config
        self.store = store
        self.stats = stats

    # --- minting ---------------------------------------------------------------------------------
    def issue(self, realm_id: str) -> dict[str, Any]:
        now = self.clock.epoch()
        access = "sbx-at-" + secrets.token_urlsafe(24)
        refresh = "sbx-rt-" + secrets.token_urlsafe(24)
        self.store.oauth.access_tokens[access] = {"realm": realm_id, "expires_at": now + self.config.access_token_ttl_s}
        self.store.oauth.refresh_tokens[refresh] = {
            "realm": realm_id,
            "expires_at": now + self.config.refresh_token_ttl_s,
            "superseded": False,
        }
        self.store.save_oauth()
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": self.config.access_token_ttl_s,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": self.config.refresh_token_ttl_s,
        }

    def mint_code(self, realm_id: str) -> str:
        code = "sbx-code-" + secrets.token_urlsafe(18)
        self.store.oauth.codes[code] = {"realm": realm_id, "expires_at": self.clock.epoch() + CODE_TTL_S}
        self.store.save_oauth()
        return code

    def expire_access_tokens(self, realm_id: str | None) -> int:
        n = 0
        for tok in self.store.oauth.access_tokens.values():
            if realm_id is None or tok["realm"] == realm_id:
                tok["expires_at"] = 0.0
                n += 1
        self.store.save_oauth()
        return n

    # --- checks ------------------------------------------------------------------------------------
    def bearer_realms(self, header: str | None) -> tuple[str | None, str]:
        """Returns (realm the token is for, or "*" for the static token; None if invalid) and a reason."""
        if not header or not header.lower().startswith("bearer "):
            return None, "Authorization header with a Bearer token is missing"
        token = header[7:].strip()
        static = self.config.access_token
        if static is not None and hmac.compare_digest(token.encode(), static.get_secret_value().encode()):
            return "*", ""
        info = self.store.oauth.access_tokens.get(token)
        if info is None:
            return None, "Token invalid: unknown access token"
        if info["expires_at"] <= self.clock.epoch():
            return None, "Token expired: access token is older than its expires_in"
        return info["realm"], ""

    # --- token endpoint ------------------------------------------------------------------------------
    async def token_endpoint(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id, client_secret = self._client_credentials(request, dict(form))
        if not (
            client_id is not None
            and client_secret is not None
            and hmac.compare_digest(client_id.encode(), self.config.client_id.encode())
            and hmac.compare_digest(client_secret.encode(), self.config.client_secret.get_secret_value().encode())
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = form.get("grant_type")
        now = self.clock.epoch()
        if grant == "refresh_token":
            token = str(form.get("refresh_token") or "")
            info = self.store.oauth.refresh_tokens.get(token)
            if info is None or info["superseded"] or info["expires_at"] <= now:
                if info is not None:
                    self.stats.realm(info["realm"]).oauth["invalid_grant"] += 1
                return web.json_response({"error": "invalid_grant"}, status=400)
            info["superseded"] = True
            self.stats.realm(info["realm"]).oauth["refresh"] += 1
            return web.json_response(self.issue(info["realm"]), headers={"Cache-Control": "no-store"})
        if grant == "authorization_code":
            code = str(form.get("code") or "")
            info = self.store.oauth.codes.pop(code, None)
            if info is None or info["expires_at"] <= now:
                self.store.save_oauth()
                return web.json_response({"error": "invalid_grant"}, status=400)
            if info["realm"] not in self.store.realms:
                return web.json_response({"error": "invalid_grant"}, status=400)
            self.stats.realm(info["realm"]).oauth["authorization_code"] += 1
            return web.json_response(self.issue(info["realm"]), headers={"Cache-Control": "no-store"})
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    @staticmethod
    def _client_credentials(request: web.Request, form: dict[str, Any]) -> tuple[str | None, str | None]:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                raw = base64.b64decode(auth[6:].strip()).decode()
                cid, _, secret = raw.partition(":")
                return unquote_plus(cid), unquote_plus(secret)
            except (ValueError, UnicodeDecodeError):
                return None, None
        form_id, form_secret = form.get("client_id"), form.get("client_secret")
        return (str(form_id) if form_id is not None else None, str(form_secret) if form_secret is not None else None)
