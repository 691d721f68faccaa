"""One Faust worker (outbound sync, webhook receiver, payments) as a stack component."""

from __future__ import annotations

import os
import sys

import httpx

from infra.stack import proc
from infra.stack.component import Component


class Worker(Component):
    name = "worker"

    def ports(self) -> dict[str, int]:
        return {"worker web": self.settings.worker_web_port}

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"http://127.0.0.1:{self.settings.worker_web_port}/health", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("ready") is True

    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        proc.spawn(
            [sys.executable, "-m", "bottleneck_qbo", "worker", "--loglevel", "info"],
            log_file=self.log_file,
            pid_file=self.pid_file,
            env=env,
        )
