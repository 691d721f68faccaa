"""The component machinery `up`/`down` use, with small real processes: how a new component (the QBO
sandbox, a worker) plugs in, and what a user sees when one fails to start."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import httpx
import pytest

from bottleneck_qbo.settings import Settings
from infra import stack as stack_api
from infra.stack import proc
from infra.stack.component import Component
from infra.stack.errors import HealthTimeout

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpServer(Component):
    name = "http"

    def __init__(self, settings: Settings, port: int) -> None:
        super().__init__(settings)
        self.port = port

    def ports(self) -> dict[str, int]:
        return {"http": self.port}

    def start(self) -> None:
        proc.spawn(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"],
            log_file=self.log_file,
            pid_file=self.pid_file,
            cwd=self.run_dir,
        )

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


class Crasher(Component):
    name = "crasher"

    def start(self) -> None:
        proc.spawn(
            [sys.executable, "-c", "import sys; print('config file missing: /etc/nope.conf'); sys.exit(3)"],
            log_file=self.log_file,
            pid_file=self.pid_file,
        )

    def healthy(self) -> bool:
        return False


def test_an_added_component_is_started_reused_and_stopped(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path)
    port = _free_port()
    comp = HttpServer(settings, port)
    first = stack_api.up(settings, [comp])
    assert first.components == {"http": "running"}
    pid = first.details["http"].pid
    assert pid and (tmp_path / "pids" / "http.pid").read_text().strip() == str(pid)
    # Up again: the running process is reused.
    assert stack_api.up(settings, [HttpServer(settings, port)]).details["http"].pid == pid
    assert stack_api.down(settings, [comp]) == ["http"]
    assert not proc.alive(pid)
    assert stack_api.status(settings, [comp]).components == {"http": "stopped"}
    assert stack_api.down(settings, [comp]) == []


def test_a_component_that_dies_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, stack_start_timeout_s=30)
    with pytest.raises(HealthTimeout) as info:
        stack_api.up(settings, [Crasher(settings)])
    message = str(info.value)
    assert "crasher exited during start-up" in message
    assert "config file missing: /etc/nope.conf" in message
    assert str(tmp_path / "logs" / "crasher.log") in message
