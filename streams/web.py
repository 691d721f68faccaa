"""The worker's own pages: health (for `stack up` and load balancers), Prometheus metrics, and the
OAuth redirect that completes `bottleneck-qbo connect` against real QBO."""

from __future__ import annotations

import asyncio
import logging

import psycopg
from faust.web import Request, Response, View

from bottleneck_qbo import metrics
from bottleneck_qbo.ops.oauth_state import CallbackRefused, check_callback, check_link, link, parse_state, take_state
from sinks.qbo.auth import OAuthClientConfig, PostgresTokenStore
from sinks.qbo.errors import QboError
from sinks.qbo.oauth_connect import exchange_authorization_code
from streams.app import app, settings

log = logging.getLogger(__name__)


@app.page("/health")
class Health(View):
    async def get(self, request: Request) -> Response:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        ready = bool(assigned) and not app.rebalancing
        return self.json({"ready": ready, "assigned_partitions": assigned, "rebalancing": app.rebalancing})


@app.page("/health/live")
class HealthLive(View):
    async def get(self, request: Request) -> Response:
        return self.json({"live": True})


@app.page("/health/ready")
class HealthReady(View):
    """503 until partitions are assigned and Postgres and Kafka answer (streams.admin.readiness)."""

    async def get(self, request: Request) -> Response:
        from streams.admin import readiness

        ready, checks = await readiness()
        return self.json({"ready": ready, **checks}, status=200 if ready else 503)


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        from streams.runtime import current_runtime

        rt = current_runtime()
        body = metrics.render()
        if rt is not None:
            body += rt.qbo_metrics_text().encode()
        return self.bytes(body, content_type="text/plain; version=0.0.4")


@app.page("/oauth/callback")
class OAuthCallback(View):
    """Intuit redirects here with ``code``, ``state`` and ``realmId`` after the user's consent.

    Everything is awaited on async I/O (psycopg's async connection, httpx) and bounded by
    ``oauth_callback_timeout_s``: the worker's event loop also runs the agents and the webhook receiver."""

    async def get(self, request: Request) -> Response:
        q = request.query
        code, state, realm = q.get("code", ""), q.get("state", ""), q.get("realmId", "")
        try:
            company = await asyncio.wait_for(complete_connect(code, state, realm), settings.oauth_callback_timeout_s)
        except CallbackRefused as exc:
            log.warning("OAuth callback refused: %s", exc)
            return self.text(f"Connecting refused: {exc}. Run `bottleneck-qbo connect` again.", status=400)
        except QboError as exc:
            log.warning("OAuth token exchange failed: %s", exc)
            return self.text(f"Connecting failed: {exc}", status=400)
        except (TimeoutError, psycopg.Error) as exc:
            log.warning("OAuth callback could not complete: %r", exc)
            return self.text("Connecting failed: QuickBooks or the database did not answer in time. Try again.", status=503)
        log.info("company %s connected to QBO realm %s", company, realm)
        return self.text(f"Company {company} is connected to QuickBooks company {realm}. You can close this page.")


async def complete_connect(code: str, state: str, realm: str) -> int:
    """Check the redirect against the state it carries, then trade the code for tokens, store them and
    link the company. Nothing is stored unless the state, the company and the realm all agree."""
    if not code:
        raise CallbackRefused("the redirect carries no authorization code")
    binding = parse_state(state)
    check_callback(binding, realm)
    async with await psycopg.AsyncConnection.connect(settings.postgres_dsn, autocommit=True, connect_timeout=5) as conn:
        binding = await take_state(conn, state)
        await check_link(conn, binding.company_id, realm)
        await exchange_authorization_code(
            oauth=OAuthClientConfig(
                token_url=settings.qbo_token_url,
                client_id=settings.qbo_client_id,
                client_secret=settings.qbo_client_secret,
                timeout_s=min(settings.qbo_timeout_s, settings.oauth_callback_timeout_s),
            ),
            code=code,
            redirect_uri=settings.qbo_redirect_uri,
            realm_id=realm,
            token_store=PostgresTokenStore.from_settings(settings),
        )
        await link(conn, binding.company_id, realm)
    return binding.company_id
