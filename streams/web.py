"""The worker's own pages: health (for `stack up` and load balancers), Prometheus metrics, and the
OAuth redirect that completes `bottleneck-qbo connect` against real QBO."""

from __future__ import annotations

import logging

from faust.web import Request, Response, View

from bottleneck_qbo import metrics
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
    """Intuit redirects here with ``code``, ``state`` and ``realmId`` after the user's consent."""

    async def get(self, request: Request) -> Response:
        from bottleneck_qbo.ops.connect import ConnectError, link_company
        from bottleneck_qbo.ops.oauth_state import take_state
        from sinks.qbo.auth import OAuthClientConfig, PostgresTokenStore
        from sinks.qbo.errors import QboError
        from sinks.qbo.oauth_connect import exchange_authorization_code

        q = request.query
        code, state, realm = q.get("code", ""), q.get("state", ""), q.get("realmId", "")
        company = take_state(settings.postgres_dsn, state) if state else None
        if company is None:
            return self.text("Unknown or expired connect attempt: run `bottleneck-qbo connect` again.", status=400)
        try:
            await exchange_authorization_code(
                oauth=OAuthClientConfig(
                    token_url=settings.qbo_token_url,
                    client_id=settings.qbo_client_id,
                    client_secret=settings.qbo_client_secret,
                    timeout_s=settings.qbo_timeout_s,
                ),
                code=code,
                redirect_uri=settings.qbo_redirect_uri,
                realm_id=realm,
                token_store=PostgresTokenStore(settings.postgres_dsn),
            )
            link_company(settings.postgres_dsn, company, realm)
        except (QboError, ConnectError) as exc:
            log.warning("OAuth connect of company %s failed: %s", company, exc)
            return self.text(f"Connecting failed: {exc}", status=400)
        log.info("company %s connected to QBO realm %s", company, realm)
        return self.text(f"Company {company} is connected to QuickBooks company {realm}. You can close this page.")
