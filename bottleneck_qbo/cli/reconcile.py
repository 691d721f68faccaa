"""`bottleneck-qbo reconcile`: is QBO equal to Bottleneck? Exit 0 clean, 1 differences, 2 error."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer

from bottleneck_qbo.settings import get_settings


def _table(rows: list[list[str]]) -> str:
    head = ["entity", "bottleneck id", "qbo id", "field", "bottleneck", "qbo"]
    cells = [head, *rows]
    widths = [min(40, max(len(r[i]) for r in cells)) for i in range(len(head))]
    fmt = "  ".join(f"{{:{w}.{w}}}" for w in widths)
    return "\n".join(fmt.format(*r) for r in cells)


def _recorded_drift(company: int | None) -> list[dict[str, object]]:
    """Open drift the worker's CDC poll recorded (qbo_sync.drift), listed beside the comparison."""
    from bottleneck_qbo.ops import reach
    from bottleneck_qbo.ops.drift.store import open_drift

    with reach.pg(get_settings()) as conn:
        return [{k: v for k, v in d.items() if k != "id"} for d in open_drift(conn, company)]


def _drift_table(drift: list[dict[str, object]]) -> str:
    from bottleneck_qbo.cli.output import table
    from bottleneck_qbo.ops.drift.store import describe

    rows = [
        [
            str(d["company_id"]),
            str(d["entity_type"]),
            str(d["local_id"]),
            str(d["qbo_id"]),
            f"{d['policy']} ({d['action']})",
            f"{d['detected_at']:%Y-%m-%d %H:%M:%S}" if hasattr(d["detected_at"], "strftime") else str(d["detected_at"]),
            describe(d["fields"] if isinstance(d["fields"], list) else [])[:90],
        ]
        for d in drift
    ]
    return table(["company", "entity", "bottleneck id", "qbo id", "policy", "detected (UTC)", "fields: bottleneck -> qbo"], rows)


def reconcile(
    company: Annotated[int | None, typer.Option(help="only this Bottleneck company (default: every connected one)")] = None,
    entity: Annotated[list[str] | None, typer.Option(help="entity types to check (repeatable; default: all)")] = None,
    fix: Annotated[bool, typer.Option(help="re-drive every difference through the normal sync path")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Compare every published Bottleneck row with QBO, field by field (exit 0 clean, 1 differences, 2 error)."""
    from bottleneck_qbo.ops.reconcile.run import Reconciler, fix_plan, prepare_fix, summary
    from bottleneck_qbo.ops.resync import enqueue_documents
    from sinks.postgres import Database
    from sinks.qbo.auth import PostgresTokenStore
    from sinks.qbo.client import QboClient
    from streams.processors.registry import REGISTRY
    from streams.runtime import share_realm_budgets

    s = get_settings()

    async def go() -> object:
        db = await Database.open(s.postgres_dsn, name="reconcile")
        # tokens as every command reads them (sealed at rest when a key is set), on the one pool
        qbo = QboClient.from_settings(s, PostgresTokenStore.from_settings(s, db=db))
        try:
            # the pages it reads come out of the realm's budget the workers share, not a budget of its own
            share_realm_budgets(qbo, s, db)
            rec = Reconciler(s.postgres_dsn, qbo, REGISTRY)
            companies = rec.companies(company)
            processors = rec.processors(entity)
            total = rec.count(companies, processors)
            # progress on stderr: stdout carries the report (and --json must stay parseable)
            with typer.progressbar(length=total, label="comparing with QuickBooks", file=sys.stderr) as bar:
                rec.progress = bar.update
                return await rec.run(company, entity)
        finally:
            await qbo.aclose()
            await db.close()

    try:
        report = asyncio.run(go())
    except ValueError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    except Exception as exc:  # any failure to read either side: say so, exit 2 (not "differences")
        typer.secho(f"reconcile failed: {type(exc).__name__}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    from bottleneck_qbo.ops.reconcile.run import Report

    assert isinstance(report, Report)
    queued = 0
    if fix and not report.clean:
        prepare_fix(s.postgres_dsn, report, REGISTRY)
        refs = fix_plan(report)
        queued = enqueue_documents(s.kafka_bootstrap, s.documents_topic, refs, origin="reconcile")
    drift = _recorded_drift(company)
    if as_json:
        out = summary(report)
        out["queued"] = queued
        out["drift"] = drift
        typer.echo(json.dumps(out, default=str, indent=2))
    else:
        checked = sum(c.checked for c in report.companies)
        if report.clean:
            typer.echo(f"clean: {checked} Bottleneck row(s) of {len(report.companies)} company(ies) match QuickBooks")
        else:
            typer.echo(_table([d.as_row() for d in report.differences]))
            typer.echo(f"\n{len(report.differences)} difference(s) in {checked} row(s)")
        if queued:
            typer.echo(f"--fix queued {queued} document(s) for the worker; run reconcile again once it has caught up")
        if drift:
            typer.echo(f"\nrecorded drift (changes in QuickBooks this product did not make): {len(drift)} open")
            typer.echo(_drift_table(drift))
    raise typer.Exit(0 if report.clean else 1)


def register(app: typer.Typer) -> None:
    app.command()(reconcile)
