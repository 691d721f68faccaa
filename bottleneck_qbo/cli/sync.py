"""Operating the sync: worker, connect, publish, resync, replay, resnapshot, dead letters, state."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Annotated

import typer

from bottleneck_qbo.settings import get_settings

deadletters_app = typer.Typer(no_args_is_help=True, help="Inspect and re-drive the dead-letter topic.")


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def worker(loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info") -> None:
    """Run a Faust worker (outbound sync, webhook receiver, payments) in the foreground."""
    from faust.worker import Worker

    from streams.app import app, register_modules

    register_modules()
    Worker(app, loglevel=loglevel).execute_from_commandline()


def connect(
    company: Annotated[int, typer.Option(help="Bottleneck company id")],
    realm: Annotated[str, typer.Option(help="QBO realm (company) id")],
    resync: Annotated[bool, typer.Option(help="queue every row of the company for sync afterwards")] = True,
) -> None:
    """Connect a Bottleneck company to a QBO realm and store the realm's tokens in qbo_sync."""
    from bottleneck_qbo.ops import connect as ops

    s = get_settings()
    try:
        if s.qbo_environment == "local":
            asyncio.run(ops.connect_local(s, company, realm))
            typer.echo(f"company {company} connected to sandbox realm {realm}")
        else:
            from bottleneck_qbo.ops.oauth_state import remember_state

            state = remember_state(s.postgres_dsn, company)
            typer.echo("Open this URL, sign in to QuickBooks and approve access; the worker's")
            typer.echo(f"{s.qbo_redirect_uri} completes the connection:\n\n{ops.consent_url(s, company, state)}\n")
            return
    except ops.ConnectError as exc:
        _fail(str(exc))
    if resync:
        _resync(company, None)


def _resync(company: int, entities: list[str] | None) -> None:
    from bottleneck_qbo.ops.resync import company_refs, enqueue_documents

    s = get_settings()
    refs = company_refs(s.postgres_dsn, company, entities)
    with typer.progressbar(length=len(refs), label=f"queueing company {company}'s documents") as bar:
        n = enqueue_documents(s.kafka_bootstrap, s.documents_topic, refs, progress=bar.update)
    typer.echo(f"queued {n} document(s) of company {company} for sync")


def resync(
    company: Annotated[int, typer.Option(help="Bottleneck company id")],
    entity: Annotated[list[str] | None, typer.Option(help="entity types (default: all)")] = None,
) -> None:
    """Queue a company's rows for sync now (unchanged ones make no QBO call)."""
    try:
        _resync(company, entity)
    except ValueError as exc:
        _fail(str(exc))


def publish(
    company: Annotated[int, typer.Option()],
    entity: Annotated[str, typer.Option(help="customer, vendor, item, lot, sales_order, invoice, purchase_order, bill")],
    id: Annotated[int, typer.Option(help="the row's id")],
    requested_by: Annotated[str, typer.Option()] = "cli",
) -> None:
    """Press "Publish to QuickBooks" for one row (works in manual and live mode)."""
    import psycopg

    with psycopg.connect(get_settings().postgres_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into qbo_publish_requests (company_id, entity_type, entity_id, requested_by) values (%s, %s, %s, %s)",
            (company, entity, id, requested_by),
        )
    typer.echo(f"publish requested: {entity} {id} of company {company}")


def replay(
    to: Annotated[str, typer.Option(help="'earliest' or an ISO time, e.g. 2026-11-01T00:00:00+00:00")] = "earliest",
    topics: Annotated[str, typer.Option(help="regex of topics to rewind")] = r"bottleneck\.public\..+",
    group: Annotated[str | None, typer.Option(help="consumer group (default: the worker's id)")] = None,
) -> None:
    """Rewind the worker's consumer group (stop the worker first); restart it to replay."""
    from bottleneck_qbo.ops.replay import ReplayError, reset_offsets

    s = get_settings()
    when = None if to == "earliest" else datetime.fromisoformat(to)
    try:
        moved = reset_offsets(s.kafka_bootstrap, group or s.worker_id, [topics], to_time=when)
    except ReplayError as exc:
        _fail(str(exc))
    for tp, off in moved.items():
        typer.echo(f"{tp} -> {off}")


