"""Operating the sync: worker, connect, publish, resync, replay, resnapshot, state."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Annotated

import typer

from bottleneck_qbo.settings import get_settings


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def worker(
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info",
    log_format: Annotated[str | None, typer.Option(help="json, text or auto: text on a terminal (default: BQ_LOG_FORMAT)")] = None,
) -> None:
    """Run a Faust worker (outbound sync, webhook receiver, payments) in the foreground.
    Public port BQ_WORKER_WEB_PORT (webhooks, OAuth callback); admin port BQ_ADMIN_PORT (status page, metrics)."""
    from faust.worker import Worker

    from bottleneck_qbo.logs import logging_config, register_settings_secrets
    from streams.app import app, register_modules

    s = get_settings()
    register_settings_secrets(s)
    register_modules()
    config = logging_config(loglevel, log_format or s.log_format, sys.stdout)
    Worker(app, loglevel=loglevel, logging_config=config).execute_from_commandline()


def connect(
    company: Annotated[int, typer.Option(help="Bottleneck company id")],
    realm: Annotated[str, typer.Option(help="QBO realm (company) id")],
    wait: Annotated[bool, typer.Option("--wait", help="follow the initial load until the worker has taken every row")] = False,
    timeout: Annotated[float, typer.Option(help="with --wait: give up after this many seconds")] = 600.0,
) -> None:
    """Connect a Bottleneck company to a QBO realm and store the realm's tokens in qbo_sync. A live company
    gets its initial load: every publishable row is queued, dependencies first (`state`, `status` show it)."""
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
            url = ops.consent_url(s, company, state)
            typer.echo(f"{s.qbo_redirect_uri} completes the connection (and starts the initial load):\n\n{url}\n")
            return
    except ops.ConnectError as exc:
        _fail(str(exc))
    _follow_load(company, wait=wait, timeout=timeout)


def _follow_load(company: int, *, wait: bool, timeout: float) -> None:
    import time as _time

    from bottleneck_qbo.ops import reach
    from bottleneck_qbo.ops.onboarding import progress

    s = get_settings()
    with reach.pg(s) as conn:
        mode = conn.execute("select qbo_sync_mode from companies where id = %s", (company,)).fetchone()
    loads = progress(s, company)
    if not loads or mode is None or mode[0] != "live":
        typer.echo(f"company {company} syncs manually: nothing queued (publish rows, or switch it to live to load them all)")
        return
    typer.echo(f"initial load of company {company}: {loads[0].total} row(s), queued by the worker a batch at a time")
    deadline = _time.monotonic() + timeout
    while wait:
        load = progress(s, company)[0]
        typer.echo(load.line(), err=True)
        if load.finished_at is not None:
            break
        if _time.monotonic() > deadline:
            _fail(f"{load.remaining} of {load.total} row(s) not processed after {timeout:.0f}s; is the worker running? (`status`)")
        _time.sleep(1.0)


def _resync(company: int, entities: list[str] | None, *, wait: bool = False, timeout: float = 600.0) -> None:
    import time as _time
    from datetime import UTC

    from bottleneck_qbo.ops import reach
    from bottleneck_qbo.ops.resync import company_refs, enqueue_tracked, follow_once

    s = get_settings()
    reach.kafka_check(s)
    refs = company_refs(s.postgres_dsn, company, entities)
    started = datetime.now(UTC)
    queued = enqueue_tracked(s, refs)
    typer.echo(f"queued {len(queued)} document(s) of company {company} for sync")
    if not wait or not queued:
        return
    t0 = _time.monotonic()
    deadline = t0 + timeout
    shown = 0
    tty = sys.stderr.isatty()
    # On a terminal, click's bar (with ETA); in a log or a pipe, a line per change.
    with typer.progressbar(length=len(queued), label="synced", show_eta=True, show_pos=True, file=sys.stderr) as bar:
        while True:
            prog = follow_once(s, queued, started)
            if prog.done != shown:
                bar.update(prog.done - shown)
                if not tty:
                    rate = prog.done / max(_time.monotonic() - t0, 1e-3)
                    eta = (prog.total - prog.done) / rate if rate else 0.0
                    typer.echo(f"synced {prog.done}/{prog.total} (ETA {eta:.0f}s)", err=True)
                shown = prog.done
            if prog.done >= prog.total:
                break
            if _time.monotonic() > deadline:
                _fail(
                    f"{prog.total - prog.done} of {prog.total} document(s) not processed after {timeout:.0f}s; "
                    "is the worker running? (bottleneck-qbo status)"
                )
            _time.sleep(0.5)
    typer.echo(
        f"done: {prog.synced} written to QBO, {prog.unchanged} already up to date, {prog.parked} parked (see `bottleneck-qbo status`)"
    )


def resync(
    company: Annotated[int, typer.Option(help="Bottleneck company id")],
    entity: Annotated[list[str] | None, typer.Option(help="entity types (default: all)")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="follow the documents until the worker has synced them (progress bar, ETA)")] = False,
    timeout: Annotated[float, typer.Option(help="with --wait: give up after this many seconds")] = 600.0,
) -> None:
    """Queue a company's rows for sync now (unchanged ones make no QBO call)."""
    try:
        _resync(company, entity, wait=wait, timeout=timeout)
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


