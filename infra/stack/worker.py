"""Faust workers (outbound sync, webhook receiver, payments) as stack components.

``BQ_WORKERS=N`` makes ``stack up`` start N workers in one consumer group (they split the topics'
partitions); ``stack worker --instance K`` starts one more. Instance 1 is the plain worker (its ports,
its log ``worker.log``); instance K is ``worker-K`` on the web and admin ports offset by
``worker_port_step * (K - 1)``, with its own Faust data directory and static member id (if one is set).
"""

from __future__ import annotations

import os
import sys

import httpx

from bottleneck_qbo.settings import Settings
from infra.stack import proc
from infra.stack.component import Component


class Worker(Component):
    name = "worker"

    def __init__(self, settings: Settings, instance: int = 1) -> None:
        super().__init__(settings)
        if instance < 1:
            raise ValueError("worker instances are numbered from 1")
        self.instance = instance
        self.name = "worker" if instance == 1 else f"worker-{instance}"

    @property
    def web_port(self) -> int:
        return self.settings.worker_web_port + self._offset

    @property
    def admin_port(self) -> int:
        return self.settings.admin_port + self._offset if self.settings.admin_port else 0

    @property
    def _offset(self) -> int:
        return self.settings.worker_port_step * (self.instance - 1)

    def ports(self) -> dict[str, int]:
        ports = {f"{self.name} web": self.web_port}
        if self.instance > 1 and self.admin_port:
            ports[f"{self.name} admin"] = self.admin_port
        return ports

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"http://127.0.0.1:{self.web_port}/health", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("ready") is True

    def instance_env(self) -> dict[str, str]:
        """What instance K changes in the worker's settings (nothing for instance 1)."""
        if self.instance == 1:
            return {}
        env = {
            "BQ_WORKER_WEB_PORT": str(self.web_port),
            "BQ_ADMIN_PORT": str(self.admin_port),
            "BQ_WORKER_DATA_DIR": str(self.run_dir / f"faust-{self.instance}"),
        }
        if self.settings.worker_instance_id:
            env["BQ_WORKER_INSTANCE_ID"] = f"{self.settings.worker_instance_id}-{self.instance}"
        return env

    def start(self) -> None:
        env = {**os.environ, **self.instance_env()}
        env.setdefault("PYTHONUNBUFFERED", "1")
        proc.spawn(
            [sys.executable, "-m", "bottleneck_qbo", "worker", "--loglevel", "info"],
            log_file=self.log_file,
            pid_file=self.pid_file,
            env=env,
        )


def workers(settings: Settings) -> list[Worker]:
    """The workers of the stack: ``settings.workers`` of them, plus any further instance still running
    (started by ``stack worker --instance K``), so ``down`` and ``status`` see it too."""
    count = settings.workers
    pids = settings.run_dir.resolve() / "pids"
    for pid_file in pids.glob("worker-*.pid") if pids.is_dir() else []:
        suffix = pid_file.stem.removeprefix("worker-")
        if suffix.isdigit():
            count = max(count, int(suffix))
    return [Worker(settings, k) for k in range(1, count + 1)]
