"""`bottleneck-qbo stack up|down|status|migrate|topics`: the local stack (see infra/stack).

``infra`` is imported inside each command: importing the CLI (as ``bottleneck-qbo worker`` does) must not
import the development tools (see devtools.py)."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Annotated

import typer

from bottleneck_qbo import migrations
from bottleneck_qbo.cli.devtools import require_infra
from bottleneck_qbo.settings import get_settings

if TYPE_CHECKING:
    from infra.stack import Component, StackStatus

app = typer.Typer(no_args_is_help=True)


def _masked(dsn: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


def _print(st: StackStatus, as_json: bool) -> None:
    if as_json:
        data = st.model_dump(mode="json", exclude={"details"})
        data["postgres_dsn"] = _masked(st.postgres_dsn)
        data["details"] = {k: v.model_dump(exclude_none=True) for k, v in st.details.items()}
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"postgres   {_masked(st.postgres_dsn)}")
    typer.echo(f"kafka      {st.kafka_bootstrap}")
    typer.echo(f"connect    {st.connect_url}")
    if st.qbo_base_url:
        typer.echo(f"qbo        {st.qbo_base_url}")
    if st.webhook_url:
        typer.echo(f"webhooks   {st.webhook_url}")
    typer.echo(f"run dir    {st.run_dir}")
    for name, d in st.details.items():
        extra = f"  pid {d.pid}" if d.pid else ""
        extra += f"  ({d.detail})" if d.detail else ""
        typer.echo(f"  {name:<32} {d.state}{extra}")


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


@app.command("up")
def up_cmd(as_json: bool = typer.Option(False, "--json", help="print the status as one JSON object")) -> None:
    """Start Postgres, Kafka, Connect + Debezium, the QBO sandbox and a worker (whatever is not running) and wait until healthy."""
    require_infra("stack up")
    from infra.stack import StackError, up

    t0 = time.monotonic()
    try:
        st = up(get_settings(), progress=lambda msg: typer.echo(msg, err=True))
    except (StackError, migrations.MigrationError) as exc:
        _fail(exc)
        return
    _print(st, as_json)
    if not as_json:
        typer.echo(f"stack up in {time.monotonic() - t0:.1f}s")


def _only(names: list[str] | None) -> list[Component] | None:
    """The components named (e.g. ``--only worker``), or None for all; an unknown name is an error."""
    from infra.stack import components

    if not names:
        return None
    parts = components(get_settings())
    known = {c.name: c for c in parts}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise typer.BadParameter(f"unknown component(s) {unknown}; known: {', '.join(known)}", param_hint="--only")
    return [c for c in parts if c.name in names]


@app.command("down")
def down_cmd(
    only: Annotated[list[str] | None, typer.Option("--only", help="stop only this component (repeatable), e.g. --only worker")] = None,
) -> None:
    """Stop the stack's processes (data stays under the run directory)."""
    require_infra("stack down")
    from infra.stack import StackError, down

    try:
        stopped = down(get_settings(), _only(only))
    except StackError as exc:
        _fail(exc)
        return
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Show each component's state; exit code 1 unless all are running."""
    require_infra("stack status")
    from infra.stack import status

    st = status(get_settings())
    _print(st, as_json)
    if not st.all_running:
        raise typer.Exit(1)


@app.command("migrate")
def migrate_cmd() -> None:
    """Local stack: Bottleneck's tables if absent, then `bottleneck-qbo migrate --set-replica-identity`."""
    require_infra("stack migrate")
    from infra import bottleneck

    s = get_settings()
    try:
        if bottleneck.ensure_schema(s.postgres_dsn):
            typer.echo("created Bottleneck's tables (infra/bottleneck/schema.sql)")
        done = migrations.apply(s.postgres_dsn, cdc_role=s.pg_cdc_user)
        migrations.set_replica_identity(s.postgres_dsn)
    except migrations.MigrationError as exc:
        _fail(exc)
        return
    typer.echo("applied: " + (", ".join(done) if done else "nothing (up to date)"))


@app.command("topics")
def topics_cmd() -> None:
    """Create the product's topics with their partition counts (docker-compose runs this)."""
    require_infra("stack topics")
    from infra.stack import ensure_topics

    created = ensure_topics(get_settings())
    typer.echo("created: " + (", ".join(created) if created else "nothing (all exist)"))


@app.command("worker")
def worker_cmd(
    instance: Annotated[int, typer.Option("--instance", min=1, help="worker number: 2 is a second worker in the same consumer group")] = 2,
    as_json: bool = typer.Option(False, "--json", help="print the status as one JSON object"),
) -> None:
    """Start one more worker (instance K listens on the web/admin ports + worker_port_step * (K - 1)).
    BQ_WORKERS=N makes `stack up` start N; `stack down --only worker-K` stops one."""
    require_infra("stack worker")
    from infra.stack import StackError, Worker, up

    try:
        st = up(get_settings(), [Worker(get_settings(), instance)], progress=lambda msg: typer.echo(msg, err=True))
    except StackError as exc:
        _fail(exc)
        return
    _print(st, as_json)
