"""The aiohttp application: Accounting API v3 routes, the token endpoint and the control API.

Every ``/v3/company/{realmId}/...`` request goes through the same gate, in QBO's order: bearer check
(401/3200), realm access (403/3100), throttles (429/3001), injected faults, then the handler. Answers
carry an ``intuit_tid`` header and the envelope's ``time``. ``minorversion`` is accepted and ignored.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from infra.qbo_sandbox import batch as batch_mod
from infra.qbo_sandbox import cdc as cdc_mod
from infra.qbo_sandbox import faults, jsonio, tax
from infra.qbo_sandbox import query as query_mod
from infra.qbo_sandbox.clock import Clock
from infra.qbo_sandbox.config import SandboxConfig
from infra.qbo_sandbox.engine import Engine
from infra.qbo_sandbox.injection import FaultSpec, Injector
from infra.qbo_sandbox.limits import Limiter, Limits
from infra.qbo_sandbox.oauth import OAuth
from infra.qbo_sandbox.rules.common import Ctx
from infra.qbo_sandbox.rules.names import SEED_ACCOUNTS
from infra.qbo_sandbox.schema import RESOURCE_TO_ENTITY
from infra.qbo_sandbox.stats import Stats
from infra.qbo_sandbox.store import Realm, Store
from infra.qbo_sandbox.webhooks import Target, Webhooks

log = logging.getLogger("qbo_sandbox")

STATE_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox")
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36  # reference §8


class _Lost(Exception):
    """The answer to this request is deliberately never sent (injected timeout / lost response)."""


class Sandbox:
    """All mutable state of one running sandbox."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = Clock(config.utc_offset_minutes)
        self.store = Store(config.sqlite_path)
        self.stats = Stats()
        self.oauth = OAuth(config, self.store, self.stats, self.clock)
        self.limiter = Limiter(Limits(config.requests_per_minute, config.concurrent_requests, config.batch_per_minute))
        self.injector = Injector(
            FaultSpec(error_rate=config.error_rate, timeout_rate=config.timeout_rate, latency_ms=config.latency_ms), config.hang_s
        )
        self.webhooks = Webhooks(
            Target(config.webhook_url, config.webhook_verifier_token.get_secret_value(), config.webhook_format),
            config.webhook_retry_schedule_s,
            config.webhook_timeout_s,
            self.stats,
        )
        for realm_id in config.realms:
            if realm_id not in self.store.realms:
                self.create_realm(realm_id, None)

    def create_realm(self, realm_id: str | None, name: str | None, settings: dict[str, Any] | None = None) -> Realm:
        realm_id = realm_id or str(9_130_000_000_000_000 + secrets.randbelow(10**15))
        if realm_id in self.store.realms:
            raise ValueError(f"realm {realm_id} already exists")
        realm = Realm(realm_id, name or f"Sandbox Company {realm_id}", settings=dict(settings or {}))
        engine = Engine(Ctx(realm, self.clock))
        for acct in SEED_ACCOUNTS:
            engine.create("Account", dict(acct))
        tax.seed(realm, self.clock.meta_ts())
        self.store.realms[realm_id] = realm
        self.store.save_realm(realm, everything=True)
        return realm

    def reset(self) -> None:
        self.store.clear()
        self.stats.clear()
        self.limiter.reset()
        self.injector.clear()
        self.clock.shift_s = 0.0
        for realm_id in self.config.realms:
            self.create_realm(realm_id, None)


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=jsonio.dumps(payload), status=status, content_type="application/json", headers=headers)


def _throttled(sb: Sandbox) -> web.Response:
    fault = faults.throttled(sb.config.retry_after_s)
    if sb.config.throttle_body == "xml":
        err = fault.errors[0]
        xml = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{sb.clock.envelope_ts()}">'
            f'<Fault type="{fault.type}"><Error code="{err.code}"><Message>{escape(err.message)}</Message>'
            f"<Detail>{escape(err.detail)}</Detail></Error></Fault></IntuitResponse>"
        )
        return web.Response(text=xml, status=429, content_type="application/xml", headers=fault.headers)
    return _fault_response(sb, fault)


