"""`bottleneck-qbo status`, `deadletters list|show|retry|drop` and `config show`: what a person running
the sync needs to see what is stuck and fix it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from bottleneck_qbo.cli.output import ago, table, until_text
from bottleneck_qbo.settings import Settings, get_settings

deadletters_app = typer.Typer(no_args_is_help=True, help="Dead letters by id: list, show, retry (re-drive), drop.")
config_app = typer.Typer(no_args_is_help=True, help="The effective configuration.")

COMPANY = typer.Option("--company", help="only this Bottleneck company id")


def _fmt_counts(c: Any) -> list[str]:
    return [
        str(c.synced),
        str(c.pending),
        str(c.waiting),
        str(c.retry),
        str(c.conflict),
        "-" if c.drifted is None else str(c.drifted),
        str(c.dead),
    ]


def status(
    company: Annotated[int | None, COMPANY] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """What is synced and what is stuck: per company and entity type, consumer and replication lag,
    connector state, dead letters, last webhook / CDC poll and token expiry per realm. Exit code 1 when a
    source cannot be read."""
    from bottleneck_qbo.ops.status import collect

    report = collect(get_settings(), company)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_status(report)
    if report.errors:
        raise typer.Exit(1)


def _print_status(r: Any) -> None:
    now = datetime.now(UTC)
    for c in r.companies:
        realm = c.realm_id or "not connected"
        typer.secho(f"company {c.company_id} {c.name!r} ({c.sync_mode}) -> realm {realm}", bold=True)
        if c.initial_load:
            typer.echo(f"  {c.initial_load['line']}")
        if c.realm_id:
            typer.echo(
                f"  last webhook {ago(c.last_webhook_at, now)}, last CDC poll {ago(c.last_cdc_poll_at, now)}, "
                f"refresh token expires {until_text(c.refresh_token_expires_at, now)}"
            )
        if c.entities:
            rows = [[e, *_fmt_counts(n)] for e, n in sorted(c.entities.items())]
            typer.echo(table(["entity", "synced", "pending", "waiting", "retry", "conflict", "drifted", "dead"], rows, indent=2))
        else:
            typer.echo("  nothing synced yet")
    if not r.drift_tracked:
        typer.echo("drifted: not tracked (the database lacks qbo_sync.drift: run `bottleneck-qbo migrate`)")
    lagging = [p for p in r.consumer_lag if p.lag]
    typer.secho(f"consumer group {r.consumer_group}: total lag {r.total_lag}", bold=True)
    if lagging:
        typer.echo(
            table(
                ["topic", "partition", "committed", "end", "lag"], [[p.topic, p.partition, p.committed, p.end, p.lag] for p in lagging], 2
            )
        )
    elif r.consumer_lag:
        typer.echo(f"  all {len(r.consumer_lag)} partitions caught up")
    for s in r.replication_slots:
        typer.echo(
            f"replication slot {s.slot_name}: {'active' if s.active else 'INACTIVE'}, "
            f"lag {s.lag_bytes} bytes, retains {s.retained_bytes} bytes"
        )
    if r.connector:
        tasks = ", ".join(f"task {t['id']} {t['state']}" for t in r.connector.tasks) or "no tasks"
        typer.echo(f"connector {r.connector.name}: {r.connector.state} ({tasks})")
    d = r.dead_letters
    typer.echo(f"dead letters: {d.open} open of {d.total} ({', '.join(f'{k} {v}' for k, v in sorted(d.by_state.items())) or 'none'})")
    if r.problems:
        typer.secho(f"problems ({len(r.problems)}):", bold=True)
        rows = [
            [
                p.kind if p.kind != "dead_letter" else f"letter {p.letter_id}",
                p.state or "",
                p.company_id,
                f"{p.entity_type or '-'} {p.local_id or ''}",
                p.reason[:110],
            ]
            for p in r.problems
        ]
        typer.echo(table(["problem", "state", "company", "document", "reason"], rows, 2))
    for source, why in r.errors.items():
        typer.secho(f"{source}: {why}", fg=typer.colors.RED, err=True)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1] in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            "use a duration like 30m, 6h, 2d or an ISO time like 2026-11-01T00:00:00+00:00", param_hint="--since"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@deadletters_app.command("list")
def deadletters_list(
    company: Annotated[int | None, COMPANY] = None,
    entity: Annotated[str | None, typer.Option(help="only this entity type, e.g. customer")] = None,
    stage: Annotated[str | None, typer.Option(help="decode, route, sync or inbound")] = None,
    since: Annotated[str | None, typer.Option(help="only letters newer than this: 30m, 6h, 2d or an ISO time")] = None,
    every: Annotated[bool, typer.Option("--all", help="also letters already retried, dropped or since synced")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The dead letters, by id (partition-offset on the dead-letter topic); open ones unless --all."""
    from bottleneck_qbo.ops import deadletters as dl

    s = get_settings()
    letters = dl.select(
        dl.read_letters(s),
        company=company,
        entity=entity,
        stage=stage,
        since=_since(since),
        states=None if every else ("open", "malformed"),
    )
    if as_json:
        for lt in letters:
            typer.echo(json.dumps(lt.to_dict(), default=str))
        return
    if not letters:
        typer.echo("no dead letters" + ("" if every else " open (--all shows handled ones)"))
        return
    rows = [[lt.id, f"{lt.at:%Y-%m-%d %H:%M:%S}", lt.state, lt.summary()[:110]] for lt in letters]
    typer.echo(table(["id", "at (UTC)", "state", "what"], rows))


