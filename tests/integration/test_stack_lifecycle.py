"""`stack up|status` behaviour a user relies on: idempotent up, status JSON, clear errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bottleneck_qbo.settings import Settings
from infra import stack as stack_api
from infra.stack import Kafka, PortTaken, StackStatus

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from bottleneck_qbo.cli import main; main()"]


def test_up_twice_is_harmless(stack: StackStatus, stack_settings: Settings) -> None:
    before = stack_api.status(stack_settings)
    again = stack_api.up(stack_settings)
    assert before.all_running and again.all_running
    # Nothing was restarted.
    assert {k: v.pid for k, v in again.details.items()} == {k: v.pid for k, v in before.details.items()}


def test_status_json(stack: StackStatus) -> None:
    out = subprocess.run([*CLI, "stack", "status", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kafka_bootstrap"] == stack.kafka_bootstrap
    assert data["connect_url"] == stack.connect_url
    assert data["postgres_dsn"].startswith("postgresql://bottleneck:***@")
    assert data["components"] == {
        "postgres": "running", "kafka": "running", "connect": "running", "connector:bottleneck-postgres": "running",
    }


def test_a_port_held_by_another_process_is_reported(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = Settings(run_dir=tmp_path, kafka_port=port, kafka_controller_port=port + 1 if port < 65535 else port - 1)
        kafka = Kafka(settings)
        assert kafka.status().state == "port-taken"
        with pytest.raises(PortTaken, match=f"port {port} \\(kafka\\) is already in use"):
            stack_api.up(settings, [kafka])
    assert not any(tmp_path.glob("pids/*.pid"))


def test_missing_java_is_one_line_naming_the_package(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "BQ_RUN_DIR": str(tmp_path)}
    out = subprocess.run([*CLI, "stack", "up"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "java not found" in lines[0] and "default-jdk-headless" in lines[0]