def _fault_response(sb: Sandbox, fault: faults.QboFault) -> web.Response:
    return _json({"Fault": fault.fault_json(), "time": sb.clock.envelope_ts()}, fault.status, fault.headers)


Handler = Callable[[web.Request, Sandbox, Realm], Awaitable[web.Response]]


def _resource_label(request: web.Request) -> str:
    res = request.match_info.get("resource", "")
    if not res:
        path = request.path.rstrip("/").split("/")
        res = path[4] if len(path) > 4 else ""
    return res.lower()


def api(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        sb = request.app[STATE_KEY]
        realm_id = request.match_info["realm"]
        resource = _resource_label(request)
        stats = sb.stats.realm(realm_id)
        tid = str(uuid.uuid4())

        def finish(resp: web.Response) -> web.Response:
            resp.headers["intuit_tid"] = tid
            stats.request(request.method, resource, resp.status)
            return resp

        token_realm, reason = sb.oauth.bearer_realms(request.headers.get("Authorization"))
        if token_realm is None:
            return finish(_json(faults.auth_envelope(reason, int(sb.clock.epoch() * 1000)), 401))
        realm = sb.store.realms.get(realm_id)
        if realm is None or token_realm not in ("*", realm_id):
            return finish(_fault_response(sb, faults.authorization_failed(realm_id)))
        if not sb.limiter.admit(realm_id):
            return finish(_throttled(sb))
        plan = sb.injector.plan(realm_id)
        try:
            pre = plan.pre_request()
            if plan.spec.latency_ms:
                stats.injected["latency"] += 1
                await asyncio.sleep(plan.spec.latency_ms / 1000)
            if pre == "throttle":
                stats.injected["throttle"] += 1
                return finish(_throttled(sb))
            if pre == "fault200":
                stats.injected["error"] += 1
                fault = faults.system_error("System Failure Error: a Fault in an HTTP 200 answer (injected by the sandbox)")
                return finish(_json({"Fault": fault.fault_json(), "time": sb.clock.envelope_ts()}, 200))
            if pre in ("error500", "error503"):
                stats.injected["error"] += 1
                return finish(_fault_response(sb, faults.system_error() if pre == "error500" else faults.unavailable()))
            if pre == "timeout":
                stats.injected["timeout"] += 1
                sb.limiter.release(realm_id)  # a hung request must not hold a concurrency slot
                realm_id = ""
                if plan.spec.timeout_mode == "hang":
                    await _hang(request, plan.hang_s)
                raise _Lost()
            try:
                resp = await handler(request, sb, realm)
            except faults.QboFault as fault:
                resp = _fault_response(sb, fault)
            except (web.HTTPException, _Lost, asyncio.CancelledError):
                raise
            except Exception:  # a sandbox bug answers like QBO's SystemFault and is logged, never a bare 500
                log.exception("sandbox error on %s %s", request.method, request.path)
                resp = _fault_response(sb, faults.system_error("System Failure Error: the sandbox failed; see its log"))
            resp = finish(resp)
            if request.method == "POST" and resource not in ("query",) and plan.lose_response():
                stats.injected["lost_response"] += 1
                raise _Lost()
            return resp
        except _Lost:
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPGatewayTimeout() from None  # never reaches the client: the connection is closed
        finally:
            if realm_id:
                sb.limiter.release(realm_id)

    return wrapped


async def _hang(request: web.Request, hang_s: float) -> None:
    deadline = time.monotonic() + hang_s
    while time.monotonic() < deadline:
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(0.05)


def _envelope(sb: Sandbox, payload: dict[str, Any]) -> web.Response:
    payload["time"] = sb.clock.envelope_ts()
    return _json(payload)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return jsonio.loads(raw)
    except jsonio.BadJson as exc:
        raise faults.validation(
            "2010", "Request has invalid or unsupported property", f"The request body is not valid JSON: {exc}"
        ) from None


def _ctx(request: web.Request, sb: Sandbox, realm: Realm) -> Ctx:
    include = request.query.get("include", "")
    return Ctx(realm, sb.clock, allow_duplicate_docnumber="allowduplicatedocnum" in include.lower())


def _commit(sb: Sandbox, realm: Realm, ctx: Ctx) -> None:
    if realm.dirty or realm.dirty_request_ids:
        sb.store.save_realm(realm)
    if ctx.changes:
        sb.webhooks.notify(realm.realm_id, ctx.changes)


async def _replayed(request: web.Request, sb: Sandbox, realm: Realm, count: Callable[[], None]) -> tuple[str | None, web.Response | None]:
    rid = request.query.get("requestid")
    if rid is None:
        return None, None
    limit = MAX_BATCH_REQUEST_ID if request.match_info.get("resource") is None and request.path.endswith("/batch") else MAX_REQUEST_ID
    if not rid or len(rid) > limit:
        raise faults.validation("2080", "Invalid requestid", f"requestid must be 1..{limit} characters")
    cached = realm.request_ids.get(rid)
    if cached is None:
        return rid, None
    # Same id again (whatever the body): QBO's promise is "the same response as the original request".
    sb.stats.realm(realm.realm_id).replays += 1
    count()
    return rid, web.Response(text=cached["body"], status=cached["status"], content_type="application/json")


def _remember(sb: Sandbox, realm: Realm, rid: str | None, resp: web.Response) -> None:
    if rid is not None and resp.status in (200, 400) and isinstance(resp.text, str):
        realm.remember(rid, resp.status, resp.text)
        sb.store.save_realm(realm)


# --- data API handlers ----------------------------------------------------------------------------


def _entity(request: web.Request) -> str:
    resource = request.match_info["resource"].lower()
    entity = RESOURCE_TO_ENTITY.get(resource)
    if entity is None:
        raise faults.unsupported(f"Unsupported resource {request.match_info['resource']!r}")
    return entity


async def read_entity(request: web.Request, sb: Sandbox, realm: Realm) -> web.Response:
    entity = _entity(request)
    obj = Engine(Ctx(realm, sb.clock)).read(entity, request.match_info["id"])
    return _envelope(sb, {entity: obj})


async def write_entity(request: web.Request, sb: Sandbox, realm: Realm) -> web.Response:
    entity = _entity(request)
    op = request.query.get("operation", "").lower()
    stats = sb.stats.realm(realm.realm_id)
    label = op or "save"

    try:
        body: Any = await _body(request)
    except faults.QboFault as bad_json:
        body = bad_json
    if not op:
        label = "update" if isinstance(body, dict) and body.get("Id") not in (None, "") else "create"

    def count() -> None:
        stats.write(entity, label)

    rid, replay = await _replayed(request, sb, realm, count)
    if replay is not None:
        return replay
    count()
    if isinstance(body, faults.QboFault):
        raise body
    ctx = _ctx(request, sb, realm)
    engine = Engine(ctx)
    plan = sb.injector.plan(realm.realm_id)
    entity_id = str(body.get("Id")) if isinstance(body, dict) and body.get("Id") else None
    try:
        if label in ("update", "delete", "void") and plan.stale_once(entity, entity_id):
            stats.injected["stale"] += 1
            raise faults.stale(entity)
        if op == "delete":
            result = engine.delete(entity, body)
        elif op == "void":
            result = engine.void(entity, body)
        elif op in ("", "update", "create"):
            result = engine.save(entity, body)
        else:
            raise faults.unsupported(f"Operation {op} is not supported")
        resp = _envelope(sb, {entity: result})
        stats.applied_write(entity, label)
    except faults.QboFault as fault:
        resp = _fault_response(sb, fault)
    _commit(sb, realm, ctx)
    _remember(sb, realm, rid, resp)
    return resp


async def query_handler(request: web.Request, sb: Sandbox, realm: Realm) -> web.Response:
    text = (await request.read()).decode("utf-8", errors="replace") if request.method == "POST" else request.query.get("query", "")
    return _envelope(sb, {"QueryResponse": query_mod.run(realm, text, sb.clock.tz)})


async def batch_handler(request: web.Request, sb: Sandbox, realm: Realm) -> web.Response:
    stats = sb.stats.realm(realm.realm_id)
    body = await _body(request)

    def count_items() -> None:
        # A replayed batch still counts its write items as write requests (none is applied).
        for item in body.get("BatchItemRequest") or [] if isinstance(body, dict) else []:
            if isinstance(item, dict) and "Query" not in item:
                entity = next((k for k in item if k in RESOURCE_TO_ENTITY.values()), None)
                if entity is not None:
                    stats.write(entity, str(item.get("operation") or "create").lower())

    rid, replay = await _replayed(request, sb, realm, count_items)
    if replay is not None:
        return replay
    n_items = len(body.get("BatchItemRequest") or []) if isinstance(body, dict) and isinstance(body.get("BatchItemRequest"), list) else 0
    # The batch call itself took one request slot when admitted; charge the rest of its items and the batch window.
    if not sb.limiter.admit_batch(realm.realm_id, max(n_items - 1, 0)):
        return _throttled(sb)
    ctx = _ctx(request, sb, realm)
    plan = sb.injector.plan(realm.realm_id)

    def on_write(entity: str, op: str, applied: bool) -> None:
        stats.write(entity, op)
        if applied:
            stats.applied_write(entity, op)

    def stale(entity: str, entity_id: str | None) -> bool:
        hit = plan.stale_once(entity, entity_id)
        if hit:
            stats.injected["stale"] += 1
        return hit

    try:
        result = batch_mod.run(Engine(ctx), body, sb.config.max_batch_items, sb.clock.tz, on_write, stale)
        resp = _envelope(sb, result)
    except faults.QboFault as fault:
        resp = _fault_response(sb, fault)
    _commit(sb, realm, ctx)
    _remember(sb, realm, rid, resp)
    return resp


async def cdc_handler(request: web.Request, sb: Sandbox, realm: Realm) -> web.Response:
    result = cdc_mod.run(realm, request.query.get("entities"), request.query.get("changedSince"), sb.clock)
    return _envelope(sb, result)


async def company_info(request: web.Request, sb: Sandbox, realm: Realm) -> web.Response:
    if request.match_info["id"] != realm.realm_id:
        raise faults.not_found("CompanyInfo", request.match_info["id"])
    info = {
        "CompanyName": realm.name,
        "LegalName": realm.name,
        "Country": "US",
        "domain": "QBO",
        "sparse": False,
        "Id": "1",
        "SyncToken": "0",
        "SupportedLanguages": "en",
        "NameValue": [{"Name": "OfferingSku", "Value": "QuickBooks Online Advanced"}],
    }
    return _envelope(sb, {"CompanyInfo": info})


async def token(request: web.Request) -> web.Response:
    return await request.app[STATE_KEY].oauth.token_endpoint(request)


async def discovery(request: web.Request) -> web.Response:
    """Intuit's OpenID discovery document (reference §13 A7 field names), pointing at this sandbox: OAuth
    clients that read their endpoints from it (intuit-oauth's ``environment=<discovery URL>``) then use
    the sandbox's token endpoint."""
    base = f"{request.scheme}://{request.host}"
    return web.json_response(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/oauth2/v1/tokens/revoke",
            "jwks_uri": f"{base}/oauth2/v1/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone", "com.intuit.quickbooks.accounting"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
    )


def create_app(config: SandboxConfig) -> web.Application:
    from infra.qbo_sandbox import control

    app = web.Application(client_max_size=4 * 1024 * 1024)
    sb = Sandbox(config)
    app[STATE_KEY] = sb

    async def on_startup(_: web.Application) -> None:
        await sb.webhooks.start()

    async def on_cleanup(_: web.Application) -> None:
        await sb.webhooks.stop()
        sb.store.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    base = "/v3/company/{realm}"
    app.router.add_post("/oauth2/v1/tokens/bearer", token)
    app.router.add_get("/.well-known/openid_sandbox_configuration", discovery)
    app.router.add_get("/.well-known/openid_configuration", discovery)
    app.router.add_get(base + "/query", api(query_handler))
    app.router.add_post(base + "/query", api(query_handler))
    app.router.add_post(base + "/batch", api(batch_handler))
    app.router.add_get(base + "/cdc", api(cdc_handler))
    app.router.add_get(base + "/companyinfo/{id}", api(company_info))
    app.router.add_get(base + "/{resource}/{id}", api(read_entity))
    app.router.add_post(base + "/{resource}", api(write_entity))
    control.add_routes(app)
    return app


def run(config: SandboxConfig) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(create_app(config), host=config.host, port=config.port, print=lambda *_: None)
