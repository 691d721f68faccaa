"""The local QBO sandbox as a stack component (``bottleneck-qbo sandbox`` in the background).

It sends its signed webhooks to the worker's receiver with the same verifier token the worker checks,
and keeps its state in SQLite under the run directory so a restart of the stack keeps QBO's data.
"""

from __future__ import annotations

import sys

import httpx

from infra.stack import proc
from infra.stack.component import Component


class QboSandbox(Component):
    name = "qbo-sandbox"

    def ports(self) -> dict[str, int]:
        return {"qbo sandbox": self.settings.qbo_sandbox_port}

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"http://127.0.0.1:{self.settings.qbo_sandbox_port}/__sandbox/health", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def start(self) -> None:
        s = self.settings
        argv = [
            sys.executable,
            "-m",
            "bottleneck_qbo",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(s.qbo_sandbox_port),
            "--webhook-url",
            s.webhook_url,
            "--webhook-verifier-token",
            s.webhook_verifier_token.get_secret_value(),
            "--sqlite",
            str(self.run_dir / "qbo-sandbox.sqlite3"),
        ]
        argv += ["--access-token", s.qbo_sandbox_access_token.get_secret_value()]
        proc.spawn(argv, log_file=self.log_file, pid_file=self.pid_file)