def _replay_time(to: str) -> datetime | None:
    if to == "earliest":
        return None
    try:
        when = datetime.fromisoformat(to)
    except ValueError:
        raise typer.BadParameter(f"{to!r}: use 'earliest' or an ISO time, e.g. 2026-11-01T00:00:00+00:00", param_hint="--to") from None
    return when if when.tzinfo else when.astimezone()


def replay(
    to: Annotated[str, typer.Option(help="'earliest' or an ISO time, e.g. 2026-11-01T00:00:00+00:00")] = "earliest",
    topics: Annotated[str, typer.Option(help="regex of topics to rewind")] = r"bottleneck\.public\..+",
    group: Annotated[str | None, typer.Option(help="consumer group (default: the worker's id, BQ_WORKER_ID)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the offsets it would set, change nothing")] = False,
) -> None:
    """Rewind the worker's consumer group (stop the worker first); restart it to replay."""
    from bottleneck_qbo.ops.replay import ReplayError, reset_offsets

    s = get_settings()
    when = _replay_time(to)
    try:
        moved = reset_offsets(s, group or s.worker_id, [topics], to_time=when, dry_run=dry_run)
    except ReplayError as exc:
        _fail(str(exc))
    for tp, (old, new) in moved.items():
        typer.echo(f"{tp} {'-' if old is None else old} -> {new}")
    if dry_run:
        typer.echo(f"dry run: {len(moved)} partition(s) would move; nothing changed")


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


def state(
    company: Annotated[int, typer.Option()],
    entity: Annotated[str | None, typer.Option()] = None,
    id: Annotated[int | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON (the default when stdout is not a terminal)")] = False,
) -> None:
    """Per-record sync state: QBO id, SyncToken, last sync, and anything parked (waiting, conflict, dead)."""
    from psycopg.rows import dict_row

    from bottleneck_qbo.cli.output import table
    from bottleneck_qbo.ops import onboarding, reach
    from bottleneck_qbo.ops.drift.store import describe, get_policy, open_drift

    where: list[str] = ["company_id = %s"]
    args: list[object] = [company]
    if entity:
        where.append("entity_type = %s")
        args.append(entity)
    if id is not None:
        where.append("local_id = %s")
        args.append(id)
    cond = " and ".join(where)
    with reach.pg(get_settings(), row_factory=dict_row) as conn:
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
        policy = get_policy(conn, company)
        drift = open_drift(conn, company, entity=entity)
    if id is not None:
        drift = [d for d in drift if d["local_id"] == id]
    loads = onboarding.progress(get_settings(), company)
    if as_json or not sys.stdout.isatty():
        load = loads[0].as_dict() if loads else None
        json.dump(
            {"synced": synced, "parked": parked, "drift_policy": policy, "drift": drift, "initial_load": load},
            sys.stdout,
            default=str,
            indent=2,
        )
        sys.stdout.write("\n")
        return
    if loads:
        typer.echo(f"company {company}: {loads[0].line()}")
    parked_by = {(p["entity_type"], p["local_id"]): p for p in parked}
    drift_by = {(d["entity_type"], d["local_id"]): d for d in drift}
    rows = []
    for m in synced:
        p = parked_by.pop((m["entity_type"], m["local_id"]), None)
        d = drift_by.get((m["entity_type"], m["local_id"]))
        when = f"{m['synced_at']:%Y-%m-%d %H:%M:%S}" if m["synced_at"] else ""
        if p is None and d is not None:  # drift: changed in QBO by someone else (a parked state says more)
            p = {"state": f"drifted ({d['action']})", "reason": "changed in QuickBooks: " + describe(d["fields"])}
        rows.append(
            [
                m["entity_type"],
                m["local_id"],
                m["qbo_entity"],
                m["qbo_id"] or "",
                m["sync_token"] or "",
                p["state"] if p else m["status"],
                when,
                (p["reason"] if p else m["last_error"] or "")[:70],
            ]
        )
    for p in parked_by.values():
        rows.append([p["entity_type"], p["local_id"], "", "", "", p["state"], "", p["reason"][:70]])
    if not rows:
        typer.echo(f"nothing recorded for company {company}" + (f" {entity}" if entity else "") + (f" {id}" if id is not None else ""))
        return
    typer.echo(f"drift policy: {policy}; open drift: {len(drift)}")
    typer.echo(table(["entity", "id", "qbo entity", "qbo id", "sync token", "state", "synced at (UTC)", "reason"], rows))


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(connect)
    app.command()(publish)
    app.command()(resync)
    app.command()(replay)
    app.command()(resnapshot)
    app.command()(state)
