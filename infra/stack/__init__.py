"""The local stack as plain processes: PostgreSQL, Kafka (KRaft), Kafka Connect + Debezium, the QBO
sandbox and one Faust worker (or ``BQ_WORKERS`` of them, one consumer group).

Python API (the CLI ``bottleneck-qbo stack`` wraps it)::

    up(settings) -> StackStatus      # start what is not running, wait healthy, ready each part
    down(settings) -> list[str]      # stop in reverse order; returns what was stopped
    status(settings) -> StackStatus

Components run in ``COMPONENTS`` order; to add one (QBO sandbox, Faust worker) append a factory
``Callable[[Settings], Component]`` (see ``infra.stack.component``).
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from bottleneck_qbo.settings import Settings
from infra.stack import prereqs, proc
from infra.stack.component import Component
from infra.stack.connect import Connect, Connector
from infra.stack.errors import HealthTimeout, PortTaken, PrerequisiteMissing, StackError
from infra.stack.kafka import Kafka
from infra.stack.models import ComponentState, ComponentStatus, StackStatus
from infra.stack.postgres import Postgres
from infra.stack.sandbox import QboSandbox
from infra.stack.worker import Worker, workers
from streams.topics import ensure_topics

# The CDC infrastructure alone (what the stack's own tests need) ...
INFRA_COMPONENTS: list[Callable[[Settings], Component]] = [Postgres, Kafka, Connect, Connector]
# ... and the whole product: the QBO sandbox, then a worker (it needs every part before it).
COMPONENTS: list[Callable[[Settings], Component]] = [*INFRA_COMPONENTS, QboSandbox, Worker]


def components(settings: Settings, *, infra_only: bool = False) -> list[Component]:
    """The parts in start order; the worker is ``settings.workers`` instances (``BQ_WORKERS``)."""
    parts: list[Component] = []
    for factory in INFRA_COMPONENTS if infra_only else COMPONENTS:
        if factory is Worker:
            parts.extend(workers(settings))
        else:
            parts.append(factory(settings))
    return parts


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One `up`/`down` at a time per run directory (test sessions may race to start the stack)."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / "stack.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _check_prereqs(parts: Sequence[Component]) -> None:
    names = {c.name for c in parts}
    if "postgres" in names:
        prereqs.pg_bin_dir()
    if names & {"kafka", "connect"}:
        prereqs.java()
        prereqs.mvn()


def up(
    settings: Settings,
    parts: Sequence[Component] | None = None,
    progress: Callable[[str], None] | None = None,
) -> StackStatus:
    """Start whatever is not running and wait until every part is healthy. Safe to call again.
    ``progress`` receives one line per step (the CLI prints them)."""
    parts = list(parts) if parts is not None else components(settings)
    say = progress or (lambda _msg: None)
    _check_prereqs(parts)
    with _locked(settings):
        for comp in parts:
            t0 = time.monotonic()
            if not comp.process_alive():
                proc.require_free(comp.ports())
                say(f"starting {comp.name} (log: {comp.log_file})")
                comp.start()
            comp.wait_healthy()
            comp.ready()
            say(f"{comp.name} ready ({time.monotonic() - t0:.1f}s)")
    return status(settings, parts)


def down(settings: Settings, parts: Sequence[Component] | None = None) -> list[str]:
    parts = list(parts) if parts is not None else components(settings)
    stopped: list[str] = []
    with _locked(settings):
        for comp in reversed(parts):
            if comp.stop():
                stopped.append(comp.name)
    return stopped


def status(settings: Settings, parts: Sequence[Component] | None = None) -> StackStatus:
    parts = list(parts) if parts is not None else components(settings)
    details = {c.name: c.status() for c in parts}
    return StackStatus(
        postgres_dsn=settings.postgres_dsn,
        kafka_bootstrap=settings.kafka_bootstrap,
        connect_url=settings.connect_url,
        qbo_base_url=settings.qbo_base_url,
        qbo_access_token=settings.qbo_sandbox_access_token.get_secret_value() if settings.qbo_environment == "local" else None,
        webhook_url=settings.webhook_url,
        webhook_verifier_token=settings.webhook_verifier_token.get_secret_value() if settings.qbo_environment == "local" else None,
        run_dir=str(settings.run_dir.resolve()),
        components={name: d.state for name, d in details.items()},
        details=details,
    )


__all__ = [
    "COMPONENTS",
    "INFRA_COMPONENTS",
    "Component",
    "ComponentState",
    "ComponentStatus",
    "Connect",
    "Connector",
    "HealthTimeout",
    "Kafka",
    "PortTaken",
    "Postgres",
    "PrerequisiteMissing",
    "QboSandbox",
    "StackError",
    "StackStatus",
    "Worker",
    "components",
    "down",
    "ensure_topics",
    "status",
    "up",
    "workers",
]
