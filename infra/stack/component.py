"""A component of the local stack: something ``up`` starts, checks and readies, and ``down`` stops.

To add one (the QBO sandbox, a Faust worker): subclass ``Component`` and append its factory to
``infra.stack.COMPONENTS``. ``up`` runs, in list order: already healthy? skip the start : check ports,
``start()``, wait for ``healthy()``; then ``ready()`` (idempotent set-up that must follow every start,
e.g. migrations, topics, connector config). ``down`` calls ``stop()`` in reverse order.
"""

from __future__ import annotations

import abc
from pathlib import Path

from bottleneck_qbo.settings import Settings
from infra.stack import proc
from infra.stack.models import ComponentStatus


class Component(abc.ABC):
    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- where things live -------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        # Absolute: paths are handed to processes started in other working directories.
        return self.settings.run_dir.resolve()

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    # --- the contract ----------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        """Ports this component listens on (checked free before a start)."""
        return {}

    def pid(self) -> int | None:
        return proc.read_pid(self.pid_file)

    def process_alive(self) -> bool:
        return proc.alive(self.pid())

    @abc.abstractmethod
    def healthy(self) -> bool:
        """True when the component serves requests (must not raise)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the process (not waiting for health)."""

    def ready(self) -> None:  # noqa: B027  (an optional hook: most components need no set-up)
        """Idempotent set-up after the component is healthy (every ``up``)."""

    def stop(self) -> bool:
        """Stop it; True if something was running."""
        return proc.terminate(self.pid_file)

    def wait_healthy(self) -> None:
        proc.wait_until(
            self.healthy,
            what=self.name,
            timeout=self.settings.stack_start_timeout_s,
            log_file=self.log_file,
            still_alive=self.process_alive,
        )

    def status(self) -> ComponentStatus:
        pid = self.pid()
        if proc.alive(pid):
            if self.healthy():
                return ComponentStatus(state="running", pid=pid)
            return ComponentStatus(state="starting", pid=pid, detail=f"not healthy yet; see {self.log_file}")
        taken = [f"{p} ({w})" for w, p in self.ports().items() if not proc.port_free(p)]
        if taken:
            return ComponentStatus(state="port-taken", detail="in use by another process: " + ", ".join(taken))
        return ComponentStatus(state="stopped")
