"""`bottleneck-qbo sandbox` runs the local QBO sandbox (infra/qbo_sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from bottleneck_qbo.cli.devtools import require_infra
from bottleneck_qbo.settings import get_settings


def sandbox(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="port (default: BQ_QBO_SANDBOX_PORT, 8765)")] = None,
    access_token: Annotated[str | None, typer.Option(help="static bearer token accepted for every realm (development)")] = None,
    realm: Annotated[list[str] | None, typer.Option(help="realm id to create at start-up (repeatable)")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="where to POST webhook notifications")] = None,
    webhook_verifier_token: Annotated[
        str | None, typer.Option(help="HMAC key for intuit-signature (default: BQ_WEBHOOK_VERIFIER_TOKEN)")
    ] = None,
    webhook_format: Annotated[str, typer.Option(help="legacy | cloudevents")] = "legacy",
    sqlite: Annotated[Path | None, typer.Option(help="persist state in this SQLite file")] = None,
    client_id: Annotated[str | None, typer.Option(help="OAuth client id (default: BQ_QBO_CLIENT_ID)")] = None,
    client_secret: Annotated[str | None, typer.Option(help="OAuth client secret (default: BQ_QBO_CLIENT_SECRET)")] = None,
) -> None:
    """Serve a local QuickBooks Online API (v3) with QBO's rules, OAuth, limits and webhooks."""
    require_infra("sandbox")
    from infra.qbo_sandbox import SandboxConfig, run

    if webhook_format not in ("legacy", "cloudevents"):
        raise typer.BadParameter("must be legacy or cloudevents", param_hint="--webhook-format")
    s = get_settings()
    config = SandboxConfig(
        host=host,
        port=port or s.qbo_sandbox_port,
        access_token=SecretStr(access_token) if access_token else None,
        realms=list(realm or []),
        webhook_url=webhook_url,
        webhook_verifier_token=SecretStr(webhook_verifier_token) if webhook_verifier_token else s.webhook_verifier_token,
        webhook_format=webhook_format,  # type: ignore[arg-type]
        sqlite_path=sqlite,
        client_id=client_id or s.qbo_client_id,
        client_secret=SecretStr(client_secret) if client_secret else s.qbo_client_secret,
        requests_per_minute=s.qbo_requests_per_minute,
        concurrent_requests=s.qbo_max_concurrency,
        batch_per_minute=s.qbo_batch_per_minute,
    )
    typer.echo(f"QBO sandbox on {config.base_url} (realms: {', '.join(config.realms) or 'none; POST /__sandbox/realms'})")
    run(config)


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox)
