"""`bottleneck-qbo demo` and `bottleneck-qbo bench`."""

from __future__ import annotations

from typing import Annotated

import typer

from bottleneck_qbo.cli.devtools import require_infra
from bottleneck_qbo.settings import get_settings


def demo() -> None:
    """Start the whole stack (with the QBO sandbox and a worker), write demo data, show live sync."""
    require_infra("demo")
    from bottleneck_qbo.demo.run import run
    from infra.stack import up

    settings = get_settings()
    typer.secho("Starting the local stack (first run fetches jars with Maven; later runs reuse them)...", fg="cyan")
    status = up(settings)
    for name, state in status.components.items():
        typer.echo(f"  {name:12} {state}")
    run(settings)


def bench(
    documents: Annotated[int, typer.Option(help="documents for the latency run")] = 300,
    rate: Annotated[float, typer.Option(help="documents committed per second in the latency run")] = 10.0,
    realms: Annotated[int, typer.Option(help="companies the latency run spreads over (25: QBO's 500/min per realm does not bind)")] = 25,
    burst: Annotated[int, typer.Option(help="new customers in the one-realm sink run")] = 400,
    only: Annotated[
        str, typer.Option(help="comma-separated figures to run: latency,sink,batch,replay,recovery")
    ] = "latency,sink,batch,replay,recovery",
    replay_events: Annotated[
        int, typer.Option("--replay-events", help="CDC events the replay reads: the topics are topped up to this many (0: as they are)")
    ] = 100_000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="also replay with this many workers in one group (1: skip)")] = 2,
    batch_docs: Annotated[int, typer.Option(help="customers per path in the batch-load figure (--only batch)")] = 1000,
    warmup: Annotated[
        float, typer.Option(min=0, help="seconds of documents at --rate before the latency run, reported apart (0: none)")
    ] = 30.0,
) -> None:
    """Measure the pipeline on this machine and print the figures (see README, Benchmarks)."""
    require_infra("bench")
    from bottleneck_qbo.bench.run import run
    from infra.stack import up

    settings = get_settings()
    up(settings)
    run(
        settings,
        documents=documents,
        rate=rate,
        realms=realms,
        burst=burst,
        only=tuple(x.strip() for x in only.split(",") if x.strip()),
        replay_events=replay_events,
        workers=workers,
        batch_docs=batch_docs,
        warmup_s=warmup,
    )


def register(app: typer.Typer) -> None:
    app.command()(demo)
    app.command()(bench)