@deadletters_app.command("show")
def deadletters_show(letter: Annotated[str, typer.Argument(help="a letter id from `deadletters list`, e.g. 2-17")]) -> None:
    """Everything a letter carries (the original record too), as JSON."""
    from bottleneck_qbo.ops import deadletters as dl

    s = get_settings()
    found = dl.find(dl.read_letters(s), [letter])
    typer.echo(json.dumps(found[0].to_dict(), default=str, indent=2))


@deadletters_app.command("retry")
def deadletters_retry(
    ids: Annotated[list[str] | None, typer.Argument(help="letter ids (see `deadletters list`)")] = None,
    every: Annotated[bool, typer.Option("--all", help="every open letter (not already retried, dropped or synced)")] = False,
    company: Annotated[int | None, COMPANY] = None,
    stage: Annotated[str | None, typer.Option(help="with --all: only this stage")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be re-sent, send nothing")] = False,
) -> None:
    """Re-drive letters after fixing their cause: a document goes back to sync, a record back to its topic.
    Each is marked retried, so the next `retry --all` does not send it again."""
    from bottleneck_qbo.ops import deadletters as dl

    if bool(ids) == every:
        raise typer.BadParameter("give letter ids or --all (not both)")
    s = get_settings()
    letters = dl.read_letters(s)
    chosen = dl.find(letters, ids or []) if ids else dl.select(letters, company=company, stage=stage, states=("open",))
    sendable = [lt for lt in chosen if dl.can_redrive(lt) is None]
    for lt in chosen:
        why = dl.can_redrive(lt)
        if why:
            typer.echo(f"skip {lt.id}: {why}")
    if dry_run:
        for lt in sendable:
            typer.echo(f"would re-drive {lt.id}: {lt.summary()[:110]}")
        typer.echo(f"dry run: {len(sendable)} letter(s) would be re-driven")
        return
    done = dl.redrive(s, sendable)
    for lt in done:
        typer.echo(f"re-drove {lt.id}: {lt.summary()[:110]}")
    typer.echo(f"re-drove {len(done)} letter(s)")


@deadletters_app.command("drop")
def deadletters_drop(ids: Annotated[list[str], typer.Argument(help="letter ids (see `deadletters list`)")]) -> None:
    """Mark letters as handled without re-sending them (they stay on the topic, out of `list`)."""
    from bottleneck_qbo.ops import deadletters as dl

    s = get_settings()
    chosen = dl.find(dl.read_letters(s), ids)
    dl.drop(s, chosen)
    typer.echo(f"dropped {len(chosen)} letter(s): {', '.join(lt.id for lt in chosen)}")


@deadletters_app.command("redrive", hidden=True)
def deadletters_redrive(stage: Annotated[str | None, typer.Option()] = None) -> None:
    """Old name of `retry --all`."""
    deadletters_retry(ids=None, every=True, company=None, stage=stage, dry_run=False)


def effective_settings(s: Settings) -> list[tuple[str, str, str]]:
    """(environment variable, value with secrets masked, description) of every setting."""
    out = []
    prefix = s.model_config.get("env_prefix", "")
    for name, field in type(s).model_fields.items():
        value = getattr(s, name)
        shown = "********" if isinstance(value, SecretStr) and value.get_secret_value() else ("" if value is None else str(value))
        out.append((f"{prefix}{name}".upper(), shown, field.description or ""))
    return out


@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False) -> None:
    """Every setting's effective value (environment, .env or default) with its variable name; secrets masked."""
    rows = effective_settings(get_settings())
    if as_json:
        typer.echo(json.dumps({k: v for k, v, _ in rows}, indent=2))
        return
    typer.echo(table(["variable", "value", "meaning"], [list(r) for r in rows]))


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.add_typer(deadletters_app, name="deadletters")
    app.add_typer(config_app, name="config")
