"""Test controls under ``/__sandbox/`` (JSON, no auth): realms, stats, faults, limits, webhooks, OAuth helpers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from infra.qbo_sandbox import tax
from infra.qbo_sandbox.injection import FaultSpec
from infra.qbo_sandbox.limits import Limits
from infra.qbo_sandbox.webhooks import Target


class RealmRequest(BaseModel):
    realm_id: str | None = None
    name: str | None = None
    # Region and sales tax (infra/qbo_sandbox/tax.py); only used when the realm is created.
    country: str = Field(default="US", min_length=2, max_length=2)
    automated_sales_tax: bool = False
    tax_rate: Decimal = Field(default=Decimal("8.25"), ge=0, le=100)


class LimitsRequest(BaseModel):
    realm: str | None = None  # None = the defaults for every realm without an override
    requests_per_minute: int | None = Field(default=None, ge=1)
    concurrent: int | None = Field(default=None, ge=1)
    batch_per_minute: int | None = Field(default=None, ge=1)
    # Sandbox-wide: Retry-After seconds on 429 (0 = send none) and the 429 body format.
    retry_after_s: int | None = Field(default=None, ge=0)
    throttle_body: Literal["json", "xml"] | None = None


class WebhookConfigRequest(BaseModel):
    realm: str | None = None  # None = the app-wide default
    url: str | None = None
    verifier_token: str | None = None
    format: Literal["legacy", "cloudevents"] | None = None
    retry_schedule_s: list[float] | None = None


class RealmRef(BaseModel):
    realm: str | None = None
    realm_id: str | None = None

    @property
    def id(self) -> str | None:
        return self.realm or self.realm_id


def _state(request: web.Request) -> Any:
    from infra.qbo_sandbox.app import STATE_KEY

    return request.app[STATE_KEY]


async def _model(request: web.Request, model: type[BaseModel]) -> Any:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=exc.json(), content_type="application/json") from None


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return web.json_response({"ok": True})


async def create_realm(request: web.Request) -> web.Response:
    sb = _state(request)
    body: RealmRequest = await _model(request, RealmRequest)
    # Idempotent: an existing realm is reused (its data kept) and gets a fresh token pair, so a
    # "connect" can be repeated against a sandbox that persists its state.
    existing = sb.store.realms.get(body.realm_id) if body.realm_id else None
    settings = {"country": body.country.upper(), "automated_sales_tax": body.automated_sales_tax, "tax_rate": str(body.tax_rate)}
    realm = existing or sb.create_realm(body.realm_id, body.name, settings)
    tokens = sb.oauth.issue(realm.realm_id)
    return web.json_response({"realm_id": realm.realm_id, "name": realm.name, "created": existing is None, **_realm_tax(realm), **tokens})


def _realm_tax(realm: Any) -> dict[str, Any]:
    s = tax.settings(realm)
    return {"country": s["country"], "automated_sales_tax": s["automated_sales_tax"], "tax_rate": str(s["tax_rate"])}


async def list_realms(request: web.Request) -> web.Response:
    sb = _state(request)
    return web.json_response({"realms": [{"realm_id": r.realm_id, "name": r.name, **_realm_tax(r)} for r in sb.store.realms.values()]})


async def stats(request: web.Request) -> web.Response:
    sb = _state(request)
    realm = request.query.get("realm")
    if realm:
        return web.json_response({"realm": realm, **sb.stats.realm(realm).to_json()})
    return web.json_response({"realms": {k: v.to_json() for k, v in sb.stats.realms.items()}})


async def clear_stats(request: web.Request) -> web.Response:
    _state(request).stats.clear(request.query.get("realm"))
    return web.json_response({"ok": True})


async def set_faults(request: web.Request) -> web.Response:
    spec: FaultSpec = await _model(request, FaultSpec)
    _state(request).injector.set(spec)
    return web.json_response({"ok": True, "faults": spec.model_dump()})


async def clear_faults(request: web.Request) -> web.Response:
    _state(request).injector.clear(request.query.get("realm"))
    return web.json_response({"ok": True})


async def set_limits(request: web.Request) -> web.Response:
    sb = _state(request)
    body: LimitsRequest = await _model(request, LimitsRequest)
    base = sb.limiter.limits(body.realm) if body.realm else sb.limiter.defaults
    new = Limits(
        body.requests_per_minute or base.requests_per_minute,
        body.concurrent or base.concurrent,
        body.batch_per_minute or base.batch_per_minute,
    )
    if body.realm:
        sb.limiter.overrides[body.realm] = new
    else:
        sb.limiter.defaults = new
    if body.retry_after_s is not None:
        sb.config.retry_after_s = body.retry_after_s or None
    if body.throttle_body is not None:
        sb.config.throttle_body = body.throttle_body
    return web.json_response(
        {"ok": True, "limits": new.__dict__, "retry_after_s": sb.config.retry_after_s, "throttle_body": sb.config.throttle_body}
    )


async def clear_limits(request: web.Request) -> web.Response:
    sb = _state(request)
    realm = request.query.get("realm")
    if realm:
        sb.limiter.overrides.pop(realm, None)
    else:
        sb.limiter.overrides.clear()
    return web.json_response({"ok": True})


async def webhook_config(request: web.Request) -> web.Response:
    sb = _state(request)
    body: WebhookConfigRequest = await _model(request, WebhookConfigRequest)
    base = sb.webhooks.target(body.realm) if body.realm else sb.webhooks.default
    target = Target(
        body.url if "url" in body.model_fields_set else base.url,
        body.verifier_token or base.verifier_token,
        body.format or base.format,
    )
    if body.realm:
        sb.webhooks.per_realm[body.realm] = target
    else:
        sb.webhooks.default = target
    if body.retry_schedule_s is not None:
        sb.webhooks.retry_schedule_s = list(body.retry_schedule_s)
    return web.json_response({"ok": True, "url": target.url, "format": target.format})


async def webhook_log(request: web.Request) -> web.Response:
    sb = _state(request)
    realm = request.query.get("realm")
    items = [d.to_json() for d in sb.webhooks.log if realm is None or d.realm_id == realm]
    return web.json_response({"deliveries": items})


async def mint_code(request: web.Request) -> web.Response:
    """What Intuit's consent page does: the user picks a company (created here if new) and the app gets a
    one-time code plus the realmId to exchange at the token endpoint."""
    sb = _state(request)
    body: RealmRef = await _model(request, RealmRef)
    realm = sb.store.realms.get(body.id) if body.id else None
    if realm is None:
        realm = sb.create_realm(body.id, None)
    return web.json_response({"code": sb.oauth.mint_code(realm.realm_id), "realm_id": realm.realm_id})


async def expire_tokens(request: web.Request) -> web.Response:
    sb = _state(request)
    body: RealmRef = await _model(request, RealmRef)
    return web.json_response({"expired": sb.oauth.expire_access_tokens(body.id)})


async def revoke_refresh_tokens(request: web.Request) -> web.Response:
    """Make every refresh token of a realm unusable (as when a user disconnects the app): invalid_grant."""
    sb = _state(request)
    body: RealmRef = await _model(request, RealmRef)
    n = 0
    for info in sb.store.oauth.refresh_tokens.values():
        if body.id is None or info["realm"] == body.id:
            info["superseded"] = True
            n += 1
    sb.store.save_oauth()
    return web.json_response({"revoked": n})


class ClockRequest(BaseModel):
    advance_s: float = Field(ge=0)


async def clock(request: web.Request) -> web.Response:
    """Move the sandbox's clock forward (token expiry, CDC's 30-day limit, MetaData times); never back."""
    sb = _state(request)
    if request.method == "POST":
        body: ClockRequest = await _model(request, ClockRequest)
        sb.clock.shift_s += body.advance_s
    return web.json_response({"now": sb.clock.now().isoformat(), "shift_s": sb.clock.shift_s})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/__sandbox/health", health)
    r.add_get("/__sandbox/clock", clock)
    r.add_post("/__sandbox/clock", clock)
    r.add_post("/__sandbox/reset", reset)
    r.add_post("/__sandbox/realms", create_realm)
    r.add_get("/__sandbox/realms", list_realms)
    r.add_get("/__sandbox/stats", stats)
    r.add_delete("/__sandbox/stats", clear_stats)
    r.add_post("/__sandbox/faults", set_faults)
    r.add_delete("/__sandbox/faults", clear_faults)
    r.add_post("/__sandbox/limits", set_limits)
    r.add_delete("/__sandbox/limits", clear_limits)
    r.add_post("/__sandbox/webhook-config", webhook_config)
    r.add_get("/__sandbox/webhooks", webhook_log)
    r.add_post("/__sandbox/oauth/codes", mint_code)
    r.add_post("/__sandbox/expire-access-tokens", expire_tokens)
    r.add_post("/__sandbox/revoke-refresh-tokens", revoke_refresh_tokens)
