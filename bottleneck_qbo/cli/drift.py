"""`bottleneck-qbo drift-policy`: what the worker does when QBO shows a change this product did not make."""

from __future__ import annotations

from typing import Annotated

import typer

from bottleneck_qbo.settings import get_settings


def drift_policy(
    company: Annotated[int, typer.Option(help="the Bottleneck company")],
    policy: Annotated[
        str | None,
        typer.Argument(help="bottleneck_wins (default: re-push Bottleneck's fields) or report (record it, leave QBO as it is)"),
    ] = None,
) -> None:
    """Show or set a company's drift policy (a hand edit in QBO of a field Bottleneck owns)."""
    from bottleneck_qbo.ops import reach
    from bottleneck_qbo.ops.drift.store import POLICIES, get_policy, open_drift, set_policy, take_over_reported
    from bottleneck_qbo.ops.resync import enqueue_documents
    from streams.engine.docref import DocRef

    s = get_settings()
    taken: list[tuple[str, int]] = []
    with reach.pg(s, autocommit=True) as conn:
        if policy is not None:
            if policy not in POLICIES:
                typer.secho(f"unknown drift policy {policy!r}; use one of: {', '.join(POLICIES)}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            with conn.transaction():
                set_policy(conn, company, policy)
                if policy == "bottleneck_wins":
                    taken = take_over_reported(conn, company)
        current = get_policy(conn, company)
        n = len(open_drift(conn, company))
    typer.echo(f"company {company}: drift policy {current}; {n} open drift record(s)")
    if taken:
        refs = [DocRef(company_id=company, entity_type=e, local_id=i, forced=True) for e, i in taken]
        queued = enqueue_documents(s.kafka_bootstrap, s.documents_topic, refs, origin="drift-policy")
        typer.echo(f"re-pushing {queued} document(s) with reported drift: Bottleneck's fields go back to QuickBooks")


def register(app: typer.Typer) -> None:
    app.command("drift-policy")(drift_policy)