def resnapshot(
    table: Annotated[list[str], typer.Option(help="Bottleneck table(s) to re-read through Debezium")],
    where: Annotated[str | None, typer.Option(help='SQL filter, e.g. "company_id = 3"')] = None,
) -> None:
    """Ask Debezium for an incremental snapshot of tables (or matching rows) via its signal table."""
    import connectors
    from bottleneck_qbo.ops.resync import request_incremental_snapshot

    s = get_settings()
    # The signal table is wherever the connector is told to read signals from (one source of truth).
    signal_table = connectors.load(s.connector_name)["signal.data.collection"]
    signal = request_incremental_snapshot(s.postgres_dsn, signal_table, table, where)
    typer.echo(f"snapshot requested ({signal})")


@deadletters_app.command("list")
def deadletters_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the dead letters currently on the topic."""
    from bottleneck_qbo.ops.deadletters import read_all

    s = get_settings()
    for partition, offset, letter in read_all(s.kafka_bootstrap, s.deadletter_topic):
        if as_json:
            typer.echo(json.dumps({"partition": partition, "offset": offset, **letter.model_dump(mode="json")}))
        else:
            what = f"{letter.entity_type} {letter.local_id}" if letter.entity_type else (letter.original.topic if letter.original else "?")
            typer.echo(f"[{partition}:{offset}] {letter.at:%Y-%m-%d %H:%M:%S} {letter.stage}/{letter.failure_type} {what}: {letter.reason}")


@deadletters_app.command("redrive")
def deadletters_redrive(
    stage: Annotated[str | None, typer.Option(help="only letters of this stage (decode, route, sync, inbound)")] = None,
) -> None:
    """Send dead letters back through the pipeline (after fixing their cause)."""
    from bottleneck_qbo.ops.deadletters import read_all, redrive

    s = get_settings()
    letters = [letter for _, _, letter in read_all(s.kafka_bootstrap, s.deadletter_topic) if stage in (None, letter.stage)]
    typer.echo(f"re-drove {redrive(s.kafka_bootstrap, s.documents_topic, letters)} of {len(letters)} dead letter(s)")


def state(
    company: Annotated[int, typer.Option()],
    entity: Annotated[str | None, typer.Option()] = None,
    id: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Per-record sync state: QBO id, SyncToken, last sync, and anything parked (waiting, conflict, dead)."""
    import psycopg
    from psycopg.rows import dict_row

    where: list[str] = ["company_id = %s"]
    args: list[int | str] = [company]
    if entity:
        where.append("entity_type = %s")
        args.append(entity)
    if id is not None:
        where.append("local_id = %s")
        args.append(id)
    cond = " and ".join(where)
    with psycopg.connect(get_settings().postgres_dsn, row_factory=dict_row) as conn:
        synced = conn.execute(
            "select entity_type, local_id, qbo_entity, qbo_id, sync_token, status, last_error, synced_at"
            f" from qbo_sync.id_map where {cond} order by entity_type, local_id",
            args,
        ).fetchall()
        parked = conn.execute(
            "select entity_type, local_id, state, reason, waiting_on_type, waiting_on_id, attempts, next_attempt_at"
            f" from qbo_sync.sync_parking where {cond} order by entity_type, local_id",
            args,
        ).fetchall()
    json.dump({"synced": synced, "parked": parked}, sys.stdout, default=str, indent=2)
    sys.stdout.write("\n")


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(connect)
    app.command()(publish)
    app.command()(resync)
    app.command()(replay)
    app.command()(resnapshot)
    app.command()(state)
    app.add_typer(deadletters_app, name="deadletters")
