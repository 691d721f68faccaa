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
    from bottleneck_qbo.ops.drift.store import POLICIES, get_policy, open_drift, set_policy

    with reach.pg(get_settings(), autocommit=True) as conn:
        if policy is not None:
            if policy not in POLICIES:
                typer.secho(f"unknown drift policy {policy!r}; use one of: {', '.join(POLICIES)}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            set_policy(conn, company, policy)
        current = get_policy(conn, company)
        n = len(open_drift(conn, company))
    typer.echo(f"company {company}: drift policy {current}; {n} open drift record(s)")


def register(app: typer.Typer) -> None:
    app.command("drift-policy")(drift_policy)
