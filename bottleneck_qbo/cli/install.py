"""`bottleneck-qbo migrate` and `bottleneck-qbo topics`: install the product next to an existing Bottleneck
database and Kafka cluster (what an operator runs before starting workers)."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from bottleneck_qbo import migrations
from bottleneck_qbo.settings import get_settings


def migrate(
    set_replica_identity: Annotated[
        bool,
        typer.Option(
            "--set-replica-identity",
            help="also ALTER Bottleneck's line tables to REPLICA IDENTITY FULL (alters Bottleneck's tables; needs their owner)",
        ),
    ] = False,
) -> None:
    """Apply the product's schema (qbo_sync, cdc, the publication, the CDC role's grants); never creates or alters Bottleneck's tables."""
    s = get_settings()
    try:
        done = migrations.apply(s.postgres_dsn, cdc_role=s.pg_cdc_user)
        typer.echo("applied: " + (", ".join(done) if done else "nothing (up to date)"))
        if set_replica_identity:
            changed = migrations.set_replica_identity(s.postgres_dsn)
            typer.echo("replica identity full: " + (", ".join(changed) if changed else "already set"))
        missing = migrations.replica_identity_report(s.postgres_dsn)
    except (migrations.MigrationError, psycopg.OperationalError) as exc:
        typer.echo(f"error: {str(exc).strip()}", err=True)
        raise typer.Exit(1) from None
    if missing:
        # Reported, not done: it alters Bottleneck's tables. Without it a deleted line's event lacks its
        # parent's id and the parent document is not re-synced.
        typer.secho(
            "warning: these tables need REPLICA IDENTITY FULL (deleted lines are not synced until then); "
            "run `bottleneck-qbo migrate --set-replica-identity` or, as their owner:",
            fg=typer.colors.YELLOW,
            err=True,
        )
        for statement in missing.values():
            typer.echo(f"  {statement}", err=True)


def topics() -> None:
    """Create the product's Kafka topics (partitions, replication factor and retention from the settings)."""
    from streams.topics import ensure_topics

    created = ensure_topics(get_settings())
    typer.echo("created: " + (", ".join(created) if created else "nothing (all exist)"))


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(topics)
